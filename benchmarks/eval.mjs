#!/usr/bin/env node
// Eval benchmark: our in-process format eval of a suite against the reference pipeline's way of
// running it (an `mlx_lm.server` process + one HTTP request per case), same model folder, same
// chats, same max tokens, greedy, same stop strings, in one run:
//   - ours: a fresh Node process per --compute mode: loadModel (timed on its own), then runEval
//     of the suite (cases decoded together in batches, scored in process);
//   - mlx_lm.server, per --baselines venv (stock: the project venv, the wheel's reference BLAS;
//     same-blas: the same libmlx on the same BLAS files as ours; see benchmarks/README.md; a
//     -f32 suffix serves the float32-dequantized copy of the folder instead of the stored 4-bit
//     weights: the same float32 math as our `float32` compute, the like-for-like comparison) and
//     per --server-modes: a fresh server each, start-up (spawn → /health answers → it serves our
//     model folder → a 1-token request has come back, i.e. the model is loaded) timed on its own,
//     then the suite's cases as POST /v1/chat/completions requests: "sequential" one after
//     another, as the reference pipeline did, and "concurrent" all at once, which the server
//     batches (BatchGenerator): the like-for-like comparison with our batched runEval.
// Every side runs once per round (--rounds), the sides interleaved; suite seconds are the median
// [min–max] over rounds, ratios the median of the per-round ratios.
// Prints one JSON line, then a table: suite wall time per side, ratios (suite only, and with
// model load / server start-up), the format score each side's replies get from our scorer, and
// how many reply texts are identical across sides.
//
// The server listens on 127.0.0.1 only, on a free port (checked before the start; --port picks
// one, and the run fails if it is taken), every request has a timeout, and the server's whole
// process group is ended when the run ends (also on failure or Ctrl-C).
//
// Usage: node benchmarks/eval.mjs [--model DIR] [--suite FILE] [--cases 9|N|all] [--max-tokens N]
//          [--batch-size N] [--compute auto[,float32,native]|none]
//          [--baselines stock,same-blas,stock-f32,same-blas-f32|none]
//          [--server-modes sequential,concurrent] [--rounds 1] [--port P] [--request-timeout 300]
//          [--start-timeout 300] [--json] [--out FILE]
// Defaults keep a run under ~10 minutes on 2 cores: 9 of the 27 cases, spread over the suite
// (--cases all: every case), and compute auto only (our CPU policy: mlx-lab's kernels on the
// stored 4-bit weights; float32 = the kept float32 copies, the like-for-like side against the
// -f32 servers; --compute native runs MLX's quantized CPU
// kernels, ~10x slower at prefill: minutes for even 3 cases) against the stock mlx_lm.server only
// (--baselines stock,same-blas adds the venv on our BLAS; the server runs the Q4 model on MLX's
// quantized kernels, so its BLAS barely matters: same replies and speed on 9 cases).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchPython, blasText, ensureFloat32Folder, ourBlas, pythonVersions, runJson as runSide } from './lib/env.mjs';
import { fmt, interleaved, machine, median, pairedRatio, spread, spreadText, table } from './lib/stats.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const HOST = '127.0.0.1';
// The default subset: on a busy 2-core CPU mlx_lm.server takes ~35 s a request (128 tokens), so
// the whole 27-case suite takes ~15 minutes per baseline; 9 cases keep a default run near 6.
// `--cases all` runs every case.
const DEFAULT_CASES = 9;
const BASELINES = ['stock', 'same-blas', 'stock-f32', 'same-blas-f32'];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: join(ROOT, '.cache', 'models', 'smollm2-mlx-ref') },
    suite: { type: 'string', default: join(ROOT, 'examples', 'tool-format', 'suite.yaml') },
    cases: { type: 'string', default: String(DEFAULT_CASES) },
    'max-tokens': { type: 'string' },
    'batch-size': { type: 'string' },
    compute: { type: 'string', default: 'auto' },
    baselines: { type: 'string', default: 'stock' },
    port: { type: 'string' },
    'request-timeout': { type: 'string', default: '300' },
    'start-timeout': { type: 'string', default: '300' },
    rounds: { type: 'string', default: '1' },
    'server-modes': { type: 'string', default: 'sequential,concurrent' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
    worker: { type: 'boolean', default: false },
  },
});

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const log = (msg) => process.stderr.write(`[bench:eval] ${msg}\n`);
const seconds = (t0) => (performance.now() - t0) / 1e3;

/**
 * The suite both sides run: the file's cases (--cases N of them, spread evenly), every case's
 * max_tokens replaced by --max-tokens when given. Both sides call this with the same job.
 */
async function jobSuite(job) {
  const { loadSuite } = await import('../dist/eval/suite.js');
  const suite = await loadSuite(job.suite);
  if (job.cases !== null && job.cases < suite.cases.length) {
    // A subset spread evenly over the suite, so that every part (category) of it is represented.
    const all = suite.cases;
    suite.cases = Array.from({ length: job.cases }, (_, i) => all[Math.floor((i * all.length) / job.cases)]);
  }
  if (job.max_tokens !== null) {
    suite.maxTokens = job.max_tokens;
    for (const c of suite.cases) c.maxTokens = job.max_tokens;
  }
  return suite;
}

// ------------------------------------------------------------------ worker: our side
async function worker(jobFile, compute) {
  const job = JSON.parse(readFileSync(jobFile, 'utf8'));
  const { loadModel, runtime, runEval } = await import('../dist/index.js');
  const suite = await jobSuite(job);
  let tic = performance.now();
  const model = await loadModel(job.model, { compute });
  const loadSeconds = seconds(tic);
  tic = performance.now();
  const result = await runEval(model, suite, { batchSize: job.batch_size ?? undefined });
  const evalSeconds = seconds(tic);
  const out = {
    mlx: runtime().mlxVersion,
    device: runtime().device,
    compute: model.compute,
    load_seconds: loadSeconds,
    suite_seconds: evalSeconds,
    score: result.score,
    score_low: result.low,
    score_high: result.high,
    prompt_tokens: result.promptTokens,
    generation_tokens: result.generationTokens,
    cases: result.cases.map((r) => ({
      id: r.id,
      text: r.text,
      finish: r.finishReason,
      prompt_tokens: r.promptTokens,
      generation_tokens: r.generationTokens,
      score: r.score,
      failure: r.failure,
    })),
  };
  model.dispose();
  console.log(JSON.stringify(out));
}

// ------------------------------------------------------------------ driver helpers
// One side in a fresh process (benchmarks/lib/env.mjs), logged with this benchmark's prefix.
const runJson = (cmd, args, label) => runSide(cmd, args, { label, log });

/** Whether something accepts connections on HOST:port. */
function answers(port) {
  return new Promise((done) => {
    const s = createConnection({ host: HOST, port });
    s.setTimeout(1000);
    s.once('connect', () => { s.destroy(); done(true); });
    s.once('timeout', () => { s.destroy(); done(false); });
    s.once('error', () => done(false));
  });
}

/** Whether this process can listen on HOST:port (0: any); resolves to the port, or null. */
function canListen(port) {
  return new Promise((done) => {
    const srv = createServer();
    srv.once('error', () => done(null));
    srv.listen({ host: HOST, port, exclusive: true }, () => {
      const p = srv.address().port;
      srv.close(() => done(p));
    });
  });
}

/** A free port on 127.0.0.1: --port when given (the run fails if it is taken), else one the OS picks. */
async function freePort(wanted) {
  const port = wanted ?? (await canListen(0));
  if (port === null) throw new Error(`could not find a free port on ${HOST}`);
  if ((await answers(port)) || (await canListen(port)) === null) {
    throw new Error(`port ${port} on ${HOST} is in use by another process; pick another with --port (or leave --port out)`);
  }
  return port;
}

/**
 * One HTTP request to the server. node:http rather than fetch: fetch (undici) gives up when the
 * response headers take more than 300 s, and mlx_lm.server answers a batch of concurrent
 * requests only when their generations end, which on 2 cores takes longer than that.
 */
function http(port, path, { body, timeoutMs }) {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((done, fail) => {
    const headers = data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
    const req = request({ host: HOST, port, path, method: data === undefined ? 'GET' : 'POST', headers, agent: false, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        done({ status: res.statusCode, json, text });
      });
    });
    req.on('error', fail);
    req.end(data);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The mlx_lm.server processes started by this run (process group leaders), ended at exit. */
const servers = new Set();

function stopServer(child) {
  if (!servers.has(child)) return Promise.resolve();
  servers.delete(child);
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const kill = (sig) => {
      try {
        process.kill(-child.pid, sig); // its own process group (spawned detached)
      } catch {
        /* already gone */
      }
    };
    const hard = setTimeout(() => kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(hard);
      kill('SIGKILL'); // anything the server left in its group
      done();
    });
    kill('SIGTERM');
  });
}

function stopAllSync() {
  for (const child of servers) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  servers.clear();
}
process.on('exit', stopAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    stopAllSync();
    process.exit(130);
  });
}

/** One chat request body for a case: what the reference pipeline sent. */
function requestBody(prompt, maxTokens) {
  const body = { messages: prompt.messages, max_tokens: prompt.maxTokens ?? maxTokens, temperature: 0, stream: false };
  if (prompt.tools) body.tools = prompt.tools;
  if (prompt.stop?.length) body.stop = prompt.stop;
  return body;
}

/** Start mlx_lm.server with `python`, time it until it serves the model, run the suite's requests sequentially. */
async function serverSide(python, job, prompts, label, hubCache, mode) {
  const port = await freePort(job.port);
  const args = ['-m', 'mlx_lm', 'server', '--model', job.serverModel, '--host', HOST, '--port', String(port), '--log-level', 'WARNING'];
  log(`${label}: ${[python, ...args].join(' ')}`);
  const stderr = [];
  const t0 = performance.now();
  // An empty, offline Hugging Face cache: /v1/models scans it (and fails when it does not exist).
  const env = { ...process.env, HF_HUB_CACHE: hubCache, HF_HUB_OFFLINE: '1' };
  const child = spawn(python, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  servers.add(child);
  child.stderr.on('data', (d) => {
    stderr.push(d.toString());
    if (stderr.length > 200) stderr.shift();
  });
  let exited = null;
  child.once('exit', (code, sig) => (exited = code ?? sig));
  const tail = () => stderr.join('').trim().split('\n').slice(-15).join('\n');
  const requestMs = job.request_timeout * 1e3;
  try {
    // 1. The HTTP server answers.
    const deadline = performance.now() + job.start_timeout * 1e3;
    for (;;) {
      if (exited !== null) throw new Error(`${label}: the server exited (${exited}) before answering:\n${tail()}`);
      if (performance.now() > deadline) throw new Error(`${label}: no answer on ${HOST}:${port} within ${job.start_timeout} s:\n${tail()}`);
      try {
        const r = await http(port, '/health', { timeoutMs: 2000 });
        if (r.status === 200) break;
      } catch {
        /* not up yet */
      }
      await sleep(100);
    }
    const healthSeconds = seconds(t0);
    // 2. It is our server, serving our model folder (not another process on the port).
    if (exited !== null) throw new Error(`${label}: the server exited (${exited}); whatever answers on port ${port} is not ours`);
    const models = await http(port, '/v1/models', { timeoutMs: 30_000 });
    const ids = models.json?.data?.map((m) => m.id) ?? [];
    if (!ids.includes(job.serverModel)) throw new Error(`${label}: the server on port ${port} does not list ${job.serverModel} (it lists: ${ids.join(', ') || 'nothing'})`);
    // 3. The model is loaded: a 1-token request comes back (mlx_lm.server loads it in its generation thread).
    const ping = await http(port, '/v1/chat/completions', {
      body: { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1, temperature: 0 },
      timeoutMs: job.start_timeout * 1e3,
    });
    if (ping.status !== 200) throw new Error(`${label}: warm-up request failed (HTTP ${ping.status}): ${ping.text.slice(0, 300)}`);
    const startSeconds = seconds(t0);
    log(`${label}: ready on ${HOST}:${port} after ${startSeconds.toFixed(2)} s (HTTP up after ${healthSeconds.toFixed(2)} s)`);

    // 4. The suite: one request per case, one after another (sequential, as the reference
    //    pipeline ran it), or every request at once (concurrent: the server batches them).
    const t1 = performance.now();
    const one = async (p) => {
      const tc = performance.now();
      const r = await http(port, '/v1/chat/completions', { body: requestBody(p, job.max_tokens), timeoutMs: requestMs * (mode === 'concurrent' ? prompts.length : 1) });
      if (r.status !== 200 || !r.json?.choices?.[0]) throw new Error(`${label}: case ${p.id}: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
      const choice = r.json.choices[0];
      let text = choice.message?.content ?? '';
      // mlx_lm.server parses tool calls out of the text for models it knows a tool parser for; put them back as text.
      if (choice.message?.tool_calls?.length) text += choice.message.tool_calls.map((t) => JSON.stringify(t.function ?? t)).join('');
      return {
        id: p.id,
        text,
        finish: choice.finish_reason,
        prompt_tokens: r.json.usage?.prompt_tokens,
        cached_tokens: r.json.usage?.prompt_tokens_details?.cached_tokens ?? null,
        generation_tokens: r.json.usage?.completion_tokens,
        seconds: seconds(tc),
      };
    };
    const cases = [];
    if (mode === 'concurrent') cases.push(...(await Promise.all(prompts.map(one))));
    else for (const p of prompts) cases.push(await one(p));
    const suiteSeconds = seconds(t1);
    log(`${label}: suite ${suiteSeconds.toFixed(2)} s`);
    if (exited !== null) throw new Error(`${label}: the server exited (${exited}) during the run`);
    return { port, mode, health_seconds: healthSeconds, start_seconds: startSeconds, suite_seconds: suiteSeconds, cases };
  } finally {
    await stopServer(child);
  }
}

/** What our side runs: weights, kernels, batching. */
function describeOurs(compute) {
  const kinds = {
    native: ['stored 4-bit', 'MLX quantized matmul (CPU)'],
    float32: ['float32 copies of the 4-bit weights, kept', 'MLX f32 matmul on BLAS'],
    auto: ['stored 4-bit, no copies (our CPU policy)', "mlx-lab's quantized kernel (<= 32 rows), a per-call float32 weight + MLX f32 matmul above"],
  };
  const [weights, kernels] = kinds[compute] ?? kinds.auto;
  return {
    weights,
    kernels,
    batching: `runEval in process: the cases decoded together${values['batch-size'] ? ` in batches of ${values['batch-size']}` : ' in one batch'}`,
  };
}

/** What a server side runs: the stored 4-bit or the float32 folder, batched when the requests come at once. */
function describeServer(mode, f32) {
  return {
    weights: f32 ? 'float32 folder (the 4-bit weights dequantized)' : 'stored 4-bit',
    kernels: f32 ? 'MLX f32 matmul on BLAS' : 'MLX quantized matmul (CPU)',
    batching: mode === 'concurrent' ? 'HTTP, every case at once: the server batches them (BatchGenerator), prompt cache' : 'HTTP, one case after another, prompt cache',
  };
}

/**
 * What a ratio compares. Like for like only when both sides batch the cases (the server gets them
 * at once) and run the same math: our float32 copies against the float32 folder, or our stored
 * 4-bit weights on MLX's kernels against the stored 4-bit weights. Anything else (our `auto`, whose
 * kernels are our own) mixes a policy with the engine.
 */
function ratioKind(ours, server) {
  const sameMath = (ours.policy === 'float32' && server.f32) || (ours.policy === 'native' && !server.f32);
  if (server.mode !== 'concurrent') return `${sameMath ? 'same math' : 'policy + engine'}, the server one request at a time`;
  if (!sameMath) return 'policy + engine: both batch';
  return ours.policy === 'float32' ? 'like-for-like: same float32 math, both batch' : 'like-for-like: same stored 4-bit weights, both batch';
}

/** One side's rounds: the first round's replies, the suite time's median and spread, cases timed. */
function combineRounds(r, rs, blas) {
  const suite = rs.map((x) => x.suite_seconds);
  const setup = rs.map((x) => x.setup_seconds);
  return {
    ...r,
    ...rs[0],
    blas,
    suite_seconds: median(suite),
    suite_seconds_spread: spread(suite),
    rounds_suite_seconds: suite,
    setup_seconds: median(setup),
    timed_cases: rs.reduce((n, x) => n + x.cases.length, 0),
    loadavg: rs.map((x) => x.loadavg),
  };
}

/** A trailing stop string is part of mlx_lm.server's text when it matched on tokens; ours strips it. */
function normalized(text, stops) {
  let t = text;
  for (const s of stops) if (t.endsWith(s)) t = t.slice(0, -s.length);
  return t.trim();
}

async function main() {
  const modelDir = realpathSync(resolve(values.model));
  if (!existsSync(join(modelDir, 'config.json'))) throw new Error(`${modelDir}: not a model folder (no config.json); mlx_lm.server needs an MLX/HF folder`);
  const suitePath = resolve(values.suite);
  const computes = values.compute === 'none' ? [] : list(values.compute);
  const baselines = values.baselines === 'none' ? [] : list(values.baselines);
  for (const b of baselines) if (!BASELINES.includes(b)) throw new Error(`--baselines: unknown "${b}" (${BASELINES.join(', ')} or none)`);
  const serverModes = list(values['server-modes']);
  for (const m of serverModes) if (!['sequential', 'concurrent'].includes(m)) throw new Error(`--server-modes: unknown "${m}" (sequential, concurrent)`);
  const num = (name, v) => {
    if (v === undefined) return null;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: a positive integer, got "${v}"`);
    return n;
  };
  const job = {
    model: modelDir,
    suite: suitePath,
    cases: values.cases === 'all' ? null : num('cases', values.cases),
    max_tokens: num('max-tokens', values['max-tokens']),
    batch_size: num('batch-size', values['batch-size']),
    port: num('port', values.port),
    request_timeout: num('request-timeout', values['request-timeout']),
    start_timeout: num('start-timeout', values['start-timeout']),
    rounds: num('rounds', values.rounds),
  };
  if (job.port !== null && job.port > 65535) throw new Error(`--port: at most 65535`);

  const { suiteMessages } = await import('../dist/eval/suite.js');
  const { scoreCase } = await import('../dist/eval/scorers.js');
  const { summarizeScores } = await import('../dist/eval/stats.js');
  const suite = await jobSuite(job);
  const allCases = (await import('../dist/eval/suite.js').then((m) => m.loadSuite(suitePath))).cases.length;
  const prompts = suite.cases.map((c) => ({ id: c.id, ...suiteMessages(c, suite) }));
  const maxTokensUsed = [...new Set(prompts.map((p) => p.maxTokens ?? 256))];

  const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-bench-'));
  const jobFile = join(tmp, 'job.json');
  writeFileSync(jobFile, JSON.stringify(job));
  const hubCache = join(tmp, 'hf-hub');
  mkdirSync(hubCache);
  const runners = [];
  for (const c of computes) {
    runners.push({ name: `ours ${c}`, kind: 'ours', compute: c, policy: c, ...describeOurs(c), run: () => {
      const raw = runJson(process.execPath, [fileURLToPath(import.meta.url), '--worker', '--compute', c, jobFile], `ours (compute ${c})`);
      log(`ours (compute ${c}): load ${raw.load_seconds.toFixed(2)} s, suite ${raw.suite_seconds.toFixed(2)} s`);
      return { ...raw, setup_seconds: raw.load_seconds };
    } });
  }
  for (const b of baselines) {
    const f32 = b.endsWith('-f32');
    const py = benchPython(b.replace(/-f32$/, ''));
    const info = pythonVersions(py);
    const serverJob = { ...job, serverModel: f32 ? realpathSync(await ensureFloat32Folder(modelDir, log)) : modelDir };
    for (const mode of serverModes) {
      runners.push({ name: `mlx_lm.server ${b} ${mode}`, kind: 'server', baseline: b, f32, mode, ...describeServer(mode, f32), info, run: async () => {
        const raw = await serverSide(py, serverJob, prompts, `mlx_lm.server ${b} (${mode})`, hubCache, mode);
        return { ...info, ...raw, setup_seconds: raw.start_seconds };
      } });
    }
  }
  let rounds;
  try {
    rounds = await interleaved(runners, job.rounds, async (r) => {
      const load = loadavg()[0];
      const raw = await r.run();
      return { ...raw, loadavg: [load, loadavg()[0]] };
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const ours = computes.length ? await ourBlas() : null;
  const sides = runners.map(({ run, info, ...r }) => combineRounds(r, rounds.bySide.get(r.name), r.kind === 'ours' ? ours : info?.blas));

  // Score every side's replies with our scorer (server replies: no stop string known), and compare texts.
  const byId = new Map(suite.cases.map((c) => [c.id, c]));
  const stopsOf = new Map(prompts.map((p) => [p.id, p.stop ?? []]));
  for (const s of sides) {
    if (s.kind !== 'server') continue;
    for (const r of s.cases) {
      const sc = await scoreCase(byId.get(r.id), normalized(r.text, stopsOf.get(r.id)), r.finish);
      r.score = sc.score;
      r.failure = sc.failure;
    }
    const sum = summarizeScores(s.cases.map((r) => ({ score: r.score, category: byId.get(r.id).category, weight: byId.get(r.id).weight })));
    s.score = sum.mean;
    s.score_low = sum.low;
    s.score_high = sum.high;
    s.prompt_tokens = s.cases.reduce((n, r) => n + (r.prompt_tokens ?? 0), 0);
    s.generation_tokens = s.cases.reduce((n, r) => n + (r.generation_tokens ?? 0), 0);
  }
  // Every pair of sides: identical reply texts and equal prompt token counts, case by case.
  const comparisons = [];
  for (let i = 0; i < sides.length; i++) {
    for (let j = i + 1; j < sides.length; j++) {
      const [a, b] = [sides[i], sides[j]];
      let same = 0;
      let samePromptTokens = 0;
      const diverging = [];
      a.cases.forEach((r, k) => {
        const stops = stopsOf.get(r.id);
        const [x, y] = [normalized(r.text, stops), normalized(b.cases[k].text, stops)];
        if (x === y) same++;
        else {
          let n = 0;
          while (n < x.length && n < y.length && x[n] === y[n]) n++;
          diverging.push({ id: r.id, common_prefix_chars: n, lengths: [x.length, y.length] });
        }
        if (r.prompt_tokens === b.cases[k].prompt_tokens) samePromptTokens++;
      });
      comparisons.push({ a: a.name, b: b.name, identical_texts: same, same_prompt_tokens: samePromptTokens, n: a.cases.length, diverging });
    }
  }
  const ratios = [];
  for (const o of sides.filter((s) => s.kind === 'ours')) {
    for (const t of sides.filter((s) => s.kind === 'server')) {
      const suite = pairedRatio(t.rounds_suite_seconds, o.rounds_suite_seconds);
      const kind = ratioKind(o, t);
      ratios.push({
        ours: o.name,
        server: t.name,
        mode: t.mode,
        kind,
        like: kind.startsWith('like-for-like'),
        suite: suite.median,
        suite_spread: suite,
        with_setup: (t.suite_seconds + t.setup_seconds) / (o.suite_seconds + o.setup_seconds),
      });
    }
  }

  const report = {
    benchmark: 'eval',
    date: new Date().toISOString(),
    machine: machine(),
    model: modelDir,
    suite: suitePath,
    cases: prompts.length,
    cases_in_suite: allCases,
    max_tokens: maxTokensUsed,
    batch_size: job.batch_size,
    rounds: job.rounds,
    order: rounds.order.map(([round, name]) => `${round + 1}:${name}`),
    sides,
    ratios,
    comparisons,
  };
  console.log(JSON.stringify(report));
  if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
  if (values.json) return;

  const m = report.machine;
  const subset = prompts.length < allCases
    ? ` — SUBSET: ${prompts.length} of ${allCases} cases spread over the suite (--cases ${values.cases}${values.cases === String(DEFAULT_CASES) ? ', the default' : ''}; --cases all for every case)`
    : '';
  console.log(`\neval: ${suitePath.replace(ROOT + '/', '')} (${prompts.length} cases${subset}), ${modelDir.replace(ROOT + '/', '')}, max tokens ${maxTokensUsed.join('/')}, greedy, stop ${JSON.stringify([...new Set(prompts.flatMap((p) => p.stop ?? []))])}`);
  console.log(`${report.rounds} round(s), sides interleaved (${report.order.join(', ')}); suite seconds median [min–max]`);
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB; node ${m.node}`);
  for (const s of sides) {
    const what = `${s.weights}; ${s.kernels}; ${s.batching}; BLAS ${blasText(s.blas)}`;
    const extra = s.kind === 'ours'
      ? `MLX ${s.mlx}, compute ${s.compute?.mode ?? 'n/a'}${s.compute?.extraBytes ? ` (+${fmt.mb(s.compute.extraBytes)} MiB of f32 copies)` : ''}`
      : `mlx ${s.mlx ?? '?'}, mlx-lm ${s.mlx_lm ?? '?'}, port ${s.port}; ` +
        `HTTP up ${s.health_seconds.toFixed(1)} s; requests: first ${s.cases[0].seconds.toFixed(1)} s, median ${median(s.cases.map((r) => r.seconds)).toFixed(1)} s, ` +
        `${s.cases.reduce((n, r) => n + (r.cached_tokens ?? 0), 0)}/${s.prompt_tokens} prompt tokens from its prompt cache`;
    console.log(`  ${s.name}: ${what}; ${extra}; machine load ${s.loadavg.map((l) => l.map((x) => x.toFixed(1)).join('→')).join(', ')}`);
  }
  const rows = [['side', 'cases timed', 'load/start s', 'suite s', 'total s', 'prompt tok', 'gen tok', 'gen tok/s (suite)', 'format score [95% CI]']];
  for (const s of sides) {
    rows.push([
      s.name,
      s.timed_cases,
      s.setup_seconds.toFixed(2),
      spreadText(s.suite_seconds_spread, (x) => x.toFixed(1)),
      (s.setup_seconds + s.suite_seconds).toFixed(2),
      s.prompt_tokens,
      s.generation_tokens,
      fmt.tps(s.generation_tokens / s.suite_seconds),
      `${s.score.toFixed(3)} [${s.score_low.toFixed(2)}, ${s.score_high.toFixed(2)}]`,
    ]);
  }
  console.log('\n' + table(rows));
  if (ratios.length) {
    const rr = [['speed-up (server time / ours)', 'suite only [min–max]', 'incl. load / start-up']];
    for (const r of ratios) rr.push([`${r.ours} vs ${r.server} (${r.kind})`, spreadText(r.suite_spread, fmt.ratio), fmt.ratio(r.with_setup)]);
    console.log('\n' + table(rr));
  }
  if (comparisons.length) {
    const cr = [['replies', 'identical texts', 'same prompt tokens', 'others: chars in common before they differ']];
    for (const c of comparisons) {
      const d = c.diverging.map((x) => `${x.id} ${x.common_prefix_chars}/${Math.max(...x.lengths)}`).join(', ');
      cr.push([`${c.a} vs ${c.b}`, `${c.identical_texts}/${c.n}`, `${c.same_prompt_tokens}/${c.n}`, d.length > 70 ? `${d.slice(0, 67)}...` : d || '—']);
    }
    console.log('\n' + table(cr));
  }
  if (!ratios.length) log('no mlx_lm.server side ran (--baselines none): no ratios');
}

try {
  if (values.worker) await worker(positionals[0], values.compute);
  else await main();
} catch (err) {
  log(`failed: ${err.message}`);
  stopAllSync();
  process.exit(1);
}
