// DPO / ORPO config keys (mlx-lm-lora's names: train_mode dpo|orpo, beta, dpo_cpo_loss_type,
// delta, reference_model_path, *_feature) and mlx-lm-lora's DPO data format through
// src/data/preference.ts: tokens and reply offsets as its DPODataset renders them, batches of
// chosen rows then rejected rows, and hostile input refused naming the file, line and key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { defaultTrainConfig, parseTrainConfig } from '../../src/config/config.js';
import { addTrainOptions, optionsToOverrides } from '../../src/cli/train-options.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { BatchIterator, loadPreferenceData, makePreferenceBatch, preferenceFromRecords } from '../../src/data/index.js';
import { parseJsonl } from '../../src/data/jsonl.js';
import { preferenceConfig, preferenceEvent } from '../../src/train/preference.js';
import { formatEvent } from '../../src/cli/train.js';
import { ScalarMapper } from '../../src/run/tracking/scalars.js';
import { expectError } from '../helpers/errors.js';

const yaml = (text: string) => parseTrainConfig(text, 'run.yaml');
const TINY_CHAT = resolve(import.meta.dirname, '../fixtures/models/tiny-chat');

describe('DPO / ORPO config keys', () => {
  it("default to mlx-lm-lora's values", () => {
    const c = defaultTrainConfig();
    expect([c.beta, c.dpo_cpo_loss_type, c.delta, c.reference_model_path]).toEqual([0.1, 'sigmoid', 50, null]);
    expect([c.chosen_feature, c.rejected_feature, c.system_feature, c.preference_score_feature]).toEqual(['chosen', 'rejected', 'system', 'preference_score']);
  });

  it('read as the native loss settings', () => {
    expect(preferenceConfig(yaml('train_mode: dpo\ndpo_cpo_loss_type: ipo\nbeta: 0.5\ndelta: 10\n'))).toEqual({ method: 'dpo', lossType: 'ipo', beta: 0.5, delta: 10 });
    expect(preferenceConfig(yaml('train_mode: orpo\n')).method).toBe('orpo');
    expectError(() => preferenceConfig(yaml('train_mode: sft\n')), 'E_CONFIG', /train_mode sft has no preference loss/);
  });

  it.each([
    ['dpo_cpo_loss_type: kto\n', 'run.yaml:1:20: dpo_cpo_loss_type: unknown value "kto": must be one of sigmoid, hinge, ipo, dpop'],
    ['delta: -1\n', 'run.yaml:1:8: delta: must be ≥ 0 (got -1)'],
    ['train_mode: dpo\nbeta: 0\n', 'beta: is 0, but dpo needs beta > 0'],
    ['train_mode: orpo\nbeta: 0\n', 'beta: is 0, but orpo needs beta > 0'],
    ['train_mode: dpo\nreference_model_path: ref/\n', "reference_model_path: is not supported: mlx-lab's reference is the base model with the adapter off"],
    ['train_mode: dpo\nfine_tune_type: full\n', "fine_tune_type: is full, but DPO's reference is the base model with the adapter off"],
    ['chosen_feature: ""\n', 'chosen_feature: must not be empty'],
    ['dpo_loss_type: ipo\n', 'mlx-lm-lora calls it dpo_cpo_loss_type'],
  ])('%j is refused naming the key', (text, message) => {
    expectError(() => yaml(text), 'E_CONFIG', message.startsWith('run.yaml') ? message : new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });

  it('ORPO with a full fine-tune is fine (it has no reference); beta 0 is fine for GRPO', () => {
    expect(yaml('train_mode: orpo\nfine_tune_type: full\n').fine_tune_type).toBe('full');
    expect(yaml('train_mode: grpo\nbeta: 0\n').beta).toBe(0);
  });

  it("the CLI flags are mlx-lm-lora's", () => {
    const cmd = addTrainOptions(new Command()).exitOverride();
    cmd.parse(['--train-mode', 'dpo', '--dpo-cpo-loss-type', 'hinge', '--delta', '5', '--beta', '0.2'], { from: 'user' });
    expect(optionsToOverrides(cmd.opts())).toEqual({ train_mode: 'dpo', dpo_cpo_loss_type: 'hinge', delta: 5, beta: 0.2 });
    expect(() => addTrainOptions(new Command()).exitOverride().configureOutput({ writeErr: () => {} }).parse(['--dpo-cpo-loss-type', 'kto'], { from: 'user' })).toThrow(/Allowed choices are sigmoid, hinge, ipo, dpop/);
  });
});

describe("mlx-lm-lora's DPO data", () => {
  let tok: Tokenizer;
  let dir: string;
  beforeAll(() => {
    tok = Tokenizer.fromFolder(TINY_CHAT);
    dir = mkdtempSync(join(tmpdir(), 'mlx-lab-pairs-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const pairs = (lines: string[], name = 'p.jsonl') => preferenceFromRecords(parseJsonl(lines.join('\n'), name), name, tok);

  it('renders each side as [system?, user, assistant] and scores the reply after the generation prompt', () => {
    const ds = pairs(['{"prompt": "hi", "chosen": "yes", "rejected": "no", "system": "S"}', '{"prompt": "q", "chosen": "a", "rejected": "bb", "preference_score": 0.5}']);
    const [a, b] = ds.pairs;
    const prompt = '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n';
    expect(tok.decode(Array.from(a.chosen), { skipSpecialTokens: false })).toBe(`${prompt}yes<|im_end|>\n`);
    expect(tok.decode(Array.from(a.rejected.subarray(a.prompt)), { skipSpecialTokens: false })).toBe('no<|im_end|>\n');
    expect(a.score).toBe(1);
    expect(b.score).toBe(0.5);
    expect(b.line).toBe(2);
  });

  it('batches the chosen rows, then the rejected ones, with per-row prompt and reply lengths', () => {
    const ds = pairs(['{"prompt": "hi", "chosen": "yes", "rejected": "no"}', '{"prompt": "q", "chosen": "a", "rejected": "bb"}']);
    const b = makePreferenceBatch(ds, [0, 1], 2048);
    const width = Math.max(...ds.pairs.flatMap((p) => [p.chosen.length, p.rejected.length]));
    expect(b.pairs).toBe(2);
    expect(b.tokens.length).toBe(4 * width);
    expect(Array.from(b.promptLengths)).toEqual([ds.pairs[0].prompt, ds.pairs[1].prompt, ds.pairs[0].prompt, ds.pairs[1].prompt]);
    expect(Array.from(b.completionLengths)).toEqual([ds.pairs[0].chosen.length - ds.pairs[0].prompt, ds.pairs[1].chosen.length - ds.pairs[1].prompt, ds.pairs[0].rejected.length - ds.pairs[0].prompt, ds.pairs[1].rejected.length - ds.pairs[1].prompt]);
    expect(Array.from(b.tokens.subarray(2 * width, 2 * width + ds.pairs[0].rejected.length))).toEqual(Array.from(ds.pairs[0].rejected));
    // A reply cut away by max_seq_length: E_DATA naming the pair's line (the step would score nothing).
    expectError(() => makePreferenceBatch(ds, [1], ds.pairs[1].prompt), 'E_DATA', /p\.jsonl:2: the chosen reply starts at token \d+, at or after max_seq_length/);
  });

  it('the batch order resumes exactly (BatchIterator over the pairs) and the fingerprint sees the rejected side', () => {
    const lines = Array.from({ length: 6 }, (_, i) => `{"prompt": "p${i}", "chosen": "${'c'.repeat(i + 1)}", "rejected": "r${i}"}`);
    const ds = pairs(lines);
    const it = new BatchIterator(ds, { batchSize: 2, maxSeqLength: 2048, seed: 3 });
    it.next();
    const again = BatchIterator.restore(ds, it.state());
    expect(Array.from(again.next().value!.indices)).toEqual(Array.from(it.next().value!.indices));
    const other = pairs(lines.map((l, i) => (i === 5 ? l.replace('"r5"', '"r6"') : l)));
    expect(other.fingerprint()).not.toBe(ds.fingerprint());
  });

  it.each([
    ['{"prompt": "p", "rejected": "r"}', 'p.jsonl:1: no "chosen" (the preferred reply)'],
    ['{"prompt": "p", "chosen": "", "rejected": "r"}', 'p.jsonl:1: "chosen" is empty (the preferred reply)'],
    ['{"prompt": "p", "chosen": "c", "rejected": "  "}', 'p.jsonl:1: "rejected" is empty'],
    ['{"chosen": "c", "rejected": "r"}', 'p.jsonl:1: no "prompt"'],
    ['{"prompt": 3, "chosen": "c", "rejected": "r"}', 'p.jsonl:1: "prompt" must be a string, got number'],
    ['{"prompt": "p", "chosen": ["c"], "rejected": "r"}', 'p.jsonl:1: "chosen" must be a string, got'],
    ['{"prompt": "p", "chosen": "c", "rejected": "r", "system": 1}', 'p.jsonl:1: "system" must be a string'],
    ['{"prompt": "p", "chosen": "c", "rejected": "r", "preference_score": "high"}', 'p.jsonl:1: "preference_score" must be a finite number'],
    ['{"prompt": "p", "chosen": "c", "rejected": "r"}\n{"prompt": "p", "chosen": "c", "rejected": "r",}', 'p.jsonl:2: invalid JSON'],
    ['[1, 2]', 'p.jsonl:1: expected a JSON object per line'],
    ['{"prompt": "p", "chosen": "c", "rejected": "r", "tools": "search"}', 'p.jsonl:1: "tools" must be a list of tool schemas'],
  ])('%j is refused naming the file and line', (text, message) => {
    expectError(() => pairs(text.split('\n')), 'E_DATA', new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });

  it('loads a folder (train/valid/test.jsonl) or one file; errors name the path', () => {
    const folder = join(dir, 'data');
    mkdirSync(folder);
    const line = '{"prompt": "p", "chosen": "c", "rejected": "r"}\n';
    writeFileSync(join(folder, 'train.jsonl'), line.repeat(3));
    writeFileSync(join(folder, 'valid.jsonl'), line);
    const splits = loadPreferenceData(folder, tok);
    expect([splits.train?.length, splits.valid?.length, splits.test]).toEqual([3, 1, null]);
    expect(loadPreferenceData(join(folder, 'train.jsonl'), tok).train?.length).toBe(3);
    expectError(() => loadPreferenceData(join(dir, 'none'), tok), 'E_DATA', /none: data not found/);
    writeFileSync(join(folder, 'valid.jsonl'), `${line}{"prompt": "p"}\n`);
    expectError(() => loadPreferenceData(folder, tok), 'E_DATA', /valid\.jsonl:2: no "chosen"/);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expectError(() => loadPreferenceData(empty, tok), 'E_DATA', /no train\.jsonl/);
    writeFileSync(join(empty, 'train.jsonl'), '\n');
    expectError(() => loadPreferenceData(empty, tok), 'E_DATA', /train\.jsonl: no preference pairs/);
  });

  it("reads mlx-lm-lora's renamed keys (chosen_feature, ...)", () => {
    const ds = preferenceFromRecords(parseJsonl('{"q": "p", "good": "c", "bad": "r", "w": 2}', 'k.jsonl'), 'k.jsonl', tok, { prompt: 'q', chosen: 'good', rejected: 'bad', score: 'w' });
    expect(ds.pairs[0].score).toBe(2);
  });
});

describe('the DPO / ORPO events', () => {
  const metrics = { chosenReward: 0.25, rejectedReward: -0.5, accuracies: 1, margins: 0.75, policyChosenLogps: -2, policyRejectedLogps: -3 };

  it("print mlx-lm-lora's line per step and per validation", () => {
    expect(formatEvent(preferenceEvent(3, 'dpo', 0.4, metrics, 0.1))).toBe('Iter 3: DPO loss 0.400, chosen_r 0.250, rejected_r -0.500, acc 1.000, margin 0.750');
    expect(formatEvent({ event: 'val', iteration: 5, valLoss: 0.3, valTokens: 10, seconds: 1, preference: metrics })).toBe(
      'Iter 5: Val loss 0.300, Val chosen reward 0.250, Val rejected reward -0.500, Val accuracy 1.000, Val margin 0.750, Val took 1.000s',
    );
  });

  it('become tracking scalars named by the method', () => {
    const m = new ScalarMapper();
    expect(m.scalars(preferenceEvent(3, 'orpo', 0.4, metrics, 0.1), 0).map((s) => [s.tag, s.value, s.step])).toEqual([
      ['orpo/loss', 0.4, 3],
      ['orpo/chosen_reward', 0.25, 3],
      ['orpo/rejected_reward', -0.5, 3],
      ['orpo/accuracies', 1, 3],
      ['orpo/margins', 0.75, 3],
    ]);
    expect(m.scalars({ event: 'val', iteration: 4, valLoss: 0.3, valTokens: 10, seconds: 1, preference: metrics }, 0).map((s) => s.tag)).toEqual(['val/loss', 'val/chosen_reward', 'val/rejected_reward', 'val/accuracies', 'val/margins']);
  });
});
