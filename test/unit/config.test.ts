import { describe, it, expect } from 'vitest';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { MlxLabError } from '../../src/core/errors.js';
import {
  defaultTrainConfig,
  loadTrainConfig,
  mergeConfig,
  parseTrainConfig,
  suggestKey,
  validateTrainConfig,
  type TrainConfig,
} from '../../src/config/config.js';
import { addTrainOptions, optionsToOverrides } from '../../src/cli/train-options.js';
import { expectError } from '../helpers/errors.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CONFIGS = join(ROOT, 'test/fixtures/configs');


const yaml = (text: string) => parseTrainConfig(text, 'run.yaml');

describe('defaults', () => {
  it('are mlx-lm 0.32’s CONFIG_DEFAULTS (model and data aside)', () => {
    const d = defaultTrainConfig();
    expect(d).toMatchObject({
      model: null,
      data: null,
      train: false,
      fine_tune_type: 'lora',
      optimizer: 'adam',
      optimizer_config: { adam: {}, adamw: {}, muon: {}, sgd: {}, adafactor: {} },
      seed: 0,
      num_layers: 16,
      batch_size: 4,
      iters: 1000,
      val_batches: 25,
      learning_rate: 1e-5,
      steps_per_report: 10,
      steps_per_eval: 200,
      resume_adapter_file: null,
      adapter_path: 'adapters',
      save_every: 100,
      test: false,
      test_batches: 500,
      max_seq_length: 2048,
      config: null,
      grad_checkpoint: false,
      grad_accumulation_steps: 1,
      clear_cache_threshold: 0,
      lr_schedule: null,
      lora_parameters: { rank: 8, dropout: 0, scale: 20, keys: null },
      mask_prompt: false,
      report_to: null,
      project_name: null,
      trust_remote_code: false,
      prompt_feature: 'prompt',
      completion_feature: 'completion',
      chat_feature: 'messages',
      text_feature: 'text',
      eval: null,
      early_stopping: null,
      selection: null,
      sweep: null,
    });
    expect(validateTrainConfig({}, 'x')).toEqual(d);
    expect(yaml('')).toEqual(d);
  });

  it('a key set to null takes its default (as mlx-lm)', () => {
    const c = yaml('batch_size: null\nlora_parameters:\n  rank: ~\n');
    expect(c.batch_size).toBe(4);
    expect(c.lora_parameters.rank).toBe(8);
  });
});

describe('loading YAML', () => {
  it('accepts mlx-lm’s example lora config as is', () => {
    const path = join(CONFIGS, 'mlx-lm-example.yaml');
    const c = loadTrainConfig(path);
    expect(c.config).toBe(path);
    expect(c).toMatchObject({
      model: 'mlx-community/Llama-3.2-1B-Instruct-bf16',
      train: true,
      optimizer: 'adamw',
      learning_rate: 1e-5,
      test_batches: 100,
      lora_parameters: { keys: ['self_attn.q_proj', 'self_attn.v_proj'], rank: 8, scale: 20, dropout: 0 },
      lr_schedule: { name: 'cosine_decay', warmup: 100, warmup_init: 1e-7, arguments: [1e-5, 1000, 1e-7] },
    });
    expect(c.optimizer_config.adamw).toEqual({ betas: [0.9, 0.98], eps: 1e-6, weight_decay: 0.05, bias_correction: true });
    expect(c.optimizer_config.adam).toEqual({});
  });

  it('accepts our sections', () => {
    const c = loadTrainConfig(join(CONFIGS, 'full.yaml'));
    expect(c.train).toBe(true); // YAML 1.1 "yes", as PyYAML
    expect(c.num_layers).toBe(-1);
    expect(c.val_batches).toBe(-1);
    expect(c.clear_cache_threshold).toBe(2e9);
    expect(c.lora_parameters).toEqual({ rank: 16, dropout: 0, scale: 20, keys: null });
    expect(c.eval).toEqual({ suite: 'evals/format.jsonl', every: 25, max_tokens: 128, stop: ['<think>'], at_start: true });
    expect(c.early_stopping).toEqual({ metric: 'format_score', target: 1, patience: 4, min_delta: 0.01, warmup: 50 });
    expect(c.selection).toEqual({ metric: 'format_score', rule: 'best' });
    expect(c.sweep).toEqual({ lock_threshold: 0.8, seeds: [0, 1, 2], grid: { learning_rate: [1e-4, 2e-4], 'lora_parameters.rank': [8, 16] } });
  });

  it('eval.constrained: optional (left out: absent, a free eval), true or false, anything else an error naming it', () => {
    expect(yaml('eval: {suite: s.yaml}\n').eval).not.toHaveProperty('constrained');
    expect(yaml('eval: {suite: s.yaml, constrained: true}\n').eval?.constrained).toBe(true);
    expectError(() => yaml('eval:\n  suite: s.yaml\n  constrained: always\n'), 'E_CONFIG', 'run.yaml:3:16: eval.constrained: must be true or false (got string "always")');
  });

  it('reads numbers as mlx-lm’s YAML loader does', () => {
    const c = yaml('learning_rate: 1e-5\niters: 1_000\nmask_prompt: on\ngrad_checkpoint: no\n');
    expect([c.learning_rate, c.iters, c.mask_prompt, c.grad_checkpoint]).toEqual([1e-5, 1000, true, false]);
  });

  it('an unknown key is an error with a suggestion, the file, line and column', () => {
    const path = join(CONFIGS, 'typo.yaml');
    expectError(() => loadTrainConfig(path), 'E_CONFIG', `${path}:4:1: unknown key "learnin_rate" (did you mean learning_rate?)`);
  });

  it('suggestions for misplaced, nested and other frameworks’ keys', () => {
    expectError(() => yaml('rank: 16\n'), 'E_CONFIG', 'run.yaml:1:1: unknown key "rank" (did you mean lora_parameters.rank?)');
    expectError(() => yaml('lora_parameters:\n  rnak: 16\n'), 'E_CONFIG', 'run.yaml:2:3: unknown key "rnak" in lora_parameters (did you mean rank?)');
    expectError(() => yaml('lora_parameters:\n  alpha: 16\n'), 'E_CONFIG', /unknown key "alpha" in lora_parameters \(mlx-lm's LoRA config uses scale, not alpha/);
    expectError(() => yaml('lora_layers: 8\n'), 'E_CONFIG', /unknown key "lora_layers" \(older mlx-lm called it lora_layers; use num_layers\)/);
    expectError(() => yaml('batch-size: 8\n'), 'E_CONFIG', /did you mean batch_size\?/);
    expectError(() => yaml('zzzzzz: 1\n'), 'E_CONFIG', /^run\.yaml:1:1: unknown key "zzzzzz"$/);
    expectError(() => yaml('optimizer_config:\n  adamw:\n    weight_decy: 0.1\n'), 'E_CONFIG', 'run.yaml:3:5: optimizer_config.adamw.weight_decy: unknown option of adamw (did you mean weight_decay?)');
    expectError(() => yaml('optimizer_config:\n  adamx: {}\n'), 'E_CONFIG', /optimizer_config\.adamx: unknown optimizer \(did you mean adam/);
    expect(yaml('hf_dataset:\n  path: billsum\n').hf_dataset?.[0]).toMatchObject({ path: 'billsum' }); // mlx-lm's key, read by loadConfiguredData
    expectError(() => yaml('constructor: 1\n'), 'E_CONFIG', /unknown key "constructor"/);
    expect(suggestKey('learning-rate', ['learning_rate', 'seed'])).toBe('learning_rate');
    expect(suggestKey('qqq', ['learning_rate', 'seed'])).toBeUndefined();
  });

  it('wrong types, all reported together', () => {
    const path = join(CONFIGS, 'bad-types.yaml');
    const e = expectError(
      () => loadTrainConfig(path),
      'E_CONFIG',
      /^4 errors in the config:/,
      `${path}:2:13: batch_size: must be an integer (got string "four")`,
      `${path}:3:14: mask_prompt: must be true or false (got number 3)`,
      `${path}:5:9: lora_parameters.rank: must be an integer (got 8.5)`,
      `${path}:6:9: lora_parameters.keys: must be a list (got string "self_attn.q_proj")`,
    );
    expect(e.message.split('\n')).toHaveLength(5);
  });

  it('a negative learning rate names the key and line', () => {
    const path = join(CONFIGS, 'negative-lr.yaml');
    expectError(() => loadTrainConfig(path), 'E_CONFIG', `${path}:4:16: learning_rate: must be ≥ 0 (got -0.0001)`);
  });

  it('out-of-range values and unknown names', () => {
    const cases: [string, string | RegExp][] = [
      ['batch_size: 0', 'batch_size: must be ≥ 1 (got 0)'],
      ['iters: 0', 'iters: must be ≥ 1 (got 0)'],
      ['grad_accumulation_steps: 0', 'grad_accumulation_steps: must be ≥ 1'],
      ['save_every: 0', 'save_every: must be ≥ 1'],
      ['steps_per_eval: -5', 'steps_per_eval: must be ≥ 1'],
      ['num_layers: 0', 'num_layers: must be ≥ 1 (or -1 for all) (got 0)'],
      ['num_layers: -2', 'num_layers: must be ≥ 1 (or -1 for all) (got -2)'],
      ['val_batches: 0', 'val_batches: must be ≥ 1 (or -1 for all)'],
      ['test_batches: -3', 'test_batches: must be ≥ 1 (or -1 for all)'],
      ['max_seq_length: 1', 'max_seq_length: must be ≥ 2'],
      ['seed: -1', 'seed: must be in [0, 4294967295]'],
      ['learning_rate: .inf', 'learning_rate: must be a finite number'],
      ['lora_parameters: {rank: 0}', 'lora_parameters.rank: must be ≥ 1'],
      ['lora_parameters: {dropout: 1.0}', 'lora_parameters.dropout: must be in [0, 1) (got 1)'],
      ['lora_parameters: {dropout: -0.1}', 'lora_parameters.dropout: must be in [0, 1)'],
      ['lora_parameters: {keys: []}', 'lora_parameters.keys: must not be an empty list'],
      ['optimizer: adamm', 'optimizer: unknown value "adamm": must be one of adam, adamw, muon, sgd, adafactor (did you mean adam?)'],
      ['fine_tune_type: qlora', /fine_tune_type: unknown value "qlora": must be one of lora, dora, full \(did you mean lora\?\)/],
      ['lr_schedule: {name: cosine, arguments: [1e-5, 100]}', /lr_schedule\.name: unknown value "cosine".*did you mean cosine_decay\?/],
      ['lr_schedule: {name: cosine_decay, arguments: [1e-5]}', 'lr_schedule.arguments: cosine_decay takes [init, decay_steps, end] (the last optional); got 1 value'],
      ['lr_schedule: {name: linear_schedule, arguments: [0, 1e-5, 2.5]}', 'lr_schedule.arguments[2]: must be an integer (got 2.5)'],
      ['lr_schedule: {name: cosine_decay}', 'lr_schedule: missing required key arguments'],
      ['optimizer_config: {adam: {betas: [0.9]}}', 'optimizer_config.adam.betas: must be a list of two numbers'],
      ['report_to: tensorbord', 'run.yaml:1:12: report_to: unknown service "tensorbord": use tensorboard, mlflow, wandb, swanlab (did you mean tensorboard?)'],
      ['report_to: [tensorboard, mlfow]', 'run.yaml:1:26: report_to[1]: unknown service "mlfow": use tensorboard, mlflow, wandb, swanlab (did you mean mlflow?)'],
      ['report_to: "tensorboard, "', 'report_to: unknown service ""'],
      ['report_to: [tensorboard, 3]', 'run.yaml:1:12: report_to: must be a list of service names (item 2 is number 3)'],
      ['report_to: {tensorboard: true}', 'report_to: must be a list of services or a comma-separated string (got a mapping)'],
      ['clear_cache_threshold: lots', 'clear_cache_threshold: must be a byte count or a size like 512M or 2GB'],
    ];
    for (const [text, message] of cases) expectError(() => yaml(`${text}\n`), 'E_CONFIG', message);
    expect(yaml('lora_parameters: {dropout: 0.5, scale: -2}\n').lora_parameters).toMatchObject({ dropout: 0.5, scale: -2 });
    expect(yaml('optimizer: AdamW\n').optimizer).toBe('adamw'); // mlx-lm lower-cases it
  });

  it('validates our sections', () => {
    expectError(() => yaml('eval:\n  every: 10\n'), 'E_CONFIG', 'run.yaml:2:3: eval: missing required key suite');
    expectError(() => yaml('early_stopping:\n  metric: val_loss\n'), 'E_CONFIG', 'early_stopping: needs target or patience');
    expectError(() => yaml('early_stopping: {patience: 3}\n'), 'E_CONFIG', /early_stopping\.metric: is format_score, but there is no eval section/);
    expectError(() => yaml('selection: {metric: score}\n'), 'E_CONFIG', /selection\.metric: unknown value "score"/);
    expectError(() => yaml('sweep:\n  grid:\n    learnig_rate: [1e-4]\n'), 'E_CONFIG', 'run.yaml:3:5: sweep.grid.learnig_rate: not a config key a sweep can vary (did you mean learning_rate?)');
    expectError(() => yaml('sweep:\n  grid:\n    lora_parameters.rank: [8, 0]\n'), 'E_CONFIG', 'sweep.grid.lora_parameters.rank[1]: must be ≥ 1 (got 0)');
    expectError(() => yaml('sweep: {seeds: [1, 1]}\n'), 'E_CONFIG', 'sweep.seeds: has repeated seeds');
    expectError(() => yaml('sweep: {}\n'), 'E_CONFIG', 'sweep: needs seeds or grid');
    expect(yaml('early_stopping: {metric: val_loss, patience: 3}\nselection: {metric: val_loss}\n').early_stopping).toEqual({
      metric: 'val_loss',
      target: null,
      patience: 3,
      min_delta: 0,
      warmup: 0,
    });
  });

  it('a YAML syntax error names the file, line and column', () => {
    const path = join(CONFIGS, 'syntax-error.yaml');
    expectError(() => loadTrainConfig(path), 'E_CONFIG', `${path}:4:9: YAML syntax error: `);
    expectError(() => yaml('a: [1, 2\n'), 'E_CONFIG', /^run\.yaml:\d+:\d+: YAML syntax error/);
    expectError(() => yaml('iters: 1\niters: 2\n'), 'E_CONFIG', /^run\.yaml:2:1: YAML syntax error: Map keys must be unique/);
  });

  it('a missing file, or not a mapping', () => {
    const path = join(CONFIGS, 'nope.yaml');
    expectError(() => loadTrainConfig(path), 'E_CONFIG', `${path}: config file not found`);
    expectError(() => yaml('- a\n- b\n'), 'E_CONFIG', 'run.yaml: the config must be a mapping of keys to values (got a list)');
  });
});

describe('command-line flags', () => {
  const parse = (argv: string[]) => {
    const cmd = addTrainOptions(new Command('train').exitOverride().configureOutput({ writeErr: () => {} }));
    cmd.parse(argv, { from: 'user' });
    return cmd.opts();
  };

  it('only the flags given become overrides', () => {
    expect(optionsToOverrides(parse([]))).toEqual({});
    const o = optionsToOverrides(
      parse(['--model', 'm', '--batch-size', '2', '--learning-rate', '3e-4', '--mask-prompt', '--num-layers', '-1', '-c', 'run.yaml', '--fine-tune-type', 'dora', '--clear-cache-threshold', '512M', '--seed', '9']),
    );
    expect(o).toEqual({ model: 'm', batch_size: 2, learning_rate: 3e-4, mask_prompt: true, num_layers: -1, config: 'run.yaml', fine_tune_type: 'dora', clear_cache_threshold: 512e6, seed: 9 });
  });

  it('has every flag of mlx_lm.lora', () => {
    const cmd = addTrainOptions(new Command('train'));
    const flags = cmd.options.map((o) => o.long);
    for (const f of [
      '--model', '--train', '--data', '--fine-tune-type', '--optimizer', '--mask-prompt', '--num-layers', '--batch-size', '--iters',
      '--val-batches', '--learning-rate', '--steps-per-report', '--steps-per-eval', '--grad-accumulation-steps', '--resume-adapter-file',
      '--adapter-path', '--save-every', '--test', '--test-batches', '--max-seq-length', '--config', '--grad-checkpoint',
      '--clear-cache-threshold', '--report-to', '--project-name', '--seed', '--trust-remote-code',
    ]) {
      expect(flags).toContain(f);
    }
    expect(cmd.options.find((o) => o.long === '--config')?.short).toBe('-c');
  });

  it('--no-mask-prompt turns off what the file turns on', () => {
    expect(optionsToOverrides(parse(['--no-mask-prompt']))).toEqual({ mask_prompt: false });
    const file = yaml('mask_prompt: true\ngrad_checkpoint: true\n');
    const merged = mergeConfig(file, optionsToOverrides(parse(['--no-mask-prompt'])));
    expect([merged.mask_prompt, merged.grad_checkpoint]).toEqual([false, true]);
  });

  it('report_to: a list, or mlx-lm\'s comma-separated string (YAML and --report-to), read as a list without repeats', () => {
    expect(yaml('report_to: [tensorboard, mlflow]\n').report_to).toEqual(['tensorboard', 'mlflow']);
    expect(yaml('report_to: wandb,swanlab\n').report_to).toEqual(['wandb', 'swanlab']);
    expect(yaml('report_to: [mlflow, mlflow]\n').report_to).toEqual(['mlflow']);
    expect(yaml('report_to: []\n').report_to).toEqual([]);
    const merged = mergeConfig(yaml('report_to: [mlflow]\n'), optionsToOverrides(parse(['--report-to', 'tensorboard, mlflow'])));
    expect(merged.report_to).toEqual(['tensorboard', 'mlflow']);
    expect(mergeConfig(merged, {}).report_to).toEqual(['tensorboard', 'mlflow']); // a parsed config parses again to itself
    expectError(() => optionsToOverrides(parse(['--report-to', 'tensorbaord'])), 'E_CONFIG', 'command line: report_to: unknown service "tensorbaord"', 'did you mean tensorboard?');
  });

  it('bad flag values', () => {
    expect(() => parse(['--batch-size', 'two'])).toThrow(/--batch-size must be an integer/);
    expect(() => parse(['--learning-rate', 'fast'])).toThrow(/--learning-rate must be a number/);
    expect(() => parse(['--optimizer', 'lion'])).toThrow(/Allowed choices are adam, adamw, muon, sgd, adafactor/);
    expectError(() => optionsToOverrides(parse(['--batch-size', '0'])), 'E_CONFIG', 'command line: batch_size: must be ≥ 1 (got 0)');
    expectError(() => optionsToOverrides(parse(['--learning-rate', '-1e-4'])), 'E_CONFIG', 'command line: learning_rate: must be ≥ 0');
  });
});

describe('mergeConfig', () => {
  it('flags override the file; unset ones keep it', () => {
    const file = loadTrainConfig(join(CONFIGS, 'full.yaml'));
    const merged = mergeConfig(file, { iters: 10, learning_rate: undefined, seed: 4 });
    expect(merged.iters).toBe(10);
    expect(merged.learning_rate).toBe(2e-4);
    expect(merged.seed).toBe(4);
    expect(merged.eval).toEqual(file.eval);
    expect(file.iters).toBe(300); // not mutated
  });

  it('merges nested sections key by key and validates the result', () => {
    const file = yaml('lora_parameters: {rank: 16, keys: [self_attn.q_proj]}\noptimizer_config: {adamw: {weight_decay: 0.1}}\n');
    const merged = mergeConfig(file, {
      lora_parameters: { scale: 10 } as TrainConfig['lora_parameters'],
      optimizer_config: { adamw: { eps: 1e-6 } } as TrainConfig['optimizer_config'],
    });
    expect(merged.lora_parameters).toEqual({ rank: 16, dropout: 0, scale: 10, keys: ['self_attn.q_proj'] });
    expect(merged.optimizer_config.adamw).toEqual({ weight_decay: 0.1, eps: 1e-6 });
    expectError(() => mergeConfig(file, { batch_size: -1 }), 'E_CONFIG', 'command line: batch_size: must be ≥ 1');
  });
});
