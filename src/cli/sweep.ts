/**
 * `mlx-lab sweep`: several seeds (and optionally a small grid) trained one after the other in this
 * process on one loaded base model; a line per run as it finishes, a summary table at the end,
 * `<adapter-path>/sweep.json`. Ctrl-C stops the current run with a checkpoint, writes sweep.json
 * for what finished and exits 130.
 */
import { Command, InvalidArgumentError } from 'commander';
import { defaultTrainConfig, loadTrainConfig, mergeConfig, type TrainConfig } from '../config/config.js';
import { MlxLabError } from '../core/errors.js';
import { formatLintWarnings } from '../eval/lint.js';
import { formatRunLine, formatSweepSummary, runSweep, type SweepEvent } from '../sweep/index.js';
import { addTrainOptions, optionsToOverrides } from './train-options.js';
import { formatEvent } from './train.js';
import { onInterrupt } from './signals.js';
import { addLaunchOptions, relaunchAsRanks } from './launch.js';
import { fraction } from './options.js';
import { addLiveUiOptions, keepOpenUntilInterrupt, openLivePage } from './ui.js';
import { joinGroup } from '../distributed/group.js';
import { RUN_FILES } from '../run/run-dir.js';

function parseSeeds(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError('--seeds must be a comma-separated list of non-negative integers (e.g. 1,2,3)');
  return parts.map(Number);
}

function parseScalar(text: string): unknown {
  const t = text.trim();
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
  if (t === 'true' || t === 'false') return t === 'true';
  if (t === 'null') return null;
  return t;
}

/** --grid key=v1,v2 (repeatable) → {key: [v1, v2]}. */
function collectGrid(value: string, previous: Record<string, unknown[]> = {}): Record<string, unknown[]> {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new InvalidArgumentError('--grid takes key=value1,value2 (e.g. learning_rate=1e-4,3e-4 or lora_parameters.rank=4,8)');
  const key = value.slice(0, eq).trim();
  return { ...previous, [key]: value.slice(eq + 1).split(',').map(parseScalar) };
}

/**
 * The config: the file (-c), the train flags, then the sweep flags (--seeds replaces the file's
 * seeds, --grid adds to its grid); validated (grid keys and values, seeds). The sweep section is
 * replaced as a whole, so a file whose sweep has a grid and no seeds merges too.
 */
export function resolveSweepConfig(opts: Record<string, unknown>): TrainConfig {
  const file = typeof opts.config === 'string' ? loadTrainConfig(opts.config) : defaultTrainConfig();
  const seeds = (opts.seeds as number[] | undefined) ?? file.sweep?.seeds ?? [];
  const grid = { ...(file.sweep?.grid ?? {}), ...((opts.grid as Record<string, unknown[]> | undefined) ?? {}) };
  if (seeds.length === 0 && Object.keys(grid).length === 0) {
    throw new MlxLabError('E_CONFIG', 'nothing to sweep: give --seeds 1,2,3 (or --grid key=v1,v2), or add a sweep section to the config (sweep: {seeds: [1, 2, 3]})');
  }
  const sweep = { ...(file.sweep ?? {}), seeds: seeds.length > 0 ? seeds : null, grid } as unknown as TrainConfig['sweep'];
  return mergeConfig(file, { ...optionsToOverrides(opts), sweep });
}

export function sweepCommand(): Command {
  const cmd = new Command('sweep').description(
    `train several seeds (and optionally a small grid of config values) in one process on one loaded base model; reports the distribution of format scores in <adapter-path>/${RUN_FILES.sweep}`,
  );
  addLiveUiOptions(addLaunchOptions(addTrainOptions(cmd)), 'sweep')
    .option('--seeds <list>', 'seeds to run, comma-separated (overrides sweep.seeds of the config)', parseSeeds)
    .option('--grid <key=values>', 'vary a config key over values, e.g. learning_rate=1e-4,3e-4 or lora_parameters.rank=4,8 (repeatable; adds to sweep.grid)', collectGrid)
    .option('--lock-threshold <score>', 'a run "locked the format" when its best format score is at least this (default 0.8)', fraction('--lock-threshold'))
    .option('--no-lint', 'do not compare the eval suite with the training data before the first run')
    .option('--json', 'print one JSON object per event instead of text')
    .action(async (opts) => {
      const config = resolveSweepConfig(opts);
      if (await relaunchAsRanks(opts)) return;
      const group = await joinGroup();
      // The page follows the sweep folder as the runs write their logs (the leader serves it).
      const ui = opts.ui && group.leader ? await openLivePage(config.adapter_path, 'sweep', opts) : undefined;
      const controller = new AbortController();
      const interrupt = onInterrupt(controller, 'the current run stops after this step and saves a checkpoint; the sweep report is written');
      // Every rank trains its runs and reports them as they go (the launcher prefixes the other
      // ranks' lines with [rank r] on stderr); rank 0 alone prints JSON, the summary and writes sweep.json.
      const out = (line: string) => process.stdout.write(line + '\n');
      const onEvent = (e: SweepEvent) => {
        if (opts.json) {
          if (group.leader) out(JSON.stringify(e));
          return;
        }
        switch (e.event) {
          case 'sweep_start':
            if (group.leader) out(`Sweep: ${e.runs.length} run${e.runs.length === 1 ? '' : 's'} (${e.runs.map((r) => r.name).join(', ')}) in ${e.adapterPath}`);
            break;
          case 'lint':
            process.stderr.write(`mlx-lab: the eval suite and the training data disagree (${e.warnings.length} warning${e.warnings.length === 1 ? '' : 's'}):\n${formatLintWarnings(e.warnings)}\n`);
            break;
          case 'run_start':
            out(`[${e.index + 1}/${e.total}] ${e.name}: training (seed ${e.seed}${Object.keys(e.grid).length > 0 ? `, ${Object.entries(e.grid).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}` : ''}) → ${e.adapterPath}`);
            break;
          case 'train':
            if (e.train.event === 'format' || e.train.event === 'stop') {
              const line = formatEvent(e.train);
              if (line) out(`  ${line}`);
            }
            break;
          case 'run_done':
            out(formatRunLine(e.run, e.index, e.total));
            break;
          case 'sweep_done':
            break;
        }
      };
      try {
        const result = await runSweep(config, {
          signal: controller.signal,
          onEvent,
          lockThreshold: opts.lockThreshold,
          lint: opts.lint !== false,
          group,
        });
        if (!opts.json && group.leader) out(`\n${formatSweepSummary(result.report)}\n\nWrote ${result.file}`);
        if (result.interrupted) {
          if (group.leader) process.stderr.write(`mlx-lab: sweep interrupted; ${result.report.runs.length} of ${result.report.plan.length} runs reported in ${result.file}\n`);
          process.exitCode = interrupt.exitCode() || 130;
        } else if (result.report.runs.some((r) => r.status === 'failed')) {
          process.exitCode = 1;
        }
        if (ui && !result.interrupted) await keepOpenUntilInterrupt(ui);
      } finally {
        interrupt.dispose();
        await ui?.close();
      }
    });
  return cmd;
}
