// Sweep plans, run names, statistics and run summaries: no model needed.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultTrainConfig, mergeConfig, type TrainConfig } from '../../src/config/config.js';
import { planSweep, runName, formatNumber, lockThresholdOf, summarizeRun, summarizeRuns, describeValues, std, formatRunLine, formatSweepSummary, type SweepReport } from '../../src/sweep/index.js';
import { resolveSweepConfig } from '../../src/cli/sweep.js';
import type { ExperimentResult, FormatRecord } from '../../src/run/experiment.js';
import { MlxLabError } from '../../src/core/errors.js';

const base = (over: Partial<TrainConfig> = {}) => mergeConfig(defaultTrainConfig(), { model: 'm', data: 'd', adapter_path: '/tmp/sw', ...over });

describe('planSweep', () => {
  it('seeds only: seed-N folders under adapter_path, each config with its seed and no sweep section', () => {
    const plan = planSweep(base({ sweep: { seeds: [42, 7], grid: {} } }));
    expect(plan.map((p) => [p.index, p.name, p.seed, p.config.seed, p.config.adapter_path, p.config.sweep])).toEqual([
      [0, 'seed-42', 42, 42, '/tmp/sw/seed-42', null],
      [1, 'seed-7', 7, 7, '/tmp/sw/seed-7', null],
    ]);
  });

  it('a grid: every combination (last key fastest) × every seed (fastest); nested keys merged', () => {
    const plan = planSweep(base({ lora_parameters: { rank: 8, scale: 10, dropout: 0.05, keys: null }, sweep: { seeds: [1, 2], grid: { learning_rate: [1e-4, 2.5e-4], 'lora_parameters.rank': [4, 16], num_layers: [8] } } }));
    expect(plan.map((p) => p.name)).toEqual([
      'seed-1_lr-1e-4_rank-4_layers-8',
      'seed-2_lr-1e-4_rank-4_layers-8',
      'seed-1_lr-1e-4_rank-16_layers-8',
      'seed-2_lr-1e-4_rank-16_layers-8',
      'seed-1_lr-2.5e-4_rank-4_layers-8',
      'seed-2_lr-2.5e-4_rank-4_layers-8',
      'seed-1_lr-2.5e-4_rank-16_layers-8',
      'seed-2_lr-2.5e-4_rank-16_layers-8',
    ]);
    const p = plan[4];
    expect(p.grid).toEqual({ learning_rate: 2.5e-4, 'lora_parameters.rank': 4, num_layers: 8 });
    expect([p.config.learning_rate, p.config.lora_parameters, p.config.num_layers]).toEqual([2.5e-4, { rank: 4, scale: 10, dropout: 0.05, keys: null }, 8]);
  });

  it('a grid without seeds uses config.seed; --seeds (the option) replaces the config seeds', () => {
    expect(planSweep({ ...base({ seed: 9 }), sweep: { seeds: [], grid: { batch_size: [2, 4] } } }).map((p) => p.name)).toEqual(['seed-9_bs-2', 'seed-9_bs-4']);
    expect(planSweep(base({ sweep: { seeds: [1], grid: {} } }), { seeds: [3, 4] }).map((p) => p.name)).toEqual(['seed-3', 'seed-4']);
    expect(planSweep(base(), { seeds: [5] }).map((p) => p.name)).toEqual(['seed-5']);
  });

  it('a relative adapter_path is resolved once for all runs', () => {
    const [p] = planSweep(base({ adapter_path: 'runs/x', sweep: { seeds: [1], grid: {} } }));
    expect(p.config.adapter_path).toBe(join(resolve('runs/x'), 'seed-1'));
  });

  it('errors: nothing to sweep, seed or adapter_path in the grid, repeated seeds, a bad grid value', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as MlxLabError).code, (e as Error).message];
      }
      return undefined;
    };
    expect(code(() => planSweep(base()))).toEqual(['E_CONFIG', expect.stringContaining('nothing to sweep')]);
    expect(code(() => planSweep(base({ sweep: { seeds: [1], grid: { seed: [1, 2] } } })))).toEqual(['E_CONFIG', expect.stringContaining('list the seeds in sweep.seeds')]);
    expect(code(() => planSweep(base({ sweep: { seeds: [1], grid: { adapter_path: ['a'] } } })))).toEqual(['E_CONFIG', expect.stringContaining('cannot vary adapter_path')]);
    expect(code(() => planSweep(base(), { seeds: [1, 1] }))).toEqual(['E_CONFIG', expect.stringContaining('repeated seeds')]);
    expect(code(() => planSweep({ ...base(), sweep: { seeds: [1], grid: { 'lora_parameters.rank': [0] } } }))).toEqual(['E_CONFIG', expect.stringContaining('lora_parameters.rank')]);
  });

  it('names: numbers, strings and lists', () => {
    expect([1e-4, 3e-5, 0.05, 0.5, 16, 2.5e-3].map(formatNumber)).toEqual(['1e-4', '3e-5', '0.05', '0.5', '16', '2.5e-3']);
    expect(runName(3, { optimizer: 'adamw', 'lora_parameters.keys': ['self_attn.q_proj', 'self_attn.v_proj'], mask_prompt: false, model: '/m/Qwen3 0.6B' })).toBe(
      'seed-3_opt-adamw_keys-self-attn.q-proj+self-attn.v-proj_mask-false_model-Qwen3-0',
    );
  });
});

describe('lock threshold', () => {
  it('the option, else config.sweep.lock_threshold, else 0.8; checked', () => {
    expect(lockThresholdOf(base())).toBe(0.8);
    expect(lockThresholdOf(base(), 0.5)).toBe(0.5);
    expect(lockThresholdOf({ ...base(), sweep: { seeds: [1], grid: {}, lock_threshold: 0.9 } as TrainConfig['sweep'] })).toBe(0.9);
    expect(() => lockThresholdOf(base(), 1.5)).toThrow(/\[0, 1\]/);
  });
});

describe('statistics', () => {
  it('describeValues: n, mean, sample std, min, median, max', () => {
    // The reference case's three runs with the same settings: 38.9%, 18.5%, 22.2%.
    const d = describeValues([0.389, 0.185, 0.222])!;
    expect(d).toMatchObject({ n: 3, min: 0.185, median: 0.222, max: 0.389 });
    expect(d.mean).toBeCloseTo(0.265333, 6);
    expect(d.std).toBeCloseTo(0.108685, 6);
    expect(describeValues([0.5])).toMatchObject({ n: 1, std: 0, median: 0.5 });
    expect(describeValues([])).toBeUndefined();
    expect(std([1, 2, 3, 4], { sample: false })).toBeCloseTo(Math.sqrt(1.25), 12);
  });
});

function fakeResult(evals: FormatRecord[], selected: number | undefined, stopReason: ExperimentResult['stopReason'] = 'completed'): ExperimentResult {
  return {
    stopReason,
    iteration: 30,
    losses: [2, 1, 0.5],
    startIteration: 1,
    valLosses: [],
    adapterPath: '/tmp/sw/seed-1',
    adapterFile: '/tmp/sw/seed-1/adapters.safetensors',
    checkpoints: [],
    seconds: 1,
    evals,
    selection:
      selected === undefined
        ? undefined
        : { checkpoint: { iteration: selected, adapterFile: 'x', formatScore: evals.find((e) => e.iteration === selected)?.score, valLoss: evals.find((e) => e.iteration === selected)?.valLoss }, metric: 'format_score', rule: 'best', reason: 'best' },
    manifestFile: '/tmp/sw/seed-1/run.json',
    manifest: { evals } as ExperimentResult['manifest'],
  };
}

const ev = (iteration: number, score: number, valLoss: number, failures: Record<string, number> = {}): FormatRecord => ({ iteration, score, low: score / 2, high: Math.min(1, score + 0.2), valLoss, cases: {}, failures });

describe('run summaries and the report', () => {
  const plan = planSweep(base({ sweep: { seeds: [1, 2, 3], grid: {} } }));

  it('best eval (ties: lower val loss, earlier step), selected checkpoint, failure mix at the selection, lock', () => {
    const evals = [ev(0, 0, 3, { prose: 4 }), ev(10, 0.75, 1.2, { no_wrapper: 1 }), ev(20, 0.75, 0.9, { prose: 1 }), ev(30, 0.5, 0.4, { wrong_tool: 2 })];
    const s = summarizeRun(plan[0], { result: fakeResult(evals, 30), seconds: 2 }, 0.7);
    expect(s.best).toEqual({ step: 20, score: 0.75, low: 0.375, high: 0.95, valLoss: 0.9 });
    expect(s.selected).toMatchObject({ step: 30, score: 0.5, metric: 'format_score' });
    expect(s.valLossAtSelection).toBe(0.4);
    expect(s.failures).toEqual({ wrong_tool: 2 });
    expect(s.failuresStep).toBe(30);
    expect(s.locked).toBe(true);
    expect(s.finalTrainLoss).toBe(0.5);
    expect(summarizeRun(plan[0], { result: fakeResult(evals, 30), seconds: 2 }, 0.8).locked).toBe(false);
  });

  it('interrupted and failed runs are listed but not counted', () => {
    const runs = [
      summarizeRun(plan[0], { result: fakeResult([ev(10, 0.9, 1)], 10), seconds: 1 }, 0.8),
      summarizeRun(plan[1], { result: fakeResult([ev(10, 0.3, 1)], 10, 'aborted'), seconds: 1 }, 0.8),
      summarizeRun(plan[2], { error: new Error('loss is nan'), interrupted: false, seconds: 1 }, 0.8),
    ];
    expect(runs.map((r) => r.status)).toEqual(['completed', 'interrupted', 'failed']);
    expect(runs[2]).toMatchObject({ error: 'loss is nan', best: null, locked: false });
    const { summary, groups } = summarizeRuns(plan, runs, false);
    expect(summary.n).toBe(1);
    expect(summary.bestScore).toMatchObject({ n: 1, mean: 0.9 });
    expect(summary.locked).toMatchObject({ runs: ['seed-1'], count: 1, n: 1, rate: 1 });
    expect(groups).toEqual([]);
    const report = { plan: plan.map((p) => ({ name: p.name, seed: p.seed, grid: p.grid })), runs, summary, groups, grid: {}, lockThreshold: 0.8 } as unknown as SweepReport;
    const text = formatSweepSummary(report);
    expect(text).toContain('seed-1  1     90.0%');
    expect(text).toContain('locked the format (best ≥ 80%): 1/1');
    expect(formatRunLine(runs[2], 2, 3)).toBe('[3/3] seed-3: FAILED: loss is nan');
    expect(formatRunLine(runs[0], 0, 3)).toMatch(/^\[1\/3\] seed-1: best 90\.0% \[45\.0%, 100\.0%\] at step 10; selected step 10 \(90\.0%, val loss 1\.000\); stop: completed; failures: none — LOCKED/);
  });
});

describe('mlx-lab sweep flags', () => {
  it('--seeds and --grid become the sweep section (validated)', () => {
    const c = resolveSweepConfig({ model: 'm', data: 'd', seeds: [1, 2], grid: { learning_rate: [1e-4, 2e-4] } });
    expect(c.sweep).toEqual({ seeds: [1, 2], grid: { learning_rate: [1e-4, 2e-4] }, lock_threshold: 0.8 });
    expect(() => resolveSweepConfig({ model: 'm' })).toThrow(/nothing to sweep/);
    expect(() => resolveSweepConfig({ seeds: [1], grid: { learning_rat: [1] } })).toThrow(/did you mean learning_rate/);
  });

  it('a config file with a grid and no seeds; flags override the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlxlab-sweepcfg-'));
    try {
      const file = join(dir, 'c.yaml');
      writeFileSync(file, 'model: m\ndata: d\niters: 50\nsweep:\n  grid:\n    lora_parameters.rank: [4, 8]\n');
      const c = resolveSweepConfig({ config: file, iters: 7 });
      expect(c.iters).toBe(7);
      expect(c.config).toBe(file);
      expect(planSweep(c).map((p) => p.name)).toEqual(['seed-0_rank-4', 'seed-0_rank-8']);
      expect(resolveSweepConfig({ config: file, seeds: [1, 2] }).sweep).toEqual({ seeds: [1, 2], grid: { 'lora_parameters.rank': [4, 8] }, lock_threshold: 0.8 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
