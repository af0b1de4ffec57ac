/** `mlx-lab pairs`: mine chosen/rejected pairs for DPO / ORPO from a suite's scorers (src/rl/pairs.ts). */
import { Command } from 'commander';
import { resolve } from 'node:path';
import { loadModel } from '../model/model.js';
import { attachAdapter } from '../model/adapters.js';
import { RUN_FILES } from '../run/run-dir.js';
import { loadSuite } from '../eval/index.js';
import { minePairs, writePairs, type MineSummary } from '../rl/index.js';
import { computeOption, number, positiveInteger } from './options.js';
import { GRACE_MS, onInterrupt } from './signals.js';

/** The summary lines on stderr. */
export function formatPairsSummary(s: MineSummary, out: string): string {
  const failures = Object.entries(s.failures).map(([k, n]) => `${k} ${n}`).join(', ');
  return [
    `${s.pairs} pairs from ${s.cases} cases (${s.samples} replies, mean score ${s.meanScore.toFixed(3)}) written to ${out}`,
    `cases without a full-score reply: ${s.noChosen}; without a failed one: ${s.noRejected}${s.skipped.length > 0 ? `; skipped (several turns): ${s.skipped.length}` : ''}`,
    ...(failures ? [`rejected failure classes: ${failures}`] : []),
  ].join('\n');
}

export function pairsCommand(): Command {
  return new Command('pairs')
    .description("sample replies per case, score them with the suite, and write chosen/rejected pairs in mlx-lm-lora's DPO format")
    .requiredOption('-m, --model <path>', 'model folder or .gguf file')
    .requiredOption('-s, --suite <file>', 'eval suite or prompts JSONL (cases with expect fields)')
    .requiredOption('-o, --out <file>', 'the pairs file to write (JSONL; train with train_mode dpo or orpo)')
    .option('-a, --adapter <path>', `adapter folder or ${RUN_FILES.adapter} to sample from (default: the base model)`)
    .option('-n, --samples <n>', 'replies sampled per case (default 8)', positiveInteger('--samples'), 8)
    .option('--max-pairs-per-prompt <n>', 'pairs per case at most (default 1)', positiveInteger('--max-pairs-per-prompt'), 1)
    .option('--max-tokens <n>', 'token budget per reply when the suite gives none (default 256)', positiveInteger('--max-tokens'), 256)
    .option('--temperature <x>', 'sampling temperature (default 1)', number('--temperature', { min: 1e-6 }), 1)
    .option('--seed <n>', 'the sampling seed (default 0)', number('--seed', { int: true, min: 0 }), 0)
    .addOption(computeOption())
    .option('--json', 'print the summary as JSON on stdout')
    .action(async (opts) => {
      const suite = await loadSuite(opts.suite);
      const controller = new AbortController();
      const interrupt = onInterrupt(controller, 'pairs stops after the current case; nothing is written', { graceMs: GRACE_MS });
      const model = await loadModel(opts.model, { compute: opts.compute });
      try {
        const adapter = opts.adapter ? await attachAdapter(model, opts.adapter) : undefined;
        const { pairs, summary } = await minePairs(model, suite, {
          samples: opts.samples,
          maxTokens: opts.maxTokens,
          temperature: opts.temperature,
          seed: opts.seed,
          maxPairsPerPrompt: opts.maxPairsPerPrompt,
          signal: controller.signal,
          onProgress: (done, total, n) => process.stderr.write(`\rpairs: case ${done}/${total}, ${n} pairs`),
        });
        process.stderr.write('\n');
        await adapter?.detach();
        const out = resolve(opts.out);
        writePairs(out, pairs);
        process.stderr.write(`${formatPairsSummary(summary, out)}\n`);
        if (opts.json) process.stdout.write(`${JSON.stringify({ out, ...summary })}\n`);
      } catch (err) {
        interrupt.settle(err, 'pairs interrupted; nothing was written');
      } finally {
        interrupt.dispose();
        model.dispose();
      }
    });
}
