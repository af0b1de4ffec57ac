/** Command-line flags over a config file's values, as mlx_lm.lora applies them. */
import { isPlainObject } from '../core/suggest.js';
import type { TrainConfig } from './schema.js';
import { validateTrainConfig } from './validate.js';

const MERGE_NESTED: ReadonlySet<string> = new Set(['lora_parameters', 'optimizer_config', 'lr_schedule', 'eval', 'early_stopping', 'selection']);

/** Two optimizer_config sections merged optimizer by optimizer, option by option. */
function mergeOptimizers(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const names = [...new Set([...Object.keys(base), ...Object.keys(over)])];
  return Object.fromEntries(names.map((k) => [k, { ...(base[k] as object | undefined), ...(over[k] as object | undefined) }]));
}

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
      merged[key] = key === 'optimizer_config' ? mergeOptimizers(base, value) : { ...base, ...value };
    } else {
      merged[key] = structuredClone(value);
    }
  }
  return validateTrainConfig(merged, 'command line');
}
