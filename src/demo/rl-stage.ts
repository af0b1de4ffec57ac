/**
 * The demo's optional second stage (`demo --rl`): GRPO with the rubric as reward, started from the
 * adapter the SFT stage selected, on prompts generated like the training set (the held-out suite
 * excluded), with the same live format evals on the held-out suite, early stopping and selection.
 */
import { join } from 'node:path';
import type { TrainConfig } from '../config/config.js';
import { MlxLabError } from '../core/errors.js';
import type { EvalSuite } from '../eval/index.js';
import type { Model } from '../model/model.js';
import { runExperiment, type ExperimentResult } from '../run/experiment.js';
import { RunDir } from '../run/run-dir.js';
import type { TrainEvent } from '../train/loop.js';
import { writeToolFormatPrompts } from './generate-data.js';

export interface DemoRlOptions {
  /** GRPO steps at most (each: `rlPrompts` prompts × `groupSize` completions). Default 40. */
  rlIters?: number;
  /** Format eval (and checkpoint) every N GRPO steps. Default 10. */
  rlEvalEvery?: number;
  /** Completions per prompt. Default 8. */
  groupSize?: number;
  /** Prompts per GRPO step. Default 2. */
  rlPrompts?: number;
  /** Default 5e-5. */
  rlLearningRate?: number;
  /** Generated prompts to sample from. Default 200. */
  rlPromptCount?: number;
}

/** The GRPO run's folder below the demo's folder. */
export function demoRlRunDir(dir: string): string {
  return join(dir, 'run-rl');
}

/** The GRPO stage's config: the SFT config's model, evals and selection; mlx-lm-lora's GRPO keys. */
export function demoRlConfig(dir: string, sft: TrainConfig, startAdapter: string, prompts: string, o: DemoRlOptions): TrainConfig {
  const every = o.rlEvalEvery ?? 10;
  return {
    ...sft,
    adapter_path: demoRlRunDir(dir),
    data: prompts,
    train_mode: 'grpo',
    // No KL term: the reference forward pass would double the cost of a step on 2 cores.
    beta: 0,
    group_size: o.groupSize ?? 8,
    batch_size: o.rlPrompts ?? 2,
    grad_accumulation_steps: 1,
    max_completion_length: sft.eval!.max_tokens ?? 96,
    temperature: 0.8,
    iters: o.rlIters ?? 40,
    learning_rate: o.rlLearningRate ?? 5e-5,
    save_every: every,
    steps_per_eval: every,
    steps_per_report: 1,
    resume_adapter_file: startAdapter,
    eval: { ...sft.eval!, every, at_start: true },
  };
}

/** Run the GRPO stage from the SFT run's selected adapter; the GRPO run's result. */
export async function runRlStage(args: {
  dir: string;
  sftConfig: TrainConfig;
  sft: ExperimentResult;
  model: Model;
  suite: EvalSuite;
  options: DemoRlOptions & { signal?: AbortSignal; onEvent?: (e: TrainEvent) => void };
  log: (line: string) => void;
}): Promise<ExperimentResult> {
  const { dir, sftConfig, sft, model, suite, options: o, log } = args;
  const start = new RunDir(sft.adapterPath).adapter;
  const prompts = writeToolFormatPrompts({ dir: join(dir, 'data'), n: o.rlPromptCount ?? 200, seed: (sftConfig.seed ?? 0) + 1, heldOut: suite });
  const config = demoRlConfig(dir, sftConfig, start, prompts, o);
  const rl = await runExperiment(config, {
    model,
    suite,
    signal: o.signal,
    onEvent: (e) => {
      o.onEvent?.(e);
      if (e.event === 'format') log(`      GRPO step ${e.iteration}: format ${(100 * e.score).toFixed(1)}% [${(100 * e.low).toFixed(1)}%, ${(100 * e.high).toFixed(1)}%]`);
      if (e.event === 'grpo') log(`      GRPO step ${e.iteration}: mean reward ${e.rewardMean.toFixed(3)}, ${e.seconds.toFixed(1)} s`);
    },
  });
  if (rl.stopReason === 'aborted') {
    throw new MlxLabError('E_ABORTED', `stopped at GRPO step ${rl.iteration}; the checkpoint is in ${rl.adapterPath} (the SFT run in ${sft.adapterPath} is complete)`);
  }
  return rl;
}
