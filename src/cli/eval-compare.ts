/** The terminal table of `mlx-lab eval --constrained --compare`: free and constrained scores side by side. */
import type { ConstraintComparison } from '../eval/compare.js';
import type { EvalResult } from '../eval/runner.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const ci = (r: { low: number; high: number }) => `[${pct(r.low)}, ${pct(r.high)}]`;

/** Per case (both scores, the grammar, both failure classes), per category, overall with Wilson 95% intervals, failure counts. */
export function formatCompareTable(cmp: ConstraintComparison): string {
  const lines: string[] = [];
  const idWidth = Math.max(4, ...cmp.cases.map((c) => c.id.length));
  lines.push(`${'case'.padEnd(idWidth)}   free  constr.  grammar      failure free → constrained`);
  for (const c of cmp.cases) {
    const change = `${c.unconstrained.failure ?? '-'} → ${c.constrained.failure ?? '-'}${c.constrained.finishReason === 'grammar' ? ' (grammar dead end)' : ''}`;
    lines.push(`${c.id.padEnd(idWidth)}  ${c.unconstrained.score.toFixed(2).padStart(5)}  ${c.constrained.score.toFixed(2).padStart(7)}  ${(c.constraint ?? 'none').padEnd(11)}  ${change}`);
  }
  lines.push('');
  lines.push(...categoryLines(cmp.unconstrained, cmp.constrained));
  const failures = Object.entries(cmp.failures).map(([k, n]) => `${k} ${n.unconstrained} → ${n.constrained}`);
  lines.push(`failures (free → constrained): ${failures.length > 0 ? failures.join(', ') : 'none'}`);
  const removed = Object.entries(cmp.removed).map(([k, n]) => `${k} ${n}`);
  lines.push(`removed by the grammar: ${removed.length > 0 ? removed.join(', ') : 'none'}`);
  const free = cmp.cases.filter((c) => c.constraint === null).length;
  if (free > 0) lines.push(`${free} case(s) have no format grammar (their scorer checks no format) and ran free both times`);
  return lines.join('\n');
}

/** Per category and overall: cases, free score, constrained score (overall with both intervals). */
function categoryLines(free: EvalResult, held: EvalResult): string[] {
  const width = Math.max(8, ...free.categories.map((c) => c.category.length));
  const heldOf = new Map(held.categories.map((c) => [c.category, c]));
  const out = [`${'category'.padEnd(width)}  cases     free  constrained`];
  for (const c of free.categories) {
    const h = heldOf.get(c.category);
    out.push(`${c.category.padEnd(width)}  ${String(c.n).padStart(5)}  ${pct(c.mean).padStart(7)}  ${(h ? pct(h.mean) : '-').padStart(11)}`);
  }
  out.push(`${'overall'.padEnd(width)}  ${String(free.n).padStart(5)}  ${pct(free.score).padStart(7)}  ${pct(held.score).padStart(11)}`);
  out.push(`95% CI: free ${ci(free)}, constrained ${ci(held)}; gain ${(100 * (held.score - free.score)).toFixed(1)} points`);
  return out;
}
