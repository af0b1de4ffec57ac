/**
 * What the tracking sinks log, from the run's event stream (the events of metrics.jsonl): scalars
 * per step, and the config as flat parameters.
 *
 *   report  train/loss, train/learning_rate, train/tokens_per_sec, train/it_per_sec, train/peak_memory_gb
 *   val     val/loss (and with dpo/orpo val/chosen_reward, val/rejected_reward, val/accuracies, val/margins)
 *   format  format/score, format/low, format/high, format/category/<name>
 *   test    test/loss, test/ppl (at the last step seen)
 *   grpo    grpo/reward_mean, grpo/reward_std, grpo/kl, grpo/loss, grpo/zero_advantage_groups,
 *           grpo/scorer_errors, grpo/reward/<name>
 *   preference  <method>/loss, <method>/chosen_reward, <method>/rejected_reward, <method>/accuracies,
 *           <method>/margins (method: dpo or orpo)
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
        if (e.preference) {
          const p = e.preference;
          out.push(at('val/chosen_reward', p.chosenReward), at('val/rejected_reward', p.rejectedReward), at('val/accuracies', p.accuracies), at('val/margins', p.margins));
        }
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
      case 'preference':
        out.push(at(`${e.method}/loss`, e.loss), at(`${e.method}/chosen_reward`, e.chosenReward), at(`${e.method}/rejected_reward`, e.rejectedReward));
        out.push(at(`${e.method}/accuracies`, e.accuracies), at(`${e.method}/margins`, e.margins));
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
