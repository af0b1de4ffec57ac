/**
 * Checkpoint files in an adapter folder, as mlx-lm names them plus our side file:
 * `0000100_adapters.safetensors` (mlx-lm's, weights only) and `0000100_state.safetensors`
 * (optimizer state, step, RNG key and batch position, for an exact resume). The names are
 * src/core/run-files.ts's.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import { CHECKPOINT_STATE_FORM, RunFiles, parseCheckpointFileName } from '../core/run-files.js';

export interface Checkpoint {
  iteration: number;
  adapterFile: string;
  stateFile: string;
}

/** The adapter and state files of a checkpoint, given its state file. */
export function checkpointFiles(stateFile: string): Checkpoint {
  const parsed = parseCheckpointFileName(basename(stateFile));
  if (parsed?.kind !== 'state') throw new MlxLabError('E_ARGUMENT', `${stateFile}: not a checkpoint state file (${CHECKPOINT_STATE_FORM})`);
  return { ...new RunFiles(dirname(stateFile)).checkpoint(parsed.iteration), stateFile };
}

/** Complete checkpoints of a folder (both files present), oldest first. */
export function listCheckpoints(dir: string): Checkpoint[] {
  if (!existsSync(dir)) return [];
  const files = new RunFiles(dir);
  return readdirSync(dir)
    .map((f) => parseCheckpointFileName(f))
    .filter((c) => c?.kind === 'state')
    .map((c) => files.checkpoint(c!.iteration))
    .filter((c) => existsSync(c.adapterFile))
    .sort((a, b) => a.iteration - b.iteration);
}

/** The state file of the newest complete checkpoint, or undefined. */
export function findLatestCheckpoint(dir: string): string | undefined {
  return listCheckpoints(dir).at(-1)?.stateFile;
}
