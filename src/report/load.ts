/**
 * Finding and reading what a report shows: a run folder (run.json and/or metrics.jsonl) or a
 * sweep folder (run folders below it, found by their run.json; the sweep's own files are not
 * needed, so the report does not depend on their layout).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import type { RunManifest } from '../run/manifest.js';
import { MlxLabError } from '../core/errors.js';
import { parseSuite } from '../eval/suite.js';
import type { MetricsEvent } from '../run/metrics.js';
import { sweepLabels, type SweepRunInput } from './model.js';
import { readRegularFile } from '../core/files.js';
import { readJsonFile } from '../core/json.js';
import { RUN_FILES, RunDir, sweepFile } from '../run/run-dir.js';

export interface LoadedRun {
  dir: string;
  manifest?: RunManifest;
  events: MetricsEvent[];
  /** The line number of a torn last line of metrics.jsonl that was dropped. */
  torn?: number;
  /** adapter_config.json (the training config), read when there is no run.json. */
  config?: Record<string, unknown>;
}

/** A JSON file of a run folder (E_ARGUMENT naming it when it is missing or not JSON). */
function readJson<T>(file: string): T {
  return readJsonFile(file, { code: 'E_ARGUMENT' }) as T;
}

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** Read a run folder: run.json when the run finished, metrics.jsonl when it is there. */
export function loadRun(dir: string): LoadedRun {
  const run = new RunDir(dir);
  const hasManifest = run.hasManifest();
  const hasMetrics = run.hasMetrics();
  if (!hasManifest && !hasMetrics) throw new MlxLabError('E_ARGUMENT', `${dir}: no ${RUN_FILES.manifest} or ${RUN_FILES.metrics} (is this an mlx-lab run folder?)`);
  const log = hasMetrics ? run.readMetrics() : undefined;
  let config: Record<string, unknown> | undefined;
  if (!hasManifest && run.hasAdapterConfig()) {
    try {
      config = readJson<Record<string, unknown>>(run.adapterConfig);
    } catch {
      // only used for the title; the report goes on without it
    }
  }
  return { dir, manifest: hasManifest ? run.manifestFromDisk(readJson<RunManifest>(run.manifest)) : undefined, events: log?.events ?? [], torn: log?.torn, config };
}

/**
 * Folders below `dir`, up to `depth` levels down, sorted by path (no hidden folders, no
 * node_modules): those `take` accepts; a taken folder, or one `skip` rejects, is not entered.
 */
function findFolders(dir: string, depth: number, take: (run: RunDir) => boolean, skip: (run: RunDir) => boolean = () => false): string[] {
  const found: string[] = [];
  const walk = (d: string, level: number) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const name of entries.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))) {
      if (name.startsWith('.') || name === 'node_modules') continue;
      const p = join(d, name);
      if (!isDir(p)) continue;
      const run = new RunDir(p);
      if (skip(run)) continue;
      if (take(run)) found.push(p);
      else if (level < depth) walk(p, level + 1);
    }
  };
  walk(dir, 1);
  return found;
}

/** Run folders (holding run.json) below a folder, up to `depth` levels down, sorted by path. */
export function findRunDirs(dir: string, depth = 3): string[] {
  return findFolders(dir, depth, (run) => run.hasManifest());
}

/** Folders below `dir` with a metrics log but no run.json yet (runs still going, or killed). */
export function findUnfinishedRunDirs(dir: string, depth = 3): string[] {
  return findFolders(
    dir,
    depth,
    (run) => run.hasMetrics(),
    (run) => run.hasManifest(),
  );
}

/** "run" when the folder is a run (run.json or metrics.jsonl), "sweep" when run folders lie below it. */
export function detectReportKind(dir: string): 'run' | 'sweep' {
  if (!isDir(dir)) throw new MlxLabError('E_ARGUMENT', `${dir}: not a folder`);
  const run = new RunDir(dir);
  if (run.hasManifest() || run.hasMetrics()) return 'run';
  if (existsSync(sweepFile(dir)) || findRunDirs(dir).length > 0 || findUnfinishedRunDirs(dir).length > 0) return 'sweep';
  throw new MlxLabError('E_ARGUMENT', `${dir}: neither a run folder (${RUN_FILES.manifest}, ${RUN_FILES.metrics}) nor a sweep folder (run folders with ${RUN_FILES.manifest} below it)`);
}

/**
 * case id → category from a suite file, best effort (undefined when it cannot be read): the
 * path as recorded, else relative to the run folder. The suite is only parsed (its scorer files
 * are not loaded).
 */
export function loadCaseCategories(suitePath: string | null | undefined, runDir?: string): Record<string, string> | undefined {
  if (!suitePath) return undefined;
  const candidates = isAbsolute(suitePath) ? [suitePath] : [resolve(suitePath), ...(runDir ? [resolve(runDir, suitePath), resolve(runDir, basename(suitePath))] : [])];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    try {
      const suite = parseSuite(readRegularFile(file, 'utf8'), file);
      return Object.fromEntries(suite.cases.map((c) => [c.id, c.category]));
    } catch {
      // a suite that no longer parses: the report goes on without categories
    }
  }
  return undefined;
}

export interface LoadedSweep {
  dir: string;
  runs: (SweepRunInput & { dir: string })[];
  /** Run folders with a metrics log but no run.json (not in the report). */
  unfinished: string[];
}

/** Read every finished run below a sweep folder, labelled by seed (and what else differs). */
export function loadSweep(dir: string): LoadedSweep {
  const dirs = findRunDirs(dir);
  const loaded = dirs.map((d) => loadRun(d));
  const labels = sweepLabels(
    loaded.map((r) => r.manifest!),
    dirs.map((d) => relative(dir, d)),
  );
  return {
    dir,
    runs: loaded.map((r, i) => ({ dir: r.dir, label: labels[i], manifest: r.manifest!, events: r.events, href: new RunDir(r.dir).reportLink(dir) })),
    unfinished: findUnfinishedRunDirs(dir),
  };
}
