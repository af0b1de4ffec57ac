/**
 * Statistics over per-case scores: the mean with a Wilson 95% score interval, a per-category
 * breakdown and failure-class counts.
 *
 * The Wilson interval is for a binomial proportion; our per-case scores are in [0, 1] and may be
 * fractional (the rubric's 0.5). We treat the score sum as the number of successes out of n
 * cases — a 0.5 counts as half a success — and compute the Wilson interval of that proportion.
 * For 0/1 scores this is exactly the binomial Wilson interval; with fractional scores it is an
 * approximation (the per-case variance of a 0.5 is smaller than a coin flip's, so the interval is
 * a little conservative), which is what we want for comparing runs and seeds.
 *
 * With weights, the mean is the weighted mean and n is Kish's effective sample size
 * (Σw)² / Σw², which equals the case count when all weights are equal.
 *
 * Also the descriptive statistics over runs that sweeps and reports show (for example the best
 * format score of each seed): count, mean, sample standard deviation, min, median and max. The
 * standard deviation is the sample one (divides by n - 1): a sweep's seeds are a sample of the
 * seeds one could have drawn. One value has a standard deviation of 0.
 */
import type { FailureClass } from './scorers.js';
import { FAILURE_CLASSES } from './scorers.js';

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/**
 * Wilson score interval for `successes` out of `n` (successes may be fractional). n = 0 gives
 * [0, 1].
 */
export function wilsonInterval(successes: number, n: number, z: number = Z95): Interval {
  if (!(n > 0)) return { low: 0, high: 1 };
  if (!(successes >= 0 && successes <= n)) throw new RangeError(`successes must be in [0, n] (got ${successes} of ${n})`);
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return {
    low: successes === 0 ? 0 : Math.max(0, center - half),
    high: successes === n ? 1 : Math.min(1, center + half),
  };
}

export interface MeanSummary extends Interval {
  /** Number of cases. */
  n: number;
  /** Mean score (weighted when weights are given); NaN when n = 0. */
  mean: number;
}

/** Mean of scores in [0, 1] with its Wilson 95% interval (see the file comment). */
export function meanInterval(scores: readonly number[], weights?: readonly number[], z: number = Z95): MeanSummary {
  const n = scores.length;
  if (n === 0) return { n: 0, mean: Number.NaN, low: 0, high: 1 };
  for (const s of scores) if (!(s >= 0 && s <= 1)) throw new RangeError(`scores must be in [0, 1] (got ${s})`);
  if (!weights) {
    const sum = scores.reduce((a, b) => a + b, 0);
    return { n, mean: sum / n, ...wilsonInterval(sum, n, z) };
  }
  if (weights.length !== n) throw new RangeError(`got ${weights.length} weights for ${n} scores`);
  let sw = 0;
  let sw2 = 0;
  let sws = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i];
    if (!(w > 0)) throw new RangeError(`weights must be > 0 (got ${w})`);
    sw += w;
    sw2 += w * w;
    sws += w * scores[i];
  }
  const mean = sws / sw;
  const nEff = (sw * sw) / sw2;
  return { n, mean, ...wilsonInterval(mean * nEff, nEff, z) };
}

/** One scored case, as the summaries need it. */
export interface CaseScore {
  id: string;
  category: string;
  score: number;
  failure: FailureClass | null;
  weight?: number;
}

export interface CategorySummary extends MeanSummary {
  category: string;
}

export interface ScoreSummary extends MeanSummary {
  /** Per category, in order of first appearance. */
  categories: CategorySummary[];
  /** How many cases failed with each class (every class present, zeros included). */
  failures: Record<FailureClass, number>;
  /** Cases scoring 1, strictly between 0 and 1, and 0. */
  distribution: { full: number; partial: number; zero: number };
}

/** Mean, interval, per-category breakdown and failure counts of a set of case scores. */
export function summarizeScores(results: readonly CaseScore[], z: number = Z95): ScoreSummary {
  const weighted = results.some((r) => r.weight !== undefined && r.weight !== 1);
  const weightsOf = (rs: readonly CaseScore[]) => (weighted ? rs.map((r) => r.weight ?? 1) : undefined);
  const overall = meanInterval(
    results.map((r) => r.score),
    weightsOf(results),
    z,
  );
  const byCategory = new Map<string, CaseScore[]>();
  for (const r of results) {
    const list = byCategory.get(r.category);
    if (list) list.push(r);
    else byCategory.set(r.category, [r]);
  }
  const categories: CategorySummary[] = [...byCategory].map(([category, rs]) => ({
    category,
    ...meanInterval(
      rs.map((r) => r.score),
      weightsOf(rs),
      z,
    ),
  }));
  const failures = Object.fromEntries(FAILURE_CLASSES.map((f) => [f, 0])) as Record<FailureClass, number>;
  const distribution = { full: 0, partial: 0, zero: 0 };
  for (const r of results) {
    if (r.failure !== null) failures[r.failure] += 1;
    if (r.score >= 1) distribution.full += 1;
    else if (r.score > 0) distribution.partial += 1;
    else distribution.zero += 1;
  }
  return { ...overall, categories, failures, distribution };
}

/** The spread of some values (the field names are sweep.json's). */
export interface Distribution {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); 0 for a single value. */
  std: number;
  min: number;
  median: number;
  max: number;
}

/** The arithmetic mean; NaN for no values. */
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

/** The smallest value; NaN for none. */
export function min(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.min(...values);
}

/** The largest value; NaN for none. */
export function max(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.max(...values);
}

/** The median (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The distribution of some values; undefined for none (JSON has no NaN: sweep.json writes null). */
export function describeValues(values: readonly number[]): Distribution | undefined {
  if (values.length === 0) return undefined;
  return { n: values.length, mean: mean(values), std: std(values), min: min(values), median: median(values), max: max(values) };
}

/** The distribution of the finite values among `values`; n 0 and NaNs when there are none (for display). */
export function distribution(values: readonly number[]): Distribution {
  const finite = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  return describeValues(finite) ?? { n: 0, mean: Number.NaN, std: Number.NaN, min: Number.NaN, median: Number.NaN, max: Number.NaN };
}
