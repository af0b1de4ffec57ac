/**
 * Logit bias, logprobs and XTC sampling (mlx-lm's logit_bias, logprobs/top_logprobs,
 * xtc_probability/xtc_threshold/xtc_special_tokens): the one place these generate options are
 * checked, with errors that name the option and the token id, and laid out for the engine, which
 * trusts them. Also the reading of the engine's logprobs back into per-token records.
 */
import { MlxLabError } from '../core/errors.js';
import type { NativeGenerateRequest } from '../core/native.js';
import { isPlainObject } from '../core/suggest.js';
import type { GeneratedTokenLogprob, TokenLogprob } from './generation-types.js';

/** Token id → additive bias on its logit: an object keyed by id (JSON's form) or a Map. */
export type LogitBias = Readonly<Record<number, number>> | ReadonlyMap<number, number>;

/** The options this module checks (part of GenerateOptions). */
export interface SamplingExtras {
  /**
   * Added to the logits of these token ids before the repetition penalty, the grammar mask and
   * the samplers (as mlx-lm's logit_bias). A large negative bias (-100) bans a token, a large
   * positive one forces it; a grammar's mask still wins. Finite, at most 1e30 in size.
   */
  logitBias?: LogitBias;
  /**
   * Return `logprobs` in the Generation: per generated token its log-probability and this many
   * most likely alternatives (0 to 20; 0: the chosen token's only). The distribution is
   * mlx-lm's: the log-softmax of the logits after bias, penalty and grammar mask, before
   * temperature and top-p/min-p/top-k/XTC.
   */
  logprobs?: number;
  /** XTC: the chance per token (0 to 1, default 0: off) that the top choices are excluded. Needs temperature > 0. */
  xtcProbability?: number;
  /** XTC: tokens above this probability (0 to 0.5, default 0.1) but the least likely of them are excluded. */
  xtcThreshold?: number;
  /** XTC never excludes these ids (default: the EOS ids and the newline token, as mlx-lm's generate). */
  xtcSpecialTokens?: readonly number[];
}

/** The largest bias: more would overflow float32 once added to a logit. */
export const MAX_LOGIT_BIAS = 1e30;
/** The most alternatives per token (OpenAI's top_logprobs limit). */
export const MAX_TOP_LOGPROBS = 20;

type NativeExtras = Pick<NativeGenerateRequest, 'logitBiasIds' | 'logitBiasValues' | 'logprobs' | 'xtcProbability' | 'xtcThreshold' | 'xtcSpecialTokens'>;

function bad(message: string): never {
  throw new MlxLabError('E_ARGUMENT', message);
}

/** A value as an error shows it (NaN and Infinity as such, strings quoted). */
function show(value: unknown): string {
  return typeof value === 'number' || value === undefined ? String(value) : (JSON.stringify(value) ?? String(value));
}

/** A token id of this vocabulary, or E_ARGUMENT naming `where`. */
function tokenId(value: unknown, vocabSize: number, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) bad(`${where}: token id ${show(value)} is not a whole number >= 0`);
  if (value >= vocabSize) bad(`${where}: token id ${value} is out of range: the model's vocabulary has ${vocabSize} tokens (ids 0 to ${vocabSize - 1})`);
  return value;
}

/** The bias as parallel id and value arrays; E_ARGUMENT naming the id for a bad key or value. */
export function logitBiasArrays(bias: unknown, vocabSize: number): { ids: Int32Array; values: Float32Array } {
  const entries: [unknown, unknown][] = bias instanceof Map ? [...bias.entries()] : isPlainObject(bias) ? Object.entries(bias) : bad('logitBias: must be an object of token id → bias (e.g. {"17": -100}) or a Map');
  const ids = new Int32Array(entries.length);
  const values = new Float32Array(entries.length);
  entries.forEach(([key, value], i) => {
    const id = typeof key === 'string' && /^\d+$/.test(key) ? Number(key) : key;
    ids[i] = tokenId(id, vocabSize, 'logitBias');
    if (typeof value !== 'number' || !Number.isFinite(value)) bad(`logitBias: the bias of token ${id} must be a finite number, got ${show(value)}`);
    if (Math.abs(value) > MAX_LOGIT_BIAS) bad(`logitBias: the bias of token ${id} is ${value}, past ±${MAX_LOGIT_BIAS} (a bias of ±100 already forces or bans a token)`);
    values[i] = value;
  });
  return { ids, values };
}

/** A number in [min, max] or undefined; E_ARGUMENT naming the option otherwise. */
function inRange(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value >= min && value <= max)) bad(`${name} must be a number from ${min} to ${max}, got ${show(value)}`);
  return value;
}

/**
 * The engine's fields for these options, checked against the model's vocabulary. `specialTokens`
 * gives XTC's default kept tokens (called only when XTC is on and none are given).
 */
export function samplingExtras(options: SamplingExtras, vocabSize: number, specialTokens: () => number[]): NativeExtras {
  const out: NativeExtras = {};
  if (options.logitBias !== undefined) {
    const { ids, values } = logitBiasArrays(options.logitBias, vocabSize);
    if (ids.length > 0) Object.assign(out, { logitBiasIds: ids, logitBiasValues: values });
  }
  if (options.logprobs !== undefined) {
    const k = options.logprobs;
    const most = Math.min(MAX_TOP_LOGPROBS, vocabSize);
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > most) bad(`logprobs must be a whole number from 0 to ${most} (the alternatives per token), got ${show(k)}`);
    out.logprobs = k;
  }
  const probability = inRange(options.xtcProbability, 'xtcProbability', 0, 1);
  const threshold = inRange(options.xtcThreshold, 'xtcThreshold', 0, 0.5);
  if (options.xtcSpecialTokens !== undefined && !Array.isArray(options.xtcSpecialTokens)) bad('xtcSpecialTokens must be an array of token ids');
  const special = options.xtcSpecialTokens?.map((id, i) => tokenId(id, vocabSize, `xtcSpecialTokens[${i}]`));
  if (probability !== undefined && probability > 0) {
    out.xtcProbability = probability;
    if (threshold !== undefined) out.xtcThreshold = threshold;
    out.xtcSpecialTokens = Int32Array.from(special ?? specialTokens().filter((id) => id >= 0 && id < vocabSize));
  }
  return out;
}

/** What the engine returned for one sequence when logprobs were asked for. */
export interface NativeLogprobs {
  logprobs?: Float32Array;
  topIds?: Int32Array;
  topLogprobs?: Float32Array;
}

/**
 * Per-token records for the first `tokens.length` tokens of a sequence (the engine may have made
 * one more past a stop string); alternatives the grammar masked (-Infinity) are left out.
 */
export function readLogprobs(tokens: readonly number[], k: number, raw: NativeLogprobs, text: (id: number) => string): GeneratedTokenLogprob[] {
  const logprobs = raw.logprobs ?? new Float32Array();
  return tokens.map((id, t) => {
    const top: TokenLogprob[] = [];
    for (let j = 0; j < k; j++) {
      const alt = raw.topIds?.[t * k + j];
      const logprob = raw.topLogprobs?.[t * k + j];
      if (alt !== undefined && logprob !== undefined && logprob > -Infinity) top.push({ id: alt, text: text(alt), logprob });
    }
    return { id, text: text(id), logprob: logprobs[t], top };
  });
}
