// llama.cpp side of benchmarks/generate.mjs: node-llama-cpp's prebuilt CPU build on the SmolLM2
// GGUF, batch 1, greedy, on the same prompt token ids; prints one JSON line in the shape of the
// other sides (mlx_lm_generate.py). Prefill tokens/s = prompt tokens / time to the first token;
// decode tokens/s = generated tokens / time from the first to the last token (mlx-lm's
// definitions). The sequence is cleared before every run: each run prefills the whole prompt.
// Batch > 1 configurations are skipped (a batch-1 peer). EOS is not special: evaluate() yields
// tokens until we stop, so every run generates exactly max_tokens tokens.
//
// Usage: node benchmarks/lib/llama_cpp_generate.mjs JOB.json MODULE GGUF THREADS
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { peakRss } from './stats.mjs';

const mappedFiles = () => [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)[5]).filter((p) => p?.startsWith('/')))];

async function run(sequence, prompt, maxTokens) {
  await sequence.clearHistory();
  const t0 = performance.now();
  let first;
  const tokens = [];
  for await (const t of sequence.evaluate(prompt, { temperature: 0 })) {
    first ??= performance.now();
    tokens.push(t);
    if (tokens.length >= maxTokens) break;
  }
  const last = performance.now();
  return {
    stats: {
      prompt_tokens: prompt.length,
      prompt_tps: prompt.length / ((first - t0) / 1e3),
      generation_tokens: tokens.length,
      generation_tps: tokens.length / ((last - first) / 1e3),
      peak_memory: null, // no MLX allocator here: see max_rss
    },
    tokens,
  };
}

async function main() {
  const [jobFile, modulePath, gguf, threadsArg] = process.argv.slice(2);
  const job = JSON.parse(readFileSync(jobFile, 'utf8'));
  const threads = Number(threadsArg);
  const { getLlama, LlamaLogLevel } = await import(pathToFileURL(modulePath).href);
  const pkg = JSON.parse(readFileSync(new URL('../package.json', pathToFileURL(modulePath)), 'utf8'));
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: threads });
  const tic = performance.now();
  const model = await llama.loadModel({ modelPath: gguf });
  const longest = Math.max(...job.configs.map((c) => c.prompt.length + c.max_tokens));
  const context = await model.createContext({ contextSize: longest + 16, batchSize: longest + 16, threads });
  const loadSeconds = (performance.now() - tic) / 1e3;
  const sequence = context.getSequence();
  const out = {
    engine: `node-llama-cpp ${pkg.version}`,
    llama_cpp: llama.llamaCppRelease,
    build: llama.buildType,
    gpu: llama.gpu,
    threads,
    system_info: llama.systemInfo,
    // The ggml CPU back end picked for this CPU (node-llama-cpp ships one per instruction set).
    ggml_cpu: mappedFiles().filter((p) => /libggml-cpu/.test(p)).map((p) => p.split('/').pop()),
    load_seconds: loadSeconds,
    results: [],
  };
  for (const cfg of job.configs) {
    if (cfg.batch !== 1) continue;
    const runs = [];
    let tokens;
    for (let i = 0; i < job.warmup + job.reps; i++) {
      const r = await run(sequence, cfg.prompt, cfg.max_tokens);
      if (i < job.warmup) continue;
      runs.push(r.stats);
      tokens ??= r.tokens;
    }
    out.results.push({ prompt_tokens: cfg.prompt.length, batch: 1, max_tokens: cfg.max_tokens, runs, tokens });
  }
  out.max_rss = peakRss();
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  console.log(JSON.stringify(out));
}

await main();
