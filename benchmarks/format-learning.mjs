#!/usr/bin/env node
// Does a small model learn a fixed response format from a few hundred examples in a few minutes
// on this machine's CPU? (issue 4's "loss falls on a small real task".)
//   1. the base model's format score on the tool-format suite (examples/tool-format/suite.yaml,
//      runEval: greedy, the rubric scorer; 1.0 = one execute_code call of the right tool with
//      every keyword, 0.5 = a direct call of the right tool, 0 = anything else);
//   2. LoRA training on --examples generated chat examples (writeToolFormatData: the suite's
//      system prompt and tools, the suite's own prompts held out), mask_prompt on, with a
//      validation loss every --steps-per-eval iterations; --max-seconds stops training early;
//   3. the format score again, with the trained adapter attached to the same model.
// Prints one JSON line (scores with Wilson 95% intervals, per category, failure classes, the loss
// curve, wall times, the machine's load), then a summary for people.
//
// The suite's system prompt is ~380 tokens, so every eval case costs a ~430-token prefill:
// --eval-cases N scores an evenly spread subset of N of the 27 cases (the output says so).
//
// Usage: node benchmarks/format-learning.mjs [--model DIR] [--examples 200] [--iters 60]
//          [--batch 1] [--lr 3e-4] [--schedule cosine|constant] [--warmup-steps 5] [--num-layers 8] [--rank 8] [--scale 20] [--seed 42]
//          [--compute auto] [--max-seconds 0] [--steps-per-eval 20] [--eval-cases 27]
//          [--eval-every 0] [--skip-baseline] [--adapter-path DIR] [--json] [--out FILE]
// --eval-every N also scores the (subset of the) suite every N iterations with the live adapter.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, machine, table } from './lib/stats.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: join(ROOT, '.cache', 'models', 'smollm2-mlx-ref') },
    suite: { type: 'string', default: join(ROOT, 'examples', 'tool-format', 'suite.yaml') },
    examples: { type: 'string', default: '200' },
    valid: { type: 'string', default: '4' },
    iters: { type: 'string', default: '60' },
    batch: { type: 'string', default: '1' },
    lr: { type: 'string', default: '3e-4' },
    schedule: { type: 'string', default: 'cosine' },
    'warmup-steps': { type: 'string', default: '5' },
    'num-layers': { type: 'string', default: '8' },
    rank: { type: 'string', default: '8' },
    scale: { type: 'string', default: '20' },
    seed: { type: 'string', default: '42' },
    compute: { type: 'string', default: 'auto' },
    'max-seconds': { type: 'string', default: '0' },
    'steps-per-eval': { type: 'string', default: '20' },
    'val-batches': { type: 'string', default: '-1' },
    'eval-cases': { type: 'string' },
    'eval-every': { type: 'string', default: '0' },
    'skip-baseline': { type: 'boolean', default: false },
    'adapter-path': { type: 'string' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const log = (msg) => process.stderr.write(`[bench:format-learning] ${msg}\n`);
const num = (k) => {
  const x = Number(values[k]);
  if (!Number.isFinite(x)) throw new Error(`--${k}: not a number (${values[k]})`);
  return x;
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** --schedule cosine: mlx-lm's cosine_decay from --lr to --lr/10 after a linear warm-up; constant: none. */
function lrSchedule() {
  if (values.schedule === 'constant') return null;
  if (values.schedule !== 'cosine') throw new Error(`--schedule: cosine or constant (got ${values.schedule})`);
  const warmup = num('warmup-steps');
  return { name: 'cosine_decay', arguments: [num('lr'), Math.max(1, num('iters') - warmup), num('lr') / 10], warmup, warmup_init: 0 };
}

/** Replies that are one well-formed wrapped call ending the turn, whatever the tool or arguments. */
const WELL_FORMED = new Set([null, 'wrong_tool', 'missing_keyword']);

/** N cases spread evenly over the suite (keeps every category when N allows). */
function subset(suite, n) {
  if (!n || n >= suite.cases.length) return suite;
  const step = suite.cases.length / n;
  const cases = Array.from({ length: n }, (_, i) => suite.cases[Math.floor(i * step)]);
  return { ...suite, cases };
}

function evalSummary(r) {
  return {
    score: r.score,
    // The format alone (issue 4's criterion): the reply is a parseable execute_code call that
    // ends the turn, right tool or not (the rubric score also needs the right tool and values).
    well_formed: r.cases.filter((c) => WELL_FORMED.has(c.failure) && c.finishReason !== 'length').length / r.cases.length,
    low: r.low,
    high: r.high,
    n: r.n,
    distribution: r.distribution,
    failures: Object.fromEntries(Object.entries(r.failures).filter(([, v]) => v > 0)),
    categories: Object.fromEntries(r.categories.map((c) => [c.category, +c.mean.toFixed(3)])),
    seconds: r.seconds,
    prompt_tokens: r.promptTokens,
    generation_tokens: r.generationTokens,
    cases: r.cases.map((c) => ({ id: c.id, score: c.score, failure: c.failure, finish: c.finishReason, tokens: c.generationTokens, text: c.text.slice(0, 300) })),
  };
}

async function main() {
  const { loadModel, train, defaultTrainConfig, runtime, loadSuite } = await import('../dist/index.js');
  const { writeToolFormatData } = await import('../dist/demo/generate-data.js');
  const started = performance.now();
  const loads = [loadavg()[0]];
  const fullSuite = await loadSuite(resolve(values.suite));
  const suite = subset(fullSuite, values['eval-cases'] ? num('eval-cases') : 0);
  const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-format-'));
  try {
    const dataDir = join(tmp, 'data');
    const w = writeToolFormatData({ dir: dataDir, n: num('examples'), valid: num('valid'), seed: num('seed'), heldOut: fullSuite });
    const tic = performance.now();
    const model = await loadModel(resolve(values.model), { compute: values.compute });
    const loadSeconds = (performance.now() - tic) / 1e3;

    let before;
    if (!values['skip-baseline']) {
      log(`baseline eval: ${suite.cases.length} cases`);
      before = evalSummary(await runEvalOf(model, suite));
      log(`baseline score ${before.score.toFixed(3)} (${before.seconds.toFixed(1)} s)`);
    }
    loads.push(loadavg()[0]);

    const config = {
      ...defaultTrainConfig(),
      model: resolve(values.model),
      data: dataDir,
      train: true,
      iters: num('iters'),
      batch_size: num('batch'),
      num_layers: num('num-layers'),
      learning_rate: num('lr'),
      lr_schedule: lrSchedule(),
      mask_prompt: true,
      seed: num('seed'),
      steps_per_report: 5,
      steps_per_eval: num('steps-per-eval'),
      val_batches: num('val-batches'),
      save_every: num('iters') + 1,
      lora_parameters: { ...defaultTrainConfig().lora_parameters, rank: num('rank'), scale: num('scale') },
      adapter_path: values['adapter-path'] ? resolve(values['adapter-path']) : join(tmp, 'adapter'),
    };
    const maxSeconds = num('max-seconds');
    const evalEvery = num('eval-every');
    const curve = [];
    let evalSeconds = 0;
    const reports = [];
    const t0 = performance.now();
    const result = await train(config, {
      model,
      keepAdapter: true,
      onStep: async (e) => {
        // A format-score curve: the live adapter generates (the eval's time is not training time).
        if (evalEvery > 0 && e.iteration % evalEvery === 0 && e.iteration < config.iters) {
          const te = performance.now();
          const r = evalSummary(await runEvalOf(model, suite));
          curve.push({ iteration: e.iteration, score: r.score, well_formed: r.well_formed, seconds: r.seconds });
          log(`it ${e.iteration}: format score ${r.score.toFixed(3)}, well-formed ${r.well_formed.toFixed(2)} (${r.seconds.toFixed(1)} s)`);
          evalSeconds += (performance.now() - te) / 1e3;
        }
        const trained = (performance.now() - t0) / 1e3 - evalSeconds;
        return maxSeconds > 0 && trained >= maxSeconds ? { stop: true, reason: `time budget ${maxSeconds} s` } : undefined;
      },
      onEvent: (e) => {
        if (e.event === 'report') {
          reports.push({ iteration: e.iteration, loss: e.trainLoss, tokens_per_sec: e.tokensPerSec, it_per_sec: e.itPerSec });
          log(`it ${e.iteration}: loss ${e.trainLoss.toFixed(3)}, ${e.tokensPerSec.toFixed(1)} tok/s, ${e.itPerSec.toFixed(2)} it/s`);
        } else if (e.event === 'val') log(`it ${e.iteration}: val loss ${e.valLoss.toFixed(3)} (${e.seconds.toFixed(1)} s)`);
      },
    });
    const trainSeconds = (performance.now() - t0) / 1e3 - evalSeconds;
    loads.push(loadavg()[0]);

    log(`eval with the adapter: ${suite.cases.length} cases`);
    const after = evalSummary(await runEvalOf(model, suite));
    log(`score ${after.score.toFixed(3)} (${after.seconds.toFixed(1)} s)`);
    loads.push(loadavg()[0]);
    result.adapter?.dispose();
    model.dispose();

    const losses = result.losses;
    const k = Math.min(5, Math.max(1, Math.floor(losses.length / 4)));
    const report = {
      benchmark: 'format-learning',
      date: new Date().toISOString(),
      machine: machine(),
      mlx: runtime().mlxVersion,
      model: resolve(values.model),
      compute: values.compute,
      suite: fullSuite.source,
      eval_cases: suite.cases.length,
      suite_cases: fullSuite.cases.length,
      data: { train: w.trainCount, valid: w.validCount, seed: num('seed') },
      settings: {
        iters: config.iters,
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        num_layers: config.num_layers,
        lora_parameters: config.lora_parameters,
        lr_schedule: config.lr_schedule,
        mask_prompt: true,
        max_seconds: maxSeconds || null,
      },
      before,
      after,
      train: {
        stop: result.stopReason,
        stop_message: result.stopMessage,
        iterations: losses.length,
        seconds: trainSeconds,
        first_loss: losses[0],
        last_loss: losses.at(-1),
        first_mean: mean(losses.slice(0, k)),
        last_mean: mean(losses.slice(-k)),
        mean_over: k,
        val_losses: result.valLosses,
        format_curve: curve,
        reports,
        losses,
      },
      load_seconds: loadSeconds,
      wall_seconds: (performance.now() - started) / 1e3,
      loadavg: loads,
    };
    console.log(JSON.stringify(report));
    if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
    if (values.json) return;

    const m = report.machine;
    const tr = report.train;
    console.log(
      `\nformat-learning: ${report.model.replace(ROOT + '/', '')} (compute ${values.compute}), ${w.trainCount} generated examples, ` +
        `LoRA rank ${config.lora_parameters.rank} scale ${config.lora_parameters.scale} num_layers ${config.num_layers}, batch ${config.batch_size}, adam lr ${config.learning_rate}${config.lr_schedule ? ` (cosine to ${config.lr_schedule.arguments[2]} after ${config.lr_schedule.warmup} warm-up steps)` : ''}, mask_prompt`,
    );
    console.log(`machine: ${m.cpu}, ${m.cores} cores; MLX ${report.mlx}; load average ${loads.map((x) => x.toFixed(1)).join(' → ')}`);
    console.log(`eval: ${suite.cases.length === fullSuite.cases.length ? 'all' : `a subset of ${suite.cases.length} of the`} ${fullSuite.cases.length} cases of ${fullSuite.name}`);
    console.log(
      `train: ${tr.iterations} iterations in ${tr.seconds.toFixed(0)} s (${tr.stop}${tr.stop_message ? `: ${tr.stop_message}` : ''}); ` +
        `loss ${tr.first_loss.toFixed(3)} → ${tr.last_loss.toFixed(3)} (mean of the first/last ${k}: ${tr.first_mean.toFixed(3)} → ${tr.last_mean.toFixed(3)}); ` +
        `val ${tr.val_losses.map((v) => `${v.iteration}:${v.loss.toFixed(3)}`).join(' ')}`,
    );
    const rows = [['', 'format score', '95% interval', 'well-formed calls', 'full/partial/zero', 'failures', 'seconds']];
    for (const [name, e] of [['before', before], ['after', after]]) {
      if (!e) continue;
      rows.push([
        name,
        e.score.toFixed(3),
        `${e.low.toFixed(2)}–${e.high.toFixed(2)}`,
        `${Math.round(e.well_formed * e.n)}/${e.n}`,
        `${e.distribution.full}/${e.distribution.partial}/${e.distribution.zero}`,
        Object.entries(e.failures).map(([f, n]) => `${f} ${n}`).join(', ') || '—',
        e.seconds.toFixed(1),
      ]);
    }
    console.log('\n' + table(rows));
    if (curve.length) console.log(`\nformat score during training: ${[...curve.map((c) => `it ${c.iteration}: ${c.score.toFixed(2)} (well-formed ${c.well_formed.toFixed(2)})`), `it ${tr.iterations}: ${after.score.toFixed(2)} (well-formed ${after.well_formed.toFixed(2)})`].join(', ')}`);
    console.log(`\nper category after: ${Object.entries(after.categories).map(([c, s]) => `${c} ${s}`).join(', ')}`);
    console.log(`wall: ${report.wall_seconds.toFixed(0)} s in all (load ${loadSeconds.toFixed(1)} s, training ${tr.seconds.toFixed(0)} s with its validation, format evals ${((before?.seconds ?? 0) + after.seconds + evalSeconds).toFixed(0)} s)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function runEvalOf(model, suite) {
  const { runEval } = await import('../dist/index.js');
  return runEval(model, suite);
}

try {
  await main();
} catch (err) {
  log(`failed: ${err.stack ?? err.message}`);
  process.exit(1);
}
