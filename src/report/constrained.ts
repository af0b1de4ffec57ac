/**
 * The report's "free vs constrained" section: an adapter's suite scored free and under the
 * grammars its scorers imply (a `constrained` event, logged by `eval --constrained --compare
 * --run`): both scores with their intervals, per case both scores and failure classes, and per
 * class how many failures the grammar removed.
 */
import { eventsOf, type MetricsEvent } from '../run/metrics.js';
import type { ConstrainedCase } from '../train/types.js';
import { escapeHtml, heatColor, interval, isNum, pct } from './format.js';

interface Side {
  score: number;
  low: number;
  high: number;
  n: number;
}

/** The last well-formed constrained event, as the report draws it. */
export interface ConstrainedView {
  step: number | null;
  adapter: string;
  free: Side;
  constrained: Side;
  cases: Record<string, ConstrainedCase>;
  failures: Record<string, { free: number; constrained: number }>;
}

const isSide = (x: unknown): x is Side => typeof x === 'object' && x !== null && ['score', 'low', 'high', 'n'].every((k) => isNum((x as Record<string, unknown>)[k]));
const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCase = (x: unknown): x is ConstrainedCase => isRecord(x) && isNum(x.free) && isNum(x.constrained);
const isCount = (x: unknown): x is { free: number; constrained: number } => isRecord(x) && isNum(x.free) && isNum(x.constrained);

/** The last constrained event whose two sides are numbers (a damaged one is passed over; damaged cases are dropped). */
export function constrainedView(events: readonly MetricsEvent[]): ConstrainedView | undefined {
  const e = eventsOf(events, 'constrained')
    .filter((x) => isSide(x.free) && isSide(x.constrained))
    .at(-1);
  if (!e) return undefined;
  const cases = Object.fromEntries(Object.entries(isRecord(e.cases) ? e.cases : {}).filter(([, c]) => isCase(c)));
  const failures = Object.fromEntries(Object.entries(isRecord(e.failures) ? e.failures : {}).filter(([, n]) => isCount(n)));
  return { step: isNum(e.step) ? e.step : null, adapter: typeof e.adapter === 'string' ? e.adapter : '', free: e.free, constrained: e.constrained, cases, failures };
}

function scoreCell(score: number): string {
  const { bg, fg } = heatColor(score);
  return `<td class="num" style="background:${bg};color:${fg}">${score.toFixed(2)}</td>`;
}

const text = (x: unknown): string => escapeHtml(typeof x === 'string' ? x : '–');

/** The section's HTML (cases in `caseIds` order, then any others). */
export function constrainedSection(v: ConstrainedView, caseIds: readonly string[]): string {
  const ids = [...caseIds.filter((id) => id in v.cases), ...Object.keys(v.cases).filter((id) => !caseIds.includes(id))];
  const rows = ids.map((id) => {
    const c = v.cases[id];
    const change = `${text(c.freeFailure)} → ${text(c.constrainedFailure)}${c.deadEnd ? ' (grammar dead end)' : ''}`;
    return `<tr><td>${escapeHtml(id)}</td>${scoreCell(c.free)}${scoreCell(c.constrained)}<td>${text(c.constraint ?? 'none')}</td><td>${change}</td></tr>`;
  });
  const removed = Object.entries(v.failures)
    .filter(([, n]) => n.constrained < n.free)
    .map(([k, n]) => `${escapeHtml(k)} ${n.free - n.constrained}`);
  const counts = Object.entries(v.failures).map(([k, n]) => `<tr><td>${escapeHtml(k)}</td><td class="num">${n.free}</td><td class="num">${n.constrained}</td></tr>`);
  const what = v.adapter ? `the adapter <span title="${escapeHtml(v.adapter)}">${escapeHtml(v.adapter.split(/[\\/]/).pop())}</span>${v.step !== null ? ` (step ${v.step})` : ''}` : 'the model alone';
  const gain = (100 * (v.constrained.score - v.free.score)).toFixed(1);
  return `<section><h2>Free vs constrained decoding</h2>
<p>${what}: free <b>${pct(v.free.score)}</b> ${interval(v.free.low, v.free.high)} → under the grammars <b>${pct(v.constrained.score)}</b> ${interval(v.constrained.low, v.constrained.high)} (${Number(gain) >= 0 ? '+' : ''}${gain} points, ${v.free.n} cases). Removed by the grammar: ${removed.length ? removed.join(', ') : 'none'}.</p>
<table class="data"><tr><th>case</th><th class="num">free</th><th class="num">constrained</th><th>grammar</th><th>failure free → constrained</th></tr>${rows.join('')}</table>
${counts.length ? `<table class="data"><tr><th>failure class</th><th class="num">free</th><th class="num">constrained</th></tr>${counts.join('')}</table>` : ''}
<p class="note">The free score is what the adapter does by itself; the constrained one is what it does once each case's scorer format is forced by a grammar. What stays below 1 under the grammar (wrong tool, missing keyword, a reply cut by the budget) is what the format cannot fix.</p></section>`;
}
