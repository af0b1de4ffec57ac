/**
 * GRPO in the training loop: what a step needs from the layers above (a rollout: completions
 * sampled from the live adapter, scored, with their group-normalised advantages; train/ knows no
 * scorer, src/rl builds it), the native loss settings from the config (mlx-lm-lora's keys), and
 * the step's event for metrics.jsonl.
 */
import { MlxLabError } from '../core/errors.js';
import type { TrainConfig } from '../config/config.js';
import type { NativeGrpoBatch, NativeGrpoConfig, NativeGrpoStepResult } from '../core/native.js';
import type { Model } from '../model/model.js';

/** What one rollout measured, for the step's event. */
export interface RolloutStats {
  /** Mean and population std of the weighted rewards of every completion. */
  rewardMean: number;
  rewardStd: number;
  /** Mean of each reward function's raw score (by its name). */
  rewards: Record<string, number>;
  groups: number;
  /** Groups whose rewards were all equal: advantage 0, no policy gradient from them. */
  zeroAdvantageGroups: number;
  /** Completions a scorer failed on (reward 0 for that scorer), and the first few errors. */
  scorerErrors: number;
  errors: string[];
  /** Completion tokens sampled, and the seconds spent sampling and scoring. */
  completionTokens: number;
  /** Prompt tokens prefilled once per group rather than once per completion (the shared prefix). */
  sharedPrefixTokens: number;
  seconds: number;
}

/** One iteration's batch for the native GRPO step, with what its rollout measured. */
export interface RolloutBatch {
  batch: NativeGrpoBatch;
  stats: RolloutStats;
}

/** The source of GRPO batches: the prompts, the sampler and the rewards, built above train/ (src/rl). */
export interface GrpoRollout {
  /** Where the prompts come from (named in errors and the start event). */
  readonly source: string;
  /** How many prompts there are. */
  readonly prompts: number;
  /** Sample and score the batch of iteration `it` with the model's live adapter (deterministic for the seed and `it`). */
  next(it: number, model: Model): Promise<RolloutBatch>;
  /** The position in the prompts, stored in checkpoints (JSON). */
  state(): unknown;
  /** Continue from a stored position. */
  restore(state: unknown): void;
}

/** The native GRPO loss settings from mlx-lm-lora's config keys. */
export function grpoConfig(config: TrainConfig): NativeGrpoConfig {
  return {
    lossType: config.grpo_loss_type,
    beta: config.beta,
    epsilon: config.epsilon,
    epsilonHigh: config.epsilon_high,
    maxCompletionLength: config.max_completion_length,
    importanceSamplingLevel: config.importance_sampling_level,
  };
}

/** The rollout a GRPO run needs; a clear error when the caller gave none. */
export function requireRollout(config: TrainConfig, rollout: GrpoRollout | undefined): GrpoRollout | undefined {
  if (config.train_mode !== 'grpo') return undefined;
  if (!rollout) {
    throw new MlxLabError('E_CONFIG', 'train_mode is grpo, but no rewards were given to train(): run it through `mlx-lab train` or runExperiment (which build the rollout from the suite), or pass options.rollout');
  }
  return rollout;
}

/** The "grpo" event of one step: the loss, the KL, the rewards and the groups without signal. */
export function grpoEvent(iteration: number, r: NativeGrpoStepResult, stats: RolloutStats, seconds: number) {
  return {
    event: 'grpo' as const,
    iteration,
    loss: r.loss,
    kl: r.kl,
    rewardMean: stats.rewardMean,
    rewardStd: stats.rewardStd,
    rewards: stats.rewards,
    groups: stats.groups,
    zeroAdvantageGroups: stats.zeroAdvantageGroups,
    scorerErrors: stats.scorerErrors,
    ...(stats.errors.length > 0 ? { errors: stats.errors } : {}),
    completionTokens: stats.completionTokens,
    sharedPrefixTokens: stats.sharedPrefixTokens,
    clipRatioLow: r.clipRatioLow,
    clipRatioHigh: r.clipRatioHigh,
    rolloutSeconds: stats.seconds,
    seconds,
  };
}
