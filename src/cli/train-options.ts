/**
 * The flags of `mlx_lm.lora` (mlx-lm 0.32) for a commander command, and their translation into
 * config overrides. As in mlx-lm, a flag overrides the config file only when it is given: no flag
 * has a commander default, so an unset flag stays undefined and the file (or the default) wins.
 *
 * Added to mlx-lm's flags: --no-mask-prompt and --no-grad-checkpoint, to turn off what a config
 * file turns on. LoRA parameters, the schedule and the optimizer options are config-file only,
 * as in mlx-lm. The GRPO, DPO and ORPO flags are mlx-lm-lora's (--train-mode, --group-size, --beta,
 * --dpo-cpo-loss-type, --delta, ...).
 */
import { Option, type Command } from 'commander';
import { DPO_LOSS_TYPES, FINE_TUNE_TYPES, GRPO_LOSS_TYPES, OPTIMIZERS, TRAIN_MODES, validateTrainConfig, type TrainConfig } from '../config/config.js';
import { byteSize, integer, number } from './options.js';

/** Commander attribute name → config key, for every flag added by addTrainOptions. */
const FLAG_KEYS = {
  model: 'model',
  train: 'train',
  data: 'data',
  fineTuneType: 'fine_tune_type',
  optimizer: 'optimizer',
  maskPrompt: 'mask_prompt',
  numLayers: 'num_layers',
  batchSize: 'batch_size',
  iters: 'iters',
  valBatches: 'val_batches',
  learningRate: 'learning_rate',
  stepsPerReport: 'steps_per_report',
  stepsPerEval: 'steps_per_eval',
  gradAccumulationSteps: 'grad_accumulation_steps',
  resumeAdapterFile: 'resume_adapter_file',
  adapterPath: 'adapter_path',
  saveEvery: 'save_every',
  test: 'test',
  testBatches: 'test_batches',
  maxSeqLength: 'max_seq_length',
  config: 'config',
  gradCheckpoint: 'grad_checkpoint',
  clearCacheThreshold: 'clear_cache_threshold',
  reportTo: 'report_to',
  projectName: 'project_name',
  seed: 'seed',
  trustRemoteCode: 'trust_remote_code',
  trainMode: 'train_mode',
  groupSize: 'group_size',
  beta: 'beta',
  epsilon: 'epsilon',
  epsilonHigh: 'epsilon_high',
  maxCompletionLength: 'max_completion_length',
  temperature: 'temperature',
  grpoLossType: 'grpo_loss_type',
  importanceSamplingLevel: 'importance_sampling_level',
  rewardFunctions: 'reward_functions',
  rewardWeights: 'reward_weights',
  rewardFunctionsFile: 'reward_functions_file',
  dpoCpoLossType: 'dpo_cpo_loss_type',
  delta: 'delta',
} as const satisfies Record<string, keyof TrainConfig>;

/** The options object commander gives for the flags of addTrainOptions (all optional). */
export type TrainFlagValues = { [K in keyof typeof FLAG_KEYS]?: TrainConfig[(typeof FLAG_KEYS)[K]] };

/** Add mlx_lm.lora's flags to a command. */
export function addTrainOptions(cmd: Command): Command {
  return cmd
    .option('--model <path>', 'model folder (mlx-lm layout) or .gguf file')
    .option('--train', 'do training')
    .option('--data <path>', 'folder with {train,valid,test}.jsonl, one .jsonl file (the training set), or a Hub dataset id org/name[@rev]')
    .addOption(new Option('--fine-tune-type <type>', 'type of fine-tuning').choices([...FINE_TUNE_TYPES]))
    .addOption(new Option('--optimizer <name>', 'optimizer').choices([...OPTIMIZERS]))
    .option('--mask-prompt', 'mask the prompt in the loss (chat and completions data)')
    .option('--no-mask-prompt', 'do not mask the prompt (overrides the config file)')
    .option('--num-layers <n>', 'blocks to fine-tune, from the last (-1: all; default 16)', integer('--num-layers'))
    .option('--batch-size <n>', 'minibatch size (default 4)', integer('--batch-size'))
    .option('--iters <n>', 'iterations to train for (default 1000)', integer('--iters'))
    .option('--val-batches <n>', 'validation batches, -1 for the whole validation set (default 25)', integer('--val-batches'))
    .option('--learning-rate <lr>', 'learning rate (default 1e-5)', number('--learning-rate'))
    .option('--steps-per-report <n>', 'training steps between loss reports (default 10)', integer('--steps-per-report'))
    .option('--steps-per-eval <n>', 'training steps between validations (default 200)', integer('--steps-per-eval'))
    .option('--grad-accumulation-steps <n>', 'micro-batches to accumulate before each optimizer update (default 1)', integer('--grad-accumulation-steps'))
    .option('--resume-adapter-file <path>', 'start from these adapter weights')
    .option('--adapter-path <path>', 'where to save the adapters (default "adapters")')
    .option('--save-every <n>', 'save a checkpoint every N iterations (default 100)', integer('--save-every'))
    .option('--test', 'evaluate on the test set after training')
    .option('--test-batches <n>', 'test batches, -1 for the whole test set (default 500)', integer('--test-batches'))
    .option('--max-seq-length <n>', 'maximum sequence length (default 2048)', integer('--max-seq-length'))
    .option('-c, --config <path>', 'a YAML config file (mlx-lm lora format)')
    .option('--grad-checkpoint', 'use gradient checkpointing to reduce memory use')
    .option('--no-grad-checkpoint', 'do not use gradient checkpointing (overrides the config file)')
    .option('--clear-cache-threshold <size>', 'clear the allocator cache when it grows past this size (e.g. 2GB)', byteSize('--clear-cache-threshold'))
    .option('--report-to <services>', 'report the run to tensorboard (event files in <adapter-path>/tb) and/or mlflow (MLFLOW_TRACKING_URI), comma-separated; wandb and swanlab are accepted and not reported to')
    .option('--project-name <name>', 'project name for logging')
    .option('--seed <n>', 'the PRNG seed (default 0)', integer('--seed'))
    .option('--trust-remote-code', 'accepted for mlx-lm compatibility (mlx-lab runs no model code)')
    .addOption(new Option('--train-mode <mode>', "sft (next-token loss), grpo (the suite's scorers as rewards), dpo or orpo (chosen/rejected pairs); mlx-lm-lora's key").choices([...TRAIN_MODES]))
    .option('--group-size <n>', 'GRPO: completions per prompt (default 4)', integer('--group-size'))
    .option('--beta <x>', 'GRPO: KL coefficient to the base model; DPO: preference temperature; ORPO: log-odds weight (default 0.1)', number('--beta'))
    .option('--epsilon <x>', 'GRPO: lower clip width of the importance ratio (default 1e-4)', number('--epsilon'))
    .option('--epsilon-high <x>', 'GRPO: upper clip width (default: epsilon)', number('--epsilon-high'))
    .option('--max-completion-length <n>', 'GRPO: tokens per completion at most (default 512)', integer('--max-completion-length'))
    .option('--temperature <x>', 'GRPO: sampling temperature (default 0.8)', number('--temperature'))
    .addOption(new Option('--grpo-loss-type <type>', 'GRPO: loss normalisation (default grpo)').choices([...GRPO_LOSS_TYPES]))
    .option('--importance-sampling-level <level>', 'GRPO: token or sequence (default token)')
    .option('--reward-functions <names>', 'GRPO: comma-separated scorer names (default: each case\'s own scorer)')
    .option('--reward-weights <list>', 'GRPO: one weight per reward, e.g. "[1.0, 0.5]"')
    .option('--reward-functions-file <path>', 'GRPO: a user scorer file added as a reward')
    .addOption(new Option('--dpo-cpo-loss-type <type>', 'DPO: loss type (default sigmoid)').choices([...DPO_LOSS_TYPES]))
    .option('--delta <x>', 'DPO with dpop: weight of the chosen-likelihood penalty (default 50)', number('--delta'));
}

/**
 * The config overrides of the flags the user gave (unset flags are left out), checked with the
 * config's own rules (an E_CONFIG error names the key, source "command line").
 */
export function optionsToOverrides(opts: Record<string, unknown> | TrainFlagValues): Partial<TrainConfig> {
  const out: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    const value = (opts as Record<string, unknown>)[flag];
    if (value !== undefined) out[key] = value;
  }
  // Only the given keys are checked (the rest take defaults in this throwaway result).
  validateTrainConfig(out, 'command line');
  return out as Partial<TrainConfig>;
}
