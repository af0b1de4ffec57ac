// Small helpers shared by the benchmarks: summary statistics, machine description, tables.
import { readFileSync } from 'node:fs';
import { cpus, totalmem, platform, arch, release } from 'node:os';

export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The q-quantile (0..1) of xs, linear between order statistics (numpy's default). */
export function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}

/** Median and spread of repeated measurements: n timed, min–max and the IQR (q1, q3). */
export function spread(xs) {
  return { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75), runs: xs };
}

/** A rate (higher is better): the spread plus `best` (its max). */
export function summarizeRate(xs) {
  const s = spread(xs);
  return { ...s, best: s.max };
}

/** A cost (lower is better): the spread; `min` is its best. */
export function summarizeCost(xs) {
  return spread(xs);
}

/** "median [min–max]" of a spread, each formatted with `f`; n = 1 shows the value alone. */
export function spreadText(s, f = (x) => String(x)) {
  if (!s || !Number.isFinite(s.median)) return '—';
  return s.n > 1 ? `${f(s.median)} [${f(s.min)}–${f(s.max)}]` : f(s.median);
}

/**
 * A / B of two sides measured in the same interleaved rounds, round by round (a[i] / b[i]): the
 * median of those paired ratios and their range { median, min, max, n }.
 */
export function pairedRatio(a, b) {
  const s = spread(a.map((x, i) => x / b[i]).filter(Number.isFinite));
  return { median: s.median, min: s.min, max: s.max, n: s.n };
}

/**
 * Run every side once per round, the sides interleaved (A B C A B C ...), so that a burst of
 * load from elsewhere lands on all of them rather than on one. `run(side, round)` returns one
 * side's measurement; the result is { order: [[round, name]...], bySide: Map(name → [result per round]) }.
 */
export async function interleaved(sides, rounds, run) {
  const bySide = new Map(sides.map((s) => [s.name, []]));
  const order = [];
  for (let round = 0; round < rounds; round++) {
    for (const side of sides) {
      order.push([round, side.name]);
      bySide.get(side.name).push(await run(side, round));
    }
  }
  return { order, bySide };
}

/**
 * This process's peak resident set in bytes (VmHWM: its own address space, unlike getrusage's
 * maxrss, which a child inherits from the parent it was forked from), or null off Linux.
 */
export function peakRss() {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : null;
  } catch {
    return null;
  }
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
  /** Bytes as MiB (2^20), the unit every memory column is labelled with. */
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
