#!/usr/bin/env node
// LoRA training benchmark, side by side with mlx-lm on the same model folder, data and settings,
// in one run: training tokens/s, it/s and peak MLX memory for
//   - ours: train() from dist/ (the native trainer), per compute mode (--compute: "auto" = our CPU
//     policy: the stored 4-bit base, a float32 weight made per matmul call for training batches;
//     "float32" = float32 copies of the quantized weights kept; "native" = the quantized base with
//     MLX's kernels, as mlx-lm trains);
//   - mlx-lm as users install it (the project venv: the wheel's vendored reference BLAS), and
//   - mlx-lm on the same libmlx and the same BLAS files as ours (scripts/bench-venv.sh
//     same-blas): the like-for-like comparison.
// The data is the tool-format training set (writeToolFormatData: chat examples with the suite's
// ~380-token system prompt), its lines sorted by token count, written once into a temporary
// folder that every side reads: sorted data gives both sides the same batches in the same order
// (the "same batches" column checks it; in our runs the losses of ours "float32" (then "auto") and mlx-lm
// "-f32" were bit-identical, and float32 vs quantized weights differed by ~2e-4 relative).
// Every side runs in its own fresh process with the same settings (LoRA rank/scale/num_layers,
// batch size, Adam with a constant learning rate, mask_prompt, seed, no validation, a report per
// iteration). The first --warmup iterations (graph building, allocator growth) are not timed;
// tokens/s = target tokens / training seconds over the rest. "Tokens" are mlx-lm's: the
// unmasked next-token targets of a batch (mask.sum(); with mask_prompt only the replies, ~45 of
// the ~450 tokens each example runs through the model).
//
// Time: QLoRA (the quantized base; ours with --compute native, mlx-lm on the folder as it is)
// runs MLX's CPU quantized kernels, over a minute per iteration here, so each side trains for
// --max-seconds (at least --min-iters iterations) or --iters, whichever ends first; a side
// that ran a single iteration is timed on it, warm-up included. The defaults take ~5 minutes on
// 2 cores; for steadier numbers: --max-seconds 0 --iters 30 --rounds 2 (rounds alternate the
// sides, the median round is reported; on a shared machine also look at "best iteration").
//
// Sides: --compute auto,float32,native (ours); --baselines from
//   same-blas-f32  mlx-lm on the same libmlx and BLAS as ours, the model dequantized to float32:
//                  the same math as our "float32" (kept copies): like-for-like with it;
//   same-blas      mlx-lm on the same libmlx and BLAS, the quantized folder as it is (QLoRA):
//                  like-for-like with our "native";
//   stock          mlx-lm as users install it (reference BLAS), the quantized folder (QLoRA);
//   stock-f32      as users install it, dequantized to float32.
// Data (--data-kinds, lib/train-data.mjs): "shared-prefix" (the tool-format data: one system
// prompt in every example, which our trainer runs once) and "no-prefix" (each example's system
// prompt words shuffled): the ratio on each shows the engine, their difference our prefix reuse.
// Every side × data kind runs once per round, interleaved (--rounds); tokens/s is the median
// over rounds [min–max], ratios the median of the per-round ratios.
// Prints one JSON line, then a table with the ratios ours / mlx-lm.
//
// Usage: node benchmarks/train.mjs [--model DIR] [--data DIR] [--examples 100] [--iters 20]
//          [--warmup 2] [--max-seconds 25] [--min-iters 1] [--rounds 1] [--batch 1]
//          [--num-layers 8] [--rank 8] [--scale 20] [--lr 1e-4] [--seed 42] [--grad-accum 1]
//          [--no-mask-prompt] [--max-seq-length 2048] [--compute auto,float32,native]
//          [--baselines same-blas-f32,same-blas,stock|none]
//          [--data-kinds shared-prefix,no-prefix] [--json] [--verbose] [--out FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchPython, blasText, loadedBlas, ourBlas, runJson as runSide } from './lib/env.mjs';
import { fmt, interleaved, machine, median, pairedRatio, spread, spreadText, table } from './lib/stats.mjs';
import { dataKindLines } from './lib/train-data.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: join(ROOT, '.cache', 'models', 'smollm2-mlx-ref') },
    data: { type: 'string' },
    examples: { type: 'string', default: '100' },
    iters: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    batch: { type: 'string', default: '1' },
    'num-layers': { type: 'string', default: '8' },
    rank: { type: 'string', default: '8' },
    scale: { type: 'string', default: '20' },
    lr: { type: 'string', default: '1e-4' },
    seed: { type: 'string', default: '42' },
    'grad-accum': { type: 'string', default: '1' },
    'no-mask-prompt': { type: 'boolean', default: false },
    'max-seq-length': { type: 'string', default: '2048' },
    'max-seconds': { type: 'string', default: '25' },
    'min-iters': { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    'data-kinds': { type: 'string', default: 'shared-prefix,no-prefix' },
    compute: { type: 'string', default: 'auto,float32,native' },
    baselines: { type: 'string', default: 'same-blas-f32,same-blas,stock' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    out: { type: 'string' },
    worker: { type: 'boolean', default: false },
  },
});

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const log = (msg) => process.stderr.write(`[bench:train] ${msg}\n`);

// ------------------------------------------------------------------ worker: our side
async function worker(jobFile, compute) {
  const job = JSON.parse(readFileSync(jobFile, 'utf8'));
  const { loadModel, runtime, train, defaultTrainConfig, loadData } = await import('../dist/index.js');
  const { native } = await import('../dist/core/native.js');
  const gflops = (await native().matmulBenchmark(1024, 10, 'float32')).gflops;
  const tic = performance.now();
  const model = await loadModel(job.model, { compute });
  const loadSeconds = (performance.now() - tic) / 1e3;
  const config = {
    ...defaultTrainConfig(),
    model: job.model,
    data: job.data,
    train: true,
    iters: job.iters,
    batch_size: job.batch_size,
    num_layers: job.num_layers,
    learning_rate: job.learning_rate,
    mask_prompt: job.mask_prompt,
    seed: job.seed,
    grad_accumulation_steps: job.grad_accumulation_steps,
    max_seq_length: job.max_seq_length,
    lora_parameters: { ...defaultTrainConfig().lora_parameters, ...job.lora_parameters },
    steps_per_report: 1,
    save_every: job.iters + 1,
    adapter_path: join(job.adapter_root, `ours-${compute}`),
  };
  const splits = loadData(job.data, model.tokenizer, { maskPrompt: job.mask_prompt });
  const iterations = [];
  let trainable = 0;
  let lastStep;
  const t0 = performance.now();
  const result = await train(config, {
    model,
    data: { ...splits, valid: null, test: null }, // no validation, like the mlx-lm side
    // The time budget of a side, as the mlx-lm driver applies it.
    onStep: (e) =>
      job.max_seconds != null && e.iteration >= job.min_iters && (performance.now() - t0) / 1e3 >= job.max_seconds
        ? { stop: true, reason: 'time budget' }
        : undefined,
    onEvent: (e) => {
      if (e.event === 'start') trainable = e.trainableParameters;
      else if (e.event === 'step') lastStep = e;
      else if (e.event === 'report') {
        iterations.push({
          iteration: e.iteration,
          loss: e.trainLoss,
          tokens: lastStep.tokens,
          seconds: 1 / e.itPerSec,
          tokens_per_second: e.tokensPerSec,
          lr: e.lr,
          peak_memory: e.peakMemory,
        });
      }
    },
  });
  const wall = (performance.now() - t0) / 1e3;
  const out = {
    mlx: runtime().mlxVersion,
    device: runtime().device,
    compute: model.compute,
    blas: loadedBlas(),
    blas_kernel: native().runtime().blas ?? null,
    matmul_gflops: gflops,
    load_seconds: loadSeconds,
    train_examples: splits.train.length,
    trainable_parameters: trainable,
    train_wall_seconds: wall,
    stop: result.stopReason === 'callback' ? 'time budget' : result.stopReason,
    // CPU time of the whole process (user, and kernel: OpenBLAS's spinning threads, page faults).
    cpu_user_seconds: process.resourceUsage().userCPUTime / 1e6,
    cpu_sys_seconds: process.resourceUsage().systemCPUTime / 1e6,
    iterations,
  };
  model.dispose();
  console.log(JSON.stringify(out));
}

// ------------------------------------------------------------------ driver
// One side in a fresh process (benchmarks/lib/env.mjs), logged with this benchmark's prefix.
const runJson = (cmd, args, label) => runSide(cmd, args, { label, log, quiet: !values.verbose });

/**
 * The mlx-lm sides: the venv (stock = as users install it, same-blas = the same libmlx and BLAS as ours)
 * and the weights (the folder's quantized ones = QLoRA, or "-f32": dequantized to float32 in
 * the driver, plain LoRA: the same math as our "float32" compute).
 */
const BASELINES = ['stock', 'same-blas', 'stock-f32', 'same-blas-f32'];

/**
 * Copy a data folder's train.jsonl into `dest`, its lines stably sorted by token count (our
 * tokenization, as the trainer sees it). mlx-lm 0.32 "sorts" chat records by their number of JSON
 * keys (a no-op here: ml-explore/mlx-lm#596) and our BatchIterator by tokens; on pre-sorted data
 * both keep the file order, so with the same seeded permutation both sides train on the same
 * batches in the same order (the table's "same batches" column checks it).
 */
function sortedTrainCopy(lines, dest, tokenizer, loadData, maskPrompt) {
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(dest, 'train.jsonl'), lines.join('\n') + '\n');
  const ds = loadData(dest, tokenizer, { maskPrompt }).train;
  const lengths = ds.lengths();
  const order = lines.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  writeFileSync(join(dest, 'train.jsonl'), order.map((i) => lines[i]).join('\n') + '\n');
  const total = lengths.reduce((a, x) => a + x, 0);
  return { examples: lines.length, mean_tokens: total / lines.length, min_tokens: Math.min(...lengths), max_tokens: Math.max(...lengths) };
}

/** Throughput over the iterations after warm-up, and the loss curve. */
function summarize(raw, warmup) {
  const its = raw.iterations;
  const timed = its.slice(Math.min(warmup, Math.max(0, its.length - 1)));
  const seconds = timed.reduce((a, x) => a + x.seconds, 0);
  const tokens = timed.reduce((a, x) => a + x.tokens, 0);
  return {
    iterations: its.length,
    timed_iterations: timed.length,
    tokens_per_sec: tokens / seconds,
    it_per_sec: timed.length / seconds,
    median_iteration_tps: median(timed.map((x) => x.tokens_per_second)),
    best_iteration_tps: Math.max(...timed.map((x) => x.tokens / x.seconds)),
    timed_tokens: tokens,
    timed_seconds: seconds,
    warmup_seconds: its.slice(0, its.length - timed.length).reduce((a, x) => a + x.seconds, 0),
    peak_memory: Math.max(...its.map((x) => x.peak_memory)),
    first_loss: its[0]?.loss,
    last_loss: its.at(-1)?.loss,
    losses: its.map((x) => x.loss),
    tokens: its.map((x) => x.tokens),
  };
}

/** What each side runs (weights, kernels, batching); its BLAS is read from its process. */
function describe(compute, baseline) {
  if (compute) {
    const batching = `batch ${values.batch}, shared prefix run once when the data has one`;
    if (compute === 'native') return { weights: 'stored 4-bit base (QLoRA)', kernels: 'MLX quantized matmul (CPU)', batching };
    if (compute === 'float32') return { weights: 'float32 copies of the 4-bit base, kept', kernels: 'MLX f32 matmul on BLAS', batching };
    return { weights: 'stored 4-bit base, a float32 weight made per call (our CPU policy)', kernels: 'MLX f32 matmul on BLAS (training batches); mlx-lab kernel for <= 32 rows', batching };
  }
  return baseline.endsWith('-f32')
    ? { weights: 'base dequantized to float32 in the driver', kernels: 'MLX f32 matmul on BLAS', batching: `batch ${values.batch}, every token of every example` }
    : { weights: 'stored 4-bit base (QLoRA)', kernels: 'MLX quantized matmul (CPU)', batching: `batch ${values.batch}, every token of every example` };
}

/** The runners of one data kind: ours per compute mode, mlx-lm per baseline (venv[-f32]). */
function sideRunners(job, data, computes, baselines, tmp) {
  const runners = [];
  const jobFile = join(tmp, `job-${data}.json`);
  const { adapter_root, ...rest } = job;
  writeFileSync(jobFile, JSON.stringify({ ...job, adapter_root: join(adapter_root, data) }));
  for (const c of computes) {
    runners.push({ name: `ours ${c} [${data}]`, side: `ours ${c}`, data, kind: 'ours', compute: c, ...describe(c), run: () => runJson(process.execPath, [fileURLToPath(import.meta.url), '--worker', '--compute', c, jobFile], `ours (compute ${c}, ${data})`) });
  }
  for (const b of baselines) {
    const f32 = b.endsWith('-f32');
    const py = benchPython(f32 ? b.slice(0, -4) : b);
    const pyJob = join(tmp, `mlx-lm-${b}-${data}.json`);
    writeFileSync(pyJob, JSON.stringify({ ...rest, adapter_path: join(tmp, `mlx-lm-${b}-${data}`), float32: f32 }));
    runners.push({ name: `mlx-lm ${b} [${data}]`, side: `mlx-lm ${b}`, data, kind: 'mlx-lm', baseline: b, ...describe(null, b), run: () => runJson(py, [join(HERE, 'lib', 'mlx_lm_lora.py'), pyJob], `mlx-lm ${b} (${data})`) });
  }
  return runners;
}

/** One side's rounds → its median round, the spread over rounds and the iterations timed in all. */
function combineRounds(r, rs, ours) {
  const tps = rs.map((x) => x.result.tokens_per_sec);
  const mid = rs.find((x) => x.result.tokens_per_sec === median(tps)) ?? [...rs].sort((a, b) => a.result.tokens_per_sec - b.result.tokens_per_sec)[rs.length >> 1];
  return {
    ...r,
    blas: r.kind === 'ours' ? ours : mid.info.blas_kernel,
    info: mid.info,
    result: {
      ...mid.result,
      tokens_per_sec: median(tps),
      tokens_per_sec_spread: spread(tps),
      rounds_tokens_per_sec: tps,
      timed_iterations_total: rs.reduce((n, x) => n + x.result.timed_iterations, 0),
      best_round_tokens_per_sec: Math.max(...tps),
      best_iteration_tps: Math.max(...rs.map((x) => x.result.best_iteration_tps)),
    },
    loadavg: rs.map((x) => x.info.loadavg),
  };
}

/**
 * What a pair compares: like-for-like when both run the same weights and kernels on the same
 * libmlx and BLAS (ours float32 vs mlx-lm same-blas-f32: float32; ours native vs mlx-lm same-blas:
 * QLoRA), else our policy and engine against that mlx-lm.
 */
function pairKind(o, m) {
  const like = (o.compute === 'float32' && m.baseline === 'same-blas-f32') || (o.compute === 'native' && m.baseline === 'same-blas');
  return like ? 'like-for-like' : 'policy + engine';
}

/** The largest relative difference between two loss curves (same batches, same order?). */
function lossAgreement(a, b) {
  const n = Math.min(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1e-12));
  return { n, max_rel: worst };
}

async function main() {
  const modelDir = resolve(values.model);
  if (!existsSync(join(modelDir, 'config.json'))) throw new Error(`${modelDir}: not a model folder (no config.json); mlx-lm needs an MLX/HF folder`);
  const num = (k) => {
    const x = Number(values[k]);
    if (!Number.isFinite(x)) throw new Error(`--${k}: not a number (${values[k]})`);
    return x;
  };
  const iters = num('iters');
  const warmup = num('warmup');
  if (warmup >= iters) throw new Error(`--warmup ${warmup} leaves no timed iterations of --iters ${iters}`);
  const computes = list(values.compute);
  const baselines = values.baselines === 'none' ? [] : list(values.baselines);
  for (const b of baselines) if (!BASELINES.includes(b)) throw new Error(`--baselines: unknown "${b}" (${BASELINES.join(', ')} or none)`);

  const dataKinds = list(values['data-kinds']);
  const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-bench-train-'));
  const sides = [];
  const dataStats = {};
  let job;
  let rounds;
  try {
    const { Tokenizer, loadData } = await import('../dist/index.js');
    const tokenizer = Tokenizer.fromFolder(modelDir);
    let source = values.data ? resolve(values.data) : join(tmp, 'generated');
    if (!values.data) {
      const { loadSuite } = await import('../dist/eval/index.js');
      const { writeToolFormatData } = await import('../dist/demo/generate-data.js');
      const suite = await loadSuite(join(ROOT, 'examples', 'tool-format', 'suite.yaml'));
      writeToolFormatData({ dir: source, n: num('examples'), valid: 0, seed: num('seed'), heldOut: suite });
    }
    const maskPrompt = !values['no-mask-prompt'];
    const file = existsSync(join(source, 'train.jsonl')) ? join(source, 'train.jsonl') : source;
    const sourceLines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
    job = {
      model: modelDir,
      adapter_root: tmp,
      iters,
      batch_size: num('batch'),
      num_layers: num('num-layers'),
      learning_rate: num('lr'),
      mask_prompt: maskPrompt,
      seed: num('seed'),
      grad_accumulation_steps: num('grad-accum'),
      max_seq_length: num('max-seq-length'),
      lora_parameters: { rank: num('rank'), scale: num('scale'), dropout: 0 },
      optimizer: 'adam',
      max_seconds: num('max-seconds') > 0 ? num('max-seconds') : null,
      min_iters: Math.max(1, num('min-iters')),
    };
    const runners = [];
    for (const kind of dataKinds) {
      const data = join(tmp, `data-${kind}`);
      dataStats[kind] = sortedTrainCopy(dataKindLines(kind, sourceLines, num('seed')), data, tokenizer, loadData, maskPrompt);
      runners.push(...sideRunners({ ...job, data }, kind, computes, baselines, tmp));
    }
    // Rounds interleave every side and data kind (A B C A B C ...), so that a burst of load from
    // elsewhere on a shared machine does not land on one side only.
    rounds = await interleaved(runners, num('rounds'), (r) => {
      const load = loadavg()[0];
      const raw = r.run();
      return { info: { ...raw, iterations: undefined, loadavg: [load, loadavg()[0]] }, result: summarize(raw, warmup) };
    });
    const ours = await ourBlas();
    for (const { run, ...r } of runners) sides.push(combineRounds(r, rounds.bySide.get(r.name), ours));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const ratios = [];
  for (const o of sides.filter((s) => s.kind === 'ours')) {
    for (const m of sides.filter((s) => s.kind === 'mlx-lm' && s.data === o.data)) {
      const kind = pairKind(o, m);
      const paired = pairedRatio(o.result.rounds_tokens_per_sec, m.result.rounds_tokens_per_sec);
      ratios.push({
        ours: o.side,
        mlx_lm: m.side,
        data: o.data,
        kind,
        like: kind === 'like-for-like',
        tokens_per_sec: paired.median,
        tokens_per_sec_spread: paired,
        best_iteration: o.result.best_iteration_tps / m.result.best_iteration_tps,
        memory: o.result.peak_memory / m.result.peak_memory,
        // Same target-token counts at every common iteration: the same batches, in the same order.
        same_batches: o.result.tokens.every((t, i) => i >= m.result.tokens.length || t === m.result.tokens[i]),
        loss: lossAgreement(o.result.losses, m.result.losses),
      });
    }
  }
  // Our own prefix reuse: the same side on data with a shared prefix / on data without one.
  const prefix = [];
  for (const a of sides.filter((s) => s.data === 'shared-prefix')) {
    const b = sides.find((s) => s.side === a.side && s.data === 'no-prefix');
    if (b) prefix.push({ side: a.side, shared_over_none: median(a.result.rounds_tokens_per_sec) / median(b.result.rounds_tokens_per_sec) });
  }

  const { adapter_root, ...settings } = job;
  const report = {
    benchmark: 'train',
    date: new Date().toISOString(),
    machine: machine(),
    model: modelDir,
    data: values.data ? resolve(values.data) : 'tool-format (writeToolFormatData)',
    data_stats: dataStats,
    settings: { ...settings, warmup },
    data_kinds: dataKinds,
    rounds: num('rounds'),
    order: rounds.order.map(([round, name]) => `${round + 1}:${name}`),
    sides: sides.map((s) => ({ ...s, result: { ...s.result, tokens: undefined } })),
    ratios,
    prefix_reuse: prefix,
  };
  console.log(JSON.stringify(report));
  if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
  if (values.json) return;

  const m = report.machine;
  console.log(
    `\ntrain: ${modelDir.replace(ROOT + '/', '')}, ${report.data} (${Object.entries(dataStats).map(([k, d]) => `${k}: ${d.examples} examples, ${d.mean_tokens.toFixed(0)} tokens each on average`).join('; ')}), LoRA rank ${job.lora_parameters.rank} scale ${job.lora_parameters.scale}, ` +
      `num_layers ${job.num_layers}, batch ${job.batch_size}, adam lr ${job.learning_rate}, mask_prompt ${job.mask_prompt}, grad accum ${job.grad_accumulation_steps}, seed ${job.seed}; ` +
      `${iters} iterations, the first ${warmup} not timed; ${report.rounds} rounds, sides interleaved`,
  );
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB; node ${m.node}`);
  for (const s of sides) {
    const c = s.info.compute;
    const extra = s.kind === 'ours' ? `compute ${c?.mode ?? 'n/a'}${c?.extraBytes ? ` (+${fmt.mb(c.extraBytes)} MiB of f32 copies)` : ''}` : `mlx-lm ${s.info.mlx_lm}`;
    console.log(
      `  ${s.name}: ${s.weights}; ${s.kernels}; ${s.batching}; MLX ${s.info.mlx}, BLAS ${blasText(s.blas)} (f32 matmul ${s.info.matmul_gflops.toFixed(0)} GFLOP/s), load ${s.info.load_seconds.toFixed(2)} s, ` +
        `${s.info.trainable_parameters} trainable, ${extra}; CPU ${s.info.cpu_user_seconds.toFixed(0)} s user + ${s.info.cpu_sys_seconds.toFixed(0)} s sys in ${s.info.train_wall_seconds.toFixed(0)} s of training; machine load ${s.loadavg.map((l) => l.map((x) => x.toFixed(1)).join('→')).join(', ')}`,
    );
  }
  const rows = [['side', 'tokens/s median [min–max]', 'it/s', 'it tok/s median (best)', 'iters (timed, all rounds)', 'timed tokens', 'timed s', 'warm-up s', 'peak MiB', 'loss first→last']];
  for (const s of sides) {
    const r = s.result;
    rows.push([
      s.name,
      spreadText(r.tokens_per_sec_spread, fmt.tps),
      r.it_per_sec.toFixed(2),
      `${fmt.tps(r.median_iteration_tps)} (${fmt.tps(r.best_iteration_tps)})`,
      `${r.iterations} (${r.timed_iterations_total})${s.info.stop === 'time budget' ? '*' : ''}`,
      r.timed_tokens,
      r.timed_seconds.toFixed(1),
      r.warmup_seconds.toFixed(1),
      fmt.mb(r.peak_memory),
      `${r.first_loss?.toFixed(3)}→${r.last_loss?.toFixed(3)}`,
    ]);
  }
  console.log('\n' + table(rows));
  if (sides.some((s) => s.info.stop === 'time budget')) console.log(`* stopped by the time budget (--max-seconds ${job.max_seconds} of training per side, at least ${job.min_iters} iterations)`);
  if (ratios.length) {
    const rr = [['kind', 'ours / mlx-lm', 'data', 'tokens/s [min–max]', 'best iteration', 'memory', 'same batches', 'max loss rel diff']];
    for (const r of ratios) rr.push([r.kind, `${r.ours} / ${r.mlx_lm}`, r.data, spreadText(r.tokens_per_sec_spread, fmt.ratio), fmt.ratio(r.best_iteration), fmt.ratio(r.memory), `${r.same_batches ? 'yes' : 'NO'} (${r.loss.n} its)`, r.loss.max_rel.toExponential(1)]);
    console.log('\n' + table(rr));
  }
  if (prefix.length) console.log('\n' + table([['side', 'tokens/s shared-prefix / no-prefix data'], ...prefix.map((x) => [x.side, fmt.ratio(x.shared_over_none)])]));
}

try {
  if (values.worker) await worker(positionals[0], values.compute);
  else await main();
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
