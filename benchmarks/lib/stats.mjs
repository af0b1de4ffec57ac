// Small helpers shared by the benchmarks: summary statistics, machine description, tables.
import { cpus, totalmem, platform, arch, release } from 'node:os';

export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** median and best of a rate (higher is better), and min/median of a cost. */
export function summarizeRate(xs) {
  return { median: median(xs), best: Math.max(...xs), runs: xs };
}

export function summarizeCost(xs) {
  return { median: median(xs), min: Math.min(...xs), runs: xs };
}

export function machine() {
  const c = cpus();
  return {
    cpu: c[0]?.model?.trim() ?? 'unknown',
    cores: c.length,
    memoryGB: +(totalmem() / 2 ** 30).toFixed(1),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.versions.node,
  };
}

/** A plain-text table: rows of cells, first row the header; the first column left-aligned. */
export function table(rows) {
  const cells = rows.map((r) => r.map((c) => String(c ?? '')));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export const fmt = {
  tps: (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '—'),
  mb: (bytes) => (Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(0) : '—'),
  ratio: (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '—'),
};

/** A Markdown table: rows of cells, first row the header; columns of numbers right-aligned. */
export function mdTable(rows) {
  const cell = (c) => String(c ?? '').replace(/\|/g, '\\|');
  const line = (r) => `| ${r.map(cell).join(' | ')} |`;
  const numeric = (i) => i > 0 && rows.slice(1).every((r) => /^(—|≥ |[-+]?\d)/.test(String(r[i] ?? '—')));
  return [line(rows[0]), `|${rows[0].map((_, i) => (numeric(i) ? '---:' : '---')).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
