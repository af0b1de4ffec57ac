#!/usr/bin/env node
// The format score with and without constraint (issue 16's acceptance): one model (SmolLM2-135M
// by default, the demo's model converted by our convert), optionally with an adapter, on a
// suite (the 27-case example suite by default), scored free and then under the grammars its
// scorers imply (compareConstrained: same settings, greedy). Prints a table and one JSON object
// (--out FILE writes it, with the git commit, the machine and the settings).
//
// Usage: node benchmarks/constrained-eval.mjs [--model DIR] [--adapter FILE|DIR] [--suite FILE]
//          [--max-tokens N] [--compute auto|native|float32] [--out FILE]
// Needs the built package (npm run build:ts) and, for the default model, the SmolLM2 GGUF
// (scripts/fetch-smollm2.mjs fetches it; converted once into .cache/models/smollm2-mlx-ref).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureSmolLM2, gitState } from './lib/env.mjs';
import { machine } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    adapter: { type: 'string' },
    suite: { type: 'string', default: join(ROOT, 'examples', 'tool-format', 'suite.yaml') },
    'max-tokens': { type: 'string', default: '256' },
    compute: { type: 'string', default: 'auto' },
    out: { type: 'string' },
  },
});
const log = (msg) => process.stderr.write(`[bench:constrained-eval] ${msg}\n`);

const { loadModel, loadSuite, attachAdapter, compareConstrained } = await import('../dist/index.js');
const { formatCompareTable } = await import('../dist/cli/eval-compare.js');

const modelDir = values.model ? resolve(values.model) : await ensureSmolLM2(undefined, log);
const suite = await loadSuite(values.suite);
const model = await loadModel(modelDir, { compute: values.compute });
const adapter = values.adapter ? await attachAdapter(model, values.adapter) : undefined;
const started = new Date().toISOString();
const cmp = await compareConstrained(model, suite, { maxTokens: Number(values['max-tokens']) });
await adapter?.detach();
model.dispose();

const side = (r) => ({ score: r.score, low: r.low, high: r.high, n: r.n, failures: Object.fromEntries(Object.entries(r.failures).filter(([, n]) => n > 0)), seconds: r.seconds, tokensPerSec: r.tokensPerSec });
const result = {
  benchmark: 'constrained-eval',
  command: `node benchmarks/constrained-eval.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  git: gitState(),
  date: started,
  machine: machine(),
  loadAverage: loadavg(),
  settings: { model: modelDir, adapter: adapter?.file ?? null, suite: values.suite, cases: suite.cases.length, maxTokens: Number(values['max-tokens']), suiteMaxTokens: suite.maxTokens ?? null, compute: values.compute, sampling: 'greedy' },
  unconstrained: side(cmp.unconstrained),
  constrained: side(cmp.constrained),
  gain: cmp.gain,
  failures: cmp.failures,
  removed: cmp.removed,
  cases: cmp.cases.map((c, i) => ({ ...c, replies: { unconstrained: cmp.unconstrained.cases[i].text, constrained: cmp.constrained.cases[i].text } })),
};
process.stdout.write(`${formatCompareTable(cmp)}\n`);
if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 1)}\n`);
else process.stdout.write(`${JSON.stringify(result)}\n`);
