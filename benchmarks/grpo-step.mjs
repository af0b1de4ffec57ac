#!/usr/bin/env node
// Time per GRPO step on SmolLM2-135M with the settings of `demo --rl` (LoRA rank 8 on 8 layers,
// 2 prompts × 8 completions per step, completions up to 96 tokens, temperature 0.8, beta 0, the
// rubric as reward on generated tool-format prompts), from a fresh adapter, and where the time
// goes: the rollout (sampling the group with the shared prompt prefilled once, then scoring) and
// the update (the policy's log-probs, the objective, its gradients and the optimizer step). No
// live evals: only steps are timed. The first --warmup steps are left out of the medians.
//
// Usage: node benchmarks/grpo-step.mjs [--model DIR] [--steps 4] [--warmup 1] [--group-size 8]
//          [--prompts 2] [--max-completion 96] [--out FILE]
// Needs the built package (npm run build:ts) and, for the default model, the SmolLM2 GGUF.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureSmolLM2, gitState } from './lib/env.mjs';
import { machine } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    steps: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '1' },
    'group-size': { type: 'string', default: '8' },
    prompts: { type: 'string', default: '2' },
    'max-completion': { type: 'string', default: '96' },
    out: { type: 'string' },
  },
});
const log = (msg) => process.stderr.write(`[bench:grpo-step] ${msg}\n`);

const { loadModel, loadSuite, runExperiment } = await import('../dist/index.js');
const { demoConfig } = await import('../dist/demo/demo.js');
const { demoRlConfig } = await import('../dist/demo/rl-stage.js');
const { writeToolFormatPrompts } = await import('../dist/demo/generate-data.js');

const modelDir = values.model ? resolve(values.model) : await ensureSmolLM2(undefined, log);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const suite = await loadSuite(join(ROOT, 'examples', 'tool-format', 'suite.yaml'));
const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-grpo-step-'));
const model = await loadModel(modelDir);
const started = new Date().toISOString();
const events = [];
try {
  const prompts = writeToolFormatPrompts({ dir, n: 64, seed: 43, heldOut: suite });
  const sft = { ...demoConfig(dir, {}), model: modelDir };
  const config = {
    ...demoRlConfig(dir, sft, null, prompts, { rlIters: warmup + steps, groupSize: Number(values['group-size']), rlPrompts: Number(values.prompts) }),
    max_completion_length: Number(values['max-completion']),
    resume_adapter_file: null,
    eval: undefined,
    early_stopping: undefined,
    save_every: warmup + steps,
  };
  await runExperiment(config, { model, onEvent: (e) => e.event === 'grpo' && (events.push(e), log(`step ${e.iteration}: ${e.seconds.toFixed(1)} s (rollout ${e.rolloutSeconds.toFixed(1)} s), ${e.completionTokens} completion tokens`)) });
} finally {
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
}

const timed = events.slice(warmup);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });
const result = {
  benchmark: 'grpo-step',
  command: `node benchmarks/grpo-step.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  git: gitState(),
  date: started,
  machine: machine(),
  loadAverage: loadavg(),
  settings: { model: modelDir, groupSize: Number(values['group-size']), prompts: Number(values.prompts), maxCompletion: Number(values['max-completion']), steps, warmup, adapter: 'fresh LoRA rank 8 on 8 layers (the demo settings)', beta: 0, temperature: 0.8 },
  stepSeconds: spread(timed.map((e) => e.seconds)),
  rolloutSeconds: spread(timed.map((e) => e.rolloutSeconds)),
  updateSeconds: spread(timed.map((e) => e.seconds - e.rolloutSeconds)),
  completionTokens: spread(timed.map((e) => e.completionTokens)),
  sampledTokensPerSec: spread(timed.map((e) => e.completionTokens / e.rolloutSeconds)),
  steps: events.map((e) => ({ iteration: e.iteration, seconds: e.seconds, rolloutSeconds: e.rolloutSeconds, completionTokens: e.completionTokens, sharedPrefixTokens: e.sharedPrefixTokens, rewardMean: e.rewardMean })),
};
const s = result.stepSeconds;
process.stdout.write(
  `GRPO step: median ${s.median.toFixed(1)} s [${s.min.toFixed(1)}–${s.max.toFixed(1)}] over ${s.n} steps; rollout ${result.rolloutSeconds.median.toFixed(1)} s, update ${result.updateSeconds.median.toFixed(1)} s; ${result.completionTokens.median} completion tokens per step\n`,
);
if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 1)}\n`);
else process.stdout.write(`${JSON.stringify(result)}\n`);
