/**
 * config.json's rope_scaling block: the types mlx-lm supports for our architectures (default,
 * linear, llama3; longrope, once spelled su, for phi3) with errors that name the file and key.
 */
import { MlxLabError } from '../core/errors.js';
import type { ModelConfig, RopeScaling } from '../core/model-types.js';

type Json = Record<string, unknown>;

const PLAIN_TYPES = ['default', 'linear', 'llama3'];
const LONGROPE_TYPES = ['longrope', 'su'];

function bad(file: string, key: string, what: string): never {
  throw new MlxLabError('E_CONFIG', `${file}: "${key}" ${what}`);
}

/** An optional finite number of a block. */
function num(file: string, o: Json, key: string, fallback: number): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(file, `rope_scaling.${key}`, `must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** The rope_scaling block of a config of modelType (undefined when absent); longrope is phi3's. */
export function parseRopeScaling(file: string, v: unknown, modelType: string): RopeScaling | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) bad(file, 'rope_scaling', 'must be an object');
  const o = v as Json;
  const type = o.rope_type ?? o.type ?? 'default';
  const supported = modelType === 'phi3' ? 'default, linear, longrope, su' : 'default, linear, llama3';
  const known = typeof type === 'string' && (modelType === 'phi3' ? ['default', 'linear', ...LONGROPE_TYPES] : PLAIN_TYPES).includes(type);
  if (!known) bad(file, 'rope_scaling.type', `${JSON.stringify(type)} is not supported for ${modelType} (${supported})`);
  if (LONGROPE_TYPES.includes(type as string)) {
    // Factors and original_max_position_embeddings are read by readLongrope once RoPE dims are known.
    return { type: 'longrope' };
  }
  const origMax = o.original_max_position_embeddings ?? 8192;
  if (!Number.isInteger(origMax) || (origMax as number) < 1) {
    bad(file, 'rope_scaling.original_max_position_embeddings', `must be a positive integer, got ${JSON.stringify(origMax)}`);
  }
  return {
    type: type as RopeScaling['type'],
    factor: num(file, o, 'factor', 1),
    low_freq_factor: num(file, o, 'low_freq_factor', 1),
    high_freq_factor: num(file, o, 'high_freq_factor', 4),
    original_max_position_embeddings: origMax as number,
  };
}

/** One factor per pair of rotated dims: a list of positive numbers (or one number for all, as mlx-lm allows). */
function factorList(file: string, o: Json, key: string, pairs: number): number[] {
  const v = o[key];
  const name = `rope_scaling.${key}`;
  if (v === undefined || v === null) bad(file, name, 'is missing (longrope needs short_factor and long_factor)');
  const list = typeof v === 'number' ? new Array<unknown>(pairs).fill(v) : v;
  if (!Array.isArray(list)) bad(file, name, `must be a list of numbers, got ${JSON.stringify(v)}`);
  if (list.length !== pairs) bad(file, name, `must have ${pairs} entries (one per pair of the ${2 * pairs} RoPE dims), got ${list.length}`);
  list.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) bad(file, `${name}[${i}]`, `must be a positive number, got ${JSON.stringify(x)}`);
  });
  return list as number[];
}

/**
 * phi3's longrope keys, as mlx-lm's phi3 reads them: short_factor and long_factor in rope_scaling
 * (one per pair of the rotated dims), original_max_position_embeddings at the top level (mlx-lm
 * would silently take 4096 when it is missing; we name the key instead).
 */
export function readLongrope(file: string, raw: Json, config: ModelConfig): void {
  const o = raw.rope_scaling as Json;
  const dims = Math.trunc(config.head_dim * (config.partial_rotary_factor ?? 1));
  const pairs = Math.floor(dims / 2);
  const origMax = raw.original_max_position_embeddings;
  if (origMax === undefined || origMax === null) {
    bad(file, 'original_max_position_embeddings', 'is missing (rope_scaling.type longrope needs the context the model was trained at, e.g. 4096)');
  }
  if (!Number.isInteger(origMax) || (origMax as number) < 2) {
    bad(file, 'original_max_position_embeddings', `must be an integer >= 2, got ${JSON.stringify(origMax)}`);
  }
  config.rope_scaling = {
    type: 'longrope',
    original_max_position_embeddings: origMax as number,
    short_factor: factorList(file, o, 'short_factor', pairs),
    long_factor: factorList(file, o, 'long_factor', pairs),
  };
}
