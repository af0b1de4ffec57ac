/**
 * Did-you-mean suggestions, value describers for error messages, and isPlainObject: the one
 * place for each (config, eval suites, data records and the suite linter all use them).
 */
// fastest-levenshtein: a small (one file, no dependencies), widely used and maintained edit
// distance with its own types; we only need distance() to rank suggestions.
import { distance } from 'fastest-levenshtein';

/** A mapping (a plain object), not null, not a list. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The candidate nearest to `word` by edit distance (the first of equals), after `canon` on both. */
export function nearest(word: string, candidates: Iterable<string>, canon: (s: string) => string = (s) => s): { name: string; distance: number } | undefined {
  const w = canon(word);
  let best: { name: string; distance: number } | undefined;
  for (const c of candidates) {
    const d = distance(w, canon(c));
    if (best === undefined || d < best.distance) best = { name: c, distance: d };
  }
  return best;
}

/** Whether `d` edits between two names of these lengths are few enough to be a likely typo. */
export function isLikelyTypo(d: number, a: string, b: string): boolean {
  return d <= Math.max(2, Math.floor(Math.min(a.length, b.length) / 3));
}

/** A name as it was probably meant: trimmed, lower case, `-` as `_`. */
function normalize(name: string): string {
  return name.trim().toLowerCase().replace(/-/g, '_');
}

/**
 * The candidate a misspelled name probably meant: the same name up to case and `-`/`_`, else the
 * nearest one when it is a likely typo, else the one candidate a shortened name starts
 * ("cosine" for cosine_decay); undefined when nothing is close.
 */
export function suggest(name: string, candidates: readonly string[]): string | undefined {
  const norm = normalize(name);
  if (candidates.includes(norm)) return norm;
  const best = nearest(norm, candidates);
  if (best === undefined) return undefined;
  if (isLikelyTypo(best.distance, norm, best.name)) return best.name;
  const prefixed = norm.length >= 3 ? candidates.filter((c) => c.startsWith(norm)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** What kind of value this is, in words: null, a list, an object, or its typeof. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : typeof value;
}

export interface DescribeStyle {
  /** The word for a mapping (default "an object"; configs say "a mapping"). */
  object?: string;
  /** The words before a string's text (default "string"). */
  string?: string;
  /** Cut strings longer than this (with …). */
  maxString?: number;
}

/** A value as an error message shows it after "got": null, a list, string "x", number 3, ... */
export function describeValue(value: unknown, style: DescribeStyle = {}): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return style.object ?? 'an object';
  if (typeof value === 'string') {
    const max = style.maxString;
    const text = max !== undefined && value.length > max ? `${value.slice(0, max)}…` : value;
    return `${style.string ?? 'string'} ${JSON.stringify(text)}`;
  }
  return `${typeof value} ${String(value)}`;
}
