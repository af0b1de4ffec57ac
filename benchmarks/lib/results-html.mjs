// benchmarks/results.html: a self-contained page (Chart.js inlined as the run reports do it,
// src/report/html.ts) with the goals, bar charts of ours against mlx-lm, and line charts of how
// tokens/s grow with prompt length, batch size and model size on the random models.
import { chartJsSource, escapeHtml, jsonForScript } from '../../dist/report/html.js';
import { blasText } from './env.mjs';
import { formatGoalValue } from './goals.mjs';

const COLORS = ['#3182bd', '#e6550d', '#31a354', '#756bb1', '#636363', '#de2d26', '#9ecae1', '#fdae6b'];
const dataset = (label, data, i, extra = {}) => ({ label, data, backgroundColor: COLORS[i % COLORS.length], borderColor: COLORS[i % COLORS.length], ...extra });

/** Measured / goal per comparison, 1 = the goal: one bar chart for every goal. */
function goalsChart(goals) {
  const rows = goals.flatMap((g) => g.rows.map((r) => ({ label: `${g.id}: ${r.comparison}`, share: r.value / g.target, text: formatGoalValue(g, r.value) })));
  return {
    title: 'Goals: measured ÷ goal (1 = goal met)',
    type: 'bar',
    labels: rows.map((r) => `${r.label} = ${r.text}`),
    datasets: [dataset('measured / goal', rows.map((r) => r.share), 0), dataset('goal', rows.map(() => 1), 1, { type: 'line', pointRadius: 0 })],
    x: '',
    y: 'measured ÷ goal',
    horizontal: true,
  };
}

/** Ours against mlx-lm: prefill and decode tok/s per prompt × batch, one bar per side. */
function generateCharts(r) {
  const configs = r.sides[0].results.map((x) => [x.prompt_tokens, x.batch]);
  const labels = configs.map(([p, b]) => `prompt ${p}, batch ${b}`);
  const at = (s, [p, b], pick) => {
    const x = s.results.find((y) => y.prompt_tokens === p && y.batch === b);
    return x ? pick(x) : null; // llama.cpp runs batch 1 only
  };
  const chart = (title, pick) => ({ title, type: 'bar', labels, datasets: r.sides.map((s, i) => dataset(s.name, configs.map((c) => at(s, c, pick)), i)), x: '', y: 'tokens/s (median)' });
  return [chart('generate: prefill tokens/s', (x) => x.prompt_tps.median), chart('generate: decode tokens/s', (x) => x.generation_tps.median)];
}

function trainChart(r) {
  return { title: 'LoRA training tokens/s', type: 'bar', labels: r.sides.map((s) => s.name), datasets: [dataset('tokens/s', r.sides.map((s) => s.result.tokens_per_sec), 0)], x: '', y: 'tokens/s' };
}

function evalChart(r) {
  return { title: `eval suite seconds (${r.cases} cases; lower is better)`, type: 'bar', labels: r.sides.map((s) => s.name), datasets: [dataset('suite s', r.sides.map((s) => s.suite_seconds), 0), dataset('load / start-up s', r.sides.map((s) => s.setup_seconds), 1)], x: '', y: 'seconds', stacked: true };
}

/** Line charts over the scaling axes: prompt length (batch 1), batch (shortest prompt), model size. */
function scalingCharts(r) {
  const prompts = [...new Set(r.models.flatMap((m) => m.results.map((x) => x.prompt_tokens)))];
  const batches = [...new Set(r.models.flatMap((m) => m.results.map((x) => x.batch)))];
  const value = (m, p, b, pick) => {
    const x = m.results.find((y) => y.prompt_tokens === p && y.batch === b);
    return x ? pick(x) : null;
  };
  const charts = [];
  for (const [metric, pick] of [['prefill', (x) => x.prompt_tps.median], ['decode', (x) => x.generation_tps.median]]) {
    const models = r.models.map((m, i) => ({ m, i, name: `${m.arch} ${m.size} (${(m.parameters / 1e6).toFixed(1)}M)` }));
    charts.push({ title: `${metric} tokens/s over prompt length (batch ${batches[0]})`, type: 'line', labels: prompts, datasets: models.map(({ m, i, name }) => dataset(name, prompts.map((p) => value(m, p, batches[0], pick)), i)), x: 'prompt tokens', y: 'tokens/s', logY: true });
    charts.push({ title: `${metric} tokens/s over batch size (prompt ${prompts[0]})`, type: 'line', labels: batches, datasets: models.map(({ m, i, name }) => dataset(name, batches.map((b) => value(m, prompts[0], b, pick)), i)), x: 'batch', y: 'tokens/s (batch total)', logY: true });
    const archs = [...new Set(r.models.map((m) => m.arch))];
    const sizes = [...new Set(r.models.map((m) => m.size))];
    charts.push({
      title: `${metric} tokens/s over model size (prompt ${prompts[0]}, batch ${batches[0]})`,
      type: 'line',
      labels: sizes,
      datasets: archs.map((a, i) => dataset(a, sizes.map((s) => { const m = r.models.find((x) => x.arch === a && x.size === s); return m ? value(m, prompts[0], batches[0], pick) : null; }), i)),
      x: 'model size',
      y: 'tokens/s',
      logY: true,
    });
  }
  return charts;
}

/** Chart.js configurations from the chart descriptions above (runs in the page). */
const PAGE_SCRIPT = `
const specs = JSON.parse(document.getElementById('charts-data').textContent);
for (const s of specs) {
  const box = document.createElement('div'); box.className = 'chart';
  const canvas = document.createElement('canvas'); box.appendChild(canvas);
  document.getElementById('charts').appendChild(box);
  new Chart(canvas, {
    type: s.type,
    data: { labels: s.labels, datasets: s.datasets },
    options: {
      indexAxis: s.horizontal ? 'y' : 'x', maintainAspectRatio: false, spanGaps: true,
      plugins: { title: { display: true, text: s.title } },
      scales: {
        [s.horizontal ? 'y' : 'x']: { stacked: !!s.stacked, title: { display: !!s.x, text: s.x } },
        [s.horizontal ? 'x' : 'y']: { stacked: !!s.stacked, type: s.logY ? 'logarithmic' : 'linear', beginAtZero: !s.logY, title: { display: !!s.y, text: s.y } },
      },
    },
  });
}`;

/** The page's HTML text. */
export function resultsHtml(run) {
  const charts = [goalsChart(run.goals)];
  const r = run.reports;
  if (r.generate) charts.push(...generateCharts(r.generate));
  if (r.train) charts.push(trainChart(r.train));
  if (r.eval) charts.push(evalChart(r.eval));
  if (r.scaling) charts.push(...scalingCharts(r.scaling));
  const m = run.machine;
  const title = `mlx-lab benchmarks ${run.date.slice(0, 10)}${run.quick ? ' (quick smoke run)' : ''}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}.chart{position:relative;height:360px;margin:1.5em 0}.note{color:#a00;font-weight:600}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
${run.quick ? '<p class="note">Quick smoke run: small sizes, 2 rounds. Not a measurement.</p>' : ''}
<p>${escapeHtml(`${run.date}; ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB, ${m.os}; node ${m.node}; MLX ${run.versions.ours.mlx}, BLAS ${typeof run.versions.ours.blas === 'string' ? run.versions.ours.blas : blasText(run.versions.ours.blas)}; commit ${run.git?.sha?.slice(0, 12) ?? 'unknown'}${run.git?.dirty ? ' (dirty)' : ''}`)}. Tables: RESULTS.md.</p>
<div id="charts"></div>
<script id="charts-data" type="application/json">${jsonForScript(charts)}</script>
<script>${chartJsSource()}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
