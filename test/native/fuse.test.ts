// Fusing adapters (src/convert/fuse.ts, native/fuse.cpp) against mlx-lm's own fuse
// (test/fixtures/fuse, made by scripts/fixtures/make_fuse_fixtures.py from the adapters mlx-lm
// trained in test/fixtures/lora): LoRA on every architecture (qwen3_moe's experts included),
// float32 and 4-bit bases (each architecture's 4-bit base at group sizes 32 and 64: <arch>-q4 and
// <arch>-q4-g32/-g64, re-quantized at the base's group size as mlx_lm.fuse does), DoRA, full
// fine-tuning. Models load with compute 'native' (the stored weights,
// as mlx-lm computes).
//
// Tolerances (stated; the ratios measured over the OPENBLAS_CORETYPE kernels are in the README's
// "Parity bounds" table; every comparison goes through test/helpers/close.ts):
// - full precision (dequantize): fused logits vs base+adapter logits, relative to the largest
//   logit magnitude. Fusing only reorders float32 math (x·Wᵀ + s·(x·A)·B vs
//   x·(W + s·Bᵀ·Aᵀ)ᵀ). A fused adapter with its scale off by 1% must break this bound (the
//   "wrong scale" test at the end of the parity block).
// - re-quantized, weights: every weight of a re-quantized layer is within one quantization step
//   |scale| of its group from the exact fused weight. That is the group quantization error of
//   MLX's affine scheme: half a step inside the grid, but the grid is pinned so that the
//   larger-magnitude edge lands on a code (scale = edge / round(edge / scale0)), which can leave
//   the other edge up to one step outside, where it is clipped.
// - re-quantized, logits: a linear-response bound derived from that error. Re-quantizing moves
//   the weights by E_fused = ‖Q(W') − W'‖ (Frobenius over all quantized layers); the base
//   fixtures' own 4-bit quantization moves theirs by E_base = ‖Q(W) − W‖ and their logits by
//   L_base (rms, test/fixtures/models/*-f32 vs *-q4, same weights). We require
//   rms(fused − base+adapter) ≤ 2 · L_base · E_fused / E_base. These tiny random models amplify
//   weight errors (final norm ×16): L_base is 1.5–4.2 for logits of rms 9.5–16.6.
// - against mlx-lm's fused model (same algorithm; identical quantized weights): relative to the
//   largest logit, for the float rounding of the fixtures' BLAS on another CPU. A fused weight on
//   a rounding tie could round the other way and miss this bound by far (one 4-bit step moves
//   these models' logits by ~1e-2): the fixtures avoid the one such case found
//   (test/fixtures/fuse/README.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachAdapter, loraConfigFrom } from '../../src/model/adapters.js';
import { MlxLabError } from '../../src/core/errors.js';
import { fuse, temporaryFolders, type FuseProgress } from '../../src/convert/fuse.js';
import { loadModel, nativeHandle } from '../../src/model/model.js';
import { native } from '../../src/core/native.js';
import { fuseCommand } from '../../src/cli/fuse.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';
import { maxAbsDiff, readSafetensors } from '../helpers/safetensors.js';
import { expectBreaks, expectClose } from '../helpers/close.js';
import { SMOLLM2_GGUF, SMOLLM2_MISSING } from '../helpers/smollm2.js';
import { describeOrSkip } from '../helpers/skip.js';

const FUSE = join(FIXTURES, 'fuse');
interface Case {
  model: string;
  adapter: string;
  adapter_config: { fine_tune_type: string; num_layers: number; lora_parameters: Record<string, number> };
  requant_options: { bits?: number; group_size?: number };
  quantization: Record<string, unknown> | null;
}
const FIXTURE = JSON.parse(readFileSync(join(FUSE, 'cases.json'), 'utf8')) as {
  cases: Record<string, Case>;
  mlx_lm_mismatch_errors: Record<string, string>;
};
const CASES = Object.keys(FIXTURE.cases);

// Bounds on max|Δ logits| / max|logit| (test/helpers/close.ts), each ≥ 3× the largest ratio over
// 5 OpenBLAS kernels (scripts/kernel-spread.mjs; README, "Parity bounds"), rounded up to 1/2/5.
const BOUND = {
  fusedVsAdapter: 2e-5, // measured ≤ 4.1e-6 (llama-q4, Prescott)
  fusedVsMlxLm: 2e-5, // full precision ≤ 5.5e-6 (gemma3_text-q4-g64, SkylakeX); re-quantized ≤ 4.0e-6 (phi3-longrope-q4, Haswell)
  computeF32: 5e-6, // float32 compute copies vs mlx-lm's quantized kernels: measured ≤ 4.8e-7
};
const MUTANT_FACTOR = 100; // a 1% scale misses fusedVsAdapter by 2500×

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-fuse-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** An adapter folder (adapters.safetensors + adapter_config.json) for a fixture case. */
function adapterFolder(name: string, config?: Case['adapter_config']): string {
  const c = FIXTURE.cases[name];
  const dir = join(tmp, 'adapters', name + (config ? '-custom' : ''));
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(FIXTURES, c.adapter), join(dir, 'adapters.safetensors'));
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config ?? c.adapter_config));
  return dir;
}

function inputRows(name: string): number[][] {
  const ids = readSafetensors(join(FUSE, name, 'expected.safetensors')).input_ids;
  const [b, l] = ids.shape;
  return Array.from({ length: b }, (_, r) => Array.from(ids.data.slice(r * l, (r + 1) * l)));
}

async function folderLogits(dir: string, rows: number[][]): Promise<Float32Array> {
  const m = await loadModel(dir, { tokenizer: false, compute: 'native' });
  try {
    return (await m.logits(rows)).data;
  } finally {
    m.dispose();
  }
}

async function adapterLogits(model: string, adapter: string, rows: number[][]): Promise<Float32Array> {
  const m = await loadModel(model, { tokenizer: false, compute: 'native' });
  try {
    const a = await attachAdapter(m, adapter);
    const out = (await m.logits(rows)).data;
    await a.detach();
    return out;
  } finally {
    m.dispose();
  }
}

const rms = (a: ArrayLike<number>, b?: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - (b ? b[i] : 0)) ** 2;
  return Math.sqrt(s / a.length);
};

// ---- a safetensors reader with packed (U32) weights, and MLX's affine dequantization

interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Buffer;
}

function readRaw(file: string): Record<string, RawTensor> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out: Record<string, RawTensor> = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out[name] = { dtype: t.dtype, shape: t.shape, bytes: buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]) };
  }
  return out;
}

function metadataOf(file: string): Record<string, string> {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(8);
  readSync(fd, head, 0, 8, 0);
  const n = Number(head.readBigUInt64LE(0));
  const json = Buffer.alloc(n);
  readSync(fd, json, 0, n, 8);
  closeSync(fd);
  return (JSON.parse(json.toString('utf8')).__metadata__ ?? {}) as Record<string, string>;
}

/** Every tensor of a model folder (through its index). */
function readFolder(dir: string): Record<string, RawTensor> {
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
  const out: Record<string, RawTensor> = {};
  for (const file of new Set(Object.values(index.weight_map))) Object.assign(out, readRaw(join(dir, file)));
  return out;
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function floats(t: RawTensor): Float32Array {
  const copy = new Uint8Array(t.bytes).buffer;
  if (t.dtype === 'F32') return new Float32Array(copy);
  if (t.dtype === 'F16') return Float32Array.from(new Uint16Array(copy), half);
  if (t.dtype === 'BF16') return new Float32Array(new Uint32Array(Array.from(new Uint16Array(copy), (x) => x << 16)).buffer);
  throw new Error(`not a float tensor: ${t.dtype}`);
}

/** A quantized module's weight as floats, with the scale of each weight's group. */
function dequantize(w: RawTensor, scales: RawTensor, biases: RawTensor, inDims: number): { values: Float32Array; step: Float32Array } {
  const s = floats(scales);
  const b = floats(biases);
  const groups = scales.shape.at(-1)!;
  const rows = s.length / groups;
  const packedPerRow = w.shape.at(-1)!;
  // As mlx-lm infers it: group size = input dims / groups, bits = packed bits per row / input dims.
  const qbits = (packedPerRow * 32) / inDims;
  const groupSize = inDims / groups;
  if (!Number.isInteger(qbits) || !Number.isInteger(groupSize)) throw new Error('cannot infer the quantization');
  const dims = inDims;
  const values = new Float32Array(rows * dims);
  const step = new Float32Array(rows * dims);
  const bytes = w.bytes;
  const rowBytes = packedPerRow * 4;
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < dims; i++) {
      const bit = i * qbits;
      let q = 0;
      for (let k = 0; k < qbits; k++) {
        const at = bit + k;
        q |= ((bytes[r * rowBytes + (at >> 3)] >> (at & 7)) & 1) << k;
      }
      const g = r * groups + Math.floor(i / groupSize);
      values[r * dims + i] = q * s[g] + b[g];
      step[r * dims + i] = Math.abs(s[g]);
    }
  }
  return { values, step };
}

/** The weight of a module as floats, whether stored quantized or not. */
function denseWeight(t: Record<string, RawTensor>, module: string, inDims: number): Float32Array {
  const w = t[`${module}.weight`];
  return t[`${module}.scales`] ? dequantize(w, t[`${module}.scales`], t[`${module}.biases`], inDims).values : floats(w);
}

/** Input dims of a module: from whichever folder stores it unquantized, else from the config. */
function inputDims(a: Record<string, RawTensor>, b: Record<string, RawTensor>, module: string, hint: number): number {
  for (const t of [a, b]) if (!t[`${module}.scales`]) return t[`${module}.weight`].shape.at(-1)!;
  return hint;
}

/** ‖Q(W) − W‖² summed over the quantized modules of `quantized`, W from `exact`. */
function quantizationError(quantized: Record<string, RawTensor>, exact: Record<string, RawTensor>, check = false): number {
  let sum = 0;
  for (const name of Object.keys(quantized)) {
    if (!name.endsWith('.scales')) continue;
    const module = name.slice(0, -'.scales'.length);
    const inDims = inputDims(exact, quantized, module, 0);
    const { values, step } = dequantize(quantized[`${module}.weight`], quantized[name], quantized[`${module}.biases`], inDims);
    const w = denseWeight(exact, module, inDims);
    expect(w.length, module).toBe(values.length);
    for (let i = 0; i < w.length; i++) {
      const e = values[i] - w[i];
      if (check && Math.abs(e) > step[i] + 1e-6 * Math.abs(w[i]) + 1e-7) {
        throw new Error(`${module}[${i}]: |Q(w) - w| = ${Math.abs(e)} > one step ${step[i]}`);
      }
      sum += e * e;
    }
  }
  return sum;
}

/**
 * L_base and E_base² of an architecture from the base fixtures (*-f32 vs the 4-bit base, same
 * weights): the case's own base when it is 4-bit (*-q4, *-q4-g32, *-q4-g64), else *-q4.
 */
function baseQuantization(model: string): { logitsRms: number; weightError2: number } {
  const arch = model.replace(/-(f32|q4(-g\d+)?)$/, '');
  const q4 = model.endsWith('-f32') ? `${arch}-q4` : model;
  const f = readSafetensors(join(modelDir(`${arch}-f32`), 'expected.safetensors')).logits.data;
  const q = readSafetensors(join(modelDir(q4), 'expected.safetensors')).logits.data;
  return {
    logitsRms: rms(f, q),
    weightError2: quantizationError(readFolder(modelDir(q4)), readFolder(modelDir(`${arch}-f32`))),
  };
}

function readConfig(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}

async function expectRejects(p: Promise<unknown>, code: string, ...parts: (string | RegExp)[]): Promise<MlxLabError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an error').toBeInstanceOf(MlxLabError);
  const e = caught as MlxLabError;
  expect(e.code).toBe(code);
  for (const part of parts) expect(e.message).toMatch(part);
  return e;
}

// ---- parity

describe.each(CASES)('fuse %s', (name) => {
  const c = FIXTURE.cases[name];
  const expected = () => readSafetensors(join(FUSE, name, 'expected.safetensors'));
  let adapter: string;
  let rows: number[][];
  let withAdapter: Float32Array;
  beforeAll(async () => {
    adapter = adapterFolder(name);
    rows = inputRows(name);
    withAdapter = await adapterLogits(modelDir(c.model), adapter, rows);
  });
  const fullDir = () => join(tmp, 'out', name, 'full');

  it('full precision (dequantize): equals base+adapter and mlx-lm fused', async () => {
    const progress: FuseProgress[] = [];
    const r = await fuse({ model: modelDir(c.model), adapter, out: fullDir(), dequantize: true, onProgress: (p) => progress.push(p) });
    const config = readConfig(fullDir());
    expect(config.quantization).toBeUndefined();
    expect(config.quantization_config).toBeUndefined();
    expect(r.quantization).toBeUndefined();
    const tensors = readFolder(fullDir());
    expect(Object.keys(tensors).filter((k) => k.endsWith('.scales'))).toEqual([]);
    expect(Object.values(tensors).every((t) => t.dtype === 'F32')).toBe(true);
    if (c.adapter_config.fine_tune_type !== 'full') expect(r.layers.fused).toBeGreaterThan(0);
    expect(progress.some((p) => p.stage === 'save')).toBe(true);
    expect(progress.at(-1)?.stage).toBe('done');

    const got = await folderLogits(fullDir(), rows);
    expectClose(got, withAdapter, { rel: BOUND.fusedVsAdapter, label: `fuse.full-vs-adapter[${name}]` });
    expectClose(got, expected().logits_full.data, { rel: BOUND.fusedVsMlxLm, label: `fuse.full-vs-mlx-lm[${name}]` });
  });

  it('re-quantized: within the group quantization error, equals mlx-lm fused', async () => {
    const out = join(tmp, 'out', name, 'requant');
    const o = c.requant_options;
    const r = await fuse({ model: modelDir(c.model), adapter, out, bits: o.bits, groupSize: o.group_size });
    const config = readConfig(out);
    expect(config.quantization).toEqual(c.quantization);
    expect(config.quantization_config).toEqual(c.quantization);
    expect(r.layers.requantized + r.layers.quantized).toBeGreaterThan(0);

    // Weight by weight: within one step of the exact fused weight.
    const quantized = readFolder(out);
    const exact = readFolder(fullDir());
    const eFused2 = quantizationError(quantized, exact, true);

    const got = await folderLogits(out, rows);
    expectClose(got, expected().logits_requant.data, { rel: BOUND.fusedVsMlxLm, label: `fuse.requant-vs-mlx-lm[${name}]` });

    // Logits: the linear-response bound.
    const base = baseQuantization(c.model);
    const predicted = (base.logitsRms * Math.sqrt(eFused2)) / Math.sqrt(base.weightError2);
    const actual = rms(got, withAdapter);
    console.log(
      `${name} requant: rms(fused - base+adapter) ${actual.toFixed(3)}, predicted ${predicted.toFixed(3)} ` +
        `(ratio ${(actual / predicted).toFixed(2)}, bound 2), max ${maxAbsDiff(got, withAdapter).toFixed(2)}`,
    );
    expect(actual).toBeLessThanOrEqual(2 * predicted);
  });
});

// A fused adapter whose scale is off by 1% (the defect the full-precision bound must catch).
describe.each(['llama-f32', 'llama-q4'])('fuse %s with a wrong scale', (name) => {
  it('breaks the fused-vs-adapter bound', async () => {
    const c = FIXTURE.cases[name];
    const rows = inputRows(name);
    const withAdapter = await adapterLogits(modelDir(c.model), adapterFolder(name), rows);
    const scale = c.adapter_config.lora_parameters.scale;
    const wrong = adapterFolder(name, { ...c.adapter_config, lora_parameters: { ...c.adapter_config.lora_parameters, scale: scale * 1.01 } });
    const out = join(tmp, 'out', name, 'wrong-scale');
    await fuse({ model: modelDir(c.model), adapter: wrong, out, dequantize: true });
    const got = await folderLogits(out, rows);
    expectBreaks(got, withAdapter, { rel: BOUND.fusedVsAdapter, factor: MUTANT_FACTOR, label: `mutant.fuse-scale-1pct.full-vs-adapter[${name}]` });
  });
});

// ---- layout, options, errors

describe('fuse: folder layout and options', () => {
  it('writes what mlx-lm writes: config, index, shards with {"format": "mlx"}, tokenizer files copied', async () => {
    // tiny-chat has the llama fixtures' dims and a tokenizer with a chat template.
    const adapter = adapterFolder('llama-f32');
    const out = join(tmp, 'layout');
    const r = await fuse({ model: modelDir('tiny-chat'), adapter, out });
    const files = readdirSync(out).sort();
    expect(files).toEqual(['config.json', 'model.safetensors', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(readFileSync(join(out, 'tokenizer.json'))).toEqual(readFileSync(join(modelDir('tiny-chat'), 'tokenizer.json')));
    expect(readFileSync(join(out, 'tokenizer_config.json'))).toEqual(readFileSync(join(modelDir('tiny-chat'), 'tokenizer_config.json')));
    expect(metadataOf(join(out, 'model.safetensors'))).toEqual({ format: 'mlx' });
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
    const names = Object.keys(index.weight_map);
    expect(names).toEqual([...names].sort());
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(['model.safetensors']));
    expect(index.metadata.total_size).toBe(r.totalSize);
    const src = JSON.parse(readFileSync(join(modelDir('tiny-chat'), 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_parameters).toBe(src.metadata.total_parameters);
    // config.json: the base's keys, sorted, 4-space indent, no quantization for a float base.
    const text = readFileSync(join(out, 'config.json'), 'utf8');
    const config = JSON.parse(text);
    expect(Object.keys(config)).toEqual(Object.keys(config).sort());
    expect(text).toContain('\n    "model_type": "llama"');
    expect(config.eos_token_id).toBe(258);
    // The fused model has the tokenizer and template.
    const m = await loadModel(out);
    expect(m.template).toBeDefined();
    m.dispose();
  });

  it('shards like mlx-lm make_shards (model-0000N-of-0000M) and loads back the same', async () => {
    const adapter = adapterFolder('qwen3_moe-q4');
    const one = join(tmp, 'shards-one');
    const many = join(tmp, 'shards-many');
    await fuse({ model: modelDir('qwen3_moe-q4'), adapter, out: one });
    const progress: FuseProgress[] = [];
    const r = await fuse({ model: modelDir('qwen3_moe-q4'), adapter, out: many, maxShardBytes: 20_000, onProgress: (p) => progress.push(p) });
    expect(r.files.length).toBeGreaterThan(2);
    r.files.forEach((f, i) => expect(f).toBe(`model-${String(i + 1).padStart(5, '0')}-of-${String(r.files.length).padStart(5, '0')}.safetensors`));
    expect(progress.filter((p) => p.stage === 'save').map((p) => p.done)).toEqual(r.files.map((_, i) => i + 1));
    expect(progress.filter((p) => p.stage === 'fuse').length).toBe(r.layers.fused);
    // No shard passes the limit unless it holds a single tensor.
    for (const f of r.files) {
      const t = readRaw(join(many, f));
      const bytes = Object.values(t).reduce((s, x) => s + x.bytes.length, 0);
      if (Object.keys(t).length > 1) expect(bytes).toBeLessThanOrEqual(20_000);
    }
    const a = readFolder(one);
    const b = readFolder(many);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a)) expect(b[k].bytes.equals(a[k].bytes), k).toBe(true);
    const rows = inputRows('qwen3_moe-q4');
    expect(maxAbsDiff(await folderLogits(many, rows), await folderLogits(one, rows))).toBe(0);
  });

  it('uses the stored weights, not the float32 compute copies; layers without an adapter stay as stored', async () => {
    const adapter = adapterFolder('llama-q4');
    const fromPath = join(tmp, 'stored-path');
    const fromModel = join(tmp, 'stored-model');
    await fuse({ model: modelDir('llama-q4'), adapter, out: fromPath });
    const m = await loadModel(modelDir('llama-q4'), { tokenizer: false, compute: 'float32' });
    expect(m.compute.mode).toBe('float32');
    const r = await fuse({ model: m, adapter, out: fromModel });
    // The model is usable afterwards, without the adapter.
    const rows = inputRows('llama-q4');
    const baseLogits = readSafetensors(join(modelDir('llama-q4'), 'expected.safetensors')).logits.data;
    expectClose((await m.logits(rows)).data, baseLogits, { rel: BOUND.computeF32, label: 'fuse.float32-model-after-fuse[llama-q4]' });
    m.dispose();
    const a = readFolder(fromPath);
    const b = readFolder(fromModel);
    for (const k of Object.keys(a)) expect(b[k].bytes.equals(a[k].bytes), k).toBe(true);
    // embed_tokens and lm_head have no adapter: byte for byte the base's.
    expect(r.layers.kept).toBe(2);
    const src = readFolder(modelDir('llama-q4'));
    for (const k of ['model.embed_tokens.weight', 'model.embed_tokens.scales', 'lm_head.weight', 'lm_head.biases']) {
      expect(a[k].bytes.equals(src[k].bytes), k).toBe(true);
    }
  });

  it('re-quantizes to chosen bits / group size; per-layer specs of the base stay', async () => {
    const adapter = adapterFolder('qwen3_moe-q4');
    const out = join(tmp, 'bits5');
    const r = await fuse({ model: modelDir('qwen3_moe-q4'), adapter, out, bits: 5 });
    // Layers without an adapter (the embedding, the head) keep their 4 bits: on a coarser grid of
    // the same groups, re-quantizing them to 5 bits could only move their values.
    expect(r.quantization).toEqual({
      group_size: 32,
      bits: 5,
      mode: 'affine',
      'model.layers.1.mlp.gate': { group_size: 64, bits: 8 },
      'model.embed_tokens': { group_size: 32, bits: 4 },
      lm_head: { group_size: 32, bits: 4 },
    });
    const t = readFolder(out);
    // 5 bits of 64 inputs = 10 uint32 per row; the router keeps 8 bits, group 64.
    expect(t['model.layers.0.self_attn.q_proj.weight'].shape).toEqual([64, 10]);
    expect(t['model.layers.1.mlp.switch_mlp.up_proj.weight'].shape).toEqual([4, 32, 10]);
    expect(t['model.layers.1.mlp.gate.weight'].shape).toEqual([4, 16]);
    const base = readFolder(modelDir('qwen3_moe-q4'));
    for (const k of ['model.embed_tokens.weight', 'model.embed_tokens.scales', 'lm_head.weight', 'lm_head.scales']) {
      expect(t[k].bytes.equals(base[k].bytes), k).toBe(true);
    }
    quantizationError(t, readFolder(join(tmp, 'out', 'qwen3_moe-q4', 'full')), true);
    const exact = await folderLogits(join(tmp, 'out', 'qwen3_moe-q4', 'full'), inputRows('qwen3_moe-q4'));
    const got = await folderLogits(out, inputRows('qwen3_moe-q4'));
    // 5 bits: closer to the exact fused model than 4 bits.
    const four = await folderLogits(join(tmp, 'out', 'qwen3_moe-q4', 'requant'), inputRows('qwen3_moe-q4'));
    expect(rms(got, exact)).toBeLessThan(rms(four, exact));

    // Without bits: the base's quantization block as it was written (mlx_lm.fuse keeps config.json's).
    await fuse({ model: modelDir('qwen3-mixed'), adapter: adapterFolder('qwen3-q4'), out: join(tmp, 'mixed') });
    expect(readConfig(join(tmp, 'mixed')).quantization).toEqual(readConfig(modelDir('qwen3-mixed')).quantization);
    expect(readConfig(join(tmp, 'mixed')).quantization_config).toEqual(readConfig(modelDir('qwen3-mixed')).quantization);
    const mixedResult = await fuse({ model: modelDir('qwen3-mixed'), adapter: adapterFolder('qwen3-q4'), out: join(tmp, 'mixed8'), bits: 8 });
    // qwen3-mixed: its default layers become 8 bits (group 32), its own per-layer specs stay,
    // the layer it left in full precision stays so.
    expect(mixedResult.quantization).toMatchObject({ group_size: 32, bits: 8, 'model.layers.1.mlp.down_proj': { group_size: 64, bits: 6 } });
    const mixed = readFolder(join(tmp, 'mixed8'));
    expect(mixed['model.layers.1.self_attn.o_proj.weight'].dtype).toBe('F32');
    expect(mixed['model.layers.1.self_attn.o_proj.scales']).toBeUndefined();
    expect(await folderLogits(join(tmp, 'mixed8'), inputRows('qwen3-q4'))).toHaveLength(2 * 10 * 256);
  });

  it('the CLI: mlx-lab fuse --model --adapter-path --save-path [--de-quantize] [--bits] [--group-size] [--force]', async () => {
    const adapter = adapterFolder('llama-q4');
    const out = join(tmp, 'cli');
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      await fuseCommand().parseAsync(['--model', modelDir('llama-q4'), '--adapter-path', adapter, '--save-path', out, '--de-quantize'], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    expect(lines.join('')).toMatch(/fused 14 layers/);
    expect(readConfig(out).quantization).toBeUndefined();
    await expectRejects(
      fuseCommand().exitOverride().parseAsync(['--model', modelDir('llama-q4'), '--adapter-path', adapter, '--save-path', out], { from: 'user' }),
      'E_ARGUMENT',
      'already exists',
      '--force',
    );
  });
});

describe('fuse: bad input', () => {
  it('an adapter for another base: shapes differ', async () => {
    const adapter = adapterFolder('llama-f32');
    const out = join(tmp, 'bad-shape');
    const e = await expectRejects(
      fuse({ model: join(FUSE, 'llama-h32'), adapter, out }),
      'E_WEIGHTS',
      `fusing ${adapter} into ${join(FUSE, 'llama-h32')}`,
      /"model\.layers\.\d\.[a-z_.]+\.lora_a" has shape \[(64|128),8\], the adapter expects \[(32|64),8\] \(rank 8\)/,
    );
    expect(FIXTURE.mlx_lm_mismatch_errors['llama-f32 adapter on llama-h32']).toMatch(/adapter shape \(64, 8\) does not match model parameter shape \(32, 8\)/);
    void e;
    expect(existsSync(out)).toBe(false);
    expect(temporaryFolders(out)).toEqual([]);
  });

  it('an adapter for another base: layers differ', async () => {
    // llama's dense MLP adapters on qwen3_moe, whose block 1 is sparse.
    await expectRejects(
      fuse({ model: modelDir('qwen3_moe-f32'), adapter: adapterFolder('llama-f32'), out: join(tmp, 'bad-layers') }),
      'E_WEIGHTS',
      /"model\.layers\.1\.mlp\.(down|gate|up)_proj\.lora_[ab]" is not an adapter parameter of this model \(the model has no layer "model\.layers\.1\.mlp\.(down|gate|up)_proj"\)/,
    );
    // More layers than the model has.
    const c = FIXTURE.cases['llama-f32'].adapter_config;
    await expectRejects(
      fuse({ model: modelDir('llama-f32'), adapter: adapterFolder('llama-f32', { ...c, num_layers: 4 }), out: join(tmp, 'bad-count') }),
      'E_CONFIG',
      'num_layers=4 but the model only has 2 layers',
    );
    // Another rank than the file holds.
    await expectRejects(
      fuse({ model: modelDir('llama-f32'), adapter: adapterFolder('llama-f32', { ...c, lora_parameters: { ...c.lora_parameters, rank: 4 } }), out: join(tmp, 'bad-rank') }),
      'E_WEIGHTS',
      /has shape \[\d+,8\], the adapter expects \[\d+,4\] \(rank 4\)/,
    );
    expect(temporaryFolders(join(tmp, 'bad-layers'))).toEqual([]);
  });

  it('unsupported bits or group size', async () => {
    const adapter = adapterFolder('llama-q4');
    const out = join(tmp, 'bad-bits');
    await expectRejects(fuse({ model: modelDir('llama-q4'), adapter, out, bits: 7 }), 'E_ARGUMENT', 'bits 7 is not supported (choose one of 2, 3, 4, 5, 6, 8)');
    await expectRejects(fuse({ model: modelDir('llama-q4'), adapter, out, groupSize: 16 }), 'E_ARGUMENT', 'group size 16 is not supported (choose one of 32, 64, 128)');
    await expectRejects(fuse({ model: modelDir('llama-q4'), adapter, out, bits: 4, dequantize: true }), 'E_ARGUMENT', 'dequantize');
    // The native layer checks too.
    const m = await loadModel(modelDir('llama-q4'), { tokenizer: false, compute: 'native' });
    try {
      expect(() => native().fuseModel(nativeHandle(m), { adapterFile: join(adapter, 'adapters.safetensors'), lora: {}, outDir: tmp, bits: 1 })).toThrow(
        /bits 1 is not supported \(choose one of 2, 3, 4, 5, 6, 8\)/,
      );
      expect(() => native().fuseModel(nativeHandle(m), { adapterFile: join(adapter, 'adapters.safetensors'), lora: {}, outDir: tmp, groupSize: 48 })).toThrow(
        /group size 48 is not supported \(choose one of 32, 64, 128\)/,
      );
    } finally {
      m.dispose();
    }
    expect(existsSync(out)).toBe(false);
  });

  it('a model that already has an adapter attached; a failure while writing leaves nothing behind', async () => {
    const adapter = adapterFolder('llama-f32');
    const m = await loadModel(modelDir('llama-f32'), { tokenizer: false, compute: 'native' });
    const attached = await attachAdapter(m, adapter);
    try {
      await expectRejects(fuse({ model: m, adapter, out: join(tmp, 'attached') }), 'E_CONFIG', 'already has an adapter attached (detach it first)');
    } finally {
      await attached.detach();
      m.dispose();
    }
    const out = join(tmp, 'fails-late');
    await expectRejects(fuse({ model: modelDir('llama-f32'), adapter, out, maxShardBytes: 0 }), 'E_ARGUMENT', 'maxShardBytes');
    expect(existsSync(out)).toBe(false);
    expect(temporaryFolders(out)).toEqual([]);
  });

  it('interrupted: a cancelled control stops the native job at the next layer; nothing is written, an existing target stays', async () => {
    const adapter = adapterFolder('llama-f32');
    const m = await loadModel(modelDir('llama-f32'), { tokenizer: false, compute: 'native' });
    try {
      const control = new (native().NativeControl)();
      control.cancel();
      const progress: string[] = [];
      const dir = join(tmp, 'cancelled-native');
      mkdirSync(dir);
      const lora = loraConfigFrom(join(adapter, 'adapter_config.json'));
      await expectRejects(
        native().fuseModel(nativeHandle(m), { adapterFile: join(adapter, 'adapters.safetensors'), lora, outDir: dir }, (p) => progress.push(p.stage), control),
        'E_ABORTED',
        'cancelled',
      );
      expect(readdirSync(dir)).toEqual([]); // stopped before the first shard
      expect(progress.filter((s) => s === 'save')).toEqual([]);
    } finally {
      m.dispose();
    }
    // Through fuse(): aborted at the first layer's progress; the existing target is left as it
    // was, and the temporary folder of an earlier, killed fuse into it is removed.
    const out = join(tmp, 'interrupted');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
    mkdirSync(join(tmp, `.interrupted.tmp-${deadPid}-abc123`));
    const controller = new AbortController();
    await expectRejects(
      fuse({ model: modelDir('llama-f32'), adapter, out, force: true, signal: controller.signal, onProgress: (p) => p.stage === 'fuse' && controller.abort(new Error('SIGINT')) }),
      'E_ABORTED',
      `${out}: not written, interrupted (SIGINT)`,
    );
    expect(readdirSync(out)).toEqual(['keep.txt']);
    expect(temporaryFolders(out)).toEqual([]);
  });

  it('a target that exists: refused unless force, then replaced whole', async () => {
    const adapter = adapterFolder('llama-f32');
    const out = join(tmp, 'exists');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    await expectRejects(fuse({ model: modelDir('llama-f32'), adapter, out }), 'E_ARGUMENT', `${out} already exists (pass force / --force to replace it)`);
    expect(readFileSync(join(out, 'keep.txt'), 'utf8')).toBe('mine');
    await fuse({ model: modelDir('llama-f32'), adapter, out, force: true });
    expect(existsSync(join(out, 'keep.txt'))).toBe(false);
    expect(existsSync(join(out, 'config.json'))).toBe(true);
    expect(temporaryFolders(out)).toEqual([]);
    // An output folder that would swallow an input is refused even with force.
    await expectRejects(fuse({ model: modelDir('llama-f32'), adapter, out: adapter, force: true }), 'E_ARGUMENT', 'would replace an input');
  });
});

// ---- the demo's path: SmolLM2 (GGUF) + an adapter -> 5 bits

describeOrSkip(SMOLLM2_MISSING, 'fuse: SmolLM2 GGUF to 5 bits', () => {
  it('fuses into a loaded GGUF model, writes its tokenizer and template, and the result answers', async () => {
    const m = await loadModel(SMOLLM2_GGUF);
    const adapter = join(tmp, 'smollm2-adapter');
    mkdirSync(adapter, { recursive: true });
    // A fresh LoRA adapter (lora_b = 0): the fused model is the base re-quantized to 5 bits.
    const trainer = await native().NativeTrainer.create(nativeHandle(m), { lora: { rank: 8, scale: 20, numLayers: 8 }, seed: 42 });
    await trainer.saveAdapter(join(adapter, 'adapters.safetensors'));
    await trainer.detach();
    trainer.dispose();
    writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ fine_tune_type: 'lora', num_layers: 8, lora_parameters: { rank: 8, scale: 20, dropout: 0 } }));
    const out = join(tmp, 'smollm2-5bit');
    const start = performance.now();
    const r = await fuse({ model: m, adapter, out, bits: 5 });
    console.log(`SmolLM2 fuse to 5 bits: ${((performance.now() - start) / 1000).toFixed(1)} s`);
    m.dispose();
    // The 56 adapted layers become 5 bits; the 154 other 4-bit layers stay as stored (exact).
    expect(r.layers).toMatchObject({ fused: 56, requantized: 56, kept: 155 });
    expect(r.quantization).toMatchObject({
      group_size: 32,
      bits: 5,
      mode: 'affine',
      'model.embed_tokens': { group_size: 32, bits: 8 },
      'model.layers.0.self_attn.q_proj': { group_size: 32, bits: 4 },
    });
    expect(r.quantization['model.layers.29.self_attn.q_proj']).toBeUndefined();
    expect(r.tokenizerFiles).toEqual(['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']);
    const fused = await loadModel(out);
    try {
      expect(fused.template).toBeDefined();
      const g = await fused.generate([{ role: 'user', content: 'What is the capital of France?' }], { maxTokens: 24 });
      expect(g.text).toMatch(/Paris/);
    } finally {
      fused.dispose();
    }
  });
});
