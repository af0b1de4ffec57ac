#!/usr/bin/env node
// Data-parallel training: tokens/s of 1 rank vs N ranks on this machine (MLX's ring back end over
// loopback, started by `mlx-lab train -n N`), on the same global batch and data, and the bytes
// each rank sends per step.
//
// Every side is `mlx-lab train --json` in fresh processes with the same settings; with N ranks
// each trains batch/N rows of every batch and the gradients are summed with one all_sum per step.
// Timing: rank 0's report events (one per iteration); the first --warmup iterations are not
// timed; tokens/s = target tokens of the whole batch / step seconds (a step on rank 0 includes
// waiting for the other ranks and the all_sum). Tokens are mlx-lm's unmasked targets.
//
// Bytes per step: the all_sum carries every trainable gradient plus the loss and token count as
// one float32 buffer, (P + 2) × 4 bytes; in a ring all-reduce each rank sends 2 (N − 1) / N of the
// buffer. The "measured" column is rank 0's own counter (native/distributed.cpp adds that ring
// formula for every collective it runs, including the per-step stop decision and the validation
// gathers) divided by the iterations: it checks the buffer sizes, not bytes seen on the wire.
//
// On one machine the ranks share its cores: with 2 cores, 2 ranks cannot be faster than 1 (each
// rank's BLAS already uses both cores); the numbers show the overhead of the exchange, not the
// speed-up two machines give.
//
// Usage: node benchmarks/distributed.mjs [--model DIR] [--ranks 2] [--batch 8] [--iters 20]
//          [--warmup 3] [--num-layers -1] [--rank 8] [--examples 64] [--port 42323] [--json]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, machine, table } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

const { values: o } = parseArgs({
  options: {
    model: { type: 'string', default: join(ROOT, 'test', 'fixtures', 'models', 'tiny-chat') },
    ranks: { type: 'string', default: '2' },
    batch: { type: 'string', default: '8' },
    iters: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    'num-layers': { type: 'string', default: '-1' },
    rank: { type: 'string', default: '8' },
    examples: { type: 'string', default: '64' },
    port: { type: 'string', default: '42323' },
    json: { type: 'boolean', default: false },
  },
});

/** Prompt/completion examples of varied length (a deterministic generator). */
function writeData(dir, n) {
  const words = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau'.split(' ');
  let s = 7;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const line = () => {
    const p = Array.from({ length: 8 + Math.floor(next() * 40) }, () => words[Math.floor(next() * words.length)]).join(' ');
    return JSON.stringify({ prompt: `Repeat in capitals: ${p}`, completion: p.toUpperCase() });
  };
  writeFileSync(join(dir, 'train.jsonl'), Array.from({ length: n }, line).join('\n') + '\n');
}

/** One side: mlx-lab train with `ranks` ranks; its timed tokens/s and what the run reported. */
function side(ranks, data, out) {
  const args = [CLI, 'train', '--model', o.model, '--data', data, '--adapter-path', out, '--iters', o.iters, '--batch-size', o.batch,
    '--num-layers', o['num-layers'], '--steps-per-report', '1', '--save-every', '100000', '--learning-rate', '1e-4', '--seed', '1', '--json'];
  if (ranks > 1) args.push('-n', String(ranks), '--port', o.port);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${ranks} rank(s) failed (${r.status}):\n${r.stderr}`);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const start = events.find((e) => e.event === 'start');
  const reports = events.filter((e) => e.event === 'report' && e.iteration > Number(o.warmup));
  const tokens = reports.reduce((a, e) => a + e.tokensPerSec / e.itPerSec, 0);
  const seconds = reports.reduce((a, e) => a + 1 / e.itPerSec, 0);
  const done = events.find((e) => e.event === 'done');
  return { ranks, tokensPerSec: tokens / seconds, itPerSec: reports.length / seconds, tokensPerStep: tokens / reports.length, wallSeconds: wall, trainableParameters: start.trainableParameters, bytesSent: done.distributed?.bytesSent ?? 0, iterations: done.iteration };
}

const n = Number(o.ranks);
const work = mkdtempSync(join(tmpdir(), 'mlxlab-bench-dist-'));
try {
  writeData(work, Number(o.examples));
  const one = side(1, work, join(work, 'one'));
  const many = side(n, work, join(work, 'many'));
  const bufferBytes = (one.trainableParameters + 2) * 4;
  const perStep = (2 * (n - 1) / n) * bufferBytes;
  const result = {
    benchmark: 'distributed',
    machine: machine(),
    model: o.model,
    batch: Number(o.batch),
    iters: Number(o.iters),
    warmup: Number(o.warmup),
    trainableParameters: one.trainableParameters,
    one,
    many,
    speedup: many.tokensPerSec / one.tokensPerSec,
    allSumBufferBytes: bufferBytes,
    bytesSentPerStepPerRank: perStep,
    bytesSentPerStepMeasured: many.bytesSent / many.iterations,
  };
  if (o.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(JSON.stringify(result));
    console.log();
    console.log(table([
      ['ranks', 'tokens/s', 'it/s', 'tokens/step', 'wall s', `vs 1 rank`],
      ['1', fmt.tps(one.tokensPerSec), one.itPerSec.toFixed(2), one.tokensPerStep.toFixed(0), one.wallSeconds.toFixed(1), '1.00×'],
      [String(n), fmt.tps(many.tokensPerSec), many.itPerSec.toFixed(2), many.tokensPerStep.toFixed(0), many.wallSeconds.toFixed(1), fmt.ratio(result.speedup)],
    ]));
    console.log(`\n${one.trainableParameters.toLocaleString('en-US')} trainable parameters: all_sum buffer ${(bufferBytes / 1024).toFixed(1)} KiB per step; each rank sends ${(perStep / 1024).toFixed(1)} KiB per step (ring: 2(N−1)/N of it); rank 0's counter: ${(result.bytesSentPerStepMeasured / 1024).toFixed(1)} KiB per iteration (with the stop decisions).`);
    console.log(`${machine().cores} cores: the ranks share them, so this shows the exchange's overhead, not the speed-up of separate machines.`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
