/**
 * The names of the files in a run folder (an adapter_path), in one place. The folder is
 * mlx-lm's adapter folder plus our own files:
 *
 *   adapters.safetensors           the adapter (mlx-lm's; the selected checkpoint after a run)
 *   adapter_config.json            the run's arguments as mlx-lm writes them
 *   NNNNNNN_adapters.safetensors   a checkpoint's adapter (mlx-lm's name)
 *   NNNNNNN_state.safetensors      a checkpoint's optimizer state, step, RNG key, batch position
 *   metrics.jsonl                  the run's event log
 *   run.json                       the manifest of a finished run (evals, checkpoints, selection)
 *   report.html                    the run's report (`mlx-lab report`)
 *   tb/                            TensorBoard event files (report_to: tensorboard)
 *   .mlx-lab.lock                  the writer's lock (src/core/lock.ts)
 *
 * A sweep folder holds run folders and `sweep.json`. This module sits in core/ so that every
 * layer (model/ reads adapters, train/ writes checkpoints) names the files the same way;
 * src/run/run-dir.ts builds the run folder's reading and writing on it.
 */
import { join } from 'node:path';

/** File names in a run folder (and the sweep file of the folder above). */
export const RUN_FILES = {
  adapter: 'adapters.safetensors',
  adapterConfig: 'adapter_config.json',
  metrics: 'metrics.jsonl',
  manifest: 'run.json',
  report: 'report.html',
  tensorboard: 'tb',
  lock: '.mlx-lab.lock',
  sweep: 'sweep.json',
} as const;

export type CheckpointKind = 'adapters' | 'state';

/** How a checkpoint state file is named, for messages. */
export const CHECKPOINT_STATE_FORM = 'NNNNNNN_state.safetensors';

const CHECKPOINT = /^(\d{7})_(adapters|state)\.safetensors$/;

/** The file name of a checkpoint's adapter or state at `iteration` (e.g. 0000100_state.safetensors). */
export function checkpointFileName(iteration: number, kind: CheckpointKind): string {
  return `${String(iteration).padStart(7, '0')}_${kind}.safetensors`;
}

/** The iteration and kind a checkpoint file name stands for; undefined for any other name. */
export function parseCheckpointFileName(name: string): { iteration: number; kind: CheckpointKind } | undefined {
  const m = CHECKPOINT.exec(name);
  return m ? { iteration: Number(m[1]), kind: m[2] as CheckpointKind } : undefined;
}

/** The paths of a run folder's files (names only: nothing is read or written here). */
export class RunFiles {
  /** `path`: the run folder. */
  constructor(readonly path: string) {}

  /** A file of the folder by name. */
  file(name: string): string {
    return join(this.path, name);
  }

  get adapter(): string {
    return this.file(RUN_FILES.adapter);
  }

  get adapterConfig(): string {
    return this.file(RUN_FILES.adapterConfig);
  }

  get metrics(): string {
    return this.file(RUN_FILES.metrics);
  }

  get manifest(): string {
    return this.file(RUN_FILES.manifest);
  }

  get report(): string {
    return this.file(RUN_FILES.report);
  }

  /** The folder of TensorBoard event files. */
  get tensorboard(): string {
    return this.file(RUN_FILES.tensorboard);
  }

  get lock(): string {
    return this.file(RUN_FILES.lock);
  }

  /** The adapter and state files of the checkpoint at `iteration`. */
  checkpoint(iteration: number): { iteration: number; adapterFile: string; stateFile: string } {
    return { iteration, adapterFile: this.file(checkpointFileName(iteration, 'adapters')), stateFile: this.file(checkpointFileName(iteration, 'state')) };
  }
}
