// `demo --rl`, small (SmolLM2, 2 SFT steps, then 2 GRPO steps of 1 prompt × 2 completions, a
// 3-case slice of the suite): the GRPO run starts from the adapter SFT selected (its step-0 format
// score equals that checkpoint's, greedy on the same adapter: a GRPO run that started from the base
// model or a fresh adapter would score the baseline), it trains with grpo events, its selection
// is fused and the fused eval logged to it, both runs get a report, and the GRPO prompts are a
// loadable suite that holds none of the held-out prompts.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { demoRunDir, runDemo, type DemoResult } from '../../src/demo/demo.js';
import { demoRlRunDir } from '../../src/demo/rl-stage.js';
import { loadSuite } from '../../src/eval/index.js';
import type { TrainEvent } from '../../src/train/loop.js';
import { readMetrics } from '../../src/run/metrics.js';
import { runCli } from '../helpers/cli.js';
import { describeOrSkip } from '../helpers/skip.js';
import { SMOLLM2_MISSING, smallDemoOptions } from '../helpers/smollm2.js';
import { tmpDir } from '../helpers/train.js';

describeOrSkip(SMOLLM2_MISSING, 'demo --rl, small (SmolLM2, 2 SFT + 2 GRPO steps, 3 cases)', () => {
  const dir = tmpDir('mlxlab-demo-rl-');
  const events: TrainEvent[] = [];
  const lines: string[] = [];
  let result: DemoResult;

  beforeAll(async () => {
    result = await runDemo(smallDemoOptions(dir, { rl: true, rlIters: 2, rlEvalEvery: 2, groupSize: 2, rlPrompts: 1, rlPromptCount: 8, log: (line) => lines.push(line), onEvent: (e) => events.push(e) }));
  }, 900_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('GRPO starts from the SFT selection, trains, and its selection is fused and reported', () => {
    const rl = result.rl!;
    expect(rl.adapterPath).toBe(demoRlRunDir(dir));
    const sftSel = result.experiment.selection!.checkpoint;
    const rlLog = readMetrics(join(rl.adapterPath, 'metrics.jsonl')).events;
    const rlFormats = rlLog.filter((e) => e.event === 'format') as Extract<TrainEvent, { event: 'format' }>[];
    expect(rlFormats.map((e) => e.iteration)).toEqual([0, 2]);
    expect(rlFormats[0].score).toBe(sftSel.formatScore);
    expect(rlFormats[0].cases).toEqual((result.experiment.evals.find((e) => e.iteration === sftSel.iteration) as { cases: Record<string, number> }).cases);
    const grpo = rlLog.filter((e) => e.event === 'grpo');
    expect(grpo.map((e) => (e as { iteration: number }).iteration)).toEqual([1, 2]);
    expect(rlLog.at(-1)).toMatchObject({ event: 'fused', score: result.fused.score, iteration: rl.selection!.checkpoint.iteration });
    expect(readMetrics(join(demoRunDir(dir), 'metrics.jsonl')).events.some((e) => e.event === 'fused')).toBe(false);
    expect(existsSync(join(demoRunDir(dir), 'report.html'))).toBe(true);
    expect(result.reportFile).toBe(join(rl.adapterPath, 'report.html'));
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/^\[5\/8\] selected/)).toBeLessThan(at(/^\[6\/8\] GRPO with the rubric/));
    expect(at(/^\[6\/8\] GRPO/)).toBeLessThan(at(/^ {6}GRPO step 1: mean reward /));
    expect(at(/^\[7\/8\] fusing/)).toBeGreaterThan(at(/^ {6}GRPO selected: /));
    expect(lines.at(-1)).toMatch(/\(after GRPO\) → [\d.]+% \(fused 5-bit\)$/);
  });

  it('the GRPO prompts are a rubric suite without the held-out prompts', async () => {
    const prompts = await loadSuite(join(dir, 'data', 'prompts.jsonl'));
    const held = await loadSuite(join(dir, 'suite.yaml'));
    expect(prompts.cases).toHaveLength(8);
    expect(prompts.scorer).toBe('rubric');
    expect(prompts.system).toBe(held.system);
    for (const c of prompts.cases) {
      expect(held.cases.map((h) => h.prompt)).not.toContain(c.prompt);
      expect(c.expect).toHaveProperty('tool');
    }
  });

  it('the GRPO flags without --rl are refused before anything runs', async () => {
    const r = await runCli(['demo', '--dir', join(dir, 'x'), '--rl-iters', '3']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/E_ARGUMENT: --rl-iters, --rl-eval-every and --group-size shape the GRPO stage: give them with --rl/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});
