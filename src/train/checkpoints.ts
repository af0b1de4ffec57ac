/**
 * Checkpoint files in an adapter folder, as mlx-lm names them plus our side file:
 * `0000100_adapters.safetensors` (mlx-lm's, weights only) and `0000100_state.safetensors`
 * (optimizer state, step, RNG key and batch position, for an exact resume).
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MlxLabError } from '../core/errors.js';

export interface Checkpoint {
  iteration: number;
  adapterFile: string;
  stateFile: string;
}

const STATE = /^(\d{7})_state\.safetensors$/;

/** The adapter and state files of a checkpoint, given its state file. */
export function checkpointFiles(stateFile: string): Checkpoint {
  const m = STATE.exec(basename(stateFile));
  if (!m) throw new MlxLabError('E_ARGUMENT', `${stateFile}: not a checkpoint state file (NNNNNNN_state.safetensors)`);
  return { iteration: Number(m[1]), stateFile, adapterFile: join(dirname(stateFile), `${m[1]}_adapters.safetensors`) };
}

/** Complete checkpoints of a folder (both files present), oldest first. */
export function listCheckpoints(dir: string): Checkpoint[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => STATE.test(f))
    .map((f) => checkpointFiles(join(dir, f)))
    .filter((c) => existsSync(c.adapterFile))
    .sort((a, b) => a.iteration - b.iteration);
}

/** The state file of the newest complete checkpoint, or undefined. */
export function findLatestCheckpoint(dir: string): string | undefined {
  return listCheckpoints(dir).at(-1)?.stateFile;
}
