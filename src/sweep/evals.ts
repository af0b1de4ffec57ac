/**
 * A run's format evals as sweeps and reports rank them, shared by sweep/ (sweep.json, the
 * terminal lines) and report/ (the pages, the summaries): the best eval, the lock threshold, and
 * the point of an eval that sweep.json writes.
 */
import type { FormatRecord } from '../run/manifest.js';

/** A run "locked the format" when its best format score is at least this (unless told otherwise). */
export const DEFAULT_LOCK_THRESHOLD = 0.8;

/** One format eval of a run, as sweep.json writes it (the field names are the file's). */
export interface EvalPoint {
  step: number;
  score: number;
  /** Wilson 95% interval of the score. */
  low: number;
  high: number;
  valLoss: number | null;
}

/** An eval as far as ranking needs it. */
interface Ranked {
  iteration: number;
  score: number;
  valLoss?: number;
}

/** The best eval: highest score, ties by lower val loss, then the earlier step (selection's order); evals without a finite score never win. */
export function bestEval<T extends Ranked>(evals: readonly T[]): T | undefined {
  return evals
    .filter((e) => Number.isFinite(e.score))
    .sort((a, b) => b.score - a.score || (a.valLoss ?? Infinity) - (b.valLoss ?? Infinity) || a.iteration - b.iteration)[0];
}

/** Whether a run whose best eval is `best` locked the format. */
export function lockedFormat(best: { score: number } | null | undefined, threshold: number): boolean {
  return best !== null && best !== undefined && best.score >= threshold;
}

/** An eval record as sweep.json's point. */
export function evalPoint(r: FormatRecord): EvalPoint {
  return { step: r.iteration, score: r.score, low: r.low, high: r.high, valLoss: r.valLoss ?? null };
}
