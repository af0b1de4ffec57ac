// NativeTrainer through the addon: the model generates with the live adapter, detach/dispose
// give the base model back, bad adapter files and arguments give MlxLabErrors with codes, a
// non-finite loss is reported without touching the weights, files are mlx-lm's format.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, nativeHandle, type Model } from '../../src/model/model.js';
import { MlxLabError } from '../../src/core/errors.js';
import { native, type NativeTrainBatch, type NativeTrainer, type NativeTrainerOptions } from '../../src/core/native.js';
import { maxAbsDiff, readSafetensors } from '../helpers/safetensors.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';
import { expectClose } from '../helpers/close.js';
import { rejects } from '../helpers/errors.js';

const LORA = join(FIXTURES, 'lora');
const IDS = [
  [1, 17, 42, 99, 128, 200, 7, 64, 255, 3],
  [5, 250, 33, 81, 160, 12, 199, 77, 140, 2],
];

function batch(rows: number[][], offsets?: number[]): NativeTrainBatch {
  const width = Math.max(...rows.map((r) => r.length)) + 1;
  const tokens = new Int32Array(rows.length * width);
  rows.forEach((r, i) => tokens.set(r, i * width));
  return { tokens, batch: rows.length, lengths: rows.map((r) => r.length), offsets };
}

const TRAIN = batch(IDS, [3, 2]);

async function create(model: Model, options: NativeTrainerOptions = {}): Promise<NativeTrainer> {
  return native().NativeTrainer.create(nativeHandle(model), { seed: 1, ...options, lora: { numLayers: -1, ...options.lora } });
}

function throws(fn: () => unknown): MlxLabError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MlxLabError);
    return err as MlxLabError;
  }
  throw new Error('expected a throw');
}

// Bounds on max|reusing − plain| / max|plain| of a shared prefix run once (test/helpers/close.ts),
// each ≥ 3× the largest ratio over 5 OpenBLAS kernels (README, "Parity bounds").
const PREFIX = {
  grads: 2e-5, // measured ≤ 4.1e-6 (qwen3_moe-q4)
  firstLoss: 1e-6, // measured ≤ 1.7e-7
  losses: 2e-5, // 6 Adam steps and the validation loss after them: measured ≤ 6.7e-6
};

const greedy = async (model: Model) => (await model.generate({ tokens: IDS[0] }, { maxTokens: 12 })).tokens;

describe('NativeTrainer', () => {
  it('the model generates with the live adapter; detach and dispose give the base model back', async () => {
    using model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
    const base = await model.logits(IDS);
    const baseTokens = await greedy(model);
    const t = await create(model, { optimizer: { name: 'adam', learningRate: 1e-2 } });
    expect(t.info().trainableParameters).toBe(2 * 8 * (64 + 64 + 64 + 32 + 64 + 32 + 64 + 64 + 64 + 128 + 64 + 128 + 128 + 64));
    // lora_b starts at zero: attaching changes nothing yet.
    expect(maxAbsDiff((await model.logits(IDS)).data, base.data)).toBe(0);
    const losses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await t.step(TRAIN);
      expect(r).toMatchObject({ nonFinite: false, updated: true, iteration: i + 1, step: i + 1 });
      expect(r.lr).toBeCloseTo(1e-2, 8);
      losses.push(r.loss);
    }
    expect(losses[5]).toBeLessThan(losses[0]);
    const trained = await model.logits(IDS);
    expect(maxAbsDiff(trained.data, base.data)).toBeGreaterThan(1e-2);
    const trainedTokens = await greedy(model);
    expect(trainedTokens).not.toEqual(baseTokens);
    // The live adapter is what evaluate() and generation see.
    // mlx-lm's mask counts targets t with offset <= t + 1 <= length: rows of 10 tokens in an
    // 11-wide batch with offsets 3 and 2 give 8 + 9 (the last one predicts the padding).
    const e = await t.evaluate([TRAIN]);
    expect(e.tokens).toBe(17);
    await t.detach();
    expect(maxAbsDiff((await model.logits(IDS)).data, base.data)).toBe(0);
    expect(await greedy(model)).toEqual(baseTokens);
    expect((await rejects(t.step(TRAIN))).code).toBe('E_DISPOSED');
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(throws(() => t.info()).code).toBe('E_DISPOSED');

    // dispose() alone also detaches (on the engine thread, after queued work).
    const t2 = await create(model, { optimizer: { name: 'sgd', learningRate: 0.5 } });
    await t2.step(TRAIN);
    expect(maxAbsDiff((await model.logits(IDS)).data, base.data)).toBeGreaterThan(0);
    t2.dispose();
    expect(maxAbsDiff((await model.logits(IDS)).data, base.data)).toBe(0);
  });

  it('accumulates gradients natively: an update every gradAccumulationSteps steps', async () => {
    using model = await loadModel(modelDir('qwen3-f32'), { tokenizer: false });
    const t = await create(model, { gradAccumulationSteps: 3, optimizer: { learningRate: 1e-3 } });
    try {
      const updated = [];
      for (let i = 0; i < 6; i++) updated.push((await t.step(TRAIN)).updated);
      expect(updated).toEqual([false, false, true, false, false, true]);
      expect(await t.state()).toMatchObject({ iteration: 6, step: 2, attached: true });
    } finally {
      t.dispose();
    }
  });

  it.each(['llama-f32', 'qwen3_moe-q4'])('%s: a shared prefix runs the frozen layers once, with the same losses', async (name) => {
    using model = await loadModel(modelDir(name), { tokenizer: false });
    const prefix = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 250);
    const rows = [
      [...prefix, 17, 42, 99, 128, 200, 7],
      [...prefix, 250, 33, 81],
    ];
    const data = batch(rows, [42, 41]);
    const other = batch(IDS, [3, 2]);
    const options: NativeTrainerOptions = { optimizer: { name: 'adam', learningRate: 1e-3 }, lora: { numLayers: 1 } };
    const run = async (t: NativeTrainer) => {
      const out: { loss: number; prefixTokens: number }[] = [];
      for (let i = 0; i < 6; i++) out.push(await t.step(i % 3 === 2 ? other : data));
      return { steps: out, val: (await t.evaluate([data])).loss };
    };
    const plain = await create(model, options);
    const gradsPlain = (await plain.gradients(data)).grads;
    const a = await run(plain);
    plain.dispose();
    const reusing = await create(model, { ...options, sharedPrefix: prefix });
    const gradsReusing = (await reusing.gradients(data)).grads;
    const b = await run(reusing);
    reusing.dispose();
    // Gradients through the prefix computed once per batch (both rows share it) and copied:
    // the same math in another order (attention over cached keys).
    expectClose(gradsReusing, gradsPlain, { rel: PREFIX.grads, label: `prefix-reuse.grads[${name}]` });
    // Batches that start with the prefix reuse it; one that does not runs whole.
    expect(b.steps.map((s) => s.prefixTokens)).toEqual([40, 40, 0, 40, 40, 0]);
    expect(a.steps.every((s) => s.prefixTokens === 0)).toBe(true);
    // The first loss before any update, then 6 Adam steps (Adam amplifies rounding).
    expectClose(b.steps[0].loss, a.steps[0].loss, { rel: PREFIX.firstLoss, label: `prefix-reuse.first-loss[${name}]` });
    expectClose(b.steps.map((s) => s.loss), a.steps.map((s) => s.loss), { rel: PREFIX.losses, label: `prefix-reuse.losses[${name}]` });
    expectClose(b.val, a.val, { rel: PREFIX.losses, label: `prefix-reuse.val-loss[${name}]` });
    // With compile, or LoRA on every layer (nothing frozen), there is nothing to reuse.
    const compiled = await create(model, { ...options, compile: true, sharedPrefix: prefix });
    expect((await compiled.step(data)).prefixTokens).toBe(0);
    compiled.dispose();
    const everyLayer = await create(model, { ...options, lora: { numLayers: -1 }, sharedPrefix: prefix });
    expect((await everyLayer.step(data)).prefixTokens).toBe(0);
    everyLayer.dispose();
  });

  it('saves adapters as mlx-lm does and loads them back', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mlxlab-adapter-'));
    try {
      using model = await loadModel(modelDir('qwen3_moe-q4'), { tokenizer: false });
      const t = await create(model, { lora: { rank: 4 }, optimizer: { learningRate: 1e-3 } });
      await t.step(TRAIN);
      const file = join(tmp, 'adapters.safetensors');
      await t.saveAdapter(file);
      const buf = readFileSync(file);
      const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString('utf8'));
      expect(header.__metadata__).toEqual({ format: 'mlx' });
      const saved = readSafetensors(file);
      const names = Object.keys(saved).sort();
      expect(names).toContain('model.layers.1.mlp.switch_mlp.up_proj.lora_a');
      expect(names).toContain('model.layers.1.mlp.gate.lora_b');
      expect(saved['model.layers.1.mlp.switch_mlp.up_proj.lora_a'].shape).toEqual([4, 4, 64]); // [E, r, in]
      expect(saved['model.layers.1.mlp.switch_mlp.down_proj.lora_b'].shape).toEqual([4, 64, 4]); // [E, out, r]
      expect(saved['model.layers.0.self_attn.k_proj.lora_a'].shape).toEqual([64, 4]); // [in, r]
      expect(t.info().parameters.map((p) => p.name).sort()).toEqual(names);
      const before = await model.logits(IDS);
      t.dispose();
      const t2 = await create(model, { lora: { rank: 4 }, seed: 99 });
      try {
        await t2.loadAdapter(file);
        expect(maxAbsDiff((await model.logits(IDS)).data, before.data)).toBe(0);
      } finally {
        t2.dispose();
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('rejects bad adapter files with E_WEIGHTS (or E_MODEL_LOAD when unreadable) and changes nothing', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mlxlab-bad-adapter-'));
    try {
      using model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
      const t = await create(model, { lora: { numLayers: 1 } });
      const params = await t.adapterParameters();
      let e = await rejects(t.loadAdapter(join(LORA, 'llama-f32', 'initial.safetensors')));
      expect(e.code).toBe('E_WEIGHTS');
      expect(e.message).toContain('"model.layers.0.mlp.down_proj.lora_a" is not an adapter parameter of this model');
      expect(e.message).toContain('has no adapter: num_layers=1');
      e = await rejects(t.loadAdapter(join(LORA, 'qwen3_moe-f32', 'adapters_adam.safetensors')));
      expect(e.code).toBe('E_WEIGHTS');
      expect(e.message).toMatch(/qwen3_moe-f32\/adapters_adam\.safetensors: "model\.layers\.\d\.mlp\.\S+" is not an adapter parameter/);
      t.dispose();
      const t4 = await create(model, { lora: { rank: 4 } });
      e = await rejects(t4.loadAdapter(join(LORA, 'llama-f32', 'initial.safetensors')));
      expect(e.code).toBe('E_WEIGHTS');
      expect(e.message).toMatch(/"model\.layers\.0\.mlp\.down_proj\.lora_a" has shape \[128,8\], the adapter expects \[128,4\] \(rank 4\)/);
      e = await rejects(t4.loadAdapter(join(tmp, 'missing.safetensors')));
      expect(e.code).toBe('E_MODEL_LOAD');
      writeFileSync(join(tmp, 'garbage.safetensors'), 'not a safetensors file at all');
      e = await rejects(t4.loadAdapter(join(tmp, 'garbage.safetensors')));
      expect(e.code).toBe('E_MODEL_LOAD');
      e = await rejects(t4.loadState(join(LORA, 'llama-f32', 'initial.safetensors')));
      expect(e.code).toBe('E_WEIGHTS');
      expect(e.message).toContain('not an mlx-lab training state file');
      const after = await t4.adapterParameters();
      expect(Object.keys(after).length).toBe(Object.keys(params).length * 2);
      t4.dispose();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('reports a non-finite loss without changing the weights', async () => {
    using model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
    const t = await create(model, { optimizer: { name: 'sgd', learningRate: 1e12 } });
    try {
      await t.loadAdapter(join(LORA, 'llama-f32', 'initial.safetensors'));
      let seen = false;
      for (let i = 0; i < 10 && !seen; i++) {
        const before = await t.adapterParameters();
        const r = await t.step(TRAIN);
        if (!r.nonFinite) continue;
        seen = true;
        expect(Number.isFinite(r.loss)).toBe(false);
        expect(r.updated).toBe(false);
        expect(r.iteration).toBe(i);
        const after = await t.adapterParameters();
        for (const [k, v] of Object.entries(before)) expect(maxAbsDiff(after[k].data, v.data)).toBe(0);
      }
      expect(seen).toBe(true);
    } finally {
      t.dispose();
    }
  });

  it('state files: schedule position, optimizer check, reserved metadata', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mlxlab-state-'));
    try {
      using model = await loadModel(modelDir('qwen3-q4'), { tokenizer: false });
      const schedule = { name: 'cosine_decay' as const, arguments: [1e-3, 8], warmup: 2, warmupInit: 1e-5 };
      const t = await create(model, { optimizer: { name: 'adamw', schedule } });
      const lrs = [];
      for (let i = 0; i < 5; i++) lrs.push((await t.step(TRAIN)).lr);
      expect(lrs[0]).toBeCloseTo(1e-5, 10); // schedule(0): the warmup's start
      expect(lrs[2]).toBeCloseTo(1e-3, 8); // end of warmup
      const file = join(tmp, '0000005_state.safetensors');
      await t.saveState(file, { data: '{"epoch":0,"position":5}' });
      expect((await rejects(t.saveState(file, { 'mlx_lab.x': '1' }))).code).toBe('E_ARGUMENT');
      t.dispose();
      const t2 = await create(model, { optimizer: { name: 'adamw', schedule } });
      const loaded = await t2.loadState(file);
      expect(loaded).toMatchObject({ iteration: 5, step: 5, metadata: { data: '{"epoch":0,"position":5}' } });
      expect(loaded.lr).toBe(lrs[4]);
      await t2.setLearningRate(2e-4);
      expect((await t2.step(TRAIN)).lr).toBeCloseTo(2e-4, 10);
      t2.dispose();
      const t3 = await create(model, { optimizer: { name: 'sgd' } });
      const e = await rejects(t3.loadState(file));
      expect(e.code).toBe('E_CONFIG');
      expect(e.message).toContain('saved by optimizer "adamw", this trainer uses "sgd"');
      t3.dispose();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('bad options and batches give E_CONFIG / E_ARGUMENT naming the problem', async () => {
    using model = await loadModel(modelDir('qwen3_moe-f32'), { tokenizer: false });
    const bad = async (options: NativeTrainerOptions) => rejects(create(model, options));
    let e = await bad({ lora: { numLayers: 3 } });
    expect([e.code, e.message]).toEqual(['E_CONFIG', 'num_layers=3 but the model only has 2 layers (use -1 for all)']);
    e = await bad({ lora: { keys: ['self_attn.q_proj', 'mlp.gate_prj'] } });
    expect(e.code).toBe('E_CONFIG');
    expect(e.message).toContain('"mlp.gate_prj" matches no linear layer');
    e = await bad({ lora: { fineTuneType: 'dora' } });
    expect(e.code).toBe('E_CONFIG');
    expect(e.message).toContain('DoRA does not support the expert (switch) linears');
    e = await bad({ optimizer: { learningRate: -1 } });
    expect(e.code).toBe('E_CONFIG');
    e = await bad({ optimizer: { name: 'sgd', nesterov: true } });
    expect(e.message).toContain('Nesterov momentum requires a momentum');
    e = await bad({ optimizer: { schedule: { name: 'cosine_decay', arguments: [1e-3] } } });
    expect(e.message).toContain('cosine_decay takes arguments [init, decay_steps, end=0]');
    e = await bad({ gradAccumulationSteps: 0 });
    expect(e.message).toContain('grad_accumulation_steps must be at least 1');
    expect(throws(() => native().NativeTrainer.create({} as never, {})).code).toBe('E_ARGUMENT');
    expect(throws(() => native().NativeTrainer.create(nativeHandle(model), { seed: -1 })).code).toBe('E_ARGUMENT');

    // DoRA on the dense layers only works (keys leave the experts out).
    const dora = await create(model, { lora: { fineTuneType: 'dora', keys: ['self_attn.q_proj', 'mlp.gate'] } });
    expect(dora.info().parameters.map((p) => p.name)).toContain('model.layers.1.mlp.gate.m');
    expect((await rejects(create(model))).message).toContain('already has an adapter attached');
    dora.dispose();

    const t = await create(model);
    try {
      expect(throws(() => t.step({ tokens: new Int32Array(9), batch: 2, lengths: [4, 4] })).code).toBe('E_ARGUMENT');
      expect(throws(() => t.step({ tokens: new Int32Array(8), batch: 2, lengths: [4] })).code).toBe('E_ARGUMENT');
      let e2 = await rejects(t.step({ tokens: new Int32Array(8), batch: 2, lengths: [4, 5] }));
      expect([e2.code, e2.message]).toEqual(['E_ARGUMENT', 'row 1: length 5 is outside [1, 4]']);
      e2 = await rejects(t.step({ tokens: new Int32Array([1, 2, 3, 0]), batch: 1, lengths: [3], offsets: [4] }));
      expect(e2.message).toContain('the batch has no target tokens');
    } finally {
      t.dispose();
    }
  });
});
