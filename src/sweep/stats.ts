/**
 * Descriptive statistics over a sweep's runs (for example the best format score of each seed):
 * count, mean, sample standard deviation, min, median and max. Wilson intervals (per eval, and for
 * the share of runs that locked the format) come from src/eval/stats.ts.
 *
 * The standard deviation is the sample one (divides by n - 1): a sweep's seeds are a sample of the
 * seeds one could have drawn. One value has a standard deviation of 0.
 */

export interface Distribution {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); 0 for a single value. */
  std: number;
  min: number;
  median: number;
  max: number;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Standard deviation; `sample` (default true) divides by n - 1, else by n. 0 for fewer than two values. */
export function std(values: readonly number[], options: { sample?: boolean } = {}): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  if (n === 1) return 0;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (options.sample === false ? n : n - 1));
}

export function min(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.min(...values);
}

export function max(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.max(...values);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The distribution of some values; undefined for none (JSON has no NaN). */
export function describeValues(values: readonly number[]): Distribution | undefined {
  if (values.length === 0) return undefined;
  return { n: values.length, mean: mean(values), std: std(values), min: min(values), median: median(values), max: max(values) };
}
