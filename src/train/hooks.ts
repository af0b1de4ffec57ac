/**
 * The loop's hooks: the callbacks (run on the leader only) and the stop they may ask for, shared
 * by every rank of a group, and the validation schedule (mlx-lm's: at iteration 1, every
 * steps_per_eval and at the last iteration) with the validation loss computed once per iteration.
 */
import type { TrainConfig } from '../config/config.js';
import type { Batch } from '../data/index.js';
import { anyRank, firstDefined, type Group } from '../distributed/group.js';
import type { Hook, StopReason, StopRequest, TrainContext } from './types.js';

/** Why the run stops (set once: the first reason wins). */
export interface Stop {
  reason: StopReason;
  message: string;
}

/** The callbacks of a run and the stop they agree on. */
export class Hooks {
  stop: Stop | undefined;

  constructor(
    private readonly group: Group,
    private readonly context: () => TrainContext,
  ) {}

  /** Stop with `stop` unless a stop is already set. */
  request(stop: Stop): void {
    this.stop ??= stop;
  }

  /** Run a callback (on the leader only) and take the stop it asks for. */
  async call<T>(hook: Hook<T> | undefined, event: T): Promise<void> {
    if (!this.group.leader) return;
    const r: StopRequest | undefined = await hook?.(event, this.context());
    if (r?.stop) this.request({ reason: 'callback', message: r.reason });
  }

  /**
   * Whether to stop now. Every rank stops at the same step: a stop wanted by any rank (the
   * leader's callbacks, an interrupt) is shared, with the first reason in rank order. Free for a group of one.
   */
  async agreed(): Promise<boolean> {
    if (this.group.size > 1 && (await anyRank(this.group, this.stop !== undefined))) this.stop = await firstDefined(this.group, this.stop);
    return this.stop !== undefined;
  }
}

/** Whether mlx-lm validates before the step of iteration `it`. */
export function validatesAt(it: number, config: TrainConfig, valBatches: readonly Batch[]): boolean {
  return valBatches.length > 0 && (it === 1 || it % config.steps_per_eval === 0 || it === config.iters);
}

/** Validation losses by the iteration whose weights they measure, each computed once. */
export class Validation {
  private readonly cache = new Map<number, number>();

  /** `evaluate`: the validation loss of the live weights; undefined without validation data. */
  constructor(private readonly evaluate: (() => Promise<number>) | undefined) {}

  /** Record the loss of the weights after `iteration`. */
  set(iteration: number, loss: number): void {
    this.cache.set(iteration, loss);
  }

  /** The loss of the weights after `iteration` (computed now unless known; undefined without validation data). */
  async at(iteration: number): Promise<number | undefined> {
    if (!this.evaluate) return undefined;
    if (!this.cache.has(iteration)) this.cache.set(iteration, await this.evaluate());
    return this.cache.get(iteration);
  }
}
