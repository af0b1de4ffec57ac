/**
 * The training loop, in mlx-lm's order: for each iteration, validation first (at iteration 1,
 * every steps_per_eval and at the end), then one micro-batch step (an optimizer update every
 * grad_accumulation_steps), reports every steps_per_report, checkpoints every save_every.
 * Callbacks see every event and may stop the run; the live model generates with the adapter
 * being trained, which is what the format evals hook into. Setup is in setup.ts, the step's
 * errors and reports in step.ts, callbacks and validation in hooks.ts, checkpoints in
 * checkpointing.ts. Events go to metrics.jsonl off the event loop (core/json-log.ts), flushed
 * at every checkpoint and closed before train() returns.
 */
import { RunFiles } from '../core/run-files.js';
import { resolve } from 'node:path';
import { ensureFolder } from '../core/files.js';
import { lockRunFolder } from '../core/lock.js';
import { JsonLineLog } from '../core/json-log.js';
import type { TrainConfig } from '../config/config.js';
import { evalBatches, type Batch } from '../data/index.js';
import { SINGLE, checkBatchSize, type Group } from '../distributed/group.js';
import { shardBatch } from '../distributed/shard.js';
import type { Checkpoint } from './checkpoints.js';
import type { NativeStepResult } from '../core/native.js';
import { saveCheckpoint } from './checkpointing.js';
import { Hooks, Validation, validatesAt } from './hooks.js';
import { setUp, trainerOptions, type Held, type Session } from './setup.js';
import { adapterHandle } from '../model/adapters.js';
import { ReportWindow, explainStepError, nonFiniteError } from './step.js';
import { grpoConfig, grpoEvent } from './grpo.js';
import { evaluatePreference, pairBatch, preferenceConfig, preferenceEvalBatches, preferenceEvent, preferenceMetrics } from './preference.js';
import type { TrainContext, TrainEvent, TrainOptions, TrainResult } from './types.js';

export type { ConstrainedEvent, FormatEvent, FusedEvent, Hook, StopReason, StopRequest, TrainCallbacks, TrainContext, TrainEvent, TrainOptions, TrainResult } from './types.js';
export { adapterConfig, trainerOptions } from './setup.js';

/** One run in progress: its session, events, hooks and what it has produced so far. */
class Run {
  iteration: number;
  readonly checkpoints: Checkpoint[] = [];
  readonly losses: number[] = [];
  readonly valLosses: { iteration: number; loss: number }[] = [];
  readonly hooks: Hooks;
  readonly validation: Validation;
  private readonly window = new ReportWindow();

  constructor(
    readonly session: Session,
    readonly options: TrainOptions,
    private readonly leader: boolean,
    private readonly log: JsonLineLog | undefined,
    group: Group,
  ) {
    this.iteration = session.startIteration - 1;
    this.validation = new Validation(session.valBatches.length > 0 ? async () => (await this.evaluateVal()).loss : undefined);
    this.hooks = new Hooks(group, () => this.context());
  }

  get config(): TrainConfig {
    return this.session.config;
  }

  context(): TrainContext {
    return { config: this.config, model: this.session.model, iteration: this.iteration, emit: (e) => this.emit(e), validate: () => this.validation.at(this.iteration) };
  }

  /** Log an event (leader only) and pass it on. */
  emit(event: TrainEvent): void {
    if (!this.leader) return;
    this.log?.append({ ...event, time: Date.now() });
    this.options.onEvent?.(event);
  }

  async start(): Promise<void> {
    const s = this.session;
    const event = {
      event: 'start' as const,
      iters: this.config.iters,
      startIteration: s.startIteration,
      trainExamples: s.trainSet?.length ?? s.rollout?.prompts ?? 0,
      validExamples: s.data.valid?.length ?? 0,
      trainableParameters: s.trainer.info().trainableParameters,
      adapterPath: s.adapterPath,
      compute: s.model.compute.mode,
    };
    this.emit(event);
    await this.log?.flush(); // on disk before onStart (a resume reads the log back)
    await this.hooks.call(this.options.onStart, event);
  }

  /** The validation loss of the live weights: next-token loss, or DPO / ORPO's loss and metrics on the validation pairs. */
  private async evaluateVal() {
    const s = this.session;
    if (!s.preference) return s.trainer.evaluate(s.valBatches);
    const v = await evaluatePreference(s.trainer, s.preference.valBatches, this.config);
    return { loss: v.loss, tokens: v.tokens, preference: preferenceMetrics(v) };
  }

  /** Validate before the step of `it`; false when a hook asked to stop. */
  async validate(it: number): Promise<boolean> {
    const s = this.session;
    const t0 = performance.now();
    const v = await this.evaluateVal().catch((err: unknown) => {
      throw explainStepError(err, s.data.valid?.source ?? s.data.path, this.config, it);
    });
    this.validation.set(it - 1, v.loss); // the weights before step `it` are those after step it - 1
    const metrics = 'preference' in v ? { preference: v.preference } : {};
    const event = { event: 'val' as const, iteration: it, valLoss: v.loss, valTokens: v.tokens, ...metrics, seconds: (performance.now() - t0) / 1000 };
    this.valLosses.push({ iteration: it, loss: v.loss });
    this.emit(event);
    await this.hooks.call(this.options.onEval, event);
    return !(await this.hooks.agreed());
  }

  /** The step of iteration `it` on `batch`, its report and checkpoint when due. */
  async step(it: number, batch: Batch): Promise<void> {
    const { session: s, config } = this;
    const t0 = performance.now();
    const r = await s.trainer.step(batch).catch((err: unknown) => {
      throw explainStepError(err, s.trainSet?.source ?? s.data.path, config, it);
    });
    await this.stepped(it, r, t0);
  }

  /** The DPO / ORPO step of iteration `it` on the pairs `batch` picked. */
  async preferenceStep(it: number, batch: Batch): Promise<void> {
    const { session: s, config } = this;
    const t0 = performance.now();
    const pairs = pairBatch(s.preference!.train, batch, config.max_seq_length);
    const r = await s.trainer.preferenceStep(pairs, preferenceConfig(config));
    if (!r.nonFinite) this.emit(preferenceEvent(it, config.train_mode, r.loss, r, (performance.now() - t0) / 1000));
    await this.stepped(it, { ...r, prefixTokens: 0 }, t0);
  }

  /** The GRPO step of iteration `it`: sample and score a batch of groups, then the native step. */
  async grpoStep(it: number): Promise<void> {
    const { session: s, config } = this;
    const rollout = s.rollout!;
    const t0 = performance.now();
    const { batch, stats } = await rollout.next(it, s.model);
    const r = await s.trainer.grpoStep(batch, grpoConfig(config));
    if (!r.nonFinite) this.emit(grpoEvent(it, r, stats, (performance.now() - t0) / 1000));
    await this.stepped(it, { ...r, prefixTokens: 0 }, t0);
  }

  /** After a step: the events, callbacks, report and checkpoint due at `it`. */
  private async stepped(it: number, r: NativeStepResult, t0: number): Promise<void> {
    const { session: s, config } = this;
    if (r.nonFinite) throw nonFiniteError(r.loss, it, { ...s, checkpoints: this.checkpoints });
    this.window.add(r, (performance.now() - t0) / 1000);
    this.iteration = it;
    this.losses.push(r.loss);
    const event = { event: 'step' as const, iteration: it, loss: r.loss, tokens: r.tokens, lr: r.lr, updated: r.updated };
    if (this.leader) this.options.onEvent?.(event);
    await this.hooks.call(this.options.onStep, event);
    if (it % config.steps_per_report === 0 || it === config.iters) this.emit(this.window.report(it, r.lr));
    if (it % config.save_every === 0) await this.checkpoint(it);
  }

  /** Save a checkpoint (leader only), with the log durable up to it, and run onCheckpoint. */
  async checkpoint(it: number): Promise<void> {
    if (!this.leader) return;
    await this.log?.flush(); // every event of the steps before it is on disk before the checkpoint exists
    const saved = await saveCheckpoint(this.session.trainer, this.session, this.session.adapterPath, this.session.adapterFile, it);
    this.checkpoints.push(saved);
    const event = { event: 'checkpoint' as const, ...saved };
    this.emit(event);
    await this.log?.flush();
    await this.hooks.call(this.options.onCheckpoint, event);
  }

  /** The test loss, when the config asks for it and the run was not stopped. */
  async test(): Promise<number | undefined> {
    const { session: s, config } = this;
    if (!config.test || !s.data.test || this.hooks.stop) return undefined;
    const t = s.preference
      ? await evaluatePreference(s.trainer, preferenceEvalBatches(s.data.test as Parameters<typeof preferenceEvalBatches>[0], config, config.test_batches), config)
      : await s.trainer.evaluate(evalBatches(s.data.test, { batchSize: config.batch_size, maxSeqLength: config.max_seq_length, numBatches: config.test_batches, seed: config.seed }));
    this.emit({ event: 'test', testLoss: t.loss, testPpl: Math.exp(t.loss), tokens: t.tokens });
    return t.loss;
  }
}

/** Iterate from the start to config.iters or a stop: validation, step, report, checkpoint. */
async function iterate(run: Run, options: TrainOptions): Promise<void> {
  const { session: s, config, hooks } = run;
  const group = options.group ?? SINGLE;
  for (let it = s.startIteration; it <= config.iters; it++) {
    if (options.signal?.aborted) hooks.request({ reason: 'aborted', message: 'interrupted' });
    if (await hooks.agreed()) break;
    const batch = s.batches ? shardBatch(s.batches.next().value as Batch, group) : undefined;
    if (validatesAt(it, config, s.valBatches) && !(await run.validate(it))) break;
    if (batch && s.preference) await run.preferenceStep(it, batch);
    else if (batch) await run.step(it, batch);
    else await run.grpoStep(it);
  }
}

/** After the last iteration: a final checkpoint when needed, the adapter, stop/test/done events. */
async function finish(run: Run, options: TrainOptions, started: number): Promise<TrainResult> {
  const { session: s, hooks } = run;
  const group = options.group ?? SINGLE;
  const stop = hooks.stop;
  const saveFinal = stop?.reason === 'aborted' || options.checkpointAtEnd;
  if (saveFinal && run.iteration >= s.startIteration && !run.checkpoints.some((c) => c.iteration === run.iteration)) await run.checkpoint(run.iteration);
  if (group.leader) await s.trainer.saveAdapter(s.adapterFile);
  if (stop) run.emit({ event: 'stop', iteration: run.iteration, reason: stop.reason, message: stop.message });
  const testLoss = await run.test();
  const seconds = (performance.now() - started) / 1000;
  // Data parallel: the group, and the bytes rank 0 sent through collectives (ring estimate).
  const distributed = group.size > 1 ? { ranks: group.size, backend: group.backend, bytesSent: await group.bytesSent() } : undefined;
  run.emit({ event: 'done', iteration: run.iteration, adapterFile: s.adapterFile, seconds, ...(distributed ? { distributed } : {}) });
  return {
    stopReason: stop?.reason ?? 'completed',
    stopMessage: stop?.message,
    iteration: run.iteration,
    losses: run.losses,
    startIteration: s.startIteration,
    valLosses: run.valLosses,
    testLoss,
    adapterPath: s.adapterPath,
    adapterFile: s.adapterFile,
    checkpoints: run.checkpoints,
    seconds,
  };
}

/** Train a LoRA adapter as `mlx_lm.lora --train` does, with callbacks and exact resume. */
export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const started = performance.now();
  const group = options.group ?? SINGLE;
  if (group.size > 1) checkBatchSize(config.batch_size, group);
  const adapterPath = resolve(config.adapter_path);
  ensureFolder(adapterPath, 'adapter_path');
  // One writer per run folder, taken before anything is loaded so a second writer fails at once.
  const lock = group.leader ? lockRunFolder(adapterPath, options.resume ? 'train --resume' : 'train') : undefined;
  const log = group.leader ? new JsonLineLog(new RunFiles(adapterPath).metrics) : undefined;
  const held: Held = {};
  let failed = true;
  try {
    const session = await setUp(config, options, adapterPath, group, held);
    const run = new Run(session, options, group.leader, log, group);
    await run.start();
    await iterate(run, options);
    const result = await finish(run, options, started);
    await log?.close(); // every event on disk before the run reports done
    if (options.keepAdapter) {
      if (held.trainer) result.adapter = adapterHandle(held.trainer, result.adapterFile, trainerOptions(config).lora ?? {});
      result.model = held.model;
      held.trainer = undefined;
    }
    failed = false;
    return result;
  } finally {
    // After a failure the log still gets what was queued; its own error must not hide the first one.
    if (failed) await log?.close().catch(() => {});
    held.trainer?.dispose();
    if (!options.model && !options.keepAdapter) held.model?.dispose();
    lock?.release();
  }
}
