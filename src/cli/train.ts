/** `mlx-lab train`: mlx_lm.lora's YAML and flags, a progress bar (or JSON events), Ctrl-C safe. */
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { defaultTrainConfig, loadTrainConfig, mergeConfig, type TrainConfig } from '../config/config.js';
import { addTrainOptions, optionsToOverrides } from './train-options.js';
import type { TrainEvent } from '../train/loop.js';
import { runExperiment } from '../run/experiment.js';
import { CHECKPOINT_STATE_FORM } from '../run/run-dir.js';
import { onInterrupt } from './signals.js';
import { addLaunchOptions, relaunchAsRanks } from './launch.js';
import { joinGroup } from '../distributed/group.js';
import { addLiveUiOptions, keepOpenUntilInterrupt, openLivePage, pushTrainEvent } from './ui.js';
import { pushFeed } from '../ui/feed.js';

const GB = 1e9;

/** The config: the file (-c), then the flags the user gave. */
export function resolveTrainConfig(opts: Record<string, unknown>): TrainConfig {
  const base = typeof opts.config === 'string' ? loadTrainConfig(opts.config) : defaultTrainConfig();
  return mergeConfig(base, optionsToOverrides(opts));
}

/** mlx-lm's report lines, for logs and non-terminal output. */
export function formatEvent(e: TrainEvent): string | undefined {
  switch (e.event) {
    case 'start':
      return `Training ${e.trainableParameters.toLocaleString('en-US')} parameters on ${e.trainExamples} examples (${e.validExamples} validation), compute ${e.compute}` +
        (e.startIteration > 1 ? `, resuming at iteration ${e.startIteration}` : '');
    case 'val':
      if (e.preference) {
        const p = e.preference;
        return `Iter ${e.iteration}: Val loss ${e.valLoss.toFixed(3)}, Val chosen reward ${p.chosenReward.toFixed(3)}, Val rejected reward ${p.rejectedReward.toFixed(3)}, Val accuracy ${p.accuracies.toFixed(3)}, Val margin ${p.margins.toFixed(3)}, Val took ${e.seconds.toFixed(3)}s`;
      }
      return `Iter ${e.iteration}: Val loss ${e.valLoss.toFixed(3)}, Val took ${e.seconds.toFixed(3)}s`;
    case 'preference':
      return `Iter ${e.iteration}: ${e.method.toUpperCase()} loss ${e.loss.toFixed(3)}, chosen_r ${e.chosenReward.toFixed(3)}, rejected_r ${e.rejectedReward.toFixed(3)}, acc ${e.accuracies.toFixed(3)}, margin ${e.margins.toFixed(3)}`;
    case 'report':
      return `Iter ${e.iteration}: Train loss ${e.trainLoss.toFixed(3)}, Learning Rate ${e.lr.toExponential(3)}, It/sec ${e.itPerSec.toFixed(3)}, Tokens/sec ${e.tokensPerSec.toFixed(3)}, Trained Tokens ${e.trainedTokens}, Peak mem ${(e.peakMemory / GB).toFixed(3)} GB`;
    case 'grpo':
      return `Iter ${e.iteration}: Reward ${e.rewardMean.toFixed(3)} (std ${e.rewardStd.toFixed(3)}), KL ${e.kl.toExponential(3)}, zero-advantage groups ${e.zeroAdvantageGroups}/${e.groups}` +
        (e.scorerErrors > 0 ? `, scorer errors ${e.scorerErrors} (${e.errors?.[0] ?? ''})` : '') + `, ${e.seconds.toFixed(1)}s`;
    case 'checkpoint':
      return `Iter ${e.iteration}: Saved adapter weights to ${e.adapterFile}`;
    case 'test':
      return `Test loss ${e.testLoss.toFixed(3)}, Test ppl ${e.testPpl.toFixed(3)}.`;
    case 'format':
      return `Iter ${e.iteration}: Format score ${(100 * e.score).toFixed(1)}% [${(100 * e.low).toFixed(1)}, ${(100 * e.high).toFixed(1)}] over ${e.n} cases (${e.seconds.toFixed(1)}s)`;
    case 'stop':
      return `Stopped at iteration ${e.iteration}: ${e.message}`;
    case 'done':
      return `Saved final weights to ${e.adapterFile} (${e.seconds.toFixed(1)}s).`;
    default:
      return undefined;
  }
}

/** A terminal progress bar: iteration, loss, lr, it/s, tokens/s, peak memory, ETA. */
function progressBar(iters: number) {
  const multi = new cliProgress.MultiBar(
    {
      format: 'train |{bar}| {value}/{total} | loss {loss} | lr {lr} | {itps} it/s | {tps} tok/s | mem {mem} GB | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  let last = { loss: '-', lr: '-', itps: '-', tps: '-', mem: '-' };
  return {
    event(e: TrainEvent) {
      if (e.event === 'start') bar = multi.create(iters, e.startIteration - 1, last);
      else if (e.event === 'step') last = { ...last, loss: e.loss.toFixed(3), lr: e.lr.toExponential(2) };
      else if (e.event === 'report') last = { ...last, itps: e.itPerSec.toFixed(2), tps: e.tokensPerSec.toFixed(0), mem: (e.peakMemory / GB).toFixed(2) };
      if ((e.event === 'step' || e.event === 'report') && bar) bar.update(e.iteration, last);
      const line = e.event === 'step' || e.event === 'report' ? undefined : formatEvent(e);
      if (line) multi.log(line + '\n');
    },
    stop() {
      multi.stop();
    },
  };
}

export function trainCommand(): Command {
  const cmd = new Command('train').description('fine-tune with LoRA (QLoRA on quantized models), like mlx_lm.lora --train');
  addLiveUiOptions(addLaunchOptions(addTrainOptions(cmd)), 'run')
    .option('--resume [state]', `continue exactly from the latest checkpoint in --adapter-path (or from a ${CHECKPOINT_STATE_FORM})`)
    .option('--json', 'print one JSON object per event instead of a progress bar')
    .action(async (opts) => {
      const config = resolveTrainConfig(opts);
      if (await relaunchAsRanks(opts)) return;
      const group = await joinGroup();
      const controller = new AbortController();
      const interrupt = onInterrupt(controller, 'training stops after the current step and saves a checkpoint');
      const tty = process.stderr.isTTY && !opts.json && group.size === 1;
      const bar = tty ? progressBar(config.iters) : undefined;
      const feed = opts.ui && group.leader ? pushFeed() : undefined;
      const ui = feed ? await openLivePage(config.adapter_path, 'run', opts, feed) : undefined;
      let keepPage = false;
      try {
        const result = await runExperiment(config, {
          signal: controller.signal,
          resume: opts.resume,
          group,
          onEvent: (e) => {
            pushTrainEvent(feed, e);
            if (opts.json) process.stdout.write(JSON.stringify(e) + '\n');
            else if (bar) bar.event(e);
            else if (e.event !== 'step') {
              const line = formatEvent(e);
              if (line) process.stdout.write(line + '\n');
            }
          },
        });
        bar?.stop();
        if (result.selection && !opts.json) {
          process.stdout.write(`Selected step ${result.selection.checkpoint.iteration} (${result.selection.reason}); written to ${result.adapterFile}\n`);
        }
        if (result.stopReason === 'aborted') {
          if (group.leader) process.stderr.write(`mlx-lab: interrupted at iteration ${result.iteration}; checkpoint saved in ${result.adapterPath}. Resume with --resume.\n`);
          process.exitCode = interrupt.exitCode();
        } else keepPage = true;
      } finally {
        bar?.stop();
        interrupt.dispose();
        // A finished run keeps its page up (read-only) until Ctrl-C; an interrupted or failed one closes it.
        if (ui && keepPage) await keepOpenUntilInterrupt(ui);
        else await ui?.close();
      }
    });
  return cmd;
}
