#!/usr/bin/env node
// Generation benchmark: prompt (prefill) tokens/s, decode tokens/s and memory of ours, mlx-lm and
// llama.cpp on SmolLM2-135M, in one run. The sides (--sides; each says what it runs):
//   ours-native           our engine, the stored 4-bit weights, MLX's quantized CPU kernels
//   ours-auto             our CPU policy: the stored 4-bit weights, mlx-lab's quantized kernel for
//                         calls of at most 32 rows, a per-call float32 weight and BLAS above
//   ours-float32          the policy before: float32 copies of the 4-bit weights kept, f32 matmuls
//   ours-f32              our engine on the float32-dequantized folder, f32 matmuls on BLAS
//   mlx-lm-same-blas      mlx_lm.generate, the stored 4-bit weights, on our libmlx and our BLAS
//   mlx-lm-same-blas-f32  mlx_lm.generate on the float32-dequantized folder, our libmlx and BLAS
//   mlx-lm-stock          mlx_lm.generate as pip installs it (its wheel's reference BLAS), 4-bit
//   llama.cpp             node-llama-cpp's prebuilt CPU build on the same GGUF (Q4_1), batch 1
//   ours-kernels          compute 'kernels' forced (what auto picks for this model). Opt-in.
//   ours-auto-grammar     ours-auto under a grammar (llguidance mask every token; a regex that
//                         allows any text and never ends early): the cost of constrained decoding.
//                         Opt-in: name it in --sides (not in "all" or "ours").
// and the comparisons (COMPARISONS below): the like-for-like ones (same stored weights and
// kernels; same float32 math on the same BLAS) are the headline; "what a user gets" (ours auto
// vs mlx-lm as installed: policy + engine) and the llama.cpp peer are labelled as what they are.
// Every side runs in a fresh process per round, the sides interleaved (A B C A B C ...) over
// --reps rounds: load, --warmup runs, one timed run per configuration. Identical prompt token
// ids, greedy, exactly --max-tokens generated tokens (the prompt is a counting sequence; mlx-lm's
// EOS set is emptied; llama.cpp's evaluate() does not stop). Medians with min–max over rounds;
// ratios are the median of the per-round ratios (round i of A / round i of B), with their range.
// Prints one JSON line, then tables.
//
// Usage: node benchmarks/generate.mjs [--model DIR] [--f32-model DIR] [--gguf FILE]
//          [--prompt-tokens 128[,512...]] [--max-tokens 128] [--batch 1[,4...]] [--sweep]
//          [--reps 3] [--warmup 1] [--sides a,b,...|all|ours] [--llama-threads 2] [--json] [--out FILE]
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchPython, blasText, ensureFloat32Folder, gitState, loadedBlas, runJson as runSide, ourBlas, ensureSmolLM2, SMOLLM2_DIR } from './lib/env.mjs';
import { ensureNodeLlamaCpp, smollm2Gguf } from './lib/llama-cpp.mjs';
import { fmt, interleaved, machine, median, pairedRatio, peakRss, spreadText, summarizeCost, summarizeRate, table } from './lib/stats.mjs';
import { promptIds } from './lib/prompt.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');

/**
 * The sides: engine, which weights (folder), which kernels, which BLAS, how batches run. `blas`
 * is filled in from what each side's process really loaded.
 */
const SIDES = {
  'ours-native': { name: 'ours native', engine: 'ours', compute: 'native', folder: 'quant', weights: 'stored 4-bit (affine, group 32)', kernels: 'MLX quantized matmul (CPU)', batching: 'generateBatch, one prefill per row' },
  'ours-auto': { name: 'ours auto', engine: 'ours', compute: 'auto', folder: 'quant', weights: 'stored 4-bit (affine, group 32), no copies (our CPU policy)', kernels: "mlx-lab's quantized CPU kernel (M <= 32), a per-call float32 weight + MLX f32 matmul on BLAS above", batching: 'generateBatch, one prefill per row' },
  'ours-float32': { name: 'ours float32', engine: 'ours', compute: 'float32', folder: 'quant', weights: 'float32 copies of the 4-bit weights, kept (the policy before)', kernels: 'MLX f32 matmul on BLAS', batching: 'generateBatch, one prefill per row' },
  'ours-f32': { name: 'ours f32', engine: 'ours', compute: 'native', folder: 'f32', weights: 'float32 folder (dequantized)', kernels: 'MLX f32 matmul on BLAS', batching: 'generateBatch, one prefill per row' },
  'mlx-lm-same-blas': { name: 'mlx-lm same-blas', engine: 'mlx-lm', venv: 'same-blas', folder: 'quant', weights: 'stored 4-bit (affine, group 32)', kernels: 'MLX quantized matmul (CPU)', batching: 'batch_generate' },
  'mlx-lm-same-blas-f32': { name: 'mlx-lm same-blas f32', engine: 'mlx-lm', venv: 'same-blas', folder: 'f32', weights: 'float32 folder (dequantized)', kernels: 'MLX f32 matmul on BLAS', batching: 'batch_generate' },
  'mlx-lm-stock': { name: 'mlx-lm stock', engine: 'mlx-lm', venv: 'stock', folder: 'quant', weights: 'stored 4-bit (affine, group 32)', kernels: 'MLX quantized matmul (CPU)', batching: 'batch_generate' },
  'ours-kernels': { name: 'ours kernels', engine: 'ours', compute: 'kernels', optIn: true, folder: 'quant', weights: 'stored 4-bit (affine, group 32)', kernels: "mlx-lab's quantized CPU kernel (M <= 32), a per-call float32 weight + MLX f32 matmul on BLAS above", batching: 'generateBatch, one prefill per row' },
  'ours-auto-grammar': { name: 'ours auto + grammar', engine: 'ours', compute: 'auto', grammar: true, optIn: true, folder: 'quant', weights: 'stored 4-bit (affine, group 32), no copies (our CPU policy)', kernels: "as ours auto + llguidance token mask", batching: 'generateBatch, one prefill per row' },
  'llama.cpp': { name: 'llama.cpp', engine: 'llama.cpp', folder: 'gguf', weights: 'stored Q4_1 GGUF (the same 4-bit values)', kernels: 'ggml CPU kernels (no BLAS)', batching: 'batch 1 only' },
};

/** The ratios A / B this benchmark reports; `kind` says what differs between the two sides. */
const COMPARISONS = [
  { id: 'same-weights', kind: 'like-for-like', label: 'same stored weights and kernels, same libmlx and BLAS', a: 'ours-native', b: 'mlx-lm-same-blas' },
  { id: 'same-math', kind: 'like-for-like', label: 'same math: the float32 folder, same libmlx and BLAS', a: 'ours-f32', b: 'mlx-lm-same-blas-f32' },
  { id: 'user', kind: 'policy + engine', label: 'what a user gets: ours auto (our kernels) vs mlx-lm as installed', a: 'ours-auto', b: 'mlx-lm-stock' },
  { id: 'policy-change', kind: 'policy', label: 'our CPU policy now (kernels, no copies) vs before (float32 copies)', a: 'ours-auto', b: 'ours-float32' },
  { id: 'llama.cpp-weights', kind: 'peer', label: 'llama.cpp peer: same stored 4-bit weights, each engine its kernels', a: 'ours-native', b: 'llama.cpp' },
  { id: 'llama.cpp-kernels', kind: 'peer', label: 'llama.cpp peer: same stored 4-bit weights, our own CPU kernel vs ggml', a: 'ours-kernels', b: 'llama.cpp' },
  { id: 'kernels-gain', kind: 'feature gain', label: 'our quantized kernel vs MLX\'s, same stored weights', a: 'ours-kernels', b: 'ours-native' },
  { id: 'grammar-cost', kind: 'feature cost', label: 'constrained decoding: ours auto with a grammar vs without', a: 'ours-auto-grammar', b: 'ours-auto' },
  { id: 'llama.cpp-user', kind: 'peer', label: 'llama.cpp peer: what a user gets (ours auto)', a: 'ours-auto', b: 'llama.cpp' },
];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: SMOLLM2_DIR },
    'f32-model': { type: 'string' },
    gguf: { type: 'string' },
    'prompt-tokens': { type: 'string' },
    'max-tokens': { type: 'string', default: '128' },
    batch: { type: 'string' },
    sweep: { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    sides: { type: 'string', default: 'all' },
    'llama-threads': { type: 'string', default: '2' },
    compute: { type: 'string', default: 'auto' },
    grammar: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
    worker: { type: 'boolean', default: false },
  },
});

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const log = (msg) => process.stderr.write(`[bench:generate] ${msg}\n`);

/** --sides: "all", "ours" (no Python, no node-llama-cpp) or a list of SIDES keys. */
function parseSides(text) {
  if (text === 'all') return Object.keys(SIDES).filter((k) => !SIDES[k].optIn);
  if (text === 'ours') return Object.keys(SIDES).filter((k) => SIDES[k].engine === 'ours' && !SIDES[k].optIn);
  const keys = list(text);
  for (const k of keys) if (!SIDES[k]) throw new Error(`--sides: unknown "${k}" (${Object.keys(SIDES).join(', ')}, all or ours)`);
  return keys;
}

// ------------------------------------------------------------------ worker: our side
// Any text, never complete (it waits for bytes no counting prompt makes): every token is masked,
// EOS never allowed, so exactly max-tokens tokens come out as on the other sides.
const BENCH_GRAMMAR = { regex: '(?s:.*)\\x01\\x02\\x03' };

async function worker(jobFile, compute, grammar) {
  const job = JSON.parse(readFileSync(jobFile, 'utf8'));
  const { loadModel, runtime } = await import('../dist/index.js');
  const { native } = await import('../dist/core/native.js');
  const tic = performance.now();
  const model = await loadModel(job.model, { compute });
  const loadSeconds = (performance.now() - tic) / 1e3;
  const out = {
    mlx: runtime().mlxVersion,
    device: runtime().device,
    compute: model.compute,
    blas: loadedBlas(),
    blas_kernel: native().runtime().blas ?? null, // the addon's own report when it has one
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
      const gens = await model.generateBatch(inputs, { maxTokens: cfg.max_tokens, temperature: 0, sharePrefix: false, grammar: grammar ? BENCH_GRAMMAR : undefined });
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
  out.max_rss = peakRss(); // peak resident set (VmHWM), as every side reports it
  console.log(JSON.stringify(out));
}

// ------------------------------------------------------------------ driver
// One side in a fresh process (benchmarks/lib/env.mjs), logged with this benchmark's prefix.
const runJson = (cmd, args, label) => runSide(cmd, args, { label, log });

/** The command line of one side's process for one round. */
function sideCommand(key, jobs, context) {
  const side = SIDES[key];
  const job = jobs[side.folder];
  if (side.engine === 'ours') return [process.execPath, [fileURLToPath(import.meta.url), '--worker', '--compute', side.compute, ...(side.grammar ? ['--grammar'] : []), job]];
  if (side.engine === 'mlx-lm') return [context.python[side.venv], [join(HERE, 'lib', 'mlx_lm_generate.py'), job]];
  return [process.execPath, [join(HERE, 'lib', 'llama_cpp_generate.mjs'), job, context.llamaModule, context.gguf, String(context.llamaThreads)]];
}

/** One side's rounds → its info (first round) and per configuration the spread over rounds. */
function summarizeSide(key, rounds) {
  const info = { ...rounds[0], results: undefined };
  const results = rounds[0].results.map((r0, i) => {
    const runs = rounds.flatMap((raw) => raw.results[i].runs);
    return {
      prompt_tokens: r0.prompt_tokens,
      batch: r0.batch,
      max_tokens: r0.max_tokens,
      timed_runs: runs.length, // what was timed, not what was asked
      generated: runs.map((x) => x.generation_tokens),
      prompt_tps: summarizeRate(runs.map((x) => x.prompt_tps)),
      generation_tps: summarizeRate(runs.map((x) => x.generation_tps)),
      peak_memory: runs.every((x) => Number.isFinite(x.peak_memory)) ? summarizeCost(runs.map((x) => x.peak_memory)) : null,
      round_prompt_tps: rounds.map((raw) => median(raw.results[i].runs.map((x) => x.prompt_tps))),
      round_generation_tps: rounds.map((raw) => median(raw.results[i].runs.map((x) => x.generation_tps))),
      tokens: r0.tokens,
    };
  });
  return { key, ...SIDES[key], info: { ...info, max_rss: summarizeCost(rounds.map((raw) => raw.max_rss)), loadavg: rounds.map((raw) => raw.loadavg) }, results };
}

/** How many leading greedy tokens two sides share (batch-1 runs only). */
function samePrefix(a, b) {
  if (!a || !b) return null;
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** Every comparison whose two sides ran, per configuration both have. */
function comparisonRows(sides) {
  const byKey = new Map(sides.map((s) => [s.key, s]));
  const rows = [];
  for (const c of COMPARISONS) {
    const [a, b] = [byKey.get(c.a), byKey.get(c.b)];
    if (!a || !b) continue;
    for (const r of a.results) {
      const t = b.results.find((x) => x.prompt_tokens === r.prompt_tokens && x.batch === r.batch);
      if (!t) continue;
      const prompt = pairedRatio(r.round_prompt_tps, t.round_prompt_tps);
      const decode = pairedRatio(r.round_generation_tps, t.round_generation_tps);
      rows.push({
        id: c.id, kind: c.kind, label: c.label, ours: a.name, other: b.name, prompt_tokens: r.prompt_tokens, batch: r.batch,
        prompt: prompt.median, prompt_spread: prompt, decode: decode.median, decode_spread: decode,
        memory: r.peak_memory && t.peak_memory ? r.peak_memory.median / t.peak_memory.median : null,
        max_rss: a.info.max_rss.median / b.info.max_rss.median,
        same_tokens: r.batch === 1 ? samePrefix(r.tokens, t.tokens) : null,
      });
    }
  }
  return rows;
}

/** The folders, environments and modules the chosen sides need, made before anything is timed. */
async function prepareSides(keys) {
  const folders = { quant: resolve(values.model) === SMOLLM2_DIR ? await ensureSmolLM2(SMOLLM2_DIR, log) : resolve(values.model) };
  if (!existsSync(join(folders.quant, 'config.json'))) throw new Error(`${folders.quant}: not a model folder (no config.json)`);
  const context = { python: {}, llamaThreads: Number(values['llama-threads']) };
  if (keys.some((k) => SIDES[k].folder === 'f32')) folders.f32 = values['f32-model'] ? resolve(values['f32-model']) : await ensureFloat32Folder(folders.quant, log);
  for (const k of keys) if (SIDES[k].venv) context.python[SIDES[k].venv] ??= benchPython(SIDES[k].venv);
  if (keys.includes('llama.cpp')) {
    context.llamaModule = ensureNodeLlamaCpp(log);
    context.gguf = values.gguf ? resolve(values.gguf) : await smollm2Gguf();
  }
  return { folders, context };
}

async function main() {
  const promptLens = list(values['prompt-tokens'] ?? (values.sweep ? '32,128,512' : '128')).map(Number);
  const batches = list(values.batch ?? (values.sweep ? '1,4' : '1')).map(Number);
  const maxTokens = Number(values['max-tokens']);
  const reps = Number(values.reps);
  const warmup = Number(values.warmup);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: a positive integer (rounds), got "${values.reps}"`);
  const keys = parseSides(values.sides);
  const { folders, context } = await prepareSides(keys);

  const { Tokenizer } = await import('../dist/index.js');
  const tokenizer = Tokenizer.fromFolder(folders.quant);
  const configs = [];
  for (const L of promptLens) for (const B of batches) configs.push({ prompt: promptIds(tokenizer, L), batch: B, max_tokens: maxTokens });

  const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-bench-'));
  const jobs = {};
  for (const [name, model] of Object.entries({ ...folders, gguf: folders.quant })) {
    jobs[name] = join(tmp, `job-${name}.json`);
    writeFileSync(jobs[name], JSON.stringify({ model, reps: 1, warmup, configs }));
  }
  let rounds;
  try {
    rounds = await interleaved(keys.map((k) => ({ name: k })), reps, ({ name }, round) => {
      const [cmd, args] = sideCommand(name, jobs, context);
      const load = loadavg()[0];
      const raw = runJson(cmd, args, `${SIDES[name].name} (round ${round + 1}/${reps})`);
      return { ...raw, loadavg: [load, loadavg()[0]] };
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const sides = keys.map((k) => summarizeSide(k, rounds.bySide.get(k)));
  const ours = await ourBlas();
  for (const s of sides) s.blas = s.engine === 'ours' ? ours : s.engine === 'mlx-lm' ? s.info.blas_kernel : { library: 'none (ggml CPU kernels)', corename: s.info.ggml_cpu?.join(', ') || null };
  const comparisons = comparisonRows(sides);

  const report = {
    benchmark: 'generate',
    command: `node benchmarks/generate.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    git: gitState(),
    date: new Date().toISOString(),
    machine: machine(),
    model: folders.quant,
    f32_model: folders.f32 ?? null,
    gguf: context.gguf ?? null,
    max_tokens: maxTokens,
    reps,
    warmup,
    order: rounds.order.map(([round, key]) => `${round + 1}:${SIDES[key].name}`),
    sides: sides.map((s) => ({ ...s, results: s.results.map(({ tokens, ...r }) => r) })),
    comparisons,
  };
  console.log(JSON.stringify(report));
  if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
  if (values.json) return;
  printReport(report);
}

function printReport(report) {
  const m = report.machine;
  console.log(`\ngenerate: ${report.max_tokens} generated tokens, greedy; ${report.reps} rounds, sides interleaved, ${report.warmup} warm-up run(s) per process; median [min–max]`);
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB; node ${m.node}`);
  for (const s of report.sides) {
    console.log(`  ${s.name}: ${s.weights}; ${s.kernels}; BLAS ${blasText(s.blas)}; ${s.batching}; load ${s.info.load_seconds.toFixed(2)} s`);
  }
  const rows = [['side', 'prompt', 'batch', 'timed', 'prompt tok/s', 'decode tok/s', 'peak MiB (MLX)', 'max RSS MiB']];
  for (const s of report.sides) {
    for (const r of s.results) rows.push([s.name, r.prompt_tokens, r.batch, r.timed_runs, spreadText(r.prompt_tps, fmt.tps), spreadText(r.generation_tps, fmt.tps), r.peak_memory ? fmt.mb(r.peak_memory.median) : '—', fmt.mb(s.info.max_rss.median)]);
  }
  console.log('\n' + table(rows));
  if (!report.comparisons.length) return;
  const rr = [['comparison', 'A / B', 'prompt', 'batch', 'prefill', 'decode', 'max RSS', 'same greedy tokens']];
  const ratio = (s) => spreadText(s, (x) => fmt.ratio(x));
  for (const r of report.comparisons) rr.push([`${r.kind}: ${r.id}`, `${r.ours} / ${r.other}`, r.prompt_tokens, r.batch, ratio(r.prompt_spread), ratio(r.decode_spread), fmt.ratio(r.max_rss), r.same_tokens === null ? '—' : `${r.same_tokens}/${report.max_tokens}`]);
  console.log('\n' + table(rr));
}

try {
  if (values.worker) await worker(positionals[0], values.compute, values.grammar);
  else await main();
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
