#!/usr/bin/env node
// Memory soak: many short training runs and many generations in ONE process must not grow memory.
// On the tiny-chat fixture model (or --model DIR):
//   1. --runs short LoRA training runs (each loads the model, trains, saves, and disposes it all);
//   2. --generations greedy generations on one loaded model (a fresh KV cache each);
//   3. dispose(): a model's MLX memory is released when it is disposed, and by the finalizer
//      when it is only dropped (with --expose-gc, which the script turns on for itself).
// RSS, JS heap (after a GC) and MLX active / peak / cache memory are taken at the start (after
// one warm-up run and 10 warm-up generations), in the middle and at the end of each phase. Growth
// is reported over the whole soak and over the second half of each phase (what keeps growing
// once the process has warmed up: V8's heap sizing and malloc arenas settle over the first runs).
// Prints a table and one JSON line; exits 1 when RSS grew more than --max-growth percent
// (default 5) over a second half, MLX active memory grew at all beyond that, or dispose() / the
// finalizer left MLX memory behind.
//
// Usage: node benchmarks/soak.mjs [--runs 20] [--generations 1000] [--iters 10] [--max-tokens 16]
//          [--model DIR] [--max-growth 5] [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    generations: { type: 'string', default: '1000' },
    iters: { type: 'string', default: '10' },
    'max-tokens': { type: 'string', default: '16' },
    model: { type: 'string', default: join(ROOT, 'test', 'fixtures', 'models', 'tiny-chat') },
    data: { type: 'string', default: join(ROOT, 'test', 'fixtures', 'data', 'folder') },
    'max-growth': { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const dist = (p) => import(join(ROOT, 'dist', p));
const { loadModel } = await dist('model/model.js');
const { memory } = await dist('core/runtime.js');
const { train } = await dist('train/loop.js');
const { defaultTrainConfig } = await dist('config/config.js');

const MB = 1024 * 1024;
const log = (line) => values.json || process.stderr.write(line + '\n');

/** RSS and MLX memory now, after a full GC (so JS garbage is not counted as growth). */
async function sample() {
  gc();
  await new Promise((r) => setImmediate(r)); // let finalizers queued by the GC run
  const m = memory();
  return { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed, active: m.active, cache: m.cache };
}

const work = mkdtempSync(join(tmpdir(), 'mlxlab-soak-'));
let peak = 0;
const notePeak = () => (peak = Math.max(peak, memory().peak));

/** One short LoRA run that loads, trains, saves and disposes everything itself. */
async function trainingRun(i) {
  const config = {
    ...defaultTrainConfig(),
    model: values.model,
    data: values.data,
    adapter_path: join(work, `run-${i % 2}`), // two folders in turn: disk use stays flat too
    num_layers: -1,
    batch_size: 2,
    iters: Number(values.iters),
    steps_per_report: 5,
    steps_per_eval: 1000,
    val_batches: 1,
    save_every: 5,
    seed: i,
    lora_parameters: { rank: 4, scale: 10, dropout: 0.1, keys: null },
  };
  await train(config);
  notePeak();
}

const PROMPTS = ['What is 2+2?', 'Name a colour.', 'Say hello.', 'Count to three.'];

async function generations(model, n) {
  for (let i = 0; i < n; i++) {
    await model.generate([{ role: 'user', content: PROMPTS[i % PROMPTS.length] }], { maxTokens: Number(values['max-tokens']) });
    notePeak();
  }
}

/** MLX active memory a model holds, and what is left after dispose() and after a finalizer. */
async function disposeCheck() {
  const before = (await sample()).active;
  const disposed = await loadModel(values.model);
  const loaded = (await sample()).active;
  disposed.dispose();
  const afterDispose = (await sample()).active;
  let dropped = await loadModel(values.model);
  dropped = undefined; // no dispose(): only the finalizer can free it
  let afterFinalizer = (await sample()).active;
  for (let i = 0; i < 20 && afterFinalizer > before; i++) {
    await new Promise((r) => setTimeout(r, 50));
    afterFinalizer = (await sample()).active;
  }
  return { before, loaded, afterDispose, afterFinalizer, modelBytes: loaded - before };
}

try {
  const cold = await sample();
  const t0 = performance.now();
  const model = await loadModel(values.model);
  await trainingRun(0);
  await generations(model, 10);
  const start = await sample();
  const startPeak = peak;
  log(`start (after warm-up): RSS ${(start.rss / MB).toFixed(1)} MB, MLX active ${(start.active / MB).toFixed(2)} MB`);

  const runs = Number(values.runs);
  let midTraining;
  for (let i = 1; i <= runs; i++) {
    await trainingRun(i);
    if (i === Math.ceil(runs / 2)) midTraining = await sample();
    if (i % 5 === 0) log(`  training run ${i}/${runs}: RSS ${((await sample()).rss / MB).toFixed(1)} MB`);
  }
  const afterTraining = await sample();
  const total = Number(values.generations);
  let midGenerations;
  for (let done = 0; done < total; ) {
    const n = Math.min(100, total - done, done < total / 2 ? total / 2 - done : total);
    await generations(model, n);
    done += n;
    if (done === total / 2) midGenerations = await sample();
    if (done % 250 === 0 || done === total) log(`  generations ${done}/${total}: RSS ${((await sample()).rss / MB).toFixed(1)} MB`);
  }
  const afterGenerations = await sample();
  model.dispose();
  const end = await sample();
  const freed = await disposeCheck();
  const seconds = (performance.now() - t0) / 1000;

  const growth = (a, b) => (a === undefined || a === 0 ? 0 : (100 * (b - a)) / a);
  const both = (a, b) => ({ rss: growth(a?.rss, b.rss), heap: growth(a?.heap, b.heap), active: growth(a?.active, b.active) });
  const result = {
    bench: 'soak',
    model: values.model,
    runs,
    iters: Number(values.iters),
    generations: total,
    maxTokens: Number(values['max-tokens']),
    seconds,
    cold,
    start,
    midTraining,
    afterTraining,
    midGenerations,
    afterGenerations,
    end,
    peak: { start: startPeak, end: peak },
    growthPercent: {
      // The whole soak, from the warm-up to the last generation (the model still loaded).
      fromWarmup: both(start, afterGenerations),
      // The second half of each phase: what keeps growing once the process has warmed up.
      training: both(midTraining, afterTraining),
      generations: both(midGenerations, afterGenerations),
    },
    dispose: freed,
  };
  const limit = Number(values['max-growth']);
  const g = result.growthPercent;
  const ok =
    Math.max(g.training.rss, g.generations.rss) < limit &&
    Math.max(g.fromWarmup.active, g.training.active, g.generations.active) < limit &&
    freed.afterDispose <= freed.before &&
    freed.afterFinalizer <= freed.before;
  result.ok = ok;

  if (!values.json) {
    const row = (name, s) => `${name.padEnd(26)} ${(s.rss / MB).toFixed(1).padStart(8)} ${(s.heap / MB).toFixed(2).padStart(8)} ${(s.active / MB).toFixed(2).padStart(10)} ${(s.cache / MB).toFixed(2).padStart(9)}`;
    log(`\n${'memory (MB)'.padEnd(26)} ${'RSS'.padStart(8)} ${'JS heap'.padStart(8)} ${'MLX active'.padStart(10)} ${'MLX cache'.padStart(9)}`);
    log(row('cold (nothing loaded)', cold));
    log(row('start (after warm-up)', start));
    if (midTraining) log(row(`after ${Math.ceil(runs / 2)} training runs`, midTraining));
    log(row(`after ${runs} training runs`, afterTraining));
    if (midGenerations) log(row(`after ${total / 2} generations`, midGenerations));
    log(row(`after ${total} generations`, afterGenerations));
    log(row('model disposed', end));
    const pct = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`;
    log(`MLX peak: ${(startPeak / MB).toFixed(2)} MB in the warm-up, ${(peak / MB).toFixed(2)} MB over the whole soak`);
    log(`growth from the warm-up: RSS ${pct(g.fromWarmup.rss)}, JS heap ${pct(g.fromWarmup.heap)}, MLX active ${pct(g.fromWarmup.active)}`);
    log(`growth over the second half: training RSS ${pct(g.training.rss)}, MLX active ${pct(g.training.active)}; generations RSS ${pct(g.generations.rss)}, MLX active ${pct(g.generations.active)} (limit ${limit}%)`);
    log(
      `dispose(): a model holds ${(freed.modelBytes / MB).toFixed(2)} MB of MLX memory; ${freed.afterDispose - freed.before} bytes left after dispose(), ` +
        `${freed.afterFinalizer - freed.before} bytes left after dropping one and a GC (finalizer)`,
    );
    log(`${seconds.toFixed(1)} s; ${ok ? 'OK' : 'FAILED'}`);
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exitCode = ok ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
