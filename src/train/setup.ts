/**
 * Setting up a training run: the native trainer's options from the config, the model and data,
 * the trainer with its adapter, and the position to start from (a checkpoint when resuming).
 */
import { CHECKPOINT_STATE_FORM, RunFiles } from '../core/run-files.js';
import { resolve } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import type { TrainConfig } from '../config/config.js';
import { BatchIterator, evalBatches, loadConfiguredData, type Batch, type BatchIteratorState, type DataSplits, type Dataset } from '../data/index.js';
import { loadModel, nativeHandle, type Model } from '../model/model.js';
import { native, type NativeTrainer, type NativeTrainerOptions } from '../core/native.js';
import { writeJsonAtomic, removeStaleTemps } from '../core/atomic.js';
import { checkpointFiles, findLatestCheckpoint } from './checkpoints.js';
import type { Group } from '../distributed/group.js';
import type { TrainOptions } from './types.js';
import { requireRollout, type GrpoRollout } from './grpo.js';
import { isPreferenceMode } from '../config/config.js';
import { loadPreferenceSplits, preferenceEvalBatches } from './preference.js';
import { PreferenceDataset, type PreferenceBatch } from '../data/index.js';

/** The native trainer's options from mlx-lm's config keys. */
export function trainerOptions(config: TrainConfig): NativeTrainerOptions {
  const name = config.optimizer;
  if (name !== 'adam' && name !== 'adamw' && name !== 'sgd') {
    throw new MlxLabError('E_CONFIG', `optimizer "${name}" is not supported yet (adam, adamw, sgd)`);
  }
  const o = config.optimizer_config[name] ?? {};
  const schedule = config.lr_schedule;
  return {
    lora: {
      rank: config.lora_parameters.rank,
      scale: config.lora_parameters.scale,
      dropout: config.lora_parameters.dropout,
      keys: config.lora_parameters.keys,
      numLayers: config.num_layers,
      fineTuneType: config.fine_tune_type,
    },
    optimizer: {
      name,
      learningRate: config.learning_rate,
      schedule: schedule ? { name: schedule.name, arguments: schedule.arguments, warmup: schedule.warmup, warmupInit: schedule.warmup_init } : null,
      betas: o.betas,
      eps: typeof o.eps === 'number' ? o.eps : undefined,
      biasCorrection: o.bias_correction,
      weightDecay: o.weight_decay,
      momentum: o.momentum,
      dampening: o.dampening,
      nesterov: o.nesterov,
    },
    seed: config.seed,
    gradAccumulationSteps: config.grad_accumulation_steps,
    gradCheckpoint: config.grad_checkpoint,
  };
}

/** adapter_config.json as mlx-lm writes it: the run's arguments (mlx-lm reads fine_tune_type, num_layers, lora_parameters). */
export function adapterConfig(config: TrainConfig): Record<string, unknown> {
  // report_to as mlx-lm writes it: one comma-separated string (or null), not our parsed list.
  return { ...config, adapter_file: undefined, report_to: config.report_to?.join(',') ?? null };
}

function requireString(value: string | null, key: string): string {
  if (!value) throw new MlxLabError('E_CONFIG', `"${key}" is required (a ${key === 'model' ? 'model folder or .gguf file' : 'data folder or .jsonl file'})`);
  return value;
}

/** What a run holds that must be freed at its end, filled in as setUp makes it. */
export interface Held {
  model?: Model;
  trainer?: NativeTrainer;
}

/** A run ready to train: model, data, trainer and the batches from its start position. */
export interface Session {
  config: TrainConfig;
  model: Model;
  trainer: NativeTrainer;
  data: DataSplits;
  /** The SFT training set (none with train_mode grpo: the rollout holds the prompts). */
  trainSet?: Dataset;
  adapterPath: string;
  adapterFile: string;
  startIteration: number;
  /** The state file resumed from, if any. */
  resumeFrom?: string;
  batches?: BatchIterator;
  valBatches: Batch[];
  /** train_mode grpo: the prompts, sampler and rewards. */
  rollout?: GrpoRollout;
  /** train_mode dpo / orpo: the training pairs (also trainSet, whose batches pick them) and the validation pairs. */
  preference?: { train: PreferenceDataset; valBatches: PreferenceBatch[] };
}

/** The training data, checked to fill at least one batch. */
function trainingSet(data: DataSplits, config: TrainConfig): Dataset {
  const trainSet = data.train;
  if (!trainSet) throw new MlxLabError('E_DATA', `${data.path}: no training data (train.jsonl)`);
  if (trainSet.length < config.batch_size) {
    throw new MlxLabError('E_DATA', `${trainSet.source}: ${trainSet.length} training examples, fewer than batch_size ${config.batch_size}`);
  }
  return trainSet;
}

/** Load the adapter and state of a checkpoint (or a starting adapter); returns the first iteration and the stored positions. */
async function restore(trainer: NativeTrainer, config: TrainConfig, resumeFrom: string | undefined): Promise<{ startIteration: number; iteratorState?: BatchIteratorState; rolloutState?: unknown }> {
  if (resumeFrom) {
    const files = checkpointFiles(resumeFrom);
    await trainer.loadAdapter(files.adapterFile);
    const state = await trainer.loadState(files.stateFile);
    const grpo = config.train_mode === 'grpo';
    const iteratorState: BatchIteratorState | undefined = JSON.parse(state.metadata.batches ?? 'null') ?? undefined;
    const rolloutState: unknown = JSON.parse(state.metadata.rollout ?? 'null') ?? undefined;
    if (grpo ? rolloutState === undefined : !iteratorState) {
      throw new MlxLabError('E_ARGUMENT', `${files.stateFile}: no ${grpo ? 'GRPO prompt' : 'batch'} position stored${grpo ? ' (was the checkpoint saved by an SFT run?)' : ''}`);
    }
    return { startIteration: state.iteration + 1, iteratorState, rolloutState };
  }
  if (config.resume_adapter_file) await trainer.loadAdapter(resolve(config.resume_adapter_file));
  return { startIteration: 1 };
}

/** The training data: SFT examples, DPO / ORPO pairs, or none for GRPO (whose prompts the rollout holds). */
async function sftData(config: TrainConfig, options: TrainOptions, model: Model): Promise<DataSplits> {
  if (config.train_mode === 'grpo') return options.data ?? { path: options.rollout?.source ?? '', train: null, valid: null, test: null };
  if (isPreferenceMode(config.train_mode)) return options.data ?? loadPreferenceSplits(config, model.tokenizer);
  return options.data ?? (await loadConfiguredData(config, model.tokenizer, { requireTest: config.test }));
}

/** Load what the run needs and make its trainer (recorded in `held` as soon as made, for the caller to free). */
export async function setUp(config: TrainConfig, options: TrainOptions, adapterPath: string, group: Group, held: Held): Promise<Session> {
  const rollout = requireRollout(config, options.rollout);
  if ((rollout || isPreferenceMode(config.train_mode)) && group.size > 1) throw new MlxLabError('E_CONFIG', `train_mode ${config.train_mode} trains in one process (no distributed group yet)`);
  const model = options.model ?? (await loadModel(requireString(config.model, 'model')));
  held.model = model;
  const data = await sftData(config, options, model);
  const trainSet = rollout ? undefined : trainingSet(data, config);
  removeStaleTemps(adapterPath); // half-written files of a killed run
  const trainer = await native().NativeTrainer.create(nativeHandle(model), {
    ...trainerOptions(config),
    sharedPrefix: trainSet?.sharedPrefix(),
    dataParallel: group.size > 1,
    localShards: options.localShards,
  });
  held.trainer = trainer;
  const resumeFrom = options.resume ? (typeof options.resume === 'string' ? options.resume : findLatestCheckpoint(adapterPath)) : undefined;
  if (options.resume && !resumeFrom) throw new MlxLabError('E_ARGUMENT', `${adapterPath}: no checkpoint to resume from (no ${CHECKPOINT_STATE_FORM})`);
  const { startIteration, iteratorState, rolloutState } = await restore(trainer, config, resumeFrom);
  if (rollout && rolloutState !== undefined) rollout.restore(rolloutState);
  const files = new RunFiles(adapterPath);
  if (group.leader) writeJsonAtomic(files.adapterConfig, adapterConfig(config));
  const shape = { batchSize: config.batch_size, maxSeqLength: config.max_seq_length };
  const batches = trainSet ? (iteratorState ? BatchIterator.restore(trainSet, iteratorState) : new BatchIterator(trainSet, { ...shape, seed: config.seed })) : undefined;
  const valBatches = data.valid ? evalBatches(data.valid, { ...shape, numBatches: config.val_batches, seed: config.seed }) : [];
  const preference = preferencePairs(config, trainSet, data);
  return { config, model, trainer, data, trainSet, adapterPath, adapterFile: files.adapter, startIteration, resumeFrom, batches, valBatches, rollout, preference };
}

/** A dpo / orpo run's pairs: the training set and the validation batches (E_DATA when the data is not pairs). */
function preferencePairs(config: TrainConfig, trainSet: Dataset | undefined, data: DataSplits): Session['preference'] {
  if (!isPreferenceMode(config.train_mode)) return undefined;
  const pairs = (d: Dataset | null | undefined, split: string): PreferenceDataset | null => {
    if (!d) return null;
    if (!(d instanceof PreferenceDataset)) throw new MlxLabError('E_DATA', `${d.source}: train_mode ${config.train_mode} needs the ${split} split as preference pairs (prompt/chosen/rejected records)`);
    return d;
  };
  const valid = pairs(data.valid, 'valid');
  return { train: pairs(trainSet, 'train')!, valBatches: valid ? preferenceEvalBatches(valid, config, config.val_batches) : [] };
}
