/** Run and sweep reports: self-contained HTML pages and terminal summaries. */
export { parseMetrics, readMetrics, eventsOf, type MetricsEvent, type MetricsLog } from '../run/metrics.js';
export {
  buildRunView,
  bestEval,
  sweepStats,
  sweepLabels,
  distribution,
  groupCases,
  DEFAULT_LOCK_THRESHOLD,
  type RunInput,
  type RunView,
  type EvalPoint,
  type SelectedPoint,
  type CaseGroup,
  type SweepRunInput,
  type SweepOptions,
  type SweepRunStats,
  type SweepStats,
  type Distribution,
} from './model.js';
export { renderRunReport, renderSweepReport, runTitle, chartJsSource, escapeHtml, jsonForScript, heatColor, type ReportOptions, type SweepReportOptions } from './html.js';
export { runSummary, sweepSummary } from './summary.js';
export { loadRun, loadSweep, findRunDirs, findUnfinishedRunDirs, detectReportKind, loadCaseCategories, type LoadedRun, type LoadedSweep } from './load.js';
