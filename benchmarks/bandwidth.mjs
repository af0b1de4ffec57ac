#!/usr/bin/env node
// Decode against the memory-bandwidth bound, in one process: decoding one token must read every
// weight its matmuls use plus the KV cache, so tokens/s can be at most
//   copy bandwidth / bytes read per token.
// This script measures the copy bandwidth (Buffer.copy of a --copy-mb buffer: bytes copied per
// second, on one thread and split over --copy-threads threads at once; the best of several
// copies before and after the decode runs), decodes batch 1 with our
// generate (greedy, exactly --max-tokens tokens after a --prompt-tokens prompt, --warmup runs,
// then --reps), and reports decode tok/s × bytes per token ÷ copy bandwidth as a fraction (the
// goal: ≥ 60%). Bytes per token (lib/decode-bytes.mjs) follow the compute policy the model was
// loaded with: the stored weights under "auto" on CPU (our kernels), float32 copies under
// "float32"; KV cache bytes at the
// mean position of the decode (prompt + max_tokens / 2).
//
// Usage: node benchmarks/bandwidth.mjs [--model DIR] [--compute auto] [--prompt-tokens 128]
//          [--max-tokens 128] [--reps 3] [--warmup 1] [--copy-mb 512] [--copy-threads N]
//          [--json] [--out FILE]
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, SMOLLM2_DIR, load1 } from './lib/env.mjs';
import { copyRatesParallel, copyRatesSingle } from './lib/copy-bandwidth.mjs';
import { decodeBytesPerToken } from './lib/decode-bytes.mjs';
import { promptIds } from './lib/prompt.mjs';
import { fmt, machine, median, table } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: SMOLLM2_DIR },
    compute: { type: 'string', default: 'auto' },
    'prompt-tokens': { type: 'string', default: '128' },
    'max-tokens': { type: 'string', default: '128' },
    reps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'copy-mb': { type: 'string', default: '512' },
    'copy-reps': { type: 'string', default: '5' },
    'copy-threads': { type: 'string', default: String(availableParallelism()) },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const log = (msg) => process.stderr.write(`[bench:bandwidth] ${msg}\n`);
const GB = 1e9;

/** Copy rates on one thread and on `threads` threads at once, bytes per second. */
async function copyBandwidth(mb, reps, threads) {
  const bytes = mb * 2 ** 20;
  return { single: copyRatesSingle(bytes, reps), parallel: threads > 1 ? await copyRatesParallel(bytes, reps, threads) : [] };
}

/** Prompt ids: the counting prompt with a tokenizer, else deterministic ids below the vocabulary. */
function prompt(model, length, hasTokenizer) {
  if (hasTokenizer) return promptIds(model.tokenizer, length);
  return Array.from({ length }, (_, i) => (i * 7919 + 13) % model.config.vocabSize);
}

async function main() {
  const dir = resolve(values.model);
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`${dir}: not a model folder (no config.json)`);
  const [promptTokens, maxTokens, reps, warmup] = ['prompt-tokens', 'max-tokens', 'reps', 'warmup'].map((k) => Number(values[k]));
  const [copyMb, copyReps, copyThreads] = ['copy-mb', 'copy-reps', 'copy-threads'].map((k) => Number(values[k]));
  const loadBefore = load1();
  const before = await copyBandwidth(copyMb, copyReps, copyThreads);

  const { loadModel, runtime } = await import('../dist/index.js');
  const { nativeHandle } = await import('../dist/model/model.js');
  const hasTokenizer = existsSync(join(dir, 'tokenizer.json'));
  const model = await loadModel(dir, { compute: values.compute, tokenizer: hasTokenizer });
  const ids = prompt(model, promptTokens, hasTokenizer);
  const runs = [];
  for (let i = 0; i < warmup + reps; i++) {
    const [g] = await model.generateBatch([{ tokens: ids }], { maxTokens, temperature: 0 });
    if (i >= warmup) runs.push({ decode_tps: g.generationTps, generated: g.generationTokens, peak_memory: g.peakMemory });
  }
  const compute = model.compute;
  const parameterBytes = nativeHandle(model).info().parameterBytes;
  model.dispose();
  const after = await copyBandwidth(copyMb, copyReps, copyThreads);
  const single = [...before.single, ...after.single];
  const parallel = [...before.parallel, ...after.parallel];
  const copies = [...single, ...parallel];
  const bandwidth = Math.max(...copies); // the best copy, on any number of threads: the strictest bound
  const position = promptTokens + maxTokens / 2;
  const bytes = decodeBytesPerToken(dir, { computeMode: compute.mode, position });
  const decodeTps = median(runs.map((r) => r.decode_tps));
  const report = {
    benchmark: 'bandwidth',
    date: new Date().toISOString(),
    machine: machine(),
    model: dir,
    mlx: runtime().mlxVersion,
    compute,
    parameter_bytes: parameterBytes,
    prompt_tokens: promptTokens,
    max_tokens: maxTokens,
    reps,
    warmup,
    copy: { mb: copyMb, threads: copyThreads, single, parallel, best: bandwidth, best_single: Math.max(...single), best_parallel: parallel.length ? Math.max(...parallel) : null, median: median(copies) },
    bytes_per_token: { ...bytes, position },
    runs,
    decode_tps: { median: decodeTps, best: Math.max(...runs.map((r) => r.decode_tps)) },
    bound_tps: bandwidth / bytes.total,
    fraction: (decodeTps * bytes.total) / bandwidth,
    fraction_best: (Math.max(...runs.map((r) => r.decode_tps)) * bytes.total) / bandwidth,
    loadavg: [loadBefore, load1()],
  };
  console.log(JSON.stringify(report));
  if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
  if (values.json) return;
  console.log(`\nbandwidth: ${dir.replace(ROOT + '/', '')}, compute ${compute.mode}, batch 1, ${promptTokens} prompt + ${maxTokens} generated tokens, ${reps} reps; machine load ${report.loadavg.join('→')}`);
  console.log(table([
    ['quantity', 'value'],
    ['copy bandwidth, best (1 thread / all threads)', `${(bandwidth / GB).toFixed(1)} GB/s (${(report.copy.best_single / GB).toFixed(1)} / ${report.copy.best_parallel ? (report.copy.best_parallel / GB).toFixed(1) : '—'} on ${copyThreads})`],
    ['weight bytes read per token', `${fmt.mb(bytes.weights)} MiB`],
    [`KV cache bytes at position ${position}`, `${fmt.mb(bytes.kv)} MiB`],
    ['bound (bandwidth / bytes per token)', `${fmt.tps(report.bound_tps)} tok/s`],
    ['decode, median (best)', `${fmt.tps(decodeTps)} (${fmt.tps(report.decode_tps.best)}) tok/s`],
    ['fraction of the bound (goal ≥ 60%)', `${(report.fraction * 100).toFixed(1)}%`],
  ]));
}

try {
  await main();
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
