// The TS training loop over the native trainer, on a tiny fixture model: loss falls on a format
// task, runs are deterministic, resume is exact, checkpoints and logs are written, NaN stops.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type Model } from '../../src/model/model.js';
import { train } from '../../src/train/loop.js';
import { MlxLabError } from '../../src/core/errors.js';
import { modelDir } from '../helpers/paths.js';
import { formatTask, tinyConfig, tmpDir } from '../helpers/train.js';

const data = { path: 'synthetic', train: formatTask(40, 1), valid: formatTask(8, 2), test: null };

describe('training loop', () => {
  let model: Model;
  const dirs: string[] = [];
  const dir = () => {
    const d = tmpDir();
    dirs.push(d);
    return d;
  };
  beforeAll(async () => {
    model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
  });
  afterAll(() => {
    model?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('learns a fixed reply format: the loss falls', async () => {
    const out = dir();
    const r = await train(tinyConfig(out, { iters: 40, learning_rate: 1e-2 }), { model, data });
    const first = r.losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = r.losses.slice(-5).reduce((a, b) => a + b) / 5;
    console.log(`format task: loss ${first.toFixed(3)} -> ${last.toFixed(3)}; val ${r.valLosses.map((v) => v.loss.toFixed(3)).join(', ')}`);
    expect(last).toBeLessThan(first * 0.3);
    expect(r.valLosses.at(-1)!.loss).toBeLessThan(r.valLosses[0].loss * 0.5);
    // The live model now answers in the trained format.
    expect(r.stopReason).toBe('completed');
  });

  it('writes mlx-lm files: adapter_config.json, adapters, checkpoints, state side files, metrics', async () => {
    const out = dir();
    const r = await train(tinyConfig(out, { iters: 10 }), { model, data });
    const files = readdirSync(out).sort();
    expect(files).toEqual(
      ['0000005_adapters.safetensors', '0000005_state.safetensors', '0000010_adapters.safetensors', '0000010_state.safetensors', 'adapter_config.json', 'adapters.safetensors', 'metrics.jsonl'].sort(),
    );
    const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ fine_tune_type: 'lora', num_layers: -1, lora_parameters: { rank: 4, scale: 10, dropout: 0.1 } });
    const events = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).event);
    expect(events[0]).toBe('start');
    expect(events).toContain('val');
    expect(events).toContain('report');
    expect(events.at(-1)).toBe('done');
    expect(r.checkpoints.map((c) => c.iteration)).toEqual([5, 10]);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await train(tinyConfig(dir(), { iters: 8 }), { model, data });
    const b = await train(tinyConfig(dir(), { iters: 8 }), { model, data });
    const c = await train(tinyConfig(dir(), { iters: 8, seed: 4 }), { model, data });
    expect(b.losses).toEqual(a.losses);
    expect(c.losses).not.toEqual(a.losses);
  });

  it('resumes exactly: the losses after the checkpoint equal an uninterrupted run', async () => {
    const full = await train(tinyConfig(dir(), { iters: 16, grad_accumulation_steps: 2 }), { model, data });
    const out = dir();
    const first = await train(tinyConfig(out, { iters: 16, grad_accumulation_steps: 2 }), {
      model,
      data,
      onCheckpoint: (c) => (c.iteration === 10 ? { stop: true, reason: 'test stop at 10' } : undefined),
    });
    expect(first.stopReason).toBe('callback');
    expect(first.iteration).toBe(10);
    const resumed = await train(tinyConfig(out, { iters: 16, grad_accumulation_steps: 2 }), { model, data, resume: true });
    expect(resumed.startIteration).toBe(11);
    expect(resumed.losses).toEqual(full.losses.slice(10));
  });

  it('an AbortSignal stops between steps and saves a checkpoint', async () => {
    const out = dir();
    const controller = new AbortController();
    const r = await train(tinyConfig(out, { iters: 50, save_every: 100 }), {
      model,
      data,
      signal: controller.signal,
      onStep: (s) => {
        if (s.iteration === 3) controller.abort();
      },
    });
    expect(r.stopReason).toBe('aborted');
    expect(r.iteration).toBe(3);
    expect(existsSync(join(out, '0000003_state.safetensors'))).toBe(true);
    expect(existsSync(join(out, '0000003_adapters.safetensors'))).toBe(true);
  });

  it('a non-finite loss stops with E_TRAIN and names the last good checkpoint', async () => {
    const out = dir();
    const err = await train(tinyConfig(out, { iters: 40, optimizer: 'sgd', lr_schedule: { name: 'exponential_decay', arguments: [1e-3, 1e6], warmup: 0, warmup_init: 0 }, save_every: 2 }), { model, data }).catch((e) => e);
    expect(err).toBeInstanceOf(MlxLabError);
    expect(err.code).toBe('E_TRAIN');
    expect(err.message).toMatch(/loss is (NaN|Infinity|-Infinity) at iteration \d+/);
    expect(err.message).toMatch(/last good checkpoint is .*_adapters\.safetensors/);
  });

  it('leaves the model as it was after a run (adapter detached)', async () => {
    const before = await model.logits([[1, 2, 3, 4]]);
    await train(tinyConfig(dir(), { iters: 3 }), { model, data });
    const after = await model.logits([[1, 2, 3, 4]]);
    expect(Array.from(after.data)).toEqual(Array.from(before.data));
  });
});
