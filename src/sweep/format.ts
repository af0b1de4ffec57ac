/** Terminal text for sweeps: a line per finished run and the summary table. */
import type { Distribution } from '../eval/stats.js';
import { table } from '../core/table.js';
import type { SweepDistributions, SweepReport, SweepRunSummary } from './report.js';

const pct = (x: number | null | undefined, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(digits)}%`);
const num = (x: number | null | undefined, digits = 3) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));

function failureText(f: Record<string, number>): string {
  const parts = Object.entries(f)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, n]) => `${k} ${n}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function stopText(r: SweepRunSummary): string {
  if (r.status === 'failed') return 'failed';
  if (r.status === 'interrupted') return 'interrupted';
  if (r.stopReason === 'callback') return r.stopMessage?.startsWith('early stopping') ? 'early stop' : 'stopped';
  return r.stopReason ?? '-';
}

/** One line for a finished run. */
export function formatRunLine(r: SweepRunSummary, index: number, total: number): string {
  const head = `[${index + 1}/${total}] ${r.name}`;
  if (r.status === 'failed') return `${head}: FAILED: ${r.error}`;
  const parts: string[] = [];
  if (r.best) parts.push(`best ${pct(r.best.score)} [${pct(r.best.low)}, ${pct(r.best.high)}] at step ${r.best.step}`);
  if (r.selected) {
    const bits = [r.selected.score !== undefined ? pct(r.selected.score) : undefined, `val loss ${num(r.valLossAtSelection)}`].filter((b) => b !== undefined);
    parts.push(`selected step ${r.selected.step} (${bits.join(', ')})`);
  }
  parts.push(`stop: ${r.status === 'interrupted' ? 'interrupted' : (r.stopMessage ?? r.stopReason ?? '-')}`);
  if (r.failuresStep !== null) parts.push(`failures: ${failureText(r.failures)}`);
  return `${head}: ${parts.join('; ')}${r.locked ? ' — LOCKED' : ''} (${r.seconds.toFixed(1)}s)`;
}

function distText(label: string, d: Distribution | null, asPct: boolean): string | undefined {
  if (!d) return undefined;
  const f = (x: number) => (asPct ? pct(x) : num(x));
  const s = asPct ? `${(100 * d.std).toFixed(1)} pts` : num(d.std);
  return `${label}: mean ${f(d.mean)}, std ${s}, min ${f(d.min)}, median ${f(d.median)}, max ${f(d.max)} (n ${d.n})`;
}

function distributionLines(d: SweepDistributions, threshold: number, indent = ''): string[] {
  const lines = [
    distText('best score', d.bestScore, true),
    distText('selected score', d.selectedScore, true),
    distText('val loss at selection', d.valLossAtSelection, false),
  ].filter((l): l is string => l !== undefined);
  if (d.locked.n > 0) {
    lines.push(
      `locked the format (best ≥ ${pct(threshold, 0)}): ${d.locked.count}/${d.locked.n}` +
        ` (${pct(d.locked.rate, 0)}, 95% CI ${pct(d.locked.low, 0)}–${pct(d.locked.high, 0)})` +
        (d.locked.runs.length > 0 ? `: ${d.locked.runs.join(', ')}` : ''),
    );
  }
  return lines.map((l) => indent + l);
}

/** The summary table and the distributions, for the end of a sweep. */
export function formatSweepSummary(report: SweepReport): string {
  const gridKeys = Object.keys(report.grid);
  const header = ['run', 'seed', ...gridKeys, 'best', '95% CI', 'step', 'selected', 'sel. score', 'val loss', 'stop', 'failures', 'locked'];
  const rows = report.runs.map((r) => [
    r.name,
    String(r.seed),
    ...gridKeys.map((k) => JSON.stringify(r.grid[k])),
    pct(r.best?.score),
    r.best ? `[${pct(r.best.low)}, ${pct(r.best.high)}]` : '-',
    r.best ? String(r.best.step) : '-',
    r.selected ? String(r.selected.step) : '-',
    pct(r.selected?.score),
    num(r.valLossAtSelection),
    stopText(r),
    r.failuresStep !== null ? failureText(r.failures) : '-',
    r.locked ? 'yes' : 'no',
  ]);
  const lines = [table([header, ...rows])];
  const notRun = report.plan.filter((p) => !report.runs.some((r) => r.name === p.name)).map((p) => p.name);
  if (notRun.length > 0) lines.push(`not run: ${notRun.join(', ')}`);
  lines.push('', `over ${report.summary.n} finished run${report.summary.n === 1 ? '' : 's'}:`, ...distributionLines(report.summary, report.lockThreshold, '  '));
  for (const g of report.groups) {
    lines.push(`${Object.entries(g.grid).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')} (${g.n} finished):`, ...distributionLines(g, report.lockThreshold, '  '));
  }
  return lines.join('\n');
}
