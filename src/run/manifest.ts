/**
 * What a finished run writes to run.json (src/run/run-dir.ts reads and writes it): the format
 * evals, val losses, scored checkpoints, the selection and the config. The field names are the
 * file's: renaming one breaks every run folder written before.
 */
import type { TrainConfig } from '../config/config.js';
import type { CheckpointScores, Selection } from '../select/selection.js';
import type { TrainResult } from '../train/loop.js';

/** One format eval of a run: the score with its Wilson 95% interval, per-case scores and failure counts. */
export interface FormatRecord {
  iteration: number;
  score: number;
  low: number;
  high: number;
  valLoss?: number;
  /** Per case: id → score. */
  cases: Record<string, number>;
  failures: Record<string, number>;
}

export interface RunManifest {
  version: 1;
  model: string | null;
  data: string | null;
  suite: string | null;
  seed: number;
  startedAt: string;
  finishedAt: string;
  stopReason: TrainResult['stopReason'];
  stopMessage?: string;
  iterations: number;
  baseline?: FormatRecord;
  evals: FormatRecord[];
  valLosses: { iteration: number; loss: number }[];
  checkpoints: CheckpointScores[];
  selected?: Selection & { adapterFile: string };
  config: TrainConfig;
}
