#!/usr/bin/env node
// The benchmark harness (`npm run bench`, `mlx-lab bench`): makes what the benchmarks need (the
// mlx-lm virtualenvs, the SmolLM2 model folder), runs each benchmark script in its own process
// with --json --out, and collects the reports into
//   benchmarks/results/<date>.json   every report, the machine, the versions, the goals;
//   benchmarks/RESULTS.md            date, machine, versions, the goals table, load, each table;
//   benchmarks/results.html          charts: goals, ours vs mlx-lm, the scaling axes.
// --quick (small sizes, 2 rounds: a smoke check) writes into benchmarks/results/quick/
// instead (git-ignored), so a smoke check never replaces the measured results.
//
// Usage: node benchmarks/run.mjs [--quick] [--only generate,train,...] [--skip-mlx-lm]
//          [--reps 3] [--args "eval=--cases 9"]... [--models-dir DIR] [--out-dir DIR]
//        node benchmarks/run.mjs --render results/A.json,results/B.json   (RESULTS.md and
//          results.html again from committed results, runs nothing; each benchmark from the last
//          file that has it, every source run listed with its date, commit and command)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, VENVS, benchPython, blasText, ensureFloat32Folder, ensureSmolLM2, gitState, load1, ourVersions, pythonVersions } from './lib/env.mjs';
import { ensureNodeLlamaCpp, installedVersion } from './lib/llama-cpp.mjs';
import { evaluateGoals, goalRows } from './lib/goals.mjs';
import { resultsMarkdown } from './lib/results-md.mjs';
import { resultsHtml } from './lib/results-html.mjs';
import { machine, table } from './lib/stats.mjs';

const HERE = join(ROOT, 'benchmarks');
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

/**
 * The benchmarks, in run order: their full-run and --quick arguments, whether they have an
 * mlx-lm side (--skip-mlx-lm turns it off), how --reps reaches them and whether they run on
 * the SmolLM2 folder.
 */
const BENCHMARKS = [
  { name: 'matmul', full: [], quick: ['--iters', '3'] },
  {
    name: 'generate',
    full: ['--prompt-tokens', '128', '--max-tokens', '128', '--batch', '1,4', '--sides', 'all'],
    quick: ['--prompt-tokens', '32', '--max-tokens', '16', '--warmup', '0', '--sides', 'all'],
    noMlxLm: ['--sides', 'ours'],
    reps: '--reps',
    smollm2: true,
    llamaCpp: true,
  },
  { name: 'bandwidth', full: [], quick: ['--prompt-tokens', '32', '--max-tokens', '16', '--warmup', '0', '--copy-mb', '256'], reps: '--reps', smollm2: true },
  {
    name: 'train',
    full: ['--compute', 'auto,float32,native', '--baselines', 'same-blas-f32,same-blas,stock', '--data-kinds', 'shared-prefix,no-prefix'],
    quick: ['--compute', 'float32', '--baselines', 'same-blas-f32', '--data-kinds', 'shared-prefix,no-prefix', '--examples', '8', '--iters', '3', '--warmup', '1', '--max-seconds', '15', '--num-layers', '2'],
    noMlxLm: ['--baselines', 'none'],
    reps: '--rounds',
    smollm2: true,
  },
  {
    name: 'eval',
    full: ['--cases', 'all', '--compute', 'auto,float32', '--baselines', 'same-blas-f32', '--server-modes', 'sequential,concurrent'],
    quick: ['--cases', '2', '--max-tokens', '8', '--baselines', 'same-blas-f32', '--server-modes', 'sequential,concurrent'],
    noMlxLm: ['--baselines', 'none'],
    reps: '--rounds',
    smollm2: true,
  },
  // Steps/s of `mlx-lab train` without and with --ui (a client following the page); ours only.
  { name: 'ui', full: [], quick: ['--examples', '20', '--iters', '6', '--eval-every', '3', '--max-tokens', '8', '--num-layers', '2'], reps: '--reps', smollm2: true },
  // Scaling: no warm-up runs (the largest shapes take minutes a run on 2 cores); the median of
  // --reps absorbs the first run's allocations.
  { name: 'scaling', full: ['--warmup', '0'], quick: ['--sizes', 'tiny', '--prompt-tokens', '16,64', '--batch', '1,4', '--max-tokens', '8', '--warmup', '0'], reps: '--reps', models: true },
];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'skip-mlx-lm': { type: 'boolean', default: false },
    reps: { type: 'string' },
    args: { type: 'string', multiple: true, default: [] },
    'models-dir': { type: 'string' },
    'out-dir': { type: 'string' },
    render: { type: 'string' },
  },
});

/** --args "name=--flag value ..." → { name: [...] }: extra arguments for one benchmark (they win). */
function extraArgs(specs) {
  const out = {};
  for (const s of specs) {
    const m = s.match(/^([a-z]+)=(.*)$/s);
    if (!m || !BENCHMARKS.some((b) => b.name === m[1])) throw new Error(`--args "${s}": expected name=arguments, name one of ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    out[m[1]] = [...(out[m[1]] ?? []), ...m[2].split(/\s+/).filter(Boolean)];
  }
  return out;
}

/** The benchmarks this run runs (--only), in the harness's order. */
function selected() {
  if (!values.only) return BENCHMARKS;
  const names = values.only.split(',').map((x) => x.trim()).filter(Boolean);
  for (const n of names) if (!BENCHMARKS.some((b) => b.name === n)) throw new Error(`--only: unknown benchmark "${n}" (${BENCHMARKS.map((b) => b.name).join(', ')})`);
  return BENCHMARKS.filter((b) => names.includes(b.name));
}

/** The command line of one benchmark, without --json --out. */
function argsOf(b, { quick, reps, skipMlxLm, extra, modelsDir }) {
  const args = [...(quick ? b.quick : b.full)];
  if (skipMlxLm && b.noMlxLm) args.push(...b.noMlxLm);
  if (b.reps) args.push(b.reps, String(reps));
  if (b.models && modelsDir) args.push('--models-dir', modelsDir);
  return [...args, ...(extra[b.name] ?? [])];
}

/** Run one benchmark in its own process; its report comes back through --out. */
function runOne(b, args, tmp) {
  const out = join(tmp, `${b.name}.json`);
  const before = load1();
  const t0 = performance.now();
  log(`${b.name}: node benchmarks/${b.name}.mjs ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [join(HERE, `${b.name}.mjs`), ...args, '--json', '--out', out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const run = { name: b.name, args, seconds: (performance.now() - t0) / 1e3, loadavg: [before, load1()], status: r.status === 0 ? 'ok' : `failed (exit ${r.status ?? r.signal})` };
  let report = null;
  try {
    if (r.status === 0) report = JSON.parse(readFileSync(out, 'utf8'));
  } catch (err) {
    run.status = `failed (no report: ${err.message})`;
  }
  log(`${b.name}: ${run.status} in ${(run.seconds / 60).toFixed(1)} min, load ${run.loadavg.join(' → ')}`);
  return { run, report };
}

/** Make the venvs, the model folders and node-llama-cpp first (when needed), so no benchmark times an installation. */
async function prepare(benchmarks, skipMlxLm) {
  const versions = { ours: await ourVersions(), mlx_lm: {}, llama_cpp: null };
  if (benchmarks.some((b) => b.smollm2)) {
    const dir = await ensureSmolLM2(undefined, log);
    if (!skipMlxLm && benchmarks.some((b) => b.name === 'generate')) await ensureFloat32Folder(dir, log);
  }
  if (!skipMlxLm && benchmarks.some((b) => b.noMlxLm)) {
    for (const kind of VENVS) {
      log(`python environment "${kind}" (made on first use: scripts/venv.sh, scripts/bench-venv.sh)`);
      versions.mlx_lm[kind] = pythonVersions(benchPython(kind));
    }
  }
  if (!skipMlxLm && benchmarks.some((b) => b.llamaCpp)) {
    ensureNodeLlamaCpp(log);
    versions.llama_cpp = `node-llama-cpp ${installedVersion()}`;
  }
  return versions;
}

/** How many timed iterations each benchmark's report says it ran (not what was asked). */
export function timedCounts(reports) {
  const out = {};
  for (const [name, r] of Object.entries(reports)) {
    if (r.sides && r.benchmark === 'generate') out[name] = Object.fromEntries(r.sides.map((s) => [s.name, s.results.map((x) => x.timed_runs)]));
    else if (r.sides && r.benchmark === 'train') out[name] = Object.fromEntries(r.sides.map((s) => [s.name, s.result.timed_iterations_total]));
    else if (r.sides && r.benchmark === 'eval') out[name] = Object.fromEntries(r.sides.map((s) => [s.name, s.timed_cases]));
    else if (r.sides && r.benchmark === 'ui') out[name] = Object.fromEntries(r.sides.map((s) => [s.name, s.timed_steps]));
    else if (r.decode_tps?.runs) out[name] = r.decode_tps.runs.length;
  }
  return out;
}

/** One result from several committed ones (--render): each benchmark's report from the last file that has it. */
function combine(files) {
  const sources = files.map((file) => ({ file, run: JSON.parse(readFileSync(file, 'utf8')) }));
  const cpus = new Set(sources.map((s) => s.run.machine.cpu));
  if (cpus.size > 1) throw new Error(`--render: the results come from different CPUs (${[...cpus].join('; ')}); render them separately`);
  const reports = {};
  const rows = new Map();
  const versions = { ours: {}, mlx_lm: {}, llama_cpp: null };
  for (const { file, run } of sources) {
    for (const row of run.runs) {
      if (!run.reports[row.name]) continue;
      reports[row.name] = run.reports[row.name];
      rows.set(row.name, { ...row, source: basename(file) });
    }
    Object.assign(versions.ours, run.versions.ours);
    Object.assign(versions.mlx_lm, run.versions.mlx_lm);
    versions.llama_cpp = run.versions.llama_cpp ?? versions.llama_cpp;
  }
  const last = sources.at(-1).run;
  return {
    date: last.date,
    quick: sources.some((s) => s.run.quick),
    command: `node benchmarks/run.mjs --render ${files.map((f) => relative(ROOT, f)).join(',')}`,
    seconds: sources.reduce((t, s) => t + s.run.seconds, 0),
    git: last.git,
    sources: sources.map(({ file, run }) => ({ file: basename(file), date: run.date, command: run.command, seconds: run.seconds, git: run.git, benchmarks: run.runs.map((r) => r.name) })),
    machine: last.machine,
    versions,
    goals: evaluateGoals(reports),
    timed: timedCounts(reports),
    runs: BENCHMARKS.map((b) => rows.get(b.name)).filter(Boolean),
    reports,
  };
}

/** --render: write RESULTS.md and results.html from committed results. */
function render(list) {
  const files = list.split(',').map((f) => resolve(f.trim())).filter(Boolean);
  const result = combine(files);
  const outDir = resolve(values['out-dir'] ?? HERE);
  writeFileSync(join(outDir, 'RESULTS.md'), resultsMarkdown(result));
  writeFileSync(join(outDir, 'results.html'), resultsHtml(result));
  console.log(table(goalRows(result.goals)));
  for (const f of ['RESULTS.md', 'results.html']) console.log(`wrote ${relative(process.cwd(), join(outDir, f))}`);
}

async function main() {
  if (values.render) return render(values.render);
  const quick = values.quick;
  const reps = Number(values.reps ?? (quick ? 2 : 3)); // quick: 2 rounds, so that the interleaving runs too
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: a positive integer, got "${values.reps}"`);
  const options = { quick, reps, skipMlxLm: values['skip-mlx-lm'], extra: extraArgs(values.args), modelsDir: values['models-dir'] && resolve(values['models-dir']) };
  const outDir = resolve(values['out-dir'] ?? (quick ? join(HERE, 'results', 'quick') : HERE));
  const resultsDir = quick ? outDir : join(outDir, 'results');
  const date = new Date().toISOString();
  const git = gitState(); // before anything runs: the commit measured and whether the tree differed
  const t0 = performance.now();
  const benchmarks = selected();
  const versions = await prepare(benchmarks, options.skipMlxLm);

  const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-bench-run-'));
  const runs = [];
  const reports = {};
  try {
    for (const b of benchmarks) {
      const { run, report } = runOne(b, argsOf(b, options), tmp);
      runs.push(run);
      if (report) reports[b.name] = report;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const goals = evaluateGoals(reports);
  const command = `node benchmarks/run.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const result = { date, quick, command, seconds: (performance.now() - t0) / 1e3, git, machine: machine(), versions, goals, timed: timedCounts(reports), runs, reports };
  mkdirSync(resultsDir, { recursive: true });
  const jsonFile = join(resultsDir, `${date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
  writeFileSync(jsonFile, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(outDir, 'RESULTS.md'), resultsMarkdown(result));
  writeFileSync(join(outDir, 'results.html'), resultsHtml(result));

  console.log(`\n${quick ? 'QUICK SMOKE RUN (not a measurement): ' : ''}goals, measured in this run at ${git.sha?.slice(0, 12) ?? 'unknown commit'}${git.dirty ? ' (dirty tree)' : ''} on ${result.machine.cpu}, BLAS ${blasText(versions.ours.blas)}\n`);
  console.log(table(goalRows(goals)));
  console.log(`\nruns: ${runs.map((r) => `${r.name} ${r.status}`).join(', ')}`);
  for (const f of [jsonFile, join(outDir, 'RESULTS.md'), join(outDir, 'results.html')]) console.log(`wrote ${relative(process.cwd(), f)}`);
  if (runs.some((r) => r.status !== 'ok')) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
