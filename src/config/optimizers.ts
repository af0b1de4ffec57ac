/**
 * The optimizer keys of the config: `optimizer` (mlx-lm's names; mlx-lab's trainer runs adam,
 * adamw and sgd, and the others are refused here rather than when training starts),
 * `optimizer_config` (each optimizer's constructor options) and `lr_schedule`.
 */
import { z } from 'zod';
import { bool, int, listOf, num, oneOf, oneOfMessage, pair, required, says, section, withDefault } from './fields.js';

/** mlx-lm's optimizer names (mlx_lm/lora.py), as its --optimizer flag takes them. */
export const OPTIMIZERS = ['adam', 'adamw', 'muon', 'sgd', 'adafactor'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** The optimizers mlx-lab's trainer runs. */
export const TRAINER_OPTIMIZERS = ['adam', 'adamw', 'sgd'] as const;

/** The schedules of `mlx.optimizers.schedulers` that take plain numbers (usable from YAML). */
export const LR_SCHEDULES = ['cosine_decay', 'linear_schedule', 'exponential_decay', 'step_decay'] as const;
export type LrScheduleName = (typeof LR_SCHEDULES)[number];

function optimizerMessage(v: unknown): string {
  if (typeof v === 'string' && (OPTIMIZERS as readonly string[]).includes(v)) {
    return `"${v}" is not supported yet (mlx-lab trains with ${TRAINER_OPTIMIZERS.join(', ')})`;
  }
  return oneOfMessage(OPTIMIZERS, v);
}

/** `optimizer`: lower-cased as mlx-lm does; only what the trainer runs. */
export const optimizer = z.preprocess(
  (v) => (typeof v === 'string' ? v.toLowerCase() : v),
  z.enum(TRAINER_OPTIMIZERS, says(optimizerMessage)),
);

const nonNeg = () => num({ min: 0 });
const beta = () => num({ min: 0, max: 1, maxExclusive: true });

/** Options passed to each optimizer's constructor (mlx.optimizers), only those the user set. */
const OPTIONS = {
  adam: { betas: pair(beta()).optional(), eps: nonNeg().optional(), bias_correction: bool().optional() },
  adamw: { betas: pair(beta()).optional(), eps: nonNeg().optional(), weight_decay: nonNeg().optional(), bias_correction: bool().optional() },
  muon: { momentum: nonNeg().optional(), weight_decay: nonNeg().optional(), nesterov: bool().optional(), ns_steps: int({ min: 1 }).optional() },
  sgd: { momentum: nonNeg().optional(), weight_decay: nonNeg().optional(), dampening: nonNeg().optional(), nesterov: bool().optional() },
  adafactor: {
    eps: pair(nonNeg()).optional(),
    clip_threshold: num({ min: 0, minExclusive: true }).optional(),
    decay_rate: num().optional(),
    beta_1: beta().nullable().optional(),
    weight_decay: nonNeg().optional(),
    scale_parameter: bool().optional(),
    relative_step: bool().optional(),
    warmup_init: bool().optional(),
  },
} as const;

/** The option names of each optimizer (for unknown-option suggestions). */
export const OPTIMIZER_OPTIONS: Record<OptimizerName, readonly string[]> = {
  adam: Object.keys(OPTIONS.adam),
  adamw: Object.keys(OPTIONS.adamw),
  muon: Object.keys(OPTIONS.muon),
  sgd: Object.keys(OPTIONS.sgd),
  adafactor: Object.keys(OPTIONS.adafactor),
};

function options<S extends z.ZodRawShape>(shape: S) {
  const schema = section(shape, 'a mapping of optimizer options');
  return withDefault(schema, {} as z.output<typeof schema>);
}

/** mlx's SGD refuses Nesterov momentum without a momentum or with dampening. */
const sgdOptions = section(OPTIONS.sgd, 'a mapping of optimizer options').superRefine((o, ctx) => {
  if (o.nesterov && (!(o.momentum !== undefined && o.momentum > 0) || (o.dampening ?? 0) !== 0)) {
    ctx.addIssue({ code: 'custom', path: ['nesterov'], message: 'Nesterov momentum needs momentum > 0 and dampening 0 (as mlx’s SGD)', input: o.nesterov });
  }
});

/** `optimizer_config`: a section per optimizer, each {} unless set. */
export const optimizerConfig = section(
  {
    adam: options(OPTIONS.adam),
    adamw: options(OPTIONS.adamw),
    muon: options(OPTIONS.muon),
    sgd: withDefault(sgdOptions, {}),
    adafactor: options(OPTIONS.adafactor),
  },
  'a mapping from optimizer name to its options',
);

/** Argument lists of the schedules: [schema, name] for each position; `min` of them required. */
const SCHEDULE_ARGS: Record<LrScheduleName, { args: [z.ZodType, string][]; min: number }> = {
  cosine_decay: { args: [[nonNeg(), 'init'], [int({ min: 1 }), 'decay_steps'], [nonNeg(), 'end']], min: 2 },
  linear_schedule: { args: [[nonNeg(), 'init'], [nonNeg(), 'end'], [int({ min: 1 }), 'steps']], min: 3 },
  exponential_decay: { args: [[nonNeg(), 'init'], [nonNeg(), 'decay_rate']], min: 2 },
  step_decay: { args: [[nonNeg(), 'init'], [nonNeg(), 'decay_rate'], [int({ min: 1 }), 'step_size']], min: 3 },
};

/** `lr_schedule`: a schedule by name with its positional arguments, and a linear warm-up. */
export const lrSchedule = section({
  name: required(oneOf(LR_SCHEDULES)),
  /** Positional arguments of the schedule; the first is the initial learning rate. */
  arguments: required(listOf(num())),
  /** Linear warm-up steps from `warmup_init` to the initial rate (0: none). */
  warmup: withDefault(int({ min: 0 }), 0),
  warmup_init: withDefault(num({ min: 0 }), 0),
}).superRefine((r, ctx) => {
  const spec = SCHEDULE_ARGS[r.name];
  const names = spec.args.map(([, n]) => n).join(', ');
  const n = r.arguments.length;
  if (n < spec.min || n > spec.args.length) {
    const optional = spec.min < spec.args.length ? ' (the last optional)' : '';
    ctx.addIssue({ code: 'custom', path: ['arguments'], input: r.arguments, message: `${r.name} takes [${names}]${optional}; got ${n} value${n === 1 ? '' : 's'}` });
    return;
  }
  r.arguments.forEach((a, i) => {
    const checked = spec.args[i][0].safeParse(a);
    for (const issue of checked.error?.issues ?? []) ctx.addIssue({ code: 'custom', path: ['arguments', i], input: a, message: issue.message });
  });
});
