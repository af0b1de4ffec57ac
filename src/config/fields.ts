/**
 * The building blocks of the config schema: zod schemas whose errors are the config's messages
 * ("must be an integer (got string "four")", "must be ≥ 1 (or -1 for all) (got 0)", did-you-mean
 * for enum values). Each message is computed from the input value alone, so every check of one
 * schema says the same thing, as the hand-written checks before them did.
 */
import { z } from 'zod';
import { describeValue, suggest } from '../core/suggest.js';

/** A value in a config error ("a mapping", string "x", number 3). */
export const describe = (value: unknown): string => describeValue(value, { object: 'a mapping' });

/** zod's error option from a message of the input value. */
export function says(message: (input: unknown) => string): { error: (issue: { input?: unknown }) => string } {
  return { error: (issue) => message(issue.input) };
}

export interface NumOpts {
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
  let text =
    parts.length === 2 && o.min !== undefined && o.max !== undefined
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

function numberMessage(o: NumOpts, integer: boolean, v: unknown): string {
  const what = integer ? 'an integer' : 'a number';
  if (typeof v !== 'number' || (integer && !Number.isFinite(v))) return `must be ${what} (got ${describe(v)})`;
  if (!Number.isFinite(v)) return `must be a finite number (got ${v})`;
  if (integer && !Number.isInteger(v)) return `must be an integer (got ${v})`;
  if (integer && inRange(v, o)) return `must be an integer of at most ${Number.MAX_SAFE_INTEGER} (got ${v})`;
  return `must be ${rangeText(o)} (got ${v})`;
}

function ranged(base: z.ZodNumber, o: NumOpts, err: ReturnType<typeof says>): z.ZodNumber {
  let s = base;
  if (o.min !== undefined) s = o.minExclusive ? s.gt(o.min, err) : s.min(o.min, err);
  if (o.max !== undefined) s = o.maxExclusive ? s.lt(o.max, err) : s.max(o.max, err);
  return s;
}

function numeric(o: NumOpts, integer: boolean): z.ZodType<number, number> {
  const err = says((v) => numberMessage(o, integer, v));
  const base = integer ? z.int(err) : z.number(err);
  const main = ranged(base, o, err);
  return o.minusOne ? z.union([z.literal(-1, err), main], err) : main;
}

/** An integer, with an optional range. */
export const int = (o: NumOpts = {}): z.ZodType<number, number> => numeric(o, true);

/** A finite number, with an optional range. */
export const num = (o: NumOpts = {}): z.ZodType<number, number> => numeric(o, false);

/** A string; `nonEmpty`: not blank. */
export function str(opts: { nonEmpty?: boolean } = {}): z.ZodString {
  const s = z.string(says((v) => `must be a string (got ${describe(v)})`));
  return opts.nonEmpty ? s.regex(/\S/, says(() => 'must not be empty')) : s;
}

/** true or false (YAML 1.1 yes/no/on/off are read as booleans before this). */
export const bool = (): z.ZodBoolean => z.boolean(says((v) => `must be true or false (got ${describe(v)})`));

/** The message for a value outside a list of names, with a did-you-mean. */
export function oneOfMessage(values: readonly string[], v: unknown): string {
  const list = values.join(', ');
  if (typeof v !== 'string') return `must be one of ${list} (got ${describe(v)})`;
  const s = suggest(v, values);
  return `unknown value ${JSON.stringify(v)}: must be one of ${list}${s ? ` (did you mean ${s}?)` : ''}`;
}

/** One of a list of names. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodEnum<{ [K in T[number]]: K }> {
  return z.enum(values, says((v) => oneOfMessage(values, v)));
}

/** A list of items; `nonEmpty`: at least one. */
export function listOf<S extends z.ZodType>(item: S, opts: { nonEmpty?: boolean } = {}): z.ZodArray<S> {
  const list = z.array(item, says((v) => `must be a list (got ${describe(v)})`));
  return opts.nonEmpty ? list.min(1, says(() => 'must not be an empty list')) : list;
}

/** A list of exactly two numbers. */
export function pair(item: z.ZodType<number, number>): z.ZodTuple<[z.ZodType<number, number>, z.ZodType<number, number>], null> {
  return z.tuple(
    [item, item],
    says((v) => (Array.isArray(v) ? `must be a list of two numbers (got ${v.length} items)` : `must be a list (got ${describe(v)})`)),
  );
}

/** A mapping with exactly these keys (unknown keys are reported with suggestions by the caller). */
export function section<Shape extends z.ZodRawShape>(shape: Shape, what = 'a mapping of keys to values'): z.ZodObject<Shape, z.core.$strict> {
  return z.strictObject(shape, says((v) => `must be ${what} (got ${describe(v)})`));
}

/** A key that may be left out or set to null, taking its default (as mlx-lm: `if args.get(k) is None`). */
export type Defaulted<S extends z.ZodType> = z.ZodPipe<z.ZodOptional<z.ZodNullable<S>>, z.ZodTransform<z.output<S>, z.output<S> | null | undefined>>;

const BASES = new WeakMap<z.ZodType, z.ZodType>();

/** `base`, or `def` when the key is missing or null (the JSON Schema shows the default). */
export function withDefault<S extends z.ZodType>(base: S, def: z.output<S>): Defaulted<S> {
  // A base that takes null already is only made optional (no null twice in the JSON Schema).
  const loose = (base instanceof z.ZodNullable ? base.optional() : base.nullish()) as z.ZodOptional<z.ZodNullable<S>>;
  const schema = loose.meta({ default: def }).transform((v) => (v ?? structuredClone(def)) as z.output<S>);
  BASES.set(schema, base);
  return schema;
}

/** The schema of a key's value without its default (what a sweep grid's values must be). */
export function baseOf(schema: z.ZodType): z.ZodType {
  return BASES.get(schema) ?? schema;
}

/** A key the mapping must give: missing or null is reported as "missing required key". */
export function required<S extends z.ZodType>(schema: S) {
  return z.preprocess((v) => v ?? undefined, schema);
}
