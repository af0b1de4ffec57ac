#!/usr/bin/env node
// Training speed with the live page open: `mlx-lab train` (the built CLI) on the same model,
// data and config, without `--ui` and with `--ui` and a client that follows the page, the two
// sides interleaved (--reps rounds, each side in a fresh process). The client is headless
// Chromium on the page (scripts/lib/browser.mjs; it redraws the report on each event as a user's
// browser does) or, with --client http or without a browser, an HTTP client doing what the
// page's script does (the event stream, and the whole page fetched again 300 ms after events).
// Format evals every --eval-every steps and a val loss there too, so that the page has events
// to follow; one loss report per step.
//   steps/s: the training steps after --warmup over their own time (the report events' step
//            seconds; evals, validation and checkpoints are not steps); median over rounds
//            [min–max], the ratio with / without the median of the per-round ratios;
//   page ms: how long the training process took to answer a small request (a 404 that goes
//            through its event loop) every --probe-ms while it trained: median [max] over all
//            probes of all rounds: the event loop stays live when this stays small.
// Prints one JSON line with --json, else a table; --out FILE writes the report.
//
// Usage: node benchmarks/ui.mjs [--model DIR] [--suite FILE] [--examples 60] [--iters 30]
//          [--warmup 2] [--batch 1] [--num-layers 8] [--eval-every 10] [--max-tokens 24]
//          [--reps 3] [--client auto|browser|http] [--probe-ms 250] [--json] [--out FILE]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { findBrowser, launchBrowser } from '../scripts/lib/browser.mjs';
import { ROOT, SMOLLM2_DIR } from './lib/env.mjs';
import { fmt, interleaved, machine, pairedRatio, spread, spreadText, table } from './lib/stats.mjs';

/** The suite the training data is generated around (its cases held out), and the default eval suite. */
const EXAMPLE_SUITE = join(ROOT, 'examples', 'tool-format', 'suite.yaml');

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: SMOLLM2_DIR },
    suite: { type: 'string', default: EXAMPLE_SUITE },
    examples: { type: 'string', default: '60' },
    iters: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '2' },
    batch: { type: 'string', default: '1' },
    'num-layers': { type: 'string', default: '8' },
    'eval-every': { type: 'string', default: '10' },
    'max-tokens': { type: 'string', default: '24' },
    reps: { type: 'string', default: '3' },
    client: { type: 'string', default: 'auto' },
    'probe-ms': { type: 'string', default: '250' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const log = (msg) => process.stderr.write(`[bench:ui] ${msg}\n`);

/** A positive integer option (exits naming it otherwise). */
function int(name, min = 1) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer ≥ ${min}, got "${values[name]}"`);
  return n;
}

/** The training processes running now: stopped with this script, so none is left training. */
const children = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

const SIDES = [{ name: 'without --ui', ui: false }, { name: 'with --ui', ui: true }];

/** The data (tool-format examples, the example suite held out) and the YAML config both sides train with. */
async function prepare(tmp) {
  const { loadSuite } = await import('../dist/eval/index.js');
  const { writeToolFormatData } = await import('../dist/demo/generate-data.js');
  const data = join(tmp, 'data');
  writeToolFormatData({ dir: data, n: int('examples'), valid: 8, seed: 42, heldOut: await loadSuite(EXAMPLE_SUITE) });
  const every = int('eval-every');
  const config = {
    model: resolve(values.model),
    data,
    iters: int('iters'),
    batch_size: int('batch'),
    num_layers: int('num-layers', -1),
    learning_rate: 1e-4,
    mask_prompt: true,
    seed: 42,
    steps_per_report: 1,
    steps_per_eval: every,
    save_every: every,
    val_batches: 1,
    eval: { suite: resolve(values.suite), every, max_tokens: int('max-tokens'), at_start: true },
  };
  const file = join(tmp, 'config.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

/** GET `url`: resolves with the milliseconds to the whole answer. */
function timedGet(url) {
  const t0 = performance.now();
  return new Promise((done, fail) => {
    get(url, (res) => {
      res.resume();
      res.on('end', () => done(performance.now() - t0));
    }).on('error', fail);
  });
}

/** An HTTP client doing what the page's script does: follow /events, fetch the page again 300 ms after events. */
function httpClient(url) {
  const u = new URL(url);
  let redraws = 0;
  let pending;
  let req;
  const redraw = () => {
    pending = undefined;
    timedGet(url).then(() => redraws++, () => {});
  };
  req = get(`${u.origin}/events?${u.searchParams}`, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      if (/event: (metrics|finished)/.test(chunk) && !pending) pending = setTimeout(redraw, 300);
    });
  });
  req.on('error', () => {});
  return { redraws: async () => redraws, close: async () => (clearTimeout(pending), req.destroy()) };
}

/** Headless Chromium on the page (the page redraws itself on each event). */
async function browserClient(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(url);
  return {
    redraws: () => page.evaluate(() => Number(document.body.getAttribute('data-ui-updates') ?? 0)).catch(() => null),
    close: () => page.close(),
  };
}

/** One training run of one side: its steps/s and, with --ui, the probes and the page's redraws. */
function trainOnce(side, config, adapterPath, openClient) {
  const args = [join(ROOT, 'dist', 'cli', 'main.js'), 'train', '-c', config, '--adapter-path', adapterPath, '--json', ...(side.ui ? ['--ui'] : [])];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('close', () => children.delete(child));
  const events = [];
  const probes = [];
  let stdout = '';
  let stderr = '';
  let client;
  let probing;
  let done = false;
  return new Promise((resolveRun, reject) => {
    const finish = async () => {
      clearInterval(probing);
      const redraws = client ? await client.redraws() : null;
      await client?.close();
      child.kill('SIGINT'); // --ui keeps the page open after the run until Ctrl-C
      return redraws;
    };
    child.stdout.on('data', (d) => {
      stdout += d;
      const lines = stdout.split('\n');
      stdout = lines.pop();
      for (const l of lines) if (l.startsWith('{')) events.push(JSON.parse(l));
      if (!done && events.some((e) => e.event === 'done') && !side.ui) done = true;
    });
    child.stderr.on('data', async (d) => {
      stderr += d;
      const m = /live page \(live\): (\S+)/.exec(stderr);
      if (m && !client && !probing) {
        const u = new URL(m[1]);
        probing = setInterval(() => timedGet(`${u.origin}/probe?${u.searchParams}`).then((ms) => probes.push(ms), () => {}), int('probe-ms'));
        client = await openClient(m[1]);
      }
      if (side.ui && !done && stderr.includes('the page stays open read-only')) {
        done = true;
        side.redraws = await finish();
      }
    });
    child.on('close', (code) => {
      clearInterval(probing);
      if (!done) return reject(new Error(`${side.name}: mlx-lab train exited (${code}) before the run ended:\n${stderr.slice(-3000)}`));
      const warmup = int('warmup', 0);
      const reports = events.filter((e) => e.event === 'report' && e.iteration > warmup);
      if (reports.length === 0) return reject(new Error(`${side.name}: no report events after the warm-up (--iters ≤ --warmup?)`));
      const seconds = reports.reduce((s, e) => s + 1 / e.itPerSec, 0);
      resolveRun({ stepsPerSec: reports.length / seconds, steps: reports.length, probes, redraws: side.ui ? side.redraws : null, evals: events.filter((e) => e.event === 'format').length });
    });
  });
}

async function main() {
  const reps = int('reps');
  if (!['auto', 'browser', 'http'].includes(values.client)) throw new Error(`--client: expected auto, browser or http, got "${values.client}"`);
  const found = values.client === 'http' ? { missing: '--client http' } : await findBrowser();
  if (values.client === 'browser' && found.missing) throw new Error(`--client browser: ${found.missing}`);
  const browser = found.missing ? undefined : await launchBrowser(found.path);
  const client = browser ? 'headless Chromium' : 'http (the page script\'s requests)';
  log(`client: ${client}${found.missing ? ` (${found.missing})` : ''}`);
  const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-bench-ui-'));
  try {
    const config = await prepare(tmp);
    const openClient = (url) => (browser ? browserClient(browser, url) : httpClient(url));
    const { bySide } = await interleaved(SIDES, reps, (side, round) => {
      log(`round ${round + 1}/${reps}: ${side.name}`);
      return trainOnce({ ...side }, config, join(tmp, `${side.ui ? 'ui' : 'plain'}-${round}`), openClient);
    });
    const off = bySide.get('without --ui');
    const on = bySide.get('with --ui');
    const report = {
      benchmark: 'ui',
      date: new Date().toISOString(),
      machine: machine(),
      model: resolve(values.model),
      suite: resolve(values.suite),
      client,
      settings: { examples: int('examples'), iters: int('iters'), warmup: int('warmup', 0), batch: int('batch'), num_layers: int('num-layers', -1), eval_every: int('eval-every'), max_tokens: int('max-tokens'), probe_ms: int('probe-ms') },
      rounds: reps,
      sides: SIDES.map((s) => {
        const runs = bySide.get(s.name);
        return {
          name: s.name,
          steps_per_sec: spread(runs.map((r) => r.stepsPerSec)),
          timed_steps: runs.map((r) => r.steps),
          evals: runs.map((r) => r.evals),
          ...(s.ui ? { page_ms: spread(runs.flatMap((r) => r.probes)), page_redraws: runs.map((r) => r.redraws) } : {}),
        };
      }),
      ratio: pairedRatio(on.map((r) => r.stepsPerSec), off.map((r) => r.stepsPerSec)),
    };
    if (values.out) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
    if (values.json) console.log(JSON.stringify(report));
    else console.log(uiTable(report));
  } finally {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The report as a text table. */
function uiTable(r) {
  const f2 = (x) => x.toFixed(2);
  const rows = [['side', 'steps/s', 'with / without', 'page ms (median [max])', 'page redraws']];
  for (const s of r.sides) {
    rows.push([s.name, spreadText(s.steps_per_sec, f2), s.page_ms ? `${fmt.ratio(r.ratio.median)} [${f2(r.ratio.min)}–${f2(r.ratio.max)}]` : '', s.page_ms ? `${s.page_ms.median.toFixed(1)} [${s.page_ms.max.toFixed(1)}]` : '', s.page_redraws ? s.page_redraws.join(' / ') : '']);
  }
  return `${r.rounds} interleaved rounds, client: ${r.client}\n${table(rows)}`;
}

main().catch((err) => {
  process.stderr.write(`[bench:ui] ${err.stack ?? err}\n`);
  process.exit(1);
});
