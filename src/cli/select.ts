/** `mlx-lab select`: re-select a finished run's checkpoint with another metric or rule. */
import { Command, Option } from 'commander';
import { reselect } from '../run/experiment.js';
import { RUN_FILES } from '../run/run-dir.js';
import type { Metric, SelectionRule } from '../config/config.js';

export function selectCommand(): Command {
  return new Command('select')
    .description(`choose a finished run's checkpoint again (writes it as ${RUN_FILES.adapter}, updates ${RUN_FILES.manifest})`)
    .argument('<run-dir>', `the run folder (adapter_path) holding ${RUN_FILES.manifest}`)
    .addOption(new Option('--metric <metric>', 'what to select by').choices(['format_score', 'val_loss']).default('format_score'))
    .addOption(new Option('--rule <rule>', 'best by the metric, or the last checkpoint').choices(['best', 'last']).default('best'))
    .option('--json', 'print the selection as JSON')
    .action((runDir: string, opts: { metric: Metric; rule: SelectionRule; json?: boolean }) => {
      const s = reselect(runDir, opts.metric, opts.rule);
      if (opts.json) process.stdout.write(JSON.stringify(s) + '\n');
      else process.stdout.write(`selected step ${s.checkpoint.iteration}: ${s.reason}\n${s.checkpoint.adapterFile} -> ${RUN_FILES.adapter}\n`);
    });
}
