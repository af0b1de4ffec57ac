/** The lint's text helpers: quoting, case lists, plurals, "did you mean" tool names, where two texts differ. */
import { distance } from 'fastest-levenshtein';
import { isLikelyTypo, nearest } from '../../core/suggest.js';
import type { DataProfile, Where } from './profile.js';

export function quote(text: string, max = 60): string {
  const t = text.replace(/\s+/g, ' ');
  return JSON.stringify(t.length > max ? `${t.slice(0, max)}…` : t);
}

export function caseList(ids: readonly string[], max = 6): string {
  const shown = ids.slice(0, max).map((id) => `"${id}"`);
  const more = ids.length > max ? ` and ${ids.length - max} more` : '';
  return ids.length === 1 ? `case ${shown[0]}` : `cases ${shown.join(', ')}${more}`;
}

export function plural(n: number, word: string): string {
  return `${n} ${n === 1 ? word : word.endsWith('y') && !/[aeiou]y$/.test(word) ? `${word.slice(0, -1)}ies` : `${word}s`}`;
}

export function recordAt(profile: DataProfile, w: Where): string {
  return `${profile.source}:${w.first}`;
}

function canon(name: string): string {
  return name.toLowerCase().replace(/[-\s.]/g, '_');
}

/**
 * The training tool name an eval tool name probably meant: the same name in another case or with
 * other separators; the longest training name that the eval name extends by a suffix or prefix
 * (`write_file_direct` → `write_file`) or that extends it; else the closest by edit distance when
 * the distance is small (a third of the length, at least 2).
 */
export function suggestToolName(name: string, candidates: Iterable<string>): string | undefined {
  const list = [...new Set(candidates)].filter((c) => c !== name);
  if (list.length === 0) return undefined;
  const n = canon(name);
  const same = list.find((c) => canon(c) === n);
  if (same) return same;
  const affix = list
    .filter((c) => {
      const k = canon(c);
      return k.length >= 3 && (n.startsWith(`${k}_`) || n.endsWith(`_${k}`) || k.startsWith(`${n}_`) || k.endsWith(`_${n}`));
    })
    .sort((a, b) => Math.abs(a.length - name.length) - Math.abs(b.length - name.length) || a.localeCompare(b));
  if (affix.length > 0) return affix[0];
  // Sorted, so that of equally near names the first in alphabetical order wins.
  const best = nearest(name, [...list].sort(), canon);
  return best !== undefined && isLikelyTypo(best.distance, n, best.name) ? best.name : undefined;
}

/** Where two texts first differ, with a little context from each. */
export function firstDifference(a: string, b: string, context = 40): { index: number; line: number; column: number; a: string; b: string } {
  let i = 0;
  const n = Math.min(a.length, b.length);
  while (i < n && a[i] === b[i]) i++;
  const before = a.slice(0, i);
  const line = before.split('\n').length;
  const column = i - before.lastIndexOf('\n');
  const start = Math.max(0, i - 15);
  const clip = (s: string) => {
    const piece = s.slice(start, i + context);
    return `${start > 0 ? '…' : ''}${piece}${i + context < s.length ? '…' : ''}`;
  };
  return { index: i, line, column, a: clip(a), b: clip(b) };
}

const WORD = /[A-Za-z_][A-Za-z0-9_]*/g;

export function words(text: string): Set<string> {
  return new Set(text.match(WORD) ?? []);
}

/** Words (identifiers) found in only one of two texts, in order of appearance. */
export function wordDiff(a: string, b: string): { onlyA: string[]; onlyB: string[] } {
  const wa = words(a);
  const wb = words(b);
  return { onlyA: [...wa].filter((w) => !wb.has(w)), onlyB: [...wb].filter((w) => !wa.has(w)) };
}

export function listWords(ws: string[], max = 8): string {
  return ws.slice(0, max).join(', ') + (ws.length > max ? `, … (${ws.length} in all)` : '');
}

export function closestText(text: string, candidates: readonly string[]): string {
  let best = candidates[0];
  let bestD = Infinity;
  for (const c of candidates) {
    // Edit distance is quadratic: for long prompts, compare the shared prefix length instead.
    const d = text.length * c.length > 4e6 ? -firstDifference(text, c).index : distance(text, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

export function symDiff(a: Set<string>, b: readonly string[]): number {
  let d = 0;
  for (const x of b) if (!a.has(x)) d++;
  const bs = new Set(b);
  for (const x of a) if (!bs.has(x)) d++;
  return d;
}
