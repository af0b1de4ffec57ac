/**
 * DPO and ORPO in the training loop: the pairs (mlx-lm-lora's DPO data, src/data/preference.ts)
 * loaded for the run, their validation batches, the native loss settings from the config
 * (mlx-lm-lora's keys) and the step's event for metrics.jsonl.
 */
import { MlxLabError } from '../core/errors.js';
import { isPreferenceMode, type TrainConfig } from '../config/config.js';
import type { NativePreferenceConfig, NativePreferenceMetrics, NativeTrainer } from '../core/native.js';
import { evalBatches, loadPreferenceData, makePreferenceBatch, type Batch, type DataSplits, type PreferenceBatch, type PreferenceDataset } from '../data/index.js';
import type { Tokenizer } from '../model/tokenizer.js';

/** The native DPO / ORPO loss settings from mlx-lm-lora's config keys. */
export function preferenceConfig(config: TrainConfig): NativePreferenceConfig {
  if (!isPreferenceMode(config.train_mode)) throw new MlxLabError('E_CONFIG', `train_mode ${config.train_mode} has no preference loss`);
  return { method: config.train_mode, lossType: config.dpo_cpo_loss_type, beta: config.beta, delta: config.delta };
}

/** The pairs of a dpo / orpo run as data splits (each split a PreferenceDataset). */
export function loadPreferenceSplits(config: TrainConfig, tokenizer: Tokenizer): DataSplits {
  if (config.hf_dataset) throw new MlxLabError('E_CONFIG', `hf_dataset: train_mode ${config.train_mode} reads local preference pairs only (data: a folder or .jsonl of prompt/chosen/rejected records)`);
  if (config.data === null) throw new MlxLabError('E_CONFIG', `data: required for train_mode ${config.train_mode} (a folder with train.jsonl, or a .jsonl file, of prompt/chosen/rejected records; \`mlx-lab pairs\` writes them)`);
  const keys = { prompt: config.prompt_feature, chosen: config.chosen_feature, rejected: config.rejected_feature, system: config.system_feature, score: config.preference_score_feature };
  return loadPreferenceData(config.data, tokenizer, keys);
}

/** The native batch of the pairs a view batch (BatchIterator / evalBatches over a PreferenceDataset) selected. */
export function pairBatch(data: PreferenceDataset, batch: Batch, maxSeqLength: number): PreferenceBatch {
  return makePreferenceBatch(data, batch.indices, maxSeqLength);
}

/** The evaluation batches of a preference split, in evalBatches' fixed order. */
export function preferenceEvalBatches(data: PreferenceDataset, config: TrainConfig, numBatches: number): PreferenceBatch[] {
  const shape = { batchSize: config.batch_size, maxSeqLength: config.max_seq_length, numBatches, seed: config.seed };
  return evalBatches(data, shape).map((b) => pairBatch(data, b, config.max_seq_length));
}

/** The loss and metrics over preference batches (mlx-lm-lora's evaluate_dpo). */
export async function evaluatePreference(trainer: NativeTrainer, batches: PreferenceBatch[], config: TrainConfig) {
  return trainer.preferenceEvaluate(batches, preferenceConfig(config));
}

/** mlx-lm-lora's metrics, for the events. */
export function preferenceMetrics(r: NativePreferenceMetrics): NativePreferenceMetrics {
  return {
    chosenReward: r.chosenReward,
    rejectedReward: r.rejectedReward,
    accuracies: r.accuracies,
    margins: r.margins,
    policyChosenLogps: r.policyChosenLogps,
    policyRejectedLogps: r.policyRejectedLogps,
  };
}

/** The "preference" event of one step: the loss and mlx-lm-lora's metrics of its pairs. */
export function preferenceEvent(iteration: number, method: string, loss: number, r: NativePreferenceMetrics, seconds: number) {
  return { event: 'preference' as const, iteration, method, loss, ...preferenceMetrics(r), seconds };
}
