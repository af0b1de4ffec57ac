/**
 * The `sweep` section: seeds, a grid of config values to try, and the lock threshold. Grid values
 * are checked by the same schemas as the config keys they vary, so a grid accepts exactly what
 * the config accepts (no `keys: []` that the config would then refuse).
 */
import { z } from 'zod';
import { documentedAs } from '../core/schema-doc.js';
import { suggest } from '../core/suggest.js';
import { describe, int, listOf, num, says, section, withDefault } from './fields.js';

/** A seed: what mlx.random.seed takes. */
export const seed = (): z.ZodType<number, number> => int({ min: 0, max: 2 ** 32 - 1 });

/** Keys a sweep sets itself (each run's folder and seed) or that are not run settings. */
const FIXED_GRID_KEYS = ['adapter_path', 'seed', 'sweep', 'config'];

/** Config keys a grid cannot vary: the fixed ones and the eval, early-stopping and selection sections. */
export const NON_GRID_KEYS: readonly string[] = [...FIXED_GRID_KEYS, 'eval', 'early_stopping', 'selection'];

/** Why `key` cannot be a grid key (undefined when it can); `gridKeys` are those that can. */
export function gridKeyProblem(key: string, gridKeys: readonly string[]): string | undefined {
  if (FIXED_GRID_KEYS.includes(key)) return `a sweep cannot vary ${key}${key === 'seed' ? ' in the grid (list the seeds in sweep.seeds)' : ''}`;
  if (gridKeys.includes(key)) return undefined;
  const s = suggest(key, gridKeys);
  return `not a config key a sweep can vary${s ? ` (did you mean ${s}?)` : ''}`;
}

/** `sweep.grid`: config key → non-empty list of values, each checked by that key's schema. */
function grid(fields: Record<string, z.ZodType>) {
  const keys = Object.keys(fields);
  const record = z.record(z.string(), z.unknown(), says((v) => `must be a mapping from config key to a list of values (got ${describe(v)})`));
  const checked = record.superRefine((g, ctx) => {
    for (const [key, values] of Object.entries(g)) {
      const why = gridKeyProblem(key, keys);
      if (why) {
        ctx.addIssue({ code: 'custom', path: [key], input: values, message: why, params: { part: 'key' } });
      } else if (!Array.isArray(values) || values.length === 0) {
        ctx.addIssue({ code: 'custom', path: [key], input: values, message: `must be a non-empty list of values to try (got ${describe(values)})` });
      } else {
        values.forEach((value, i) => {
          for (const issue of fields[key].safeParse(value).error?.issues ?? []) ctx.addIssue({ ...issue, path: [key, i, ...issue.path] } as never);
        });
      }
    }
  });
  // Values as the keys' schemas output them (a size "512M" becomes a number), in the file's order.
  const parsed = checked.transform((g) => Object.fromEntries(Object.entries(g).map(([k, values]) => [k, (values as unknown[]).map((v) => fields[k].parse(v))])));
  // Editors see each key a grid can vary, with its values' schema.
  return documentedAs(parsed, z.strictObject(Object.fromEntries(keys.map((k) => [k, z.array(fields[k]).min(1).optional()]))));
}

/** `sweep`: seeds and/or a grid; each run gets one seed and one point of the grid. */
export function sweepSection(gridFields: Record<string, z.ZodType>) {
  return section({
    // An empty list is fine when there is a grid (a config merged again keeps its []).
    seeds: withDefault(listOf(seed()).nullable(), null),
    /** A run "locked the format" when its best format score reaches this. */
    lock_threshold: withDefault(num({ min: 0, max: 1 }), 0.8),
    grid: withDefault(grid(gridFields).nullable(), null),
  })
    .superRefine((s, ctx) => {
      if (s.seeds !== null && new Set(s.seeds).size !== s.seeds.length) ctx.addIssue({ code: 'custom', path: ['seeds'], input: s.seeds, message: 'has repeated seeds' });
      else if ((s.seeds === null || s.seeds.length === 0) && Object.keys(s.grid ?? {}).length === 0) ctx.addIssue({ code: 'custom', input: s, message: 'needs seeds or grid (or both)' });
    })
    .transform((s) => ({ seeds: s.seeds ?? [], grid: (s.grid ?? {}) as Record<string, unknown[]>, lock_threshold: s.lock_threshold }));
}
