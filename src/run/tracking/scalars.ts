/**
 * What the tracking sinks log, from the run's event stream (the events of metrics.jsonl): scalars
 * per step, and the config as flat parameters.
 *
 *   report  train/loss, train/learning_rate, train/tokens_per_sec, train/it_per_sec, train/peak_memory_gb
 *   val     val/loss
 *   format  format/score, format/low, format/high, format/category/<name>
 *   test    test/loss, test/ppl (at the last step seen)
 *   grpo    grpo/reward_mean, grpo/reward_std, grpo/kl, grpo/loss, grpo/zero_advantage_groups,
 *           grpo/scorer_errors, grpo/reward/<name>
 */
import type { TrainEvent } from '../../train/loop.js';
import type { Scalar } from './tfrecord.js';

/** A metric name both sinks accept (MLflow: letters, digits, _ - . space /), at most 250 characters. */
export function metricName(name: string): string {
  return name.replace(/[^A-Za-z0-9_\-. /]/g, '_').slice(0, 250);
}

/** Turns events into scalars, remembering the last step for events that have none (test). */
export class ScalarMapper {
  private step = 0;

  /** The scalars of one event (none for events that carry no metric); `time` in ms. */
  scalars(e: TrainEvent, time: number): Scalar[] {
    if ('iteration' in e) this.step = e.iteration;
    const at = (tag: string, value: number): Scalar => ({ tag: metricName(tag), value, step: this.step, time });
    const out: Scalar[] = [];
    switch (e.event) {
      case 'report':
        out.push(at('train/loss', e.trainLoss), at('train/learning_rate', e.lr), at('train/tokens_per_sec', e.tokensPerSec), at('train/it_per_sec', e.itPerSec), at('train/peak_memory_gb', e.peakMemory / 1e9));
        break;
      case 'val':
        out.push(at('val/loss', e.valLoss));
        break;
      case 'format':
        out.push(at('format/score', e.score), at('format/low', e.low), at('format/high', e.high));
        for (const [name, mean] of Object.entries(e.categories)) out.push(at(`format/category/${name}`, mean));
        break;
      case 'test':
        out.push(at('test/loss', e.testLoss), at('test/ppl', e.testPpl));
        break;
      case 'grpo':
        out.push(at('grpo/reward_mean', e.rewardMean), at('grpo/reward_std', e.rewardStd), at('grpo/kl', e.kl), at('grpo/loss', e.loss));
        out.push(at('grpo/zero_advantage_groups', e.zeroAdvantageGroups), at('grpo/scorer_errors', e.scorerErrors));
        for (const [name, mean] of Object.entries(e.rewards)) out.push(at(`grpo/reward/${name}`, mean));
        break;
      default:
        break;
    }
    return out.filter((s) => Number.isFinite(s.value));
  }
}

/** A config as flat key → text pairs (nested keys dotted, lists and objects as JSON, null as "None"). */
export function flattenParams(value: unknown, prefix = ''): [string, string][] {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => flattenParams(v, prefix ? `${prefix}.${k}` : k));
  }
  const text = value === null || value === undefined ? 'None' : typeof value === 'string' ? value : JSON.stringify(value);
  return [[prefix, text]];
}
