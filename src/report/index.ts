/** Run and sweep reports: self-contained HTML pages and terminal summaries. */
export { parseMetrics, readMetrics, eventsOf, type MetricsEvent, type MetricsLog } from '../run/metrics.js';
export {
  buildRunView,
  sweepStats,
  sweepLabels,
  groupCases,
  type RunInput,
  type RunView,
  type RunEval,
  type SelectedPoint,
  type CaseGroup,
  type SweepRunInput,
  type SweepStatsOptions,
  type SweepRunStats,
  type SweepStats,
} from './model.js';
export { bestEval, DEFAULT_LOCK_THRESHOLD } from '../sweep/evals.js';
export { distribution, type Distribution } from '../eval/stats.js';
export { renderRunReport, renderSweepReport, runTitle, chartJsSource, escapeHtml, jsonForScript, heatColor, type ReportOptions, type SweepReportOptions } from './html.js';
export { runSummary, sweepSummary } from './summary.js';
export { loadRun, loadSweep, findRunDirs, findUnfinishedRunDirs, detectReportKind, loadCaseCategories, type LoadedRun, type LoadedSweep } from './load.js';
