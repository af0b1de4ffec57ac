/**
 * A run's tracking (report_to: tensorboard, mlflow): the sinks asked for, fed from the run's event
 * stream (the events of metrics.jsonl), each behind a GuardedSink so that a failing service warns
 * once and training goes on. wandb and swanlab (mlx-lm's values) are accepted and not reported to.
 */
import { basename } from 'node:path';
import type { TrainConfig } from '../../config/config.js';
import { warn as warnOnce } from '../../core/errors.js';
import type { TrainEvent } from '../../train/loop.js';
import { mlflowSettings, MlflowSink } from './mlflow.js';
import { flattenParams, ScalarMapper } from './scalars.js';
import { GuardedSink, type RunEnd, type Sink } from './sink.js';
import { TensorBoardSink } from './tensorboard.js';

export type { RunEnd } from './sink.js';

export interface TrackingOptions {
  /** Where warnings go (default: mlx-lab's warning on stderr, once per message). */
  warn?: (message: string) => void;
  /** The environment MLflow's settings are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** The sinks of one run. */
export class Tracking {
  private readonly mapper = new ScalarMapper();

  constructor(readonly sinks: readonly GuardedSink[]) {}

  /** Queue an event's scalars for every sink; returns at once and never throws. */
  event(e: TrainEvent): void {
    if (this.sinks.length === 0) return;
    const scalars = this.mapper.scalars(e, Date.now());
    for (const s of this.sinks) s.push(scalars);
  }

  /** Flush and close every sink (artifacts, end status); never throws. */
  async close(end: RunEnd): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close(end)));
  }
}

/**
 * The tracking of a run in `runDir` as its config asks; settings errors (mlflow without
 * MLFLOW_TRACKING_URI) are thrown here, before training starts.
 */
export function openTracking(config: TrainConfig, runDir: string, options: TrackingOptions = {}): Tracking {
  const warn = options.warn ?? warnOnce;
  const targets = config.report_to ?? [];
  const sinks: Sink[] = [];
  if (targets.includes('tensorboard')) sinks.push(new TensorBoardSink(runDir));
  if (targets.includes('mlflow')) {
    const settings = mlflowSettings(options.env ?? process.env, config.project_name);
    sinks.push(new MlflowSink(settings, basename(runDir), flattenParams(config)));
  }
  return new Tracking(sinks.map((s) => new GuardedSink(s, warn)));
}
