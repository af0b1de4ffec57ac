// The native GRPO step through the addon: it updates the adapter through the same optimizer path
// as step() (accumulation included), leaves the model computing with the adapter afterwards (the
// reference pass switches it off only inside the step), gives no update from a group whose
// advantages are all 0 without a KL term, and refuses bad batches and settings with codes,
// changing nothing.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadModel, nativeHandle, type Model } from '../../src/model/model.js';
import { MlxLabError } from '../../src/core/errors.js';
import { native, type NativeGrpoBatch, type NativeTrainer, type NativeTrainerOptions } from '../../src/core/native.js';
import { maxAbsDiff } from '../helpers/safetensors.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';
import { rejects } from '../helpers/errors.js';

const ADAPTER = join(FIXTURES, 'grpo', 'llama-f32', 'adapter.safetensors');
const NATIVE = { tokenizer: false, compute: 'native' } as const;

/** Two prompts of 4 tokens with two completions each (lengths 3, 2, 4, 1), zero padded. */
function grpoBatch(advantages = [1, -1, 0.5, -0.5]): NativeGrpoBatch {
  const rows = [
    [5, 6, 7, 8, 20, 21, 22],
    [5, 6, 7, 8, 30, 31],
    [9, 10, 11, 12, 40, 41, 42, 43],
    [9, 10, 11, 12, 50],
  ];
  const width = 8;
  const tokens = new Int32Array(rows.length * width);
  rows.forEach((r, i) => tokens.set(r, i * width));
  return { tokens, batch: 4, promptLengths: [4, 4, 4, 4], completionLengths: [3, 2, 4, 1], advantages };
}

async function create(model: Model, options: NativeTrainerOptions = {}): Promise<NativeTrainer> {
  const t = await native().NativeTrainer.create(nativeHandle(model), { seed: 0, ...options, lora: { rank: 8, scale: 20, numLayers: 2, ...options.lora }, optimizer: { name: 'adam', learningRate: 1e-3, ...options.optimizer } });
  if (options.lora?.fineTuneType !== 'full') await t.loadAdapter(ADAPTER);
  return t;
}

async function logits(model: Model): Promise<Float32Array> {
  return (await nativeHandle(model).forward(Int32Array.from([5, 6, 7, 8, 20, 21]), 1)).data as Float32Array;
}

/** The largest change of any adapter array between two snapshots. */
function change(a: Record<string, { data: ArrayLike<number> }>, b: Record<string, { data: ArrayLike<number> }>): number {
  return Math.max(...Object.keys(a).map((k) => maxAbsDiff(a[k].data, b[k].data)));
}

describe('grpoStep', () => {
  it('updates the adapter with the loss grpoGradients reports, and the model still computes with the adapter', async () => {
    using model = await loadModel(modelDir('llama-f32'), NATIVE);
    const t = await create(model);
    try {
      const before = await t.adapterParameters();
      const out = await logits(model);
      const g = await t.grpoGradients(grpoBatch(), { beta: 0.1 });
      expect(maxAbsDiff(await logits(model), out)).toBe(0); // the reference pass left the adapter on
      const r = await t.grpoStep(grpoBatch(), { beta: 0.1 });
      expect(r).toMatchObject({ nonFinite: false, updated: true, iteration: 1, step: 1, tokens: 10 });
      expect(r.loss).toBe(g.loss);
      expect(r.kl).toBe(g.kl);
      expect(r.kl).toBeGreaterThan(0);
      expect(change(before, await t.adapterParameters())).toBeGreaterThan(0);
      expect(maxAbsDiff(await logits(model), out)).toBeGreaterThan(0); // the updated adapter is live
    } finally {
      t.dispose();
    }
  });

  it('accumulates like step(): the first of two micro-batches changes nothing, the second updates', async () => {
    using model = await loadModel(modelDir('llama-f32'), NATIVE);
    const t = await create(model, { gradAccumulationSteps: 2 });
    try {
      const before = await t.adapterParameters();
      expect((await t.grpoStep(grpoBatch())).updated).toBe(false);
      expect(change(before, await t.adapterParameters())).toBe(0);
      expect(await t.grpoStep(grpoBatch())).toMatchObject({ updated: true, iteration: 2, step: 1 });
      expect(change(before, await t.adapterParameters())).toBeGreaterThan(0);
    } finally {
      t.dispose();
    }
  });

  it('groups whose rewards were all equal (advantages 0) give no gradient without the KL term: Adam leaves the weights as they were', async () => {
    using model = await loadModel(modelDir('llama-f32'), NATIVE);
    const t = await create(model);
    try {
      const before = await t.adapterParameters();
      const g = await t.grpoGradients(grpoBatch([0, 0, 0, 0]), { beta: 0 });
      expect(Math.max(...Object.values(g.grads).map((a) => Math.max(...Array.from(a.data, Math.abs))))).toBe(0);
      const r = await t.grpoStep(grpoBatch([0, 0, 0, 0]), { beta: 0 });
      expect(r).toMatchObject({ loss: 0, kl: 0, updated: true });
      expect(change(before, await t.adapterParameters())).toBe(0);
    } finally {
      t.dispose();
    }
  });

  it('refuses bad batches and settings with codes, changing nothing', async () => {
    using model = await loadModel(modelDir('llama-f32'), NATIVE);
    const t = await create(model);
    try {
      const before = await t.adapterParameters();
      const b = grpoBatch();
      const cases: [() => Promise<unknown>, string, RegExp][] = [
        [() => t.grpoStep({ ...b, completionLengths: [3, 2, 5, 1] }), 'E_ARGUMENT', /row 2: prompt 4 \+ completion 5 tokens do not fit length 8/],
        [() => t.grpoStep({ ...b, promptLengths: [0, 4, 4, 4] }), 'E_ARGUMENT', /row 0: the prompt needs at least one token/],
        [() => t.grpoStep({ ...b, completionLengths: [0, 0, 0, 0] }), 'E_ARGUMENT', /no completion tokens/],
        [() => t.grpoStep({ ...b, advantages: [1, Number.NaN, 0, 0] }), 'E_ARGUMENT', /row 1: the advantage is not finite/],
        [() => t.grpoStep({ ...b, advantages: [1, 2] }), 'E_ARGUMENT', /one entry per row \(4\)/],
        [() => t.grpoStep({ ...b, tokens: b.tokens.slice(0, 30) }), 'E_ARGUMENT', /batch \* length/],
        [() => t.grpoStep({ ...b, tokens: Int32Array.from(b.tokens, (x) => (x === 20 ? 999 : x)) }), 'E_ARGUMENT', /999/],
        [() => t.grpoStep(b, { lossType: 'dapo' as 'grpo' }), 'E_CONFIG', /grpo_loss_type must be grpo, bnpo or dr_grpo, got "dapo"/],
        [() => t.grpoStep(b, { beta: -1 }), 'E_CONFIG', /beta must be a finite number >= 0/],
        [() => t.grpoStep(b, { epsilon: 1 }), 'E_CONFIG', /epsilon must be in \[0, 1\), got 1/],
        [() => t.grpoStep(b, { maxCompletionLength: 0 }), 'E_CONFIG', /max_completion_length must be at least 1/],
        [() => t.grpoStep(b, { importanceSamplingLevel: 'row' as 'token' }), 'E_CONFIG', /importance_sampling_level/],
        [() => t.grpoStep(null as unknown as NativeGrpoBatch), 'E_ARGUMENT', /batch must be/],
        [() => t.grpoStep(b, 3 as unknown as undefined), 'E_ARGUMENT', /GRPO config must be an object/],
      ];
      for (const [call, code, message] of cases) {
        const e = await rejects(Promise.resolve().then(call));
        expect(e.code, e.message).toBe(code);
        expect(e.message).toMatch(message);
      }
      expect(change(before, await t.adapterParameters())).toBe(0);
      expect(await t.state()).toMatchObject({ iteration: 0, step: 0 });
    } finally {
      t.dispose();
    }
  });

  it('the reference is the base model: at init (lora_b = 0) the KL is 0 for LoRA and ~0 for DoRA, and DoRA steps', async () => {
    using model = await loadModel(modelDir('llama-f32'), NATIVE);
    for (const fineTuneType of ['lora', 'dora'] as const) {
      const t = await native().NativeTrainer.create(nativeHandle(model), { seed: 0, lora: { rank: 4, numLayers: 2, fineTuneType } });
      try {
        const g = await t.grpoGradients(grpoBatch(), { beta: 0.1 });
        if (fineTuneType === 'lora') expect(g.kl).toBe(0);
        else expect(g.kl).toBeLessThan(1e-6); // m / ||W|| rescales W x by 1 up to rounding
        const r = await t.grpoStep(grpoBatch(), { beta: 0.1 });
        expect(r.updated).toBe(true);
        expect((await t.grpoGradients(grpoBatch(), { beta: 0.1 })).kl).toBeGreaterThan(g.kl);
      } finally {
        t.dispose();
      }
    }
  });

  it('full fine-tuning with a KL term, an inference attachment and a disposed trainer are refused', async () => {
    using model = await loadModel(modelDir('llama-f32'), NATIVE);
    const full = await create(model, { lora: { fineTuneType: 'full' } });
    try {
      expect((await rejects(full.grpoStep(grpoBatch(), { beta: 0.1 }))).message).toMatch(/fine_tune_type "full" has no adapter to switch off/);
      expect((await full.grpoStep(grpoBatch(), { beta: 0 })).updated).toBe(true);
    } finally {
      full.dispose();
    }
    const inference = await native().NativeTrainer.create(nativeHandle(model), { inference: true, lora: { numLayers: 2 } });
    try {
      expect((await rejects(inference.grpoStep(grpoBatch()))).message).toMatch(/grpoStep needs a trainer/);
    } finally {
      inference.dispose();
    }
    expect((await rejects(Promise.resolve().then(() => inference.grpoStep(grpoBatch())))).code).toBe('E_DISPOSED');
  });
});
