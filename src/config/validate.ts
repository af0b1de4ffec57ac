/**
 * Validating a config against the schema, and its errors: each names the source, the line and
 * column (when a locator knows them) and the key; unknown keys get a suggestion, a hint for other
 * frameworks' names, or the section's known keys. All of a config's errors are reported together.
 */
import { MlxLabError } from '../core/errors.js';
import { orderedProblems, type IssuePath, type Problem } from '../core/issues.js';
import { isPlainObject, suggest } from '../core/suggest.js';
import { describe } from './fields.js';
import { OPTIMIZER_OPTIONS, OPTIMIZERS, type OptimizerName } from './optimizers.js';
import { LORA_KEYS, trainConfigSchema, type TrainConfig } from './schema.js';

/** Where a key or value sits in the source (1-based line and column). */
export type ConfigLocator = (path: IssuePath, part: 'key' | 'value') => { line: number; col: number } | undefined;

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
    training_mode: "mlx-lm-lora calls it train_mode (sft, grpo, dpo or orpo)",
    loss_type: "use grpo_loss_type (GRPO: grpo, bnpo or dr_grpo) or dpo_cpo_loss_type (DPO: sigmoid, hinge, ipo or dpop), mlx-lm-lora's names",
    dpo_loss_type: "mlx-lm-lora calls it dpo_cpo_loss_type (sigmoid, hinge, ipo or dpop)",
    num_generations: 'use group_size (mlx-lm-lora\'s name)',
  },
  lora_parameters: {
    alpha: "mlx-lm's LoRA config uses scale, not alpha (the update is multiplied by scale)",
    r: 'use rank',
    lora_alpha: "mlx-lm's LoRA config uses scale, not alpha (the update is multiplied by scale)",
    target_modules: 'use keys (module paths inside a block, e.g. self_attn.q_proj)',
  },
};

/** Keys of mlx-lm that we recognise but cannot honour, with why. */
const UNSUPPORTED: Record<string, string> = {};

/** Keys of the nested sections, for "did you mean lora_parameters.rank?" on a top-level key. */
const NESTED_KEYS: Record<string, readonly string[]> = {
  lora_parameters: LORA_KEYS,
  lr_schedule: ['warmup', 'warmup_init', 'arguments'],
  early_stopping: ['patience', 'min_delta', 'target'],
  eval: ['suite', 'max_tokens', 'stop'],
  sweep: ['seeds', 'grid', 'lock_threshold'],
};

function formatPath(path: IssuePath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

/** The keys a mapping of the config allows, by its path. */
function keysAt(path: IssuePath): string[] {
  let schema: unknown = trainConfigSchema;
  for (const seg of path) {
    const shape = shapeOf(schema);
    schema = shape?.[seg as string];
  }
  return Object.keys(shapeOf(schema) ?? {});
}

/** The object shape under a schema's wrappers (defaults, nullable, pipes), read from zod's schema definitions (`_zod.def`). */
function shapeOf(schema: unknown): Record<string, unknown> | undefined {
  let s = schema as { _zod?: { def: { type: string; shape?: Record<string, unknown>; in?: unknown; innerType?: unknown } } } | undefined;
  for (let i = 0; s?._zod && i < 8; i++) {
    const def = s._zod.def;
    if (def.shape) return def.shape;
    s = (def.in ?? def.innerType) as typeof s;
  }
  return undefined;
}

/** The message for an unknown optimizer, or an unknown option of one (undefined elsewhere). */
function unknownOptimizerKey(path: IssuePath, key: string): string | undefined {
  if (path.length === 1 && path[0] === 'optimizer_config') {
    const s = suggest(key, OPTIMIZERS);
    return `unknown optimizer${s ? ` (did you mean ${s}?)` : ` (known: ${OPTIMIZERS.join(', ')})`}`;
  }
  if (path.length === 2 && path[0] === 'optimizer_config') {
    const known = OPTIMIZER_OPTIONS[path[1] as OptimizerName];
    const s = suggest(key, known);
    return `unknown option of ${path[1]}${s ? ` (did you mean ${s}?)` : ` (known: ${known.join(', ')})`}`;
  }
  return undefined;
}

class Reporter {
  readonly errors: string[] = [];
  constructor(
    private readonly source: string,
    private readonly locate?: ConfigLocator,
  ) {}

  where(path: IssuePath, part: 'key' | 'value'): string {
    const pos = this.locate?.(path, part);
    return pos ? `${this.source}:${pos.line}:${pos.col}` : this.source;
  }

  report(path: IssuePath, message: string, part: 'key' | 'value' = 'value'): void {
    const at = this.where(path, part);
    this.errors.push(path.length > 0 ? `${at}: ${formatPath(path)}: ${message}` : `${at}: ${message}`);
  }

  unknownKey(path: IssuePath, key: string): void {
    const keyPath = [...path, key];
    const special = unknownOptimizerKey(path, key) ?? (path.length === 0 && Object.hasOwn(UNSUPPORTED, key) ? UNSUPPORTED[key] : undefined);
    if (special !== undefined) {
      this.report(keyPath, special, 'key');
      return;
    }
    const scope = formatPath(path);
    const names = keysAt(path);
    const hints = HINTS[scope] ?? {};
    const hint = Object.hasOwn(hints, key.toLowerCase()) ? hints[key.toLowerCase()] : undefined;
    let suggestion = suggest(key, names);
    if (suggestion === undefined && path.length === 0) {
      const home = Object.entries(NESTED_KEYS).find(([, keys]) => keys.includes(key));
      if (home) suggestion = `${home[0]}.${key}`;
    }
    const tail = hint ? ` (${hint})` : suggestion ? ` (did you mean ${suggestion}?)` : path.length > 0 ? ` (known keys: ${names.join(', ')})` : '';
    this.errors.push(`${this.where(keyPath, 'key')}: unknown key ${JSON.stringify(key)}${scope ? ` in ${scope}` : ''}${tail}`);
  }

  add(problems: Problem[]): void {
    for (let i = 0; i < problems.length; i++) {
      const p = problems[i];
      if (p.kind === 'unknown-key') {
        for (const key of p.keys ?? []) this.unknownKey(p.path, key);
      } else if (p.kind === 'missing') {
        // The missing keys of one mapping together, as "missing required keys a, b".
        const parent = p.path.slice(0, -1);
        const names = [String(p.path.at(-1))];
        while (problems[i + 1]?.kind === 'missing' && formatPath(problems[i + 1].path.slice(0, -1)) === formatPath(parent)) names.push(String(problems[++i].path.at(-1)));
        this.report(parent, `missing required key${names.length > 1 ? 's' : ''} ${names.join(', ')}`);
      } else {
        this.report(p.path, p.message, p.part);
      }
    }
  }

  throwIfAny(): void {
    const errors = this.errors.length > 0 ? this.errors : [`${this.source}: invalid config`];
    const message = errors.length === 1 ? errors[0] : `${errors.length} errors in the config:\n${errors.map((e) => `  ${e}`).join('\n')}`;
    throw new MlxLabError('E_CONFIG', message);
  }
}

/**
 * The optimizers' options in the order the config gave them (the schema's output has its own
 * order), so a config written back (adapter_config.json) keeps the file's order, as it always did.
 */
function keepOptionOrder(config: TrainConfig, raw: unknown): TrainConfig {
  if (!isPlainObject(raw)) return config;
  for (const [name, options] of Object.entries(raw)) {
    const parsed = config.optimizer_config[name as OptimizerName] as Record<string, unknown> | undefined;
    if (!parsed || !isPlainObject(options)) continue;
    const ordered = Object.fromEntries(Object.keys(options).filter((k) => k in parsed).map((k) => [k, parsed[k]]));
    config.optimizer_config[name as OptimizerName] = ordered;
  }
  return config;
}

/**
 * Check a parsed config (the YAML's mapping, or any plain object with the same keys) and fill in
 * the defaults. `source` names it in errors (a file path, "command line", ...). Throws one
 * MlxLabError('E_CONFIG') listing every problem found.
 */
export function validateTrainConfig(raw: unknown, source: string, options: { locate?: ConfigLocator } = {}): TrainConfig {
  if (raw === null || raw === undefined) raw = {};
  if (!isPlainObject(raw)) throw new MlxLabError('E_CONFIG', `${source}: the config must be a mapping of keys to values (got ${describe(raw)})`);
  const result = trainConfigSchema.safeParse(raw, { reportInput: true });
  if (result.success) return keepOptionOrder(result.data as TrainConfig, raw.optimizer_config);
  const reporter = new Reporter(source, options.locate);
  reporter.add(orderedProblems(result.error.issues, { missingLast: true }));
  return reporter.throwIfAny() as never;
}
