/** `mlx-lab eval`: a format-eval suite on a model (+ adapter), in this process: no server, no port. */
import { Command } from 'commander';
import { loadModel } from '../model/model.js';
import { attachAdapter } from '../model/adapters.js';
import { RUN_FILES } from '../run/run-dir.js';
import { loadSuite, suiteConstraints } from '../eval/index.js';
import { runEval, type EvalResult } from '../eval/runner.js';
import { compareConstrained } from '../eval/compare.js';
import { checkRunToLog, logConstrainedCompare } from '../run/experiment.js';
import { MlxLabError } from '../core/errors.js';
import { formatCompareTable } from './eval-compare.js';
import { computeOption, positiveInteger } from './options.js';
import { GRACE_MS, onInterrupt } from './signals.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The terminal table: per category, overall with its Wilson 95% interval, failure classes. */
export function formatEvalTable(r: EvalResult, verbose = false): string {
  const lines: string[] = [];
  if (verbose) {
    for (const c of r.cases) {
      const text = c.text.replace(/\s+/g, ' ').slice(0, 70);
      lines.push(`${c.id.padEnd(14)} ${c.score.toFixed(2)}  ${(c.failure ?? '').padEnd(14)} ${JSON.stringify(text)}`);
    }
    lines.push('');
  }
  const width = Math.max(8, ...r.categories.map((c) => c.category.length));
  lines.push(`${'category'.padEnd(width)}  cases   score`);
  for (const c of r.categories) lines.push(`${c.category.padEnd(width)}  ${String(c.n).padStart(5)}  ${pct(c.mean).padStart(6)}`);
  lines.push(`${'overall'.padEnd(width)}  ${String(r.n).padStart(5)}  ${pct(r.score).padStart(6)}   95% CI [${pct(r.low)}, ${pct(r.high)}]`);
  const failures = Object.entries(r.failures).filter(([, n]) => n > 0);
  if (failures.length > 0) lines.push(`failures: ${failures.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (r.constrained) {
    const held = r.cases.filter((c) => c.constraint).length;
    const deadEnds = r.cases.filter((c) => c.finishReason === 'grammar').length;
    lines.push(`constrained: ${held} of ${r.cases.length} cases decoded under their scorer's grammar${deadEnds > 0 ? `, ${deadEnds} ended at a grammar dead end` : ''}`);
  }
  lines.push(`scores: ${r.distribution.full} × 1.0, ${r.distribution.partial} partial, ${r.distribution.zero} × 0.0; ${r.seconds.toFixed(1)} s, ${r.tokensPerSec.toFixed(1)} tokens/s`);
  return lines.join('\n');
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('score a model (optionally with an adapter) on a format-eval suite, in process')
    .requiredOption('-m, --model <path>', 'model folder or .gguf file (a fused model is a model folder)')
    .requiredOption('-s, --suite <file>', 'eval suite (YAML or JSONL)')
    .option('-a, --adapter <path>', `adapter folder or ${RUN_FILES.adapter} to attach`)
    .option('--max-tokens <n>', 'token budget per reply when the suite gives none (default 256)', positiveInteger('--max-tokens'))
    .option('--stop <text>', 'extra stop string (repeatable); <think> is added when the template can think', (v: string, p: string[] = []) => [...p, v])
    .option('--batch-size <n>', 'cases decoded together (default: all)', positiveInteger('--batch-size'))
    .option('--enable-thinking', 'let thinking models think (no <think> stop)')
    .option('--constrained', 'decode each case under the grammar its scorer implies (Hermes/Qwen3 XML calls, the wrapper call, the JSON schema, the regex)')
    .option('--compare', 'with --constrained: run the suite free and constrained and print both scores side by side')
    .option('--run <dir>', "with --compare: also log the comparison to this run folder's metrics (its report shows both scores per case)")
    .addOption(computeOption())
    .option('-v, --verbose', 'print every case')
    .option('--json', 'print the whole result as JSON')
    .action(async (opts) => {
      checkConstraintFlags(opts);
      const suite = await loadSuite(opts.suite);
      // The grammars a suite implies are made before the model loads (a bad one names its case).
      if (opts.constrained) suiteConstraints(suite);
      // A run folder that cannot take the result fails before two evals are spent.
      if (opts.run !== undefined) checkRunToLog(opts.run, 'constrained eval');
      const controller = new AbortController();
      const interrupt = onInterrupt(controller, 'the eval stops after the current token', { graceMs: GRACE_MS });
      const model = await loadModel(opts.model, { compute: opts.compute });
      try {
        const adapter = opts.adapter ? await attachAdapter(model, opts.adapter) : undefined;
        const options = {
          maxTokens: opts.maxTokens,
          stop: opts.stop,
          batchSize: opts.batchSize,
          enableThinking: opts.enableThinking,
          signal: controller.signal,
        };
        if (opts.compare) {
          const cmp = await compareConstrained(model, suite, options);
          await adapter?.detach();
          if (opts.run !== undefined) logConstrainedCompare(opts.run, adapter?.file ?? '', cmp);
          process.stdout.write((opts.json ? JSON.stringify(cmp) : formatCompareTable(cmp)) + '\n');
          return;
        }
        const r = await runEval(model, suite, { ...options, constrained: opts.constrained === true });
        await adapter?.detach();
        process.stdout.write((opts.json ? JSON.stringify(r) : formatEvalTable(r, opts.verbose)) + '\n');
      } catch (err) {
        interrupt.settle(err, 'eval interrupted; no result was printed');
      } finally {
        interrupt.dispose();
        model.dispose();
      }
    });
}

/** --compare needs --constrained, and a constrained eval does not think: E_ARGUMENT before anything loads. */
function checkConstraintFlags(opts: { constrained?: boolean; compare?: boolean; run?: string; enableThinking?: boolean }): void {
  if (opts.run !== undefined && !opts.compare) throw new MlxLabError('E_ARGUMENT', '--run logs a free-vs-constrained comparison: give it with --constrained --compare');
  if (opts.compare && !opts.constrained) throw new MlxLabError('E_ARGUMENT', '--compare compares a free and a constrained run: give it with --constrained');
  if (opts.constrained && opts.enableThinking) {
    throw new MlxLabError('E_ARGUMENT', '--constrained cannot be combined with --enable-thinking: the grammars hold the reply to its format from the first token');
  }
}
