// The run and sweep reports: the metrics reader, the views, the HTML pages, the summaries and
// the `report` command, on the synthetic run folders of test/fixtures/report (see make.mjs there).
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunManifest } from '../../src/run/experiment.js';
import {
  buildRunView,
  chartJsSource,
  detectReportKind,
  distribution,
  escapeHtml,
  loadCaseCategories,
  loadRun,
  loadSweep,
  parseMetrics,
  readMetrics,
  renderRunReport,
  renderSweepReport,
  runSummary,
  sweepLabels,
  sweepStats,
  sweepSummary,
  type SweepRunInput,
} from '../../src/report/index.js';
import { reportCommand } from '../../src/cli/report.js';
import { writeReport } from '../../src/report/write.js';

const FIX = resolve('test/fixtures/report');
const REF = join(FIX, 'run-reference');
const SUITE = join(FIX, 'suite.yaml');

const manifestOf = (dir: string): RunManifest => JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunManifest;

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-report-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The HTML outside the inlined chart library (the part that carries user data). */
function pagePart(html: string): string {
  return html.replace(chartJsSource(), '');
}

function dataBlock(html: string): unknown {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]);
}

describe('metrics.jsonl', () => {
  const line = (o: object) => JSON.stringify(o);
  const val = (i: number) => line({ event: 'val', iteration: i, valLoss: 1 / i, valTokens: 10, seconds: 0.1 });

  it('tolerates a torn last line and skips blank lines', () => {
    const text = `${val(1)}\n\n${val(2)}\n   \n{"event":"report","iterat`;
    const log = parseMetrics(text, 'run/metrics.jsonl');
    expect(log.events.map((e) => e.event)).toEqual(['val', 'val']);
    expect(log.torn).toBe(5);
    // a complete last line, with or without a final newline, is kept
    expect(parseMetrics(`${val(1)}\n${val(2)}`).events).toHaveLength(2);
    expect(parseMetrics(`${val(1)}\n${val(2)}\n\n`).torn).toBeUndefined();
    expect(parseMetrics('').events).toEqual([]);
  });

  it('names file:line for a corrupt line in the middle', () => {
    const text = `${val(1)}\n${val(2)}\n{"event":"val", oops}\n${val(3)}\n`;
    expect(() => parseMetrics(text, 'runs/a/metrics.jsonl')).toThrow(/runs\/a\/metrics\.jsonl:3: not a JSON line/);
    expect(() => parseMetrics(`${val(1)}\n[1,2]\n${val(2)}\n`, 'm.jsonl')).toThrow(/m\.jsonl:2: not a metrics event/);
    const file = join(tmp, 'corrupt.jsonl');
    writeFileSync(file, `${val(1)}\n\n}{\n${val(2)}\n`);
    expect(() => readMetrics(file)).toThrow(`${file}:3:`);
  });

  it('reads a killed run whose last line is torn', () => {
    const log = readMetrics(join(FIX, 'run-unfinished', 'metrics.jsonl'));
    expect(log.torn).toBeGreaterThan(1);
    expect(log.events[0].event).toBe('start');
    expect(log.events.filter((e) => e.event === 'format')).toHaveLength(5);
  });
});

describe('run view', () => {
  it('the reference case: the selected checkpoint is not the lowest-loss one', () => {
    const run = loadRun(REF);
    const v = buildRunView({ manifest: run.manifest, events: run.events, caseCategories: loadCaseCategories(SUITE) });
    expect(v.selected?.iteration).toBe(300);
    expect(v.best?.iteration).toBe(300);
    expect(v.lowestValLoss?.iteration).toBe(500);
    expect(v.baseline?.iteration).toBe(0);
    expect(v.baseline?.score).toBe(0);
    expect(v.groups.map((g) => g.category)).toEqual(['files', 'shell', 'lsp', 'git']);
    expect(v.caseIds).toHaveLength(12);
    expect(v.trainLosses.length).toBeGreaterThan(10);
    expect(v.stopReason).toBe('callback');
    // val losses merge the validations (every 100) with the evals' (every 50)
    expect(v.valLosses.map((x) => x.iteration)).toContain(50);
    expect(v.failureClasses[0]).toBe('prose');
  });

  it('an unfinished run is read from its log, with a provisional selection', () => {
    const run = loadRun(join(FIX, 'run-unfinished'));
    expect(run.manifest).toBeUndefined();
    const v = buildRunView({ events: run.events, config: run.config });
    expect(v.finished).toBe(false);
    expect(v.selected).toMatchObject({ iteration: 200, provisional: true });
    expect(v.iterations).toBe(230);
    expect(v.seed).toBe(7);
    expect(v.suite).toBe('test/fixtures/report/suite.yaml');
  });

  it('groups cases as one group when categories are unknown', () => {
    const v = buildRunView({ manifest: manifestOf(REF) });
    expect(v.groups).toEqual([{ category: 'all cases', ids: v.caseIds }]);
  });
});

describe('run report (HTML)', () => {
  let html: string;
  beforeAll(() => {
    const run = loadRun(REF);
    html = renderRunReport({ manifest: run.manifest, events: run.events, caseCategories: loadCaseCategories(SUITE) });
  });

  it('is self-contained, with Chart.js inline', () => {
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/(href|src)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/@import|url\(\s*["']?https?:/i);
    expect(html.includes(chartJsSource())).toBe(true);
    expect(chartJsSource()).toMatch(/Chart\.js v4/);
    expect(chartJsSource()).not.toMatch(/sourceMappingURL/);
    expect(html.match(/<script\b/g)).toHaveLength(3);
  });

  it('shows the title, the selected step and its reason, every case id and the stop', () => {
    expect(html).toContain('model Qwen3-Coder-30B-A3B-Instruct-4bit · data tool-format · suite suite.yaml · seed 1');
    expect(html).toContain('Selected step 300');
    expect(html).toContain('the lowest val loss (0.2007 at step 500) scored 0.3333');
    for (const id of Object.keys(manifestOf(REF).evals[0].cases)) expect(html).toContain(`<th class="case" title="${id}">${id}</th>`);
    for (const cat of ['files', 'shell', 'lsp', 'git']) expect(html).toContain(`<th>${cat} <span class="tag">3</span></th>`);
    expect(html).toContain('early stopping: format_score did not improve by 0.0100 for 4 evals');
    expect(html).toContain('id="chart-main"');
    expect(html).toContain('id="chart-failures"');
    const data = dataBlock(html) as { selected: { x: number }; lowestLoss: { x: number }; baseline: { x: number; y: number }; evals: unknown[]; checkpointSteps: number[] };
    expect(data.selected.x).toBe(300);
    expect(data.lowestLoss.x).toBe(500);
    expect(data.baseline).toEqual({ x: 0, y: 0 });
    expect(data.evals).toHaveLength(11);
    expect(data.checkpointSteps).toEqual([100, 200, 300, 400, 500]);
  });

  it('escapes user text: case ids, paths, messages, categories, failure classes', () => {
    const m = manifestOf(REF);
    const evil = '<script>alert(1)</script>';
    const evals = m.evals.map((e) => ({ ...e, cases: { ...e.cases, [evil]: 1, 'a&b "q"': 0 }, failures: { ...e.failures, '<b>x</b>': 1 } }));
    const bad: RunManifest = {
      ...m,
      model: '"><img src=x onerror=alert(2)>',
      stopMessage: '</script><script>alert(3)</script>',
      evals,
      selected: { ...m.selected!, reason: '<i>why</i> </script>' },
    };
    const page = renderRunReport({ manifest: bad, caseCategories: { [evil]: '<u>cat</u>' } });
    const own = pagePart(page);
    expect(own).not.toContain('<script>alert');
    expect(own).not.toContain('<img');
    expect(own).not.toContain('<u>cat');
    expect(own).not.toContain('<b>x</b>');
    expect(own).not.toContain('<i>why');
    expect(page.match(/<script\b/g)).toHaveLength(3);
    expect(own).toContain(escapeHtml(evil));
    expect(own).toContain('a&amp;b &quot;q&quot;');
    expect(own).toContain('&lt;u&gt;cat&lt;/u&gt;');
    // the data block survives as data
    const data = dataBlock(page) as { failures: { classes: { name: string }[] } };
    expect(data.failures.classes.map((c) => c.name)).toContain('<b>x</b>');
  });

  it('renders a run with val losses only (no suite)', () => {
    const m = manifestOf(REF);
    const plain: RunManifest = { ...m, suite: null, baseline: undefined, evals: [], checkpoints: m.checkpoints.map((c) => ({ ...c, formatScore: undefined })), selected: undefined };
    const page = renderRunReport({ manifest: plain });
    expect(page).toContain('No checkpoint was selected.');
    expect(page).not.toContain('Per-case scores');
    expect(runSummary({ manifest: plain })).toContain('no format evals');
  });
});

describe('sweep', () => {
  const sweepRuns = (): SweepRunInput[] => loadSweep(join(FIX, 'sweep')).runs;

  it('finds the runs below a sweep folder and labels them by seed', () => {
    const s = loadSweep(join(FIX, 'sweep'));
    expect(s.runs.map((r) => r.label)).toEqual(['seed 1', 'seed 2', 'seed 3']);
    expect(s.runs[0].href).toBe('seed-1/report.html');
    expect(detectReportKind(join(FIX, 'sweep'))).toBe('sweep');
    expect(detectReportKind(REF)).toBe('run');
    expect(detectReportKind(join(FIX, 'run-unfinished'))).toBe('run');
    const empty = join(tmp, 'empty');
    mkdirSync(empty, { recursive: true });
    expect(() => detectReportKind(empty)).toThrow(/neither a run folder/);
  });

  it('computes best scores, their spread and the lock count', () => {
    const s = sweepStats(sweepRuns());
    expect(s.runs.map((r) => [r.seed, r.best?.score, r.best?.iteration, r.locked])).toEqual([
      [1, 0.9583, 300, true],
      [2, 0.7083, 300, false],
      [3, 0.875, 300, true],
    ]);
    expect(s.locked).toBe(2);
    expect(s.best.mean).toBeCloseTo((0.9583 + 0.7083 + 0.875) / 3, 6);
    expect(s.best.min).toBe(0.7083);
    expect(s.best.max).toBe(0.9583);
    expect(s.best.std).toBeCloseTo(0.12729, 4);
    expect(s.runs[1].failureMix).toEqual({ no_wrapper: 7 });
    expect(sweepStats(sweepRuns(), { threshold: 0.9 }).locked).toBe(1);
    expect(distribution([])).toMatchObject({ n: 0 });
    expect(distribution([0.5])).toMatchObject({ n: 1, mean: 0.5, std: 0, median: 0.5 });
  });

  it('labels grid runs by what differs, and breaks ties with folder names', () => {
    const m = manifestOf(REF);
    const a = { ...m, seed: 1, config: { ...m.config, seed: 1, learning_rate: 1e-4, adapter_path: 'x/a' } };
    const b = { ...m, seed: 1, config: { ...m.config, seed: 1, learning_rate: 2e-4, adapter_path: 'x/b' } };
    const c = { ...m, seed: 2, config: { ...m.config, seed: 2, learning_rate: 2e-4, lora_parameters: { ...m.config.lora_parameters, rank: 16 }, adapter_path: 'x/c' } };
    expect(sweepLabels([a, b, c])).toEqual(['seed 1 · lr 0.0001 · rank 8', 'seed 1 · lr 0.0002 · rank 8', 'seed 2 · lr 0.0002 · rank 16']);
    expect(sweepLabels([a, a], ['r1', 'r2'])).toEqual(['seed 1 (r1)', 'seed 1 (r2)']);
  });

  it('the sweep report lists every seed, the intervals and the lock count; it is self-contained', () => {
    const html = renderSweepReport(sweepRuns(), { caseCategories: loadCaseCategories(SUITE) });
    for (const seed of [1, 2, 3]) expect(html).toContain(`>seed ${seed}</a>`);
    expect(html).toContain('<div class="v">2 of 3</div>');
    expect(html).toContain('best score ≥ 80%');
    expect(html).toContain('[69.9, 99.6]');
    expect(html).toContain('[42.8, 88.7]');
    expect(html).toContain('no_wrapper 7');
    expect(html).toContain('id="chart-best"');
    expect(html.includes(chartJsSource())).toBe(true);
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/href\s*=\s*["']?https?:/i);
    expect(renderSweepReport(sweepRuns(), { threshold: 0.5 })).toContain('<div class="v">3 of 3</div>');
    const data = dataBlock(html) as { runs: { label: string; locked: boolean }[]; threshold: number };
    expect(data.runs.map((r) => r.locked)).toEqual([true, false, true]);
    expect(data.threshold).toBe(0.8);
  });

  it('escapes run labels', () => {
    const runs = sweepRuns().map((r, i) => ({ ...r, label: i === 0 ? '<script>alert(1)</script>' : r.label, href: i === 0 ? '"><script>x</script>' : r.href }));
    const html = renderSweepReport(runs);
    expect(pagePart(html)).not.toContain('<script>alert');
    expect(pagePart(html)).not.toContain('<script>x');
    expect(html.match(/<script\b/g)).toHaveLength(3);
    expect((dataBlock(html) as { runs: { label: string }[] }).runs[0].label).toBe('<script>alert(1)</script>');
  });
});

describe('summaries', () => {
  it('a run in a few lines', () => {
    const run = loadRun(REF);
    const text = runSummary({ manifest: run.manifest, events: run.events }, 'runs/ref');
    expect(text.split('\n').filter(Boolean)).toHaveLength(5);
    expect(text).toContain('run       runs/ref  (model models/Qwen3-Coder-30B-A3B-Instruct-4bit');
    expect(text).toContain('format    0.0% [0.0, 24.3] at step 0 → best 95.8% [69.9, 99.6] at step 300 (11 evals)');
    expect(text).toContain('selected  step 300: best format_score 0.9583 at step 300; the lowest val loss (0.2007 at step 500) scored 0.3333');
    expect(text).toContain('val loss  0.339 at selection; lowest 0.201 at step 500 (format 33.3%)');
    expect(text).toContain('stop      early stopping: format_score did not improve');
  });

  it('a sweep as a table by seed', () => {
    const text = sweepSummary(loadSweep(join(FIX, 'sweep')).runs, {}, 'sweep');
    const lines = text.split('\n');
    expect(lines[0]).toBe('sweep  sweep  (3 runs, lock threshold 80%)');
    expect(lines[1]).toMatch(/^run\s+seed\s+baseline\s+best\s+95% interval\s+step\s+selected\s+val loss\s+locked\s+stop$/);
    expect(lines[2]).toMatch(/^seed 1\s+1\s+0\.0%\s+95\.8%\s+\[69\.9, 99\.6\]\s+300\s+300\s+0\.339\s+yes\s+early stop$/);
    expect(lines[3]).toMatch(/^seed 2 .* no\s+early stop$/);
    expect(text).toContain('best score over 3 runs: mean 84.7%, sd 12.7 points, min 70.8%, max 95.8%');
    expect(text).toContain('2 of 3 runs locked the format (best ≥ 80%)');
  });
});

describe('mlx-lab report', () => {
  let out: string[];
  afterEach(() => vi.restoreAllMocks());
  const capture = () => {
    out = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
  };

  it('writes report.html into a run folder and prints the summary and the path', async () => {
    const dir = join(tmp, 'run');
    cpSync(REF, dir, { recursive: true });
    capture();
    await reportCommand().parseAsync([dir], { from: 'user' });
    vi.restoreAllMocks();
    const file = join(dir, 'report.html');
    expect(existsSync(file)).toBe(true);
    const text = out.join('');
    expect(text).toContain('selected  step 300');
    expect(text).toContain(`report    ${file}`);
    // the suite recorded in run.json (relative to the repo root) gives the categories
    expect(readFileSync(file, 'utf8')).toContain('<th>lsp <span class="tag">3</span></th>');
  });

  it('--out, and a note for a torn last line', async () => {
    const dir = join(tmp, 'unfinished');
    cpSync(join(FIX, 'run-unfinished'), dir, { recursive: true });
    const file = join(tmp, 'elsewhere', 'u.html');
    capture();
    await reportCommand().parseAsync([dir, '--out', file], { from: 'user' });
    vi.restoreAllMocks();
    expect(existsSync(file)).toBe(true);
    expect(existsSync(join(dir, 'report.html'))).toBe(false);
    expect(out.join('')).toMatch(/metrics\.jsonl:\d+: a torn last line was skipped/);
    expect(out.join('')).toContain('(provisional)');
  });

  it('a sweep folder: the sweep report, each run report, a threshold option', async () => {
    const dir = join(tmp, 'sweep');
    cpSync(join(FIX, 'sweep'), dir, { recursive: true });
    capture();
    await reportCommand().parseAsync([dir, '--threshold', '0.9'], { from: 'user' });
    vi.restoreAllMocks();
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('<div class="v">1 of 3</div>');
    expect(html).toContain('href="seed-2/report.html"');
    for (const s of [1, 2, 3]) expect(existsSync(join(dir, `seed-${s}`, 'report.html'))).toBe(true);
    expect(out.join('')).toContain('1 of 3 runs locked the format (best ≥ 90%)');
    await expect(reportCommand().exitOverride().configureOutput({ writeErr: () => {} }).parseAsync([dir, '--threshold', '2'], { from: 'user' })).rejects.toThrow(/threshold/);
  });

  it('an unfinished run below a sweep folder is named, not included', () => {
    const dir = join(tmp, 'sweep2');
    cpSync(join(FIX, 'sweep'), dir, { recursive: true });
    cpSync(join(FIX, 'run-unfinished'), join(dir, 'seed-7'), { recursive: true });
    const lines: string[] = [];
    writeReport(dir, { runs: false }, (t) => lines.push(t));
    expect(lines.join('')).toContain('not included (no run.json yet): seed-7');
    expect(existsSync(join(dir, 'seed-1', 'report.html'))).toBe(false);
  });
});

describe('GRPO in the run report', () => {
  it('the mean reward and the KL of the grpo events go on the main chart with the format score; non-finite ones are left out', () => {
    const run = loadRun(REF);
    const grpo = (iteration: number, rewardMean: number, kl: number) => ({ event: 'grpo' as const, iteration, loss: 0, kl, rewardMean, rewardStd: 0, rewards: {}, groups: 2, zeroAdvantageGroups: 0, scorerErrors: 0, completionTokens: 8, sharedPrefixTokens: 0, clipRatioLow: 0, clipRatioHigh: 0, rolloutSeconds: 0, seconds: 0 });
    const events = [...run.events, grpo(2, 0.25, 0), grpo(1, 0.125, 0), grpo(3, Number.NaN, 0.1), grpo(4, 0.5, 0.01)];
    const v = buildRunView({ manifest: run.manifest, events });
    expect(v.grpo).toEqual([
      { iteration: 1, reward: 0.125, kl: 0 },
      { iteration: 2, reward: 0.25, kl: 0 },
      { iteration: 4, reward: 0.5, kl: 0.01 },
    ]);
    const data = dataBlock(renderRunReport({ manifest: run.manifest, events })) as { rewards: { x: number; y: number }[]; kls: { x: number; y: number }[]; evals: unknown[] };
    expect(data.rewards).toEqual([{ x: 1, y: 0.125 }, { x: 2, y: 0.25 }, { x: 4, y: 0.5 }]);
    expect(data.kls.map((p) => p.y)).toEqual([0, 0, 0.01]);
    expect(data.evals).toHaveLength(11);
    expect(buildRunView({ manifest: run.manifest, events: run.events }).grpo).toEqual([]);
  });
});
