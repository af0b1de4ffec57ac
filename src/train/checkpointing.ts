/**
 * Saving a checkpoint during training: the adapter and the full state (optimizer, RNG, batch
 * position) as NNNNNNN_adapters.safetensors / NNNNNNN_state.safetensors, and the run's
 * adapters.safetensors updated to the same weights.
 */
import { rmSync } from 'node:fs';
import type { NativeTrainer } from '../core/native.js';
import type { BatchIterator } from '../data/index.js';
import type { Checkpoint } from './checkpoints.js';
import { RunFiles } from '../core/run-files.js';

/** Save the checkpoint of iteration `it` into `adapterPath`; returns its files. */
export async function saveCheckpoint(trainer: NativeTrainer, batches: BatchIterator, adapterPath: string, adapterFile: string, it: number): Promise<Checkpoint> {
  const { adapterFile: ckptAdapter, stateFile } = new RunFiles(adapterPath).checkpoint(it);
  // The state file goes last: a checkpoint rewritten (resumed from an older one) is incomplete until then.
  rmSync(stateFile, { force: true });
  await trainer.saveAdapter(ckptAdapter);
  await trainer.saveState(stateFile, { batches: JSON.stringify(batches.state()), iteration: String(it) });
  await trainer.saveAdapter(adapterFile);
  return { iteration: it, adapterFile: ckptAdapter, stateFile };
}
