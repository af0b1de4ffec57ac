// LoRA / QLoRA / DoRA / full fine-tuning through the addon against what mlx-lm's own training
// code computed (test/fixtures/lora, made by scripts/fixtures/make_lora_fixtures.py): the initial
// loss and gradients, 20 iterations = 10 optimizer updates (grad accumulation 2, mask_prompt
// offsets) for adam, adamw (+ cosine schedule with warmup), adam with bias correction and sgd,
// mlx-lm's saved adapter giving mlx-lm's logits, seeded init, determinism and exact resume.
// Models load with compute 'native' (quantized kernels, as mlx-lm computes): with the SDK's
// OpenBLAS the results equal mlx-lm's bit for bit. QLoRA through the CPU float32 compute copies
// (compute 'auto') is checked separately with tolerances relative to the gradients' size.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type Model } from '../../src/model.js';
import { native, type NativeOptimizerConfig, type NativeTrainBatch, type NativeTrainer, type NativeTrainerOptions } from '../../src/native.js';
import { maxAbsDiff, readSafetensors, type Tensor } from '../helpers/safetensors.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';

const LORA = join(FIXTURES, 'lora');
const MODELS = ['llama-f32', 'llama-q4', 'qwen3-f32', 'qwen3-q4', 'qwen3_moe-f32', 'qwen3_moe-q4'];

interface RunSpec {
  optimizer: 'adam' | 'adamw' | 'sgd';
  config: { betas?: [number, number]; bias_correction?: boolean; momentum?: number; nesterov?: boolean; weight_decay?: number };
  learning_rate: number;
  lr_schedule?: { name: string; arguments: number[]; warmup?: number; warmup_init?: number };
}
const RUNS = JSON.parse(readFileSync(join(LORA, 'runs.json'), 'utf8')) as {
  runs: Record<string, RunSpec>;
  full_runs: Record<string, RunSpec>;
  iters: number;
  grad_accumulation_steps: number;
};

/** mlx-lm's optimizer settings (runs.json) as NativeOptimizerConfig. */
function optimizer(run: RunSpec): NativeOptimizerConfig {
  const s = run.lr_schedule;
  return {
    name: run.optimizer,
    learningRate: run.learning_rate,
    betas: run.config.betas,
    biasCorrection: run.config.bias_correction,
    momentum: run.config.momentum,
    nesterov: run.config.nesterov,
    weightDecay: run.config.weight_decay,
    schedule: s ? { name: s.name as 'cosine_decay', arguments: s.arguments, warmup: s.warmup, warmupInit: s.warmup_init } : null,
  };
}

/** The four fixture batches: tokens [2, 33] each with (offset, length) per row. */
function batches(): NativeTrainBatch[] {
  const b = readSafetensors(join(LORA, 'batches.safetensors'));
  const [rows, width] = b.tokens.shape;
  const out: NativeTrainBatch[] = [];
  for (let r = 0; r < rows; r += 2) {
    out.push({
      tokens: (b.tokens.data as Int32Array).slice(r * width, (r + 2) * width),
      batch: 2,
      lengths: (b.lengths.data as Int32Array).slice(r, r + 2),
      offsets: (b.offsets.data as Int32Array).slice(r, r + 2),
    });
  }
  return out;
}

const BATCHES = batches();
const NATIVE = { tokenizer: false, compute: 'native' } as const;
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
const scalar = (t: Tensor) => t.data[0];

async function trainer(model: Model, options: NativeTrainerOptions = {}): Promise<NativeTrainer> {
  return native().NativeTrainer.create(model.native, {
    seed: 0,
    gradAccumulationSteps: RUNS.grad_accumulation_steps,
    ...options,
    lora: { rank: 8, scale: 20, dropout: 0, numLayers: 2, ...options.lora },
  });
}

/** Run the fixture's iterations; returns our losses and learning rates. */
async function run(t: NativeTrainer, iters = RUNS.iters): Promise<{ losses: number[]; lrs: number[] }> {
  const losses: number[] = [];
  const lrs: number[] = [];
  for (let it = 0; it < iters; it++) {
    const r = await t.step(BATCHES[it % BATCHES.length]);
    expect(r.nonFinite).toBe(false);
    expect(r.updated).toBe((it + 1) % RUNS.grad_accumulation_steps === 0);
    losses.push(r.loss);
    lrs.push(r.lr);
  }
  return { losses, lrs };
}

function worstRel(ours: number[], theirs: ArrayLike<number>): number {
  expect(ours.length).toBe(theirs.length);
  return Math.max(...ours.map((x, i) => rel(x, theirs[i])));
}

async function logits(model: Model, ids: Tensor): Promise<Float32Array> {
  return (await model.native.forward(ids.data as Int32Array, ids.shape[0])).data as Float32Array;
}

describe.each(MODELS)('LoRA on %s matches mlx-lm', (name) => {
  const dir = join(LORA, name);
  const expected = readSafetensors(join(dir, 'expected.safetensors'));
  const initial = readSafetensors(join(dir, 'initial.safetensors'));
  const quantized = name.endsWith('q4');

  it('seeded lora_a equals mlx-lm draw after mx.random.seed(0); initial loss within 1e-5, gradients within 1e-4', async () => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model);
    try {
      const seeded = await t.adapterParameters();
      expect(Object.keys(seeded).sort()).toEqual(Object.keys(initial).sort());
      for (const [k, v] of Object.entries(initial)) {
        expect(seeded[k].shape).toEqual(v.shape);
        if (k.endsWith('.lora_a')) expect(maxAbsDiff(seeded[k].data, v.data)).toBe(0);
        else expect(Math.max(...Array.from(seeded[k].data, Math.abs))).toBe(0); // lora_b starts at zero
      }
      await t.loadAdapter(join(dir, 'initial.safetensors'));
      const g = await t.gradients(BATCHES[0]);
      const lossRel = rel(g.loss, scalar(expected.loss));
      expect(g.tokens).toBe(scalar(expected.ntoks));
      let worst = 0;
      for (const [k, v] of Object.entries(g.grads)) worst = Math.max(worst, maxAbsDiff(v.data, expected[`grad.${k}`].data));
      expect(Object.keys(g.grads).length).toBe(Object.keys(initial).length);
      const e = await t.evaluate(BATCHES);
      const evalRel = rel(e.loss, scalar(expected.eval_loss));
      console.log(`${name}: loss ${g.loss.toFixed(6)} rel ${lossRel.toExponential(2)}, grads max-abs ${worst.toExponential(2)}, eval rel ${evalRel.toExponential(2)}`);
      expect(lossRel).toBeLessThanOrEqual(1e-5);
      expect(worst).toBeLessThanOrEqual(1e-4);
      expect(evalRel).toBeLessThanOrEqual(1e-5);
    } finally {
      t.dispose();
    }
  });

  it.each(Object.keys(RUNS.runs))('%s: 10 updates (grad accumulation 2, mask_prompt) within 1e-4', async (runName) => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model, { optimizer: optimizer(RUNS.runs[runName]) });
    try {
      await t.loadAdapter(join(dir, 'initial.safetensors'));
      const { losses, lrs } = await run(t);
      const lossRel = worstRel(losses, expected[`${runName}.losses`].data);
      const lrRel = worstRel(lrs, expected[`${runName}.lr`].data);
      console.log(`${name} ${runName}: worst loss rel ${lossRel.toExponential(2)}, lr rel ${lrRel.toExponential(2)}; ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}`);
      expect(lossRel).toBeLessThanOrEqual(1e-4);
      expect(lrRel).toBeLessThanOrEqual(1e-6);
      if (runName === 'adam') {
        // Our trained adapter equals the one mlx-lm saved after the same run.
        const theirs = readSafetensors(join(dir, 'adapters_adam.safetensors'));
        const ours = await t.adapterParameters();
        let worst = 0;
        for (const [k, v] of Object.entries(theirs)) worst = Math.max(worst, maxAbsDiff(ours[k].data, v.data));
        console.log(`${name} adam: final adapter max-abs diff ${worst.toExponential(2)}`);
        expect(worst).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      t.dispose();
    }
  });

  it("loading mlx-lm's saved adapter gives mlx-lm's logits", async () => {
    using model = await loadModel(modelDir(name), NATIVE);
    const ids = readSafetensors(join(modelDir(name), 'expected.safetensors')).input_ids;
    const base = await logits(model, ids);
    expect(maxAbsDiff(base, expected.logits_initial.data)).toBeGreaterThan(0); // the fixture's start has non-zero lora_b
    const t = await trainer(model);
    try {
      await t.loadAdapter(join(dir, 'adapters_adam.safetensors'));
      const diff = maxAbsDiff(await logits(model, ids), expected.logits_adam.data);
      console.log(`${name}: logits with mlx-lm's adapter max-abs diff ${diff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(quantized ? 1e-3 : 1e-4);
      await t.detach();
      expect(maxAbsDiff(await logits(model, ids), base)).toBe(0);
    } finally {
      t.dispose();
    }
  });
});

describe.each(MODELS.filter((m) => m.endsWith('q4')))('QLoRA on %s through float32 compute copies (compute float32)', (name) => {
  const dir = join(LORA, name);
  const expected = readSafetensors(join(dir, 'expected.safetensors'));

  it('gradients within 1e-5 of their scale, 10 adam updates within 1e-4', async () => {
    using model = await loadModel(modelDir(name), { tokenizer: false, compute: 'float32' });
    expect(model.compute.mode).toBe('float32');
    const t = await trainer(model, { optimizer: optimizer(RUNS.runs.adam) });
    try {
      await t.loadAdapter(join(dir, 'initial.safetensors'));
      const g = await t.gradients(BATCHES[0]);
      let worst = 0;
      let scale = 0;
      for (const [k, v] of Object.entries(g.grads)) {
        worst = Math.max(worst, maxAbsDiff(v.data, expected[`grad.${k}`].data));
        scale = Math.max(scale, ...Array.from(expected[`grad.${k}`].data, Math.abs));
      }
      const { losses } = await run(t);
      const lossRel = worstRel(losses, expected['adam.losses'].data);
      console.log(`${name} (float32 compute): loss rel ${rel(g.loss, scalar(expected.loss)).toExponential(2)}, grads max-abs ${worst.toExponential(2)} (largest grad ${scale.toFixed(1)}), 10-update losses rel ${lossRel.toExponential(2)}`);
      expect(rel(g.loss, scalar(expected.loss))).toBeLessThanOrEqual(1e-5);
      expect(worst / scale).toBeLessThanOrEqual(1e-5);
      expect(lossRel).toBeLessThanOrEqual(1e-4);
    } finally {
      t.dispose();
    }
  });
});

describe.each([
  ['dora', 'llama-f32'],
  ['dora', 'qwen3-q4'],
  ['full', 'llama-f32'],
  ['full', 'qwen3_moe-f32'],
] as const)('%s on %s matches mlx-lm', (type, name) => {
  const dir = join(LORA, type, name);
  const expected = readSafetensors(join(dir, 'expected.safetensors'));
  const spec = type === 'full' ? RUNS.full_runs.adam : RUNS.runs.adam;

  it('initial loss, gradients, 10 adam updates and the trained weights', async () => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model, { lora: { fineTuneType: type }, optimizer: optimizer(spec) });
    try {
      if (type === 'dora') await t.loadAdapter(join(dir, 'initial.safetensors'));
      const g = await t.gradients(BATCHES[0]);
      let worst = 0;
      let compared = 0;
      for (const [k, v] of Object.entries(g.grads)) {
        const want = expected[`grad.${k}`];
        if (!want) continue;
        worst = Math.max(worst, maxAbsDiff(v.data, want.data));
        compared++;
      }
      expect(compared).toBeGreaterThan(0);
      const { losses } = await run(t);
      const lossRel = worstRel(losses, expected['adam.losses'].data);
      const ours = await t.adapterParameters();
      let final = 0;
      if (type === 'dora') {
        const theirs = readSafetensors(join(dir, 'adapters_adam.safetensors'));
        expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort()); // lora_a, lora_b, m
        for (const [k, v] of Object.entries(theirs)) final = Math.max(final, maxAbsDiff(ours[k].data, v.data));
      } else {
        for (const [k, v] of Object.entries(expected)) {
          if (k.startsWith('adam.final.')) final = Math.max(final, maxAbsDiff(ours[k.slice(11)].data, v.data));
        }
      }
      console.log(`${type} ${name}: loss rel ${rel(g.loss, scalar(expected.loss)).toExponential(2)}, ${compared} grads max-abs ${worst.toExponential(2)}, 10-update losses rel ${lossRel.toExponential(2)}, weights max-abs ${final.toExponential(2)}`);
      expect(rel(g.loss, scalar(expected.loss))).toBeLessThanOrEqual(1e-5);
      expect(worst).toBeLessThanOrEqual(1e-4);
      expect(lossRel).toBeLessThanOrEqual(1e-4);
      expect(final).toBeLessThanOrEqual(1e-4);
    } finally {
      t.dispose();
    }
  });
});

describe('determinism and exact resume', () => {
  // Dropout on, so the trainer's RNG matters.
  const options: NativeTrainerOptions = {
    lora: { dropout: 0.1 },
    optimizer: optimizer(RUNS.runs.adamw),
    gradAccumulationSteps: 2,
  };

  async function losses(seed: number, iters: number, compile = false): Promise<number[]> {
    using model = await loadModel(modelDir('qwen3_moe-q4'), NATIVE);
    const t = await trainer(model, { ...options, seed, compile });
    try {
      return (await run(t, iters)).losses;
    } finally {
      t.dispose();
    }
  }

  it('the same seed gives identical losses, another seed different ones; compiled equals uncompiled', async () => {
    const a = await losses(7, 10);
    const b = await losses(7, 10);
    const c = await losses(8, 10);
    const d = await losses(7, 10, true);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(d).toEqual(a);
  });

  it.each([5, 6])('saving at iteration %i and resuming in a new trainer continues bitwise', async (k) => {
    const tmp = mkdtempSync(join(tmpdir(), 'mlxlab-resume-'));
    try {
      const full: number[] = [];
      {
        using model = await loadModel(modelDir('llama-q4'), NATIVE);
        const t = await trainer(model, { ...options, seed: 3 });
        for (let it = 0; it < 12; it++) {
          full.push((await t.step(BATCHES[it % 4])).loss);
          if (it + 1 === k) {
            await t.saveAdapter(join(tmp, `${String(k).padStart(7, '0')}_adapters.safetensors`));
            await t.saveState(join(tmp, `${String(k).padStart(7, '0')}_state.safetensors`), { position: String(k) });
          }
        }
        t.dispose();
      }
      using model = await loadModel(modelDir('llama-q4'), NATIVE);
      const t = await trainer(model, { ...options, seed: 12345 });
      try {
        await t.loadAdapter(join(tmp, `${String(k).padStart(7, '0')}_adapters.safetensors`));
        const loaded = await t.loadState(join(tmp, `${String(k).padStart(7, '0')}_state.safetensors`));
        expect(loaded.metadata).toEqual({ position: String(k) });
        expect(loaded.iteration).toBe(k);
        expect(loaded.step).toBe(Math.floor(k / 2));
        const resumed: number[] = [];
        for (let it = k; it < 12; it++) resumed.push((await t.step(BATCHES[it % 4])).loss);
        expect(resumed).toEqual(full.slice(k));
      } finally {
        t.dispose();
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
