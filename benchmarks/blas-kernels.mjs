#!/usr/bin/env node
// f32 matmul GFLOP/s under each OpenBLAS kernel, each in a fresh process (the kernel is fixed when
// OpenBLAS loads): mlx-lab's own choice (from the CPU's features), OpenBLAS's own detection, and
// forced kernels. Repetitions are interleaved (A B C … A B C …); medians and min–max are reported
// with the commit, the CPU and the load average.
// Usage: node benchmarks/blas-kernels.mjs [--reps 3] [--n 1024] [--iters 10] [--kernels a,b] [--out FILE]
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, load1 } from './lib/env.mjs';
import { machine, mdTable, median } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    n: { type: 'string', default: '1024' },
    iters: { type: 'string', default: '10' },
    kernels: { type: 'string', default: 'mlx-lab,openblas,SkylakeX,Haswell,Zen,Sandybridge,Prescott' },
    out: { type: 'string' },
  },
});

/** The environment of one side: mlx-lab's choice, OpenBLAS's own, or a forced OPENBLAS_CORETYPE. */
function sideEnv(kernel) {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.MLX_LAB_BLAS_KERNEL;
  if (kernel === 'openblas') env.MLX_LAB_BLAS_KERNEL = 'openblas';
  else if (kernel !== 'mlx-lab') env.OPENBLAS_CORETYPE = kernel;
  return env;
}

/** One f32 matmul measurement in a fresh process: GFLOP/s and the kernel OpenBLAS reports. */
function measure(kernel) {
  const code = `
    const { native } = await import(${JSON.stringify(join(ROOT, 'dist', 'core/native.js'))});
    const { runtime } = await import(${JSON.stringify(join(ROOT, 'dist', 'core/runtime.js'))});
    const r = await native().matmulBenchmark(${Number(values.n)}, ${Number(values.iters)}, 'float32');
    console.log(JSON.stringify({ gflops: r.gflops, blas: runtime().blas }));`;
  const load = load1();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: sideEnv(kernel), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${kernel}: ${r.stderr}`);
  return { load, ...JSON.parse(r.stdout.trim().split('\n').pop()) };
}

const kernels = values.kernels.split(',');
const runs = Object.fromEntries(kernels.map((k) => [k, []]));
for (let rep = 0; rep < Number(values.reps); rep++) for (const k of kernels) runs[k].push(measure(k));

const sha = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '';
const rows = kernels.map((k) => {
  const g = runs[k].map((r) => r.gflops);
  const b = runs[k][0].blas;
  return { side: k, corename: b.corename, chosenBy: b.kernelChoice.source, median: median(g), min: Math.min(...g), max: Math.max(...g), runs: g, load: runs[k].map((r) => r.load) };
});
const report = { benchmark: 'blas-kernels', date: new Date().toISOString(), sha, dirty, machine: machine(), n: Number(values.n), itersTimed: Number(values.iters), reps: Number(values.reps), blas: runs[kernels[0]][0].blas.config, library: runs[kernels[0]][0].blas.library, rows };
if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report));
console.log(`\nf32 matmul ${values.n}³, ${report.blas}, ${report.machine.cpu}, ${report.machine.cores} cores, ${sha.slice(0, 10)}${dirty ? ' (dirty)' : ''}`);
console.log(mdTable([['side', 'OpenBLAS kernel', 'chosen by', 'median GFLOP/s', 'min–max', 'load (1 min)'], ...rows.map((r) => [r.side, r.corename, r.chosenBy, r.median.toFixed(1), `${r.min.toFixed(1)}–${r.max.toFixed(1)}`, r.load.join(' ')])]));
