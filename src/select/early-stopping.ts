/**
 * Early stopping on a logged metric (the format score by default): stop once a target is
 * reached, or when `patience` evals in a row bring no improvement of at least `min_delta`;
 * never before `warmup` steps. Each decision says why, for the run log.
 */
import type { EarlyStoppingConfig, Metric } from '../config/config.js';

/** Higher is better for scores, lower for losses. */
export function metricGoal(metric: Metric): 'max' | 'min' {
  return metric === 'val_loss' ? 'min' : 'max';
}

export interface StopDecision {
  stop: boolean;
  reason: string;
  /** The best value so far and the step it was seen at. */
  best: number;
  bestStep: number;
}

export class EarlyStopper {
  private best = Number.NaN;
  private bestStep = -1;
  private stale = 0;
  readonly goal: 'max' | 'min';

  constructor(readonly config: EarlyStoppingConfig) {
    this.goal = metricGoal(config.metric);
  }

  private improves(value: number, over: number, delta: number): boolean {
    if (Number.isNaN(over)) return true;
    return this.goal === 'max' ? value >= over + delta : value <= over - delta;
  }

  private reached(value: number, target: number): boolean {
    return this.goal === 'max' ? value >= target : value <= target;
  }

  /** Record the metric at a step and decide. NaN values count as no improvement. */
  update(step: number, value: number): StopDecision {
    const { metric, target, patience, min_delta: minDelta, warmup } = this.config;
    if (!Number.isNaN(value) && this.improves(value, this.best, minDelta)) {
      this.best = value;
      this.bestStep = step;
      this.stale = 0;
    } else {
      this.stale++;
    }
    const state = { best: this.best, bestStep: this.bestStep };
    if (step < warmup) return { stop: false, reason: `warm-up (no stopping before step ${warmup})`, ...state };
    if (target !== null && !Number.isNaN(value) && this.reached(value, target)) {
      return { stop: true, reason: `${metric} ${fmt(value)} reached the target ${fmt(target)} at step ${step}`, ...state };
    }
    if (patience !== null && this.stale >= patience) {
      return {
        stop: true,
        reason: `${metric} did not improve by ${fmt(minDelta)} for ${this.stale} evals (best ${fmt(this.best)} at step ${this.bestStep})`,
        ...state,
      };
    }
    return { stop: false, reason: '', ...state };
  }
}

function fmt(x: number): string {
  return String(Number(x.toPrecision(4)));
}
