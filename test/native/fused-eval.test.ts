// The fused model's eval in the run (what `demo` logs after fusing, and what its live page shows):
// a LoRA run on the tiny-chat fixture, fused to 4 bits, the fused model evaluated and logged with
// logFusedEval. The event lands in metrics.jsonl (whole, parseable, the run's lock taken and
// released), and the report view, the HTML page (card, chart point, heat-map column) and the
// page's replies show it. A second writer holding the lock is refused; a damaged fused event is
// passed over, never rendered; a hostile model path is escaped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { loadModel, type Model } from '../../src/model/model.js';
import { logFusedEval, runExperiment, type ExperimentResult } from '../../src/run/experiment.js';
import { loadSuite, type EvalSuite } from '../../src/eval/index.js';
import { runEval, type EvalResult } from '../../src/eval/runner.js';
import { fuse } from '../../src/convert/fuse.js';
import { buildRunView, loadRun, readMetrics, renderRunReport, runSummary } from '../../src/report/index.js';
import { writeReport } from '../../src/report/write.js';
import { repliesOf } from '../../src/ui/replies.js';
import { renderRunPage } from '../../src/ui/page.js';
import { tinyToolSplits, TINY_CHAT, TINY_SUITE } from '../helpers/experiment.js';
import { tinyConfig, tmpDir } from '../helpers/train.js';

const MAX_TOKENS = 24;

describe('the fused model eval, logged to its run', () => {
  let model: Model;
  let suite: EvalSuite;
  let run: ExperimentResult;
  let fused: EvalResult;
  let fusedDir: string;
  const dirs: string[] = [];

  beforeAll(async () => {
    model = await loadModel(TINY_CHAT);
    suite = await loadSuite(TINY_SUITE);
    const dir = tmpDir('mlxlab-fused-eval-');
    dirs.push(dir);
    const data = tinyToolSplits(model.tokenizer, suite.cases.map((c) => c.prompt!), 16, 4);
    run = await runExperiment(
      tinyConfig(join(dir, 'run'), {
        iters: 4,
        save_every: 2,
        steps_per_eval: 1000,
        eval: { suite: TINY_SUITE, every: 2, max_tokens: MAX_TOKENS, stop: [], at_start: true },
      }),
      { model, suite, data },
    );
    fusedDir = join(dir, 'fused');
    await fuse({ model, adapter: run.adapterPath, out: fusedDir, bits: 4, groupSize: 32 });
    const fusedModel = await loadModel(fusedDir);
    try {
      fused = await runEval(fusedModel, suite, { maxTokens: MAX_TOKENS });
    } finally {
      fusedModel.dispose();
    }
  }, 120_000);
  afterAll(() => {
    model?.dispose();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('appends one fused event to metrics.jsonl, holding and releasing the run lock', () => {
    const before = readMetrics(join(run.adapterPath, 'metrics.jsonl')).events.length;
    const iteration = run.selection!.checkpoint.iteration;
    const event = logFusedEval(run.adapterPath, { model: fusedDir, bits: 4, groupSize: 32, iteration }, fused);
    const log = readMetrics(join(run.adapterPath, 'metrics.jsonl'));
    expect(log.torn).toBeUndefined();
    expect(log.events).toHaveLength(before + 1);
    const last = log.events.at(-1)!;
    expect(last).toMatchObject({ event: 'fused', iteration, model: fusedDir, bits: 4, groupSize: 32, score: fused.score, low: fused.low, high: fused.high, n: suite.cases.length });
    expect(typeof last.time).toBe('number');
    expect(event).toMatchObject({ event: 'fused', score: fused.score });
    // Per case: the fused model's scores and replies, as a format event logs them.
    for (const c of fused.cases) {
      expect((last as { cases: Record<string, number> }).cases[c.id]).toBe(c.score);
      expect((last as { replies: Record<string, string> }).replies[c.id]).toBe(c.text);
    }
    expect(existsSync(join(run.adapterPath, '.mlx-lab.lock'))).toBe(false);
  });

  it('the report view, the page (card, chart point, heat-map column) and the replies show it', async () => {
    const loaded = loadRun(run.adapterPath);
    const view = buildRunView({ manifest: loaded.manifest, events: loaded.events });
    expect(view.fused).toMatchObject({ bits: 4, groupSize: 32, score: fused.score, iteration: run.selection!.checkpoint.iteration, model: fusedDir });
    expect(view.baseline?.iteration).toBe(0);
    const html = renderRunReport(view);
    expect(html).toContain('fused 4-bit model');
    expect(html).toMatch(/<th[^>]*title="the fused 4-bit model \(from step \d+\)[^"]*">fused 4-bit<\/th>/);
    const data = JSON.parse(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]) as { fused: { x: number; y: number } };
    expect(data.fused).toMatchObject({ x: run.selection!.checkpoint.iteration, y: fused.score });
    expect(runSummary(view)).toMatch(new RegExp(`fused {5}4-bit model from step \\d+: ${(100 * fused.score).toFixed(1)}%`));
    // The live page is the same rendering; the written report too.
    expect(renderRunPage(run.adapterPath, { token: 't'.repeat(48), live: false, source: run.adapterPath })).toContain('fused 4-bit model');
    const reportFile = await writeReport(run.adapterPath, { suite: TINY_SUITE }, () => {});
    expect(readFileSync(reportFile, 'utf8')).toContain('fused 4-bit model');
    // Clicking a case: the steps' replies, then the fused model's, labelled.
    const id = suite.cases[0].id;
    const replies = repliesOf(run.adapterPath, id);
    const last = replies.evals.at(-1)!;
    expect(last.label).toMatch(/^fused 4-bit model \(from step \d+\)$/);
    expect(last.reply).toBe(fused.cases.find((c) => c.id === id)!.text);
    expect(replies.evals.slice(0, -1).map((e) => e.iteration)).toEqual(run.evals.map((e) => e.iteration));
  });

  it('is refused while another writer holds the run folder, and writes nothing', () => {
    const lock = join(run.adapterPath, '.mlx-lab.lock');
    const metrics = join(run.adapterPath, 'metrics.jsonl');
    const before = readFileSync(metrics, 'utf8');
    // pid 1 is alive on this host: a live holder, not a stale lock.
    writeFileSync(lock, JSON.stringify({ pid: 1, host: hostname(), startedAt: new Date().toISOString(), command: 'train' }));
    try {
      expect(() => logFusedEval(run.adapterPath, { model: fusedDir, bits: 4, groupSize: 32, iteration: 4 }, fused)).toThrow(/locked by `train` \(pid 1/);
      expect(readFileSync(metrics, 'utf8')).toBe(before);
    } finally {
      rmSync(lock, { force: true });
    }
  });

  it('a damaged fused event is passed over; the model path is escaped on the page', () => {
    const metrics = join(run.adapterPath, 'metrics.jsonl');
    const good = { event: 'fused', iteration: 2, score: 0.5, low: 0.1, high: 0.9, n: 2, cases: {}, failures: {}, categories: {}, caseCategories: {}, bits: 8, groupSize: 64, model: '<script>alert(1)</script>', seconds: 1, tokensPerSec: 1, peakMemory: 1 };
    appendFileSync(metrics, `${JSON.stringify(good)}\n`);
    for (const bad of [{ score: 'x' }, { bits: null }, { low: Number.NaN }, { iteration: '2' }]) appendFileSync(metrics, `${JSON.stringify({ ...good, ...bad })}\n`);
    appendFileSync(metrics, `${JSON.stringify({ event: 'fused' })}\n`);
    const loaded = loadRun(run.adapterPath);
    const view = buildRunView({ manifest: loaded.manifest, events: loaded.events });
    expect(view.fused).toMatchObject({ bits: 8, score: 0.5, iteration: 2 }); // the last well-formed one
    const html = renderRunReport(view);
    expect(html).toContain('fused 8-bit model');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('title="&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(() => repliesOf(run.adapterPath, suite.cases[0].id)).not.toThrow();
  });
});
