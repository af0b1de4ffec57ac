/**
 * A sweep's plan: the runs that `config.sweep` asks for. Every combination of the grid's values
 * (keys in the order given, the last varying fastest) is run with every seed (seeds vary
 * fastest), each with its own adapter folder under the sweep's `adapter_path`, named after what
 * varies: `seed-42`, or `seed-42_lr-1e-4_rank-8` with a grid.
 *
 * Grid keys are config keys, dotted for a nested one (`lora_parameters.rank`); their values are
 * applied with mergeConfig's semantics (a nested section is merged key by key) and validated.
 */
import { basename, join, resolve } from 'node:path';
import { GRID_KEYS, gridKeyProblem, mergeConfig, type TrainConfig } from '../config/config.js';
import { MlxLabError } from '../core/errors.js';

export interface SweepRunPlan {
  /** 0-based position in the sweep. */
  index: number;
  /** The run's folder name (also its name in reports). */
  name: string;
  seed: number;
  /** The grid values of this run, by grid key (empty without a grid). */
  grid: Record<string, unknown>;
  /** The run's full config (its own seed, grid values and adapter_path; no sweep section). */
  config: TrainConfig;
}

/** Short names of common grid keys in run names. */
const KEY_ABBREVIATIONS: Record<string, string> = {
  learning_rate: 'lr',
  'lora_parameters.rank': 'rank',
  'lora_parameters.scale': 'scale',
  'lora_parameters.dropout': 'dropout',
  'lora_parameters.keys': 'keys',
  num_layers: 'layers',
  batch_size: 'bs',
  grad_accumulation_steps: 'accum',
  fine_tune_type: 'type',
  optimizer: 'opt',
  max_seq_length: 'maxlen',
  mask_prompt: 'mask',
};

function keyLabel(key: string): string {
  return KEY_ABBREVIATIONS[key] ?? key.split('.').at(-1)!.replace(/_/g, '');
}

/** A number as it reads best in a folder name: 1e-4, 2.5e-4, 0.05, 16. */
export function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) < 1e-2) return v.toExponential().replace('e+', 'e');
  return String(v);
}

function valueLabel(v: unknown): string {
  if (typeof v === 'number') return formatNumber(v);
  if (Array.isArray(v)) return v.map(valueLabel).join('+');
  if (typeof v === 'string') return basename(v).replace(/\.[A-Za-z0-9]+$/, '');
  return String(v);
}

function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9.+=-]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
}

/** The run name for a seed and grid values. */
export function runName(seed: number, grid: Record<string, unknown>): string {
  const parts = [`seed-${seed}`, ...Object.entries(grid).map(([k, v]) => `${keyLabel(k)}-${sanitize(valueLabel(v))}`)];
  return parts.join('_');
}

/** The config override of one grid key (dotted keys become a nested section). */
function override(key: string, value: unknown): Partial<TrainConfig> {
  const [section, sub] = key.split('.');
  return (sub === undefined ? { [key]: value } : { [section]: { [sub]: value } }) as Partial<TrainConfig>;
}

function cartesian(grid: Record<string, unknown[]>): Record<string, unknown>[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  }
  return combos;
}

export interface PlanOptions {
  /** Seeds to run instead of config.sweep.seeds. */
  seeds?: number[];
}

/**
 * Expand a config's sweep into runs. Without seeds (in the sweep or the options) every grid point
 * runs with config.seed. E_CONFIG when there is nothing to sweep or a grid key cannot vary.
 */
export function planSweep(config: TrainConfig, options: PlanOptions = {}): SweepRunPlan[] {
  const sweep = config.sweep;
  const seeds = options.seeds && options.seeds.length > 0 ? options.seeds : sweep?.seeds && sweep.seeds.length > 0 ? sweep.seeds : undefined;
  if (!sweep && !seeds) {
    throw new MlxLabError('E_CONFIG', 'nothing to sweep: add a sweep section to the config (sweep: {seeds: [1, 2, 3]}) or give --seeds');
  }
  if (seeds && new Set(seeds).size !== seeds.length) throw new MlxLabError('E_CONFIG', `repeated seeds: ${seeds.join(', ')}`);
  const grid = sweep?.grid ?? {};
  for (const key of Object.keys(grid)) {
    // The config's rule (a config built in code has not been through it).
    const why = gridKeyProblem(key, GRID_KEYS);
    if (why) throw new MlxLabError('E_CONFIG', `sweep.grid.${key}: ${why}`);
  }
  const root = resolve(config.adapter_path);
  const runs: SweepRunPlan[] = [];
  const used = new Map<string, number>();
  for (const point of cartesian(grid)) {
    for (const seed of seeds ?? [config.seed]) {
      let name = runName(seed, point);
      const n = (used.get(name) ?? 0) + 1;
      used.set(name, n);
      if (n > 1) name = `${name}-${n}`;
      let runConfig = mergeConfig(config, { seed, adapter_path: join(root, name), sweep: null });
      for (const [key, value] of Object.entries(point)) runConfig = mergeConfig(runConfig, override(key, value));
      runs.push({ index: runs.length, name, seed, grid: point, config: runConfig });
    }
  }
  return runs;
}
