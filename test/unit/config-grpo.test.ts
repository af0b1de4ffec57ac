// The GRPO keys (mlx-lm-lora's names: train_mode, group_size, beta, epsilon, epsilon_high,
// max_completion_length, temperature, grpo_loss_type, importance_sampling_level, reward_*):
// defaults, mlx-lm-lora's string forms, and bad values refused with the file, line and key.
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { defaultTrainConfig, mergeConfig, parseTrainConfig } from '../../src/config/config.js';
import { addTrainOptions, optionsToOverrides } from '../../src/cli/train-options.js';
import { formatEvent } from '../../src/cli/train.js';
import { grpoConfig } from '../../src/train/grpo.js';
import { expectError } from '../helpers/errors.js';

const yaml = (text: string) => parseTrainConfig(text, 'run.yaml');

describe('GRPO config keys', () => {
  it("default to mlx-lm-lora's values, and sft", () => {
    const c = defaultTrainConfig();
    expect([c.train_mode, c.group_size, c.beta, c.epsilon, c.epsilon_high, c.max_completion_length, c.temperature, c.grpo_loss_type, c.importance_sampling_level]).toEqual(['sft', 4, 0.1, 1e-4, null, 512, 0.8, 'grpo', 'token']);
    expect([c.reward_functions, c.reward_weights, c.reward_functions_file]).toEqual([null, null, null]);
  });

  it('read as the native loss settings', () => {
    const c = yaml('train_mode: grpo\ngrpo_loss_type: dr_grpo\nbeta: 0\nepsilon: 0.2\nepsilon_high: 0.28\nmax_completion_length: 64\nimportance_sampling_level: sequence\n');
    expect(grpoConfig(c)).toEqual({ lossType: 'dr_grpo', beta: 0, epsilon: 0.2, epsilonHigh: 0.28, maxCompletionLength: 64, importanceSamplingLevel: 'sequence' });
  });

  it("take mlx-lm-lora's string forms: reward_functions comma-separated, reward_weights \"[1.0, 0.5]\"", () => {
    const c = yaml('train_mode: grpo\nreward_functions: rubric, regex\nreward_weights: "[1.0, 0.5]"\n');
    expect(c.reward_functions).toEqual(['rubric', 'regex']);
    expect(c.reward_weights).toEqual([1, 0.5]);
    expect(yaml('reward_functions: [hermes]\nreward_weights: [2]\n').reward_weights).toEqual([2]);
  });

  it.each([
    ['train_mode: kto\n', 'run.yaml:1:13: train_mode: unknown value "kto": must be one of sft, grpo, dpo, orpo'],
    ['train_mode: grp\n', 'did you mean grpo?'],
    ['group_size: 1\n', 'run.yaml:1:13: group_size: must be ≥ 2 (advantages compare the completions of a group) (got 1)'],
    ['group_size: 2.5\n', 'group_size: must be an integer (got 2.5)'],
    ['beta: -0.1\n', 'run.yaml:1:7: beta: must be ≥ 0 (got -0.1)'],
    ['beta: .nan\n', 'beta: must be a finite number'],
    ['epsilon: 1\n', 'epsilon: must be in [0, 1) (got 1)'],
    ['epsilon_high: -1\n', 'epsilon_high: must be ≥ 0 (got -1)'],
    ['max_completion_length: 0\n', 'max_completion_length: must be ≥ 1 (got 0)'],
    ['temperature: 0\n', 'temperature: must be > 0 (GRPO needs varied completions) (got 0)'],
    ['grpo_loss_type: dapo\n', 'grpo_loss_type: unknown value "dapo": must be one of grpo, bnpo, dr_grpo'],
    ['importance_sampling_level: tokens\n', 'did you mean token?'],
    ['reward_functions: []\n', 'reward_functions: must not be an empty list'],
    ['reward_functions: "rubric,,regex"\n', 'reward_functions: has an empty name'],
    ['reward_functions: 3\n', 'reward_functions: must be a list of scorer names or a comma-separated string (got number 3)'],
    ['reward_weights: "[1, x]"\n', 'reward_weights[1]: must be a number (got string "x")'],
    ['reward_weights: [1, .inf]\n', 'reward_weights[1]: must be a finite number'],
    ['training_mode: grpo\n', 'mlx-lm-lora calls it train_mode (sft, grpo, dpo or orpo)'],
    ['num_generations: 8\n', 'use group_size'],
  ])('%j is refused naming the key', (text, message) => {
    expectError(() => yaml(text), 'E_CONFIG', message.startsWith('run.yaml') ? message : new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });

  it('reward_weights must give one weight per reward (the case scorer counts as one when reward_functions is null)', () => {
    expectError(() => yaml('train_mode: grpo\nreward_functions: [rubric, regex]\nreward_weights: [1]\n'), 'E_CONFIG', /reward_weights: has 1 weights for 2 reward functions/);
    expectError(() => yaml('train_mode: grpo\nreward_weights: [1, 2]\n'), 'E_CONFIG', /reward_weights: has 2 weights for 1 reward function \(/);
    expect(yaml('train_mode: grpo\nreward_weights: [1, 2]\nreward_functions_file: s.js\n').reward_weights).toEqual([1, 2]);
    expect(yaml('reward_weights: [1, 2]\n').reward_weights).toEqual([1, 2]); // sft: not checked, not used
  });

  it("full fine-tuning has no adapter to switch off for the reference: refused with beta > 0", () => {
    expectError(() => yaml('train_mode: grpo\nfine_tune_type: full\n'), 'E_CONFIG', /fine_tune_type: is full, but GRPO's reference is the base model with the adapter off/);
    expect(yaml('train_mode: grpo\nfine_tune_type: full\nbeta: 0\n').beta).toBe(0);
  });
});

describe("mlx-lm-lora's GRPO flags", () => {
  const parse = (argv: string[]) => {
    const cmd = addTrainOptions(new Command('train').exitOverride().configureOutput({ writeErr: () => {} }));
    cmd.parse(argv, { from: 'user' });
    return optionsToOverrides(cmd.opts());
  };

  it('override the file, read as the keys read them', () => {
    const flags = ['--train-mode', 'grpo', '--group-size', '8', '--beta', '0.04', '--epsilon', '0.2', '--epsilon-high', '0.28', '--max-completion-length', '64', '--temperature', '1.0'];
    flags.push('--grpo-loss-type', 'bnpo', '--importance-sampling-level', 'sequence', '--reward-functions', 'rubric,regex', '--reward-weights', '[1.0, 0.5, 2]', '--reward-functions-file', 's.mjs');
    const c = mergeConfig(yaml('train_mode: sft\ngroup_size: 4\n'), parse(flags));
    expect([c.train_mode, c.group_size, c.beta, c.epsilon, c.epsilon_high, c.max_completion_length, c.temperature, c.grpo_loss_type, c.importance_sampling_level]).toEqual(['grpo', 8, 0.04, 0.2, 0.28, 64, 1, 'bnpo', 'sequence']);
    expect([c.reward_functions, c.reward_weights, c.reward_functions_file]).toEqual([['rubric', 'regex'], [1, 0.5, 2], 's.mjs']);
  });

  it('bad values name the flag or the key, from the command line', () => {
    expect(() => parse(['--train-mode', 'kto'])).toThrow(/Allowed choices are sft, grpo, dpo, orpo/);
    expect(() => parse(['--group-size', 'two'])).toThrow(/--group-size/);
    expectError(() => parse(['--group-size', '1']), 'E_CONFIG', /command line: group_size: must be ≥ 2/);
    expectError(() => parse(['--importance-sampling-level', 'tok']), 'E_CONFIG', /importance_sampling_level: unknown value "tok"/);
    expectError(() => parse(['--reward-weights', '[1, a]']), 'E_CONFIG', /reward_weights\[1\]: must be a number/);
  });
});

describe('the train command prints a GRPO line per step', () => {
  it('reward, its spread, the KL, the groups without signal and the first scorer error', () => {
    const e = { event: 'grpo' as const, iteration: 7, loss: 0.1, kl: 0.0123, rewardMean: 0.75, rewardStd: 0.2, rewards: {}, groups: 2, zeroAdvantageGroups: 1, scorerErrors: 3, errors: ['case "a": scorer "x" failed: boom'], completionTokens: 40, sharedPrefixTokens: 0, clipRatioLow: 0, clipRatioHigh: 0, rolloutSeconds: 1, seconds: 2.04 };
    expect(formatEvent(e)).toBe('Iter 7: Reward 0.750 (std 0.200), KL 1.230e-2, zero-advantage groups 1/2, scorer errors 3 (case "a": scorer "x" failed: boom), 2.0s');
    expect(formatEvent({ ...e, scorerErrors: 0, errors: undefined })).toBe('Iter 7: Reward 0.750 (std 0.200), KL 1.230e-2, zero-advantage groups 1/2, 2.0s');
  });
});
