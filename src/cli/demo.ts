/** `mlx-lab demo`: the whole experiment on SmolLM2-135M with no arguments and no server. */
import { Command } from 'commander';
import { runDemo } from '../demo/demo.js';
import { number } from './options.js';
import { GRACE_MS, onInterrupt } from './signals.js';

export function demoCommand(): Command {
  return new Command('demo')
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
    .option('--json', 'print the training events as JSON lines (stdout)')
    .action(async (opts) => {
      const controller = new AbortController();
      const interrupt = onInterrupt(controller, 'the demo stops after the current step', { graceMs: GRACE_MS });
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
          signal: controller.signal,
          onEvent: opts.json ? (e) => process.stdout.write(JSON.stringify(e) + '\n') : undefined,
        });
      } catch (err) {
        interrupt.settle(err, `demo interrupted${err instanceof Error ? ` (${err.message})` : ''}`);
      } finally {
        interrupt.dispose();
      }
    });
}
