/** Write the HTML report(s) of a run or sweep folder and the terminal summary (used by `mlx-lab report` and the demo). */
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import { MlxLabError } from '../core/errors.js';
import { assertNotAnInput } from '../core/paths.js';
import { DEFAULT_LOCK_THRESHOLD } from '../sweep/evals.js';
import { renderRunReport, renderSweepReport } from './html.js';
import { runSummary, sweepSummary } from './summary.js';
import { detectReportKind, findRunDirs, loadCaseCategories, loadRun, loadSweep } from './load.js';
import { RUN_FILES, RunDir } from '../run/run-dir.js';

/** What a report is written with (the CLI's options). */
export interface ReportOptions {
  out?: string;
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
  if (isFolder(out)) throw new MlxLabError('E_IS_FOLDER', `${out}: --out is a folder; give a file name such as ${join(out, RUN_FILES.report)}`);
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
export function writeReport(target: string, opts: Partial<ReportOptions> = {}, log: (text: string) => void = (t) => process.stdout.write(t)): string {
  const dir = resolve(target);
  const kind = detectReportKind(dir);
  const out = resolve(opts.out ?? new RunDir(dir).report);
  checkReportOut(out, kind === 'run' ? [dir] : [dir, ...findRunDirs(dir)]);
  const threshold = opts.threshold ?? DEFAULT_LOCK_THRESHOLD;
  if (kind === 'run') {
    const run = loadRun(dir);
    const suite = opts.suite ?? run.manifest?.suite ?? (run.config?.eval as { suite?: string } | null | undefined)?.suite;
    const caseCategories = loadCaseCategories(suite, dir);
    const input = { manifest: run.manifest, events: run.events, caseCategories, config: run.config };
    writeFileAtomic(out, renderRunReport(input, { source: target }));
    if (!opts.quiet) {
      if (run.torn) log(`note: ${new RunDir(dir).metrics}:${run.torn}: a torn last line was skipped\n`);
      log(runSummary(input, target));
      log(`report    ${out}\n`);
    }
    return out;
  }
  const sweep = loadSweep(dir);
  const caseCategories = loadCaseCategories(opts.suite ?? sweep.runs.find((r) => r.manifest.suite)?.manifest.suite, sweep.runs[0]?.dir);
  const runs = sweep.runs.map((r) => ({ ...r, href: opts.runs === false ? undefined : new RunDir(r.dir).reportLink(dirname(out)) }));
  if (opts.runs !== false) {
    for (const r of sweep.runs) {
      writeFileAtomic(new RunDir(r.dir).report, renderRunReport({ manifest: r.manifest, events: r.events, label: r.label, caseCategories }, { source: relative(process.cwd(), r.dir) || r.dir }));
    }
  }
  writeFileAtomic(out, renderSweepReport(runs, { threshold, caseCategories, source: target }));
  if (!opts.quiet) {
    log(sweepSummary(runs, { threshold, caseCategories }, target));
    if (sweep.unfinished.length) log(`not included (no ${RUN_FILES.manifest} yet): ${sweep.unfinished.map((d) => relative(dir, d)).join(', ')}\n`);
    if (opts.runs !== false && sweep.runs.length) log(`run reports: ${RUN_FILES.report} in each of the ${sweep.runs.length} run folders\n`);
    log(`report  ${out}\n`);
  }
  return out;
}
