/**
 * `mlx-lab report <run-or-sweep-dir>`: a self-contained HTML report of a run (run.json and/or
 * metrics.jsonl) or of a sweep (the run folders below it), plus a terminal summary.
 */
import { spawn } from 'node:child_process';
import { dirname, join, relative, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { writeFileAtomic } from '../io/atomic.js';
import { DEFAULT_LOCK_THRESHOLD } from '../report/model.js';
import { renderRunReport, renderSweepReport } from '../report/html.js';
import { runSummary, sweepSummary } from '../report/summary.js';
import { detectReportKind, findRunDirs, loadCaseCategories, loadRun, loadSweep } from '../report/load.js';
import { readdirSync, statSync } from 'node:fs';
import { MlxLabError } from '../errors.js';
import { assertNotAnInput } from '../io/paths.js';

function fraction(v: string): number {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('--threshold must be a number in [0, 1] (e.g. 0.8)');
  return n;
}

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

interface ReportCliOptions {
  out?: string;
  open?: boolean;
  threshold: number;
  suite?: string;
  runs: boolean;
  quiet?: boolean;
}

/**
 * The report goes to a file that is not a folder and not one of the run's own files (run.json,
 * the adapters, the log...: anything in the folders read except earlier reports, *.html).
 */
function checkReportOut(out: string, runDirs: string[]): void {
  if (isFolder(out)) throw new MlxLabError('E_IS_FOLDER', `${out}: --out is a folder; give a file name such as ${join(out, 'report.html')}`);
  const runFiles = runDirs.flatMap((d) => readdirSync(d).filter((n) => !n.endsWith('.html')).map((n) => join(d, n)));
  assertNotAnInput(out, runFiles, 'the report');
}

function isFolder(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Write the report(s) of a run or sweep folder; returns the main report's path. */
export function writeReport(target: string, opts: Partial<ReportCliOptions> = {}, log: (text: string) => void = (t) => process.stdout.write(t)): string {
  const dir = resolve(target);
  const kind = detectReportKind(dir);
  const out = resolve(opts.out ?? join(dir, 'report.html'));
  checkReportOut(out, kind === 'run' ? [dir] : [dir, ...findRunDirs(dir)]);
  const threshold = opts.threshold ?? DEFAULT_LOCK_THRESHOLD;
  if (kind === 'run') {
    const run = loadRun(dir);
    const suite = opts.suite ?? run.manifest?.suite ?? (run.config?.eval as { suite?: string } | null | undefined)?.suite;
    const caseCategories = loadCaseCategories(suite, dir);
    const input = { manifest: run.manifest, events: run.events, caseCategories, config: run.config };
    writeFileAtomic(out, renderRunReport(input, { source: target }));
    if (!opts.quiet) {
      if (run.torn) log(`note: ${join(dir, 'metrics.jsonl')}:${run.torn}: a torn last line was skipped\n`);
      log(runSummary(input, target));
      log(`report    ${out}\n`);
    }
    return out;
  }
  const sweep = loadSweep(dir);
  const caseCategories = loadCaseCategories(opts.suite ?? sweep.runs.find((r) => r.manifest.suite)?.manifest.suite, sweep.runs[0]?.dir);
  const runs = sweep.runs.map((r) => ({ ...r, href: opts.runs === false ? undefined : relative(dirname(out), join(r.dir, 'report.html')).split(/[\\/]/).map(encodeURIComponent).join('/') }));
  if (opts.runs !== false) {
    for (const r of sweep.runs) {
      writeFileAtomic(join(r.dir, 'report.html'), renderRunReport({ manifest: r.manifest, events: r.events, label: r.label, caseCategories }, { source: relative(process.cwd(), r.dir) || r.dir }));
    }
  }
  writeFileAtomic(out, renderSweepReport(runs, { threshold, caseCategories, source: target }));
  if (!opts.quiet) {
    log(sweepSummary(runs, { threshold, caseCategories }, target));
    if (sweep.unfinished.length) log(`not included (no run.json yet): ${sweep.unfinished.map((d) => relative(dir, d)).join(', ')}\n`);
    if (opts.runs !== false && sweep.runs.length) log(`run reports: report.html in each of the ${sweep.runs.length} run folders\n`);
    log(`report  ${out}\n`);
  }
  return out;
}

export function reportCommand(): Command {
  return new Command('report')
    .description('write a self-contained HTML report of a run or a sweep folder and print a summary')
    .argument('<run-or-sweep-dir>', 'a run folder (adapter_path, with run.json and/or metrics.jsonl) or a sweep folder (run folders below it)')
    .option('--out <file.html>', 'where to write the report (default: report.html in the folder)')
    .option('--open', 'open the report in the browser')
    .option('--threshold <fraction>', 'sweeps: a run locked the format when its best score is at least this', fraction, DEFAULT_LOCK_THRESHOLD)
    .option('--suite <file>', 'the eval suite, for case categories (default: the one recorded in run.json)')
    .option('--no-runs', "sweeps: don't write each run's own report.html")
    .action((target: string, opts: ReportCliOptions) => {
      const file = writeReport(target, opts);
      if (opts.open) openInBrowser(file);
    });
}
