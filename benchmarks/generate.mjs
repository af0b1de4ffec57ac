#!/usr/bin/env node
// Generation benchmark, side by side with mlx-lm on the same model folder, in one run:
// prompt (prefill) tokens/s, decode tokens/s and peak MLX memory for
//   - ours: loadModel + generate (generateBatch for batch > 1), per compute mode (--compute);
//   - mlx-lm as users install it (the project venv: the wheel's vendored reference BLAS), and
//   - mlx-lm on the same fixed libmlx as ours (a venv copy relinked to OpenBLAS,
//     scripts/bench-venv.sh): the fair, same-library comparison (ARCHITECTURE.md §3).
// Every side runs in its own fresh process, on identical prompt token ids, greedy, exactly
// --max-tokens generated tokens (EOS never ends a run: the prompt is a counting sequence and
// mlx-lm's EOS set is emptied), after --warmup runs, --reps times; median and best are reported.
// Prints one JSON line, then a table with the ratios ours / mlx-lm.
//
// Usage: node benchmarks/generate.mjs [--model DIR] [--prompt-tokens 128[,512...]]
//          [--max-tokens 128] [--batch 1[,4...]] [--sweep] [--reps 3] [--warmup 1]
//          [--compute auto[,native,float32]] [--baselines stock,openblas|none] [--json]
//          [--out FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchPython, loadedBlas, runJson as runSide } from './lib/env.mjs';
import { fmt, machine, summarizeCost, summarizeRate, table } from './lib/stats.mjs';
import { promptIds } from './lib/prompt.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: join(ROOT, '.cache', 'models', 'smollm2-mlx-ref') },
    'prompt-tokens': { type: 'string' },
    'max-tokens': { type: 'string', default: '128' },
    batch: { type: 'string' },
    sweep: { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    compute: { type: 'string', default: 'auto' },
    baselines: { type: 'string', default: 'stock,openblas' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
    worker: { type: 'boolean', default: false },
  },
});

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const log = (msg) => process.stderr.write(`[bench:generate] ${msg}\n`);

// ------------------------------------------------------------------ worker: our side
async function worker(jobFile, compute) {
  const job = JSON.parse(readFileSync(jobFile, 'utf8'));
  const { loadModel, runtime } = await import('../dist/index.js');
  const { native } = await import('../dist/native.js');
  const tic = performance.now();
  const model = await loadModel(job.model, { compute });
  const loadSeconds = (performance.now() - tic) / 1e3;
  const out = {
    mlx: runtime().mlxVersion,
    device: runtime().device,
    compute: model.compute,
    blas: loadedBlas(),
    matmul_gflops: (await native().matmulBenchmark(1024, 10, 'float32')).gflops,
    load_seconds: loadSeconds,
    results: [],
  };
  for (const cfg of job.configs) {
    const runs = [];
    let tokens;
    let finish;
    for (let i = 0; i < job.warmup + job.reps; i++) {
      const inputs = Array.from({ length: cfg.batch }, () => ({ tokens: cfg.prompt }));
      // Every row has the same prompt; mlx-lm's batch_generate prefills each row, so ours must
      // too (sharePrefix: false), or batch > 1 would time one prefill against `batch` of them.
      const gens = await model.generateBatch(inputs, { maxTokens: cfg.max_tokens, temperature: 0, sharePrefix: false });
      const g = gens[0];
      if (i < job.warmup) continue;
      runs.push({
        prompt_tokens: cfg.prompt.length * cfg.batch,
        prompt_tps: g.promptTps,
        generation_tokens: gens.reduce((n, x) => n + x.generationTokens, 0),
        generation_tps: g.generationTps,
        peak_memory: g.peakMemory,
      });
      tokens ??= g.tokens;
      finish ??= gens.map((x) => x.finishReason);
    }
    out.results.push({ prompt_tokens: cfg.prompt.length, batch: cfg.batch, max_tokens: cfg.max_tokens, runs, tokens, finish });
  }
  model.dispose();
  console.log(JSON.stringify(out));
}

// ------------------------------------------------------------------ driver
// One side in a fresh process (benchmarks/lib/env.mjs), logged with this benchmark's prefix.
const runJson = (cmd, args, label) => runSide(cmd, args, { label, log });

function summarize(side) {
  return side.results.map((r) => ({
    prompt_tokens: r.prompt_tokens,
    batch: r.batch,
    max_tokens: r.max_tokens,
    generated: r.runs.map((x) => x.generation_tokens),
    prompt_tps: summarizeRate(r.runs.map((x) => x.prompt_tps)),
    generation_tps: summarizeRate(r.runs.map((x) => x.generation_tps)),
    peak_memory: summarizeCost(r.runs.map((x) => x.peak_memory)),
    tokens: r.tokens,
    finish: r.finish,
  }));
}

/** How many leading greedy tokens two sides share (batch-1 runs only). */
function samePrefix(a, b) {
  if (!a || !b) return null;
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

async function main() {
  const modelDir = resolve(values.model);
  if (!existsSync(join(modelDir, 'config.json'))) throw new Error(`${modelDir}: not a model folder (no config.json); mlx-lm needs an MLX/HF folder`);
  const promptLens = list(values['prompt-tokens'] ?? (values.sweep ? '32,128,512' : '128')).map(Number);
  const batches = list(values.batch ?? (values.sweep ? '1,4' : '1')).map(Number);
  const maxTokens = Number(values['max-tokens']);
  const reps = Number(values.reps);
  const warmup = Number(values.warmup);
  const computes = list(values.compute);
  const baselines = values.baselines === 'none' ? [] : list(values.baselines);
  for (const b of baselines) if (!['stock', 'openblas'].includes(b)) throw new Error(`--baselines: unknown "${b}" (stock, openblas or none)`);

  const { Tokenizer } = await import('../dist/index.js');
  const tokenizer = Tokenizer.fromFolder(modelDir);
  const configs = [];
  for (const L of promptLens) for (const B of batches) configs.push({ prompt: promptIds(tokenizer, L), batch: B, max_tokens: maxTokens });

  const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-bench-'));
  const jobFile = join(tmp, 'job.json');
  writeFileSync(jobFile, JSON.stringify({ model: modelDir, reps, warmup, configs }));
  const sides = [];
  try {
    for (const c of computes) {
      const load = loadavg()[0];
      const raw = runJson(process.execPath, [fileURLToPath(import.meta.url), '--worker', '--compute', c, jobFile], `ours (compute ${c})`);
      sides.push({ name: `ours ${c}`, kind: 'ours', compute: c, info: { ...raw, results: undefined, loadavg: [load, loadavg()[0]] }, results: summarize(raw) });
    }
    for (const b of baselines) {
      const py = benchPython(b);
      const load = loadavg()[0];
      const raw = runJson(py, [join(HERE, 'lib', 'mlx_lm_generate.py'), jobFile], `mlx-lm ${b}`);
      sides.push({ name: `mlx-lm ${b}`, kind: 'mlx-lm', baseline: b, info: { ...raw, results: undefined, loadavg: [load, loadavg()[0]] }, results: summarize(raw) });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const ratios = [];
  for (const o of sides.filter((s) => s.kind === 'ours')) {
    for (const m of sides.filter((s) => s.kind === 'mlx-lm')) {
      o.results.forEach((r, i) => {
        const t = m.results[i];
        ratios.push({
          ours: o.name,
          mlx_lm: m.name,
          prompt_tokens: r.prompt_tokens,
          batch: r.batch,
          prompt: r.prompt_tps.median / t.prompt_tps.median,
          decode: r.generation_tps.median / t.generation_tps.median,
          memory: r.peak_memory.median / t.peak_memory.median,
          same_tokens: r.batch === 1 ? samePrefix(r.tokens, t.tokens) : null,
        });
      });
    }
  }

  const report = {
    benchmark: 'generate',
    date: new Date().toISOString(),
    machine: machine(),
    model: modelDir,
    max_tokens: maxTokens,
    reps,
    warmup,
    sides: sides.map((s) => ({ ...s, results: s.results.map(({ tokens, ...r }) => r) })),
    ratios,
  };
  console.log(JSON.stringify(report));
  if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
  if (values.json) return;

  const m = report.machine;
  console.log(`\ngenerate: ${modelDir.replace(ROOT + '/', '')}, ${maxTokens} generated tokens, greedy; ${reps} reps after ${warmup} warm-up; median (best)`);
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB; node ${m.node}`);
  for (const s of sides) {
    // numpy (imported by mlx-lm) brings its own OpenBLAS; only MLX's BLAS matters here.
    const blas = s.info.blas?.filter((p) => !p.includes('numpy.libs')).map((p) => p.split('/').pop()).join(', ') || 'n/a';
    const c = s.info.compute;
    const extra = s.kind === 'ours' ? `compute ${c?.mode ?? 'n/a'}${c?.extraBytes ? ` (+${fmt.mb(c.extraBytes)} MB of f32 copies)` : ''}` : `mlx-lm ${s.info.mlx_lm}`;
    console.log(`  ${s.name}: MLX ${s.info.mlx}, BLAS ${blas} (f32 matmul ${s.info.matmul_gflops.toFixed(0)} GFLOP/s), load ${s.info.load_seconds.toFixed(2)} s, ${extra}; machine load ${s.info.loadavg.map((x) => x.toFixed(1)).join('→')}`);
  }
  const rows = [['side', 'prompt', 'batch', 'prompt tok/s', 'decode tok/s', 'peak MB', 'generated']];
  for (const s of sides) {
    for (const r of s.results) {
      rows.push([
        s.name, r.prompt_tokens, r.batch,
        `${fmt.tps(r.prompt_tps.median)} (${fmt.tps(r.prompt_tps.best)})`,
        `${fmt.tps(r.generation_tps.median)} (${fmt.tps(r.generation_tps.best)})`,
        fmt.mb(r.peak_memory.median),
        r.generated.join('/'),
      ]);
    }
  }
  console.log('\n' + table(rows));
  if (ratios.length) {
    const rr = [['ours / mlx-lm', 'prompt', 'batch', 'prompt', 'decode', 'memory', 'same greedy tokens']];
    for (const r of ratios) {
      rr.push([`${r.ours} / ${r.mlx_lm}`, r.prompt_tokens, r.batch, fmt.ratio(r.prompt), fmt.ratio(r.decode), fmt.ratio(r.memory), r.same_tokens === null ? '—' : `${r.same_tokens}/${maxTokens}`]);
    }
    console.log('\n' + table(rr));
  }
}

try {
  if (values.worker) await worker(positionals[0], values.compute);
  else await main();
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
