// runExperiment end to end on the tiny-chat fixture model (byte-level tokenizer + ChatML template):
// training to emit the execute_code tool-call format raises the live format score of the tiny
// suite from ~0 to >= 0.9, early stopping fires at the target, run.json records evals,
// checkpoints and the selection, and the selected adapter, evaluated from disk in a fresh
// process, scores what the live eval scored. A run stopped and resumed records the same evals,
// scores and selection. And a live eval leaves the training trajectory as it was: the losses
// with evals every 5 steps equal the losses without.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type Model } from '../../src/model/model.js';
import { runExperiment, readManifest, type ExperimentResult } from '../../src/run/experiment.js';
import { loadSuite, type EvalSuite } from '../../src/eval/index.js';
import type { DataSplits } from '../../src/data/index.js';
import type { TrainConfig } from '../../src/config/config.js';
import { evalFromDisk, tinyToolSplits, toolRecords, wrappedCall, SYSTEM, TINY_CHAT, TINY_SUITE } from '../helpers/experiment.js';
import { tinyConfig, tmpDir } from '../helpers/train.js';
import { manifestFromDisk } from '../../src/run/run-paths.js';

/** Format evals every EVERY steps, a checkpoint at each. */
const EVERY = 10;
const MAX_TOKENS = 100;

describe('tiny-chat fixture', () => {
  it('loads with its byte-level tokenizer and ChatML template; prompts round-trip', async () => {
    const model = await loadModel(TINY_CHAT);
    try {
      expect(model.config.vocab_size).toBe(260);
      const tok = model.tokenizer;
      expect(tok.vocabSize).toBe(260);
      expect(tok.eosToken).toBe('<|im_end|>');
      expect([...tok.eosIds]).toEqual([258]);
      const ids = model.encodePrompt([{ role: 'user', content: 'hi' }]);
      expect(ids).toEqual([257, ...Buffer.from('user\nhi'), 258, 10, 257, ...Buffer.from('assistant\n')]);
      expect(tok.decode(ids)).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
      // Byte level: every byte is one token, non-ASCII text round-trips.
      const text = `${wrappedCall("read_file('README.md')")} héllo → ✓`;
      expect(tok.encode(text)).toEqual([...Buffer.from(text)]);
      expect(tok.decode(tok.encode(text))).toBe(text);
      const system = model.encodePrompt([{ role: 'system', content: SYSTEM }, { role: 'user', content: 'hi' }]);
      expect(tok.decode(system)).toBe(`<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n`);
    } finally {
      model.dispose();
    }
  });
});

describe('experiment on the tiny chat model', () => {
  let model: Model;
  let suite: EvalSuite;
  let data: DataSplits;
  const dirs: string[] = [];
  const dir = () => {
    const d = tmpDir('mlxlab-experiment-');
    dirs.push(d);
    return d;
  };

  /** Full fine-tuning (LoRA learns too slowly on a random 64-wide model), Adam with bias correction. */
  const config = (adapterPath: string, overrides: Partial<TrainConfig> = {}): TrainConfig =>
    tinyConfig(adapterPath, {
      fine_tune_type: 'full',
      batch_size: 8,
      iters: 250,
      learning_rate: 2e-3,
      optimizer_config: { ...tinyConfig(adapterPath).optimizer_config, adam: { bias_correction: true } },
      steps_per_eval: 1000,
      steps_per_report: 10,
      save_every: EVERY,
      val_batches: 2,
      seed: 1,
      eval: { suite: TINY_SUITE, every: EVERY, max_tokens: MAX_TOKENS, stop: [], at_start: true },
      early_stopping: { metric: 'format_score', target: 0.9, patience: null, min_delta: 0, warmup: 0 },
      ...overrides,
    });

  beforeAll(async () => {
    model = await loadModel(TINY_CHAT);
    suite = await loadSuite(TINY_SUITE);
    data = tinyToolSplits(model.tokenizer, suite.cases.map((c) => c.prompt!), 120, 16);
  });
  afterAll(() => {
    model?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the training data uses the suite system prompt and tools, never its prompts', () => {
    const records = toolRecords(120, 1, suite.cases.map((c) => c.prompt!));
    const prompts = new Set(records.map((r) => (r.value.messages as { content: string }[])[1].content));
    for (const c of suite.cases) expect(prompts.has(c.prompt!)).toBe(false);
    expect(suite.system).toBe(SYSTEM);
    const tools = new Set(suite.cases.map((c) => c.expect.tool as string));
    const replies = new Set(records.map((r) => (r.value.messages as { content: string }[])[2].content));
    for (const t of tools) expect([...replies].some((r) => r.includes(`${t}(`))).toBe(true);
  });

  let run: ExperimentResult;

  it('raises the live format score from ~0 to >= 0.9 and stops early at the target', async () => {
    const out = dir();
    const t0 = performance.now();
    run = await runExperiment(config(out), { model, data, suite });
    const seconds = (performance.now() - t0) / 1000;
    const curve = [run.baseline!, ...run.evals.filter((e) => e.iteration > 0)].map((e) => `${e.iteration}:${e.score}`);
    console.log(`format score by step: ${curve.join(' ')}; stopped at ${run.iteration} (${run.stopReason}: ${run.stopMessage}) in ${seconds.toFixed(1)} s`);

    expect(run.baseline).toBeDefined();
    expect(run.baseline!.iteration).toBe(0);
    expect(run.baseline!.score).toBeLessThanOrEqual(0.2);
    expect(run.stopReason).toBe('callback');
    expect(run.stopMessage).toMatch(/early stopping: format_score .* reached the target 0\.9/);
    expect(run.iteration).toBeLessThan(250);
    expect(run.iteration % EVERY).toBe(0);
    // Evals at step 0 and every EVERY steps up to the stop; only the last reaches the target.
    expect(run.evals.map((e) => e.iteration)).toEqual(Array.from({ length: run.iteration / EVERY + 1 }, (_, i) => i * EVERY));
    expect(run.evals.at(-1)!.score).toBeGreaterThanOrEqual(0.9);
    for (const e of run.evals.slice(0, -1)) expect(e.score).toBeLessThan(0.9);
    for (const e of run.evals) {
      expect(Object.keys(e.cases).sort()).toEqual(suite.cases.map((c) => c.id).sort());
      expect(e.valLoss).toBeTypeOf('number');
    }
    // The loss fell too (the format is learned, not just one lucky decode).
    expect(run.evals.at(-1)!.valLoss!).toBeLessThan(run.evals[0].valLoss! * 0.2);
  });

  it('run.json records the evals, every checkpoint with its scores, and the selection', async () => {
    expect(run).toBeDefined();
    const manifest = readManifest(run.adapterPath);
    // On disk, the run's files are named relative to the folder (relocatable); read back, absolute in it.
    const onDisk = JSON.parse(readFileSync(run.manifestFile, 'utf8'));
    expect(onDisk.selected.adapterFile).toMatch(/^\d{7}_adapters\.safetensors$/);
    for (const c of onDisk.checkpoints) expect(c.adapterFile).toMatch(/^\d{7}_adapters\.safetensors$/);
    expect(manifest).toEqual(manifestFromDisk(onDisk, run.adapterPath));
    expect(manifest.selected!.adapterFile).toBe(join(run.adapterPath, onDisk.selected.adapterFile));
    expect(manifest.stopReason).toBe('callback');
    expect(manifest.stopMessage).toBe(run.stopMessage);
    expect(manifest.iterations).toBe(run.iteration);
    expect(manifest.baseline).toEqual(run.baseline);
    expect(manifest.evals).toEqual(run.evals);
    expect(manifest.suite).toBe(suite.source);
    // A checkpoint every EVERY steps, each scored by the eval at its step.
    expect(manifest.checkpoints.map((c) => c.iteration)).toEqual(Array.from({ length: run.iteration / EVERY }, (_, i) => (i + 1) * EVERY));
    for (const c of manifest.checkpoints) {
      const e = manifest.evals.find((x) => x.iteration === c.iteration)!;
      expect(c.formatScore).toBe(e.score);
      expect(c.formatLow).toBe(e.low);
      expect(c.formatHigh).toBe(e.high);
      expect(c.valLoss).toBe(e.valLoss);
      expect(existsSync(c.adapterFile)).toBe(true);
    }
    // Selected: the best format score, which is the step that reached the target.
    const selected = manifest.selected!;
    expect(selected.metric).toBe('format_score');
    expect(selected.rule).toBe('best');
    expect(selected.checkpoint.iteration).toBe(run.iteration);
    expect(selected.checkpoint.formatScore).toBe(run.evals.at(-1)!.score);
    expect(selected.reason).toMatch(new RegExp(`best format_score .* at step ${run.iteration}`));
    expect(selected.adapterFile).toBe(join(run.adapterPath, `${String(run.iteration).padStart(7, '0')}_adapters.safetensors`));
    // adapters.safetensors is the selected checkpoint's adapter.
    expect(readFileSync(join(run.adapterPath, 'adapters.safetensors')).equals(readFileSync(selected.adapterFile))).toBe(true);
  });

  it('the selected checkpoint, evaluated from disk in a fresh process, scores what the live eval scored', async () => {
    expect(run).toBeDefined();
    const manifest = readManifest(run.adapterPath);
    const selected = manifest.selected!;
    const live = manifest.evals.find((e) => e.iteration === selected.checkpoint.iteration)!;
    const disk = await evalFromDisk(TINY_CHAT, selected.adapterFile, TINY_SUITE, MAX_TOKENS);
    console.log(`live score ${live.score} at step ${live.iteration}; from disk ${disk.score}`);
    expect(disk.adapter).toBe(selected.adapterFile);
    expect(disk.score).toBe(live.score);
    expect(disk.cases).toEqual(live.cases);
    expect(disk.score).toBeGreaterThanOrEqual(0.9);
    for (const c of suite.cases) expect(disk.texts[c.id]).toContain('"name":"execute_code"');
  });

  it('a run interrupted between evals and resumed records what the uninterrupted run records (evals, scores, early stop, selection)', async () => {
    expect(run).toBeDefined();
    const out = dir();
    const stopAt = run.iteration - EVERY / 2; // mid-way between two evals: an extra, unscored-by-eval checkpoint
    const controller = new AbortController();
    const first = await runExperiment(config(out), {
      model,
      data,
      suite,
      signal: controller.signal,
      onStep: (e) => void (e.iteration === stopAt && controller.abort()),
    });
    expect(first.stopReason).toBe('aborted');
    expect(first.iteration).toBe(stopAt);
    const resumed = await runExperiment(config(out), { model, data, suite, resume: true });
    expect(resumed.startIteration).toBe(stopAt + 1);
    expect(resumed.stopReason).toBe('callback');
    expect(resumed.stopMessage).toBe(run.stopMessage);
    expect(resumed.iteration).toBe(run.iteration);
    expect(resumed.baseline).toEqual(run.baseline);
    expect(resumed.evals).toEqual(run.evals);
    expect(resumed.manifest.valLosses).toEqual(run.manifest.valLosses);
    const scores = (r: ExperimentResult) => r.manifest.checkpoints.filter((c) => c.iteration !== stopAt).map(({ adapterFile: _, ...s }) => s);
    expect(scores(resumed)).toEqual(scores(run));
    expect(resumed.manifest.checkpoints.map((c) => c.iteration)).toContain(stopAt);
    expect(resumed.selection!.checkpoint.iteration).toBe(run.selection!.checkpoint.iteration);
    expect(readFileSync(join(out, 'adapters.safetensors')).equals(readFileSync(join(run.adapterPath, 'adapters.safetensors')))).toBe(true);
  });

  // With LoRA dropout the RNG stream matters too: an eval that drew from it would shift the losses.
  it.each([
    ['lora, dropout 0.1', { fine_tune_type: 'lora', learning_rate: 5e-3, lora_parameters: { rank: 4, dropout: 0.1, scale: 10, keys: null } }],
    ['full', {}],
  ] as [string, Partial<TrainConfig>][])('a live eval every 5 steps leaves the losses as they were (%s)', async (_name, overrides) => {
    const base = { iters: 20, batch_size: 4, save_every: 10, early_stopping: null, ...overrides };
    const withEval = await runExperiment(config(dir(), { ...base, eval: { suite: TINY_SUITE, every: 5, max_tokens: 40, stop: [], at_start: true } }), { model, data, suite });
    const without = await runExperiment(config(dir(), { ...base, eval: null }), { model, data });
    expect(withEval.evals.map((e) => e.iteration)).toEqual([0, 5, 10, 15, 20]);
    expect(without.evals).toEqual([]);
    expect(withEval.losses).toHaveLength(20);
    expect(withEval.losses).toEqual(without.losses);
    expect(withEval.stopReason).toBe('completed');
    // The weights at the end are the same as well.
    const last = (r: ExperimentResult) => readFileSync(join(r.adapterPath, '0000020_adapters.safetensors'));
    expect(last(withEval).equals(last(without))).toBe(true);
  });
});
