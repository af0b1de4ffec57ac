/**
 * Self-contained HTML reports: one page per run, one per sweep. A page opens from disk with no
 * network: the styles, the data and the charting library are all inside it.
 *
 * Charts use Chart.js (the UMD build, read from node_modules when the report is written and
 * inlined into a <script> tag). Why Chart.js: it is the most used and actively maintained
 * canvas charting library (MIT, no runtime dependencies in its UMD bundle, ~200 KB), and it
 * covers everything these pages need out of the box — two y axes on one chart, a filled band
 * between two series (the Wilson interval), stacked bars (failure classes), category and linear
 * axes — leaving only the vertical markers and error bars to a few lines of plugin code below.
 * uPlot is smaller but has no stacked bars; D3 would mean writing every chart by hand.
 *
 * Everything from the run (case ids, paths, messages, config) is user data: it goes into the
 * page escaped (escapeHtml for HTML, jsonForScript for the data block the charts read). The
 * page's CSS is in page-style.ts, its chart script in page-script.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import {
  buildRunView,
  sweepStats,
  type CaseGroup,
  type RunEval,
  type RunInput,
  type RunView,
  type SweepStatsOptions,
  type SweepRunInput,
  type SweepStats,
} from './model.js';
import { FULL_COLOR, STYLE } from './page-style.js';
import { constrainedSection } from './constrained.js';
import { cellText, escapeHtml, heatColor, interval, isNum, jsonForScript, lossText, pct } from './format.js';

export { escapeHtml, heatColor, interval, jsonForScript, lossText, pct } from './format.js';
import { SCRIPT } from './page-script.js';

const base = (p: string | null | undefined): string => (p ? (p.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? p) : '–');

// ---------------------------------------------------------------------------------------------
// The charting library
// ---------------------------------------------------------------------------------------------

const require = createRequire(import.meta.url);
let chartJs: string | undefined;

/** The Chart.js UMD bundle's text, made safe to inline (read once per process). */
export function chartJsSource(): string {
  if (chartJs !== undefined) return chartJs;
  let main: string;
  try {
    main = require.resolve('chart.js');
  } catch (cause) {
    throw new MlxLabError('E_INTERNAL', 'the chart.js package is missing (a dependency of mlx-lab: reinstall mlx-lab)', { cause });
  }
  const file = ['chart.umd.min.js', 'chart.umd.js'].map((f) => join(dirname(main), f)).find((f) => existsSync(f));
  if (!file) throw new MlxLabError('E_INTERNAL', `${dirname(main)}: no chart.umd.min.js in the chart.js package`);
  chartJs = readFileSync(file, 'utf8')
    .replace(/^\/\/# sourceMappingURL=.*$/gm, '')
    .replace(/<\/(script)/gi, '<\\/$1')
    .replace(/<!--/g, '<\\!--');
  return chartJs;
}

// ---------------------------------------------------------------------------------------------
// Colors
// ---------------------------------------------------------------------------------------------

const FAILURE_COLORS: Record<string, string> = {
  prose: '#8c6bb1',
  think: '#5e3c99',
  wrong_tool: '#e6550d',
  no_wrapper: '#fdae6b',
  invalid_json: '#c51b7d',
  invalid_xml: '#de77ae',
  truncated: '#3182bd',
  empty: '#636363',
  missing_keyword: '#9ecae1',
  schema: '#756bb1',
  mismatch: '#bdbdbd',
  scorer_error: '#252525',
};
const EXTRA = ['#17becf', '#bcbd22', '#7f7f7f', '#8c564b', '#e377c2'];
const RUN_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function failureColor(name: string, i: number): string {
  return FAILURE_COLORS[name] ?? EXTRA[i % EXTRA.length];
}

// ---------------------------------------------------------------------------------------------
// Page pieces
// ---------------------------------------------------------------------------------------------

function page(title: string, body: string, data: unknown): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="mlx-lab report">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
<footer>written by mlx-lab report · ${escapeHtml(new Date().toISOString())} · charts: Chart.js (inlined)</footer>
</main>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
<script>/* Chart.js, MIT License, https://www.chartjs.org — inlined so the page needs no network */
${chartJsSource()}
</script>
<script id="report-script">${SCRIPT}</script>
</body>
</html>
`;
}

function card(key: string, value: string, detail = ''): string {
  return `<div class="card"><div class="k">${escapeHtml(key)}</div><div class="v">${value}</div><div class="d">${detail}</div></div>`;
}

interface HeatColumn {
  label: string;
  title?: string;
  highlight?: boolean;
}

/** A per-case table: rows grouped by category, one colored cell per column. */
function heatmap(groups: readonly CaseGroup[], columns: readonly HeatColumn[], value: (id: string, col: number) => number | undefined, corner: string): string {
  const mean = (ids: readonly string[], col: number): string => {
    const xs = ids.map((id) => value(id, col)).filter(isNum);
    return xs.length ? pct(xs.reduce((a, b) => a + b, 0) / xs.length, 0) : '';
  };
  const all = groups.flatMap((g) => g.ids);
  const selClass = (c: HeatColumn) => (c.highlight ? ' selcol' : '');
  const head = `<thead><tr><th class="case">${escapeHtml(corner)}</th>${columns
    .map((c) => `<th class="${selClass(c).trim()}"${c.title ? ` title="${escapeHtml(c.title)}"` : ''}>${c.highlight ? '★' : ''}${escapeHtml(c.label)}</th>`)
    .join('')}</tr></thead>`;
  const rows: string[] = [];
  rows.push(`<tr class="overall"><th>all ${all.length} cases</th>${columns.map((_, i) => `<td>${mean(all, i)}</td>`).join('')}</tr>`);
  for (const g of groups) {
    if (groups.length > 1 || g.category !== 'all cases') {
      rows.push(`<tr class="cat"><th>${escapeHtml(g.category)} <span class="tag">${g.ids.length}</span></th>${columns.map((_, i) => `<td>${mean(g.ids, i)}</td>`).join('')}</tr>`);
    }
    for (const id of g.ids) {
      const cells = columns.map((c, i) => {
        const v = value(id, i);
        if (!isNum(v)) return `<td class="c none${selClass(c)}" title="not scored">·</td>`;
        const { bg, fg } = heatColor(v);
        return `<td class="c${selClass(c)}" style="background:${bg};color:${fg}" title="${escapeHtml(`${id} @ ${c.label}: ${v}`)}">${cellText(v)}</td>`;
      });
      rows.push(`<tr><th class="case" title="${escapeHtml(id)}">${escapeHtml(id)}</th>${cells.join('')}</tr>`);
    }
  }
  const legend = `<div class="legend"><span><i style="background:${heatColor(1).bg}"></i>1.0</span><span><i style="background:${heatColor(0.5).bg}"></i>0.5</span><span><i style="background:${heatColor(0).bg}"></i>0</span><span><i style="background:#f1f3f5"></i>not scored</span>${columns.some((c) => c.highlight) ? '<span class="star">★ column: the selected checkpoint</span>' : ''}</div>`;
  return `<div class="scroll"><table class="heat">${head}<tbody>${rows.join('\n')}</tbody></table></div>${legend}`;
}

function failureTable(labels: readonly string[], classes: readonly string[], counts: (cls: string, col: number) => number, full: (col: number) => number, corner: string): string {
  const head = `<tr><th>${escapeHtml(corner)}</th>${labels.map((l) => `<th class="num">${escapeHtml(l)}</th>`).join('')}</tr>`;
  const rows = classes.map(
    (c, ci) =>
      `<tr><td><i style="display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;background:${failureColor(c, ci)}"></i>${escapeHtml(c)}</td>${labels
        .map((_, i) => `<td class="num">${counts(c, i) || ''}</td>`)
        .join('')}</tr>`,
  );
  rows.push(`<tr><td><i style="display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;background:${FULL_COLOR}"></i>scored 1.0</td>${labels.map((_, i) => `<td class="num">${full(i)}</td>`).join('')}</tr>`);
  return `<div class="scroll"><table class="data">${head}${rows.join('')}</table></div>`;
}

function fullCount(e: RunEval | undefined): number {
  return e ? Object.values(e.cases).filter((s) => s >= 1).length : 0;
}

function stopText(v: RunView): string {
  if (!v.finished) return `unfinished: the log ends at step ${v.iterations ?? '?'} (no run.json yet)`;
  switch (v.stopReason) {
    case 'completed':
      return `completed all ${v.iterations ?? '?'} iterations${v.stopMessage ? `: ${v.stopMessage}` : ''}`;
    case 'callback':
      return v.stopMessage ?? 'stopped by a callback';
    case 'aborted':
      return `aborted${v.stopMessage ? `: ${v.stopMessage}` : ''}`;
    default:
      return `${v.stopReason ?? 'unknown'}${v.stopMessage ? `: ${v.stopMessage}` : ''}`;
  }
}

/** One or two words for the stop: "completed", "early stop", "aborted", "unfinished". */
export function stopHeadline(v: RunView): string {
  if (!v.finished) return 'unfinished';
  if (v.stopReason === 'callback') return v.stopMessage?.startsWith('early stopping') ? 'early stop' : 'stopped';
  return v.stopReason ?? '–';
}

const CONFIG_KEYS = ['iters', 'batch_size', 'learning_rate', 'num_layers', 'lora_parameters', 'lr_schedule', 'optimizer', 'steps_per_eval', 'save_every', 'max_seq_length', 'grad_accumulation_steps', 'eval', 'early_stopping', 'selection'];

function keyConfig(config: Record<string, unknown> | undefined): string {
  if (!config) return '';
  const parts: string[] = [];
  const lora = config.lora_parameters as { rank?: number; scale?: number } | undefined;
  if (isNum(config.learning_rate)) parts.push(`lr ${config.learning_rate}`);
  if (lora && isNum(lora.rank)) parts.push(`rank ${lora.rank}`);
  if (isNum(config.num_layers)) parts.push(`layers ${config.num_layers}`);
  if (isNum(config.batch_size)) parts.push(`batch ${config.batch_size}`);
  if (isNum(config.iters)) parts.push(`iters ${config.iters}`);
  return parts.join(' · ');
}

// ---------------------------------------------------------------------------------------------
// The run report
// ---------------------------------------------------------------------------------------------

export interface ReportOptions {
  /** The page's title (default: built from model, data, suite and seed). */
  title?: string;
  /** Where the run came from (shown under the title). */
  source?: string;
}

/** The title line of a run: model · data · suite · seed. */
export function runTitle(v: RunView): string {
  const parts = [v.model ? `model ${base(v.model)}` : null, v.data ? `data ${base(v.data)}` : null, v.suite ? `suite ${base(v.suite)}` : null, v.seed !== null ? `seed ${v.seed}` : null];
  return parts.filter(Boolean).join(' · ') || v.label;
}

/** A run's report page (self-contained HTML) from its manifest and/or metrics events. */
export function renderRunReport(input: RunInput | RunView, options: ReportOptions = {}): string {
  const v: RunView = 'groups' in input ? input : buildRunView(input);
  const title = options.title ?? `mlx-lab run · ${runTitle(v)}`;
  const sel = v.selected;
  const selEval = sel ? v.evals.find((e) => e.iteration === sel.iteration) : undefined;
  const selCk = sel ? v.checkpoints.find((c) => c.iteration === sel.iteration) : undefined;
  const selLoss = selCk?.valLoss ?? selEval?.valLoss;

  const cards = [
    card('baseline (step ' + (v.baseline?.iteration ?? 0) + ')', pct(v.baseline?.score), v.baseline ? `95% ${interval(v.baseline.low, v.baseline.high)}` : 'no eval before training'),
    card('best format score', pct(v.best?.score), v.best ? `step ${v.best.iteration} · 95% ${interval(v.best.low, v.best.high)}` : 'no format evals'),
    card(
      sel?.provisional ? 'selected (provisional)' : 'selected checkpoint',
      sel ? `<span class="star">★</span> step ${sel.iteration}` : '–',
      sel ? `${pct(selEval?.score ?? selCk?.formatScore)} · val loss ${lossText(selLoss)}` : 'no checkpoint selected',
    ),
    card('lowest val loss', lossText(v.lowestValLoss?.loss), v.lowestValLoss ? `step ${v.lowestValLoss.iteration} · format ${pct(v.evals.find((e) => e.iteration === v.lowestValLoss!.iteration)?.score)}` : ''),
    card('stop', escapeHtml(stopHeadline(v)), escapeHtml(stopText(v))),
    v.fused ? card(`fused ${v.fused.bits}-bit model`, pct(v.fused.score), `from step ${v.fused.iteration} · 95% ${interval(v.fused.low, v.fused.high)}<br><span title="${escapeHtml(v.fused.model)}">${escapeHtml(basename(v.fused.model))}</span>`) : '',
  ].join('');

  const reason = sel
    ? `<p><span class="star">★</span> <b>Selected step ${sel.iteration}${sel.provisional ? ' (provisional: the run has no run.json yet)' : ''}</b>${sel.metric ? ` by ${escapeHtml(sel.metric)}${sel.rule ? ` (${escapeHtml(sel.rule)})` : ''}` : ''}: ${escapeHtml(sel.reason)}</p>`
    : '<p>No checkpoint was selected.</p>';

  const chart = `<section><h2>Val loss and format score by step</h2><div class="chart"><canvas id="chart-main" role="img" aria-label="val loss and format score by step"></canvas></div>
<p class="note">Format score (right axis, blue) with its Wilson 95% interval (band); val loss (left axis, red) and train loss (faint). <span class="star">Orange dashed line</span>: the selected checkpoint; grey dotted line: the lowest val loss; ◆ the baseline before training;${v.fused ? ' ■ the fused model, at the step it was fused from;' : ''} ▲ on the step axis: checkpoints.</p></section>`;

  const ckRows = v.checkpoints.map((c) => {
    const isSel = sel?.iteration === c.iteration;
    const tags = [isSel ? '<span class="star">★ selected</span>' : '', v.lowestValLoss?.iteration === c.iteration ? '<span class="tag">lowest val loss</span>' : '', v.best?.iteration === c.iteration ? '<span class="tag ok">best format score</span>' : ''].filter(Boolean).join(' ');
    return `<tr${isSel ? ' class="sel"' : ''}><td class="num">${c.iteration}</td><td class="num">${pct(c.formatScore)}</td><td class="num">${interval(c.formatLow, c.formatHigh)}</td><td class="num">${lossText(c.valLoss)}</td><td>${tags}</td></tr>`;
  });
  const checkpoints = `<section><h2>Checkpoints</h2>${
    v.checkpoints.length
      ? `<table class="data"><tr><th class="num">step</th><th class="num">format score</th><th class="num">95% interval</th><th class="num">val loss</th><th></th></tr>${ckRows.join('')}</table>`
      : '<p>No checkpoints were saved.</p>'
  }${reason}<p><b>Stop:</b> ${escapeHtml(stopText(v))}</p></section>`;

  const evalCols: HeatColumn[] = v.evals.map((e) => ({
    label: String(e.iteration),
    title: `step ${e.iteration}: ${pct(e.score)} ${interval(e.low, e.high)}`,
    highlight: sel?.iteration === e.iteration,
  }));
  // The fused model's eval, when logged, is one more column after the steps.
  const fused = v.fused;
  if (fused) evalCols.push({ label: `fused ${fused.bits}-bit`, title: `the fused ${fused.bits}-bit model (from step ${fused.iteration}): ${pct(fused.score)} ${interval(fused.low, fused.high)}`, highlight: false });
  const heatValue = (id: string, i: number) => (i < v.evals.length ? v.evals[i].cases[id] : fused?.cases[id]);
  const heat = v.evals.length
    ? `<section><h2>Per-case scores by step</h2>${heatmap(v.groups, evalCols, heatValue, 'case \\ step')}${
        v.groups.length === 1 && v.groups[0].category === 'all cases' ? '<p class="note">Categories unknown (the suite file was not found): cases are listed in suite order.</p>' : ''
      }</section>`
    : '';

  const failureData = v.evals.length
    ? {
        labels: v.evals.map((e) => String(e.iteration)),
        classes: v.failureClasses.map((c, i) => ({ name: c, color: failureColor(c, i), counts: v.evals.map((e) => e.failures[c] ?? 0) })),
        full: v.evals.map((e) => fullCount(e)),
      }
    : null;
  const failures = v.evals.length
    ? `<section><h2>Failure classes by step</h2><div class="chart small"><canvas id="chart-failures" role="img" aria-label="failure classes by step"></canvas></div>${failureTable(
        v.evals.map((e) => String(e.iteration)),
        v.failureClasses,
        (c, i) => v.evals[i].failures[c] ?? 0,
        (i) => fullCount(v.evals[i]),
        'class \\ step',
      )}<p class="note">Cases per failure class at each eval (a case scoring 0.5 under the rubric counts as no_wrapper).</p></section>`
    : '';

  const meta = `<section><details><summary>Run details</summary><dl class="meta">
<dt>model</dt><dd>${escapeHtml(v.model ?? '–')}</dd><dt>data</dt><dd>${escapeHtml(v.data ?? '–')}</dd><dt>suite</dt><dd>${escapeHtml(v.suite ?? '–')}</dd>
<dt>seed</dt><dd>${escapeHtml(v.seed ?? '–')}</dd><dt>started</dt><dd>${escapeHtml(v.startedAt ?? '–')}</dd><dt>finished</dt><dd>${escapeHtml(v.finishedAt ?? '–')}</dd>
<dt>iterations</dt><dd>${escapeHtml(v.iterations ?? '–')}</dd>${
    v.throughput ? `<dt>last report</dt><dd>step ${v.throughput.iteration}: ${v.throughput.tokensPerSec.toFixed(1)} tokens/s, peak memory ${(v.throughput.peakMemory / 1e9).toFixed(2)} GB</dd>` : ''
  }</dl>${
    v.config ? `<h2 style="margin-top:12px">Config</h2><pre>${escapeHtml(JSON.stringify(Object.fromEntries(CONFIG_KEYS.filter((k) => k in v.config!).map((k) => [k, v.config![k]])), null, 2))}</pre>` : ''
  }</details></section>`;

  const sub = [options.source ? `${escapeHtml(options.source)}` : '', escapeHtml(keyConfig(v.config))].filter(Boolean).join(' · ');
  const body = `<h1>${escapeHtml(title)}</h1><p class="sub">${sub || '&nbsp;'}</p><div class="cards">${cards}</div>${chart}${checkpoints}${heat}${failures}${v.constrained ? constrainedSection(v.constrained, v.caseIds) : ''}${meta}`;

  const steps = [...v.evals.map((e) => e.iteration), ...v.valLosses.map((x) => x.iteration), ...v.trainLosses.map((x) => x.iteration), ...v.grpo.map((g) => g.iteration), ...v.checkpoints.map((c) => c.iteration)];
  const data = {
    kind: 'run',
    xmin: steps.length ? Math.min(0, ...steps) : 0,
    xmax: steps.length ? Math.max(...steps) : 1,
    evals: v.evals.map((e) => ({ x: e.iteration, score: e.score, low: e.low, high: e.high })),
    valLosses: v.valLosses.map((x) => ({ x: x.iteration, y: x.loss })),
    trainLosses: v.trainLosses.map((x) => ({ x: x.iteration, y: x.loss })),
    rewards: v.grpo.map((g) => ({ x: g.iteration, y: g.reward })),
    kls: v.grpo.map((g) => ({ x: g.iteration, y: g.kl })),
    baseline: v.baseline ? { x: v.baseline.iteration, y: v.baseline.score } : null,
    fused: v.fused ? { x: v.fused.iteration, y: v.fused.score, label: `fused ${v.fused.bits}-bit model (from step ${v.fused.iteration})` } : null,
    selected: sel ? { x: sel.iteration, label: `★ selected: step ${sel.iteration}` } : null,
    lowestLoss: v.lowestValLoss && v.lowestValLoss.iteration !== sel?.iteration ? { x: v.lowestValLoss.iteration, label: `lowest val loss: step ${v.lowestValLoss.iteration}` } : null,
    checkpointSteps: v.checkpoints.map((c) => c.iteration),
    failures: failureData,
  };
  return page(title, body, data);
}

// ---------------------------------------------------------------------------------------------
// The sweep report
// ---------------------------------------------------------------------------------------------

export interface SweepReportOptions extends SweepStatsOptions, ReportOptions {}

/** A strip plot of the runs' best scores on a 0–100% axis (inline SVG: no script needed). */
function stripPlot(s: SweepStats): string {
  const W = 1200;
  const H = 120;
  const L = 30;
  const R = 30;
  const y0 = 70;
  const x = (v: number) => L + (W - L - R) * v;
  const ticks = Array.from({ length: 11 }, (_, i) => i / 10)
    .map((t) => `<line x1="${x(t)}" y1="${y0 + 8}" x2="${x(t)}" y2="${y0 + 13}" stroke="#98a2b3"/><text x="${x(t)}" y="${y0 + 26}" text-anchor="middle">${Math.round(t * 100)}%</text>`)
    .join('');
  const placed: { px: number; row: number }[] = [];
  const dots = s.runs
    .filter((r) => r.best)
    .sort((a, b) => a.best!.score - b.best!.score)
    .map((r, i) => {
      const px = x(r.best!.score);
      let row = 0;
      while (placed.some((p) => p.row === row && Math.abs(p.px - px) < 13)) row++;
      placed.push({ px, row });
      const cy = y0 - row * 14;
      const color = r.locked ? '#2e9e4f' : '#98a2b3';
      return `<circle cx="${px.toFixed(1)}" cy="${cy}" r="6" fill="${color}" stroke="#333"><title>${escapeHtml(`${r.label}: ${pct(r.best!.score)} ${interval(r.best!.low, r.best!.high)} at step ${r.best!.iteration}`)}</title></circle>${
        s.runs.length <= 12 ? `<text x="${px.toFixed(1)}" y="${cy - 10}" text-anchor="middle" data-i="${i}">${escapeHtml(r.seed ?? r.label)}</text>` : ''
      }`;
    })
    .join('');
  const th = x(s.threshold);
  const mean = isNum(s.best.mean)
    ? `<line x1="${x(s.best.mean)}" y1="${y0 - 34}" x2="${x(s.best.mean)}" y2="${y0 + 8}" stroke="#667085" stroke-dasharray="2 3"/><text x="${x(s.best.mean)}" y="${y0 - 38}" text-anchor="middle">mean ${pct(s.best.mean)}</text>`
    : '';
  const sdBand =
    isNum(s.best.mean) && s.best.std > 0
      ? `<rect x="${x(Math.max(0, s.best.mean - s.best.std))}" y="${y0 - 8}" width="${x(Math.min(1, s.best.mean + s.best.std)) - x(Math.max(0, s.best.mean - s.best.std))}" height="16" fill="#1f77b4" opacity="0.10"/>`
      : '';
  return `<svg viewBox="0 0 ${W} ${H}" width="100%" style="max-width:${W}px" role="img" aria-label="best format score of each run">
<line x1="${L}" y1="${y0 + 8}" x2="${W - R}" y2="${y0 + 8}" stroke="#98a2b3"/>${ticks}${sdBand}
<line x1="${th}" y1="${y0 - 48}" x2="${th}" y2="${y0 + 8}" stroke="#d62728" stroke-dasharray="6 4" stroke-width="1.5"/><text x="${th}" y="${y0 - 52}" text-anchor="middle" style="fill:#d62728;font-weight:600">lock ≥ ${pct(s.threshold, 0)}</text>
${mean}${dots}</svg>`;
}

function mixBar(mix: Record<string, number>, classes: readonly string[], full: number): string {
  const total = full + Object.values(mix).reduce((a, b) => a + b, 0);
  if (total === 0) return '';
  const seg = (n: number, color: string, name: string) => (n > 0 ? `<span style="width:${((100 * n) / total).toFixed(2)}%;background:${color}" title="${escapeHtml(`${name}: ${n}`)}"></span>` : '');
  return `<div class="mixbar">${seg(full, FULL_COLOR, 'scored 1.0')}${classes.map((c, i) => seg(mix[c] ?? 0, failureColor(c, i), c)).join('')}</div>`;
}

/** A sweep's report page (self-contained HTML) from its runs' manifests, with labels. */
export function renderSweepReport(runs: readonly SweepRunInput[], options: SweepReportOptions = {}): string {
  const s = sweepStats(runs, options);
  const c = s.common;
  const title = options.title ?? `mlx-lab sweep · ${s.runs.length} run${s.runs.length === 1 ? '' : 's'} · model ${c.model ? base(c.model) : 'varies'} · data ${c.data ? base(c.data) : 'varies'} · suite ${c.suite ? base(c.suite) : 'varies'}`;
  const d = s.best;
  const cards = [
    card('runs', String(s.runs.length), `${s.runs.filter((r) => r.best).length} with format evals`),
    card('locked the format', `${s.locked} of ${s.runs.length}`, `best score ≥ ${pct(s.threshold, 0)}`),
    card('best score, mean ± sd', `${pct(d.mean)}`, `sd ${isNum(d.std) ? (d.std * 100).toFixed(1) : '–'} points · median ${pct(d.median)}`),
    card('best score, min – max', `${pct(d.min, 0)} – ${pct(d.max, 0)}`, `spread ${isNum(d.max - d.min) ? ((d.max - d.min) * 100).toFixed(1) : '–'} points`),
  ].join('');

  const rows = s.runs.map((r) => {
    const v = r.view;
    const sel = v.selected;
    const selLoss = sel ? (v.checkpoints.find((k) => k.iteration === sel.iteration)?.valLoss ?? r.selectedEval?.valLoss) : undefined;
    const mixText = s.failureClasses.filter((k) => (r.failureMix[k] ?? 0) > 0).map((k) => `${escapeHtml(k)} ${r.failureMix[k]}`).join(', ');
    const label = r.href ? `<a href="${escapeHtml(r.href)}">${escapeHtml(r.label)}</a>` : escapeHtml(r.label);
    return `<tr><td style="white-space:nowrap">${label}</td><td class="num">${escapeHtml(r.seed ?? '–')}</td><td class="num">${pct(v.baseline?.score)}</td><td class="num"><b>${pct(r.best?.score)}</b></td><td class="num">${interval(r.best?.low, r.best?.high)}</td><td class="num">${r.best?.iteration ?? '–'}</td><td class="num" title="${escapeHtml(sel?.reason ?? '')}">${sel ? `<span class="star">★</span> ${sel.iteration}` : '–'}</td><td class="num">${pct(r.selectedEval?.score)}</td><td class="num">${lossText(selLoss)}</td><td>${r.best ? (r.locked ? '<span class="tag ok">locked</span>' : '<span class="tag no">not locked</span>') : '–'}</td><td title="${escapeHtml(stopText(v))}">${escapeHtml(stopHeadline(v))}</td><td>${mixBar(r.failureMix, s.failureClasses, fullCount(r.best))}<span class="note">${mixText || 'no failures'}</span></td></tr>`;
  });
  const table = `<section><h2>Runs</h2><div class="scroll"><table class="data"><tr><th>run</th><th class="num">seed</th><th class="num">baseline</th><th class="num">best</th><th class="num">95% interval</th><th class="num">best step</th><th class="num">selected</th><th class="num">selected score</th><th class="num">val loss at selected</th><th>format</th><th>stop</th><th>failure mix at best eval</th></tr>${rows.join('')}</table></div>
<p class="note">Best: each run's highest format score over its evals (ties: lower val loss, then earlier step), with the Wilson 95% interval over the suite's cases. A run locked the format when its best score is at least ${pct(s.threshold, 0)}. Hover a selected step for the selection's reason, a stop for its message.</p></section>`;

  const dist = `<section><h2>Best format score over seeds</h2>${stripPlot(s)}
<p class="note">Each dot is a run's best score (green: locked the format); dashed red: the lock threshold; dotted: the mean; the band: mean ± sd. n = ${d.n}, mean ${pct(d.mean)}, sd ${isNum(d.std) ? (d.std * 100).toFixed(1) : '–'} points, min ${pct(d.min)}, max ${pct(d.max)}.</p>
<div class="chart small"><canvas id="chart-best" role="img" aria-label="best format score per run with Wilson intervals"></canvas></div><p class="note">Best score per run with its Wilson 95% interval (error bars).</p></section>`;

  const curves = `<section><h2>Format score and val loss by step, every run</h2><div class="chart"><canvas id="chart-curves" role="img" aria-label="format score and val loss by step for every run"></canvas></div><p class="note">Solid: format score (left axis); dashed: val loss (right axis); one color per run.</p></section>`;

  const heatCols: HeatColumn[] = s.runs.map((r) => ({ label: r.seed !== null ? String(r.seed) : r.label, title: `${r.label}: best eval at step ${r.best?.iteration ?? '–'}` }));
  const heat = s.caseIds.length
    ? `<section><h2>Per-case scores at each run's best eval</h2>${heatmap(s.groups, heatCols, (id, i) => s.runs[i].best?.cases[id], 'case \\ seed')}<p class="note">Columns: runs (by seed), each at its best eval. A case that flips between seeds is where the format is fragile.</p></section>`
    : '';

  const failures = s.runs.some((r) => r.best)
    ? `<section><h2>Failure-class mix per run (at the best eval)</h2><div class="chart small" style="height:${Math.max(180, 60 + 34 * s.runs.length)}px"><canvas id="chart-failures" role="img" aria-label="failure classes per run"></canvas></div>${failureTable(
        s.runs.map((r) => r.label),
        s.failureClasses,
        (k, i) => s.runs[i].failureMix[k] ?? 0,
        (i) => fullCount(s.runs[i].best),
        'class \\ run',
      )}</section>`
    : '';

  const sub = escapeHtml(options.source ?? '') + (options.source ? ' · ' : '') + `lock threshold ${pct(s.threshold, 0)}`;
  const body = `<h1>${escapeHtml(title)}</h1><p class="sub">${sub}</p><div class="cards">${cards}</div>${table}${dist}${curves}${heat}${failures}`;
  const data = {
    kind: 'sweep',
    threshold: s.threshold,
    mean: isNum(d.mean) ? d.mean : null,
    runs: s.runs.map((r) => ({ label: r.label, best: r.best?.score ?? null, low: r.best?.low ?? null, high: r.best?.high ?? null, step: r.best?.iteration ?? null, locked: r.locked })),
    curves: s.runs.map((r, i) => ({
      label: r.label,
      color: RUN_COLORS[i % RUN_COLORS.length],
      score: r.view.evals.map((e) => ({ x: e.iteration, y: e.score })),
      val: r.view.valLosses.map((x) => ({ x: x.iteration, y: x.loss })),
    })),
    failures: {
      labels: s.runs.map((r) => r.label),
      classes: s.failureClasses.map((k, i) => ({ name: k, color: failureColor(k, i), counts: s.runs.map((r) => r.failureMix[k] ?? 0) })),
      full: s.runs.map((r) => fullCount(r.best)),
    },
  };
  return page(title, body, data);
}
