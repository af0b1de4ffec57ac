/**
 * mlx-lm-lora's keys for GRPO, DPO and ORPO (mlx_lm_lora/train.py CONFIG_DEFAULTS,
 * GRPOTrainingArgs, DPOTrainingArgs, ORPOTrainingArgs), with its names and defaults so its users
 * recognise the config: `train_mode` picks the method, the rest shape the sampling and the loss. `reward_functions` name mlx-lab scorers (the suite's built-ins
 * or its user scorer files) instead of mlx-lm-lora's Python functions.
 */
import { z } from 'zod';
import { documentedAs } from '../core/schema-doc.js';
import { describe, int, listOf, num, oneOf, says, str, withDefault } from './fields.js';

export const TRAIN_MODES = ['sft', 'grpo', 'dpo', 'orpo'] as const;
export type TrainMode = (typeof TRAIN_MODES)[number];

export const GRPO_LOSS_TYPES = ['grpo', 'bnpo', 'dr_grpo'] as const;
export type GrpoLossType = (typeof GRPO_LOSS_TYPES)[number];

export const IMPORTANCE_SAMPLING_LEVELS = ['token', 'sequence'] as const;

export const DPO_LOSS_TYPES = ['sigmoid', 'hinge', 'ipo', 'dpop'] as const;
export type DpoLossType = (typeof DPO_LOSS_TYPES)[number];

/** The preference methods: trained on (prompt, chosen, rejected) pairs. */
export const PREFERENCE_MODES = ['dpo', 'orpo'] as const;
export type PreferenceMode = (typeof PREFERENCE_MODES)[number];

/** Whether a train_mode trains on preference pairs (dpo, orpo). */
export function isPreferenceMode(mode: TrainMode): mode is PreferenceMode {
  return (PREFERENCE_MODES as readonly string[]).includes(mode);
}

/** A list of names, or mlx-lm-lora's comma-separated string ("rubric,regex"); read as a list. */
const nameList = documentedAs(
  z
    .union([str({ nonEmpty: true }), listOf(str({ nonEmpty: true }), { nonEmpty: true })], says((v) => `must be a list of scorer names or a comma-separated string (got ${describe(v)})`))
    .transform((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v))
    .refine((v) => v.every((s) => s !== ''), says(() => 'has an empty name')),
  z.union([z.string().describe('comma-separated scorer names, as mlx-lm-lora writes them'), z.array(z.string())]),
);

/** A list of numbers, or mlx-lm-lora's string form "[1.0, 0.5]"; read as a list. */
const weightList = documentedAs(
  z.preprocess(
    (v) =>
      typeof v === 'string' && /^\s*\[?[^\]]*\]?\s*$/.test(v)
        ? v
            .replace(/[[\]]/g, '')
            .split(',')
            .map((s) => s.trim())
            .map((s) => (s === '' || Number.isNaN(Number(s)) ? s : Number(s)))
        : v,
    listOf(num(), { nonEmpty: true }),
  ),
  z.union([z.array(z.number()), z.string().describe('"[1.0, 0.5]", as mlx-lm-lora writes it')]),
);

/** The GRPO keys, in mlx-lm-lora's order. */
export const GRPO_SETTINGS = {
  /** mlx-lm-lora's method key: sft (next-token loss, as mlx-lm), grpo (the scorers as rewards), dpo or orpo (chosen/rejected pairs). */
  train_mode: withDefault(oneOf(TRAIN_MODES), 'sft'),
  /** GRPO: the KL coefficient to the reference (the base model, the adapter off); 0 skips it. DPO: the temperature of the preference logits; ORPO: the weight of the log-odds term (both > 0). */
  beta: withDefault(num({ min: 0 }), 0.1),
  /** GRPO: completions sampled per prompt; advantages compare the completions of a group. */
  group_size: withDefault(int({ min: 2, hint: '(advantages compare the completions of a group)' }), 4),
  /** GRPO: lower clip width of the importance ratio. */
  epsilon: withDefault(num({ min: 0, max: 1, maxExclusive: true }), 1e-4),
  /** GRPO: upper clip width (DAPO); null: epsilon. */
  epsilon_high: withDefault(num({ min: 0 }).nullable(), null),
  /** GRPO: tokens per sampled completion at most (and dr_grpo's per-row denominator). */
  max_completion_length: withDefault(int({ min: 1 }), 512),
  /** GRPO: sampling temperature of the completions. */
  temperature: withDefault(num({ min: 0, minExclusive: true, hint: '(GRPO needs varied completions)' }), 0.8),
  /** GRPO: one weight per reward (reward_functions, or the case's own scorer when null, then reward_functions_file); null: 1 each. */
  reward_weights: withDefault(weightList.nullable(), null),
  /** GRPO: scorers used as rewards (rubric, hermes, qwen3_xml, json_schema, regex, exact, or a suite's user scorer); null: each case's own scorer. */
  reward_functions: withDefault(nameList.nullable(), null),
  /** GRPO: a user scorer file (JavaScript, run in the scorer sandbox) added as a reward named by its file name. */
  reward_functions_file: withDefault(str({ nonEmpty: true }).nullable(), null),
  /** GRPO: grpo (mean of per-completion means), bnpo (mean over all tokens), dr_grpo (sum / (completions × max_completion_length)). */
  grpo_loss_type: withDefault(oneOf(GRPO_LOSS_TYPES), 'grpo'),
  /** GRPO: token (one ratio per token) or sequence (the completion's mean log-ratio). */
  importance_sampling_level: withDefault(oneOf(IMPORTANCE_SAMPLING_LEVELS), 'token'),
};

/** mlx-lm-lora's DPO / ORPO keys (beta is shared with GRPO). */
export const PREFERENCE_SETTINGS = {
  /** DPO: sigmoid (DPO's log-sigmoid), hinge, ipo (squared, on mean per-token log-probs) or dpop (sigmoid plus a penalty on the chosen reply's likelihood falling). */
  dpo_cpo_loss_type: withDefault(oneOf(DPO_LOSS_TYPES), 'sigmoid'),
  /** DPO with dpo_cpo_loss_type dpop: the weight of that penalty. */
  delta: withDefault(num({ min: 0 }), 50),
  /** mlx-lm-lora's separate reference model; mlx-lab's reference is always the base model with the adapter off, so only null is accepted. */
  reference_model_path: withDefault(str({ nonEmpty: true }).nullable(), null),
  /** DPO / ORPO data: the record keys of the chosen and rejected replies, the system prompt and ORPO's per-pair score. */
  chosen_feature: withDefault(str({ nonEmpty: true }), 'chosen'),
  rejected_feature: withDefault(str({ nonEmpty: true }), 'rejected'),
  system_feature: withDefault(str({ nonEmpty: true }), 'system'),
  preference_score_feature: withDefault(str({ nonEmpty: true }), 'preference_score'),
};

/** GRPO keys only meaningful with train_mode: grpo. */
export const GRPO_KEYS = Object.keys(GRPO_SETTINGS).filter((k) => k !== 'train_mode');

/** Problems of a config's GRPO keys taken together: [path, message]. */
export function grpoProblems(c: { train_mode: TrainMode; fine_tune_type: string; beta: number; reward_functions: string[] | null; reward_weights: number[] | null; reward_functions_file: string | null }): [string, string][] {
  const out: [string, string][] = [];
  if (c.train_mode !== 'grpo') return out;
  const rewards = (c.reward_functions?.length ?? 1) + (c.reward_functions_file ? 1 : 0);
  if (c.reward_weights && c.reward_weights.length !== rewards) {
    out.push(['reward_weights', `has ${c.reward_weights.length} weights for ${rewards} reward function${rewards === 1 ? '' : 's'} (one weight per entry of reward_functions, then reward_functions_file)`]);
  }
  if (c.fine_tune_type === 'full' && c.beta !== 0) {
    out.push(['fine_tune_type', "is full, but GRPO's reference is the base model with the adapter off: use lora or dora, or beta: 0"]);
  }
  return out;
}

/** Problems of a config's DPO / ORPO keys taken together: [path, message]. */
export function preferenceProblems(c: { train_mode: TrainMode; fine_tune_type: string; beta: number; reference_model_path: string | null }): [string, string][] {
  const out: [string, string][] = [];
  if (!isPreferenceMode(c.train_mode)) return out;
  if (c.beta === 0) out.push(['beta', `is 0, but ${c.train_mode} needs beta > 0 (it scales the preference term)`]);
  if (c.reference_model_path !== null) {
    out.push(['reference_model_path', "is not supported: mlx-lab's reference is the base model with the adapter off (no second model in memory); remove the key"]);
  }
  if (c.train_mode === 'dpo' && c.fine_tune_type === 'full') {
    out.push(['fine_tune_type', "is full, but DPO's reference is the base model with the adapter off: use lora or dora"]);
  }
  return out;
}
