/**
 * `mlx-lab report <run-or-sweep-dir>`: a self-contained HTML report of a run (run.json and/or
 * metrics.jsonl) or of a sweep (the run folders below it), plus a terminal summary.
 */
import { spawn } from 'node:child_process';
import { Command } from 'commander';
import { DEFAULT_LOCK_THRESHOLD } from '../sweep/evals.js';
import { RUN_FILES } from '../run/run-dir.js';
import { writeReport, type ReportOptions } from '../report/write.js';
import { fraction } from './options.js';

/** Open a file in the desktop's browser, without waiting; a failure is only a note. */
function openInBrowser(file: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [file]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', file]] : ['xdg-open', [file]];
  try {
    const child = spawn(cmd, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', (err) => process.stderr.write(`mlx-lab report: could not open a browser (${err.message}); open ${file} yourself\n`));
    child.unref();
  } catch (err) {
    process.stderr.write(`mlx-lab report: could not open a browser (${(err as Error).message}); open ${file} yourself\n`);
  }
}

export function reportCommand(): Command {
  return new Command('report')
    .description('write a self-contained HTML report of a run or a sweep folder and print a summary')
    .argument('<run-or-sweep-dir>', `a run folder (adapter_path, with ${RUN_FILES.manifest} and/or ${RUN_FILES.metrics}) or a sweep folder (run folders below it)`)
    .option('--out <file.html>', `where to write the report (default: ${RUN_FILES.report} in the folder)`)
    .option('--open', 'open the report in the browser')
    .option('--threshold <fraction>', 'sweeps: a run locked the format when its best score is at least this', fraction('--threshold'), DEFAULT_LOCK_THRESHOLD)
    .option('--suite <file>', `the eval suite, for case categories (default: the one recorded in ${RUN_FILES.manifest})`)
    .option('--no-runs', `sweeps: don't write each run's own ${RUN_FILES.report}`)
    .action((target: string, opts: ReportOptions & { open?: boolean }) => {
      const file = writeReport(target, opts);
      if (opts.open) openInBrowser(file);
    });
}
