/**
 * Batching as mlx-lm's `iterate_batches` (mlx_lm/tuner/trainer.py, 0.32):
 *
 * - Examples are sorted by length (a stable sort, ties in file order) and cut into batches of
 *   `batch_size` consecutive examples; the remainder (fewer than batch_size) is left out.
 * - Each epoch visits the batches in a random order: a permutation of the batch indices drawn
 *   at the start of the epoch from a seeded PRNG (our MT19937, see random.ts, which reproduces
 *   numpy's legacy `np.random.seed(seed); np.random.permutation(n)`).
 * - A batch is padded with token id 0 to `1 + 32·ceil(longest/32)` columns, capped at
 *   `max_seq_length`; rows longer than `max_seq_length` are truncated to it (mlx-lm prints a
 *   warning per batch; we warn once per iterator, with counts). `lengths` are the row lengths
 *   after truncation; `offsets` the prompt tokens to mask (not adjusted by truncation, as in
 *   mlx-lm). The loss then covers target positions t (1-based, over tokens[1:]) with
 *   offset ≤ t ≤ length, like mlx-lm's default_loss.
 * - A dataset with fewer examples than batch_size is an error (mlx-lm raises too).
 *
 * Deliberate differences:
 * - sortBy 'tokens' (default) sorts by token count, as mlx-lm intends. mlx-lm 0.32 actually
 *   sorts its CacheDataset by `len(record)`, the number of keys of each JSON object (issue
 *   ml-explore/mlx-lm#596), which leaves batches in file order for uniform data; sortBy 'keys'
 *   reproduces that, for batch compositions identical to mlx-lm's.
 * - The order of later epochs equals mlx-lm's only while nothing else draws from numpy's global
 *   generator: mlx-lm's validation draws from the same stream, so with a validation set its
 *   epochs ≥ 2 differ from ours (the first epoch's order is drawn before any validation).
 * - Validation/test batches (evalBatches): mlx-lm draws a new random order from the global
 *   generator at every evaluation, so with val_batches < all batches each evaluation sees a
 *   different subset. We use one fixed seeded order, so successive validation losses are
 *   measured on the same batches and are comparable.
 */
import { MlxLabError } from '../core/errors.js';
import { Mt19937, type Mt19937State } from './random.js';
import type { Dataset } from './dataset.js';

/** Columns are padded to one plus a multiple of this (mlx-lm's pad_to). */
export const PAD_TO = 32;
/** The token id of padding (mlx-lm pads with zeros; padded positions are masked in the loss). */
export const PAD_ID = 0;

/** One batch, in the layout the native trainer takes. */
export interface Batch {
  /** Token ids, row-major [batch × length], padded with PAD_ID. */
  tokens: Int32Array;
  /** Rows (B). */
  batch: number;
  /** Columns (L). */
  length: number;
  /** Tokens per row before padding (after truncation to max_seq_length). */
  lengths: Int32Array;
  /** Prompt tokens to leave out of the loss, per row (0 when mask_prompt is off). */
  offsets: Int32Array;
  /** Dataset index of each row. */
  indices: Int32Array;
}

/** How examples are ordered before cutting batches (see the module comment). */
export type SortBy = 'tokens' | 'keys';

export interface BatchOptions {
  batchSize: number;
  maxSeqLength: number;
  /** Default 'tokens'. */
  sortBy?: SortBy;
  /** Receives the truncation warning; default console.warn. */
  onWarning?: (message: string) => void;
}

export interface BatchIteratorOptions extends BatchOptions {
  /** PRNG seed of the batch order (the config's seed). Default 0. */
  seed?: number;
  /** Start a new epoch after the last batch (training); false stops after one. Default true. */
  loop?: boolean;
}

/** Everything needed to continue an iterator exactly where it was (plain JSON). */
export interface BatchIteratorState {
  version: 1;
  batchSize: number;
  maxSeqLength: number;
  seed: number;
  loop: boolean;
  sortBy: SortBy;
  /** The data it was iterating, to check on restore. */
  dataset: { length: number; fingerprint: string };
  /** Epochs completed. */
  epoch: number;
  /** Batches already taken in the current epoch. */
  position: number;
  /** PRNG state at the start of the current epoch (before its permutation was drawn). */
  rng: Mt19937State;
}

function checkOptions(batchSize: number, maxSeqLength: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new MlxLabError('E_ARGUMENT', `batch_size must be an integer ≥ 1 (got ${batchSize})`);
  if (!Number.isInteger(maxSeqLength) || maxSeqLength < 1) {
    throw new MlxLabError('E_ARGUMENT', `max_seq_length must be an integer ≥ 1 (got ${maxSeqLength})`);
  }
}

/** Pad and truncate the given examples of a dataset into one batch, as mlx-lm. */
export function makeBatch(dataset: Dataset, indices: readonly number[], maxSeqLength: number): Batch {
  const rows = indices.length;
  if (rows === 0) throw new MlxLabError('E_ARGUMENT', 'makeBatch: no examples');
  let longest = 0;
  for (const i of indices) longest = Math.max(longest, dataset.examples[i].tokens.length);
  const width = Math.min(1 + PAD_TO * Math.ceil(longest / PAD_TO), maxSeqLength);
  const tokens = new Int32Array(rows * width);
  if (PAD_ID !== 0) tokens.fill(PAD_ID);
  const lengths = new Int32Array(rows);
  const offsets = new Int32Array(rows);
  indices.forEach((index, r) => {
    const ex = dataset.examples[index];
    const n = Math.min(ex.tokens.length, maxSeqLength);
    tokens.set(ex.tokens.subarray(0, n), r * width);
    lengths[r] = n;
    offsets[r] = ex.offset;
  });
  return { tokens, batch: rows, length: width, lengths, offsets, indices: Int32Array.from(indices) };
}

/** Batches per epoch: whole batches only, as mlx-lm. */
export function batchCount(datasetLength: number, batchSize: number): number {
  return Math.floor(datasetLength / batchSize);
}

/** Example indices of each batch, in sorted order (mlx-lm's batch_idx). */
export function sortedBatchIndices(dataset: Dataset, batchSize: number, sortBy: SortBy = 'tokens'): number[][] {
  if (dataset.length < batchSize) {
    throw new MlxLabError(
      'E_DATA',
      `${dataset.source}: batch_size=${batchSize} is larger than the dataset (${dataset.length} example${dataset.length === 1 ? '' : 's'}); a batch needs at least batch_size examples`,
    );
  }
  const key = sortBy === 'keys' ? (i: number) => dataset.examples[i].keys : (i: number) => dataset.examples[i].tokens.length;
  // Array.prototype.sort is stable: ties keep file order, as Python's sorted().
  const order = Array.from({ length: dataset.length }, (_, i) => i).sort((a, b) => key(a) - key(b));
  const out: number[][] = [];
  for (let i = 0; i + batchSize <= order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

/** The truncation warning for these batches, or undefined when nothing is truncated. */
function truncationWarning(dataset: Dataset, batches: readonly number[][], maxSeqLength: number): { message: string; count: number } | undefined {
  let count = 0;
  let total = 0;
  let longest = 0;
  for (const b of batches) {
    for (const i of b) {
      total++;
      const n = dataset.examples[i].tokens.length;
      if (n > maxSeqLength) {
        count++;
        longest = Math.max(longest, n);
      }
    }
  }
  if (count === 0) return undefined;
  return {
    count,
    message:
      `${dataset.source}: ${count} of ${total} examples are longer than max_seq_length=${maxSeqLength} tokens ` +
      `(the longest has ${longest}); they are truncated to ${maxSeqLength} tokens. Consider pre-splitting your data to save memory.`,
  };
}

const defaultWarn = (message: string) => console.warn(`warning: ${message}`);

/**
 * Training batches, epoch after epoch, in mlx-lm's order. `state()` / `BatchIterator.restore()`
 * continue exactly where it was (same batches, same order).
 */
export class BatchIterator implements IterableIterator<Batch> {
  readonly batchSize: number;
  readonly maxSeqLength: number;
  readonly seed: number;
  readonly loop: boolean;
  readonly sortBy: SortBy;
  /** Examples of this dataset longer than max_seq_length (truncated in their batches). */
  readonly truncated: number;
  private readonly batches: number[][];
  private readonly fingerprint: string;
  private rng: Mt19937;
  private epochStart: Mt19937State;
  private order: number[] | null = null;
  private epochs = 0;
  private pos = 0;

  constructor(
    readonly dataset: Dataset,
    options: BatchIteratorOptions,
  ) {
    checkOptions(options.batchSize, options.maxSeqLength);
    this.batchSize = options.batchSize;
    this.maxSeqLength = options.maxSeqLength;
    this.seed = options.seed ?? 0;
    this.loop = options.loop ?? true;
    this.sortBy = options.sortBy ?? 'tokens';
    this.batches = sortedBatchIndices(dataset, this.batchSize, this.sortBy);
    this.fingerprint = dataset.fingerprint();
    this.rng = new Mt19937(this.seed);
    this.epochStart = this.rng.state();
    const warning = truncationWarning(dataset, this.batches, this.maxSeqLength);
    this.truncated = warning?.count ?? 0;
    if (warning) (options.onWarning ?? defaultWarn)(warning.message);
  }

  /** Continue from a saved state, over the same data (checked by its fingerprint). */
  static restore(dataset: Dataset, state: BatchIteratorState, options: { onWarning?: (message: string) => void } = {}): BatchIterator {
    if (state?.version !== 1) throw new MlxLabError('E_DATA', 'cannot restore the batch iterator: unknown state version');
    if (state.dataset.length !== dataset.length || state.dataset.fingerprint !== dataset.fingerprint()) {
      throw new MlxLabError(
        'E_DATA',
        `${dataset.source}: the data changed since the checkpoint (${state.dataset.length} examples, fingerprint ${state.dataset.fingerprint}; now ${dataset.length}, ${dataset.fingerprint()}): cannot resume the same batches`,
      );
    }
    const it = new BatchIterator(dataset, { ...state, onWarning: options.onWarning });
    if (!Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.position) || state.position < 0 || state.position >= it.batches.length) {
      throw new MlxLabError('E_DATA', `cannot restore the batch iterator: bad position (epoch ${state.epoch}, batch ${state.position})`);
    }
    it.rng = Mt19937.fromState(state.rng);
    it.epochStart = state.rng;
    it.epochs = state.epoch;
    it.pos = state.position;
    it.order = null;
    return it;
  }

  /** The position, as plain JSON, for a checkpoint. */
  state(): BatchIteratorState {
    return {
      version: 1,
      batchSize: this.batchSize,
      maxSeqLength: this.maxSeqLength,
      seed: this.seed,
      loop: this.loop,
      sortBy: this.sortBy,
      dataset: { length: this.dataset.length, fingerprint: this.fingerprint },
      epoch: this.epochs,
      position: this.pos,
      rng: this.order === null ? this.rng.state() : structuredClone(this.epochStart),
    };
  }

  get batchesPerEpoch(): number {
    return this.batches.length;
  }

  /** Epochs completed. */
  get epoch(): number {
    return this.epochs;
  }

  /** Batches taken in the current epoch. */
  get position(): number {
    return this.pos;
  }

  get done(): boolean {
    return !this.loop && this.epochs >= 1;
  }

  next(): IteratorResult<Batch, undefined> {
    if (this.done) return { done: true, value: undefined };
    if (this.order === null) {
      this.epochStart = this.rng.state();
      this.order = this.rng.permutation(this.batches.length);
    }
    const indices = this.batches[this.order[this.pos]];
    this.pos++;
    if (this.pos === this.batches.length) {
      this.epochs++;
      this.pos = 0;
      this.order = null;
    }
    return { done: false, value: makeBatch(this.dataset, indices, this.maxSeqLength) };
  }

  [Symbol.iterator](): BatchIterator {
    return this;
  }
}

export interface EvalBatchOptions extends BatchOptions {
  /** Batches to use: -1 all (mlx-lm's val_batches / test_batches semantics). */
  numBatches: number;
  /** Seed of the fixed order. Default 0. */
  seed?: number;
}

/** How many batches an evaluation uses (mlx-lm: len // batch_size, capped by num_batches unless -1). */
export function evalBatchCount(datasetLength: number, batchSize: number, numBatches: number): number {
  const all = batchCount(datasetLength, batchSize);
  return numBatches === -1 ? all : Math.min(all, numBatches);
}

/**
 * The validation (or test) batches: the first `numBatches` batches (all with -1) of one fixed
 * seeded order, the same at every call (see the module comment for why it is fixed).
 */
export function evalBatches(dataset: Dataset, options: EvalBatchOptions): Batch[] {
  checkOptions(options.batchSize, options.maxSeqLength);
  if (!Number.isInteger(options.numBatches) || (options.numBatches < 1 && options.numBatches !== -1)) {
    throw new MlxLabError('E_ARGUMENT', `the number of evaluation batches must be ≥ 1 or -1 for all (got ${options.numBatches})`);
  }
  const batches = sortedBatchIndices(dataset, options.batchSize, options.sortBy ?? 'tokens');
  const order = new Mt19937(options.seed ?? 0).permutation(batches.length);
  const count = evalBatchCount(dataset.length, options.batchSize, options.numBatches);
  const chosen = order.slice(0, count).map((b) => batches[b]);
  const warning = truncationWarning(dataset, chosen, options.maxSeqLength);
  if (warning) (options.onWarning ?? defaultWarn)(warning.message);
  return chosen.map((indices) => makeBatch(dataset, indices, options.maxSeqLength));
}
