// Issue 21: training errors that tell the user what to change. A batch with no target tokens names
// the data and max_seq_length; a NaN checkpoint resumed from is called bad, with the earlier one
// to resume from (not "lower the learning rate").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type Model } from '../../src/model/model.js';
import { train } from '../../src/train/loop.js';
import { MlxLabError } from '../../src/core/errors.js';
import { modelDir } from '../helpers/paths.js';
import { formatTask, tinyConfig, tmpDir } from '../helpers/train.js';
// @ts-expect-error: a plain ESM module without types
import { joinSafetensors, splitSafetensors } from '../fixtures/bad/make.mjs';

const data = { path: 'synthetic', train: formatTask(40, 1), valid: formatTask(8, 2), test: null };

describe('training errors', () => {
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

  it('no target tokens: E_DATA naming the data, the iteration and max_seq_length', async () => {
    // Prompts of 4 to 11 tokens, masked; max_seq_length 3 cuts every example before its reply.
    // The validation set (synthetic-2) is evaluated first, at iteration 1.
    const err = await train(tinyConfig(dir(), { iters: 2, max_seq_length: 3 }), { model, data }).catch((e) => e);
    expect(err).toBeInstanceOf(MlxLabError);
    expect(err.code).toBe('E_DATA');
    expect(err.message).toMatch(/^synthetic-2: iteration 1: the batch has no target tokens: .* max_seq_length=3 .*raise max_seq_length or shorten those prompts$/);
  });

  it('resuming from a NaN checkpoint: the checkpoint is bad, resume from the one before', async () => {
    const out = dir();
    await train(tinyConfig(out, { iters: 4, save_every: 2 }), { model, data });
    // Poison checkpoint 4's adapter weights with NaN.
    const file = join(out, '0000004_adapters.safetensors');
    const { header, data: bytes } = splitSafetensors(readFileSync(file));
    const poisoned = Buffer.from(bytes);
    for (let i = 0; i + 4 <= poisoned.length; i += 4) poisoned.writeFloatLE(NaN, i);
    writeFileSync(file, joinSafetensors(header, poisoned));
    const err = await train(tinyConfig(out, { iters: 8, save_every: 2 }), { model, data, resume: true }).catch((e) => e);
    expect(err).toBeInstanceOf(MlxLabError);
    expect(err.code).toBe('E_TRAIN');
    expect(err.message).toContain(`${join(out, '0000004_state.safetensors')}: the checkpoint of iteration 4 is bad`);
    expect(err.message).toContain(`Resume from the one before it: --resume ${join(out, '0000002_state.safetensors')}`);
    expect(err.message).not.toContain('learning rate');
  });
});
