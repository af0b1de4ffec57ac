/**
 * One training step and what it reports: the step's errors explained in the user's terms (the
 * data file, the checkpoint to go back to), and the window of steps a "report" event averages.
 */
import { MlxLabError } from '../core/errors.js';
import type { TrainConfig } from '../config/config.js';
import type { NativeStepResult } from '../core/native.js';
import { memory } from '../core/runtime.js';
import { checkpointFiles, listCheckpoints, type Checkpoint } from './checkpoints.js';
import type { TrainEvent } from './types.js';

/** The native "no target tokens" error, with what the user can change: the data file and max_seq_length. */
export function explainStepError(err: unknown, source: string, config: TrainConfig, iteration: number): unknown {
  if (!(err instanceof MlxLabError) || !err.message.startsWith('the batch has no target tokens')) return err;
  return new MlxLabError(
    'E_DATA',
    `${source}: iteration ${iteration}: the batch has no target tokens: in every example of it the part trained on starts at or after max_seq_length=${config.max_seq_length} (long prompts cut before the reply, with mask_prompt); raise max_seq_length or shorten those prompts`,
    { cause: err },
  );
}

/**
 * A non-finite loss at the first step after a resume: the checkpoint itself is bad (NaN or Inf in
 * its weights or optimizer state), whatever the learning rate; name the earlier one to resume from.
 */
function badCheckpointError(stateFile: string, loss: number, adapterPath: string): MlxLabError {
  const bad = checkpointFiles(stateFile);
  const earlier = listCheckpoints(adapterPath).filter((c) => c.iteration < bad.iteration).at(-1);
  return new MlxLabError(
    'E_TRAIN',
    `${bad.stateFile}: the checkpoint of iteration ${bad.iteration} is bad: the first step from it gives loss ${loss} (NaN or Inf in its weights or optimizer state). ` +
      (earlier ? `Resume from the one before it: --resume ${earlier.stateFile}` : 'There is no earlier checkpoint in the folder: train again without --resume.'),
  );
}

/** What to do about a non-finite loss at `iteration`: the error naming the last good checkpoint (or the bad one resumed from). */
export function nonFiniteError(loss: number, iteration: number, at: { startIteration: number; resumeFrom?: string; adapterPath: string; checkpoints: Checkpoint[] }): MlxLabError {
  if (at.resumeFrom && iteration === at.startIteration) return badCheckpointError(at.resumeFrom, loss, at.adapterPath);
  const last = at.checkpoints.at(-1);
  return new MlxLabError(
    'E_TRAIN',
    `loss is ${loss} at iteration ${iteration}: training stopped (the weights were not updated). ` +
      (last ? `The last good checkpoint is ${last.adapterFile}. ` : 'No checkpoint was saved yet. ') +
      'Lower the learning rate or check the data.',
  );
}

/** The steps since the last "report" event: their mean loss, speed and tokens. */
export class ReportWindow {
  private loss = 0;
  private steps = 0;
  private tokens = 0;
  private seconds = 0;
  private trainedTokens = 0;

  /** Count one finished step that took `seconds`. */
  add(r: NativeStepResult, seconds: number): void {
    this.loss += r.loss;
    this.steps++;
    this.tokens += r.tokens;
    this.seconds += seconds;
  }

  /** The report event of the window at `iteration`, and a new window. */
  report(iteration: number, lr: number): Extract<TrainEvent, { event: 'report' }> {
    this.trainedTokens += this.tokens;
    const event = {
      event: 'report' as const,
      iteration,
      trainLoss: this.loss / this.steps,
      lr,
      itPerSec: this.steps / this.seconds,
      tokensPerSec: this.tokens / this.seconds,
      trainedTokens: this.trainedTokens,
      peakMemory: memory().peak,
    };
    this.loss = this.steps = this.tokens = this.seconds = 0;
    return event;
  }
}
