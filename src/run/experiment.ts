/**
 * One fine-tuning experiment, the way the reference case needed it: train with the format eval
 * run on the live adapter (before the first step, every N steps and at each checkpoint), stop
 * early on the format score, select the checkpoint by format score (ties: lower val loss, then
 * earlier step), write it as adapters.safetensors and explain the choice in run.json.
 */
import { suiteRollout } from '../rl/index.js';
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { ensureFolder } from '../core/files.js';
import { lockRunFolder, withRunLock, type RunLock } from '../core/lock.js';
import { sameFile } from '../core/paths.js';
import { RunDir } from './run-dir.js';
import type { FormatRecord, RunManifest } from './manifest.js';
import type { TrainConfig } from '../config/config.js';
import { MlxLabError } from '../core/errors.js';
import { loadSuite, suiteConstraints, type EvalSuite } from '../eval/index.js';
import { runEval, type EvalResult } from '../eval/runner.js';
import { appendJsonLine, copyFileAtomic } from '../core/atomic.js';
import { memory } from '../core/runtime.js';
import { EarlyStopper } from '../select/early-stopping.js';
import { selectCheckpoint, type CheckpointScores, type Selection } from '../select/selection.js';
import { eventsOf } from './metrics.js';
import { openTracking, type RunEnd } from './tracking/index.js';
import type { ConstrainedCase, ConstrainedEvent } from '../train/types.js';
import type { ConstraintComparison } from '../eval/compare.js';
import { RUN_FILES } from '../core/run-files.js';
import { train, type FormatEvent, type FusedEvent, type StopRequest, type TrainContext, type TrainEvent, type TrainOptions, type TrainResult } from '../train/loop.js';

export type { FormatRecord, RunManifest } from './manifest.js';

export interface ExperimentOptions extends TrainOptions {
  /** The suite already loaded (sweeps reuse it); else config.eval.suite is read. */
  suite?: EvalSuite;
}

export interface ExperimentResult extends TrainResult {
  baseline?: FormatRecord;
  evals: FormatRecord[];
  selection?: Selection;
  manifestFile: string;
  manifest: RunManifest;
}

/** A format eval as a log event and a record. */
function toRecord(iteration: number, r: EvalResult, valLoss?: number): FormatRecord {
  const failures: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.failures)) if (v > 0) failures[k] = v;
  return { iteration, score: r.score, low: r.low, high: r.high, valLoss, cases: Object.fromEntries(r.cases.map((c) => [c.id, c.score])), failures };
}

/** The longest reply kept in a format event (the live page shows it; the log stays small). */
export const MAX_LOGGED_REPLY = 2000;

/** A reply as logged: cut to MAX_LOGGED_REPLY characters, the cut marked. */
export function clipReply(text: string): string {
  return text.length > MAX_LOGGED_REPLY ? `${text.slice(0, MAX_LOGGED_REPLY)}… [${text.length - MAX_LOGGED_REPLY} more characters]` : text;
}

/** The fields an eval's log event holds (format and fused events). */
function evalFields(iteration: number, r: EvalResult): Omit<FormatEvent, 'event' | 'valLoss'> {
  const rec = toRecord(iteration, r);
  return {
    iteration,
    score: r.score,
    low: r.low,
    high: r.high,
    n: r.n,
    cases: rec.cases,
    failures: rec.failures,
    categories: Object.fromEntries(r.categories.map((c) => [c.category, c.mean])),
    caseCategories: Object.fromEntries(r.cases.map((c) => [c.id, c.category])),
    replies: Object.fromEntries(r.cases.map((c) => [c.id, clipReply(c.text)])),
    seconds: r.seconds,
    tokensPerSec: r.tokensPerSec,
    peakMemory: memory().peak,
  };
}

function formatEvent(iteration: number, r: EvalResult, valLoss: number | undefined): FormatEvent {
  return { event: 'format', ...evalFields(iteration, r), valLoss };
}

/** How a fused model was made: its folder, bits and group size, and the checkpoint step it was fused from. */
export interface FusedModelInfo {
  model: string;
  bits: number;
  groupSize: number;
  iteration: number;
}

/**
 * Log the format eval of a model fused from a finished run's checkpoint: a `fused` event appended
 * to the run's metrics.jsonl (holding the run's lock), which the report and the live page show
 * beside the adapter's evals. Returns the event (for a live page fed in this process).
 */
export function logFusedEval(runDir: string, fused: FusedModelInfo, r: EvalResult): FusedEvent {
  return appendToRun(runDir, 'fused eval', { event: 'fused', ...evalFields(fused.iteration, r), model: fused.model, bits: fused.bits, groupSize: fused.groupSize });
}

/** A run folder that an event can be logged to now: it has a metrics log and no other writer (else E_ARGUMENT / the lock's error). */
export function checkRunToLog(runDir: string, command: string): void {
  lockRunToLog(runDir, command).release();
}

/** The lock of a run folder that has a metrics log (else E_ARGUMENT; another writer: the lock's error). */
function lockRunToLog(runDir: string, command: string): RunLock {
  if (!new RunDir(runDir).hasMetrics()) throw new MlxLabError('E_ARGUMENT', `${runDir}: not a run folder (it has no ${RUN_FILES.metrics})`);
  return lockRunFolder(runDir, command);
}

/** Append one event to a finished run's metrics.jsonl, holding the run's lock (a run folder without a log is E_ARGUMENT). */
function appendToRun<T extends TrainEvent>(runDir: string, command: string, event: T): T {
  const lock = lockRunToLog(runDir, command);
  try {
    appendJsonLine(new RunDir(runDir).metrics, { ...event, time: Date.now() });
  } finally {
    lock.release();
  }
  return event;
}

/** The checkpoint step of an adapter file named `<step>_adapters.safetensors`, else null. */
export function checkpointStep(adapterFile: string): number | null {
  const m = /^(\d+)_adapters\.safetensors$/.exec(basename(adapterFile));
  return m ? Number(m[1]) : null;
}

/**
 * Log a free-vs-constrained comparison of a run's adapter: a `constrained` event appended to the
 * run's metrics.jsonl (holding its lock); the report shows both scores per case. `step`: the
 * adapter's checkpoint step (default: read from a `<step>_adapters.safetensors` name).
 */
export function logConstrainedCompare(runDir: string, adapter: string, cmp: ConstraintComparison, step: number | null = adapter ? checkpointStep(adapter) : null): ConstrainedEvent {
  const side = (r: EvalResult) => ({ score: r.score, low: r.low, high: r.high, n: r.n });
  const cases = Object.fromEntries(
    cmp.cases.map((c): [string, ConstrainedCase] => [
      c.id,
      { free: c.unconstrained.score, constrained: c.constrained.score, constraint: c.constraint, freeFailure: c.unconstrained.failure, constrainedFailure: c.constrained.failure, deadEnd: c.constrained.finishReason === 'grammar' },
    ]),
  );
  const failures = Object.fromEntries(Object.entries(cmp.failures).map(([k, n]) => [k, { free: n.unconstrained, constrained: n.constrained }]));
  const event: ConstrainedEvent = { event: 'constrained', step, adapter, free: side(cmp.unconstrained), constrained: side(cmp.constrained), cases, failures };
  return appendToRun(runDir, 'constrained eval', event);
}

/** What earlier sessions of a resumed run measured, read back from its metrics log. */
interface History {
  baseline?: FormatRecord;
  evals: FormatRecord[];
  checkpoints: CheckpointScores[];
  valLosses: { iteration: number; loss: number }[];
}

/** Keep the last event per iteration (a killed session's iterations are trained again, identically). */
function lastPerIteration<T extends { iteration: number }>(items: T[]): T[] {
  return [...new Map(items.map((x) => [x.iteration, x])).values()].sort((a, b) => a.iteration - b.iteration);
}

/** The evals (the baseline is the one at 0), checkpoint scores and val losses logged before `startIteration`. */
function readHistory(run: RunDir, startIteration: number): History {
  const events = run.hasMetrics() ? run.readMetrics().events.filter((e) => 'iteration' in e && e.iteration < startIteration) : [];
  const evals = lastPerIteration(
    eventsOf(events, 'format').map(({ iteration, score, low, high, valLoss, cases, failures }) => ({ iteration, score, low, high, valLoss, cases, failures })),
  );
  const checkpoints = lastPerIteration(eventsOf(events, 'scores').map(({ event: _, time: __, ...scores }) => scores));
  const valLosses = lastPerIteration(eventsOf(events, 'val').map((e) => ({ iteration: e.iteration, loss: e.valLoss })));
  return { baseline: evals.find((e) => e.iteration === 0), evals, checkpoints, valLosses };
}

/** Train with live format evals, early stopping and selection by format score. */
export async function runExperiment(config: TrainConfig, options: ExperimentOptions = {}): Promise<ExperimentResult> {
  // One writer per run folder: held from the first eval to run.json (train() shares the lock).
  const adapterPath = resolve(config.adapter_path);
  ensureFolder(adapterPath, 'adapter_path');
  if (options.group?.leader === false) return experimentLocked(config, options);
  return withRunLock(adapterPath, options.resume ? 'train --resume' : 'train', () => experimentLocked(config, options));
}

async function experimentLocked(config: TrainConfig, options: ExperimentOptions): Promise<ExperimentResult> {
  // report_to: rank 0 reports; settings errors (mlflow without MLFLOW_TRACKING_URI) stop the run before it starts.
  const tracking = options.group?.leader === false ? undefined : openTracking(config, resolve(config.adapter_path));
  if (!tracking || tracking.sinks.length === 0) return experimentTracked(config, options);
  let end: RunEnd = { status: 'failed', artifacts: [] };
  try {
    const onEvent = (e: TrainEvent) => {
      tracking.event(e);
      options.onEvent?.(e);
    };
    const result = await experimentTracked(config, { ...options, onEvent });
    end = { status: result.stopReason === 'aborted' ? 'killed' : 'finished', artifacts: runArtifacts(result) };
    return result;
  } finally {
    await tracking.close(end);
  }
}

/** The files a tracking sink keeps with the run: the manifest, the report when written, the selected adapter and its config. */
function runArtifacts(result: ExperimentResult): RunEnd['artifacts'] {
  const run = new RunDir(result.adapterPath);
  const files = [run.manifest, run.report, result.adapterFile, run.adapterConfig];
  return files.filter((f) => existsSync(f)).map((path) => ({ name: basename(path), path }));
}

async function experimentTracked(config: TrainConfig, options: ExperimentOptions): Promise<ExperimentResult> {
  const startedAt = new Date().toISOString();
  const evalConfig = config.eval;
  const suite = options.suite ?? (evalConfig ? await loadSuite(evalConfig.suite) : undefined);
  // A constrained eval's grammars are made before training starts (a bad one names its case).
  if (suite && evalConfig?.constrained) suiteConstraints(suite);
  const every = evalConfig?.every ?? config.steps_per_eval;
  const stopping = config.early_stopping;
  const stopper = stopping ? new EarlyStopper(stopping) : undefined;
  const evals = new Map<number, FormatRecord>();
  const checkpoints: CheckpointScores[] = [];
  let baseline: FormatRecord | undefined;
  let earlierValLosses: History['valLosses'] = [];

  const formatEval = async (ctx: TrainContext): Promise<FormatRecord | undefined> => {
    // After an abort the run only saves its checkpoint: no eval (it would be cancelled anyway).
    if (!suite || options.signal?.aborted) return undefined;
    const known = evals.get(ctx.iteration);
    if (known) return known;
    const r = await runEval(ctx.model, suite, { maxTokens: evalConfig?.max_tokens, stop: evalConfig?.stop, constrained: evalConfig?.constrained === true, signal: options.signal });
    const rec = { ...toRecord(ctx.iteration, r), valLoss: await ctx.validate() };
    evals.set(ctx.iteration, rec);
    ctx.emit(formatEvent(ctx.iteration, r, rec.valLoss));
    return rec;
  };

  const decide = (ctx: TrainContext, metricValue: number | undefined): StopRequest | undefined => {
    if (!stopper || metricValue === undefined) return undefined;
    const d = stopper.update(ctx.iteration, metricValue);
    return d.stop ? { stop: true, reason: `early stopping: ${d.reason}` } : undefined;
  };

  /** Score the checkpoint just saved (format eval, val loss) for selection, and log the scores. */
  const scoreCheckpoint = async (adapterFile: string, ctx: TrainContext): Promise<FormatRecord | undefined> => {
    const rec = await formatEval(ctx);
    const scores: CheckpointScores = {
      iteration: ctx.iteration,
      adapterFile,
      formatScore: rec?.score,
      formatLow: rec?.low,
      formatHigh: rec?.high,
      valLoss: rec?.valLoss ?? (await ctx.validate()),
    };
    checkpoints.push(scores);
    ctx.emit({ event: 'scores', ...scores }); // logged, so that a resumed run can still select this checkpoint
    return rec;
  };

  /** A resumed run takes over what its earlier sessions measured, and replays early stopping on it. */
  const resumeFrom = (history: History, ctx: TrainContext): StopRequest | undefined => {
    baseline = history.baseline;
    for (const rec of history.evals) evals.set(rec.iteration, rec);
    checkpoints.push(...history.checkpoints);
    earlierValLosses = history.valLosses;
    let decision: StopRequest | undefined;
    const replay = (iteration: number, value: number | undefined) => {
      if (stopper && value !== undefined) decision = decide({ ...ctx, iteration }, value) ?? decision;
    };
    if (stopping?.metric === 'format_score') for (const rec of history.evals) if (rec.iteration > 0) replay(rec.iteration, rec.score);
    if (stopping?.metric === 'val_loss') for (const v of history.valLosses) if (v.iteration > 1) replay(v.iteration, v.loss);
    return decision;
  };

  // GRPO: the prompts and rewards, checked before the first step.
  const rollout = options.rollout ?? (config.train_mode === 'grpo' ? await suiteRollout(config) : undefined);
  const result = await train(config, {
    ...options,
    rollout,
    checkpointAtEnd: true,
    onStart: async (info, ctx) => {
      if (info.startIteration > 1) {
        const run = new RunDir(info.adapterPath);
        let stop = resumeFrom(readHistory(run, info.startIteration), ctx);
        if (!checkpoints.some((c) => c.iteration === ctx.iteration)) {
          // Killed after saving the checkpoint we resume from but before scoring it: score it now.
          const { adapterFile } = run.checkpoint(ctx.iteration);
          const replayed = evals.has(ctx.iteration);
          const rec = await scoreCheckpoint(adapterFile, ctx);
          if (!replayed && stopping?.metric === 'format_score' && ctx.iteration % every !== 0) stop = decide(ctx, rec?.score) ?? stop;
        }
        if (stop) return stop;
      } else if (suite && evalConfig?.at_start !== false) {
        baseline = await formatEval(ctx);
      }
      return options.onStart?.(info, ctx);
    },
    onStep: async (info, ctx) => {
      const user = await options.onStep?.(info, ctx);
      if (user) return user;
      if (!suite || info.iteration % every !== 0) return undefined;
      const rec = await formatEval(ctx);
      return stopping?.metric === 'format_score' ? decide(ctx, rec?.score) : undefined;
    },
    onEval: async (info, ctx) => {
      const user = await options.onEval?.(info, ctx);
      if (user) return user;
      return stopping?.metric === 'val_loss' && info.iteration > 1 ? decide(ctx, info.valLoss) : undefined;
    },
    onCheckpoint: async (info, ctx) => {
      const rec = await scoreCheckpoint(info.adapterFile, ctx);
      const user = await options.onCheckpoint?.(info, ctx);
      if (user) return user;
      return stopping?.metric === 'format_score' && info.iteration % every !== 0 ? decide(ctx, rec?.score) : undefined;
    },
  });

  let selection: Selection | undefined;
  const metric = config.selection?.metric ?? (suite ? 'format_score' : 'val_loss');
  const rule = config.selection?.rule ?? 'best';
  const selectable = checkpoints.filter((c) => (metric === 'val_loss' ? c.valLoss !== undefined : c.formatScore !== undefined));
  if (selectable.length > 0 || (rule === 'last' && checkpoints.length > 0)) {
    selection = selectCheckpoint(rule === 'last' ? checkpoints : selectable, metric, rule);
    installAdapter(selection.checkpoint.adapterFile, result.adapterFile);
  }
  const manifest: RunManifest = {
    version: 1,
    model: config.model,
    data: config.data,
    suite: suite?.source ?? null,
    seed: config.seed,
    startedAt,
    finishedAt: new Date().toISOString(),
    stopReason: result.stopReason,
    stopMessage: result.stopMessage,
    iterations: result.iteration,
    baseline,
    evals: [...evals.values()].sort((a, b) => a.iteration - b.iteration),
    valLosses: [...earlierValLosses, ...result.valLosses],
    checkpoints,
    selected: selection ? { ...selection, adapterFile: selection.checkpoint.adapterFile } : undefined,
    config,
  };
  const run = new RunDir(result.adapterPath);
  const manifestFile = run.manifest;
  if (options.group?.leader !== false) run.writeManifest(manifest); // rank 0 of a data-parallel run
  return { ...result, baseline, evals: manifest.evals, selection, manifestFile, manifest };
}

/** Copy a checkpoint's adapter over adapters.safetensors (atomically); nothing to do when they are one file. */
export function installAdapter(from: string, to: string): void {
  if (from === to || sameFile(from, to)) return;
  copyFileAtomic(from, to);
}

/** Read a run's manifest; its run files resolve inside `runDir` (wherever the folder was written). */
export function readManifest(runDir: string): RunManifest {
  return new RunDir(runDir).readManifest();
}

/** Re-select a finished run's checkpoint with another metric or rule; rewrites run.json (holding the run's lock). */
export function reselect(runDir: string, metric: Selection['metric'], rule: Selection['rule']): Selection {
  const lock = lockRunFolder(runDir, 'select');
  try {
    const run = new RunDir(runDir);
    const manifest = run.readManifest();
    const selection = selectCheckpoint(manifest.checkpoints, metric, rule);
    if (!existsSync(selection.checkpoint.adapterFile)) {
      throw new MlxLabError('E_ARGUMENT', `${selection.checkpoint.adapterFile}: the selected checkpoint's adapter file is missing`);
    }
    installAdapter(selection.checkpoint.adapterFile, run.adapter);
    run.writeManifest({ ...manifest, selected: { ...selection, adapterFile: selection.checkpoint.adapterFile } });
    return selection;
  } finally {
    lock.release();
  }
}
