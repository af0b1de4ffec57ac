/** `mlx-lab demo`: the whole experiment on SmolLM2-135M with no arguments and no server. */
import { Command } from 'commander';
import { demoRunDir, runDemo } from '../demo/demo.js';
import { pushFeed } from '../ui/feed.js';
import { number } from './options.js';
import { MlxLabError } from '../core/errors.js';
import { GRACE_MS, onInterrupt } from './signals.js';
import { addLiveUiOptions, keepOpenUntilInterrupt, openLivePage, pushTrainEvent } from './ui.js';

export function demoCommand(): Command {
  const cmd = new Command('demo')
    .description('fine-tune SmolLM2-135M to a tool-call format with live format evals, select, fuse to 5 bits, report')
    .option('--dir <path>', 'where to put the model, data, run and fused model', 'mlx-lab-demo')
    .option('--train-examples <n>', 'generated training examples', number('--train-examples', { int: true, min: 10 }))
    .option('--iters <n>', 'training iterations at most', number('--iters', { int: true, min: 1 }))
    .option('--eval-every <n>', 'format eval every N iterations', number('--eval-every', { int: true, min: 1 }))
    .option('--learning-rate <lr>', 'learning rate', number('--learning-rate', { min: 0 }))
    .option('--num-layers <n>', 'LoRA layers (from the last)', number('--num-layers', { int: true, min: -1 }))
    .option('--batch-size <n>', 'examples per batch', number('--batch-size', { int: true, min: 1 }))
    .option('--grad-accumulation <n>', 'micro-batches per optimizer update', number('--grad-accumulation', { int: true, min: 1 }))
    .option('--target <score>', 'stop once the format score reaches this', number('--target', { min: 0, max: 1 }))
    .option('--seed <n>', 'seed', number('--seed', { int: true, min: 0 }))
    .option('--constrained', 'also score the selected adapter under the grammars the suite implies, free and constrained side by side in the report')
    .option('--rl', 'after SFT, GRPO with the rubric as reward from the selected adapter; its selection is fused and reported')
    .option('--rl-iters <n>', 'GRPO steps at most (default 40)', number('--rl-iters', { int: true, min: 1 }))
    .option('--rl-eval-every <n>', 'format eval every N GRPO steps (default 10)', number('--rl-eval-every', { int: true, min: 1 }))
    .option('--group-size <n>', 'GRPO completions per prompt (default 8)', number('--group-size', { int: true, min: 2 }))
    .option('--json', 'print the training events as JSON lines (stdout)');
  return addLiveUiOptions(cmd, 'demo').action(async (opts) => {
    if (!opts.rl && [opts.rlIters, opts.rlEvalEvery, opts.groupSize].some((v) => v !== undefined)) {
      throw new MlxLabError('E_ARGUMENT', '--rl-iters, --rl-eval-every and --group-size shape the GRPO stage: give them with --rl');
    }
    // The page opens first, on the run folder the demo's training (stage 4) writes: empty until
    // then, live while it trains, read-only once the demo is done.
    const feed = opts.ui ? pushFeed() : undefined;
    const ui = feed ? await openLivePage(demoRunDir(opts.dir), 'run', opts, feed) : undefined;
    const controller = new AbortController();
    const interrupt = onInterrupt(controller, 'the demo stops after the current step', { graceMs: GRACE_MS });
    let finished = false;
    try {
      await runDemo({
        dir: opts.dir,
        trainExamples: opts.trainExamples,
        iters: opts.iters,
        evalEvery: opts.evalEvery,
        learningRate: opts.learningRate,
        numLayers: opts.numLayers,
        batchSize: opts.batchSize,
        gradAccumulation: opts.gradAccumulation,
        target: opts.target,
        seed: opts.seed,
        constrained: opts.constrained === true,
        rl: opts.rl === true,
        rlIters: opts.rlIters,
        rlEvalEvery: opts.rlEvalEvery,
        groupSize: opts.groupSize,
        signal: controller.signal,
        onEvent: (e) => {
          pushTrainEvent(feed, e);
          if (opts.json) process.stdout.write(JSON.stringify(e) + '\n');
        },
      });
      finished = true;
    } catch (err) {
      interrupt.settle(err, `demo interrupted${err instanceof Error ? ` (${err.message})` : ''}`);
    } finally {
      interrupt.dispose();
      // As after train --ui: a finished demo keeps its page up (read-only) until Ctrl-C; an interrupted or failed one closes it.
      if (ui && finished) await keepOpenUntilInterrupt(ui);
      else await ui?.close();
    }
  });
}
