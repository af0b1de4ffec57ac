/**
 * The training config: mlx-lm's `lora` YAML (mlx-lm 0.32: every key of `mlx_lm/lora.py`'s
 * CONFIG_DEFAULTS and argparse flags, plus the dataset feature keys its loader reads) and our
 * own sections (`eval`, `early_stopping`, `selection`, `sweep`).
 *
 * Keys are snake_case, exactly as in the YAML and in mlx-lm's adapter_config.json, so a config
 * can be written back for mlx-lm without renaming.
 *
 * Parsing follows mlx-lm: YAML 1.1 scalars (PyYAML's SafeLoader: `yes`/`on` are booleans,
 * `1_000` is 1000) plus mlx-lm's float resolver (`1e-5` is a number, not a string). The order of
 * precedence is the same as `mlx_lm.lora`: command-line flags, then the file, then the defaults;
 * a key set to `null` in the file takes its default.
 *
 * Where we are stricter than mlx-lm (it ignores unknown keys and checks almost no values):
 * unknown or misspelled keys, wrong types and out-of-range values are errors that name the file,
 * the line and column, and the key; all of a file's errors are reported together.
 * A partial `lora_parameters` (say only `rank:`) is completed from the defaults, where mlx-lm
 * would fail with a KeyError on the missing `scale`/`dropout`.
 */
import { dirname } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
// fastest-levenshtein: a small (one file, no dependencies), widely used and maintained edit
// distance with its own types; we only need distance() to rank key suggestions.
import { distance } from 'fastest-levenshtein';
import { MlxLabError } from '../core/errors.js';
import { readRegularFile } from '../core/files.js';
import { parseByteSize } from '../core/byte-size.js';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export const FINE_TUNE_TYPES = ['lora', 'dora', 'full'] as const;
export type FineTuneType = (typeof FINE_TUNE_TYPES)[number];

export const OPTIMIZERS = ['adam', 'adamw', 'muon', 'sgd', 'adafactor'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** The schedules of `mlx.optimizers.schedulers` that take plain numbers (usable from YAML). */
export const LR_SCHEDULES = ['cosine_decay', 'linear_schedule', 'exponential_decay', 'step_decay'] as const;
export type LrScheduleName = (typeof LR_SCHEDULES)[number];

export const REPORT_TARGETS = ['wandb', 'swanlab'] as const;

/** Metrics the early-stopping and selection sections can use. */
export const METRICS = ['format_score', 'val_loss'] as const;
export type Metric = (typeof METRICS)[number];

export const SELECTION_RULES = ['best', 'last'] as const;
export type SelectionRule = (typeof SELECTION_RULES)[number];

/**
 * Options passed to the optimizer's constructor (mlx.optimizers), only those the user set; the
 * optimizer's own defaults apply to the rest (adam/adamw betas [0.9, 0.999], eps 1e-8,
 * bias_correction false, adamw weight_decay 0.01; sgd momentum 0; ...).
 */
export interface OptimizerOptions {
  betas?: [number, number];
  /** A number, or for adafactor a pair. */
  eps?: number | [number, number];
  weight_decay?: number;
  bias_correction?: boolean;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  ns_steps?: number;
  clip_threshold?: number;
  decay_rate?: number;
  beta_1?: number | null;
  scale_parameter?: boolean;
  relative_step?: boolean;
  warmup_init?: boolean;
}

export type OptimizerConfig = Record<OptimizerName, OptimizerOptions>;

export interface LoraParameters {
  /** LoRA rank r. Default 8. */
  rank: number;
  /** Dropout on the LoRA input, in [0, 1). Default 0. */
  dropout: number;
  /** The LoRA update is scaled by `scale` (mlx-lm's name; not alpha/r). Default 20. */
  scale: number;
  /** Module keys to adapt in each block (e.g. "self_attn.q_proj"); null: every linear layer. */
  keys: string[] | null;
}

export interface LrSchedule {
  name: LrScheduleName;
  /** Positional arguments of the schedule; the first is the initial learning rate. */
  arguments: number[];
  /** Linear warm-up steps from `warmup_init` to the initial rate (0: none). */
  warmup: number;
  warmup_init: number;
}

/** The format eval run during training (filled in by the eval work). */
export interface EvalConfig {
  /** Path of the suite file. */
  suite: string;
  /** Run every N steps; null: at every validation (steps_per_eval). */
  every: number | null;
  /** Token budget of each generated answer. */
  max_tokens: number;
  /** Stop sequences (e.g. "<think>"). */
  stop: string[];
  /** Also evaluate before the first step. */
  at_start: boolean;
}

export interface EarlyStoppingConfig {
  metric: Metric;
  /** Stop once the metric reaches this value (format_score ≥ target, val_loss ≤ target). */
  target: number | null;
  /** Stop when the metric has not improved by min_delta for this many evals. */
  patience: number | null;
  min_delta: number;
  /** Steps before early stopping may trigger. */
  warmup: number;
}

export interface SelectionConfig {
  metric: Metric;
  rule: SelectionRule;
}

export interface SweepConfig {
  /** Seeds to run (each a full run). */
  seeds: number[];
  /** Config keys (dotted for nested ones, e.g. "lora_parameters.rank") → values to try. */
  grid: Record<string, unknown[]>;
  /** A run "locked the format" when its best format score reaches this. Default 0.8. */
  lock_threshold: number;
}

/** The whole training config, keys as in mlx-lm's YAML. */
export interface TrainConfig {
  /** Model folder (or GGUF). mlx-lm's default is a Hugging Face repo; we have none (null). */
  model: string | null;
  train: boolean;
  /** Folder with {train,valid,test}.jsonl, or one JSONL file (the training set). */
  data: string | null;
  fine_tune_type: FineTuneType;
  optimizer: OptimizerName;
  optimizer_config: OptimizerConfig;
  mask_prompt: boolean;
  /** Blocks to fine-tune, counted from the last; -1: all. */
  num_layers: number;
  batch_size: number;
  iters: number;
  /** Validation batches per evaluation; -1: the whole validation set. */
  val_batches: number;
  learning_rate: number;
  steps_per_report: number;
  steps_per_eval: number;
  resume_adapter_file: string | null;
  adapter_path: string;
  save_every: number;
  test: boolean;
  /** Test batches; -1: the whole test set. */
  test_batches: number;
  max_seq_length: number;
  /** The config file this came from (mlx-lm's -c/--config). */
  config: string | null;
  grad_checkpoint: boolean;
  grad_accumulation_steps: number;
  /** Clear the allocator cache when it grows past this many bytes (0: never). */
  clear_cache_threshold: number;
  lr_schedule: LrSchedule | null;
  lora_parameters: LoraParameters;
  seed: number;
  /** "wandb", "swanlab" or "wandb,swanlab"; mlx-lab accepts it but reports to neither. */
  report_to: string | null;
  project_name: string | null;
  /** Accepted for compatibility; mlx-lab never runs model code from a repo. */
  trust_remote_code: boolean;
  /** Older mlx-lm's W&B project key; accepted for compatibility, unused. */
  wandb: string | null;
  /** Keys of the JSONL records (mlx-lm's dataset feature keys). */
  prompt_feature: string;
  completion_feature: string;
  chat_feature: string;
  text_feature: string;
  eval: EvalConfig | null;
  early_stopping: EarlyStoppingConfig | null;
  selection: SelectionConfig | null;
  sweep: SweepConfig | null;
}

/** mlx-lm's defaults (CONFIG_DEFAULTS of mlx_lm/lora.py 0.32), except model and data (null). */
export function defaultTrainConfig(): TrainConfig {
  return {
    model: null,
    train: false,
    data: null,
    fine_tune_type: 'lora',
    optimizer: 'adam',
    optimizer_config: { adam: {}, adamw: {}, muon: {}, sgd: {}, adafactor: {} },
    mask_prompt: false,
    num_layers: 16,
    batch_size: 4,
    iters: 1000,
    val_batches: 25,
    learning_rate: 1e-5,
    steps_per_report: 10,
    steps_per_eval: 200,
    resume_adapter_file: null,
    adapter_path: 'adapters',
    save_every: 100,
    test: false,
    test_batches: 500,
    max_seq_length: 2048,
    config: null,
    grad_checkpoint: false,
    grad_accumulation_steps: 1,
    clear_cache_threshold: 0,
    lr_schedule: null,
    lora_parameters: { rank: 8, dropout: 0.0, scale: 20.0, keys: null },
    seed: 0,
    report_to: null,
    project_name: null,
    trust_remote_code: false,
    wandb: null,
    prompt_feature: 'prompt',
    completion_feature: 'completion',
    chat_feature: 'messages',
    text_feature: 'text',
    eval: null,
    early_stopping: null,
    selection: null,
    sweep: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Validation machinery
// ---------------------------------------------------------------------------------------------

type Path = readonly (string | number)[];

/** Where a key or value sits in the source (1-based line and column). */
export type ConfigLocator = (path: Path, part: 'key' | 'value') => { line: number; col: number } | undefined;

interface Ctx {
  source: string;
  errors: string[];
  locate?: ConfigLocator;
}

/** The marker a check returns after reporting an error. */
const BAD: unique symbol = Symbol('bad');
type Checked<T> = T | typeof BAD;
type Check<T> = (value: unknown, path: Path, ctx: Ctx) => Checked<T>;

interface Field<T = unknown> {
  check: Check<T>;
  default: () => T;
  /** The section must give it (no default). */
  required?: boolean;
}

function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

function where(ctx: Ctx, path: Path, part: 'key' | 'value'): string {
  const pos = ctx.locate?.(path, part);
  return pos ? `${ctx.source}:${pos.line}:${pos.col}` : ctx.source;
}

function report(ctx: Ctx, path: Path, message: string, part: 'key' | 'value' = 'value'): typeof BAD {
  const at = where(ctx, path, part);
  ctx.errors.push(path.length > 0 ? `${at}: ${formatPath(path)}: ${message}` : `${at}: ${message}`);
  return BAD;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The closest candidate to a misspelled name, when it is close enough to be a likely typo. */
export function suggestKey(name: string, candidates: readonly string[]): string | undefined {
  const norm = name.trim().toLowerCase().replace(/-/g, '_');
  if (candidates.includes(norm)) return norm;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(norm, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.floor(Math.min(norm.length, best.length) / 3));
  if (bestD <= limit) return best;
  // A shortened name ("cosine" for cosine_decay): the one candidate that starts with it.
  const prefixed = norm.length >= 3 ? candidates.filter((c) => c.startsWith(norm)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

const str =
  (opts: { nonEmpty?: boolean } = {}): Check<string> =>
  (v, path, ctx) => {
    if (typeof v !== 'string') return report(ctx, path, `must be a string (got ${describe(v)})`);
    if (opts.nonEmpty && v.trim() === '') return report(ctx, path, 'must not be empty');
    return v;
  };

const bool: Check<boolean> = (v, path, ctx) =>
  typeof v === 'boolean' ? v : report(ctx, path, `must be true or false (got ${describe(v)})`);

interface NumOpts {
  min?: number;
  /** The minimum itself is not allowed. */
  minExclusive?: boolean;
  max?: number;
  maxExclusive?: boolean;
  /** Also allow -1 (meaning "all"). */
  minusOne?: boolean;
  /** Extra words for the range message. */
  hint?: string;
}

function rangeText(o: NumOpts): string {
  const parts: string[] = [];
  if (o.min !== undefined) parts.push(o.minExclusive ? `> ${o.min}` : `≥ ${o.min}`);
  if (o.max !== undefined) parts.push(o.maxExclusive ? `< ${o.max}` : `≤ ${o.max}`);
  let text = parts.length === 2 && o.min !== undefined && o.max !== undefined
    ? `in ${o.minExclusive ? '(' : '['}${o.min}, ${o.max}${o.maxExclusive ? ')' : ']'}`
    : parts.join(' and ');
  if (o.minusOne) text += ' (or -1 for all)';
  if (o.hint) text += ` ${o.hint}`;
  return text;
}

function inRange(v: number, o: NumOpts): boolean {
  if (o.minusOne && v === -1) return true;
  if (o.min !== undefined && (o.minExclusive ? v <= o.min : v < o.min)) return false;
  if (o.max !== undefined && (o.maxExclusive ? v >= o.max : v > o.max)) return false;
  return true;
}

const int =
  (o: NumOpts = {}): Check<number> =>
  (v, path, ctx) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return report(ctx, path, `must be an integer (got ${describe(v)})`);
    if (!Number.isInteger(v)) return report(ctx, path, `must be an integer (got ${v})`);
    if (!inRange(v, o)) return report(ctx, path, `must be ${rangeText(o)} (got ${v})`);
    return v;
  };

const num =
  (o: NumOpts = {}): Check<number> =>
  (v, path, ctx) => {
    if (typeof v !== 'number') return report(ctx, path, `must be a number (got ${describe(v)})`);
    if (!Number.isFinite(v)) return report(ctx, path, `must be a finite number (got ${v})`);
    if (!inRange(v, o)) return report(ctx, path, `must be ${rangeText(o)} (got ${v})`);
    return v;
  };

function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (v, path, ctx) => {
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    const list = values.join(', ');
    if (typeof v === 'string') {
      const s = suggestKey(v, values);
      return report(ctx, path, `unknown value ${JSON.stringify(v)}: must be one of ${list}${s ? ` (did you mean ${s}?)` : ''}`);
    }
    return report(ctx, path, `must be one of ${list} (got ${describe(v)})`);
  };
}

function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, path, ctx) => (v === null || v === undefined ? null : check(v, path, ctx));
}

function listOf<T>(check: Check<T>, opts: { nonEmpty?: boolean } = {}): Check<T[]> {
  return (v, path, ctx) => {
    if (!Array.isArray(v)) return report(ctx, path, `must be a list (got ${describe(v)})`);
    if (opts.nonEmpty && v.length === 0) return report(ctx, path, 'must not be an empty list');
    const out: T[] = [];
    let bad = false;
    v.forEach((item, i) => {
      const r = check(item, [...path, i], ctx);
      if (r === BAD) bad = true;
      else out.push(r);
    });
    return bad ? BAD : out;
  };
}

function pair(check: Check<number>): Check<[number, number]> {
  const list = listOf(check);
  return (v, path, ctx) => {
    if (Array.isArray(v) && v.length !== 2) return report(ctx, path, `must be a list of two numbers (got ${v.length} items)`);
    const r = list(v, path, ctx);
    return r === BAD ? BAD : [r[0], r[1]];
  };
}

/** Known misspellings or other frameworks' names, with what to use instead. */
const HINTS: Record<string, Record<string, string>> = {
  '': {
    lr: 'use learning_rate',
    lora_layers: 'older mlx-lm called it lora_layers; use num_layers',
    epochs: 'mlx-lm trains for a number of steps: use iters',
    num_epochs: 'mlx-lm trains for a number of steps: use iters',
    lora_rank: 'use lora_parameters.rank',
    lora_alpha: "mlx-lm's LoRA has no alpha: use lora_parameters.scale (the update is multiplied by scale)",
    lora_dropout: 'use lora_parameters.dropout',
    training_mode: 'not a key of mlx-lm 0.32 lora (only normal training exists)',
  },
  lora_parameters: {
    alpha: "mlx-lm's LoRA config uses scale, not alpha (the update is multiplied by scale)",
    r: 'use rank',
    lora_alpha: "mlx-lm's LoRA config uses scale, not alpha (the update is multiplied by scale)",
    target_modules: 'use keys (module paths inside a block, e.g. self_attn.q_proj)',
  },
};

/** Keys of mlx-lm that we recognise but cannot honour, with why. */
const UNSUPPORTED: Record<string, string> = {
  hf_dataset:
    'Hugging Face datasets are not supported (mlx-lab reads local JSONL only): save the splits as train.jsonl/valid.jsonl/test.jsonl and set data: to their folder',
};

interface SectionOptions {
  /** Nested sections whose keys a misplaced top-level key may belong to (for suggestions). */
  nested?: Record<string, readonly string[]>;
  /** Name used in HINTS ('' for the top level). */
  hintScope?: string;
}

/**
 * Check a mapping against its fields: unknown keys are errors (with a suggestion), missing keys
 * and keys set to null take their default (as mlx-lm: `if args.get(k) is None: args[k] = v`).
 */
function checkSection<T extends object>(
  raw: Record<string, unknown>,
  fields: { [K in keyof T]: Field<T[K]> },
  path: Path,
  ctx: Ctx,
  options: SectionOptions = {},
): Checked<T> {
  const out: Record<string, unknown> = {};
  let bad = false;
  const names = Object.keys(fields);
  for (const [key, _value] of Object.entries(raw)) {
    const keyPath = [...path, key];
    if (!Object.hasOwn(fields, key)) {
      bad = true;
      if (path.length === 0 && Object.hasOwn(UNSUPPORTED, key)) {
        report(ctx, keyPath, UNSUPPORTED[key], 'key');
        continue;
      }
      const hints = HINTS[options.hintScope ?? formatPath(path)] ?? {};
      const hint = Object.hasOwn(hints, key.toLowerCase()) ? hints[key.toLowerCase()] : undefined;
      let suggestion = suggestKey(key, names);
      if (suggestion === undefined && options.nested) {
        const home = Object.entries(options.nested).find(([, keys]) => keys.includes(key));
        if (home) suggestion = `${home[0]}.${key}`;
      }
      const scope = path.length > 0 ? ` in ${formatPath(path)}` : '';
      const tail = hint
        ? ` (${hint})`
        : suggestion
          ? ` (did you mean ${suggestion}?)`
          : path.length > 0
            ? ` (known keys: ${names.join(', ')})`
            : '';
      ctx.errors.push(`${where(ctx, keyPath, 'key')}: unknown key ${JSON.stringify(key)}${scope}${tail}`);
    }
  }
  const missing: string[] = [];
  for (const name of names) {
    const field = (fields as Record<string, Field>)[name];
    const value = raw[name];
    if (value === undefined || value === null) {
      if (field.required) missing.push(name);
      else out[name] = field.default();
      continue;
    }
    const r = field.check(value, [...path, name], ctx);
    if (r === BAD) bad = true;
    else out[name] = r;
  }
  if (missing.length > 0) {
    report(ctx, path, `missing required key${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    bad = true;
  }
  return bad ? BAD : (out as T);
}

function section<T extends object>(fields: { [K in keyof T]: Field<T[K]> }, options: SectionOptions = {}): Check<T> {
  return (v, path, ctx) => {
    if (!isPlainObject(v)) return report(ctx, path, `must be a mapping of keys to values (got ${describe(v)})`);
    return checkSection<T>(v, fields, path, ctx, options);
  };
}

function field<T>(check: Check<T>, def: T): Field<T> {
  return { check, default: () => structuredClone(def) };
}

/** A field with no default: the section must give it. */
function required<T>(check: Check<T>): Field<T> {
  return {
    check,
    required: true,
    default: () => {
      throw new Error('a required config key has no default');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------------------------

const nonNeg = num({ min: 0 });

const OPTIMIZER_FIELDS: Record<OptimizerName, Record<string, Check<unknown>>> = {
  adam: { betas: pair(num({ min: 0, max: 1, maxExclusive: true })), eps: nonNeg, bias_correction: bool },
  adamw: { betas: pair(num({ min: 0, max: 1, maxExclusive: true })), eps: nonNeg, weight_decay: nonNeg, bias_correction: bool },
  sgd: { momentum: nonNeg, weight_decay: nonNeg, dampening: nonNeg, nesterov: bool },
  muon: { momentum: nonNeg, weight_decay: nonNeg, nesterov: bool, ns_steps: int({ min: 1 }) },
  adafactor: {
    eps: pair(nonNeg),
    clip_threshold: num({ min: 0, minExclusive: true }),
    decay_rate: num(),
    beta_1: nullable(num({ min: 0, max: 1, maxExclusive: true })),
    weight_decay: nonNeg,
    scale_parameter: bool,
    relative_step: bool,
    warmup_init: bool,
  },
};

const optimizerConfig: Check<OptimizerConfig> = (v, path, ctx) => {
  if (!isPlainObject(v)) return report(ctx, path, `must be a mapping from optimizer name to its options (got ${describe(v)})`);
  const out: OptimizerConfig = { adam: {}, adamw: {}, muon: {}, sgd: {}, adafactor: {} };
  let bad = false;
  for (const [name, options] of Object.entries(v)) {
    const namePath = [...path, name];
    if (!(OPTIMIZERS as readonly string[]).includes(name)) {
      const s = suggestKey(name, OPTIMIZERS);
      report(ctx, namePath, `unknown optimizer${s ? ` (did you mean ${s}?)` : ` (known: ${OPTIMIZERS.join(', ')})`}`, 'key');
      bad = true;
      continue;
    }
    if (options === null || options === undefined) continue;
    if (!isPlainObject(options)) {
      report(ctx, namePath, `must be a mapping of optimizer options (got ${describe(options)})`);
      bad = true;
      continue;
    }
    const known = OPTIMIZER_FIELDS[name as OptimizerName];
    const opts: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options)) {
      const keyPath = [...namePath, key];
      if (!Object.hasOwn(known, key)) {
        const s = suggestKey(key, Object.keys(known));
        report(ctx, keyPath, `unknown option of ${name}${s ? ` (did you mean ${s}?)` : ` (known: ${Object.keys(known).join(', ')})`}`, 'key');
        bad = true;
        continue;
      }
      const r = value === null && key === 'beta_1' ? null : known[key](value, keyPath, ctx);
      if (r === BAD) bad = true;
      else opts[key] = r;
    }
    out[name as OptimizerName] = opts as OptimizerOptions;
  }
  return bad ? BAD : out;
};

/** Argument lists of the schedules: [check, name] for each position; `min` of them required. */
const SCHEDULE_ARGS: Record<LrScheduleName, { args: [Check<number>, string][]; min: number }> = {
  cosine_decay: { args: [[num({ min: 0 }), 'init'], [int({ min: 1 }), 'decay_steps'], [num({ min: 0 }), 'end']], min: 2 },
  linear_schedule: { args: [[num({ min: 0 }), 'init'], [num({ min: 0 }), 'end'], [int({ min: 1 }), 'steps']], min: 3 },
  exponential_decay: { args: [[num({ min: 0 }), 'init'], [num({ min: 0 }), 'decay_rate']], min: 2 },
  step_decay: { args: [[num({ min: 0 }), 'init'], [num({ min: 0 }), 'decay_rate'], [int({ min: 1 }), 'step_size']], min: 3 },
};

const lrSchedule: Check<LrSchedule> = (v, path, ctx) => {
  const r = section<LrSchedule>({
    name: required(oneOf(LR_SCHEDULES)),
    arguments: required(listOf(num())),
    warmup: field(int({ min: 0 }), 0),
    warmup_init: field(num({ min: 0 }), 0),
  })(v, path, ctx);
  if (r === BAD) return BAD;
  const spec = SCHEDULE_ARGS[r.name];
  const argsPath = [...path, 'arguments'];
  const names = spec.args.map(([, n]) => n).join(', ');
  if (r.arguments.length < spec.min || r.arguments.length > spec.args.length) {
    return report(ctx, argsPath, `${r.name} takes [${names}]${spec.min < spec.args.length ? ` (the last optional)` : ''}; got ${r.arguments.length} value${r.arguments.length === 1 ? '' : 's'}`);
  }
  let bad = false;
  r.arguments.forEach((a, i) => {
    if (spec.args[i][0](a, [...argsPath, i], ctx) === BAD) bad = true;
  });
  return bad ? BAD : r;
};

const loraParameters: Check<LoraParameters> = section<LoraParameters>(
  {
    rank: field(int({ min: 1 }), 8),
    dropout: field(num({ min: 0, max: 1, maxExclusive: true }), 0.0),
    scale: field(num(), 20.0),
    keys: field(nullable(listOf(str({ nonEmpty: true }), { nonEmpty: true })), null),
  },
  { hintScope: 'lora_parameters' },
);

/** A byte count: a number, or a size as mlx-lm's --clear-cache-threshold takes it ("512M", "2GB"). */
const byteSize: Check<number> = (v, path, ctx) => {
  if (typeof v === 'number') return int({ min: 0 })(v, path, ctx);
  if (typeof v === 'string') {
    const bytes = parseByteSize(v);
    if (bytes !== undefined) return bytes;
    return report(ctx, path, `must be a byte count or a size like 512M or 2GB (got ${describe(v)})`);
  }
  return report(ctx, path, `must be a byte count or a size like 512M or 2GB (got ${describe(v)})`);
};

const reportTo: Check<string> = (v, path, ctx) => {
  if (typeof v !== 'string') return report(ctx, path, `must be a string (got ${describe(v)})`);
  for (const part of v.split(',').map((s) => s.trim())) {
    if (!(REPORT_TARGETS as readonly string[]).includes(part)) {
      const s = suggestKey(part, REPORT_TARGETS);
      return report(ctx, path, `unknown service ${JSON.stringify(part)}: use ${REPORT_TARGETS.join(', ')} or both comma-separated${s ? ` (did you mean ${s}?)` : ''}`);
    }
  }
  return v;
};

const evalSection: Check<EvalConfig> = section<EvalConfig>({
  suite: required(str({ nonEmpty: true })),
  every: field(nullable(int({ min: 1 })), null),
  max_tokens: field(int({ min: 1 }), 256),
  stop: field(listOf(str({ nonEmpty: true })), []),
  at_start: field(bool, true),
});

const earlyStopping: Check<EarlyStoppingConfig> = (v, path, ctx) => {
  const r = section<EarlyStoppingConfig>({
    metric: field(oneOf(METRICS), 'format_score'),
    target: field(nullable(num()), null),
    patience: field(nullable(int({ min: 1 })), null),
    min_delta: field(num({ min: 0 }), 0),
    warmup: field(int({ min: 0 }), 0),
  })(v, path, ctx);
  if (r === BAD) return BAD;
  if (r.target === null && r.patience === null) return report(ctx, path, 'needs target or patience (or both)');
  return r;
};

const selection: Check<SelectionConfig> = section<SelectionConfig>({
  metric: field(oneOf(METRICS), 'format_score'),
  rule: field(oneOf(SELECTION_RULES), 'best'),
});

const seedCheck = int({ min: 0, max: 2 ** 32 - 1 });

const TOP_FIELDS: { [K in keyof TrainConfig]: Field<TrainConfig[K]> } = (() => {
  const d = defaultTrainConfig();
  return {
    model: field(nullable(str({ nonEmpty: true })), d.model),
    train: field(bool, d.train),
    data: field(nullable(str({ nonEmpty: true })), d.data),
    fine_tune_type: field(oneOf(FINE_TUNE_TYPES), d.fine_tune_type),
    optimizer: field<OptimizerName>((v, p, c) => oneOf(OPTIMIZERS)(typeof v === 'string' ? v.toLowerCase() : v, p, c), d.optimizer),
    optimizer_config: field(optimizerConfig, d.optimizer_config),
    mask_prompt: field(bool, d.mask_prompt),
    num_layers: field(int({ min: 1, minusOne: true }), d.num_layers),
    batch_size: field(int({ min: 1 }), d.batch_size),
    iters: field(int({ min: 1 }), d.iters),
    val_batches: field(int({ min: 1, minusOne: true }), d.val_batches),
    learning_rate: field(num({ min: 0 }), d.learning_rate),
    steps_per_report: field(int({ min: 1 }), d.steps_per_report),
    steps_per_eval: field(int({ min: 1 }), d.steps_per_eval),
    resume_adapter_file: field(nullable(str({ nonEmpty: true })), d.resume_adapter_file),
    adapter_path: field(str({ nonEmpty: true }), d.adapter_path),
    save_every: field(int({ min: 1 }), d.save_every),
    test: field(bool, d.test),
    test_batches: field(int({ min: 1, minusOne: true }), d.test_batches),
    max_seq_length: field(int({ min: 2, hint: '(a sequence needs at least two tokens to have a target)' }), d.max_seq_length),
    config: field(nullable(str()), d.config),
    grad_checkpoint: field(bool, d.grad_checkpoint),
    grad_accumulation_steps: field(int({ min: 1 }), d.grad_accumulation_steps),
    clear_cache_threshold: field(byteSize, d.clear_cache_threshold),
    lr_schedule: field(nullable(lrSchedule), d.lr_schedule),
    lora_parameters: field(loraParameters, d.lora_parameters),
    seed: field(seedCheck, d.seed),
    report_to: field(nullable(reportTo), d.report_to),
    project_name: field(nullable(str()), d.project_name),
    trust_remote_code: field(bool, d.trust_remote_code),
    wandb: field(nullable(str()), d.wandb),
    prompt_feature: field(str({ nonEmpty: true }), d.prompt_feature),
    completion_feature: field(str({ nonEmpty: true }), d.completion_feature),
    chat_feature: field(str({ nonEmpty: true }), d.chat_feature),
    text_feature: field(str({ nonEmpty: true }), d.text_feature),
    eval: field(nullable(evalSection), d.eval),
    early_stopping: field(nullable(earlyStopping), d.early_stopping),
    selection: field(nullable(selection), d.selection),
    sweep: field(nullable(sweepSection), d.sweep),
  };
})();

/** Keys of the nested sections, for "did you mean lora_parameters.rank?" on a top-level key. */
const NESTED_KEYS: Record<string, readonly string[]> = {
  lora_parameters: ['rank', 'dropout', 'scale', 'keys'],
  lr_schedule: ['warmup', 'warmup_init', 'arguments'],
  early_stopping: ['patience', 'min_delta', 'target'],
  eval: ['suite', 'max_tokens', 'stop'],
  sweep: ['seeds', 'grid', 'lock_threshold'],
};

/** The checks of the config keys a sweep grid may vary: top-level keys and section.key. */
function gridFieldFor(key: string): Field | undefined {
  const top = TOP_FIELDS as Record<string, Field>;
  if (Object.hasOwn(top, key) && !['sweep', 'config', 'eval', 'early_stopping', 'selection'].includes(key)) return top[key];
  const [sectionName, sub, ...rest] = key.split('.');
  if (rest.length > 0 || sub === undefined) return undefined;
  if (sectionName === 'lora_parameters') {
    const d = defaultTrainConfig().lora_parameters;
    const checks: Record<string, Field> = {
      rank: field(int({ min: 1 }), d.rank),
      dropout: field(num({ min: 0, max: 1, maxExclusive: true }), d.dropout),
      scale: field(num(), d.scale),
      keys: field(nullable(listOf(str({ nonEmpty: true }))), d.keys),
    };
    return Object.hasOwn(checks, sub) ? checks[sub] : undefined;
  }
  return undefined;
}

function gridKeys(): string[] {
  return [
    ...Object.keys(TOP_FIELDS).filter((k) => gridFieldFor(k) !== undefined),
    ...['rank', 'dropout', 'scale', 'keys'].map((k) => `lora_parameters.${k}`),
  ];
}

function sweepSection(v: unknown, path: Path, ctx: Ctx): Checked<SweepConfig> {
  const r = section<{ seeds: number[] | null; grid: Record<string, unknown> | null; lock_threshold: number }>({
    // An empty list is fine when there is a grid (a config merged again keeps its []).
    seeds: field(nullable(listOf(seedCheck)), null),
    lock_threshold: field(num({ min: 0, max: 1 }), 0.8),
    grid: field(nullable((g, p, c) => (isPlainObject(g) ? g : report(c, p, `must be a mapping from config key to a list of values (got ${describe(g)})`))), null),
  })(v, path, ctx);
  if (r === BAD) return BAD;
  let bad = false;
  const grid: Record<string, unknown[]> = {};
  for (const [key, values] of Object.entries(r.grid ?? {})) {
    const keyPath = [...path, 'grid', key];
    const f = gridFieldFor(key);
    if (!f) {
      const s = suggestKey(key, gridKeys());
      report(ctx, keyPath, `not a config key a sweep can vary${s ? ` (did you mean ${s}?)` : ''}`, 'key');
      bad = true;
      continue;
    }
    if (!Array.isArray(values) || values.length === 0) {
      report(ctx, keyPath, `must be a non-empty list of values to try (got ${describe(values)})`);
      bad = true;
      continue;
    }
    const checked: unknown[] = [];
    values.forEach((value, i) => {
      const c = f.check(value, [...keyPath, i], ctx);
      if (c === BAD) bad = true;
      else checked.push(c);
    });
    grid[key] = checked;
  }
  if (bad) return BAD;
  if (r.seeds !== null && new Set(r.seeds).size !== r.seeds.length) return report(ctx, [...path, 'seeds'], 'has repeated seeds');
  if ((r.seeds === null || r.seeds.length === 0) && Object.keys(grid).length === 0) {
    return report(ctx, path, 'needs seeds or grid (or both)');
  }
  return { seeds: r.seeds ?? [], grid, lock_threshold: r.lock_threshold };
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

function throwErrors(errors: string[]): never {
  const message = errors.length === 1 ? errors[0] : `${errors.length} errors in the config:\n${errors.map((e) => `  ${e}`).join('\n')}`;
  throw new MlxLabError('E_CONFIG', message);
}

/**
 * Check a parsed config (the YAML's mapping, or any plain object with the same keys) and fill in
 * the defaults. `source` names it in errors (a file path, "command line", ...). Throws one
 * MlxLabError('E_CONFIG') listing every problem found.
 */
export function validateTrainConfig(raw: unknown, source: string, options: { locate?: ConfigLocator } = {}): TrainConfig {
  const ctx: Ctx = { source, errors: [], locate: options.locate };
  if (raw === null || raw === undefined) raw = {};
  if (!isPlainObject(raw)) throwErrors([`${source}: the config must be a mapping of keys to values (got ${describe(raw)})`]);
  const result = checkSection<TrainConfig>(raw, TOP_FIELDS, [], ctx, { nested: NESTED_KEYS, hintScope: '' });
  if (result !== BAD) {
    // Checks across keys.
    const needsEval = (name: 'early_stopping' | 'selection') => {
      const s = result[name];
      if (s && s.metric === 'format_score' && result.eval === null) {
        report(ctx, [name, 'metric'], 'is format_score, but there is no eval section to compute it (add eval: {suite: ...} or use val_loss)');
      }
    };
    needsEval('early_stopping');
    needsEval('selection');
  }
  if (ctx.errors.length > 0 || result === BAD) throwErrors(ctx.errors.length > 0 ? ctx.errors : [`${source}: invalid config`]);
  return result;
}

/** Where each key and value of a parsed YAML document sits (1-based line and column). */
function yamlLocator(doc: Document, lines: LineCounter): ConfigLocator {
  return (path, part) => {
    let node: unknown = doc.contents;
    let keyNode: unknown;
    let best: unknown = node;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
        best = node ?? keyNode;
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        keyNode = undefined;
        node = node.items[seg];
        best = node;
      } else {
        break;
      }
    }
    const target = part === 'key' && keyNode ? keyNode : (best ?? keyNode);
    const range = (target as { range?: [number, number, number] } | undefined)?.range;
    if (!range) return undefined;
    const pos = lines.linePos(range[0]);
    return { line: pos.line, col: pos.col };
  };
}

/**
 * Parse a config's YAML text (mlx-lm's YAML dialect) and validate it. `source` names the text in
 * errors. YAML syntax errors give the line and column.
 */
export function parseTrainConfig(text: string, source: string): TrainConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
    const message = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new MlxLabError('E_CONFIG', `${source}:${pos.line}:${pos.col}: YAML syntax error: ${message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new MlxLabError('E_CONFIG', `${source}: cannot read the YAML: ${(err as Error).message}`, { cause: err });
  }
  return validateTrainConfig(raw, source, { locate: yamlLocator(doc, lines) });
}

/** Read and validate an mlx-lm `lora` YAML config file. Sets `config` to the path. */
export function loadTrainConfig(path: string): TrainConfig {
  let text: string;
  try {
    text = readRegularFile(path, 'utf8');
  } catch (err) {
    if (err instanceof MlxLabError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'config file not found' : code === 'EISDIR' ? 'is a folder, not a config file' : `cannot read: ${(err as Error).message}`;
    throw new MlxLabError('E_CONFIG', `${path}: ${why}`, { cause: err });
  }
  const config = parseTrainConfig(text.replace(/^\uFEFF/, ''), path);
  return { ...config, config: path };
}

/** The folder of the config file, when the config came from one (for resolving relative paths). */
export function configDir(config: TrainConfig): string | null {
  return config.config ? dirname(config.config) : null;
}

const MERGE_NESTED: ReadonlySet<string> = new Set(['lora_parameters', 'optimizer_config', 'lr_schedule', 'eval', 'early_stopping', 'selection']);

/**
 * The file's config with overrides (command-line flags) applied on top: a key that is undefined
 * in `overrides` keeps the file's value; a nested section given in both is merged key by key.
 * The result is validated again (source "command line").
 */
export function mergeConfig(fileConfig: TrainConfig, overrides: Partial<TrainConfig>): TrainConfig {
  const merged: Record<string, unknown> = structuredClone(fileConfig) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const base = merged[key];
    if (MERGE_NESTED.has(key) && isPlainObject(base) && isPlainObject(value)) {
      const over = value as Record<string, unknown>;
      merged[key] =
        key === 'optimizer_config'
          ? Object.fromEntries(
              [...new Set([...Object.keys(base), ...Object.keys(over)])].map((k) => [
                k,
                { ...(base[k] as object | undefined), ...(over[k] as object | undefined) },
              ]),
            )
          : { ...base, ...over };
    } else {
      merged[key] = structuredClone(value);
    }
  }
  return validateTrainConfig(merged, 'command line');
}
