/**
 * The live page: the report page, rendered by the report code from the run folder as it is
 * now, plus a status line, the page's settings (token, live or not) and the live script.
 */
import { escapeHtml, jsonForScript, renderRunReport, renderSweepReport } from '../report/html.js';
import { loadCaseCategories, loadRun, loadSweep, type LoadedRun } from '../report/load.js';
import { DEFAULT_LOCK_THRESHOLD } from '../sweep/evals.js';
import { RunDir } from '../run/run-dir.js';
import { LIVE_SCRIPT } from './live-script.js';

export interface PageOptions {
  token: string;
  /** The page follows the event stream (false: a finished folder, read-only). */
  live: boolean;
  /** The run folder relative to the folder shown, when the page is one run of a sweep. */
  run?: string;
  /** How the folder is named on the page. */
  source: string;
  threshold?: number;
}

/** A link to another page of the server, with the token. */
export function uiLink(path: string, token: string, params: Record<string, string> = {}): string {
  return `${path}?${new URLSearchParams({ token, ...params }).toString()}`;
}

/** The report page of a run folder, with the live parts (a live run with nothing written yet: an empty report that fills in as events arrive). */
export function renderRunPage(dir: string, options: PageOptions): string {
  const folder = new RunDir(dir);
  const run: LoadedRun = options.live && !folder.hasManifest() && !folder.hasMetrics() ? { dir, events: [] } : loadRun(dir);
  const suite = run.manifest?.suite ?? (run.config?.eval as { suite?: string } | null | undefined)?.suite;
  const html = renderRunReport({ manifest: run.manifest, events: run.events, caseCategories: loadCaseCategories(suite, dir), config: run.config }, { source: options.source });
  return addLiveParts(html, options);
}

/** The report page of a sweep folder (each run linked to its own live page), with the live parts. */
export function renderSweepPage(dir: string, options: PageOptions): string {
  const sweep = loadSweep(dir);
  const caseCategories = loadCaseCategories(sweep.runs.find((r) => r.manifest.suite)?.manifest.suite, sweep.runs[0]?.dir);
  const runs = sweep.runs.map((r) => ({ ...r, href: uiLink('run', options.token, { dir: relativeName(dir, r.dir) }) }));
  const html = renderSweepReport(runs, { threshold: options.threshold ?? DEFAULT_LOCK_THRESHOLD, caseCategories, source: options.source });
  const waiting = sweep.unfinished.length ? `<p class="note">Still training (not in the table until they finish): ${sweep.unfinished.map((d) => `<a href="${escapeHtml(uiLink('run', options.token, { dir: relativeName(dir, d) }))}">${escapeHtml(relativeName(dir, d))}</a>`).join(', ')}</p>` : '';
  return addLiveParts(html, options, waiting);
}

/** A folder's name relative to the folder shown, with forward slashes. */
export function relativeName(root: string, dir: string): string {
  const rel = dir.startsWith(root) ? dir.slice(root.length).replace(/^[\\/]+/, '') : dir;
  return rel.split(/[\\/]/).join('/');
}

function addLiveParts(html: string, options: PageOptions, extra = ''): string {
  const status = `<p class="note" id="ui-status">${options.live ? 'live · following the run' : 'read-only · the run has finished'}</p>${extra}`;
  const config = jsonForScript({ token: options.token, live: options.live, run: options.run ?? null });
  const withStatus = html.replace('<main>', () => `<main>\n${status}`);
  const end = withStatus.lastIndexOf('</body>');
  return `${withStatus.slice(0, end)}<script type="application/json" id="ui-config">${config}</script>\n<script id="ui-script">${LIVE_SCRIPT}</script>\n${withStatus.slice(end)}`;
}
