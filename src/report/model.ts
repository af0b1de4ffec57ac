/**
 * What the reports show, computed once from a run's manifest (run.json) and/or its metrics log
 * (metrics.jsonl): the HTML pages and the terminal summaries both read these views.
 *
 * A finished run has both; an unfinished (or killed) run has only the log, and the view is built
 * from its events (the selection then is provisional: what `mlx-lab select` would choose now).
 */
import type { FormatRecord, RunManifest } from '../run/manifest.js';
import { FAILURE_CLASSES } from '../eval/scorers.js';
import { selectCheckpoint, type CheckpointScores } from '../select/selection.js';
import { eventsOf, type MetricsEvent } from '../run/metrics.js';
import { constrainedView, type ConstrainedView } from './constrained.js';
import { distribution, type Distribution } from '../eval/stats.js';
import { DEFAULT_LOCK_THRESHOLD, bestEval, lockedFormat } from '../sweep/evals.js';

/** One format eval of a run as the reports show it: the record, plus its category means when logged. */
export interface RunEval extends FormatRecord {
  /** category → mean (from the log; absent when read from run.json alone). */
  categories?: Record<string, number>;
}

export interface SelectedPoint {
  iteration: number;
  reason: string;
  metric?: string;
  rule?: string;
  /** True when the run has no run.json yet: what selection would choose from the log now. */
  provisional?: boolean;
}

export interface CaseGroup {
  category: string;
  ids: string[];
}

export interface RunView {
  label: string;
  model: string | null;
  data: string | null;
  suite: string | null;
  seed: number | null;
  startedAt?: string;
  finishedAt?: string;
  /** The last iteration trained (or logged). */
  iterations: number | null;
  /** The run wrote run.json (or a done event). */
  finished: boolean;
  stopReason: string | null;
  stopMessage?: string;
  /** Format evals by step (one per step, the last logged wins). */
  evals: RunEval[];
  /** The eval before training (step 0). */
  baseline?: RunEval;
  /** The best eval: highest score, then lower val loss, then the earlier step. */
  best?: RunEval;
  /** Val losses by step (from validations and from format evals). */
  valLosses: { iteration: number; loss: number }[];
  lowestValLoss?: { iteration: number; loss: number };
  /** Train loss by step (the log's report events). */
  trainLosses: { iteration: number; loss: number }[];
  /** GRPO: the mean reward and the KL to the reference by step (the log's grpo events). */
  grpo: { iteration: number; reward: number; kl: number }[];
  /** The eval of a model fused from a checkpoint after training (the log's last well-formed fused event). */
  fused?: FusedView;
  /** The adapter scored free and under its grammars (the log's last well-formed constrained event). */
  constrained?: ConstrainedView;
  checkpoints: CheckpointScores[];
  selected?: SelectedPoint;
  /** Case ids in suite order, grouped by category (one group "all cases" when unknown). */
  groups: CaseGroup[];
  caseIds: string[];
  /** Failure classes seen in any eval, in the scorers' order. */
  failureClasses: string[];
  /** The last throughput report, if logged. */
  throughput?: { tokensPerSec: number; peakMemory: number; iteration: number };
  config?: Record<string, unknown>;
}

/** A fused model's eval: the checkpoint step it was fused from, its folder and quantization. */
export interface FusedView extends RunEval {
  model: string;
  bits: number;
  groupSize: number;
}

export interface RunInput {
  manifest?: RunManifest;
  /** The metrics log's events. */
  events?: readonly MetricsEvent[];
  /** A name for the run (default: "seed N"). */
  label?: string;
  /** case id → category (e.g. from the suite file); else the cases form one group. */
  caseCategories?: Record<string, string>;
  /** The training config when there is no manifest yet (adapter_config.json holds it). */
  config?: Record<string, unknown>;
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function byIteration<T extends { iteration: number }>(items: Iterable<T>): T[] {
  const map = new Map<number, T>();
  for (const item of items) map.set(item.iteration, item);
  return [...map.values()].sort((a, b) => a.iteration - b.iteration);
}

/** The last fused event whose step, score, interval and bits are numbers (a damaged one is passed over). */
function fusedView(events: readonly MetricsEvent[]): FusedView | undefined {
  const ok = eventsOf(events, 'fused').filter((e) => finite(e.iteration) && finite(e.score) && finite(e.low) && finite(e.high) && finite(e.bits));
  const e = ok.at(-1);
  if (!e) return undefined;
  const record = (x: unknown): Record<string, number> => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, number>) : {});
  return {
    iteration: e.iteration,
    score: e.score,
    low: e.low,
    high: e.high,
    cases: record(e.cases),
    failures: record(e.failures),
    model: typeof e.model === 'string' ? e.model : '',
    bits: e.bits,
    groupSize: finite(e.groupSize) ? e.groupSize : 0,
  };
}

function fromRecord(r: FormatRecord): RunEval {
  return { iteration: r.iteration, score: r.score, low: r.low, high: r.high, valLoss: finite(r.valLoss) ? r.valLoss : undefined, cases: r.cases ?? {}, failures: r.failures ?? {} };
}

/** Order failure classes: the scorers' known order first, then others alphabetically. */
export function orderFailureClasses(classes: Iterable<string>): string[] {
  const set = new Set(classes);
  const known = (FAILURE_CLASSES as readonly string[]).filter((c) => set.has(c));
  const other = [...set].filter((c) => !(FAILURE_CLASSES as readonly string[]).includes(c)).sort();
  return [...known, ...other];
}

/** Case ids in first-seen order, grouped by category (groups in first-seen order). */
export function groupCases(caseIds: readonly string[], caseCategories?: Record<string, string>): CaseGroup[] {
  if (!caseCategories || caseIds.every((id) => caseCategories[id] === undefined)) return caseIds.length ? [{ category: 'all cases', ids: [...caseIds] }] : [];
  const groups = new Map<string, string[]>();
  for (const id of caseIds) {
    const category = caseCategories[id] ?? '(no category)';
    const list = groups.get(category);
    if (list) list.push(id);
    else groups.set(category, [id]);
  }
  return [...groups].map(([category, ids]) => ({ category, ids }));
}

/** The ids of all evals' cases, in the suite's order as far as the records keep it. */
function caseOrder(evals: readonly RunEval[], caseCategories?: Record<string, string>): string[] {
  const seen = new Set<string>();
  if (caseCategories) for (const id of Object.keys(caseCategories)) if (evals.some((e) => id in e.cases)) seen.add(id);
  for (const e of evals) for (const id of Object.keys(e.cases)) seen.add(id);
  return [...seen];
}

/** Build the view of one run from its manifest and/or metrics events. */
export function buildRunView(input: RunInput): RunView {
  const m = input.manifest;
  const events = input.events ?? [];
  const formatEvents = eventsOf(events, 'format');
  const valEvents = eventsOf(events, 'val');
  const reportEvents = eventsOf(events, 'report');
  const stopEvents = eventsOf(events, 'stop');
  const doneEvents = eventsOf(events, 'done');
  const startEvents = eventsOf(events, 'start');

  const categoriesAt = new Map(formatEvents.map((e) => [e.iteration, e.categories]));
  let evals: RunEval[];
  if (m && Array.isArray(m.evals) && m.evals.length > 0) {
    evals = byIteration(m.evals.map(fromRecord)).map((e) => ({ ...e, categories: categoriesAt.get(e.iteration) }));
  } else {
    evals = byIteration(
      formatEvents.map((e) => ({ iteration: e.iteration, score: e.score, low: e.low, high: e.high, cases: e.cases ?? {}, failures: e.failures ?? {}, categories: e.categories })),
    );
  }

  const valMap = new Map<number, number>();
  for (const v of m?.valLosses ?? []) if (finite(v.loss)) valMap.set(v.iteration, v.loss);
  for (const v of valEvents) if (finite(v.valLoss) && !valMap.has(v.iteration)) valMap.set(v.iteration, v.valLoss);
  for (const e of evals) if (e.valLoss !== undefined && !valMap.has(e.iteration)) valMap.set(e.iteration, e.valLoss);
  for (const e of evals) if (e.valLoss === undefined && valMap.has(e.iteration)) e.valLoss = valMap.get(e.iteration);
  const valLosses = [...valMap].map(([iteration, loss]) => ({ iteration, loss })).sort((a, b) => a.iteration - b.iteration);
  const lowestValLoss = [...valLosses].sort((a, b) => a.loss - b.loss || a.iteration - b.iteration)[0];

  const trainLosses = byIteration(reportEvents.filter((r) => finite(r.trainLoss)).map((r) => ({ iteration: r.iteration, loss: r.trainLoss })));
  const lastReport = reportEvents.at(-1);
  const grpo = byIteration(eventsOf(events, 'grpo').filter((g) => finite(g.rewardMean) && finite(g.kl)).map((g) => ({ iteration: g.iteration, reward: g.rewardMean, kl: g.kl })));

  let checkpoints: CheckpointScores[];
  if (m && Array.isArray(m.checkpoints)) checkpoints = byIteration(m.checkpoints);
  else {
    const evalAt = new Map(evals.map((e) => [e.iteration, e]));
    checkpoints = byIteration(
      eventsOf(events, 'checkpoint').map((c) => {
        const e = evalAt.get(c.iteration);
        return { iteration: c.iteration, adapterFile: c.adapterFile, formatScore: e?.score, formatLow: e?.low, formatHigh: e?.high, valLoss: valMap.get(c.iteration) };
      }),
    );
  }

  let selected: SelectedPoint | undefined;
  if (m?.selected?.checkpoint) {
    selected = { iteration: m.selected.checkpoint.iteration, reason: m.selected.reason, metric: m.selected.metric, rule: m.selected.rule };
  } else if (!m) {
    const scored = checkpoints.filter((c) => finite(c.formatScore));
    if (scored.length > 0) {
      const s = selectCheckpoint(scored, 'format_score', 'best');
      selected = { iteration: s.checkpoint.iteration, reason: s.reason, metric: s.metric, rule: s.rule, provisional: true };
    }
  }

  const baselineRecord = m?.baseline ? fromRecord(m.baseline) : undefined;
  const baseline = baselineRecord ? (evals.find((e) => e.iteration === baselineRecord.iteration) ?? baselineRecord) : evals.find((e) => e.iteration === 0);

  const lastStop = stopEvents.at(-1);
  const stopReason = m?.stopReason ?? lastStop?.reason ?? null;
  const stopMessage = m ? m.stopMessage : lastStop?.message;
  const lastIteration = Math.max(
    ...[m?.iterations, doneEvents.at(-1)?.iteration, lastStop?.iteration, lastReport?.iteration, ...evals.map((e) => e.iteration), ...valLosses.map((v) => v.iteration)].filter(finite),
  );

  const caseIds = caseOrder(evals, input.caseCategories);
  const failureClasses = orderFailureClasses(evals.flatMap((e) => Object.entries(e.failures).filter(([, n]) => n > 0).map(([k]) => k)));
  const config = (m?.config as unknown as Record<string, unknown> | undefined) ?? input.config;
  const str = (x: unknown): string | null => (typeof x === 'string' && x !== '' ? x : null);
  const evalConfig = config?.eval as { suite?: unknown } | null | undefined;
  const seed = finite(m?.seed) ? m!.seed : finite(config?.seed) ? (config!.seed as number) : null;
  const startTime = startEvents[0]?.time;
  return {
    label: input.label ?? (seed !== null ? `seed ${seed}` : 'run'),
    model: m ? m.model : str(config?.model),
    data: m ? m.data : str(config?.data),
    suite: m ? m.suite : str(evalConfig?.suite),
    seed,
    startedAt: m?.startedAt ?? (finite(startTime) ? new Date(startTime).toISOString() : undefined),
    finishedAt: m?.finishedAt,
    iterations: Number.isFinite(lastIteration) ? lastIteration : null,
    finished: m !== undefined || doneEvents.length > 0,
    stopReason,
    stopMessage,
    evals,
    baseline,
    best: bestEval(evals),
    valLosses,
    lowestValLoss,
    trainLosses,
    grpo,
    fused: fusedView(events),
    constrained: constrainedView(events),
    checkpoints,
    selected,
    groups: groupCases(caseIds, input.caseCategories),
    caseIds,
    failureClasses,
    throughput: lastReport ? { tokensPerSec: lastReport.tokensPerSec, peakMemory: lastReport.peakMemory, iteration: lastReport.iteration } : undefined,
    config,
  };
}

// ---------------------------------------------------------------------------------------------
// Sweeps
// ---------------------------------------------------------------------------------------------

/** One run of a sweep, as the sweep report takes it (independent of the sweep's file layout). */
export interface SweepRunInput {
  /** How the run is named in the report, e.g. "seed 3" or "seed 3 · lr 2e-4". */
  label: string;
  manifest: RunManifest;
  /** The run's metrics events (optional: they add train loss and per-eval category means). */
  events?: readonly MetricsEvent[];
  /** A link to the run's own report, relative to the sweep report (e.g. "seed-3/report.html"). */
  href?: string;
}

/** What sweepStats (and the sweep's page and summary) are computed with. */
export interface SweepStatsOptions {
  /** A run "locked the format" when its best score is at least this (default DEFAULT_LOCK_THRESHOLD). */
  threshold?: number;
  caseCategories?: Record<string, string>;
}

export interface SweepRunStats {
  label: string;
  seed: number | null;
  href?: string;
  view: RunView;
  /** The run's best format eval (see bestEval). */
  best?: RunEval;
  /** The selected checkpoint's eval, when it has one. */
  selectedEval?: RunEval;
  locked: boolean;
  /** Failure counts at the best eval. */
  failureMix: Record<string, number>;
}

export interface SweepStats {
  runs: SweepRunStats[];
  threshold: number;
  /** Over the runs' best scores (runs without an eval are left out). */
  best: Distribution;
  /** Runs whose best score reached the threshold. */
  locked: number;
  groups: CaseGroup[];
  caseIds: string[];
  failureClasses: string[];
  /** Fields every run shares (model, data, suite), null where they differ. */
  common: { model: string | null; data: string | null; suite: string | null };
}

function shared<T>(values: T[]): T | null {
  return values.length > 0 && values.every((v) => v === values[0]) ? values[0] : null;
}

/** Per-run best scores, their spread over seeds, and which runs locked the format. */
export function sweepStats(runs: readonly SweepRunInput[], options: SweepStatsOptions = {}): SweepStats {
  const threshold = options.threshold ?? DEFAULT_LOCK_THRESHOLD;
  const stats: SweepRunStats[] = runs.map((r) => {
    const view = buildRunView({ manifest: r.manifest, events: r.events, label: r.label, caseCategories: options.caseCategories });
    const best = view.best;
    const selectedEval = view.selected ? view.evals.find((e) => e.iteration === view.selected!.iteration) : undefined;
    return {
      label: r.label,
      seed: view.seed,
      href: r.href,
      view,
      best,
      selectedEval,
      locked: lockedFormat(best, threshold),
      failureMix: Object.fromEntries(Object.entries(best?.failures ?? {}).filter(([, n]) => n > 0)),
    };
  });
  const seen = new Set<string>();
  for (const s of stats) for (const id of s.view.caseIds) seen.add(id);
  const caseIds = [...seen];
  return {
    runs: stats,
    threshold,
    best: distribution(stats.flatMap((s) => (s.best ? [s.best.score] : []))),
    locked: stats.filter((s) => s.locked).length,
    groups: groupCases(caseIds, options.caseCategories),
    caseIds,
    failureClasses: orderFailureClasses(stats.flatMap((s) => Object.keys(s.failureMix))),
    common: {
      model: shared(stats.map((s) => s.view.model)),
      data: shared(stats.map((s) => s.view.data)),
      suite: shared(stats.map((s) => s.view.suite)),
    },
  };
}

/** Config keys that never name a run (paths and bookkeeping). */
const UNLABELLED = new Set(['adapter_path', 'config', 'resume_adapter_file', 'sweep', 'seed']);

function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) if (!(prefix === '' && UNLABELLED.has(k))) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, JSON.stringify(value) ?? 'undefined');
}

const SHORT: Record<string, string> = { learning_rate: 'lr', 'lora_parameters.rank': 'rank', 'lora_parameters.scale': 'scale', 'lora_parameters.dropout': 'dropout', num_layers: 'layers', batch_size: 'batch' };

/**
 * Names for a sweep's runs: "seed N", plus the config values that differ between runs
 * (e.g. "seed 1 · lr 0.0002"); `fallback` names (folder names) break remaining ties.
 */
export function sweepLabels(manifests: readonly RunManifest[], fallback?: readonly string[]): string[] {
  const flat = manifests.map((m) => {
    const out = new Map<string, string>();
    flatten(m.config ?? {}, '', out);
    return out;
  });
  const keys = [...new Set(flat.flatMap((f) => [...f.keys()]))].filter((k) => new Set(flat.map((f) => f.get(k))).size > 1).sort();
  const labels = manifests.map((m, i) => {
    const parts = [finite(m.seed) ? `seed ${m.seed}` : `run ${i + 1}`];
    for (const k of keys) {
      const v = flat[i].get(k);
      parts.push(`${SHORT[k] ?? k} ${v === undefined ? '–' : v.replace(/^"(.*)"$/, '$1')}`);
    }
    return parts.join(' · ');
  });
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return labels.map((l, i) => ((counts.get(l) ?? 0) > 1 ? `${l} (${fallback?.[i] ?? `#${i + 1}`})` : l));
}
