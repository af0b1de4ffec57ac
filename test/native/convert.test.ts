// Converting models (src/convert/convert.ts): float32 tiny models to 4-bit folders as mlx_lm.convert -q
// makes them (test/fixtures/models/*-q4 were made by mlx-lm's quantize_model from the same
// weights), 4-bit to full precision, SmolLM2's GGUF to an MLX folder with its tokenizer and chat
// template (same greedy tokens as the GGUF loaded directly, and as mlx-lm on its own conversion:
// test/fixtures/smollm2/greedy.json), and GGUF files convert refuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlxLabError } from '../../src/core/errors.js';
import { convert, readGgufHeader } from '../../src/convert/convert.js';
import { temporaryFolders } from '../../src/convert/fuse.js';
import { loadModel } from '../../src/model/model.js';
import { convertCommand } from '../../src/cli/convert.js';
import type { ChatMessage } from '../../src/model/chat.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';
import { readSafetensors } from '../helpers/safetensors.js';
import { expectClose } from '../helpers/close.js';
import { SMOLLM2_GGUF, SMOLLM2_MISSING } from '../helpers/smollm2.js';
import { describeOrSkip } from '../helpers/skip.js';

// Bound on max|Δ logits| / max|logit| against the fixtures' (test/helpers/close.ts): identical weights, another BLAS kernel.
const LOGITS = 5e-6; // ≥ 3× the largest over 5 OpenBLAS kernels: measured ≤ 7.5e-7 (gemma3_text, Prescott)

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-convert-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

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

/** Tensor bytes of a model folder's shards, by name. */
function tensors(dir: string): Record<string, { dtype: string; shape: number[]; bytes: Buffer }> {
  const out: Record<string, { dtype: string; shape: number[]; bytes: Buffer }> = {};
  for (const f of readdirSync(dir).filter((n) => /^model.*\.safetensors$/.test(n))) {
    const buf = readFileSync(join(dir, f));
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    for (const [name, t] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      out[name] = { dtype: t.dtype, shape: t.shape, bytes: buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]) };
    }
  }
  return out;
}

function rows(model: string): number[][] {
  const ids = readSafetensors(join(modelDir(model), 'expected.safetensors')).input_ids;
  const [b, l] = ids.shape;
  return Array.from({ length: b }, (_, r) => Array.from(ids.data.slice(r * l, (r + 1) * l)));
}

async function logits(dir: string, input: number[][]): Promise<Float32Array> {
  const m = await loadModel(dir, { tokenizer: false, compute: 'native' });
  try {
    return (await m.logits(input)).data;
  } finally {
    m.dispose();
  }
}

const config = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;

describe('convert: safetensors folders', () => {
  // mlx-lm made the *-q4 fixtures from the *-f32 weights: llama, mistral, gemma3_text and qwen3_moe
  // with group size 32, qwen3, qwen2, phi3 and granite with 64 (the default), and each architecture's
  // *-q4-g32 / *-q4-g64 at the other group size; qwen3_moe's router, and granite's o_proj,
  // down_proj and lm_head, at 8 bits / group 64 by their quant_predicate.
  it.each([
    ['llama', 'llama-q4', 32],
    ['llama', 'llama-q4-g64', 64],
    ['qwen3', 'qwen3-q4', 64],
    ['qwen3', 'qwen3-q4-g32', 32],
    ['qwen3_moe', 'qwen3_moe-q4', 32],
    ['qwen3_moe', 'qwen3_moe-q4-g64', 64],
    ['qwen2', 'qwen2-q4', 64],
    ['qwen2', 'qwen2-q4-g32', 32],
    ['mistral', 'mistral-q4', 32],
    ['mistral', 'mistral-q4-g64', 64],
    ['phi3', 'phi3-q4', 64],
    ['phi3', 'phi3-q4-g32', 32],
    ['gemma3_text', 'gemma3_text-q4', 32],
    ['gemma3_text', 'gemma3_text-q4-g64', 64],
    ['granite', 'granite-q4', 64],
    ['granite', 'granite-q4-g32', 32],
  ] as const)('%s float32 -> 4 bits is what mlx_lm.convert -q writes (%s, group %i)', async (arch, name, groupSize) => {
    const out = join(tmp, name);
    const r = await convert({ input: modelDir(`${arch}-f32`), out, quantize: true, groupSize: groupSize === 64 ? undefined : groupSize });
    const ref = modelDir(name);
    expect(config(ref).quantization).toMatchObject({ group_size: groupSize, bits: 4 });
    expect(config(out).quantization).toEqual(config(ref).quantization);
    expect(config(out).quantization_config).toEqual(config(ref).quantization);
    // Every tensor byte for byte as mlx-lm quantized it.
    const a = tensors(out);
    const b = tensors(ref);
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(b)) expect(a[k].bytes.equals(b[k].bytes), k).toBe(true);
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
    const refIndex = JSON.parse(readFileSync(join(ref, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata).toEqual(refIndex.metadata);
    expect(r.layers.quantized).toBeGreaterThan(0);
    const expected = readSafetensors(join(ref, 'expected.safetensors')).logits.data;
    expectClose(await logits(out, rows(name)), expected, { rel: LOGITS, label: `convert.quantized-logits[${name}]` });
  });

  it('4 bits -> full precision (dequantize): the same model', async () => {
    const out = join(tmp, 'qwen3_moe-deq');
    const r = await convert({ input: modelDir('qwen3_moe-q4'), out, dequantize: true });
    expect(config(out).quantization).toBeUndefined();
    expect(r.layers.dequantized).toBe(17);
    expect(Object.keys(tensors(out)).some((k) => k.endsWith('.scales'))).toBe(false);
    const expected = readSafetensors(join(modelDir('qwen3_moe-q4'), 'expected.safetensors')).logits.data;
    expectClose(await logits(out, rows('qwen3_moe-q4')), expected, { rel: LOGITS, label: 'convert.dequantized-logits[qwen3_moe-q4]' });
  });

  it('casts with dtype (mlx_lm.convert --dtype) and keeps a quantized model as it is without -q', async () => {
    const out = join(tmp, 'llama-bf16');
    await convert({ input: modelDir('llama-f32'), out, dtype: 'bfloat16' });
    const t = tensors(out);
    expect(new Set(Object.values(t).map((x) => x.dtype))).toEqual(new Set(['BF16']));
    const same = join(tmp, 'llama-q4-copy');
    const r = await convert({ input: modelDir('llama-q4'), out: same });
    expect(r.layers.kept).toBe(16);
    const a = tensors(same);
    const b = tensors(modelDir('llama-q4'));
    for (const k of Object.keys(b)) expect(a[k].bytes.equals(b[k].bytes), k).toBe(true);
  });

  it('the CLI: mlx-lab convert --model --mlx-path -q --q-bits --q-group-size [--force]', async () => {
    const out = join(tmp, 'cli-q8');
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      await convertCommand().parseAsync(['--model', modelDir('qwen3-f32'), '--mlx-path', out, '-q', '--q-bits', '8', '--q-group-size', '32'], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    expect(lines.join('')).toMatch(/converted: .*\n  layers: 15 quantized\n/);
    expect(config(out).quantization).toEqual({ group_size: 32, bits: 8, mode: 'affine' });
    await expectRejects(
      convertCommand().parseAsync(['--model', modelDir('qwen3-f32'), '--mlx-path', out, '-q'], { from: 'user' }),
      'E_ARGUMENT',
      'already exists',
    );
  });

  it('bad arguments', async () => {
    const out = join(tmp, 'bad-args');
    await expectRejects(convert({ input: modelDir('llama-f32'), out, quantize: true, bits: 7 }), 'E_ARGUMENT', 'bits 7 is not supported (choose one of 2, 3, 4, 5, 6, 8)');
    await expectRejects(convert({ input: modelDir('llama-f32'), out, quantize: true, groupSize: 256 }), 'E_ARGUMENT', 'group size 256 is not supported (choose one of 32, 64, 128)');
    await expectRejects(convert({ input: modelDir('llama-f32'), out, quantize: true, dequantize: true }), 'E_ARGUMENT', 'either quantize or dequantize');
    await expectRejects(convert({ input: modelDir('llama-f32'), out, bits: 4 }), 'E_ARGUMENT', 'need quantize');
    await expectRejects(convert({ input: join(tmp, 'nope'), out }), 'E_MODEL_LOAD', 'not found');
    expect(existsSync(out)).toBe(false);
  });
});

// ---- GGUF files convert refuses

function gguf(metadata: [string, string][], tensors: { name: string; dims: number[]; type: number; bytes: number }[]): Buffer {
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  };
  const u64 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return b;
  };
  const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
  const parts: Buffer[] = [Buffer.from('GGUF'), u32(3), u64(tensors.length), u64(metadata.length)];
  for (const [k, v] of metadata) parts.push(str(k), u32(8), str(v));
  let offset = 0;
  for (const t of tensors) {
    parts.push(str(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(t.type), u64(offset));
    offset += Math.ceil(t.bytes / 32) * 32;
  }
  const head = Buffer.concat(parts);
  const pad = Buffer.alloc((32 - (head.length % 32)) % 32);
  return Buffer.concat([head, pad, Buffer.alloc(offset)]);
}

describe('convert: GGUF files it refuses', () => {
  it('an unsupported architecture', async () => {
    const file = join(tmp, 'gpt2.gguf');
    writeFileSync(file, gguf([['general.architecture', 'gpt2']], []));
    await expectRejects(convert({ input: file, out: join(tmp, 'gpt2') }), 'E_GGUF', `${file}: GGUF architecture "gpt2" is not supported (supported: llama, qwen2, qwen3, gemma3)`);
    expect(existsSync(join(tmp, 'gpt2'))).toBe(false);
  });

  it('an unsupported tensor type', async () => {
    const file = join(tmp, 'q4k.gguf');
    writeFileSync(
      file,
      gguf(
        [['general.architecture', 'llama']],
        [
          { name: 'output_norm.weight', dims: [256], type: 0, bytes: 1024 },
          { name: 'token_embd.weight', dims: [256, 4], type: 12, bytes: 4 * 144 },
          { name: 'output.weight', dims: [256, 4], type: 14, bytes: 4 * 210 },
        ],
      ),
    );
    expect(readGgufHeader(file).tensors.map((t) => [t.name, t.type, t.shape])).toEqual([
      ['output_norm.weight', 'F32', [256]],
      ['token_embd.weight', 'Q4_K', [4, 256]],
      ['output.weight', 'Q6_K', [4, 256]],
    ]);
    await expectRejects(
      convert({ input: file, out: join(tmp, 'q4k') }),
      'E_GGUF',
      `${file}: tensor "token_embd.weight" has type Q4_K (and 1 more tensors of types Q4_K, Q6_K); convert supports F32, F16, Q4_0, Q4_1, Q8_0`,
    );
  });

  it('a file that is not a GGUF', async () => {
    const file = join(tmp, 'text.gguf');
    writeFileSync(file, 'hello, world');
    await expectRejects(convert({ input: file, out: join(tmp, 'text') }), 'E_MODEL_LOAD', 'not a GGUF file');
  });
});

// ---- SmolLM2: GGUF -> MLX folder

interface GreedyCase {
  messages: ChatMessage[];
  prompt_ids: number[];
  tokens: number[];
  text: string;
}
const reference = JSON.parse(readFileSync(join(FIXTURES, 'smollm2', 'greedy.json'), 'utf8')) as { cases: GreedyCase[]; max_tokens: number; eos_token_ids: number[] };

describeOrSkip(SMOLLM2_MISSING, 'convert: SmolLM2-135M GGUF -> MLX folder', () => {
  const out = () => join(tmp, 'smollm2');
  let seconds = 0;
  beforeAll(async () => {
    const start = performance.now();
    await convert({ input: SMOLLM2_GGUF, out: out() });
    seconds = (performance.now() - start) / 1000;
  });

  it('writes config, weights, tokenizer.json and the chat template', () => {
    console.log(`SmolLM2 convert: ${seconds.toFixed(1)} s`);
    expect(readdirSync(out()).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer_config.json']);
    const c = config(out());
    expect(c).toMatchObject({ model_type: 'llama', hidden_size: 576, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, head_dim: 64, vocab_size: 49152, tie_word_embeddings: true, rms_norm_eps: 1e-5, rope_theta: 100000, bos_token_id: 1, eos_token_id: 2 });
    // As mlx-lm's own conversion of this file (scripts/fixtures/smollm2_reference.py) records it.
    expect(c.quantization).toEqual({ group_size: 32, bits: 4, mode: 'affine', 'model.embed_tokens': { group_size: 32, bits: 8 } });
    const tc = JSON.parse(readFileSync(join(out(), 'tokenizer_config.json'), 'utf8'));
    expect(tc.chat_template).toContain('<|im_start|>');
    expect(temporaryFolders(out())).toEqual([]);
  });

  it('loads and gives the greedy tokens of the GGUF loaded directly, and of mlx-lm', async () => {
    const folder = await loadModel(out());
    const direct = await loadModel(SMOLLM2_GGUF);
    try {
      for (const [i, c] of reference.cases.entries()) {
        expect(folder.encodePrompt(c.messages)).toEqual(c.prompt_ids);
        const a = await folder.generate(c.messages, { maxTokens: reference.max_tokens });
        expect(a.tokens).toEqual(c.tokens.filter((t) => !reference.eos_token_ids.includes(t)));
        expect(a.text).toBe(c.text);
        // test/native/smollm2.test.ts checks the GGUF itself against the same tokens; once here too.
        if (i === 0) expect(a.tokens).toEqual((await direct.generate(c.messages, { maxTokens: reference.max_tokens })).tokens);
      }
    } finally {
      folder.dispose();
      direct.dispose();
    }
  });
});
