// Free vs constrained in a run's report: `mlx-lab eval --constrained --compare --run <dir>` on a
// checkpoint of a tiny LoRA run logs one `constrained` event (step from the checkpoint's name,
// both sides, per case both scores and failure classes), and `mlx-lab report` draws it as a
// section with both scores per case and the failure classes the grammar removed. Bad uses fail
// before any eval (no run folder, --run without --compare, a run another writer holds); a damaged
// event is passed over and hostile case ids are escaped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/model.js';
import { runExperiment, type ExperimentResult } from '../../src/run/experiment.js';
import { loadSuite } from '../../src/eval/index.js';
import { parseMetrics, renderRunReport, runSummary } from '../../src/report/index.js';
import type { MetricsEvent } from '../../src/run/metrics.js';
import { runCli } from '../helpers/cli.js';
import { tinyToolSplits, TINY_CHAT, TINY_SUITE } from '../helpers/experiment.js';
import { tinyConfig, tmpDir } from '../helpers/train.js';

const MAX_TOKENS = 24;

describe('free vs constrained, logged to a run and drawn in its report', () => {
  let run: ExperimentResult;
  const dirs: string[] = [];
  const evalArgs = (...extra: string[]) => ['eval', '-m', TINY_CHAT, '-s', TINY_SUITE, '--max-tokens', String(MAX_TOKENS), ...extra];

  beforeAll(async () => {
    const model = await loadModel(TINY_CHAT);
    try {
      const suite = await loadSuite(TINY_SUITE);
      const dir = tmpDir('mlxlab-constrained-report-');
      dirs.push(dir);
      const data = tinyToolSplits(model.tokenizer, suite.cases.map((c) => c.prompt!), 16, 4);
      run = await runExperiment(tinyConfig(join(dir, 'run'), { iters: 2, save_every: 2, steps_per_eval: 1000, eval: { suite: TINY_SUITE, every: 2, max_tokens: MAX_TOKENS, stop: [] } }), { model, suite, data });
    } finally {
      model.dispose();
    }
  }, 120_000);
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const constrainedEvents = () => parseMetrics(readFileSync(join(run.adapterPath, 'metrics.jsonl'), 'utf8')).events.filter((e) => e.event === 'constrained');

  it('logs one event for the checkpoint, and the report shows both scores per case', async () => {
    const checkpoint = join(run.adapterPath, '0000002_adapters.safetensors');
    expect(existsSync(checkpoint)).toBe(true);
    const r = await runCli(evalArgs('-a', checkpoint, '--constrained', '--compare', '--json', '--run', run.adapterPath));
    expect(r.code, r.stderr).toBe(0);
    const cmp = JSON.parse(r.stdout);
    const events = constrainedEvents();
    expect(events).toHaveLength(1);
    const e = events[0] as Extract<MetricsEvent, { event: 'constrained' }>;
    expect(e.step).toBe(2);
    expect(e.adapter).toBe(checkpoint);
    expect(e.free.score).toBe(cmp.unconstrained.score);
    expect(e.constrained.score).toBe(cmp.constrained.score);
    expect(Object.keys(e.cases)).toEqual(['status', 'tests', 'readme', 'readme-2']);
    for (const c of cmp.cases) {
      expect(e.cases[c.id]).toMatchObject({ free: c.unconstrained.score, constrained: c.constrained.score, constraint: c.constraint, freeFailure: c.unconstrained.failure, constrainedFailure: c.constrained.failure });
    }
    // The barely trained adapter writes prose free; under the wrapper grammar it cannot.
    expect(e.failures.prose?.free).toBeGreaterThan(0);
    expect(e.failures.prose?.constrained).toBe(0);
    expect(existsSync(join(run.adapterPath, '.mlx-lab.lock'))).toBe(false);

    const report = await runCli(['report', run.adapterPath]);
    expect(report.code, report.stderr).toBe(0);
    const html = readFileSync(join(run.adapterPath, 'report.html'), 'utf8');
    expect(html).toContain('<h2>Free vs constrained decoding</h2>');
    expect(html).toMatch(/0000002_adapters\.safetensors<\/span> \(step 2\): free <b>/);
    expect(html).toMatch(new RegExp(`Removed by the grammar: [^<]*prose ${e.failures.prose!.free - e.failures.prose!.constrained}`));
    for (const id of Object.keys(e.cases)) expect(html).toContain(`<tr><td>${id}</td>`);
  }, 120_000);

  it('refuses --run without --compare, a folder without a run, and a run another writer holds, before any eval', async () => {
    const alone = await runCli(evalArgs('--constrained', '--run', run.adapterPath));
    expect(alone.stderr).toMatch(/E_ARGUMENT: --run logs a free-vs-constrained comparison: give it with --constrained --compare/);
    const empty = join(dirs[0], 'empty');
    mkdirSync(empty, { recursive: true });
    const notRun = await runCli(evalArgs('--constrained', '--compare', '--run', empty));
    expect(notRun.code).not.toBe(0);
    expect(notRun.stderr).toContain(`${empty}: not a run folder (it has no metrics.jsonl)`);
    expect(notRun.stdout).toBe('');
    const lock = join(run.adapterPath, '.mlx-lab.lock');
    // pid 1 is alive on this host: a live holder, not a stale lock.
    writeFileSync(lock, JSON.stringify({ pid: 1, host: hostname(), startedAt: new Date().toISOString(), command: 'train' }));
    try {
      const held = await runCli(evalArgs('--constrained', '--compare', '--run', run.adapterPath));
      expect(held.code).not.toBe(0);
      expect(held.stderr).toMatch(/locked by `train` \(pid 1/);
      expect(held.stdout).toBe('');
    } finally {
      rmSync(lock, { force: true });
    }
    expect(constrainedEvents()).toHaveLength(1);
  }, 120_000);

  it('passes over a damaged event and escapes hostile case ids and paths', () => {
    const side = { score: 0.5, low: 0.1, high: 0.9, n: 2 };
    const good = {
      event: 'constrained',
      step: 3,
      adapter: '/x/<img src=x onerror=alert(1)>.safetensors',
      free: side,
      constrained: { ...side, score: 1 },
      cases: { '<script>alert(1)</script>': { free: 0, constrained: 1, constraint: 'wrapper', freeFailure: '<b>prose</b>', constrainedFailure: null, deadEnd: false }, broken: { free: 'x' } },
      failures: { prose: { free: 1, constrained: 0 }, bad: 7 },
    };
    const damaged = { event: 'constrained', step: 9, adapter: 'later', free: { score: 'high' }, constrained: side, cases: {}, failures: {} };
    const events = [good, damaged] as unknown as MetricsEvent[];
    const html = renderRunReport({ events });
    expect(html).toContain('(step 3)');
    expect(html).not.toContain('later');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;b&gt;prose&lt;/b&gt; → –');
    expect(html).not.toContain('<tr><td>broken</td>');
    expect(html).toContain('Removed by the grammar: prose 1.');
    expect(runSummary({ events })).toMatch(/^grammar   free 50\.0% \[10\.0, 90\.0\] → constrained 100\.0% \[10\.0, 90\.0\] \(step 3\)$/m);
  });
});
