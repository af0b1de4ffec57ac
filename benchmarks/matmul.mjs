#!/usr/bin/env node
// BLAS health check: GFLOP/s of an n×n×n matmul through the addon (f32, and f16/bf16 for
// contrast). On 2 EPYC cores MLX with OpenBLAS reaches 170–200 GFLOP/s in f32; the reference
// BLAS that the Linux wheel vendors gets a small fraction of that.
// Usage: node benchmarks/matmul.mjs [--n 1024] [--iters 10] [--json] [--out FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { native } from '../dist/core/native.js';
import { blasText, ourBlas } from './lib/env.mjs';
import { machine } from './lib/stats.mjs';

const { values } = parseArgs({ options: { n: { type: 'string', default: '1024' }, iters: { type: 'string', default: '10' }, json: { type: 'boolean', default: false }, out: { type: 'string' } } });
const n = Number(values.n);
const iters = Number(values.iters);
const addon = native();
const rows = [];
for (const dtype of ['float32', 'float16', 'bfloat16']) {
  const r = await addon.matmulBenchmark(n, dtype === 'float32' ? iters : 2, dtype);
  rows.push({ benchmark: 'matmul', n, dtype, seconds: r.seconds, gflops: r.gflops });
}
const info = { mlx: addon.runtime().mlxVersion, blas: await ourBlas() }; // library, version and OpenBLAS kernel
if (values.out) writeFileSync(values.out, JSON.stringify({ benchmark: 'matmul', date: new Date().toISOString(), machine: machine(), n, ...info, results: rows }, null, 2) + '\n');
if (values.json) {
  for (const r of rows) console.log(JSON.stringify({ ...r, ...info }));
} else {
  console.log(`matmul ${n}x${n}x${n} (MLX ${info.mlx}, BLAS ${blasText(info.blas)})`);
  for (const r of rows) console.log(`  ${r.dtype.padEnd(9)} ${r.gflops.toFixed(1).padStart(8)} GFLOP/s  ${(r.seconds * 1e3).toFixed(2)} ms`);
}
