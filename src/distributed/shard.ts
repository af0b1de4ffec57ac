/**
 * Data parallelism splits every batch by rows: rank r of N trains on rows [r·B/N, (r+1)·B/N) of
 * the batch all ranks draw in the same order (same data, same seed). The columns stay as the
 * whole batch padded them, so every row is computed exactly as in one process with the whole
 * batch, and N shards together are that batch.
 */
import type { Batch } from '../data/batches.js';
import type { Group } from './group.js';

/** This rank's rows of a batch (the batch itself for a group of one). */
export function shardBatch(batch: Batch, group: Pick<Group, 'rank' | 'size'>): Batch {
  if (group.size === 1) return batch;
  const rows = batch.batch / group.size;
  const from = group.rank * rows;
  const to = from + rows;
  return {
    tokens: batch.tokens.slice(from * batch.length, to * batch.length),
    batch: rows,
    length: batch.length,
    lengths: batch.lengths.slice(from, to),
    offsets: batch.offsets.slice(from, to),
    indices: batch.indices.slice(from, to),
  };
}
