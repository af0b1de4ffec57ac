/**
 * Datasets: a data folder with train.jsonl / valid.jsonl / test.jsonl (mlx-lm's layout) or a
 * single JSONL file (used as the training set), each file tokenized up front.
 *
 * As mlx-lm's load_local_dataset: missing valid.jsonl or test.jsonl is allowed (no validation /
 * no test); a missing train.jsonl is an error when training. Unlike mlx-lm (which tokenizes
 * lazily and fails with an IndexError on an empty file), every example is tokenized at load, so
 * every data error surfaces before training starts, and an empty file is an error naming it.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { TrainConfig } from '../config/config.js';
import { parseJsonl, readJsonl, type JsonlRecord } from './jsonl.js';
import { ExampleEncoder, type DataFormat, type DataOptions } from './formats.js';

/** One tokenized example. */
export interface Example {
  tokens: Int32Array;
  /** Prompt tokens to leave out of the loss (0 unless mask_prompt). */
  offset: number;
  /** 1-based line in its file. */
  line: number;
  /** Number of keys of its JSON record (mlx-lm 0.32's effective sort key, see BatchIterator). */
  keys: number;
}

export class Dataset {
  constructor(
    /** Where the examples came from (a file path, or a name for in-memory records). */
    readonly source: string,
    readonly format: DataFormat,
    readonly examples: readonly Example[],
  ) {}

  get length(): number {
    return this.examples.length;
  }

  /** Tokens per example. */
  lengths(): Int32Array {
    return Int32Array.from(this.examples, (e) => e.tokens.length);
  }

  /** Total tokens. */
  tokenCount(): number {
    let n = 0;
    for (const e of this.examples) n += e.tokens.length;
    return n;
  }

  /**
   * The leading tokens every example starts with (a shared system prompt and tools), when there
   * are at least `minimum` of them. The trainer runs the frozen layers below the adapter on them
   * once instead of once per example.
   */
  sharedPrefix(minimum = 32): Int32Array | undefined {
    if (this.examples.length < 2) return undefined;
    const first = this.examples[0].tokens;
    let n = first.length - 1;
    for (const e of this.examples) {
      n = Math.min(n, e.tokens.length - 1);
      let i = 0;
      while (i < n && e.tokens[i] === first[i]) i++;
      n = i;
      if (n < minimum) return undefined;
    }
    return first.slice(0, n);
  }

  /**
   * A short hash of the tokenized examples (FNV-1a over lengths, offsets and tokens), stored with
   * an iterator's state so a resumed run can check that it reads the same data.
   */
  fingerprint(): string {
    let h = 0x811c9dc5;
    const mix = (x: number) => {
      for (let s = 0; s < 32; s += 8) {
        h ^= (x >>> s) & 0xff;
        h = Math.imul(h, 0x01000193);
      }
    };
    mix(this.examples.length);
    for (const e of this.examples) {
      mix(e.tokens.length);
      mix(e.offset);
      for (const t of e.tokens) mix(t);
    }
    return (h >>> 0).toString(16).padStart(8, '0');
  }
}

/** Tokenize parsed JSONL records (the format is taken from the first). */
export function datasetFromRecords(records: readonly JsonlRecord[], source: string, tokenizer: Tokenizer, options: DataOptions = {}): Dataset {
  if (records.length === 0) throw new MlxLabError('E_DATA', `${source}: no examples`);
  const encoder = new ExampleEncoder(tokenizer, options);
  const first = records[0];
  const format = encoder.detect(first.value, `${first.source ?? source}:${first.line}`);
  const examples: Example[] = [];
  for (const { line, value, source: file } of records) {
    const where = `${file ?? source}:${line}`;
    encoder.checkKeys(value, format, where, first.line);
    const { tokens, offset } = encoder.encode(value, format, where);
    examples.push({ tokens: Int32Array.from(tokens), offset, line, keys: Object.keys(value).length });
  }
  return new Dataset(source, format, examples);
}

/** Tokenize JSONL text (`source` names it in errors). */
export function parseDataset(text: string, source: string, tokenizer: Tokenizer, options: DataOptions = {}): Dataset {
  return datasetFromRecords(parseJsonl(text, source), source, tokenizer, options);
}

/** Load and tokenize one JSONL file. */
export function loadDatasetFile(path: string, tokenizer: Tokenizer, options: DataOptions = {}): Dataset {
  return datasetFromRecords(readJsonl(path), path, tokenizer, options);
}

export const SPLIT_NAMES = ['train', 'valid', 'test'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

export interface DataSplits {
  /** The folder (or file) loaded. */
  path: string;
  train: Dataset | null;
  valid: Dataset | null;
  test: Dataset | null;
}

export interface LoadDataOptions extends DataOptions {
  /** Fail without a training set (default true). */
  requireTrain?: boolean;
  /** Fail without a test set (default false; mlx-lm requires one with --test). */
  requireTest?: boolean;
}

function kindOf(path: string): 'file' | 'dir' | undefined {
  try {
    const s = statSync(path);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/**
 * Load a data folder ({train,valid,test}.jsonl; the missing ones are null) or one JSONL file
 * (the training set). Hub dataset ids are read by loadDataArg / loadHubDataset (src/data/load.ts).
 */
export function loadData(path: string, tokenizer: Tokenizer, options: LoadDataOptions = {}): DataSplits {
  const kind = kindOf(path);
  const requireTrain = options.requireTrain ?? true;
  if (kind === undefined) {
    throw new MlxLabError(
      'E_DATA',
      `${path}: data not found (expected a folder with train.jsonl, valid.jsonl, test.jsonl, a .jsonl file, or a Hub dataset id org/name[@revision])`,
    );
  }
  if (kind === 'file') {
    if (options.requireTest) throw new MlxLabError('E_DATA', `${path}: a test set needs a data folder with test.jsonl (a single file is the training set)`);
    return { path, train: loadDatasetFile(path, tokenizer, options), valid: null, test: null };
  }
  const splits: DataSplits = { path, train: null, valid: null, test: null };
  for (const name of SPLIT_NAMES) {
    const file = join(path, `${name}.jsonl`);
    if (kindOf(file) === 'file') splits[name] = loadDatasetFile(file, tokenizer, options);
  }
  if (requireTrain && splits.train === null) {
    throw new MlxLabError('E_DATA', `${path}: no train.jsonl (a data folder holds train.jsonl, and optionally valid.jsonl and test.jsonl)`);
  }
  if (options.requireTest && splits.test === null) {
    throw new MlxLabError('E_DATA', `${path}: no test.jsonl (needed to evaluate on the test set)`);
  }
  return splits;
}

/** The data options a training config implies (mask_prompt and the feature keys). */
export function dataOptionsFromConfig(config: Pick<TrainConfig, 'mask_prompt' | 'prompt_feature' | 'completion_feature' | 'chat_feature' | 'text_feature'>): DataOptions {
  return {
    maskPrompt: config.mask_prompt,
    features: {
      prompt: config.prompt_feature,
      completion: config.completion_feature,
      chat: config.chat_feature,
      text: config.text_feature,
    },
  };
}
