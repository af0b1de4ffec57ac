/**
 * A run folder (an adapter_path) and every file in it: the names come from
 * src/core/run-files.ts (so train/ and model/ name them the same way); this class adds reading
 * and writing the manifest (run.json, its run files relative to the folder: see run-paths.ts),
 * the metrics log, adapter_config.json and the checkpoints. Experiment, select, sweep, report
 * and the CLI reach a run's files only through it.
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { writeJsonAtomic } from '../core/atomic.js';
import { MlxLabError } from '../core/errors.js';
import { readJsonFile } from '../core/json.js';
import { RUN_FILES, RunFiles } from '../core/run-files.js';
import { listCheckpoints, type Checkpoint } from '../train/checkpoints.js';
import type { RunManifest } from './manifest.js';
import { readMetrics, type MetricsLog } from './metrics.js';
import { manifestFromDisk, manifestToDisk } from './run-paths.js';

export { CHECKPOINT_STATE_FORM, RUN_FILES } from '../core/run-files.js';

/** A run folder: its files' paths, and reading and writing them. */
export class RunDir extends RunFiles {
  /** Has run.json: the run finished. */
  hasManifest(): boolean {
    return existsSync(this.manifest);
  }

  /** Has metrics.jsonl: the run started (it may still be going, or have been killed). */
  hasMetrics(): boolean {
    return existsSync(this.metrics);
  }

  /** Has adapter_config.json. */
  hasAdapterConfig(): boolean {
    return existsSync(this.adapterConfig);
  }

  /** run.json, checked to be a manifest; its run files resolve inside this folder. */
  readManifest(): RunManifest {
    const file = this.manifest;
    if (!existsSync(file)) throw new MlxLabError('E_ARGUMENT', `${this.path}: no ${RUN_FILES.manifest} (is this an mlx-lab run folder?)`);
    const manifest = readJsonFile(file, { code: 'E_ARGUMENT' }) as RunManifest;
    if (!manifest || typeof manifest !== 'object' || !Array.isArray(manifest.checkpoints)) {
      throw new MlxLabError('E_ARGUMENT', `${file}: not an mlx-lab run manifest (no "checkpoints" list)`);
    }
    return this.manifestFromDisk(manifest);
  }

  /** A manifest as parsed from this folder's run.json, its run files made absolute in this folder. */
  manifestFromDisk(manifest: RunManifest): RunManifest {
    return manifestFromDisk(manifest, resolve(this.path));
  }

  /** Write run.json atomically, the run files relative to this folder. */
  writeManifest(manifest: RunManifest): void {
    writeJsonAtomic(this.manifest, manifestToDisk(manifest, resolve(this.path)));
  }

  /** metrics.jsonl's events (a torn last line dropped and reported). */
  readMetrics(): MetricsLog {
    return readMetrics(this.metrics);
  }

  /** The complete checkpoints, oldest first. */
  checkpoints(): Checkpoint[] {
    return listCheckpoints(this.path);
  }

  /** A link to this run's report.html from the folder `from` (URL-encoded, forward slashes). */
  reportLink(from: string): string {
    return relative(from, this.report).split(/[\\/]/).map(encodeURIComponent).join('/');
  }
}

/** The sweep file (sweep.json) of a sweep folder. */
export function sweepFile(sweepDir: string): string {
  return join(sweepDir, RUN_FILES.sweep);
}
