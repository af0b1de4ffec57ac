/** The report pages' chart script (inlined into each page by html.ts, after Chart.js). */
import { FULL_COLOR } from './page-style.js';

/**
 * The page script: draws the charts from the JSON data block. Plain ES2017, no modules. The
 * "guides" plugin draws what Chart.js has no built-in for: vertical markers (the selected
 * checkpoint, the lowest val loss), horizontal lines (the lock threshold, the mean), checkpoint
 * ticks on the step axis and error bars (Wilson intervals) on a dataset's points.
 */
export const SCRIPT = `
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  if (typeof Chart === 'undefined') { return; }
  Chart.defaults.animation = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = '#475467';
  var pctTick = function (v) { return Math.round(v * 100) + '%'; };
  var pct = function (v) { return v == null ? '–' : (v * 100).toFixed(1) + '%'; };

  var guides = {
    id: 'guides',
    afterDatasetsDraw: function (chart, args, opts) {
      var ctx = chart.ctx, area = chart.chartArea, xs = chart.scales.x;
      ctx.save();
      (opts.bars || []).forEach(function (b) {
        var meta = chart.getDatasetMeta(b.dataset), ys = chart.scales[meta.yAxisID];
        (b.points || []).forEach(function (p, i) {
          var el = meta.data[i];
          if (!el || p == null) { return; }
          var y1 = ys.getPixelForValue(p.low), y2 = ys.getPixelForValue(p.high);
          ctx.strokeStyle = b.color || '#444'; ctx.lineWidth = 1.5; ctx.setLineDash([]);
          ctx.beginPath(); ctx.moveTo(el.x, y1); ctx.lineTo(el.x, y2);
          ctx.moveTo(el.x - 5, y1); ctx.lineTo(el.x + 5, y1); ctx.moveTo(el.x - 5, y2); ctx.lineTo(el.x + 5, y2); ctx.stroke();
        });
      });
      (opts.hlines || []).forEach(function (h) {
        var ys = chart.scales[h.axis || 'y'];
        if (!ys) { return; }
        var y = ys.getPixelForValue(h.y);
        if (y < area.top - 1 || y > area.bottom + 1) { return; }
        ctx.strokeStyle = h.color; ctx.lineWidth = h.width || 1.5; ctx.setLineDash(h.dash || [6, 4]);
        ctx.beginPath(); ctx.moveTo(area.left, y); ctx.lineTo(area.right, y); ctx.stroke();
        ctx.setLineDash([]); ctx.fillStyle = h.color; ctx.font = 'bold 11px sans-serif';
        ctx.textAlign = h.align === 'left' ? 'left' : 'right';
        ctx.fillText(h.label, h.align === 'left' ? area.left + 4 : area.right - 4, y - 4);
      });
      (opts.ticks || []).forEach(function (t) {
        var x = xs.getPixelForValue(t);
        if (x < area.left - 1 || x > area.right + 1) { return; }
        ctx.fillStyle = '#98a2b3'; ctx.beginPath();
        ctx.moveTo(x, area.bottom - 7); ctx.lineTo(x - 4, area.bottom); ctx.lineTo(x + 4, area.bottom); ctx.closePath(); ctx.fill();
      });
      (opts.vlines || []).forEach(function (v, i) {
        var x = xs.getPixelForValue(v.x);
        if (x < area.left - 1 || x > area.right + 1) { return; }
        ctx.strokeStyle = v.color; ctx.lineWidth = v.width || 2; ctx.setLineDash(v.dash || [6, 4]);
        ctx.beginPath(); ctx.moveTo(x, area.top); ctx.lineTo(x, area.bottom); ctx.stroke();
        ctx.setLineDash([]); ctx.fillStyle = v.color; ctx.font = 'bold 12px sans-serif';
        var right = x > (area.left + area.right) / 2;
        ctx.textAlign = right ? 'right' : 'left';
        ctx.fillText(v.label, x + (right ? -5 : 5), area.top - 10 - i * 15);
      });
      ctx.restore();
    }
  };

  var legendFilter = function (item, data) { return !data.datasets[item.datasetIndex].hideInLegend; };

  function runCharts() {
    var datasets = [];
    var hasScore = D.evals.length > 0 || D.rewards.length > 0, hasLoss = D.valLosses.length > 0 || D.kls.length > 0;
    if (hasLoss) {
      datasets.push({ label: 'val loss', data: D.valLosses, yAxisID: 'loss', borderColor: '#d62728', backgroundColor: '#d62728', borderWidth: 2, pointRadius: 2.5, order: 1 });
    }
    if (D.trainLosses.length > 0) {
      datasets.push({ label: 'train loss', data: D.trainLosses, yAxisID: 'loss', borderColor: 'rgba(214,39,40,0.35)', backgroundColor: 'rgba(214,39,40,0.35)', borderWidth: 1, pointRadius: 0, order: 3 });
    }
    if (D.rewards.length > 0) {
      datasets.push({ label: 'GRPO mean reward', data: D.rewards, yAxisID: 'score', borderColor: '#2ca02c', backgroundColor: '#2ca02c', borderWidth: 1.5, pointRadius: 0, order: 2, clip: false });
      datasets.push({ label: 'KL to the base model', data: D.kls, yAxisID: 'loss', borderColor: '#9467bd', backgroundColor: '#9467bd', borderWidth: 1, pointRadius: 0, order: 4 });
    }
    if (D.evals.length > 0) {
      datasets.push({ label: 'Wilson 95% interval', data: D.evals.map(function (e) { return { x: e.x, y: e.high }; }), yAxisID: 'score', borderColor: 'rgba(31,119,180,0)', backgroundColor: 'rgba(31,119,180,0.15)', pointRadius: 0, fill: false, order: 5 });
      datasets.push({ label: 'low', hideInLegend: true, data: D.evals.map(function (e) { return { x: e.x, y: e.low }; }), yAxisID: 'score', borderColor: 'rgba(31,119,180,0)', backgroundColor: 'rgba(31,119,180,0.15)', pointRadius: 0, fill: '-1', order: 5 });
      datasets.push({ label: 'format score', data: D.evals.map(function (e) { return { x: e.x, y: e.score }; }), yAxisID: 'score', borderColor: '#1f77b4', backgroundColor: '#1f77b4', borderWidth: 2.5, pointRadius: 4, order: 0, clip: false });
      if (D.baseline) {
        datasets.push({ label: 'baseline (step ' + D.baseline.x + ')', data: [D.baseline], yAxisID: 'score', showLine: false, pointStyle: 'rectRot', pointRadius: 8, borderColor: '#111', backgroundColor: '#fff', borderWidth: 2, order: -1, clip: false });
      }
      if (D.fused) {
        datasets.push({ label: D.fused.label, data: [{ x: D.fused.x, y: D.fused.y }], yAxisID: 'score', showLine: false, pointStyle: 'rect', pointRadius: 7, borderColor: '#111', backgroundColor: '#2ca02c', borderWidth: 2, order: -1, clip: false });
      }
    }
    var vlines = [];
    if (D.selected) { vlines.push({ x: D.selected.x, label: D.selected.label, color: '#d97706', width: 2.5, dash: [7, 4] }); }
    if (D.lowestLoss) { vlines.push({ x: D.lowestLoss.x, label: D.lowestLoss.label, color: '#98a2b3', width: 1.5, dash: [2, 3] }); }
    new Chart(document.getElementById('chart-main'), {
      type: 'line',
      data: { datasets: datasets },
      plugins: [guides],
      options: {
        maintainAspectRatio: false,
        layout: { padding: { top: 12 + 15 * vlines.length } },
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: {
          x: { type: 'linear', min: D.xmin, max: D.xmax, title: { display: true, text: 'step' } },
          loss: { type: 'linear', position: 'left', display: hasLoss, title: { display: true, text: D.kls.length > 0 ? 'loss / KL' : 'loss' } },
          score: { type: 'linear', position: 'right', display: hasScore, min: 0, max: 1, ticks: { callback: pctTick }, grid: { drawOnChartArea: !hasLoss }, title: { display: true, text: D.rewards.length === 0 ? 'format score' : D.evals.length > 0 ? 'format score / mean reward' : 'mean reward' } }
        },
        plugins: {
          legend: { position: 'bottom', labels: { filter: legendFilter, usePointStyle: true } },
          tooltip: { filter: function (item) { return !item.dataset.hideInLegend; }, callbacks: { label: function (c) { return c.dataset.yAxisID === 'score' ? c.dataset.label + ': ' + pct(c.parsed.y) : c.dataset.label + ': ' + c.parsed.y.toFixed(3); } } },
          guides: { vlines: vlines, ticks: D.checkpointSteps }
        }
      }
    });
    if (D.failures && document.getElementById('chart-failures')) { failureChart('chart-failures', D.failures, 'eval step', false); }
  }

  function failureChart(id, f, axisTitle, horizontal) {
    var datasets = f.classes.map(function (c) { return { label: c.name, data: c.counts, backgroundColor: c.color, stack: 's' }; });
    datasets.push({ label: 'scored 1.0', data: f.full, backgroundColor: '${FULL_COLOR}', stack: 's' });
    var cat = { stacked: true, title: { display: true, text: axisTitle } };
    var val = { stacked: true, beginAtZero: true, title: { display: true, text: 'cases' }, ticks: { precision: 0 } };
    new Chart(document.getElementById(id), {
      type: 'bar',
      data: { labels: f.labels, datasets: datasets },
      options: {
        maintainAspectRatio: false,
        indexAxis: horizontal ? 'y' : 'x',
        scales: horizontal ? { y: cat, x: val } : { x: cat, y: val },
        plugins: { legend: { position: 'right' }, tooltip: { mode: 'index' } }
      }
    });
  }

  function sweepCharts() {
    var runs = D.runs.filter(function (r) { return r.best != null; });
    new Chart(document.getElementById('chart-best'), {
      type: 'line',
      data: {
        labels: runs.map(function (r) { return r.label; }),
        datasets: [{ label: 'best format score', data: runs.map(function (r) { return r.best; }), showLine: false, pointRadius: 7, pointHoverRadius: 8,
          pointBackgroundColor: runs.map(function (r) { return r.locked ? '#2e9e4f' : '#98a2b3'; }), pointBorderColor: '#333', yAxisID: 'y' }]
      },
      plugins: [guides],
      options: {
        maintainAspectRatio: false,
        scales: { y: { min: 0, max: 1, ticks: { callback: pctTick }, title: { display: true, text: 'best format score' } }, x: { offset: true, title: { display: true, text: 'run' } } },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (c) { var r = runs[c.dataIndex]; return pct(r.best) + ' [' + pct(r.low) + ', ' + pct(r.high) + '] at step ' + r.step; } } },
          guides: {
            bars: [{ dataset: 0, color: '#333', points: runs.map(function (r) { return { low: r.low, high: r.high }; }) }],
            hlines: [{ y: D.threshold, label: 'lock threshold ' + pct(D.threshold), color: '#d62728', align: 'left' }, { y: D.mean, label: 'mean ' + pct(D.mean), color: '#667085', dash: [2, 3], width: 1.2 }]
          }
        }
      }
    });
    var datasets = [];
    D.curves.forEach(function (c) {
      datasets.push({ label: c.label, data: c.score, yAxisID: 'score', borderColor: c.color, backgroundColor: c.color, borderWidth: 2, pointRadius: 3 });
      if (c.val.length) { datasets.push({ label: c.label + ' (val loss)', hideInLegend: true, data: c.val, yAxisID: 'loss', borderColor: c.color, backgroundColor: c.color, borderWidth: 1.2, borderDash: [5, 4], pointRadius: 0 }); }
    });
    var hasLoss = D.curves.some(function (c) { return c.val.length > 0; });
    new Chart(document.getElementById('chart-curves'), {
      type: 'line',
      data: { datasets: datasets },
      plugins: [guides],
      options: {
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', intersect: false },
        scales: {
          x: { type: 'linear', title: { display: true, text: 'step' } },
          score: { position: 'left', min: 0, max: 1, ticks: { callback: pctTick }, title: { display: true, text: 'format score (solid)' } },
          loss: { position: 'right', display: hasLoss, grid: { drawOnChartArea: false }, title: { display: true, text: 'val loss (dashed)' } }
        },
        plugins: { legend: { labels: { filter: legendFilter } }, guides: { hlines: [{ y: D.threshold, axis: 'score', label: 'lock threshold', color: '#d62728' }] } }
      }
    });
    if (D.failures && document.getElementById('chart-failures')) { failureChart('chart-failures', D.failures, 'run', true); }
  }

  if (D.kind === 'run') { runCharts(); } else { sweepCharts(); }
})();
`;
