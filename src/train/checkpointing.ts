/**
 * Saving a checkpoint during training: the adapter and the full state (optimizer, RNG, batch
 * position) as NNNNNNN_adapters.safetensors / NNNNNNN_state.safetensors, and the run's
 * adapters.safetensors updated to the same weights.
 */
import { rmSync } from 'node:fs';
import type { NativeTrainer } from '../core/native.js';
import type { BatchIterator } from '../data/index.js';
import type { Checkpoint } from './checkpoints.js';
import type { GrpoRollout } from './grpo.js';

/** Where the data stands: the batch iterator (SFT) or the rollout's prompts (GRPO). */
export interface Position {
  batches?: BatchIterator;
  rollout?: GrpoRollout;
}
import { RunFiles } from '../core/run-files.js';

/** Save the checkpoint of iteration `it` into `adapterPath`; returns its files. */
export async function saveCheckpoint(trainer: NativeTrainer, position: Position, adapterPath: string, adapterFile: string, it: number): Promise<Checkpoint> {
  const { adapterFile: ckptAdapter, stateFile } = new RunFiles(adapterPath).checkpoint(it);
  // The state file goes last: a checkpoint rewritten (resumed from an older one) is incomplete until then.
  rmSync(stateFile, { force: true });
  await trainer.saveAdapter(ckptAdapter);
  const metadata: Record<string, string> = { batches: JSON.stringify(position.batches?.state() ?? null), iteration: String(it) };
  if (position.rollout) metadata.rollout = JSON.stringify(position.rollout.state());
  await trainer.saveState(stateFile, metadata);
  await trainer.saveAdapter(adapterFile);
  return { iteration: it, adapterFile: ckptAdapter, stateFile };
}
