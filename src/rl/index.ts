/** GRPO's rollout from a suite: the prompt set, the scorers as rewards, sampling from the live adapter. */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import type { TrainConfig } from '../config/config.js';
import { loadSuite } from '../eval/index.js';
import { SuiteRollout } from './rollout.js';
import { checkExpectations, configuredRewards } from './rewards.js';

export { SuiteRollout, mixSeed, seededOrder } from './rollout.js';
export { CASE_SCORER, checkExpectations, configuredRewards, reward, type Reward, type Rewards } from './rewards.js';

/** The prompt set of a GRPO run: `data` as a suite file (YAML or JSONL), or a folder's train.jsonl (suite cases, one per line). */
export function promptSetPath(config: TrainConfig): string {
  if (!config.data) throw new MlxLabError('E_CONFIG', 'train_mode grpo needs "data": a suite file (.yaml/.jsonl) or a folder whose train.jsonl holds suite cases (prompt or messages, and expect)');
  const path = resolve(config.data);
  if (existsSync(path) && statSync(path).isDirectory()) return join(path, 'train.jsonl');
  return path;
}

/** The rollout of a train_mode grpo config: loads the prompt set and the rewards and checks that every case has what its rewards read (before any step). */
export async function suiteRollout(config: TrainConfig): Promise<SuiteRollout> {
  const suite = await loadSuite(promptSetPath(config));
  const rewards = await configuredRewards(config);
  checkExpectations(suite, rewards);
  return new SuiteRollout(suite, rewards, config);
}
export { minePairs, writePairs, type MineOptions, type MinedPair, type MineSummary } from './pairs.js';
