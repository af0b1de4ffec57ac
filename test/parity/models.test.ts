// Logits and greedy tokens of tiny random models against what mlx-lm computed on them
// (test/fixtures/models/*/expected.safetensors, made by scripts/fixtures/make_tiny_models.py).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadModel } from '../../src/model/model.js';
import { readSafetensors } from '../helpers/safetensors.js';
import { modelDir } from '../helpers/paths.js';
import { expectClose } from '../helpers/close.js';

// Bounds on max|ours − mlx-lm| / max|mlx-lm| of the logits (test/helpers/close.ts), each ≥ 3× the
// largest ratio over 5 OpenBLAS kernels (README, "Parity bounds"): float32 and 4-bit weights with
// float32 activations differ from mlx-lm's only by the BLAS kernel's order of sums.
const F32 = 5e-6; // measured ≤ 9.0e-7 (gemma3_text-f32, Prescott)
const Q4 = 5e-6; // measured ≤ 1.0e-6 (compute kernels, qwen3-mixed, Prescott); 4-bit logits at both group sizes ≤ 7.5e-7 (gemma3_text-q4, Prescott)
const BF16 = 5e-6; // bf16 matmuls do not go through BLAS: measured 0 on every kernel
// The same weights as <arch>-q4 quantized by mlx-lm at the other group size (32 <-> 64).
const Q4_OTHER_GROUP = [
  'llama-q4-g64',
  'qwen3-q4-g32',
  'qwen3_moe-q4-g64',
  'qwen2-q4-g32',
  'mistral-q4-g64',
  'phi3-q4-g32',
  'gemma3_text-q4-g64',
  'granite-q4-g32',
];
const CASES: [string, number][] = [
  ['llama-f32', F32],
  ['qwen3-f32', F32],
  ['qwen3_moe-f32', F32],
  ['llama-q4', Q4],
  ['qwen3-q4', Q4],
  ['qwen3_moe-q4', Q4],
  ['qwen3-mixed', Q4],
  ['llama-sharded', F32],
  ['llama-bf16', BF16],
  ['qwen2-f32', F32],
  ['qwen2-q4', Q4],
  ['mistral-f32', F32],
  ['mistral-q4', Q4],
  ['phi3-f32', F32],
  ['phi3-q4', Q4],
  // phi3 with rope_scaling "longrope": original_max_position_embeddings 8, so the 10 input ids, the
  // 8 + 32 greedy positions and the batch tests' 40-token prefix all go past it. mlx-lm rotates
  // with long_factor at every length (short_factor is read, never used) and scales the rotated dims
  // by sqrt(1 + ln(512/8) / ln 8). Mutations checked once by hand (native/nn/rope.cpp): rotating
  // with short_factor instead fails the logits row (1.4e-1 against the 5e-6 bound) and the greedy
  // tokens; leaving out the sqrt(3) factor fails them too (4.0e-1).
  ['phi3-longrope-f32', F32],
  ['phi3-longrope-q4', Q4], // the same weights, 4 bits, group 32
  ['gemma3_text-f32', F32],
  ['gemma3_text-q4', Q4],
  // granite's four multipliers are none of them 1 in its fixture (embeddings x4, attention scale
  // 1/16, branches x0.5, logits / 2): a decoder that ignored any one of them fails the logits row.
  ['granite-f32', F32],
  ['granite-q4', Q4],
  // Each architecture's 4-bit model at its other group size (the *-q4 above are at 32 or 64).
  ...Q4_OTHER_GROUP.map((name): [string, number] => [name, Q4]),
];

describe.each(CASES)('%s matches mlx-lm', (name, tol) => {
  const dir = modelDir(name);
  const expected = readSafetensors(join(dir, 'expected.safetensors'));

  it(`logits within ${tol} of their scale`, async () => {
    using model = await loadModel(dir, { tokenizer: false, compute: 'native' });
    const ids = expected.input_ids;
    const [b, l] = ids.shape;
    const rows = Array.from({ length: b }, (_, i) => Array.from(ids.data.subarray(i * l, (i + 1) * l)));
    const out = await model.logits(rows);
    expect(out.shape).toEqual(expected.logits.shape);
    expectClose(out.data, expected.logits.data, { rel: tol, label: `model.logits[${name}]` });
  });

  it('32 greedy tokens identical', async () => {
    using model = await loadModel(dir, { tokenizer: false, compute: 'native' });
    const prompt = Array.from(expected.greedy_prompt.data);
    const g = await model.generate({ tokens: prompt }, { maxTokens: 32 });
    expect(g.tokens).toEqual(Array.from(expected.greedy_tokens.data));
  });

  it('a batch of two prompts gives the same tokens as one at a time', async () => {
    using model = await loadModel(dir, { tokenizer: false, compute: 'native' });
    const p1 = Array.from(expected.greedy_prompt.data);
    const p2 = p1.slice(3);
    const [a, b] = await model.generateBatch([{ tokens: p1 }, { tokens: p2 }], { maxTokens: 16 });
    const single2 = await model.generate({ tokens: p2 }, { maxTokens: 16 });
    expect(a.tokens).toEqual(Array.from(expected.greedy_tokens.data).slice(0, 16));
    expect(b.tokens).toEqual(single2.tokens);
  });

  it('a batch sharing a long prefix prefills it once and decodes as one at a time', async () => {
    using model = await loadModel(dir, { tokenizer: false, compute: 'native' });
    const vocab = model.config.vocab_size;
    const prefix = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % vocab);
    const prompts = [3, 9, 1].map((n, k) => [...prefix, ...Array.from({ length: n }, (_, i) => (i * 13 + k * 29 + 5) % vocab)]);
    const shared = await model.generateBatch(prompts.map((tokens) => ({ tokens })), { maxTokens: 12 });
    const unshared = await model.generateBatch(prompts.map((tokens) => ({ tokens })), { maxTokens: 12, sharePrefix: false });
    expect(shared.map((g) => g.sharedPrefixTokens)).toEqual([40, 40, 40]);
    expect(unshared[0].sharedPrefixTokens).toBe(0);
    for (let i = 0; i < prompts.length; i++) {
      const single = await model.generate({ tokens: prompts[i] }, { maxTokens: 12 });
      expect(single.sharedPrefixTokens).toBe(0);
      expect(shared[i].tokens).toEqual(single.tokens);
      expect(unshared[i].tokens).toEqual(single.tokens);
    }
  });
});

// The CPU compute policy (float32 copies of quantized / half weights) must give the stored
// weights' outputs: quantized models the same dequantized values summed in another order, bf16
// within bf16 rounding of the activations mlx-lm keeps in bf16 (ours are float32).
const F32_COMPUTE_Q4 = 5e-6; // the same values summed in another order: measured ≤ 1.5e-6 (gemma3_text-q4)
const F32_COMPUTE_BF16 = 2e-2; // bf16 rounding (2^-8 = 3.9e-3 per activation, through 2 layers): measured 9.1e-3 on every kernel
describe.each([
  ['llama-q4', F32_COMPUTE_Q4],
  ['qwen3-q4', F32_COMPUTE_Q4],
  ['qwen3_moe-q4', F32_COMPUTE_Q4],
  ['qwen3-mixed', F32_COMPUTE_Q4],
  ['llama-bf16', F32_COMPUTE_BF16],
  ['qwen2-q4', F32_COMPUTE_Q4],
  ['mistral-q4', F32_COMPUTE_Q4],
  ['phi3-q4', F32_COMPUTE_Q4],
  ['phi3-longrope-q4', F32_COMPUTE_Q4],
  ['gemma3_text-q4', F32_COMPUTE_Q4],
  ['granite-q4', F32_COMPUTE_Q4],
  ...Q4_OTHER_GROUP.map((name): [string, number] => [name, F32_COMPUTE_Q4]),
] as [string, number][])('%s: compute float32 matches native', (name, tol) => {
  it(`logits within ${tol} of their scale, same greedy tokens`, async () => {
    const dir = modelDir(name);
    const expected = readSafetensors(join(dir, 'expected.safetensors'));
    using model = await loadModel(dir, { tokenizer: false, compute: 'float32' });
    expect(model.compute.mode).toBe('float32');
    expect(model.compute.weights).toBeGreaterThan(0);
    const ids = expected.input_ids;
    const [b, l] = ids.shape;
    const rows = Array.from({ length: b }, (_, i) => Array.from(ids.data.subarray(i * l, (i + 1) * l)));
    expectClose((await model.logits(rows)).data, expected.logits.data, { rel: tol, label: `compute-f32.logits[${name}]` });
    const g = await model.generate({ tokens: Array.from(expected.greedy_prompt.data) }, { maxTokens: 32 });
    expect(g.tokens).toEqual(Array.from(expected.greedy_tokens.data));
    await model.setCompute('native');
    expect(model.compute.mode).toBe('native');
  });
});

// compute 'kernels' (what auto picks on the CPU for 4/8-bit models): our quantized kernel for calls of
// at most 32 rows (the 2 x 10 logits rows, the greedy decode), a per-call float32 weight and BLAS
// above (the same rows twice: 40). Both are the stored weights' values summed in another order; a
// wrong nibble order, group size or scale would miss by orders of magnitude.
const Q4_MODELS = [...CASES.map(([name]) => name).filter((name) => /-q4|-mixed/.test(name)), ...Q4_OTHER_GROUP];
describe.each(Q4_MODELS)('%s: compute kernels matches mlx-lm', (name) => {
  it(`logits within ${Q4} of their scale for 20 and 40 rows, same greedy tokens`, async () => {
    const dir = modelDir(name);
    const expected = readSafetensors(join(dir, 'expected.safetensors'));
    using model = await loadModel(dir, { tokenizer: false, compute: 'kernels' });
    expect(model.compute.mode).toBe('kernels');
    const ids = expected.input_ids;
    const [b, l] = ids.shape;
    const rows = Array.from({ length: b }, (_, i) => Array.from(ids.data.subarray(i * l, (i + 1) * l)));
    expect(b * l).toBeLessThanOrEqual(32);
    expectClose((await model.logits(rows)).data, expected.logits.data, { rel: Q4, label: `compute-kernels.logits[${name}]` });
    const twice = Float32Array.from([...expected.logits.data, ...expected.logits.data]);
    expectClose((await model.logits([...rows, ...rows])).data, twice, { rel: Q4, label: `compute-kernels.logits-40-rows[${name}]` });
    const g = await model.generate({ tokens: Array.from(expected.greedy_prompt.data) }, { maxTokens: 32 });
    expect(g.tokens).toEqual(Array.from(expected.greedy_tokens.data));
  });
});

// auto on the CPU: our kernels for affine 4/8-bit weights, no copies; float32 copies only for the
// weights they do not take (expert linears, half precision).
it.each([
  ['llama-q4', 0],
  ['gemma3_text-q4-g64', 0],
  ['qwen3-mixed', 1], // its 6-bit down_proj
  ['qwen3_moe-q4', 1],
])('auto on %s: kernels, float32 copies only for weights the kernels do not take', async (name, copies) => {
  using model = await loadModel(modelDir(name), { tokenizer: false });
  expect(model.compute.mode).toBe('kernels');
  expect(model.compute.extraBytes > 0).toBe(copies > 0);
  expect(model.compute.weights > 0).toBe(copies > 0);
});

it('auto gives half-precision models float32 copies', async () => {
  using model = await loadModel(modelDir('llama-bf16'), { tokenizer: false });
  expect(model.compute.mode).toBe('float32');
  expect(model.compute.extraBytes).toBeGreaterThan(0);
});

it('auto keeps float32 models native', async () => {
  using model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
  expect(model.compute).toMatchObject({ mode: 'native', extraBytes: 0 });
});
