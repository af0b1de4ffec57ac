// config.json parsing per model_type: the defaults mlx-lm's ModelArgs take for keys a config
// leaves out, and the error naming every supported type.
import { describe, expect, it } from 'vitest';
import { MlxLabError } from '../../src/core/errors.js';
import { SUPPORTED_MODEL_TYPES, parseModelConfig } from '../../src/model/config.js';

const BASE = { hidden_size: 64, num_hidden_layers: 2, intermediate_size: 128, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 256, rms_norm_eps: 1e-6 };

describe('parseModelConfig per model_type', () => {
  it('qwen2: tied embeddings and rope_theta 1e6 by default; head_dim from hidden_size whatever config.json says', () => {
    const c = parseModelConfig({ ...BASE, model_type: 'qwen2', head_dim: 32 }, 'config.json');
    expect(c).toMatchObject({ model_type: 'qwen2', tie_word_embeddings: true, rope_theta: 1e6, head_dim: 16 });
  });

  it('mistral: read as llama (mlx-lm loads it as llama): tied by default, rope_theta 1e4, head_dim as given', () => {
    const c = parseModelConfig({ ...BASE, model_type: 'mistral', head_dim: 32 }, 'config.json');
    expect(c).toMatchObject({ model_type: 'mistral', tie_word_embeddings: true, rope_theta: 10000, head_dim: 32 });
    const untied = parseModelConfig({ ...BASE, model_type: 'mistral', tie_word_embeddings: false }, 'config.json');
    expect(untied.tie_word_embeddings).toBe(false);
  });

  it('phi3: untied by default, head_dim derived, partial_rotary_factor read and checked', () => {
    const c = parseModelConfig({ ...BASE, model_type: 'phi3', head_dim: 32, partial_rotary_factor: 0.75 }, 'config.json');
    expect(c).toMatchObject({ model_type: 'phi3', tie_word_embeddings: false, head_dim: 16, partial_rotary_factor: 0.75 });
    expect(parseModelConfig({ ...BASE, model_type: 'phi3' }, 'config.json').partial_rotary_factor).toBe(1);
    expect(() => parseModelConfig({ ...BASE, model_type: 'phi3', partial_rotary_factor: 1.5 }, '/m/config.json')).toThrow('/m/config.json: "partial_rotary_factor" must be in (0, 1], got 1.5');
  });
  it("gemma3_text: its own keys with mlx-lm's defaults (head_dim 256, one KV head, window 512 every 6th layer global)", () => {
    const { num_key_value_heads: _, ...noKv } = BASE;
    const c = parseModelConfig({ ...noKv, model_type: 'gemma3_text' }, 'config.json');
    expect(c).toMatchObject({ head_dim: 256, num_key_value_heads: 1, rope_theta: 1e6, query_pre_attn_scalar: 256, rope_local_base_freq: 10000, sliding_window: 512, sliding_window_pattern: 6 });
    const given = parseModelConfig({ ...BASE, model_type: 'gemma3_text', head_dim: 16, query_pre_attn_scalar: 16, sliding_window: 6, sliding_window_pattern: 2 }, 'config.json');
    expect(given).toMatchObject({ head_dim: 16, num_key_value_heads: 2, query_pre_attn_scalar: 16, sliding_window: 6, sliding_window_pattern: 2 });
    expect(() => parseModelConfig({ ...BASE, model_type: 'gemma3_text', sliding_window: 0 }, '/m/config.json')).toThrow('/m/config.json: "sliding_window" must be >= 1, got 0');
  });

  it('granite: tied by default, head_dim derived, the four multipliers required and positive, each error naming its key', () => {
    const MULT = { embedding_multiplier: 12, attention_multiplier: 0.015625, residual_multiplier: 0.22, logits_scaling: 8 };
    const c = parseModelConfig({ ...BASE, ...MULT, model_type: 'granite', head_dim: 32 }, 'config.json');
    expect(c).toMatchObject({ model_type: 'granite', tie_word_embeddings: true, head_dim: 16, ...MULT });
    for (const key of Object.keys(MULT)) {
      const { [key as keyof typeof MULT]: _, ...without } = MULT;
      expect(() => parseModelConfig({ ...BASE, ...without, model_type: 'granite' }, '/m/config.json')).toThrow(`/m/config.json: "${key}" is missing`);
      expect(() => parseModelConfig({ ...BASE, ...MULT, [key]: 0, model_type: 'granite' }, '/m/config.json')).toThrow(`/m/config.json: "${key}" must be positive, got 0`);
      expect(() => parseModelConfig({ ...BASE, ...MULT, [key]: '2', model_type: 'granite' }, '/m/config.json')).toThrow(`/m/config.json: "${key}" must be a number, got "2"`);
    }
  });

  it('qwen3 keeps its untied default', () => {
    expect(parseModelConfig({ ...BASE, model_type: 'qwen3' }, 'config.json').tie_word_embeddings).toBe(false);
  });

  it('an unsupported model_type names the file and every supported type', () => {
    let caught: unknown;
    try {
      parseModelConfig({ ...BASE, model_type: 'gpt_neox' }, '/m/config.json');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(MlxLabError);
    expect((caught as MlxLabError).message).toBe(`/m/config.json: model_type "gpt_neox" is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
    for (const t of ['llama', 'qwen3', 'qwen3_moe', 'qwen2', 'mistral', 'phi3', 'gemma3_text', 'granite']) expect(SUPPORTED_MODEL_TYPES).toContain(t);
  });

  it('a missing key is named with its file', () => {
    const { intermediate_size: _, ...noMlp } = BASE;
    expect(() => parseModelConfig({ ...noMlp, model_type: 'qwen2' }, '/m/config.json')).toThrow('/m/config.json: "intermediate_size" is missing');
  });
});

// phi3's longrope (Phi-3-mini-128k, Phi-3.5-mini): head_dim 16 × partial_rotary_factor 0.75 = 12
// RoPE dims, so 6 factors per list; original_max_position_embeddings at the top level, as mlx-lm's
// phi3 reads it.
describe('phi3 rope_scaling longrope', () => {
  const PHI3 = { ...BASE, model_type: 'phi3', partial_rotary_factor: 0.75, original_max_position_embeddings: 4096 };
  const six = [1, 1.5, 2, 3, 4, 5];
  const scaling = (o: Record<string, unknown>) => ({ ...PHI3, rope_scaling: { type: 'longrope', short_factor: six, long_factor: six, ...o } });
  const parse = (raw: Record<string, unknown>) => () => parseModelConfig(raw, '/m/config.json');

  it('reads both factor lists and the top-level original_max_position_embeddings; su is longrope', () => {
    const c = parseModelConfig(scaling({ long_factor: [2, 2, 2, 2, 2, 2] }), 'config.json');
    expect(c.rope_scaling).toEqual({ type: 'longrope', original_max_position_embeddings: 4096, short_factor: six, long_factor: [2, 2, 2, 2, 2, 2] });
    expect(parseModelConfig(scaling({ type: 'su' }), 'config.json').rope_scaling?.type).toBe('longrope');
    // One number for every pair, as mlx-lm accepts.
    expect(parseModelConfig(scaling({ short_factor: 1 }), 'config.json').rope_scaling?.short_factor).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('a factor list of the wrong length names the key and the length wanted', () => {
    expect(parse(scaling({ long_factor: [1, 2, 3, 4, 5, 6, 7, 8] }))).toThrow('/m/config.json: "rope_scaling.long_factor" must have 6 entries (one per pair of the 12 RoPE dims), got 8');
    expect(parse(scaling({ short_factor: [] }))).toThrow('"rope_scaling.short_factor" must have 6 entries');
  });

  it('a missing or non-numeric factor names the key (and the entry)', () => {
    expect(parse({ ...PHI3, rope_scaling: { type: 'longrope', long_factor: six } })).toThrow('/m/config.json: "rope_scaling.short_factor" is missing');
    expect(parse(scaling({ long_factor: [1, 2, '3', 4, 5, 6] }))).toThrow('/m/config.json: "rope_scaling.long_factor[2]" must be a positive number, got "3"');
    expect(parse(scaling({ short_factor: [1, 2, 3, 4, null, 6] }))).toThrow('"rope_scaling.short_factor[4]" must be a positive number, got null');
    expect(parse(scaling({ short_factor: [1, 2, 3, 4, 0, 6] }))).toThrow('"rope_scaling.short_factor[4]" must be a positive number, got 0');
    expect(parse(scaling({ long_factor: 'long' }))).toThrow('"rope_scaling.long_factor" must be a list of numbers, got "long"');
  });

  it('original_max_position_embeddings: missing or not an integer >= 2 is named', () => {
    const { original_max_position_embeddings: _, ...noMax } = scaling({});
    expect(parse(noMax)).toThrow('/m/config.json: "original_max_position_embeddings" is missing (rope_scaling.type longrope needs');
    expect(parse({ ...scaling({}), original_max_position_embeddings: 1 })).toThrow('"original_max_position_embeddings" must be an integer >= 2, got 1');
    expect(parse({ ...scaling({}), original_max_position_embeddings: '4096' })).toThrow('"original_max_position_embeddings" must be an integer >= 2, got "4096"');
  });

  it('longrope is phi3-only; an unknown type names the types of the model', () => {
    expect(parse({ ...BASE, model_type: 'llama', rope_scaling: { type: 'longrope' } })).toThrow('/m/config.json: "rope_scaling.type" "longrope" is not supported for llama (default, linear, llama3)');
    expect(parse({ ...PHI3, rope_scaling: { type: 'llama3' } })).toThrow('"rope_scaling.type" "llama3" is not supported for phi3 (default, linear, longrope, su)');
    expect(parse({ ...PHI3, rope_scaling: { type: 7 } })).toThrow('"rope_scaling.type" 7 is not supported for phi3');
    expect(parse({ ...PHI3, rope_scaling: [1] })).toThrow('"rope_scaling" must be an object');
  });
});
