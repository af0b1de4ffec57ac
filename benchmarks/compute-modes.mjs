#!/usr/bin/env node
// Decode tok/s, peak memory and the share of the memory-bandwidth bound of each CPU compute mode
// on one 4-bit model folder: benchmarks/bandwidth.mjs once per mode per round, the modes
// interleaved (auto, float32, native by default), each run a fresh process. Writes one JSON with
// every run and, per mode, the median [min–max] over rounds, the commit and the machine.
// --random-1b: the model is a random ~1.1B llama (lib/random-models.mjs, TinyLlama's shape)
// quantized to 4 bits, group 64, by our convert; both folders are made once under
// .cache/bench/models (4.4 GB float32 + 0.6 GB 4-bit).
//
// Usage: node benchmarks/compute-modes.mjs [--model DIR | --random-1b] [--modes auto,float32,native]
//          [--rounds 3] [--prompt-tokens 32] [--max-tokens 64] [--out FILE]
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, SMOLLM2_DIR, gitState, runJson } from './lib/env.mjs';
import { ensureRandomModel } from './lib/random-models.mjs';
import { machine, spread, table } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: SMOLLM2_DIR },
    'random-1b': { type: 'boolean', default: false },
    modes: { type: 'string', default: 'auto,float32,native' },
    rounds: { type: 'string', default: '3' },
    'prompt-tokens': { type: 'string', default: '32' },
    'max-tokens': { type: 'string', default: '64' },
    out: { type: 'string' },
  },
});
const log = (line) => process.stderr.write(`[bench:compute-modes] ${line}\n`);

/** The random ~1.1B llama as a 4-bit (group 64) folder, made once. */
async function random1b() {
  const root = join(ROOT, '.cache', 'bench', 'models');
  const f32 = ensureRandomModel(root, 'llama', '1b', log);
  const q4 = `${f32}-q4`;
  if (existsSync(join(q4, 'config.json'))) return q4;
  log(`quantizing ${f32} to ${q4} (4 bits, group 64)`);
  const { convert } = await import('../dist/index.js');
  await convert({ input: f32, out: q4, quantize: true, bits: 4, groupSize: 64 });
  return q4;
}

const model = values['random-1b'] ? await random1b() : values.model;
const modes = values.modes.split(',');
const rounds = Number(values.rounds);
const runs = [];
for (let r = 1; r <= rounds; r++) {
  for (const mode of modes) {
    const args = ['benchmarks/bandwidth.mjs', '--model', model, '--compute', mode, '--prompt-tokens', values['prompt-tokens'], '--max-tokens', values['max-tokens'], '--reps', '1', '--warmup', '1', '--copy-mb', '256', '--json'];
    runs.push({ mode, round: r, report: runJson(process.execPath, args, { label: `${mode} (round ${r}/${rounds})`, log, quiet: true }) });
  }
}

const summary = Object.fromEntries(
  modes.map((mode) => {
    const mine = runs.filter((x) => x.mode === mode).map((x) => x.report);
    return [mode, { applied: mine[0].compute, decode_tps: spread(mine.map((m) => m.decode_tps.median)), peak_memory: spread(mine.map((m) => Math.max(...m.runs.map((x) => x.peak_memory)))), fraction: spread(mine.map((m) => m.fraction)), bytes_per_token: mine[0].bytes_per_token }];
  }),
);
const report = { benchmark: 'compute-modes', command: ['node', 'benchmarks/compute-modes.mjs', ...process.argv.slice(2)].join(' '), git: gitState(), date: new Date().toISOString(), machine: machine(), model, parameter_bytes: runs[0].report.parameter_bytes, rounds, prompt_tokens: Number(values['prompt-tokens']), max_tokens: Number(values['max-tokens']), summary, runs };
if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
const f = (s, d = 1) => `${s.median.toFixed(d)} [${s.min.toFixed(d)}–${s.max.toFixed(d)}]`;
const rows = [['mode', 'applied', 'decode tok/s', 'peak MiB', 'bytes/token MiB', 'share of bound %']];
for (const [mode, s] of Object.entries(summary)) {
  const mib = (x) => x / 2 ** 20;
  rows.push([mode, s.applied.mode, f(s.decode_tps), f({ median: mib(s.peak_memory.median), min: mib(s.peak_memory.min), max: mib(s.peak_memory.max) }, 0), (s.bytes_per_token.total / 2 ** 20).toFixed(0), f({ median: 100 * s.fraction.median, min: 100 * s.fraction.min, max: 100 * s.fraction.max })]);
}
console.log(`compute modes on ${model}: ${rounds} interleaved rounds, ${values['prompt-tokens']} + ${values['max-tokens']} tokens, median [min–max]`);
console.log(table(rows));
