#!/usr/bin/env node
// The spread of the numeric comparisons across OpenBLAS kernels, on one machine: runs test files
// under each OPENBLAS_CORETYPE, collects the `BOUND <label> measured=… bound=…` and `MUTANT …`
// lines test/helpers/close.ts prints, and prints per comparison the largest measured ratio per
// kernel, the largest over all kernels and the bound (and, for the deliberately wrong variants,
// the smallest ratio, which must stay far above the bound).
//
//   node scripts/kernel-spread.mjs [--kernels default,Haswell,SkylakeX,Zen,Prescott]
//        [--by-kind] [--markdown] [--save runs.json] [--load a.json,b.json] [test files…]
//
// --by-kind folds labels `kind[case]` into one row per kind (the worst case named); --save keeps
// the raw results, --load prints the table from saved results without running anything.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_FILES = ['test/parity', 'test/native/fuse.test.ts', 'test/native/trainer.test.ts', 'test/native/data-parallel.test.ts', 'test/native/convert.test.ts', 'test/cli/distributed.test.ts'];
const DEFAULT_KERNELS = ['default', 'Haswell', 'SkylakeX', 'Zen', 'Prescott'];
const LINE = /^(BOUND|MUTANT) (\S+) measured=(\S+) bound=(\S+)/;

/** Command-line options. */
function parseArgs(argv) {
  const o = { kernels: DEFAULT_KERNELS, byKind: false, markdown: false, save: null, load: null, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--kernels') o.kernels = argv[++i].split(',');
    else if (a === '--by-kind') o.byKind = true;
    else if (a === '--markdown') o.markdown = true;
    else if (a === '--save') o.save = argv[++i];
    else if (a === '--load') o.load = argv[++i].split(',');
    else o.files.push(a);
  }
  if (o.files.length === 0) o.files = DEFAULT_FILES;
  return o;
}

/** The environment of a run under `kernel` ('default': OpenBLAS's own choice for this CPU). */
function kernelEnv(kernel) {
  const env = { ...process.env, MLX_LAB_OFFLINE: process.env.MLX_LAB_OFFLINE ?? '1' };
  if (kernel === 'default') delete env.OPENBLAS_CORETYPE;
  else env.OPENBLAS_CORETYPE = kernel;
  return env;
}

/** The kernel OpenBLAS reports when the addon loads under `kernel` (asked apart: tests expect a quiet stderr). */
function reportedCore(kernel) {
  const probe = "const { runtime } = await import('./dist/core/runtime.js'); console.log(runtime().blas.corename);";
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: ROOT, env: kernelEnv(kernel), encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() || '?' : '?';
}

/** Run the test files under one kernel; returns its parsed lines, the kernel OpenBLAS reported and the exit code. */
function runKernel(kernel, files) {
  const core = reportedCore(kernel);
  const started = Date.now();
  const r = spawnSync('npx', ['vitest', 'run', ...files], { cwd: ROOT, env: kernelEnv(kernel), encoding: 'utf8', maxBuffer: 256 << 20 });
  const lines = parseLines(r.stdout);
  const failed = /Tests\s+(\d+) failed/.exec(r.stdout)?.[1] ?? '0';
  const failures = [...new Set((r.stdout + r.stderr).split('\n').map((l) => /^\s*FAIL\s+(.*\S)/.exec(l)?.[1]).filter(Boolean))];
  process.stderr.write(`${kernel}: OpenBLAS core ${core}, ${lines.length} comparisons, ${failed} failed tests, exit ${r.status}, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  for (const f of failures) process.stderr.write(`  FAIL ${f}\n`);
  return { kernel, core, status: r.status, failed: Number(failed), failures, lines };
}

/** The BOUND / MUTANT lines of a vitest output. */
function parseLines(text) {
  const out = [];
  for (const l of text.split('\n')) {
    const m = LINE.exec(l.trim());
    if (m) out.push({ tag: m[1], label: m[2], measured: Number(m[3]), bound: Number(m[4]) });
  }
  return out;
}

/** The row key of a label: itself, or its kind (the part before `[`), split by bound where a kind has several. */
function keyOf(label, bound, byKind, boundsOfKind) {
  if (!byKind) return label;
  const kind = label.replace(/\[.*$/, '');
  return boundsOfKind.get(kind).size > 1 ? `${kind} (bound ${fmt(bound)})` : kind;
}

/** The distinct bounds of each kind of comparison. */
function kindBounds(runs, tag) {
  const m = new Map();
  for (const l of runs.flatMap((r) => r.lines).filter((x) => x.tag === tag)) {
    const kind = l.label.replace(/\[.*$/, '');
    m.set(kind, (m.get(kind) ?? new Set()).add(l.bound));
  }
  return m;
}

/** Fold the runs into rows: per key and kernel the worst ratio (largest; smallest for mutants). */
function table(runs, tag, byKind) {
  const rows = new Map();
  const bounds = kindBounds(runs, tag);
  for (const run of runs) {
    for (const l of run.lines.filter((x) => x.tag === tag)) {
      const key = keyOf(l.label, l.bound, byKind, bounds);
      const row = rows.get(key) ?? { key, bound: l.bound, perKernel: {}, worst: null, worstLabel: '' };
      const worse = (a, b) => (b === undefined || (tag === 'BOUND' ? a > b : a < b));
      if (worse(l.measured, row.perKernel[run.kernel])) row.perKernel[run.kernel] = l.measured;
      if (row.worst === null || worse(l.measured, row.worst)) [row.worst, row.worstLabel] = [l.measured, l.label];
      row.bound = tag === 'BOUND' ? Math.min(row.bound, l.bound) : Math.max(row.bound, l.bound);
      rows.set(key, row);
    }
  }
  return [...rows.values()].sort((a, b) => a.key.localeCompare(b.key));
}

const fmt = (x) => (x === undefined ? '-' : x === 0 ? '0' : x.toExponential(1));

/** Print one table as aligned text or markdown. */
function print(rows, kernels, tag, markdown, byKind) {
  const last = tag === 'BOUND' ? ['largest', 'bound', 'margin'] : ['smallest', 'bound', 'factor'];
  const head = ['comparison', ...kernels, ...last, ...(byKind ? ['worst case'] : [])];
  const body = rows.map((r) => [
    r.key,
    ...kernels.map((k) => fmt(r.perKernel[k])),
    fmt(r.worst),
    fmt(r.bound),
    tag === 'BOUND' ? (r.worst ? `${(r.bound / r.worst).toFixed(1)}x` : '∞') : `${(r.worst / r.bound).toFixed(0)}x`,
    ...(byKind ? [r.worstLabel.replace(/^[^[]*\[/, '').replace(/\]$/, '')] : []),
  ]);
  if (markdown) {
    console.log(`| ${head.join(' | ')} |`);
    console.log(`|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
    for (const b of body) console.log(`| ${b.join(' | ')} |`);
    return;
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  for (const line of [head, ...body]) console.log(line.map((c, i) => String(c).padEnd(widths[i])).join('  '));
}

const o = parseArgs(process.argv.slice(2));
const runs = o.load ? o.load.flatMap((f) => JSON.parse(readFileSync(f, 'utf8'))) : o.kernels.map((k) => runKernel(k, o.files));
if (o.save) writeFileSync(o.save, JSON.stringify(runs, null, 1));
const kernels = [...new Set(runs.map((r) => r.kernel))];
console.log(`kernels (OpenBLAS core reported): ${runs.map((r) => `${r.kernel}=${r.core}${r.failed ? ` (${r.failed} failed)` : ''}`).join(', ')}`);
console.log('\nmax|Δ| / max|reference| per comparison (largest over the runs):');
print(table(runs, 'BOUND', o.byKind), kernels, 'BOUND', o.markdown, o.byKind);
const mutants = table(runs, 'MUTANT', o.byKind);
if (mutants.length) {
  console.log('\ndeliberately wrong variants (smallest ratio over the runs; must exceed the bound):');
  print(mutants, kernels, 'MUTANT', o.markdown, o.byKind);
}
process.exitCode = runs.some((r) => r.status !== 0) ? 1 : 0;
