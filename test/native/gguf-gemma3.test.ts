// GGUF import of gemma3 (the text model): files written by scripts/fixtures/make_gguf_fixtures.py
// from the tiny gemma3_text model as llama.cpp's converter writes them (every RMSNorm weight
// stored as 1 + w, four norms per block under llama.cpp's names, a SentencePiece tokenizer in
// Gemma's layout), in F32, Q8_0 and Q4_0. Each one converted to an MLX folder must
//  - write the config.json mlx-lm's gemma3_text reads (sliding window and pattern, attention
//    scale, local RoPE base, GELU);
//  - give the logits and 32 greedy tokens mlx-lm computes on the same file (its norms read back
//    as stored - 1), and for Q8_0/Q4_0 logits near mlx-lm's on the float32 dequantized weights;
//  - carry a tokenizer rebuilt from the metadata that gives the ids sentencepiece, transformers
//    and transformers' own GGUF conversion give (test/fixtures/gguf/gemma3-tokenizer/ids.json),
//    and its chat template.
// The F32 file against the tiny model itself: the same tensors (norms to the float32 rounding
// of (1 + w) - 1), the tiny model's own mlx-lm logits and greedy tokens; and kept as stored
// (1 + w, no correction) the logits miss the bound by far. What llama.cpp's loader assumes where
// a gemma3 file has no key (window pattern 6, no window: all global, the 27B attention scale,
// local RoPE base 10000) is checked on small files built here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert } from '../../src/convert/convert.js';
import { loadModel } from '../../src/model/model.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { ChatTemplate } from '../../src/model/chat.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';
import { readSafetensors, writeSafetensors } from '../helpers/safetensors.js';
import { expectBreaks, expectClose } from '../helpers/close.js';
import { rejects } from '../helpers/errors.js';
// @ts-expect-error: a plain ESM module without types
import { GGUF, tinyGemma3Gguf } from '../fixtures/bad/make.mjs';

const DIR = join(FIXTURES, 'gguf');
const TOKENIZER = join(DIR, 'gemma3-tokenizer');
const gguf = (name: string) => join(DIR, `${name}.gguf`);

// Bounds on max|ours − mlx-lm| / max|mlx-lm| of the logits (test/helpers/close.ts), as for qwen.
const F32 = 5e-6;
// Q8_0/Q4_0 files load with float16 scales, so the activations are float16: where a BLAS kernel's
// summation order turns one float16 rounding (2^-11 = 4.9e-4) the other way, the logits move by up
// to 1.8e-4 (Q8_0 under Prescott; 0 to 2.3e-6 under SkylakeX, Haswell, Zen and Sandybridge).
const QUANT = 1e-3;
const DEQUANT = 5e-3;
// The stored 1 + w taken as w must miss the F32 bound by at least this factor.
const MUTANT_FACTOR = 100;

const VOCAB = 384; // the tokenizer's; the tiny model's 256 rows padded (make_gguf_fixtures.py)

interface Case {
  name: string;
  tol: number;
  bits?: number;
}
const CASES: Case[] = [
  { name: 'gemma3-f32', tol: F32 },
  { name: 'gemma3-q8_0', tol: QUANT, bits: 8 },
  { name: 'gemma3-q4_0', tol: QUANT, bits: 4 },
];

interface IdsRow {
  text: string;
  ids: number[];
  ids_space_prefix?: number[];
  ids_transformers_gguf: number[];
}
const IDS: IdsRow[] = JSON.parse(readFileSync(join(TOKENIZER, 'ids.json'), 'utf8'));
const CHAT = [
  { role: 'user' as const, content: 'the theme?' },
  { role: 'assistant' as const, content: 'a thin thing' },
  { role: 'user' as const, content: 'and then?' },
];

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-gguf-gemma3-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The [b, l] rows of an int32 tensor. */
function rowsOf(ids: { shape: number[]; data: ArrayLike<number> }): number[][] {
  const [b, l] = ids.shape;
  return Array.from({ length: b }, (_, i) => Array.from(ids.data).slice(i * l, (i + 1) * l));
}

/** The first `keep` of every row of `width` values. */
function firstColumns(data: ArrayLike<number>, width: number, keep: number): Float32Array {
  const rows = data.length / width;
  const out = new Float32Array(rows * keep);
  for (let r = 0; r < rows; r++) for (let c = 0; c < keep; c++) out[r * keep + c] = data[r * width + c];
  return out;
}

describe('the gemma3 fixture files', () => {
  it('sentencepiece, transformers on tokenizer.model and transformers on the GGUF agree on every text', () => {
    expect(IDS.length).toBe(10);
    for (const r of IDS) expect(r.ids_transformers_gguf, JSON.stringify(r.text)).toEqual(r.ids);
    // the texts reach the byte fallback, the user-defined whitespace runs and the turn tokens
    const all = IDS.flatMap((r) => r.ids);
    expect(all.some((id) => id >= 9 && id <= 264)).toBe(true); // <0x00>..<0xFF>
    expect(all).toContain(6); // "\n\n"
    expect(all).toContain(7); // two spaces
    expect(all).toContain(4); // <start_of_turn>
  });
});

describe.each(CASES.map((c) => [c.name, c] as const))('%s.gguf → MLX folder', (_, { name, tol, bits }) => {
  const expected = readSafetensors(join(DIR, `${name}.expected.safetensors`));
  let out: string;
  beforeAll(async () => {
    out = join(tmp, name);
    await convert({ input: gguf(name), out });
  });

  it('writes the config.json mlx-lm reads for gemma3_text', () => {
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    const original = JSON.parse(readFileSync(join(modelDir('gemma3_text-f32'), 'config.json'), 'utf8'));
    const keys = ['model_type', 'architectures', 'hidden_size', 'num_hidden_layers', 'intermediate_size', 'num_attention_heads', 'num_key_value_heads', 'head_dim'];
    for (const key of [...keys, 'rms_norm_eps', 'rope_theta', 'rope_local_base_freq', 'query_pre_attn_scalar', 'sliding_window', 'sliding_window_pattern', 'hidden_activation', 'max_position_embeddings']) {
      expect(config[key], key).toEqual(original[key]);
    }
    expect(config.hidden_act).toBeUndefined();
    expect(config.vocab_size).toBe(VOCAB);
    expect(config.tie_word_embeddings).toBe(true);
    expect(config.quantization).toEqual(bits ? { group_size: 32, bits, mode: 'affine' } : undefined);
  });

  it(`logits within ${tol} of mlx-lm's on the GGUF's weights, and 32 identical greedy tokens`, async () => {
    using model = await loadModel(out, { tokenizer: false, compute: 'native' });
    const logits = await model.logits(rowsOf(expected.input_ids));
    expectClose(logits.data, expected.logits.data, { rel: tol, label: `gguf.logits[${name}]` });
    if (bits) expectClose(logits.data, expected.logits_f32_dequantized.data, { rel: DEQUANT, label: `gguf.dequantized[${name}]` });
    const g = await model.generate({ tokens: Array.from(expected.greedy_prompt.data) }, { maxTokens: 32 });
    expect(g.tokens).toEqual(Array.from(expected.greedy_tokens.data));
  });

  it('tokenizer and chat template rebuilt from the metadata match the original tokenizer files', () => {
    const original = Tokenizer.fromFolder(TOKENIZER);
    const converted = Tokenizer.fromFolder(out);
    for (const tok of [original, converted]) {
      for (const r of IDS) expect(tok.encode(r.text, { addSpecialTokens: false }), JSON.stringify(r.text)).toEqual(r.ids);
    }
    for (const r of IDS) expect(converted.decode(r.ids), JSON.stringify(r.text)).toBe(r.text);
    expect(converted.encode('hi')).toEqual([2, ...converted.encode('hi', { addSpecialTokens: false })]); // add_bos_token
    // <eos>, and <end_of_turn> as llama.cpp ends a Gemma turn (Gemma 3's generation_config: [1, 106])
    expect([...converted.eosIds].sort()).toEqual([1, 5]);
    const want = ChatTemplate.fromFolder(TOKENIZER, original)!.render(CHAT, { addGenerationPrompt: true });
    expect(ChatTemplate.fromFolder(out, converted)!.render(CHAT, { addGenerationPrompt: true })).toBe(want);
    expect(want).toBe('<bos><start_of_turn>user\nthe theme?<end_of_turn>\n<start_of_turn>model\na thin thing<end_of_turn>\n<start_of_turn>user\nand then?<end_of_turn>\n<start_of_turn>model\n');
  });
});

describe('gemma3-f32.gguf against the tiny gemma3_text model', () => {
  const original = readSafetensors(join(modelDir('gemma3_text-f32'), 'model.safetensors'));
  const expected = readSafetensors(join(modelDir('gemma3_text-f32'), 'expected.safetensors'));
  let out: string;
  beforeAll(async () => {
    out = join(tmp, 'gemma3-bytes');
    await convert({ input: gguf('gemma3-f32'), out });
  });

  it('converts to the same tensors: norms as (1 + w) - 1 in float32, the embedding padded', () => {
    const ours = readSafetensors(join(out, 'model.safetensors'));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(original).sort());
    let norms = 0;
    for (const [name, t] of Object.entries(original)) {
      const got = ours[name];
      if (name === 'model.embed_tokens.weight') {
        expect(got.shape).toEqual([VOCAB, t.shape[1]]);
        expect(Array.from(got.data.subarray(0, t.data.length))).toEqual(Array.from(t.data));
        continue;
      }
      expect(got.shape, name).toEqual(t.shape);
      const want = name.endsWith('norm.weight') ? Array.from(t.data, (w) => Math.fround(Math.fround(1 + w) - 1)) : Array.from(t.data);
      expect(Array.from(got.data), name).toEqual(want);
      if (name.endsWith('norm.weight')) norms++;
    }
    expect(norms).toBe(2 * 6 + 1); // 4 block norms + q/k norms per layer, the final norm
  });

  it("loaded straight from the GGUF: the tiny model's own mlx-lm logits and greedy tokens", async () => {
    using model = await loadModel(gguf('gemma3-f32'), { compute: 'native' });
    expect(model.config.model_type).toBe('gemma3_text');
    const logits = await model.logits(rowsOf(expected.input_ids));
    expect(logits.shape).toEqual([2, 10, VOCAB]);
    expectClose(firstColumns(logits.data, VOCAB, 256), expected.logits.data, { rel: F32, label: 'gguf.direct[gemma3]' });
    const g = await model.generate({ tokens: Array.from(expected.greedy_prompt.data) }, { maxTokens: 32 });
    expect(g.tokens).toEqual(Array.from(expected.greedy_tokens.data));
    for (const r of IDS) expect(model.tokenizer.encode(r.text, { addSpecialTokens: false })).toEqual(r.ids);
  });

  it('without the - 1 (norms kept as llama.cpp stores them) the logits miss the bound', async () => {
    const mutant = join(tmp, 'gemma3-no-unshift');
    mkdirSync(mutant);
    for (const f of readdirSync(out).filter((n) => !n.endsWith('.safetensors'))) copyFileSync(join(out, f), join(mutant, f));
    const tensors = readSafetensors(join(out, 'model.safetensors'));
    const kept = Object.fromEntries(
      Object.entries(tensors).map(([name, t]) => [name, { shape: t.shape, data: name.endsWith('norm.weight') ? t.data.map((w) => w + 1) : t.data }]),
    );
    writeSafetensors(join(mutant, 'model.safetensors'), kept);
    writeFileSync(join(mutant, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: Object.fromEntries(Object.keys(kept).map((k) => [k, 'model.safetensors'])) }));
    using model = await loadModel(mutant, { tokenizer: false, compute: 'native' });
    const logits = await model.logits(rowsOf(expected.input_ids));
    expectBreaks(firstColumns(logits.data, VOCAB, 256), expected.logits.data, { rel: F32, factor: MUTANT_FACTOR, label: 'mutant.gguf-norm-kept[gemma3]' });
  });
});

describe('gemma3 metadata llama.cpp reads or assumes (small files built here)', () => {
  async function configOf(name: string, overrides: Record<string, unknown>, layers = 2) {
    const file = join(tmp, `${name}.gguf`);
    writeFileSync(file, tinyGemma3Gguf(overrides, layers));
    using model = await loadModel(file, { compute: 'native' });
    await model.logits([[2, 7, 8, 9, 10, 7, 8]]);
    return model.config;
  }

  it('a sliding window: every sixth layer global (Gemma 3), local RoPE base 10000, scale head_dim^-0.5', async () => {
    const c = await configOf('window', {});
    expect([c.sliding_window, c.sliding_window_pattern, c.rope_local_base_freq, c.query_pre_attn_scalar, c.head_dim]).toEqual([4, 6, 10000, 8, 8]);
  });

  it('no sliding window: every layer global', async () => {
    const c = await configOf('no-window', { 'gemma3.attention.sliding_window': undefined });
    expect([c.sliding_window_pattern, c.sliding_window]).toEqual([1, 64]);
    const zero = await configOf('zero-window', { 'gemma3.attention.sliding_window': [GGUF.U32, 0] });
    expect(zero.sliding_window_pattern).toBe(1);
  });

  it('62 blocks (Gemma 3 27B): the attention scale from hidden_size / heads, as llama.cpp', async () => {
    const c = await configOf('27b', {}, 62);
    expect([c.num_hidden_layers, c.query_pre_attn_scalar, c.head_dim]).toEqual([62, 4, 8]);
  });

  it('a pattern and a local RoPE base in the file are used', async () => {
    const c = await configOf('keys', { 'gemma3.attention.sliding_window_pattern': [GGUF.U32, 2], 'gemma3.rope.freq_base_swa': [GGUF.F32, 5000] });
    expect([c.sliding_window_pattern, c.rope_local_base_freq]).toEqual([2, 5000]);
  });

  it('refuses final logit soft-capping and names a missing key', async () => {
    const soft = join(tmp, 'softcap.gguf');
    writeFileSync(soft, tinyGemma3Gguf({ 'gemma3.final_logit_softcapping': [GGUF.F32, 30] }));
    const e = await rejects(loadModel(soft));
    expect([e.code, e.message]).toEqual(['E_GGUF', `${soft}: GGUF metadata "gemma3.final_logit_softcapping" = 30 is not supported (gemma3_text has no final logit soft-capping)`]);
    const noEps = join(tmp, 'no-eps.gguf');
    writeFileSync(noEps, tinyGemma3Gguf({ 'gemma3.attention.layer_norm_rms_epsilon': undefined }));
    const m = await rejects(convert({ input: noEps, out: join(tmp, 'no-eps') }));
    expect([m.code, m.message]).toEqual(['E_GGUF', `${noEps}: GGUF metadata "gemma3.attention.layer_norm_rms_epsilon" is missing`]);
  });
});
