/**
 * Splits of a Hub dataset's files, as the `datasets` library names them: a file's split comes
 * from its name (`train-00000-of-00001.parquet` → train, `data/train_sft-…` → train_sft,
 * `valid.jsonl` → validation) or else its folder (`test/0000.parquet`); a file with none is
 * training data. Split expressions slice as `datasets` does: `train`, `train[:80%]`,
 * `train[-10%:]`, `test[10:200]` (percentages rounded half to even, as Python's round).
 */
import { MlxLabError } from '../core/errors.js';

/** The split keywords of the `datasets` library, by canonical split. */
const KEYWORDS: Record<string, readonly string[]> = {
  train: ['train', 'training'],
  validation: ['validation', 'valid', 'val', 'dev'],
  test: ['test', 'testing', 'eval', 'evaluation'],
};

/** The canonical split a name stands for (`valid` → validation), else the name itself. */
export function canonicalSplit(name: string): string {
  const lower = name.toLowerCase();
  for (const [split, words] of Object.entries(KEYWORDS)) if (words.includes(lower)) return split;
  return name;
}

/** The canonical split whose keyword is a word of `part` (split on `-`, `_`, `.`, spaces and digits). */
function keywordSplit(part: string): string | undefined {
  const words = part.toLowerCase().split(/[-_. 0-9]+/);
  for (const [split, keys] of Object.entries(KEYWORDS)) if (words.some((w) => keys.includes(w))) return split;
  return undefined;
}

/** The split of a data file from its path (see the module comment). */
export function splitOfFile(path: string): string {
  const parts = path.split('/');
  const base = parts[parts.length - 1];
  const sharded = /^(.+?)-\d{5}-of-\d{5}/.exec(base);
  if (sharded) return canonicalSplit(sharded[1]);
  const stem = base.replace(/\.[^.]+$/, '');
  const fromName = keywordSplit(stem);
  if (fromName) return fromName;
  for (const dir of parts.slice(0, -1).reverse()) {
    const fromDir = keywordSplit(dir);
    if (fromDir) return fromDir;
  }
  return 'train';
}

/** A parsed split expression: the split and the slice bounds as written. */
export interface SplitSpec {
  split: string;
  start?: Bound;
  end?: Bound;
}

interface Bound {
  value: number;
  percent: boolean;
}

const SPLIT_EXPR = /^([A-Za-z0-9_.-]+)(?:\[\s*([^:\]]*)\s*:\s*([^\]]*)\s*\])?$/;
const BOUND = /^(-?\d+)(%?)$/;

/** Parse `name` or `name[start:end]`; E_CONFIG naming `key` when malformed. */
export function parseSplit(expr: string, key: string): SplitSpec {
  const m = SPLIT_EXPR.exec(expr.trim());
  const bound = (s: string | undefined): Bound | undefined => {
    if (s === undefined || s.trim() === '') return undefined;
    const b = BOUND.exec(s.trim());
    if (!b) throw new MlxLabError('E_CONFIG', `${key}: "${expr}": a slice bound is an integer or a percentage (got "${s}")`);
    return { value: Number(b[1]), percent: b[2] === '%' };
  };
  if (!m) throw new MlxLabError('E_CONFIG', `${key}: "${expr}" is not a split (write a split name, optionally sliced: train, train[:80%], train[-10%:], test[10:200])`);
  return { split: m[1], start: bound(m[2]), end: bound(m[3]) };
}

/** Python's round (half to even). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The absolute index of a bound over `n` rows (negative counts from the end, clamped to [0, n]). */
function absolute(b: Bound | undefined, n: number, fallback: number): number {
  if (!b) return fallback;
  const v = b.percent ? roundHalfEven((b.value * n) / 100) : b.value;
  return Math.min(n, Math.max(0, v < 0 ? n + v : v));
}

/** The [start, end) rows a split spec selects of `n`. */
export function sliceRange(spec: SplitSpec, n: number): [number, number] {
  const start = absolute(spec.start, n, 0);
  return [start, Math.max(start, absolute(spec.end, n, n))];
}
