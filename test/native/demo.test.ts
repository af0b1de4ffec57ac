// The demo's whole story in its run folder, on SmolLM2 with small settings (2 steps, a 3-case
// slice of the example suite): the baseline is the run's step-0 eval, the fused model's eval is a
// `fused` event in metrics.jsonl, both reach onEvent (what `demo --ui` pushes to its live page),
// and the run's page and report show the baseline, the adapter's evals and the fused model.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { demoRunDir, runDemo, setAsideEarlierRun, type DemoResult } from '../../src/demo/demo.js';
import type { TrainEvent } from '../../src/train/loop.js';
import { readMetrics } from '../../src/run/metrics.js';
import { renderRunPage } from '../../src/ui/page.js';
import { describeOrSkip } from '../helpers/skip.js';
import { SMOLLM2_MISSING, smallDemoOptions } from '../helpers/smollm2.js';
import { tmpDir } from '../helpers/train.js';

const at0 = (lines: string[], re: RegExp) => lines.findIndex((l) => re.test(l));

describeOrSkip(SMOLLM2_MISSING, 'the demo, small (SmolLM2, 2 steps, 3 cases)', () => {
  const dir = tmpDir('mlxlab-demo-');
  const events: TrainEvent[] = [];
  const lines: string[] = [];
  let result: DemoResult;

  beforeAll(async () => {
    result = await runDemo(smallDemoOptions(dir, { constrained: true, log: (line) => lines.push(line), onEvent: (e) => events.push(e) }));
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the baseline is the run’s step-0 eval; the fused eval is logged to the run and passed to onEvent', () => {
    const formats = events.filter((e) => e.event === 'format');
    expect(formats[0]).toMatchObject({ event: 'format', iteration: 0, n: 3 });
    expect(result.baseline).toMatchObject({ iteration: 0, score: (formats[0] as { score: number }).score });
    const fused = events.filter((e) => e.event === 'fused');
    expect(fused).toHaveLength(1);
    expect(fused[0]).toMatchObject({ bits: 5, groupSize: 32, model: result.fusedDir, score: result.fused.score, n: 3, iteration: result.experiment.selection!.checkpoint.iteration });
    const logged = readMetrics(join(demoRunDir(dir), 'metrics.jsonl')).events;
    expect(logged.at(-2)).toMatchObject({ event: 'fused', score: result.fused.score });
    // With constrained: the selected adapter free and under the grammars, logged last; its free
    // score is the live eval's at the selected step (the same adapter, greedy), and under the
    // wrapper grammar no reply is prose.
    const sel = result.experiment.selection!.checkpoint;
    expect(logged.at(-1)).toMatchObject({ event: 'constrained', step: sel.iteration, free: { score: sel.formatScore, n: 3 }, constrained: { score: result.constrained!.constrained.score } });
    expect(events.at(-1)).toMatchObject({ event: 'constrained' });
    expect(result.constrained!.constrained.failures.prose ?? 0).toBe(0);
    expect(at0(lines, /^ {6}the selected adapter free /)).toBeGreaterThan(at0(lines, /^ {6}fused 5-bit model: /));
    // The stages in order, the baseline line between stage 3 and 4.
    const at = (re: RegExp) => at0(lines, re);
    expect(at(/^\[3\/7\]/)).toBeLessThan(at(/^ {6}baseline: /));
    expect(at(/^ {6}baseline: /)).toBeLessThan(at(/^\[4\/7\]/));
    expect(at(/^ {6}fused 5-bit model: /)).toBeGreaterThan(at(/^\[6\/7\]/));
  });

  it('the run’s page and report show the baseline and the fused model', () => {
    const page = renderRunPage(demoRunDir(dir), { token: 'a'.repeat(48), live: false, source: demoRunDir(dir) });
    expect(page).toContain('baseline (step 0)');
    expect(page).toContain('fused 5-bit model');
    expect(readFileSync(result.reportFile, 'utf8')).toContain('fused 5-bit model');
    expect(readFileSync(result.reportFile, 'utf8')).toContain('<h2>Free vs constrained decoding</h2>');
  });
});

describe('the demo starts over without losing an earlier run', () => {
  const dir = tmpDir('mlxlab-demo-aside-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('moves an earlier run’s files aside (nothing deleted); an empty or missing run folder is left alone', () => {
    expect(setAsideEarlierRun(dir)).toBeUndefined(); // no run folder
    const run = demoRunDir(dir);
    mkdirSync(join(run, 'checkpoints'), { recursive: true });
    // The clock frozen: both set-asides fall in one millisecond and must still get folders of their own.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-07T08:00:00.000Z'));
    const first = setAsideEarlierRun(dir)!; // the empty checkpoints folder is an earlier run's file
    expect(readdirSync(first)).toEqual(['checkpoints']);
    expect(readdirSync(run)).toEqual([]);
    expect(setAsideEarlierRun(dir)).toBeUndefined(); // an empty run folder (the live page makes one)
    writeFileSync(join(run, 'metrics.jsonl'), '{"event":"start"}\n');
    writeFileSync(join(run, 'adapters.safetensors'), 'x');
    const lines: string[] = [];
    const dest = setAsideEarlierRun(dir, (l) => lines.push(l))!;
    expect(dest.startsWith(join(dir, 'earlier-runs'))).toBe(true);
    expect(readdirSync(run)).toEqual([]);
    expect(readFileSync(join(dest, 'metrics.jsonl'), 'utf8')).toBe('{"event":"start"}\n');
    expect(readdirSync(dest).sort()).toEqual(['adapters.safetensors', 'metrics.jsonl']);
    expect(lines[0]).toContain(dest);
    expect(dest).toBe(`${first}-2`);
    expect(readdirSync(first)).toEqual(['checkpoints']);
    vi.useRealTimers();
  });

  it('refuses while another process writes the run, moving nothing', () => {
    const run = demoRunDir(dir);
    writeFileSync(join(run, 'metrics.jsonl'), '{"event":"start"}\n');
    // pid 1 is alive on this host: a live writer, not a stale lock.
    writeFileSync(join(run, '.mlx-lab.lock'), JSON.stringify({ pid: 1, host: hostname(), startedAt: new Date().toISOString(), command: 'train' }));
    expect(() => setAsideEarlierRun(dir)).toThrow(/locked by `train` \(pid 1/);
    expect(readdirSync(run).sort()).toEqual(['.mlx-lab.lock', 'metrics.jsonl']);
  });
});
