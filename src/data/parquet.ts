/**
 * Parquet files of Hub datasets as records, read with hyparquet (pure JS; snappy built in, and
 * gzip, zstd, brotli, lz4 from hyparquet-compressors). Values become JSON-like: 64-bit integers
 * as numbers (or strings past 2^53), dates as ISO strings, nested lists and structs as arrays
 * and objects, so the chat, completions and text formats read them as they read JSONL.
 */
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { MlxLabError } from '../core/errors.js';
import { readRegularFile } from '../core/files.js';
import type { JsonlRecord } from './jsonl.js';

/** A parquet value as a JSON-like value. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** The rows of a Parquet file as records (line = 1-based row); E_DATA naming the file when it cannot be read. */
export async function readParquet(path: string): Promise<JsonlRecord[]> {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(path);
  } catch (err) {
    throw new MlxLabError('E_DATA', `${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let rows: Record<string, unknown>[];
  try {
    const metadata = parquetMetadata(file);
    rows = await parquetReadObjects({ file, metadata, compressors });
  } catch (err) {
    throw new MlxLabError('E_DATA', `${path}: not a readable Parquet file (${(err as Error).message})`, { cause: err });
  }
  return rows.map((row, i) => ({ line: i + 1, value: plain(row) as Record<string, unknown> }));
}
