/**
 * The training config: mlx-lm's `lora` YAML and our own sections, in one schema (schema.ts) from
 * which the types, the defaults and the JSON Schema for editors come.
 *
 * Keys are snake_case, exactly as in the YAML and in mlx-lm's adapter_config.json, so a config
 * can be written back for mlx-lm without renaming. The order of precedence is the same as
 * `mlx_lm.lora`: command-line flags (merge.ts), then the file (load.ts), then the defaults; a key
 * set to `null` in the file takes its default.
 *
 * Where we are stricter than mlx-lm (it ignores unknown keys and checks almost no values):
 * unknown or misspelled keys, wrong types, out-of-range values and values the trainer cannot run
 * (muon, adafactor) are errors that name the file, the line and column, and the key; all of a
 * file's errors are reported together (validate.ts). A partial `lora_parameters` (say only
 * `rank:`) is completed from the defaults, where mlx-lm would fail with a KeyError.
 */
export {
  defaultTrainConfig,
  trainConfigSchema,
  FINE_TUNE_TYPES,
  GRPO_KEYS,
  GRPO_LOSS_TYPES,
  DPO_LOSS_TYPES,
  PREFERENCE_MODES,
  isPreferenceMode,
  type DpoLossType,
  type PreferenceMode,
  TRAIN_MODES,
  type GrpoLossType,
  type TrainMode,
  GRID_KEYS,
  LORA_KEYS,
  LR_SCHEDULES,
  METRICS,
  OPTIMIZERS,
  REPORT_TARGETS,
  type ReportTarget,
  SELECTION_RULES,
  TRAINER_OPTIMIZERS,
  type EarlyStoppingConfig,
  type EvalConfig,
  type FineTuneType,
  type LoraParameters,
  type LrSchedule,
  type LrScheduleName,
  type Metric,
  type OptimizerConfig,
  type OptimizerName,
  type OptimizerOptions,
  type SelectionConfig,
  type SelectionRule,
  type SweepConfig,
  type TrainConfig,
} from './schema.js';
export { validateTrainConfig, type ConfigLocator } from './validate.js';
export { configDir, loadTrainConfig, parseTrainConfig } from './load.js';
export { mergeConfig } from './merge.js';
export { gridKeyProblem } from './sweep.js';
export { suggest as suggestKey } from '../core/suggest.js';
