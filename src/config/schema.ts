/**
 * The training config's schema (zod): mlx-lm's `lora` YAML (mlx-lm 0.32: every key of
 * `mlx_lm/lora.py`'s CONFIG_DEFAULTS and argparse flags, plus the dataset feature keys its loader
 * reads) and our own sections (`eval`, `early_stopping`, `selection`, `sweep`). The types and the
 * defaults come from here; the keys are in mlx-lm's order, which is the order configs are
 * written back in (adapter_config.json).
 */
import { z } from 'zod';
import { suggest } from '../core/suggest.js';
import { documentedAs } from '../core/schema-doc.js';
import { BYTE_SIZE, parseByteSize } from '../core/byte-size.js';
import { baseOf, bool, describe, int, listOf, num, oneOf, required, says, section, str, withDefault } from './fields.js';
import { lrSchedule, optimizer, optimizerConfig, type OptimizerName } from './optimizers.js';
import { NON_GRID_KEYS, seed, sweepSection } from './sweep.js';
import { GRPO_SETTINGS, PREFERENCE_SETTINGS, grpoProblems, preferenceProblems } from './grpo.js';

export { OPTIMIZERS, TRAINER_OPTIMIZERS, LR_SCHEDULES, type OptimizerName, type LrScheduleName } from './optimizers.js';
export { TRAIN_MODES, GRPO_LOSS_TYPES, GRPO_KEYS, DPO_LOSS_TYPES, PREFERENCE_MODES, isPreferenceMode, type TrainMode, type GrpoLossType, type DpoLossType, type PreferenceMode } from './grpo.js';

export const FINE_TUNE_TYPES = ['lora', 'dora', 'full'] as const;
export type FineTuneType = (typeof FINE_TUNE_TYPES)[number];

export const REPORT_TARGETS = ['tensorboard', 'mlflow', 'wandb', 'swanlab'] as const;
export type ReportTarget = (typeof REPORT_TARGETS)[number];

/** Metrics the early-stopping and selection sections can use. */
export const METRICS = ['format_score', 'val_loss'] as const;
export type Metric = (typeof METRICS)[number];

export const SELECTION_RULES = ['best', 'last'] as const;
export type SelectionRule = (typeof SELECTION_RULES)[number];

/** A mapping whose keys all have defaults, defaulting to itself with every key defaulted. */
function defaultedSection<S extends z.ZodType<object>>(schema: S) {
  return withDefault(schema, schema.parse({}) as z.output<S>);
}

const LORA = {
  /** LoRA rank r. */
  rank: withDefault(int({ min: 1 }), 8),
  /** Dropout on the LoRA input, in [0, 1). */
  dropout: withDefault(num({ min: 0, max: 1, maxExclusive: true }), 0.0),
  /** The LoRA update is scaled by `scale` (mlx-lm's name; not alpha/r). */
  scale: withDefault(num(), 20.0),
  /** Module keys to adapt in each block (e.g. "self_attn.q_proj"); null: every linear layer. */
  keys: withDefault(listOf(str({ nonEmpty: true }), { nonEmpty: true }).nullable(), null),
};

/** The LoRA keys (one list: the config, the sweep grid and suggestions use it). */
export const LORA_KEYS = Object.keys(LORA) as (keyof typeof LORA)[];

const loraParameters = section(LORA);

const byteSize = (() => {
  const message = (v: unknown) => `must be a byte count or a size like 512M or 2GB (got ${describe(v)})`;
  const size = z
    .string(says(message))
    .regex(BYTE_SIZE, says(message))
    .transform((v) => parseByteSize(v) as number);
  const count = int({ min: 0 });
  return z.union([count, size], says((v) => (typeof v === 'number' ? (count.safeParse(v).error?.issues[0].message ?? '') : message(v))));
})();

function reportToMessage(v: unknown): string {
  const i = Array.isArray(v) ? v.findIndex((x) => typeof x !== 'string') : -1;
  if (i >= 0) return `must be a list of service names (item ${i + 1} is ${describe((v as unknown[])[i])})`;
  return `must be a list of services or a comma-separated string (got ${describe(v)})`;
}

/**
 * Where to report the run: a list (`[tensorboard, mlflow]`) or mlx-lm's comma-separated string
 * ("wandb,swanlab"); read as a list without repeats. tensorboard and mlflow are written by
 * mlx-lab (src/run/tracking); wandb and swanlab are accepted for mlx-lm configs and not reported to.
 */
const reportTo = z
  .union([str(), listOf(str())], says(reportToMessage))
  .superRefine((v, ctx) => {
    const parts = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
    for (const [i, part] of parts.entries()) {
      if ((REPORT_TARGETS as readonly string[]).includes(part)) continue;
      const s = suggest(part, REPORT_TARGETS);
      const path = typeof v === 'string' ? [] : [i];
      ctx.addIssue({ code: 'custom', input: part, path, message: `unknown service ${JSON.stringify(part)}: use ${REPORT_TARGETS.join(', ')}${s ? ` (did you mean ${s}?)` : ''}` });
      return;
    }
  })
  .transform((v) => [...new Set(typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v)] as ReportTarget[]);
const reportToShape = z.union([z.string().describe('comma-separated services, as mlx-lm writes them'), z.array(z.enum(REPORT_TARGETS))]);

/** The format eval run during training. */
const evalSection = section({
  /** Path of the suite file. */
  suite: required(str({ nonEmpty: true })),
  /** Run every N steps; null: at every validation (steps_per_eval). */
  every: withDefault(int({ min: 1 }).nullable(), null),
  /** Token budget of each generated answer. */
  max_tokens: withDefault(int({ min: 1 }), 256),
  /** Stop sequences (e.g. "<think>"). */
  stop: withDefault(listOf(str({ nonEmpty: true })), []),
  /** Also evaluate before the first step. */
  at_start: withDefault(bool(), true),
  /** Decode each case under the grammar its scorer implies (mlx-lab eval --constrained); format_score is then the constrained score. Optional, default false. */
  constrained: bool().optional(),
});

const earlyStopping = section({
  metric: withDefault(oneOf(METRICS), 'format_score'),
  /** Stop once the metric reaches this value (format_score ≥ target, val_loss ≤ target). */
  target: withDefault(num().nullable(), null),
  /** Stop when the metric has not improved by min_delta for this many evals. */
  patience: withDefault(int({ min: 1 }).nullable(), null),
  min_delta: withDefault(num({ min: 0 }), 0),
  /** Steps before early stopping may trigger. */
  warmup: withDefault(int({ min: 0 }), 0),
}).superRefine((s, ctx) => {
  if (s.target === null && s.patience === null) ctx.addIssue({ code: 'custom', input: s, message: 'needs target or patience (or both)' });
});

const selection = section({
  metric: withDefault(oneOf(METRICS), 'format_score'),
  rule: withDefault(oneOf(SELECTION_RULES), 'best'),
});

const nonEmpty = () => str({ nonEmpty: true });

/** One entry of mlx-lm's `hf_dataset`: a Hub dataset, its splits (sliceable: train[:80%]) and its feature keys. */
const hfDatasetEntry = section({
  /** The dataset id, org/name or org/name@revision. */
  path: required(nonEmpty()),
  /** Default train[:80%] (mlx-lm's). */
  train_split: withDefault(nonEmpty().nullable(), null),
  /** Default train[-10%:] (mlx-lm's). */
  valid_split: withDefault(nonEmpty().nullable(), null),
  /** Needed with test: true. */
  test_split: withDefault(nonEmpty().nullable(), null),
  prompt_feature: withDefault(nonEmpty().nullable(), null),
  completion_feature: withDefault(nonEmpty().nullable(), null),
  chat_feature: withDefault(nonEmpty().nullable(), null),
  text_feature: withDefault(nonEmpty().nullable(), null),
  /** mlx-lm overrides it with the top-level mask_prompt; accepted when equal to it. */
  mask_prompt: withDefault(bool().nullable(), null),
  /** datasets.load_dataset arguments: name (the subset). */
  config: withDefault(section({ name: withDefault(nonEmpty().nullable(), null) }).nullable(), null),
});

/** hf_dataset: one entry or a list of them, read as a list (so each entry's errors name its keys). */
const hfDatasets = documentedAs(
  z.preprocess((v) => (Array.isArray(v) ? v : [v]), listOf(hfDatasetEntry, { nonEmpty: true })),
  z.union([hfDatasetEntry, z.array(hfDatasetEntry)]),
);

/** The keys of the config in mlx-lm's order, then ours; all but sweep (which varies the others). */
const SETTINGS = {
  /** Model folder (or GGUF). mlx-lm's default is a Hugging Face repo; we have none (null). */
  model: withDefault(nonEmpty().nullable(), null),
  train: withDefault(bool(), false),
  /** Folder with {train,valid,test}.jsonl, one JSONL file (the training set), or a Hub dataset id org/name[@revision]. */
  data: withDefault(nonEmpty().nullable(), null),
  /** mlx-lm's Hugging Face datasets: one entry or a list (concatenated); used instead of data when set. */
  hf_dataset: withDefault(hfDatasets.nullable(), null),
  fine_tune_type: withDefault(oneOf(FINE_TUNE_TYPES), 'lora'),
  optimizer: withDefault(optimizer, 'adam'),
  optimizer_config: defaultedSection(optimizerConfig),
  mask_prompt: withDefault(bool(), false),
  /** Blocks to fine-tune, counted from the last; -1: all. */
  num_layers: withDefault(int({ min: 1, minusOne: true }), 16),
  batch_size: withDefault(int({ min: 1 }), 4),
  iters: withDefault(int({ min: 1 }), 1000),
  /** Validation batches per evaluation; -1: the whole validation set. */
  val_batches: withDefault(int({ min: 1, minusOne: true }), 25),
  learning_rate: withDefault(num({ min: 0 }), 1e-5),
  steps_per_report: withDefault(int({ min: 1 }), 10),
  steps_per_eval: withDefault(int({ min: 1 }), 200),
  resume_adapter_file: withDefault(nonEmpty().nullable(), null),
  adapter_path: withDefault(nonEmpty(), 'adapters'),
  save_every: withDefault(int({ min: 1 }), 100),
  test: withDefault(bool(), false),
  /** Test batches; -1: the whole test set. */
  test_batches: withDefault(int({ min: 1, minusOne: true }), 500),
  max_seq_length: withDefault(int({ min: 2, hint: '(a sequence needs at least two tokens to have a target)' }), 2048),
  /** The config file this came from (mlx-lm's -c/--config). */
  config: withDefault(str().nullable(), null),
  grad_checkpoint: withDefault(bool(), false),
  grad_accumulation_steps: withDefault(int({ min: 1 }), 1),
  /** Clear the allocator cache when it grows past this many bytes (0: never). */
  clear_cache_threshold: withDefault(byteSize, 0),
  lr_schedule: withDefault(lrSchedule.nullable(), null),
  lora_parameters: defaultedSection(loraParameters),
  seed: withDefault(seed(), 0),
  /** Services to report to: tensorboard, mlflow (written by mlx-lab); wandb, swanlab (accepted, not reported to). */
  report_to: withDefault(documentedAs(reportTo, reportToShape).nullable(), null),
  project_name: withDefault(str().nullable(), null),
  /** Accepted for compatibility; mlx-lab never runs model code from a repo. */
  trust_remote_code: withDefault(bool(), false),
  /** Older mlx-lm's W&B project key; accepted for compatibility, unused. */
  wandb: withDefault(str().nullable(), null),
  /** Keys of the JSONL records (mlx-lm's dataset feature keys). */
  prompt_feature: withDefault(nonEmpty(), 'prompt'),
  completion_feature: withDefault(nonEmpty(), 'completion'),
  chat_feature: withDefault(nonEmpty(), 'messages'),
  text_feature: withDefault(nonEmpty(), 'text'),
  /** mlx-lm-lora's GRPO keys (train_mode and the method's settings; src/config/grpo.ts). */
  ...GRPO_SETTINGS,
  /** mlx-lm-lora's DPO / ORPO keys (src/config/grpo.ts). */
  ...PREFERENCE_SETTINGS,
  eval: withDefault(evalSection.nullable(), null),
  early_stopping: withDefault(earlyStopping.nullable(), null),
  selection: withDefault(selection.nullable(), null),
};

/** The keys a sweep grid can vary (top-level keys and lora_parameters.*), with their values' schemas. */
const GRID_FIELDS: Record<string, z.ZodType> = {
  ...Object.fromEntries(
    Object.entries(SETTINGS)
      .filter(([k]) => !NON_GRID_KEYS.includes(k))
      .map(([k, s]) => [k, baseOf(s)]),
  ),
  ...Object.fromEntries(LORA_KEYS.map((k) => [`lora_parameters.${k}`, baseOf(LORA[k])])),
};

/** The keys a sweep grid can vary. */
export const GRID_KEYS: readonly string[] = Object.keys(GRID_FIELDS);

/** The whole training config, keys as in mlx-lm's YAML; the defaults are mlx-lm's (model and data aside: null). */
export const trainConfigSchema = section({ ...SETTINGS, sweep: withDefault(sweepSection(GRID_FIELDS).nullable(), null) }).superRefine((c, ctx) => {
  for (const [key, message] of [...grpoProblems(c), ...preferenceProblems(c)]) ctx.addIssue({ code: 'custom', path: [key], input: c[key as keyof typeof c], message });
  for (const name of ['early_stopping', 'selection'] as const) {
    if (c[name]?.metric === 'format_score' && c.eval === null) {
      ctx.addIssue({
        code: 'custom',
        path: [name, 'metric'],
        input: c[name],
        message: 'is format_score, but there is no eval section to compute it (add eval: {suite: ...} or use val_loss)',
      });
    }
  }
});

type Parsed = z.output<typeof trainConfigSchema>;

type AnyKey<U> = U extends unknown ? keyof U : never;
type AnyValue<U, K extends PropertyKey> = U extends unknown ? (K extends keyof U ? Exclude<U[K], undefined> : never) : never;
type AllOptions = Parsed['optimizer_config'][OptimizerName];
/** Options of an optimizer's constructor: every optimizer's keys, each with the union of its types (each optimizer's schema allows its own). */
export type OptimizerOptions = { [K in AnyKey<AllOptions>]?: AnyValue<AllOptions, K> };
export type OptimizerConfig = Record<OptimizerName, OptimizerOptions>;

/** The whole training config, keys as in mlx-lm's YAML. */
export type TrainConfig = Omit<Parsed, 'optimizer_config'> & { optimizer_config: OptimizerConfig };
export type LoraParameters = TrainConfig['lora_parameters'];
export type LrSchedule = NonNullable<TrainConfig['lr_schedule']>;
export type EvalConfig = NonNullable<TrainConfig['eval']>;
export type EarlyStoppingConfig = NonNullable<TrainConfig['early_stopping']>;
export type SelectionConfig = NonNullable<TrainConfig['selection']>;
export type SweepConfig = NonNullable<TrainConfig['sweep']>;

/** mlx-lm's defaults (CONFIG_DEFAULTS of mlx_lm/lora.py 0.32), except model and data (null). */
export function defaultTrainConfig(): TrainConfig {
  return trainConfigSchema.parse({}) as TrainConfig;
}
