/**
 * config.json of an mlx-lm / Hugging Face model folder: read, validate with errors that name the
 * file and key, and turn into the ModelConfig the native loader takes.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import { readJsonObject } from '../core/json.js';
import { isInside } from '../core/paths.js';
import { parseRopeScaling, readLongrope } from './rope-scaling.js';

export { SUPPORTED_MODEL_TYPES, type ModelType, type QuantSpec, type RopeScaling, type ModelConfig } from '../core/model-types.js';
import { SUPPORTED_MODEL_TYPES, type ModelConfig, type ModelType, type QuantSpec } from '../core/model-types.js';

type Json = Record<string, unknown>;

class Reader {
  constructor(
    readonly file: string,
    readonly raw: Json,
  ) {}

  private bad(key: string, what: string): never {
    throw new MlxLabError('E_CONFIG', `${this.file}: "${key}" ${what}`);
  }

  int(key: string, opts: { fallback?: number; min?: number } = {}): number {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (opts.fallback !== undefined) return opts.fallback;
      this.bad(key, 'is missing');
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) this.bad(key, `must be an integer, got ${JSON.stringify(v)}`);
    if (v < (opts.min ?? 1)) this.bad(key, `must be >= ${opts.min ?? 1}, got ${v}`);
    return v;
  }

  positive(key: string): number {
    const v = this.raw[key];
    if (v === undefined || v === null) this.bad(key, 'is missing');
    if (typeof v !== 'number' || !Number.isFinite(v)) this.bad(key, `must be a number, got ${JSON.stringify(v)}`);
    if (!(v > 0)) this.bad(key, `must be positive, got ${v}`);
    return v;
  }

  num(key: string, fallback: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.bad(key, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.bad(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  intList(key: string): number[] {
    const v = this.raw[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) this.bad(key, 'must be a list of integers');
    return v as number[];
  }
}

function parseQuantSpec(file: string, key: string, v: unknown): QuantSpec | false {
  if (v === false) return false;
  if (typeof v !== 'object' || v === null) throw new MlxLabError('E_CONFIG', `${file}: "${key}" must be an object or false`);
  const r = new Reader(file, v as Json);
  const bits = r.int('bits');
  const group_size = r.int('group_size');
  if (bits < 1 || bits > 8) throw new MlxLabError('E_CONFIG', `${file}: "${key}.bits" must be in 1..8, got ${bits}`);
  const mode = (v as Json).mode;
  return { group_size, bits, mode: typeof mode === 'string' ? mode : 'affine' };
}

/** mlx-lm's quantization block: defaults plus per-module overrides keyed by path. */
function parseQuantization(file: string, q: unknown): ModelConfig['quantization'] {
  if (q === undefined || q === null) return undefined;
  if (typeof q !== 'object') throw new MlxLabError('E_CONFIG', `${file}: "quantization" must be an object`);
  const entries = Object.entries(q as Json);
  const overrides: Record<string, QuantSpec | false> = {};
  for (const [k, v] of entries) {
    if (['group_size', 'bits', 'mode', 'quant_method', 'linear_class', 'quantization_mode'].includes(k)) continue;
    overrides[k] = parseQuantSpec(file, `quantization.${k}`, v);
  }
  const hasBase = entries.some(([k]) => k === 'bits');
  const base = hasBase ? (parseQuantSpec(file, 'quantization', q) as QuantSpec) : undefined;
  return { base, overrides };
}

/**
 * What mlx-lm's ModelArgs of each type assume for keys config.json leaves out: tied embeddings
 * (llama and mistral, which mlx-lm loads as llama, and qwen2 default to tied; qwen3 configs always
 * state it, HF's default is untied; phi3 is untied; granite is tied), rope_theta, and whether head_dim is derived
 * regardless.
 */
const TYPE_DEFAULTS: Record<ModelType, { tied: boolean; ropeTheta: number; derivedHeadDim?: boolean }> = {
  llama: { tied: true, ropeTheta: 10000 },
  mistral: { tied: true, ropeTheta: 10000 },
  qwen3: { tied: false, ropeTheta: 10000 },
  qwen3_moe: { tied: false, ropeTheta: 10000 },
  qwen2: { tied: true, ropeTheta: 1000000, derivedHeadDim: true },
  phi3: { tied: false, ropeTheta: 10000, derivedHeadDim: true },
  // Tied exactly when the weights have no lm_head (decided at load, as mlx-lm's sanitize does).
  gemma3_text: { tied: true, ropeTheta: 1000000 },
  granite: { tied: true, ropeTheta: 10000, derivedHeadDim: true },
};

/** granite's four multipliers: mlx-lm's ModelArgs has no default for them, so each is required. */
function readGranite(r: Reader, config: ModelConfig): void {
  config.embedding_multiplier = r.positive('embedding_multiplier');
  config.attention_multiplier = r.positive('attention_multiplier');
  config.residual_multiplier = r.positive('residual_multiplier');
  config.logits_scaling = r.positive('logits_scaling');
}

/** gemma3_text's own keys, with mlx-lm's ModelArgs defaults. */
function readGemma3(r: Reader, config: ModelConfig): void {
  config.head_dim = r.int('head_dim', { fallback: 256 });
  config.num_key_value_heads = r.int('num_key_value_heads', { fallback: 1 });
  config.query_pre_attn_scalar = r.num('query_pre_attn_scalar', 256);
  config.rope_local_base_freq = r.num('rope_local_base_freq', 10000);
  config.sliding_window = r.int('sliding_window', { fallback: 512 });
  config.sliding_window_pattern = r.int('sliding_window_pattern', { fallback: 6 });
  if (!(config.query_pre_attn_scalar > 0)) throw new MlxLabError('E_CONFIG', `${r.file}: "query_pre_attn_scalar" must be positive`);
}

/** Validate a parsed config.json (file is named in errors). */
export function parseModelConfig(raw: Json, file: string): ModelConfig {
  const r = new Reader(file, raw);
  const type = raw.model_type;
  if (typeof type !== 'string') throw new MlxLabError('E_CONFIG', `${file}: "model_type" is missing`);
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(type)) {
    throw new MlxLabError('E_CONFIG', `${file}: model_type "${type}" is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  }
  const hidden = r.int('hidden_size');
  const heads = r.int('num_attention_heads');
  const defaults = TYPE_DEFAULTS[type as ModelType];
  const config: ModelConfig = {
    model_type: type as ModelType,
    hidden_size: hidden,
    num_hidden_layers: r.int('num_hidden_layers'),
    intermediate_size: r.int('intermediate_size'),
    num_attention_heads: heads,
    num_key_value_heads: r.int('num_key_value_heads', { fallback: heads }),
    // mlx-lm's qwen2, phi3 and granite derive head_dim from hidden_size whatever config.json says.
    head_dim: defaults.derivedHeadDim ? Math.floor(hidden / heads) : r.int('head_dim', { fallback: Math.floor(hidden / heads) }),
    vocab_size: r.int('vocab_size'),
    max_position_embeddings: r.int('max_position_embeddings', { fallback: 0, min: 0 }),
    rms_norm_eps: r.num('rms_norm_eps', 1e-6),
    rope_theta: r.num('rope_theta', defaults.ropeTheta),
    rope_traditional: r.bool('rope_traditional', false),
    rope_scaling: parseRopeScaling(file, raw.rope_scaling, type),
    tie_word_embeddings: r.bool('tie_word_embeddings', defaults.tied),
    attention_bias: r.bool('attention_bias', false),
    mlp_bias: r.bool('mlp_bias', false),
    quantization: parseQuantization(file, raw.quantization ?? raw.quantization_config),
  };
  if (config.num_attention_heads % config.num_key_value_heads !== 0) {
    throw new MlxLabError('E_CONFIG', `${file}: "num_attention_heads" (${heads}) must be a multiple of "num_key_value_heads" (${config.num_key_value_heads})`);
  }
  if (type === 'phi3') {
    const factor = r.num('partial_rotary_factor', 1);
    if (!(factor > 0 && factor <= 1)) throw new MlxLabError('E_CONFIG', `${file}: "partial_rotary_factor" must be in (0, 1], got ${factor}`);
    config.partial_rotary_factor = factor;
    if (config.rope_scaling?.type === 'longrope') readLongrope(file, raw, config);
  }
  if (type === 'gemma3_text') readGemma3(r, config);
  if (type === 'granite') readGranite(r, config);
  if (type === 'qwen3_moe') {
    config.num_experts = r.int('num_experts');
    config.num_experts_per_tok = r.int('num_experts_per_tok');
    config.moe_intermediate_size = r.int('moe_intermediate_size');
    config.decoder_sparse_step = r.int('decoder_sparse_step', { fallback: 1 });
    config.mlp_only_layers = r.intList('mlp_only_layers');
    config.norm_topk_prob = r.bool('norm_topk_prob', false);
    if (config.num_experts_per_tok > config.num_experts) {
      throw new MlxLabError('E_CONFIG', `${file}: "num_experts_per_tok" must not exceed "num_experts"`);
    }
  }
  return config;
}

/** The safetensors files of a model folder (from the index when sharded). */
export function weightFiles(dir: string): string[] {
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const map = readJsonObject(index, { code: 'E_MODEL_LOAD' }).weight_map;
    if (typeof map !== 'object' || map === null) throw new MlxLabError('E_MODEL_LOAD', `${index}: "weight_map" is missing`);
    const files = [...new Set(Object.values(map as Record<string, unknown>))].sort() as string[];
    for (const f of files) {
      // A shard is named inside the folder (its file may be a symlink, as in Hugging Face's cache).
      if (typeof f !== 'string' || f === '' || isAbsolute(f) || !isInside(resolve(dir, f), resolve(dir)) || resolve(dir, f) === resolve(dir)) {
        throw new MlxLabError('E_MODEL_LOAD', `${index}: shard path ${JSON.stringify(f)} leaves the model folder; weight_map must name files inside ${dir}`);
      }
      if (!existsSync(join(dir, f))) throw new MlxLabError('E_MODEL_LOAD', `${index}: shard "${f}" not found in ${dir}`);
    }
    return files.map((f) => join(dir, f));
  }
  const files = readdirSync(dir).filter((f) => /^(model|weights).*\.safetensors$/.test(f)).sort();
  if (files.length === 0) throw new MlxLabError('E_MODEL_LOAD', `${dir}: no model*.safetensors files`);
  return files.map((f) => join(dir, f));
}

/** Check a model folder exists and read its config. */
export function readModelFolder(dir: string): { config: ModelConfig; raw: Json; files: string[] } {
  if (!existsSync(dir)) throw new MlxLabError('E_MODEL_LOAD', `${dir}: model folder not found`);
  if (!statSync(dir).isDirectory()) throw new MlxLabError('E_MODEL_LOAD', `${dir}: not a folder (pass a model folder or a .gguf file)`);
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new MlxLabError('E_MODEL_LOAD', `${dir}: config.json not found (is this a model folder?)`);
  const raw = readJsonObject(file, { code: 'E_CONFIG' });
  return { config: parseModelConfig(raw, file), raw, files: weightFiles(dir) };
}
