/** The training loop's public types: its events, callbacks, options and result. */
import type { TrainConfig } from '../config/config.js';
import type { DataSplits } from '../data/index.js';
import type { Model } from '../model/model.js';
import type { AttachedAdapter } from '../model/adapters.js';
import type { Group } from '../distributed/group.js';
import type { Checkpoint } from './checkpoints.js';
import type { GrpoRollout, grpoEvent } from './grpo.js';
import type { preferenceEvent } from './preference.js';
import type { NativePreferenceMetrics } from '../core/native.js';

/** Everything the loop reports, in order; `--json` prints these one per line. */
export type TrainEvent =
  | { event: 'start'; iters: number; startIteration: number; trainExamples: number; validExamples: number; trainableParameters: number; adapterPath: string; compute: string }
  | { event: 'val'; iteration: number; valLoss: number; valTokens: number; seconds: number; preference?: NativePreferenceMetrics }
  | { event: 'step'; iteration: number; loss: number; tokens: number; lr: number; updated: boolean }
  | { event: 'report'; iteration: number; trainLoss: number; lr: number; itPerSec: number; tokensPerSec: number; trainedTokens: number; peakMemory: number }
  | ReturnType<typeof grpoEvent>
  | ReturnType<typeof preferenceEvent>
  | { event: 'checkpoint'; iteration: number; adapterFile: string; stateFile: string }
  | { event: 'test'; testLoss: number; testPpl: number; tokens: number }
  | { event: 'stop'; iteration: number; reason: StopReason; message: string }
  | FormatEvent
  | FusedEvent
  | ConstrainedEvent
  | { event: 'scores'; iteration: number; adapterFile: string; formatScore?: number; formatLow?: number; formatHigh?: number; valLoss?: number }
  | { event: 'done'; iteration: number; adapterFile: string; seconds: number; distributed?: { ranks: number; backend: string; bytesSent: number } };

/** A format eval of the live adapter at `iteration`. */
export interface FormatEvent {
  event: 'format';
  iteration: number;
  score: number;
  low: number;
  high: number;
  n: number;
  cases: Record<string, number>;
  failures: Record<string, number>;
  categories: Record<string, number>;
  caseCategories: Record<string, string>;
  replies?: Record<string, string>;
  valLoss?: number;
  seconds: number;
  tokensPerSec: number;
  peakMemory: number;
}

/** After training: the format eval of a model fused from the checkpoint of `iteration` (the demo logs it). */
export interface FusedEvent extends Omit<FormatEvent, 'event' | 'valLoss'> {
  event: 'fused';
  /** The fused model's folder. */
  model: string;
  bits: number;
  groupSize: number;
}

/** One case of a ConstrainedEvent: its score and failure class free and under its grammar. */
export interface ConstrainedCase {
  free: number;
  constrained: number;
  /** The grammar the case was held to (null: it ran free both times). */
  constraint: string | null;
  freeFailure: string | null;
  constrainedFailure: string | null;
  /** The constrained reply ended at a grammar dead end. */
  deadEnd: boolean;
}

/** After training: one adapter's suite scored free and under the grammars its scorers imply (`eval --constrained --compare --run`). */
export interface ConstrainedEvent {
  event: 'constrained';
  /** The checkpoint step of the adapter (null: not known from its file name). */
  step: number | null;
  /** The adapter file scored ('' for the model alone). */
  adapter: string;
  free: { score: number; low: number; high: number; n: number };
  constrained: { score: number; low: number; high: number; n: number };
  cases: Record<string, ConstrainedCase>;
  /** Per failure class seen in either run: its count free and constrained. */
  failures: Record<string, { free: number; constrained: number }>;
}

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
  iteration: number;
  /** Add an event to the run's log (metrics.jsonl) and the event stream. */
  emit(event: TrainEvent): void;
  /** The validation loss of the live adapter now (computed once per iteration). */
  validate(): Promise<number | undefined>;
}

/** A callback of the loop: it may return a StopRequest to end the run. */
export type Hook<T> = (info: T, ctx: TrainContext) => undefined | StopRequest | undefined | Promise<undefined | StopRequest | undefined>;

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
  /** Keep the adapter attached after the run: `result.adapter` then holds it (the caller detaches or disposes it). */
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
  /** train_mode grpo: the prompts, sampler and rewards of each step (src/rl builds it from a suite). */
  rollout?: GrpoRollout;
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
  /** With keepAdapter: the trained adapter, still attached to `model` (detach() or dispose() frees it). */
  adapter?: AttachedAdapter;
  /** With keepAdapter: the model the adapter is attached to (the caller's, or the one loaded for the run). */
  model?: Model;
}
