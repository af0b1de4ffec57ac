#!/usr/bin/env node
// How cost grows with sequence length, batch size and model size: prefill and decode tokens/s
// and peak memory of our generate on random-weight models of each architecture (llama, qwen3,
// qwen3_moe; tiny ~1M, mid ~30-60M, large ~150M parameters; lib/random-models.mjs writes them
// into --models-dir once). Each model runs in its own fresh process: load, then for every
// prompt length × batch, --warmup runs and --reps timed runs, each row its own random prompt
// (no shared prefix to skip), greedy, exactly --max-tokens generated tokens (no EOS: the
// models have no tokenizer). Tokens/s are batch totals, as in generate.mjs. Ours only: the
// side-by-side with mlx-lm is generate.mjs on SmolLM2.
//
// Usage: node benchmarks/scaling.mjs [--arch llama,qwen3,qwen3_moe] [--sizes tiny,mid,large]
//          [--prompt-tokens 64,256,1024] [--batch 1,4,16] [--max-tokens 32] [--reps 3]
//          [--warmup 1] [--models-dir .cache/bench/models] [--json] [--out FILE]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT, load1 } from './lib/env.mjs';
import { ARCHITECTURES, SIZE_NAMES, ensureRandomModel, hasSize, parameterCount, randomConfig } from './lib/random-models.mjs';
import { machine, summarizeCost, summarizeRate, table } from './lib/stats.mjs';
import { scalingTables } from './lib/results-md.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    arch: { type: 'string', default: ARCHITECTURES.join(',') },
    sizes: { type: 'string', default: SIZE_NAMES.join(',') },
    'prompt-tokens': { type: 'string', default: '64,256,1024' },
    batch: { type: 'string', default: '1,4,16' },
    'max-tokens': { type: 'string', default: '32' },
    reps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'models-dir': { type: 'string', default: process.env.MLX_LAB_BENCH_MODELS ?? join(ROOT, '.cache', 'bench', 'models') },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
    worker: { type: 'boolean', default: false },
  },
});
const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const log = (msg) => process.stderr.write(`[bench:scaling] ${msg}\n`);

/** `batch` rows of `length` token ids, different in every row and run (seeded). */
function randomPrompts(batch, length, vocab, seed) {
  let s = seed;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  return Array.from({ length: batch }, () => ({ tokens: Array.from({ length }, () => next() % vocab) }));
}

// ------------------------------------------------------------------ worker: one model
async function worker(jobText) {
  const job = JSON.parse(jobText);
  const { loadModel } = await import('../dist/index.js');
  const { nativeHandle } = await import('../dist/model/model.js');
  const model = await loadModel(job.dir, { tokenizer: false });
  const vocab = model.config.vocabSize;
  const results = [];
  for (const { prompt_tokens, batch } of job.configs) {
    const runs = [];
    for (let i = 0; i < job.warmup + job.reps; i++) {
      const inputs = randomPrompts(batch, prompt_tokens, vocab, 1 + i * 7717 + prompt_tokens * 31 + batch);
      const gens = await model.generateBatch(inputs, { maxTokens: job.max_tokens, temperature: 0, sharePrefix: false });
      if (i < job.warmup) continue;
      runs.push({ prompt_tps: gens[0].promptTps, generation_tps: gens[0].generationTps, peak_memory: gens[0].peakMemory, generated: gens.reduce((n, g) => n + g.generationTokens, 0) });
    }
    results.push({ prompt_tokens, batch, runs });
  }
  const out = { compute: model.compute, parameter_bytes: nativeHandle(model).info().parameterBytes, results };
  model.dispose();
  console.log(JSON.stringify(out));
}

// ------------------------------------------------------------------ driver
function runModel(dir, job, label) {
  log(`${label}: ${job.configs.length} shapes`);
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--worker', JSON.stringify({ ...job, dir })], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${label} failed (exit ${r.status ?? r.signal})`);
  return JSON.parse(r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop());
}

async function main() {
  const modelsDir = resolve(values['models-dir']);
  mkdirSync(modelsDir, { recursive: true });
  const prompts = list(values['prompt-tokens']).map(Number);
  const batches = list(values.batch).map(Number);
  const job = {
    configs: prompts.flatMap((p) => batches.map((b) => ({ prompt_tokens: p, batch: b }))),
    max_tokens: Number(values['max-tokens']),
    reps: Number(values.reps),
    warmup: Number(values.warmup),
  };
  for (const a of list(values.arch)) if (!ARCHITECTURES.includes(a)) throw new Error(`--arch: unknown "${a}" (${ARCHITECTURES.join(', ')})`);
  for (const s of list(values.sizes)) if (!SIZE_NAMES.includes(s)) throw new Error(`--sizes: unknown "${s}" (${SIZE_NAMES.join(', ')})`);
  const models = [];
  for (const size of list(values.sizes)) {
    for (const arch of list(values.arch)) {
      if (!hasSize(arch, size)) continue;
      const dir = ensureRandomModel(modelsDir, arch, size, log);
      const before = load1();
      const raw = runModel(dir, job, `${arch} ${size}`);
      models.push({
        arch,
        size,
        parameters: parameterCount(randomConfig(arch, size)),
        parameter_bytes: raw.parameter_bytes,
        compute: raw.compute.mode,
        loadavg: [before, load1()],
        results: raw.results.map((r) => ({
          prompt_tokens: r.prompt_tokens,
          batch: r.batch,
          prompt_tps: summarizeRate(r.runs.map((x) => x.prompt_tps)),
          generation_tps: summarizeRate(r.runs.map((x) => x.generation_tps)),
          peak_memory: summarizeCost(r.runs.map((x) => x.peak_memory)),
          generated: r.runs.map((x) => x.generated),
        })),
      });
    }
  }
  const report = { benchmark: 'scaling', date: new Date().toISOString(), machine: machine(), models_dir: modelsDir, ...job, models };
  console.log(JSON.stringify(report));
  if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
  if (values.json) return;
  console.log(`\nscaling: random float32 models, ${job.max_tokens} generated tokens, ${job.reps} reps after ${job.warmup} warm-up; median tok/s (batch totals)`);
  for (const t of Object.values(scalingTables(report))) console.log('\n' + table(t));
}

try {
  if (values.worker) await worker(positionals[0]);
  else await main();
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
