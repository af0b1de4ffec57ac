/**
 * Sweeps: several seeds (and optionally a small grid of config values) run one after the other
 * in this process, on ONE loaded base model. Each run is a full experiment (live format evals,
 * early stopping, selection, run.json) in its own folder under the sweep's adapter_path; the
 * trainer detaches its adapter at the end of a run, so the next run starts from the clean base
 * model. The data and the eval suite are loaded once too. `<adapter_path>/sweep.json` is
 * rewritten after every run, so an interrupted or crashed sweep still reports what finished.
 *
 * Before the first run the suite is linted against the training data (src/eval/lint.ts); the
 * warnings are reported as a `lint` event and kept in sweep.json.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TrainConfig } from '../config/config.js';
import { MlxLabError } from '../core/errors.js';
import { dataOptionsFromConfig, loadConfiguredData, vocabHasThinking, type DataSplits } from '../data/index.js';
import { loadSuite, type EvalSuite } from '../eval/index.js';
import { lintSuiteAgainstData, readTrainingRecords, type LintWarning } from '../eval/lint.js';
import { runExperiment, type ExperimentResult } from '../run/experiment.js';
import { writeJsonAtomic } from '../core/atomic.js';
import { ensureFolder } from '../core/files.js';
import { withRunLock } from '../core/lock.js';
import { loadModel as defaultLoadModel, type Model } from '../model/model.js';
import type { TrainEvent } from '../train/loop.js';
import { SINGLE, type Group } from '../distributed/group.js';
import { planSweep, type SweepRunPlan } from './plan.js';
import { summarizeRun, summarizeRuns, type SweepReport, type SweepRunSummary } from './report.js';
import { DEFAULT_LOCK_THRESHOLD } from './evals.js';
import { sweepFile } from '../run/run-dir.js';

export { planSweep, runName, formatNumber, type SweepRunPlan, type PlanOptions } from './plan.js';
export { DEFAULT_LOCK_THRESHOLD, type EvalPoint } from './evals.js';
export {
  SWEEP_REPORT,
  summarizeRun,
  summarizeRuns,
  type LockSummary,
  type RunStatus,
  type SweepDistributions,
  type SweepGroup,
  type SweepReport,
  type SweepRunSummary,
} from './report.js';
export { formatRunLine, formatSweepSummary } from './format.js';
export { describeValues, mean, std, min, max, median, type Distribution } from '../eval/stats.js';

export type SweepEvent =
  | { event: 'sweep_start'; adapterPath: string; lockThreshold: number; runs: { name: string; seed: number; grid: Record<string, unknown> }[] }
  | { event: 'lint'; warnings: LintWarning[] }
  | { event: 'run_start'; index: number; total: number; name: string; seed: number; grid: Record<string, unknown>; adapterPath: string }
  /** A training event of the current run (see TrainEvent). */
  | { event: 'train'; index: number; name: string; train: TrainEvent }
  | { event: 'run_done'; index: number; total: number; run: SweepRunSummary }
  | { event: 'sweep_done'; file: string; report: SweepReport };

export interface SweepOptions {
  /** Stops the current run between steps (it saves a checkpoint) and skips the rest. */
  signal?: AbortSignal;
  onEvent?: (event: SweepEvent) => void;
  /** A loaded base model to use for every run (not disposed); else config.model is loaded once. */
  model?: Model;
  /** The model loader (default loadModel); injectable so tests can count loads. */
  loadModel?: (path: string) => Promise<Model>;
  /** Data already loaded, used for every run; else config.data is loaded once. */
  data?: DataSplits;
  /** The suite already loaded; else config.eval.suite is loaded once. */
  suite?: EvalSuite;
  /** Seeds to run instead of config.sweep.seeds. */
  seeds?: number[];
  /** A run "locks the format" when its best score is ≥ this. Default: config.sweep.lock_threshold, else 0.8. */
  lockThreshold?: number;
  /** Lint the suite against the training data before the first run (default true). */
  lint?: boolean;
  /**
   * Spread the runs over this group (src/distributed): rank r trains runs r, r + N, r + 2N, …
   * (no gradient exchange); rank 0 gathers every rank's summaries and writes sweep.json.
   */
  group?: Group;
}

export interface SweepResult {
  report: SweepReport;
  /** The sweep.json written. */
  file: string;
  /** Base model loads done by the sweep (1 for a sweep over one model; 0 when `model` was given). */
  modelLoads: number;
  /** Data loads done by the sweep (1 unless the grid varies how data is tokenized; 0 when `data` was given). */
  dataLoads: number;
  /** Per planned run: its experiment result, or undefined when it failed or was not reached. */
  experiments: (ExperimentResult | undefined)[];
  interrupted: boolean;
}

/** The sweep's lock threshold: the option, else config.sweep.lock_threshold, else 0.8. */
export function lockThresholdOf(config: TrainConfig, option?: number): number {
  const fromConfig = (config.sweep as { lock_threshold?: unknown } | null)?.lock_threshold;
  const t = option ?? (typeof fromConfig === 'number' ? fromConfig : DEFAULT_LOCK_THRESHOLD);
  if (!(t >= 0 && t <= 1)) throw new MlxLabError('E_CONFIG', `the lock threshold must be in [0, 1] (got ${t})`);
  return t;
}

function requirePath(value: string | null, key: 'model' | 'data'): string {
  if (!value) throw new MlxLabError('E_CONFIG', `"${key}" is required (a ${key === 'model' ? 'model folder or .gguf file' : 'data folder, .jsonl file or Hub dataset id (or set hf_dataset)'})`);
  return value;
}

/** Lint warnings for the sweep's suite and data; none when there is no suite or the data cannot be read here (loading reports that). */
function lintSweep(config: TrainConfig, suite: EvalSuite | undefined, model: Model, dataPath: string | undefined): LintWarning[] {
  if (!suite || !dataPath || !existsSync(dataPath)) return [];
  let records: ReturnType<typeof readTrainingRecords>;
  try {
    records = readTrainingRecords(dataPath);
  } catch {
    return [];
  }
  let trainThinking: boolean | undefined;
  try {
    trainThinking = vocabHasThinking(model.tokenizer);
  } catch {
    trainThinking = undefined;
  }
  const d = dataOptionsFromConfig(config);
  return lintSuiteAgainstData(suite, records, { features: d.features, template: model.template, trainThinking, evalThinking: false });
}

/** Run a sweep: every planned run in sequence on one loaded base model; writes sweep.json. */
export async function runSweep(config: TrainConfig, options: SweepOptions = {}): Promise<SweepResult> {
  // One writer per sweep folder (rank 0 writes sweep.json; each run locks its own folder too).
  const adapterPath = resolve(config.adapter_path);
  ensureFolder(adapterPath, 'adapter_path');
  if ((options.group ?? SINGLE).leader === false) return sweepLocked(config, options);
  return withRunLock(adapterPath, 'sweep', () => sweepLocked(config, options));
}

async function sweepLocked(config: TrainConfig, options: SweepOptions): Promise<SweepResult> {
  const startedAt = new Date().toISOString();
  const plan = planSweep(config, { seeds: options.seeds });
  const lockThreshold = lockThresholdOf(config, options.lockThreshold);
  const adapterPath = resolve(config.adapter_path);
  const file = sweepFile(adapterPath);
  const emit = (e: SweepEvent) => options.onEvent?.(e);
  const hasGrid = Object.keys(config.sweep?.grid ?? {}).length > 0;
  const group = options.group ?? SINGLE;
  const mine = (p: SweepRunPlan) => p.index % group.size === group.rank;

  // The models the runs need; each loaded once, disposed after the last run that uses it.
  const modelPaths = plan.map((p) => (options.model ? '' : requirePath(p.config.model, 'model')));
  if (options.model && plan.some((p) => p.config.model !== plan[0].config.model)) {
    throw new MlxLabError('E_ARGUMENT', 'the sweep grid varies "model", but one loaded model was passed in');
  }
  const loader = options.loadModel ?? ((path: string) => defaultLoadModel(path));
  const models = new Map<string, Model>();
  let modelLoads = 0;
  const modelFor = async (i: number): Promise<Model> => {
    if (options.model) return options.model;
    const path = modelPaths[i];
    let m = models.get(path);
    if (!m) {
      m = await loader(path);
      modelLoads++;
      models.set(path, m);
    }
    return m;
  };
  const releaseAfter = (i: number) => {
    if (options.model) return;
    const path = modelPaths[i];
    if (modelPaths.slice(i + 1).some((q, k) => q === path && (i + 1 + k) % group.size === group.rank)) return;
    models.get(path)?.dispose();
    models.delete(path);
  };

  // Data, loaded once per distinct way of reading it (the grid may vary mask_prompt, the feature keys or data).
  const dataCache = new Map<string, DataSplits>();
  let dataLoads = 0;
  const dataFor = async (runConfig: TrainConfig, model: Model): Promise<DataSplits> => {
    if (options.data) return options.data;
    if (!runConfig.hf_dataset) requirePath(runConfig.data, 'data');
    const opts = { ...dataOptionsFromConfig(runConfig), requireTest: runConfig.test };
    const key = JSON.stringify([runConfig.data, runConfig.hf_dataset, opts, model.path]);
    let d = dataCache.get(key);
    if (!d) {
      d = await loadConfiguredData(runConfig, model.tokenizer, { requireTest: runConfig.test });
      dataLoads++;
      dataCache.set(key, d);
    }
    return d;
  };

  let suite: EvalSuite | undefined;
  let interrupted = false;
  const runs: SweepRunSummary[] = [];
  const experiments: (ExperimentResult | undefined)[] = plan.map(() => undefined);
  let lint: LintWarning[] = [];
  const report = (status: SweepReport['status']): SweepReport => ({
    version: 1,
    status,
    startedAt,
    finishedAt: status === 'running' ? null : new Date().toISOString(),
    configFile: config.config,
    model: config.model,
    data: options.data?.path ?? config.data,
    suite: suite?.source ?? config.eval?.suite ?? null,
    adapterPath,
    lockThreshold,
    seeds: [...new Set(plan.map((p) => p.seed))],
    grid: config.sweep?.grid ?? {},
    modelLoads,
    lint,
    plan: plan.map((p) => ({ name: p.name, seed: p.seed, grid: p.grid })),
    runs,
    ...summarizeRuns(plan, runs, hasGrid),
    ...(group.size > 1 ? { distributed: { ranks: group.size, backend: group.backend } } : {}),
  });

  try {
    suite = options.suite ?? (config.eval ? await loadSuite(config.eval.suite) : undefined);
    emit({ event: 'sweep_start', adapterPath, lockThreshold, runs: plan.map((p) => ({ name: p.name, seed: p.seed, grid: p.grid })) });
    for (const p of plan.filter(mine)) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      const model = await modelFor(p.index);
      if (p.index === group.rank && options.lint !== false) {
        lint = lintSweep(config, suite, model, options.data?.path ?? config.data ?? undefined);
        if (lint.length > 0) emit({ event: 'lint', warnings: lint });
      }
      emit({ event: 'run_start', index: p.index, total: plan.length, name: p.name, seed: p.seed, grid: p.grid, adapterPath: p.config.adapter_path });
      const t0 = performance.now();
      let summary: SweepRunSummary;
      try {
        const data = await dataFor(p.config, model);
        const result = await runExperiment(p.config, {
          model,
          data,
          suite,
          signal: options.signal,
          onEvent: (e) => emit({ event: 'train', index: p.index, name: p.name, train: e }),
        });
        experiments[p.index] = result;
        summary = summarizeRun(p, { result, seconds: (performance.now() - t0) / 1000 }, lockThreshold);
      } catch (err) {
        const aborted = options.signal?.aborted === true || (err instanceof MlxLabError && err.code === 'E_ABORTED');
        summary = summarizeRun(p, { error: err as Error, interrupted: aborted, seconds: (performance.now() - t0) / 1000 }, lockThreshold);
      }
      runs.push(summary);
      releaseAfter(p.index);
      if (group.leader) writeJsonAtomic(file, report('running'));
      emit({ event: 'run_done', index: p.index, total: plan.length, run: summary });
      if (summary.status === 'interrupted') {
        interrupted = true;
        break;
      }
    }
  } finally {
    for (const m of models.values()) m.dispose();
    models.clear();
  }
  if (group.size > 1) interrupted = await gatherRuns(group, runs, interrupted);
  const final = report(interrupted ? 'interrupted' : 'completed');
  if (group.leader) writeJsonAtomic(file, final);
  emit({ event: 'sweep_done', file, report: final });
  return { report: final, file, modelLoads, dataLoads, experiments, interrupted };
}

/**
 * Every rank's run summaries, in plan order, into `runs` (each rank ends with the whole list);
 * returns whether any rank was interrupted.
 */
async function gatherRuns(group: Group, runs: SweepRunSummary[], interrupted: boolean): Promise<boolean> {
  const parts = await group.allGather(JSON.stringify({ runs, interrupted }));
  const all = parts.map((t) => JSON.parse(t) as { runs: SweepRunSummary[]; interrupted: boolean });
  const byIndex = all.flatMap((part, rank) => part.runs.map((run, k) => ({ run, index: rank + k * group.size })));
  runs.splice(0, runs.length, ...byIndex.sort((a, b) => a.index - b.index).map((x) => x.run));
  return all.some((part) => part.interrupted);
}
