/**
 * The sweep report (`<adapter_path>/sweep.json`): one summary per run — best format score and its
 * step with the eval's Wilson 95% interval, the selected checkpoint, the val loss there, the
 * failure-class mix at the selected eval, the stop reason, the run folder — and, over the runs,
 * the distribution of the best scores (mean, std, min, median, max), which runs "locked the
 * format" (best score ≥ the lock threshold) with a Wilson interval for the lock rate, and the same
 * per grid point when there is a grid.
 *
 * Distributions and lock counts are over the runs that finished (stopped by completion or by
 * early stopping); an interrupted or failed run is listed but not counted.
 */
import type { ExperimentResult } from '../run/experiment.js';
import type { LintWarning } from '../eval/lint.js';
import { describeValues, wilsonInterval, type Distribution } from '../eval/stats.js';
import type { Metric, SelectionRule } from '../config/config.js';
import type { StopReason } from '../train/loop.js';
import type { SweepRunPlan } from './plan.js';
import { RUN_FILES } from '../run/run-dir.js';
import { bestEval, evalPoint, lockedFormat, type EvalPoint } from './evals.js';

/** The sweep report's file name in the sweep folder. */
export const SWEEP_REPORT = RUN_FILES.sweep;

export type RunStatus = 'completed' | 'interrupted' | 'failed';

export interface SweepRunSummary {
  name: string;
  seed: number;
  grid: Record<string, unknown>;
  /** The run's adapter folder (with run.json, metrics.jsonl, checkpoints). */
  runDir: string;
  /** Its run.json, when it was written. */
  manifest: string | null;
  /** completed: trained to the end or stopped early; interrupted: Ctrl-C; failed: an error. */
  status: RunStatus;
  stopReason: StopReason | null;
  stopMessage: string | null;
  /** The last step trained. */
  iterations: number;
  /** The best format eval (baseline at step 0 included); ties: lower val loss, then earlier step. */
  best: EvalPoint | null;
  /** The selected checkpoint and the format eval at its step. */
  selected: (Partial<EvalPoint> & { step: number; metric: Metric; rule: SelectionRule; reason: string }) | null;
  valLossAtSelection: number | null;
  /** Failure classes at the selected checkpoint's eval (else the best eval's): class → cases. */
  failures: Record<string, number>;
  /** The step the failures were counted at. */
  failuresStep: number | null;
  /** best.score ≥ the lock threshold. */
  locked: boolean;
  /** The last training loss (micro-batch) of the run. */
  finalTrainLoss: number | null;
  seconds: number;
  error?: string;
}

export interface LockSummary {
  /** Names of the runs that locked the format. */
  runs: string[];
  count: number;
  /** Finished runs counted. */
  n: number;
  rate: number | null;
  /** Wilson 95% interval of the lock rate. */
  low: number;
  high: number;
}

export interface SweepDistributions {
  /** Finished runs counted. */
  n: number;
  /** Best format score of each run. */
  bestScore: Distribution | null;
  /** Format score at each run's selected checkpoint. */
  selectedScore: Distribution | null;
  /** Val loss at each run's selected checkpoint. */
  valLossAtSelection: Distribution | null;
  locked: LockSummary;
}

export interface SweepGroup extends SweepDistributions {
  grid: Record<string, unknown>;
  /** All runs of this grid point (one per seed). */
  runNames: string[];
}

export interface SweepReport {
  version: 1;
  /** running: written after each run; completed; interrupted: Ctrl-C stopped it. */
  status: 'running' | 'completed' | 'interrupted';
  startedAt: string;
  finishedAt: string | null;
  /** The config file, when there was one. */
  configFile: string | null;
  model: string | null;
  data: string | null;
  suite: string | null;
  adapterPath: string;
  lockThreshold: number;
  seeds: number[];
  grid: Record<string, unknown[]>;
  /** How many times a base model was loaded (1 for a sweep over one model; 0 when one was passed in). */
  modelLoads: number;
  /** Lint warnings found before the first run. */
  lint: LintWarning[];
  /** Every planned run, in order (runs not reached are absent from `runs`). */
  plan: { name: string; seed: number; grid: Record<string, unknown> }[];
  runs: SweepRunSummary[];
  /** Over all finished runs (the seeds, and grid points if any). */
  summary: SweepDistributions;
  /** Per grid point, over its seeds (only with a grid). */
  groups: SweepGroup[];
  /** Present when the runs were spread over the ranks of a distributed group. */
  distributed?: { ranks: number; backend: string };
}

/** A run's summary from its experiment result (or the error that ended it). */
export function summarizeRun(
  plan: SweepRunPlan,
  outcome: { result: ExperimentResult; seconds: number } | { error: Error; interrupted: boolean; seconds: number },
  lockThreshold: number,
): SweepRunSummary {
  const base = { name: plan.name, seed: plan.seed, grid: plan.grid, runDir: plan.config.adapter_path };
  if ('error' in outcome) {
    return {
      ...base,
      manifest: null,
      status: outcome.interrupted ? 'interrupted' : 'failed',
      stopReason: outcome.interrupted ? 'aborted' : null,
      stopMessage: null,
      iterations: 0,
      best: null,
      selected: null,
      valLossAtSelection: null,
      failures: {},
      failuresStep: null,
      locked: false,
      finalTrainLoss: null,
      seconds: outcome.seconds,
      error: outcome.error.message,
    };
  }
  const r = outcome.result;
  const evals = r.manifest.evals;
  const bestRecord = bestEval(evals);
  const sel = r.selection;
  const selStep = sel?.checkpoint.iteration;
  const selRecord = selStep === undefined ? undefined : evals.find((e) => e.iteration === selStep);
  const failuresFrom = selRecord ?? bestRecord;
  const best = bestRecord ? evalPoint(bestRecord) : null;
  return {
    ...base,
    runDir: r.adapterPath,
    manifest: r.manifestFile,
    status: r.stopReason === 'aborted' ? 'interrupted' : 'completed',
    stopReason: r.stopReason,
    stopMessage: r.stopMessage ?? null,
    iterations: r.iteration,
    best,
    selected: sel
      ? {
          ...(selRecord ? evalPoint(selRecord) : {}),
          step: sel.checkpoint.iteration,
          metric: sel.metric,
          rule: sel.rule,
          reason: sel.reason,
        }
      : null,
    valLossAtSelection: sel?.checkpoint.valLoss ?? selRecord?.valLoss ?? null,
    failures: { ...(failuresFrom?.failures ?? {}) },
    failuresStep: failuresFrom?.iteration ?? null,
    locked: lockedFormat(best, lockThreshold),
    finalTrainLoss: r.losses.at(-1) ?? null,
    seconds: outcome.seconds,
  };
}

function distributions(runs: readonly SweepRunSummary[]): SweepDistributions {
  const finished = runs.filter((r) => r.status === 'completed');
  const values = (f: (r: SweepRunSummary) => number | null | undefined) =>
    finished.map(f).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const scored = finished.filter((r) => r.best !== null);
  const locked = scored.filter((r) => r.locked);
  const ci = wilsonInterval(locked.length, scored.length);
  return {
    n: finished.length,
    bestScore: describeValues(values((r) => r.best?.score)) ?? null,
    selectedScore: describeValues(values((r) => r.selected?.score)) ?? null,
    valLossAtSelection: describeValues(values((r) => r.valLossAtSelection)) ?? null,
    locked: {
      runs: locked.map((r) => r.name),
      count: locked.length,
      n: scored.length,
      rate: scored.length > 0 ? locked.length / scored.length : null,
      low: ci.low,
      high: ci.high,
    },
  };
}

/** Overall and per-grid-point distributions of the runs. */
export function summarizeRuns(plan: readonly SweepRunPlan[], runs: readonly SweepRunSummary[], hasGrid: boolean): { summary: SweepDistributions; groups: SweepGroup[] } {
  const groups: SweepGroup[] = [];
  if (hasGrid) {
    const byKey = new Map<string, { grid: Record<string, unknown>; names: string[] }>();
    for (const p of plan) {
      const key = JSON.stringify(p.grid);
      const g = byKey.get(key) ?? { grid: p.grid, names: [] };
      g.names.push(p.name);
      byKey.set(key, g);
    }
    for (const g of byKey.values()) {
      groups.push({ grid: g.grid, runNames: g.names, ...distributions(runs.filter((r) => g.names.includes(r.name))) });
    }
  }
  return { summary: distributions(runs), groups };
}
