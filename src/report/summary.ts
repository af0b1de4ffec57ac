/**
 * Terminal summaries: a few lines for a run (baseline → best score, the selected step and why,
 * val loss at the selection, the stop reason) and a table by seed for a sweep. Plain text, no
 * colors, so they read the same in a log file.
 */
import { buildRunView, sweepStats, type RunInput, type RunView, type SweepStatsOptions, type SweepRunInput } from './model.js';
import { RUN_FILES } from '../run/run-dir.js';
import { table } from '../core/table.js';
import { interval, lossText, pct } from './html.js';

function stop(v: RunView): string {
  if (!v.finished) return `unfinished (no ${RUN_FILES.manifest}): the log ends at step ${v.iterations ?? '?'}`;
  if (v.stopReason === 'completed') return `completed ${v.iterations ?? '?'} iterations`;
  if (v.stopReason === 'callback') return v.stopMessage ?? 'stopped by a callback';
  return `${v.stopReason ?? 'unknown'}${v.stopMessage ? `: ${v.stopMessage}` : ''}`;
}

/** A run in a few lines. */
export function runSummary(input: RunInput | RunView, source?: string): string {
  const v: RunView = 'groups' in input ? input : buildRunView(input);
  const lines: string[] = [];
  const head = [v.model ? `model ${v.model}` : '', v.suite ? `suite ${v.suite}` : '', v.seed !== null ? `seed ${v.seed}` : ''].filter(Boolean).join(', ');
  lines.push(`run       ${source ?? v.label}${head ? `  (${head})` : ''}`);
  if (v.evals.length) {
    const b = v.baseline;
    const best = v.best!;
    lines.push(
      `format    ${b ? `${pct(b.score)} ${interval(b.low, b.high)} at step ${b.iteration}` : 'no baseline'} → best ${pct(best.score)} ${interval(best.low, best.high)} at step ${best.iteration} (${v.evals.length} evals)`,
    );
  } else lines.push('format    no format evals');
  const sel = v.selected;
  if (sel) {
    const ck = v.checkpoints.find((c) => c.iteration === sel.iteration);
    const e = v.evals.find((x) => x.iteration === sel.iteration);
    lines.push(`selected  step ${sel.iteration}${sel.provisional ? ' (provisional)' : ''}: ${sel.reason}`);
    const low = v.lowestValLoss;
    lines.push(
      `val loss  ${lossText(ck?.valLoss ?? e?.valLoss)} at selection${low ? `; lowest ${lossText(low.loss)} at step ${low.iteration}${low.iteration !== sel.iteration ? ` (format ${pct(v.evals.find((x) => x.iteration === low.iteration)?.score)})` : ''}` : ''}`,
    );
  } else {
    lines.push('selected  none');
    if (v.lowestValLoss) lines.push(`val loss  lowest ${lossText(v.lowestValLoss.loss)} at step ${v.lowestValLoss.iteration}`);
  }
  if (v.fused) lines.push(`fused     ${v.fused.bits}-bit model from step ${v.fused.iteration}: ${pct(v.fused.score)} ${interval(v.fused.low, v.fused.high)} (${v.fused.model})`);
  const c = v.constrained;
  if (c) lines.push(`grammar   free ${pct(c.free.score)} ${interval(c.free.low, c.free.high)} → constrained ${pct(c.constrained.score)} ${interval(c.constrained.low, c.constrained.high)}${c.step !== null ? ` (step ${c.step})` : ''}`);
  lines.push(`stop      ${stop(v)}`);
  return lines.join('\n') + '\n';
}

/** A sweep as a table by run (seed), then the spread of the best scores and the lock count. */
export function sweepSummary(runs: readonly SweepRunInput[], options: SweepStatsOptions = {}, source?: string): string {
  const s = sweepStats(runs, options);
  const rows: string[][] = [['run', 'seed', 'baseline', 'best', '95% interval', 'step', 'selected', 'val loss', 'locked', 'stop']];
  for (const r of s.runs) {
    const v = r.view;
    const sel = v.selected;
    const selLoss = sel ? (v.checkpoints.find((c) => c.iteration === sel.iteration)?.valLoss ?? r.selectedEval?.valLoss) : undefined;
    rows.push([
      r.label,
      r.seed === null ? '–' : String(r.seed),
      pct(v.baseline?.score),
      pct(r.best?.score),
      interval(r.best?.low, r.best?.high),
      r.best ? String(r.best.iteration) : '–',
      sel ? String(sel.iteration) : '–',
      lossText(selLoss),
      r.best ? (r.locked ? 'yes' : 'no') : '–',
      v.finished ? (v.stopReason === 'callback' ? 'early stop' : (v.stopReason ?? '–')) : 'unfinished',
    ]);
  }
  const d = s.best;
  const out = [
    `sweep  ${source ?? ''}${source ? '  ' : ''}(${s.runs.length} run${s.runs.length === 1 ? '' : 's'}, lock threshold ${pct(s.threshold, 0)})`,
    table(rows, new Set([1, 2, 3, 5, 6, 7])),
    d.n > 0
      ? `best score over ${d.n} run${d.n === 1 ? '' : 's'}: mean ${pct(d.mean)}, sd ${(d.std * 100).toFixed(1)} points, min ${pct(d.min)}, max ${pct(d.max)}`
      : 'no run has a format eval',
    `${s.locked} of ${s.runs.length} run${s.runs.length === 1 ? '' : 's'} locked the format (best ≥ ${pct(s.threshold, 0)})`,
  ];
  return out.join('\n') + '\n';
}
