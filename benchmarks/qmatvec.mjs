#!/usr/bin/env node
// Quantized matrix-vector micro-benchmark: GB/s of weight bytes for y = x . W^T with M = 1 and 8
// rows on SmolLM2-135M-like shapes (576x576, 1536x576, 576x1536, 49152x576) and a 1B-like one
// (8192x2048): our kernel (native/kernels) at 1 and 2 threads, mx::quantized_matmul, and a float32
// matmul on BLAS. Reps are interleaved across the ways; median and spread (min-max) per way.
// Runs the C++ bench target mlxlab_qmatvec_bench (built with `npm run test:native-cpp`, or here
// when missing). Set OPENBLAS_NUM_THREADS=1 to compare one BLAS thread with our 1-thread numbers.
// Usage: node benchmarks/qmatvec.mjs [--bits 4] [--group 64] [--reps 3] [--min-s 0.3] [--json]
//   [--out FILE]   (MLX_LAB_KERNEL_ISA=scalar|avx2|avx512|neon forces our path)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machine, median } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    bits: { type: 'string', default: '4' },
    group: { type: 'string', default: '64' },
    reps: { type: 'string', default: '3' },
    'min-s': { type: 'string', default: '0.3' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
    bin: { type: 'string' },
  },
});

const bin = values.bin ?? join(ROOT, 'build-native-tests', 'mlxlab_qmatvec_bench');
if (!existsSync(bin)) {
  const build = join(ROOT, 'build-native-tests');
  execFileSync('cmake', ['-S', ROOT, '-B', build, '-DMLX_LAB_NATIVE_TESTS=ON'], { stdio: 'inherit' });
  execFileSync('cmake', ['--build', build, '-j', '2', '--target', 'mlxlab_qmatvec_bench'], { stdio: 'inherit' });
}

const load = loadavg().map((l) => l.toFixed(2)).join(' ');
const run = spawnSync(bin, [values.bits, values.group, values.reps, values['min-s']], { encoding: 'utf8', maxBuffer: 1 << 26 });
if (run.status !== 0) {
  process.stderr.write(run.stderr);
  process.exit(run.status ?? 1);
}
const [head, ...lines] = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
const loadAfter = loadavg().map((l) => l.toFixed(2)).join(' ');

const groups = new Map();
for (const r of lines) {
  const way = r.threads ? `${r.way}@${r.threads}t` : r.way;
  const key = `${r.N}x${r.K} M=${r.M}|${way}`;
  if (!groups.has(key)) groups.set(key, { N: r.N, K: r.K, M: r.M, way, bytes: r.bytes, gbps: [], us: [] });
  groups.get(key).gbps.push(r.gbps);
  groups.get(key).us.push(r.us);
}
const rows = [...groups.values()].map((g) => ({
  N: g.N,
  K: g.K,
  M: g.M,
  way: g.way,
  weightBytes: g.bytes,
  gbpsMedian: median(g.gbps),
  gbpsMin: Math.min(...g.gbps),
  gbpsMax: Math.max(...g.gbps),
  usMedian: median(g.us),
}));

const meta = { benchmark: 'qmatvec', date: new Date().toISOString(), machine: machine(), isa: head.isa, bits: head.bits, group: head.group, reps: Number(values.reps), loadBefore: load, loadAfter, openblasThreads: process.env.OPENBLAS_NUM_THREADS ?? 'default' };
if (values.out) writeFileSync(values.out, `${JSON.stringify({ ...meta, results: rows }, null, 2)}\n`);
if (values.json) {
  for (const r of rows) console.log(JSON.stringify({ ...r, isa: head.isa }));
} else {
  console.log(`qmatvec: ${head.bits}-bit, group ${head.group}, our path ${head.isa}, ${values.reps} interleaved reps, OPENBLAS_NUM_THREADS=${meta.openblasThreads}`);
  console.log(`load average before: ${load}, after: ${loadAfter}`);
  console.log('shape (NxK)   M  way                GB/s median  (min-max)        us/call  vs mlx');
  for (const r of rows) {
    const mlx = rows.find((o) => o.N === r.N && o.K === r.K && o.M === r.M && o.way === 'mlx_quantized');
    const ratio = r.way.startsWith('ours') && mlx ? `${(r.gbpsMedian / mlx.gbpsMedian).toFixed(1)}x` : '';
    console.log(
      `${`${r.N}x${r.K}`.padEnd(12)} ${String(r.M).padStart(2)}  ${r.way.padEnd(17)} ${r.gbpsMedian.toFixed(2).padStart(8)}  (${r.gbpsMin.toFixed(2)}-${r.gbpsMax.toFixed(2)})`.padEnd(64) +
        `${r.usMedian.toFixed(1).padStart(9)}  ${ratio}`,
    );
  }
}
