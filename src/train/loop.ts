/**
 * The training loop, in mlx-lm's order: for each iteration, validation first (at iteration 1,
 * every steps_per_eval and at the end), then one micro-batch step (an optimizer update every
 * grad_accumulation_steps), reports every steps_per_report, checkpoints every save_every.
 * Callbacks see every event and may stop the run; the live model generates with the adapter
 * being trained, which is what the format evals hook into.
 */
import { rmSync } from 'node:fs';
import { ensureFolder } from '../core/files.js';
import { lockRunFolder } from '../core/lock.js';
import { resolve } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import type { TrainConfig } from '../config/config.js';
import { BatchIterator, evalBatches, loadData, dataOptionsFromConfig, type Batch, type BatchIteratorState, type DataSplits } from '../data/index.js';
import { loadModel, type Model } from '../model/model.js';
import { native, type NativeTrainer, type NativeTrainerOptions } from '../core/native.js';
import { memory } from '../core/runtime.js';
import { writeJsonAtomic, appendJsonLine, removeStaleTemps } from '../core/atomic.js';
import { checkpointFiles, findLatestCheckpoint, listCheckpoints, type Checkpoint } from './checkpoints.js';
import { CHECKPOINT_STATE_FORM, RunFiles } from '../core/run-files.js';
import { SINGLE, anyRank, checkBatchSize, firstDefined, type Group } from '../distributed/group.js';
import { shardBatch } from '../distributed/shard.js';

/** Everything the loop reports, in order; `--json` prints these one per line. */
export type TrainEvent =
  | { event: 'start'; iters: number; startIteration: number; trainExamples: number; validExamples: number; trainableParameters: number; adapterPath: string; compute: string }
  | { event: 'val'; iteration: number; valLoss: number; valTokens: number; seconds: number }
  | { event: 'step'; iteration: number; loss: number; tokens: number; lr: number; updated: boolean }
  | { event: 'report'; iteration: number; trainLoss: number; lr: number; itPerSec: number; tokensPerSec: number; trainedTokens: number; peakMemory: number }
  | { event: 'checkpoint'; iteration: number; adapterFile: string; stateFile: string }
  | { event: 'test'; testLoss: number; testPpl: number; tokens: number }
  | { event: 'stop'; iteration: number; reason: StopReason; message: string }
  | { event: 'format'; iteration: number; score: number; low: number; high: number; n: number; cases: Record<string, number>; failures: Record<string, number>; categories: Record<string, number>; caseCategories: Record<string, string>; valLoss?: number; seconds: number; tokensPerSec: number; peakMemory: number }
  | { event: 'scores'; iteration: number; adapterFile: string; formatScore?: number; formatLow?: number; formatHigh?: number; valLoss?: number }
  | { event: 'done'; iteration: number; adapterFile: string; seconds: number; distributed?: { ranks: number; backend: string; bytesSent: number } };

export type StopReason = 'completed' | 'callback' | 'aborted';

/** What a callback may return to end the run after the current iteration. */
export interface StopRequest {
  stop: true;
  reason: string;
}

export interface TrainContext {
  config: TrainConfig;
  /** The model, generating with the live adapter. */
  model: Model;
  trainer: NativeTrainer;
  iteration: number;
  /** Add an event to the run's log (metrics.jsonl) and the event stream. */
  emit(event: TrainEvent): void;
  /** The validation loss of the live adapter now (computed once per iteration). */
  validate(): Promise<number | undefined>;
}

type Hook<T> = (info: T, ctx: TrainContext) => undefined | StopRequest | undefined | Promise<undefined | StopRequest | undefined>;

export interface TrainCallbacks {
  /** Every event (progress bars, logs). */
  onEvent?: (event: TrainEvent) => void;
  onStep?: Hook<Extract<TrainEvent, { event: 'step' }>>;
  onEval?: Hook<Extract<TrainEvent, { event: 'val' }>>;
  onCheckpoint?: Hook<Extract<TrainEvent, { event: 'checkpoint' }>>;
  /** Called after the start event, before the first step (e.g. a baseline format eval). */
  onStart?: Hook<Extract<TrainEvent, { event: 'start' }>>;
}

export interface TrainOptions extends TrainCallbacks {
  /** Stops between iterations; a checkpoint of the current state is saved first. */
  signal?: AbortSignal;
  /** A loaded base model to train on (reused, not disposed); else config.model is loaded. */
  model?: Model;
  /** Data already loaded (sweeps reuse it); else config.data is read. */
  data?: DataSplits;
  /** Continue from the latest checkpoint in adapter_path (true) or from a given state file. */
  resume?: boolean | string;
  /** Keep the adapter attached after the run (the caller then owns trainer disposal). */
  keepAdapter?: boolean;
  /** Save a checkpoint at the last iteration too (selection needs the final weights). */
  checkpointAtEnd?: boolean;
  /**
   * Data-parallel training over this group (src/distributed): each rank trains on its shard of
   * every batch and gradients are summed over the ranks; rank 0 alone writes files, emits events
   * and runs the callbacks, and its stop decisions are shared so every rank stops at the same step.
   */
  group?: Group;
  /**
   * In this one process, compute every batch as `localShards` data-parallel ranks would (row
   * shards, token-weighted sums in rank order): the bit-exact reference of a distributed run.
   */
  localShards?: number;
}

export interface TrainResult {
  stopReason: StopReason;
  stopMessage?: string;
  /** The last iteration trained. */
  iteration: number;
  /** Per-iteration micro-batch losses of this session (index 0 = startIteration). */
  losses: number[];
  startIteration: number;
  valLosses: { iteration: number; loss: number }[];
  testLoss?: number;
  adapterPath: string;
  adapterFile: string;
  checkpoints: Checkpoint[];
  seconds: number;
  /** Present when keepAdapter is set. */
  trainer?: NativeTrainer;
  model?: Model;
}

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
  return { ...config, adapter_file: undefined };
}

function requireString(value: string | null, key: string): string {
  if (!value) throw new MlxLabError('E_CONFIG', `"${key}" is required (a ${key === 'model' ? 'model folder or .gguf file' : 'data folder or .jsonl file'})`);
  return value;
}

/** The native "no target tokens" error, with what the user can change: the data file and max_seq_length. */
function explainStepError(err: unknown, source: string, config: TrainConfig, iteration: number): unknown {
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

/** Train a LoRA adapter as `mlx_lm.lora --train` does, with callbacks and exact resume. */
export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const started = performance.now();
  const group = options.group ?? SINGLE;
  const leader = group.leader;
  if (group.size > 1) checkBatchSize(config.batch_size, group);
  const adapterPath = resolve(config.adapter_path);
  ensureFolder(adapterPath, 'adapter_path');
  // One writer per run folder, taken before anything is loaded so a second writer fails at once.
  const lock = leader ? lockRunFolder(adapterPath, options.resume ? 'train --resume' : 'train') : undefined;
  const ownModel = !options.model;
  let model: Model | undefined;
  let trainer: NativeTrainer | undefined;
  try {
    model = options.model ?? (await loadModel(requireString(config.model, 'model')));
    const data =
      options.data ??
      loadData(requireString(config.data, 'data'), model.tokenizer, { ...dataOptionsFromConfig(config), requireTest: config.test });
    const trainSet = data.train;
    if (!trainSet) throw new MlxLabError('E_DATA', `${data.path}: no training data (train.jsonl)`);
    if (trainSet.length < config.batch_size) {
      throw new MlxLabError('E_DATA', `${trainSet.source}: ${trainSet.length} training examples, fewer than batch_size ${config.batch_size}`);
    }
    removeStaleTemps(adapterPath); // half-written files of a killed run
    const runFiles = new RunFiles(adapterPath);
    const adapterFile = runFiles.adapter;
    const metricsFile = runFiles.metrics;

    trainer = await native().NativeTrainer.create(model.native, {
      ...trainerOptions(config),
      sharedPrefix: trainSet.sharedPrefix(),
      dataParallel: group.size > 1,
      localShards: options.localShards,
    });
    let startIteration = 1;
    let iteratorState: BatchIteratorState | undefined;
    const checkpoints: Checkpoint[] = [];
    const resumeFrom = options.resume ? (typeof options.resume === 'string' ? options.resume : findLatestCheckpoint(adapterPath)) : undefined;
    if (options.resume && !resumeFrom) throw new MlxLabError('E_ARGUMENT', `${adapterPath}: no checkpoint to resume from (no ${CHECKPOINT_STATE_FORM})`);
    if (resumeFrom) {
      const files = checkpointFiles(resumeFrom);
      await trainer.loadAdapter(files.adapterFile);
      const state = await trainer.loadState(files.stateFile);
      iteratorState = JSON.parse(state.metadata.batches ?? 'null') ?? undefined;
      if (!iteratorState) throw new MlxLabError('E_ARGUMENT', `${files.stateFile}: no batch position stored`);
      startIteration = state.iteration + 1;
    } else if (config.resume_adapter_file) {
      await trainer.loadAdapter(resolve(config.resume_adapter_file));
    }
    if (leader) writeJsonAtomic(runFiles.adapterConfig, adapterConfig(config));

    const batches = iteratorState
      ? BatchIterator.restore(trainSet, iteratorState)
      : new BatchIterator(trainSet, { batchSize: config.batch_size, maxSeqLength: config.max_seq_length, seed: config.seed });
    const valBatches: Batch[] = data.valid
      ? evalBatches(data.valid, { batchSize: config.batch_size, maxSeqLength: config.max_seq_length, numBatches: config.val_batches, seed: config.seed })
      : [];

    let iteration = startIteration - 1;
    const emit = (event: TrainEvent) => {
      if (!leader) return;
      appendJsonLine(metricsFile, { ...event, time: Date.now() });
      options.onEvent?.(event);
    };
    const valCache = new Map<number, number>();
    const validate = async (): Promise<number | undefined> => {
      if (valBatches.length === 0) return undefined;
      if (!valCache.has(iteration)) valCache.set(iteration, (await trainer!.evaluate(valBatches)).loss);
      return valCache.get(iteration);
    };
    const ctx = (): TrainContext => ({ config, model: model!, trainer: trainer!, iteration, emit, validate });
    let stop: { reason: StopReason; message: string } | undefined;
    const consider = (r: undefined | StopRequest | undefined) => {
      if (r?.stop && !stop) stop = { reason: 'callback', message: r.reason };
    };
    // Callbacks (format evals, early stopping) run on the leader only.
    const call = async <T>(hook: Hook<T> | undefined, event: T) => {
      if (leader) consider(await hook?.(event, ctx()));
    };
    // Every rank stops at the same step: a stop wanted by any rank (the leader's callbacks, an
    // interrupt) is shared, with the first reason in rank order. Free for a group of one.
    const agreedStop = async (): Promise<boolean> => {
      if (group.size > 1 && (await anyRank(group, stop !== undefined))) stop = await firstDefined(group, stop);
      return stop !== undefined;
    };

    const saveCheckpoint = async (it: number): Promise<void> => {
      if (!leader) return;
      const { adapterFile: ckptAdapter, stateFile } = runFiles.checkpoint(it);
      // The state file goes last: a checkpoint rewritten (resumed from an older one) is incomplete until then.
      rmSync(stateFile, { force: true });
      await trainer!.saveAdapter(ckptAdapter);
      await trainer!.saveState(stateFile, { batches: JSON.stringify(batches.state()), iteration: String(it) });
      await trainer!.saveAdapter(adapterFile);
      const info = { event: 'checkpoint' as const, iteration: it, adapterFile: ckptAdapter, stateFile };
      checkpoints.push({ iteration: it, adapterFile: ckptAdapter, stateFile });
      emit(info);
      await call(options.onCheckpoint, info);
    };

    const info = trainer.info();
    const startEvent = {
      event: 'start' as const,
      iters: config.iters,
      startIteration,
      trainExamples: trainSet.length,
      validExamples: data.valid?.length ?? 0,
      trainableParameters: info.trainableParameters,
      adapterPath,
      compute: model.compute.mode,
    };
    emit(startEvent);
    await call(options.onStart, startEvent);

    const losses: number[] = [];
    const valLosses: { iteration: number; loss: number }[] = [];
    let windowLoss = 0;
    let windowSteps = 0;
    let windowTokens = 0;
    let windowTime = 0;
    let trainedTokens = 0;

    for (let it = startIteration; it <= config.iters; it++) {
      if (options.signal?.aborted && !stop) stop = { reason: 'aborted', message: 'interrupted' };
      if (await agreedStop()) break;
      const batch = shardBatch(batches.next().value as Batch, group);
      if (valBatches.length > 0 && (it === 1 || it % config.steps_per_eval === 0 || it === config.iters)) {
        const t0 = performance.now();
        const v = await trainer.evaluate(valBatches).catch((err: unknown) => {
          throw explainStepError(err, data.valid?.source ?? data.path, config, it);
        });
        valCache.set(it - 1, v.loss); // the weights before step `it` are those after step it - 1
        const val = { event: 'val' as const, iteration: it, valLoss: v.loss, valTokens: v.tokens, seconds: (performance.now() - t0) / 1000 };
        valLosses.push({ iteration: it, loss: v.loss });
        emit(val);
        await call(options.onEval, val);
        if (await agreedStop()) break;
      }
      const t0 = performance.now();
      const r = await trainer.step(batch).catch((err: unknown) => {
        throw explainStepError(err, trainSet.source, config, it);
      });
      windowTime += (performance.now() - t0) / 1000;
      if (r.nonFinite) {
        if (resumeFrom && it === startIteration) throw badCheckpointError(resumeFrom, r.loss, adapterPath);
        const last = checkpoints.at(-1);
        throw new MlxLabError(
          'E_TRAIN',
          `loss is ${r.loss} at iteration ${it}: training stopped (the weights were not updated). ` +
            (last ? `The last good checkpoint is ${last.adapterFile}. ` : 'No checkpoint was saved yet. ') +
            'Lower the learning rate or check the data.',
        );
      }
      iteration = it;
      losses.push(r.loss);
      windowLoss += r.loss;
      windowSteps++;
      windowTokens += r.tokens;
      const stepEvent = { event: 'step' as const, iteration: it, loss: r.loss, tokens: r.tokens, lr: r.lr, updated: r.updated };
      if (leader) options.onEvent?.(stepEvent);
      await call(options.onStep, stepEvent);
      if (it % config.steps_per_report === 0 || it === config.iters) {
        trainedTokens += windowTokens;
        emit({
          event: 'report',
          iteration: it,
          trainLoss: windowLoss / windowSteps,
          lr: r.lr,
          itPerSec: windowSteps / windowTime,
          tokensPerSec: windowTokens / windowTime,
          trainedTokens,
          peakMemory: memory().peak,
        });
        windowLoss = windowSteps = windowTokens = windowTime = 0;
      }
      if (it % config.save_every === 0) await saveCheckpoint(it);
    }

    const saveFinal = stop?.reason === 'aborted' || options.checkpointAtEnd;
    if (saveFinal && iteration >= startIteration && !checkpoints.some((c) => c.iteration === iteration)) {
      await saveCheckpoint(iteration);
    }
    if (leader) await trainer.saveAdapter(adapterFile);
    if (stop) emit({ event: 'stop', iteration, reason: stop.reason, message: stop.message });

    let testLoss: number | undefined;
    if (config.test && data.test && !stop) {
      const tb = evalBatches(data.test, { batchSize: config.batch_size, maxSeqLength: config.max_seq_length, numBatches: config.test_batches, seed: config.seed });
      const t = await trainer.evaluate(tb);
      testLoss = t.loss;
      emit({ event: 'test', testLoss: t.loss, testPpl: Math.exp(t.loss), tokens: t.tokens });
    }
    const seconds = (performance.now() - started) / 1000;
    // Data parallel: the group, and the bytes rank 0 sent through collectives (ring estimate).
    const distributed = group.size > 1 ? { ranks: group.size, backend: group.backend, bytesSent: await group.bytesSent() } : undefined;
    emit({ event: 'done', iteration, adapterFile, seconds, ...(distributed ? { distributed } : {}) });
    const result: TrainResult = {
      stopReason: stop?.reason ?? 'completed',
      stopMessage: stop?.message,
      iteration,
      losses,
      startIteration,
      valLosses,
      testLoss,
      adapterPath,
      adapterFile,
      checkpoints,
      seconds,
    };
    if (options.keepAdapter) {
      result.trainer = trainer;
      result.model = model;
      trainer = undefined;
    }
    return result;
  } finally {
    trainer?.dispose();
    if (ownModel && !options.keepAdapter) model?.dispose();
    lock?.release();
  }
}

