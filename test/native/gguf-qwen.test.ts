// GGUF import beyond llama: qwen2 and qwen3 files written by scripts/fixtures/make_gguf_fixtures.py
// (the gguf package's GGUFWriter, llama.cpp's tensor names and metadata keys) from the tiny
// models in test/fixtures/models, in F32, Q8_0 and Q4_0. Each one converted to an MLX folder must
//  - hold, for F32, the original safetensors byte for byte (a q/k row permutation applied as for
//    llama, a norm or bias under the wrong name, would change bytes);
//  - give the logits and 32 greedy tokens mlx-lm computes on the same file as MLX's Python
//    loader reads it (<name>.expected.safetensors), and for Q8_0/Q4_0 logits near mlx-lm's on
//    the weights gguf.quants dequantizes in float32 (what llama.cpp computes with);
//  - carry a tokenizer rebuilt from the metadata that gives the ids `tokenizers` gives with the
//    original tokenizer.json (test/fixtures/gguf/tokenizer/ids.json), and its chat template.
// Broken files must fail with the key or the tensor named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert } from '../../src/convert/convert.js';
import { loadModel } from '../../src/model/model.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { ChatTemplate } from '../../src/model/chat.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';
import { readSafetensors } from '../helpers/safetensors.js';
import { expectClose } from '../helpers/close.js';
import { rejects } from '../helpers/errors.js';

const DIR = join(FIXTURES, 'gguf');
const gguf = (name: string) => join(DIR, `${name}.gguf`);

// Bounds on max|ours − mlx-lm| / max|mlx-lm| of the logits (test/helpers/close.ts).
const F32 = 5e-6; // float32 weights: as test/parity/models.test.ts
const QUANT = 5e-6; // Q8_0 / Q4_0 kept quantized (affine, group 32) as MLX's loader reads them, both sides
// Ours (float16 scales, as MLX's loader keeps them) against mlx-lm on the float32 dequantized
// weights: the float16 rounding of the dequantized embedding rows.
const DEQUANT = 5e-3;

interface Case {
  name: string;
  arch: 'qwen2' | 'qwen3';
  tol: number;
  bits?: number;
}
const CASES: Case[] = [
  { name: 'qwen2-f32', arch: 'qwen2', tol: F32 },
  { name: 'qwen2-q8_0', arch: 'qwen2', tol: QUANT, bits: 8 },
  { name: 'qwen3-f32', arch: 'qwen3', tol: F32 },
  { name: 'qwen3-q8_0', arch: 'qwen3', tol: QUANT, bits: 8 },
  { name: 'qwen3-q4_0', arch: 'qwen3', tol: QUANT, bits: 4 },
];

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-gguf-qwen-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Tensor bytes of a folder's safetensors shards, by name. */
function tensorBytes(dir: string): Record<string, { dtype: string; shape: number[]; bytes: Buffer }> {
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

const IDS: { text: string; ids: number[] }[] = JSON.parse(readFileSync(join(DIR, 'tokenizer', 'ids.json'), 'utf8'));
const CHAT = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'the theme?' },
];

describe.each(CASES.map((c) => [c.name, c] as const))('%s.gguf → MLX folder', (_, { name, arch, tol, bits }) => {
  const expected = readSafetensors(join(DIR, `${name}.expected.safetensors`));
  let out: string;
  beforeAll(async () => {
    out = join(tmp, name);
    await convert({ input: gguf(name), out });
  });

  it('writes the config.json mlx-lm reads for the architecture', () => {
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    const original = JSON.parse(readFileSync(join(modelDir(`${arch}-f32`), 'config.json'), 'utf8'));
    for (const key of ['model_type', 'architectures', 'hidden_size', 'num_hidden_layers', 'intermediate_size', 'num_attention_heads', 'num_key_value_heads', 'vocab_size', 'rms_norm_eps', 'rope_theta', 'tie_word_embeddings']) {
      expect(config[key], key).toEqual(original[key] ?? false);
    }
    expect(config.head_dim).toBe(16);
    expect(config.quantization).toEqual(bits ? { group_size: 32, bits, mode: 'affine' } : undefined);
  });

  it(`logits within ${tol} of mlx-lm's on the GGUF's weights, and 32 identical greedy tokens`, async () => {
    using model = await loadModel(out, { tokenizer: false, compute: 'native' });
    const ids = expected.input_ids;
    const [b, l] = ids.shape;
    const rows = Array.from({ length: b }, (_, i) => Array.from(ids.data.subarray(i * l, (i + 1) * l)));
    const logits = await model.logits(rows);
    expectClose(logits.data, expected.logits.data, { rel: tol, label: `gguf.logits[${name}]` });
    if (bits) expectClose(logits.data, expected.logits_f32_dequantized.data, { rel: DEQUANT, label: `gguf.dequantized[${name}]` });
    const g = await model.generate({ tokens: Array.from(expected.greedy_prompt.data) }, { maxTokens: 32 });
    expect(g.tokens).toEqual(Array.from(expected.greedy_tokens.data));
  });

  it('tokenizer and chat template rebuilt from the metadata match the original tokenizer files', async () => {
    const original = Tokenizer.fromFolder(join(DIR, 'tokenizer'));
    const converted = Tokenizer.fromFolder(out);
    for (const tok of [original, converted]) {
      for (const r of IDS) expect(tok.encode(r.text, { addSpecialTokens: false }), JSON.stringify(r.text)).toEqual(r.ids);
    }
    expect([...converted.eosIds]).toEqual([255]);
    const want = ChatTemplate.fromFolder(join(DIR, 'tokenizer'), original)!.render(CHAT, { addGenerationPrompt: true });
    expect(ChatTemplate.fromFolder(out, converted)!.render(CHAT, { addGenerationPrompt: true })).toBe(want);
    expect(want).toContain('<|im_start|>assistant\n');
  });
});

describe.each(['qwen2', 'qwen3'])('%s-f32.gguf against the original safetensors model', (arch) => {
  it('converts to the same tensors byte for byte (no q/k row permutation for qwen)', async () => {
    const out = join(tmp, `${arch}-bytes`);
    await convert({ input: gguf(`${arch}-f32`), out });
    const ours = tensorBytes(out);
    const original = tensorBytes(modelDir(`${arch}-f32`));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(original).sort());
    for (const [name, t] of Object.entries(original)) {
      expect(ours[name].shape, name).toEqual(t.shape);
      expect(ours[name].bytes.equals(t.bytes), name).toBe(true);
    }
  });

  it("loaded straight from the GGUF: logits within the bound of the original's, tokenizer ids as tokenizer.json", async () => {
    const expected = readSafetensors(join(modelDir(`${arch}-f32`), 'expected.safetensors'));
    using model = await loadModel(gguf(`${arch}-f32`), { compute: 'native' });
    const ids = expected.input_ids;
    const [b, l] = ids.shape;
    const rows = Array.from({ length: b }, (_, i) => Array.from(ids.data.subarray(i * l, (i + 1) * l)));
    expectClose((await model.logits(rows)).data, expected.logits.data, { rel: F32, label: `gguf.direct[${arch}]` });
    for (const r of IDS) expect(model.tokenizer.encode(r.text, { addSpecialTokens: false })).toEqual(r.ids);
  });
});

describe('broken qwen GGUF files', () => {
  it('a missing hyperparameter names the key and the file', async () => {
    const file = gguf('bad-no-embedding-length');
    const e = await rejects(convert({ input: file, out: join(tmp, 'bad1') }));
    expect(e.code).toBe('E_GGUF');
    expect(e.message).toBe(`${file}: GGUF metadata "qwen3.embedding_length" is missing (or not an integer)`);
  });

  it('a tensor of the wrong shape is named as the GGUF names it', async () => {
    const file = gguf('bad-k-shape');
    const e = await rejects(loadModel(file));
    expect(e.code).toBe('E_WEIGHTS');
    expect(e.message).toMatch(`${file}: `);
    expect(e.message).toMatch('"blk.0.attn_k.weight" (model.layers.0.self_attn.k_proj.weight)');
  });

  it('a tensor the file lacks is named as the GGUF would name it', async () => {
    const file = gguf('bad-qwen2-no-bias');
    const e = await rejects(convert({ input: file, out: join(tmp, 'bad2') }));
    expect(e.code).toBe('E_WEIGHTS');
    expect(e.message).toMatch(`${file}: missing weight "blk.0.attn_q.bias" (model.layers.0.self_attn.q_proj.bias)`);
  });

  it('a tensor the architecture does not have is named', async () => {
    const file = gguf('bad-moe-tensor');
    const e = await rejects(convert({ input: file, out: join(tmp, 'bad3') }));
    expect(e.code).toBe('E_GGUF');
    expect(e.message).toBe(`${file}: GGUF tensor "blk.0.ffn_gate_inp.weight" is not supported`);
  });

  it('nothing is written when convert fails', () => {
    expect(readdirSync(tmp).filter((n) => n.startsWith('bad'))).toEqual([]);
  });
});
