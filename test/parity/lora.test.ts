// LoRA / QLoRA / DoRA / full fine-tuning through the addon against what mlx-lm's own training
// code computed (test/fixtures/lora, made by scripts/fixtures/make_lora_fixtures.py): the initial
// loss and gradients, 20 iterations = 10 optimizer updates (grad accumulation 2, mask_prompt
// offsets) for adam, adamw (+ cosine schedule with warmup), adam with bias correction and sgd,
// mlx-lm's saved adapter giving mlx-lm's logits, seeded init, determinism and exact resume.
// Models load with compute 'native' (quantized kernels, as mlx-lm computes). The fixtures were
// computed on another CPU, whose BLAS kernel sums in another order: every float comparison is
// bounded relative to the scale of the values (test/helpers/close.ts), by the largest ratio
// measured over the OPENBLAS_CORETYPE kernels (README, "Parity bounds") times a margin. The
// "wrong variants" block at the end proves the bounds still catch a 1% scale error, a prompt
// token left in the loss and a transposed adapter. QLoRA through the CPU float32 compute copies
// (compute 'float32') is checked separately, and each architecture's 4-bit model at its other
// group size (<arch>-q4-g32 / -g64) gets the initial loss, gradients and runs too.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, nativeHandle, type Model } from '../../src/model/model.js';
import { native, type NativeOptimizerConfig, type NativeTrainBatch, type NativeTrainer, type NativeTrainerOptions } from '../../src/core/native.js';
import { maxAbsDiff, readSafetensors, transpose, writeSafetensors, type Tensor } from '../helpers/safetensors.js';
import { expectBreaks, expectClose } from '../helpers/close.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';

const LORA = join(FIXTURES, 'lora');
const MODELS = ['llama-f32', 'llama-q4', 'qwen3-f32', 'qwen3-q4', 'qwen3_moe-f32', 'qwen3_moe-q4', 'qwen2-f32', 'qwen2-q4', 'mistral-f32', 'mistral-q4', 'phi3-f32', 'phi3-q4', 'gemma3_text-f32', 'gemma3_text-q4', 'granite-f32', 'granite-q4'];

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
  other_group_models: Record<string, string>;
  same_start_models: Record<string, string>;
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
const scalar = (t: Tensor) => t.data[0];

// Bounds on max|ours − mlx-lm| / max|mlx-lm|, each ≥ 3× the largest ratio measured over 5
// OpenBLAS kernels (scripts/kernel-spread.mjs; README, "Parity bounds"), rounded up to 1/2/5.
const BOUND = {
  loss: 2e-6, // losses and eval losses, LoRA / DoRA / full / QLoRA float32: measured ≤ 3.9e-7 (mistral-f32, Haswell)
  grads: 2e-4, // gradients, LoRA / DoRA / full: measured ≤ 3.7e-5 (llama-f32, Haswell)
  runLosses: 5e-5, // the 20 losses of 10 updates, every optimizer: measured ≤ 1.2e-5 (mistral-q4 adamw, Prescott)
  lr: 1e-6, // the schedule is scalar math, no BLAS: measured 0 on every kernel (room for libm's cos)
  adapter: 2e-4, // the weights after 10 Adam updates: measured ≤ 5.5e-5 (qwen3_moe-q4, Haswell)
  logits: 2e-5, // logits with mlx-lm's trained adapter, f32 and 4-bit: measured ≤ 3.6e-6 (llama-f32, Prescott)
  f32Grads: 1e-4, // QLoRA gradients through float32 compute copies vs quantized kernels: measured ≤ 2.3e-5 (gemma3_text-q4-g64, Haswell)
};

/** Our gradients keyed as the fixture stores them (grad.<name>), for expectClose. */
type Arrays = Record<string, { data: ArrayLike<number> }>;
function fixtureGrads(expected: Record<string, Tensor>, grads: Arrays): { got: Arrays; want: Arrays } {
  const got: Arrays = {};
  const want: Arrays = {};
  for (const [k, v] of Object.entries(grads)) {
    if (!expected[`grad.${k}`]) continue;
    got[k] = v;
    want[k] = expected[`grad.${k}`];
  }
  return { got, want };
}

async function trainer(model: Model, options: NativeTrainerOptions = {}): Promise<NativeTrainer> {
  return native().NativeTrainer.create(nativeHandle(model), {
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

async function logits(model: Model, ids: Tensor): Promise<Float32Array> {
  return (await nativeHandle(model).forward(ids.data as Int32Array, ids.shape[0])).data as Float32Array;
}

describe.each(MODELS)('LoRA on %s matches mlx-lm', (name) => {
  const dir = join(LORA, name);
  const expected = readSafetensors(join(dir, 'expected.safetensors'));
  const initial = readSafetensors(join(dir, 'initial.safetensors'));

  it('seeded lora_a equals mlx-lm draw after mx.random.seed(0); initial loss, gradients and eval loss within their bounds', async () => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model);
    try {
      const seeded = await t.adapterParameters();
      expect(Object.keys(seeded).sort()).toEqual(Object.keys(initial).sort());
      for (const [k, v] of Object.entries(initial)) {
        expect(seeded[k].shape).toEqual(v.shape);
        if (k.endsWith('.lora_a')) expect(maxAbsDiff(seeded[k].data, v.data)).toBe(0); // RNG bits scaled: no sums, no BLAS, exact on every kernel
        else expect(Math.max(...Array.from(seeded[k].data, Math.abs))).toBe(0); // lora_b starts at zero
      }
      await t.loadAdapter(join(dir, 'initial.safetensors'));
      const g = await t.gradients(BATCHES[0]);
      expect(g.tokens).toBe(scalar(expected.ntoks));
      expect(Object.keys(g.grads).length).toBe(Object.keys(initial).length);
      const grads = fixtureGrads(expected, g.grads);
      expect(Object.keys(grads.got).length).toBe(Object.keys(initial).length);
      const e = await t.evaluate(BATCHES);
      expectClose(g.loss, scalar(expected.loss), { rel: BOUND.loss, label: `lora.loss[${name}]` });
      expectClose(grads.got, grads.want, { rel: BOUND.grads, label: `lora.grads[${name}]` });
      expectClose(e.loss, scalar(expected.eval_loss), { rel: BOUND.loss, label: `lora.eval-loss[${name}]` });
    } finally {
      t.dispose();
    }
  });

  it.each(Object.keys(RUNS.runs))('%s: 10 updates (grad accumulation 2, mask_prompt) within their bounds', async (runName) => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model, { optimizer: optimizer(RUNS.runs[runName]) });
    try {
      await t.loadAdapter(join(dir, 'initial.safetensors'));
      const { losses, lrs } = await run(t);
      console.log(`${name} ${runName}: losses ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}`);
      expectClose(losses, expected[`${runName}.losses`].data, { rel: BOUND.runLosses, label: `lora.run-losses[${name}.${runName}]` });
      expectClose(lrs, expected[`${runName}.lr`].data, { rel: BOUND.lr, label: `lora.lr[${name}.${runName}]` });
      if (runName === 'adam') {
        // Our trained adapter is the one mlx-lm saved after the same run.
        const theirs = readSafetensors(join(dir, 'adapters_adam.safetensors'));
        const ours = await t.adapterParameters();
        expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
        expectClose(ours, theirs, { rel: BOUND.adapter, label: `lora.trained-adapter[${name}]` });
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
      const got = await logits(model, ids);
      expectClose(got, expected.logits_adam.data, { rel: BOUND.logits, label: `lora.adapter-logits[${name}]` });
      await t.detach();
      expect(maxAbsDiff(await logits(model, ids), base)).toBe(0);
    } finally {
      t.dispose();
    }
  });
});

// Each architecture's 4-bit model at its other group size (<arch>-q4-g32 / -g64, runs.json
// other_group_models): the same start as <arch>-q4 (whose initial.safetensors it shares), mlx-lm's
// initial loss, gradients, eval loss and the four runs' losses and learning rates.
const OTHER_GROUP = Object.entries(RUNS.other_group_models);
// gemma3_text-q4-g64's adam run amplifies rounding beyond any kernel-independent bound: its 20
// losses equal mlx-lm's bit for bit under the kernel that made the fixture but move 5.7e-5 (Haswell)
// and 8.9e-5 (Prescott), and mlx-lm's own run on its dequantized model (the same values summed in
// another order) moves 3.4e-4. (Adam's first updates are ±lr whatever a gradient's size, so a
// near-zero gradient's rounding flips whole steps.) Its other three runs are compared; adam_bc is
// the run the float32 compute check uses for these models (≤ 7.3e-6 on every kernel).
// phi3-longrope-f32's adam run (a fixture of the wheel's BLAS) moves 2.0e-5 under Haswell and Zen,
// 2.5x inside the bound where every bound keeps 3x; its adamw, adam_bc and sgd runs move at most
// 1.4e-5 (sgd, SkylakeX).
const ILL_CONDITIONED_RUNS: Record<string, string[]> = { 'gemma3_text-q4-g64': ['adam'], 'phi3-longrope-f32': ['adam'] };

// Models of another config over the same shapes (runs.json same_start_models): phi3 with
// rope_scaling longrope (phi3-longrope-f32, phi3-f32's weights, original context 8, so every batch
// goes past it), from phi3-f32's start. This fixture was made with the dev venv's wheel BLAS, not
// the SDK's (the others' same-blas venv was not available), so it differs by float rounding.
const SAME_START = Object.entries(RUNS.same_start_models);

/** The adapter a model's runs start from: its own, or for an other-group / same-start model its base's. */
function initialAdapter(name: string): string {
  return join(LORA, RUNS.other_group_models[name] ?? RUNS.same_start_models[name] ?? name, 'initial.safetensors');
}

describe.each([...OTHER_GROUP, ...SAME_START])('LoRA on %s (from the start of %s) matches mlx-lm', (name) => {
  const expected = readSafetensors(join(LORA, name, 'expected.safetensors'));

  it('initial loss, gradients and eval loss within their bounds', async () => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model);
    try {
      await t.loadAdapter(initialAdapter(name));
      const g = await t.gradients(BATCHES[0]);
      expect(g.tokens).toBe(scalar(expected.ntoks));
      const grads = fixtureGrads(expected, g.grads);
      expect(Object.keys(grads.got).length).toBe(Object.keys(g.grads).length);
      const e = await t.evaluate(BATCHES);
      expectClose(g.loss, scalar(expected.loss), { rel: BOUND.loss, label: `lora.loss[${name}]` });
      expectClose(grads.got, grads.want, { rel: BOUND.grads, label: `lora.grads[${name}]` });
      expectClose(e.loss, scalar(expected.eval_loss), { rel: BOUND.loss, label: `lora.eval-loss[${name}]` });
    } finally {
      t.dispose();
    }
  });

  const runs = Object.keys(RUNS.runs).filter((r) => !ILL_CONDITIONED_RUNS[name]?.includes(r));
  it.each(runs)('%s: 10 updates (grad accumulation 2, mask_prompt) within their bounds', async (runName) => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model, { optimizer: optimizer(RUNS.runs[runName]) });
    try {
      await t.loadAdapter(initialAdapter(name));
      const { losses, lrs } = await run(t);
      expectClose(losses, expected[`${runName}.losses`].data, { rel: BOUND.runLosses, label: `lora.run-losses[${name}.${runName}]` });
      expectClose(lrs, expected[`${runName}.lr`].data, { rel: BOUND.lr, label: `lora.lr[${name}.${runName}]` });
    } finally {
      t.dispose();
    }
  });
});

// compute 'float32' (kept copies) and 'kernels' (auto's pick on the CPU: training batches take a
// float32 weight made per call, and made again in the backward pass instead of kept).
const QLORA_RUNS = [
  ...MODELS.filter((m) => m.endsWith('q4')).map((m) => [m, 'adam']),
  ...OTHER_GROUP.map(([m]) => [m, 'adam_bc']),
];
describe.each((['float32', 'kernels'] as const).flatMap((compute) => QLORA_RUNS.map(([m, run]) => [m, run, compute] as const)))('QLoRA on %s (%s) through compute %s', (name, runName, compute) => {
  const dir = join(LORA, name);
  const expected = readSafetensors(join(dir, 'expected.safetensors'));

  it(`gradients, 10 ${runName} updates within their bounds`, async () => {
    using model = await loadModel(modelDir(name), { tokenizer: false, compute });
    expect(model.compute.mode).toBe(compute);
    const t = await trainer(model, { optimizer: optimizer(RUNS.runs[runName]) });
    try {
      await t.loadAdapter(initialAdapter(name));
      const g = await t.gradients(BATCHES[0]);
      const grads = fixtureGrads(expected, g.grads);
      expect(Object.keys(grads.got).length).toBe(Object.keys(g.grads).length);
      const { losses } = await run(t);
      expectClose(g.loss, scalar(expected.loss), { rel: BOUND.loss, label: `qlora-${compute === 'float32' ? 'f32' : compute}.loss[${name}]` });
      expectClose(grads.got, grads.want, { rel: BOUND.f32Grads, label: `qlora-${compute === 'float32' ? 'f32' : compute}.grads[${name}]` });
      expectClose(losses, expected[`${runName}.losses`].data, { rel: BOUND.runLosses, label: `qlora-${compute === 'float32' ? 'f32' : compute}.run-losses[${name}]` });
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
      const grads = fixtureGrads(expected, g.grads);
      expect(Object.keys(grads.got).length).toBeGreaterThan(0);
      const { losses } = await run(t);
      const ours = await t.adapterParameters();
      let theirs: Record<string, Tensor>;
      if (type === 'dora') {
        theirs = readSafetensors(join(dir, 'adapters_adam.safetensors'));
        expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort()); // lora_a, lora_b, m
      } else {
        theirs = Object.fromEntries(Object.entries(expected).filter(([k]) => k.startsWith('adam.final.')).map(([k, v]) => [k.slice(11), v]));
        expect(Object.keys(theirs).length).toBeGreaterThan(0);
      }
      const trained = Object.fromEntries(Object.keys(theirs).map((k) => [k, ours[k]]));
      expectClose(g.loss, scalar(expected.loss), { rel: BOUND.loss, label: `${type}.loss[${name}]` });
      expectClose(grads.got, grads.want, { rel: BOUND.grads, label: `${type}.grads[${name}]` });
      expectClose(losses, expected['adam.losses'].data, { rel: BOUND.runLosses, label: `${type}.run-losses[${name}]` });
      expectClose(trained, theirs, { rel: BOUND.adapter, label: `${type}.trained-weights[${name}]` });
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

// ---- wrong variants: each must miss its bound by at least MUTANT_FACTOR, or the bound could not
// tell a real defect from a kernel's rounding.
const MUTANT_FACTOR = 100; // measured ≥ 2500× (a 1% scale on the logits); rounding stays ≤ 1/3 of a bound

/** mlx-lm's trained adapter with q_proj's and o_proj's delta transposed: A' = Bᵀ, B' = Aᵀ (square layers). */
function transposedAdapter(dir: string, out: string): string {
  const t = readSafetensors(join(dir, 'adapters_adam.safetensors'));
  const swapped = { ...t };
  let square = 0;
  for (const k of Object.keys(t).filter((k) => /(q|o)_proj\.lora_a$/.test(k))) {
    const b = k.replace(/lora_a$/, 'lora_b');
    swapped[k] = transpose(t[b]);
    swapped[b] = transpose(t[k]);
    expect(swapped[k].shape).toEqual(t[k].shape);
    square++;
  }
  expect(square).toBeGreaterThan(0);
  const file = join(out, 'transposed.safetensors');
  writeSafetensors(file, swapped);
  return file;
}

/** A fixture batch with every row's prompt offset one token earlier: one prompt token in the loss. */
function maskOffByOne(b: NativeTrainBatch): NativeTrainBatch {
  return { ...b, offsets: Int32Array.from(b.offsets!, (o) => Math.max(0, o - 1)) };
}

describe.each(['llama-f32', 'llama-q4'])('wrong variants on %s break the bounds', (name) => {
  const dir = join(LORA, name);
  const expected = readSafetensors(join(dir, 'expected.safetensors'));
  const ids = readSafetensors(join(modelDir(name), 'expected.safetensors')).input_ids;

  it("a LoRA scale off by 1% (20.2 for 20): logits with mlx-lm's adapter", async () => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model, { lora: { scale: 20 * 1.01 } });
    try {
      await t.loadAdapter(join(dir, 'adapters_adam.safetensors'));
      const got = await logits(model, ids);
      expectBreaks(got, expected.logits_adam.data, { rel: BOUND.logits, factor: MUTANT_FACTOR, label: `mutant.scale-1pct.adapter-logits[${name}]` });
    } finally {
      t.dispose();
    }
  });

  it('one prompt token left in the loss (offsets − 1): loss and gradients', async () => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model);
    try {
      await t.loadAdapter(join(dir, 'initial.safetensors'));
      const g = await t.gradients(maskOffByOne(BATCHES[0]));
      expect(g.tokens).toBeGreaterThan(scalar(expected.ntoks)); // the extra targets are in the loss
      const grads = fixtureGrads(expected, g.grads);
      expectBreaks(g.loss, scalar(expected.loss), { rel: BOUND.loss, factor: MUTANT_FACTOR, label: `mutant.mask-off-by-one.loss[${name}]` });
      expectBreaks(grads.got, grads.want, { rel: BOUND.grads, factor: MUTANT_FACTOR, label: `mutant.mask-off-by-one.grads[${name}]` });
    } finally {
      t.dispose();
    }
  });

  it("a transposed adapter (q_proj and o_proj): logits with mlx-lm's adapter", async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mlxlab-transposed-'));
    try {
      using model = await loadModel(modelDir(name), NATIVE);
      const t = await trainer(model);
      try {
        await t.loadAdapter(transposedAdapter(dir, tmp));
        const got = await logits(model, ids);
        expectBreaks(got, expected.logits_adam.data, { rel: BOUND.logits, factor: MUTANT_FACTOR, label: `mutant.transposed.adapter-logits[${name}]` });
      } finally {
        t.dispose();
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

// A model quantized at the wrong group size: <arch>-q4's weights against the other-group fixture;
// and phi3-f32 (the same weights with plain RoPE) against the longrope fixture.
describe.each([...OTHER_GROUP.map(([n, b]) => [n, b, 'group-size']), ...SAME_START.map(([n, b]) => [n, b, 'rope'])])('%s: the same weights in %s break the bounds', (name, base, kind) => {
  it('initial loss and gradients', async () => {
    const expected = readSafetensors(join(LORA, name, 'expected.safetensors'));
    using model = await loadModel(modelDir(base), NATIVE);
    const t = await trainer(model);
    try {
      await t.loadAdapter(initialAdapter(name));
      const g = await t.gradients(BATCHES[0]);
      const grads = fixtureGrads(expected, g.grads);
      expectBreaks(g.loss, scalar(expected.loss), { rel: BOUND.loss, factor: MUTANT_FACTOR, label: `mutant.${kind}.loss[${name}]` });
      expectBreaks(grads.got, grads.want, { rel: BOUND.grads, factor: MUTANT_FACTOR, label: `mutant.${kind}.grads[${name}]` });
    } finally {
      t.dispose();
    }
  });
});
