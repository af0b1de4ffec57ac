/**
 * zod's validation issues as problems to report, in the order a reader meets them. The config
 * and eval-suite validators turn these into messages with the file, line and key.
 */
import type { z } from 'zod';

export type IssuePath = readonly (string | number)[];

export interface Problem {
  /** unknown-key: `path` is the mapping, `keys` the unknown keys; missing: `path` names the key. */
  kind: 'unknown-key' | 'missing' | 'value';
  path: IssuePath;
  message: string;
  /** Point at the key rather than its value (custom issues set `params.part`). */
  part: 'key' | 'value';
  keys?: string[];
}

function toProblem(issue: z.core.$ZodIssue): Problem {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') return { kind: 'unknown-key', path, message: issue.message, part: 'key', keys: issue.keys };
  // A key's value that is undefined is a missing key (the issues need their inputs: parse with
  // reportInput: true); optional keys never fail on undefined.
  const missing = issue.code !== 'custom' && issue.input === undefined && typeof path.at(-1) === 'string';
  const part = issue.code === 'custom' && issue.params?.part === 'key' ? 'key' : 'value';
  return { kind: missing ? 'missing' : 'value', path, message: issue.message, part };
}

interface Node {
  unknown: Problem[];
  own: Problem[];
  missing: Problem[];
  children: Map<string | number, Node>;
}

const node = (): Node => ({ unknown: [], own: [], missing: [], children: new Map() });

function nodeAt(root: Node, path: IssuePath): Node {
  let n = root;
  for (const seg of path) {
    const next = n.children.get(seg) ?? node();
    n.children.set(seg, next);
    n = next;
  }
  return n;
}

function emit(n: Node, out: Problem[], missingLast: boolean): void {
  out.push(...n.unknown, ...n.own);
  // A value that is wrong as a whole (a list of the wrong length) says nothing about its items.
  if (n.own.length === 0) for (const child of n.children.values()) emit(child, out, missingLast);
  if (missingLast) out.push(...n.missing);
}

/**
 * The issues as problems: for each mapping, its unknown keys first, then its keys in the order of
 * the schema (depth first), then (with `missingLast`) its missing required keys; only the first
 * problem of each value is kept (its message already says what is wrong with it), and none inside
 * a value that has one.
 */
export function orderedProblems(issues: readonly z.core.$ZodIssue[], options: { missingLast?: boolean } = {}): Problem[] {
  const root = node();
  const seen = new Set<string>();
  for (const issue of issues) {
    const p = toProblem(issue);
    const id = `${p.kind}:${JSON.stringify(p.path)}`;
    if (p.kind !== 'unknown-key' && seen.has(id)) continue;
    seen.add(id);
    if (p.kind === 'unknown-key') nodeAt(root, p.path).unknown.push(p);
    else if (p.kind === 'missing' && options.missingLast) nodeAt(root, p.path.slice(0, -1)).missing.push(p);
    else nodeAt(root, p.path).own.push(p);
  }
  const out: Problem[] = [];
  emit(root, out, options.missingLast ?? false);
  return out;
}

/**
 * Parse a mapping key by key: each known key by its own schema, so the keys that are right are
 * parsed even when others are wrong (rules across keys can then look at them). The problems (and
 * the parsed keys) come in the shape's order after the unknown keys, or with `inputOrder` all in
 * the mapping's own order.
 */
export function parseFields<Shape extends z.ZodRawShape>(
  shape: Shape,
  raw: Record<string, unknown>,
  options: { inputOrder?: boolean } = {},
): { value: { -readonly [K in keyof Shape]?: z.output<Shape[K]> }; problems: Problem[] } {
  const problems: Problem[] = [];
  const unknown = (keys: string[]) => {
    if (keys.length > 0) problems.push({ kind: 'unknown-key', path: [], message: 'unknown keys', part: 'key', keys });
  };
  const value: Record<string, unknown> = {};
  const parseKey = (key: string) => {
    if (raw[key] === undefined) return;
    const r = (shape[key] as z.ZodType).safeParse(raw[key], { reportInput: true });
    if (r.success) value[key] = r.data;
    else for (const p of orderedProblems(r.error.issues)) problems.push({ ...p, path: [key, ...p.path] });
  };
  if (options.inputOrder) {
    for (const key of Object.keys(raw)) Object.hasOwn(shape, key) ? parseKey(key) : unknown([key]);
  } else {
    unknown(Object.keys(raw).filter((k) => !Object.hasOwn(shape, k)));
    for (const key of Object.keys(shape)) parseKey(key);
  }
  return { value: value as { [K in keyof Shape]?: z.output<Shape[K]> }, problems };
}
