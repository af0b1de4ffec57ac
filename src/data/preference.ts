/**
 * Preference data for DPO and ORPO, in mlx-lm-lora's format (trainer/datasets.py DPODataset and
 * ORPODataset): one JSON object per line with `prompt`, `chosen` and `rejected` strings, an
 * optional `system` string and, for ORPO, an optional `preference_score` number (default 1); the
 * keys are renamed with chosen_feature, rejected_feature, system_feature, preference_score_feature
 * and prompt_feature, as there. Each side is rendered with the chat template as
 * [system?, user: prompt, assistant: reply]; its reply tokens (the part scored) start after the
 * prompt rendered with the generation prompt, as mlx-lm-lora masks them.
 *
 * Batches follow iterate_dpo_batches: pairs sorted by the chosen side's length, cut into whole
 * batches, visited in a seeded random order per epoch. The order and the exact-resume state come
 * from BatchIterator over a view whose examples are the chosen sides (`PreferenceDataset` is that
 * view, with the pairs beside it).
 *
 * Added: an optional `tools` list (tool schemas, as in mlx-lm's chat data) rendered by the
 * template, so pairs mined from a tool-calling suite train with the tools they were sampled with.
 * Stricter than mlx-lm-lora, on purpose (E_DATA naming file:line): a missing or non-string
 * prompt/chosen/rejected, an empty reply, a non-string system, a non-finite preference score;
 * ORPO's dict or list replies are not read.
 */
import { MlxLabError } from '../core/errors.js';
import { typeName } from '../core/suggest.js';
import { ChatTemplate, type ChatMessage, type ToolSchema } from '../model/chat.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { Dataset, SPLIT_NAMES, type Example } from './dataset.js';
import { readJsonl, type JsonlRecord } from './jsonl.js';
import { vocabHasThinking } from './formats.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';

/** The record keys of a preference pair (mlx-lm-lora's *_feature keys). */
export interface PreferenceKeys {
  prompt: string;
  chosen: string;
  rejected: string;
  system: string;
  score: string;
}

export const DEFAULT_PREFERENCE_KEYS: Readonly<PreferenceKeys> = { prompt: 'prompt', chosen: 'chosen', rejected: 'rejected', system: 'system', score: 'preference_score' };

/** One tokenized pair. */
export interface PreferencePair {
  chosen: Int32Array;
  rejected: Int32Array;
  /** Tokens of the rendered prompt (with the generation prompt): the replies start there. */
  prompt: number;
  /** ORPO's preference score (1 when the record has none). */
  score: number;
  line: number;
}

/** Preference pairs, and the view of their chosen sides that batching sorts and orders. */
export class PreferenceDataset extends Dataset {
  constructor(
    source: string,
    readonly pairs: readonly PreferencePair[],
  ) {
    super(
      source,
      'completions',
      pairs.map((p): Example => ({ tokens: p.chosen, offset: p.prompt, line: p.line, keys: 3 })),
    );
  }

  /** No shared-prefix cache: the preference step scores its replies without it. */
  override sharedPrefix(): undefined {
    return undefined;
  }

  /** The view's hash mixed with the rejected sides and scores (a resume checks the same pairs). */
  override fingerprint(): string {
    let h = Number.parseInt(super.fingerprint(), 16);
    for (const p of this.pairs) {
      for (const t of [p.rejected.length, Math.round(p.score * 1e6), ...p.rejected]) {
        h ^= t & 0xffff;
        h = Math.imul(h, 0x01000193);
      }
    }
    return (h >>> 0).toString(16).padStart(8, '0');
  }
}

/** The preference data of a run: the splits found (null when absent). */
export interface PreferenceSplits {
  path: string;
  train: PreferenceDataset | null;
  valid: PreferenceDataset | null;
  test: PreferenceDataset | null;
}

function text(record: Record<string, unknown>, key: string, where: string, what: string): string {
  if (!(key in record)) throw new MlxLabError('E_DATA', `${where}: no "${key}" (${what}); a preference pair needs "prompt", "chosen" and "rejected" strings`);
  const v = record[key];
  if (typeof v !== 'string') throw new MlxLabError('E_DATA', `${where}: "${key}" must be a string, got ${typeName(v)}`);
  if (v.trim() === '') throw new MlxLabError('E_DATA', `${where}: "${key}" is empty (${what})`);
  return v;
}

/** Tokenizes records of mlx-lm-lora's DPO format with one chat template. */
export class PairEncoder {
  readonly keys: PreferenceKeys;
  private readonly enableThinking: boolean;
  private template: ChatTemplate | undefined;

  constructor(
    readonly tokenizer: Tokenizer,
    keys: Partial<PreferenceKeys> = {},
  ) {
    this.keys = { ...DEFAULT_PREFERENCE_KEYS, ...keys };
    this.enableThinking = vocabHasThinking(tokenizer);
  }

  private render(messages: ChatMessage[], tools: ToolSchema[] | null, addGenerationPrompt: boolean, where: string): number[] {
    if (!this.template) {
      try {
        this.template = ChatTemplate.forTokenizer(this.tokenizer);
      } catch (err) {
        throw new MlxLabError('E_DATA', `${where}: preference pairs need a chat template and the tokenizer has none (${(err as Error).message})`, { cause: err });
      }
    }
    try {
      return this.template.encode(messages, { tools, addGenerationPrompt, enableThinking: this.enableThinking });
    } catch (err) {
      if (err instanceof MlxLabError && err.code === 'E_DATA') throw err;
      throw new MlxLabError('E_DATA', `${where}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** One record as a pair; `where` (file:line) prefixes errors. */
  encode(record: Record<string, unknown>, where: string, line: number): PreferencePair {
    const k = this.keys;
    const prompt = text(record, k.prompt, where, 'the user turn');
    const chosen = text(record, k.chosen, where, 'the preferred reply');
    const rejected = text(record, k.rejected, where, 'the dispreferred reply');
    const system = record[k.system];
    if (system !== undefined && typeof system !== 'string') throw new MlxLabError('E_DATA', `${where}: "${k.system}" must be a string, got ${typeName(system)}`);
    const score = record[k.score] ?? 1;
    if (typeof score !== 'number' || !Number.isFinite(score)) throw new MlxLabError('E_DATA', `${where}: "${k.score}" must be a finite number, got ${typeName(score)}`);
    const tools = record.tools ?? null;
    if (tools !== null && (!Array.isArray(tools) || tools.some((t) => typeof t !== 'object' || t === null || Array.isArray(t)))) {
      throw new MlxLabError('E_DATA', `${where}: "tools" must be a list of tool schemas (objects), got ${typeName(tools)}`);
    }
    const base: ChatMessage[] = [...(system !== undefined ? [{ role: 'system', content: system }] : []), { role: 'user', content: prompt }];
    const side = (reply: string) => Int32Array.from(this.render([...base, { role: 'assistant', content: reply }], tools as ToolSchema[] | null, false, where));
    const pair = { chosen: side(chosen), rejected: side(rejected), prompt: this.render(base, tools as ToolSchema[] | null, true, where).length, score, line };
    for (const [name, tokens] of [['chosen', pair.chosen], ['rejected', pair.rejected]] as const) {
      if (tokens.length <= pair.prompt) throw new MlxLabError('E_DATA', `${where}: the ${name} reply renders to no tokens after the prompt (${tokens.length} tokens, prompt ${pair.prompt})`);
    }
    return pair;
  }
}

/** Tokenize parsed records as preference pairs. */
export function preferenceFromRecords(records: readonly JsonlRecord[], source: string, tokenizer: Tokenizer, keys: Partial<PreferenceKeys> = {}): PreferenceDataset {
  if (records.length === 0) throw new MlxLabError('E_DATA', `${source}: no preference pairs`);
  const encoder = new PairEncoder(tokenizer, keys);
  return new PreferenceDataset(
    source,
    records.map((r) => encoder.encode(r.value, `${r.source ?? source}:${r.line}`, r.line)),
  );
}

function kindOf(path: string): 'file' | 'dir' | undefined {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/** A data folder ({train,valid,test}.jsonl of pairs) or one JSONL file of pairs (the training set). */
export function loadPreferenceData(path: string, tokenizer: Tokenizer, keys: Partial<PreferenceKeys> = {}): PreferenceSplits {
  const kind = kindOf(path);
  if (kind === undefined) throw new MlxLabError('E_DATA', `${path}: data not found (expected a folder with train.jsonl of preference pairs, or a .jsonl file)`);
  if (kind === 'file') return { path, train: preferenceFromRecords(readJsonl(path), path, tokenizer, keys), valid: null, test: null };
  const splits: PreferenceSplits = { path, train: null, valid: null, test: null };
  for (const name of SPLIT_NAMES) {
    const file = join(path, `${name}.jsonl`);
    if (kindOf(file) === 'file') splits[name] = preferenceFromRecords(readJsonl(file), file, tokenizer, keys);
  }
  if (splits.train === null) throw new MlxLabError('E_DATA', `${path}: no train.jsonl (a data folder holds train.jsonl of preference pairs, and optionally valid.jsonl and test.jsonl)`);
  return splits;
}

/** One native preference batch: the chosen rows, then the rejected ones, truncated to maxSeqLength. */
export interface PreferenceBatch {
  tokens: Int32Array;
  pairs: number;
  promptLengths: Int32Array;
  completionLengths: Int32Array;
  preferenceScores: number[];
}

/** The pairs at `indices` as one batch, padded with 0 to the longest side (as iterate_dpo_batches). */
export function makePreferenceBatch(data: PreferenceDataset, indices: ArrayLike<number>, maxSeqLength: number): PreferenceBatch {
  const pairs = Array.from(indices, (i) => data.pairs[i]);
  const rows = [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)];
  const width = Math.max(...rows.map((r) => Math.min(r.length, maxSeqLength)));
  const tokens = new Int32Array(rows.length * width);
  const promptLengths = new Int32Array(rows.length);
  const completionLengths = new Int32Array(rows.length);
  rows.forEach((row, r) => {
    const pair = pairs[r % pairs.length];
    const n = Math.min(row.length, maxSeqLength);
    if (n <= pair.prompt) {
      throw new MlxLabError('E_DATA', `${data.source}:${pair.line}: the ${r < pairs.length ? 'chosen' : 'rejected'} reply starts at token ${pair.prompt}, at or after max_seq_length=${maxSeqLength}; raise max_seq_length or shorten the prompt`);
    }
    tokens.set(row.subarray(0, n), r * width);
    promptLengths[r] = pair.prompt;
    completionLengths[r] = n - pair.prompt;
  });
  return { tokens, pairs: pairs.length, promptLengths, completionLengths, preferenceScores: pairs.map((p) => p.score) };
}
