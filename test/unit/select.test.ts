// Early stopping and checkpoint selection on synthetic metric sequences, including the reference
// case: the lowest validation loss (0.176 at step 800) is not the best format score.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { EarlyStopper } from '../../src/select/early-stopping.js';
import { selectCheckpoint, type CheckpointScores } from '../../src/select/selection.js';
import { reselect } from '../../src/run/experiment.js';
import type { EarlyStoppingConfig } from '../../src/config/config.js';

const cfg = (o: Partial<EarlyStoppingConfig>): EarlyStoppingConfig => ({ metric: 'format_score', target: null, patience: null, min_delta: 0, warmup: 0, ...o });

/** Feed a sequence; return the first step that stops and its reason. */
function run(stopper: EarlyStopper, seq: [number, number][]): { step?: number; reason?: string } {
  for (const [step, v] of seq) {
    const d = stopper.update(step, v);
    if (d.stop) return { step, reason: d.reason };
  }
  return {};
}

// Format scores of a run like the reference: a peak at step 400, then prose takes over.
const FORMAT: [number, number][] = [[100, 0.2], [200, 0.35], [300, 0.5], [400, 0.61], [500, 0.55], [600, 0.48], [700, 0.3], [800, 0.22]];
// Its validation losses from the reference report (they keep falling).
const VAL: Record<number, number> = { 100: 0.594, 200: 0.521, 300: 0.36, 400: 0.291, 500: 0.339, 600: 0.243, 700: 0.259, 800: 0.176 };

describe('early stopping', () => {
  it('stops once the target is reached', () => {
    expect(run(new EarlyStopper(cfg({ target: 0.5 })), FORMAT)).toEqual({ step: 300, reason: 'format_score 0.5 reached the target 0.5 at step 300' });
  });

  it('stops after `patience` evals without an improvement of min_delta', () => {
    const r = run(new EarlyStopper(cfg({ patience: 2, min_delta: 0.01 })), FORMAT);
    expect(r.step).toBe(600);
    expect(r.reason).toBe('format_score did not improve by 0.01 for 2 evals (best 0.61 at step 400)');
  });

  it('an improvement smaller than min_delta does not reset patience', () => {
    const seq: [number, number][] = [[1, 0.5], [2, 0.505], [3, 0.508], [4, 0.6]];
    expect(run(new EarlyStopper(cfg({ patience: 2, min_delta: 0.01 })), seq).step).toBe(3);
  });

  it('never stops during warm-up', () => {
    expect(run(new EarlyStopper(cfg({ target: 0.3, warmup: 250 })), FORMAT).step).toBe(300);
    expect(run(new EarlyStopper(cfg({ patience: 1, warmup: 10_000 })), FORMAT).step).toBeUndefined();
  });

  it('val_loss is minimized', () => {
    const seq = Object.entries(VAL).map(([s, v]) => [Number(s), v] as [number, number]);
    expect(run(new EarlyStopper(cfg({ metric: 'val_loss', target: 0.25 })), seq).step).toBe(600);
    expect(run(new EarlyStopper(cfg({ metric: 'val_loss', patience: 1 })), seq).step).toBe(500);
  });

  it('NaN counts as no improvement', () => {
    expect(run(new EarlyStopper(cfg({ patience: 2 })), [[1, 0.5], [2, NaN], [3, NaN]]).step).toBe(3);
  });
});

const checkpoints: CheckpointScores[] = FORMAT.map(([iteration, formatScore]) => ({ iteration, formatScore, valLoss: VAL[iteration], adapterFile: `${iteration}.safetensors` }));

describe('checkpoint selection', () => {
  it('the reference case: format score picks step 400, not the lowest val loss at step 800', () => {
    const s = selectCheckpoint(checkpoints, 'format_score', 'best');
    expect(s.checkpoint.iteration).toBe(400);
    expect(s.reason).toBe('best format_score 0.6100 at step 400; the lowest val loss (0.1760 at step 800) scored 0.2200');
    expect(selectCheckpoint(checkpoints, 'val_loss', 'best').checkpoint.iteration).toBe(800);
  });

  it('ties: lower val loss first, then the earlier step', () => {
    const tied: CheckpointScores[] = [
      { iteration: 100, formatScore: 0.9, valLoss: 0.5, adapterFile: 'a' },
      { iteration: 200, formatScore: 0.9, valLoss: 0.3, adapterFile: 'b' },
      { iteration: 300, formatScore: 0.9, valLoss: 0.3, adapterFile: 'c' },
      { iteration: 400, formatScore: 0.8, valLoss: 0.1, adapterFile: 'd' },
    ];
    const s = selectCheckpoint(tied);
    expect(s.checkpoint.iteration).toBe(200);
    expect(s.reason).toContain('tied with steps 300, 100');
  });

  it('rule "last" and errors', () => {
    expect(selectCheckpoint(checkpoints, 'format_score', 'last').checkpoint.iteration).toBe(800);
    expect(() => selectCheckpoint([])).toThrow(/no checkpoints/);
    expect(() => selectCheckpoint([{ iteration: 1, adapterFile: 'x' }])).toThrow(/no checkpoint has a format_score/);
  });

  it('mlx-lab select: re-selects a finished run from run.json and installs the adapter', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlxlab-select-'));
    try {
      const cps = checkpoints.map((c) => ({ ...c, adapterFile: join(dir, `${String(c.iteration).padStart(7, '0')}_adapters.safetensors`) }));
      for (const c of cps) writeFileSync(c.adapterFile, `weights of step ${c.iteration}`);
      writeFileSync(join(dir, 'run.json'), JSON.stringify({ version: 1, checkpoints: cps }));
      const s = reselect(dir, 'val_loss', 'best');
      expect(s.checkpoint.iteration).toBe(800);
      expect(readFileSync(join(dir, 'adapters.safetensors'), 'utf8')).toBe('weights of step 800');
      expect(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')).selected.checkpoint.iteration).toBe(800);
      reselect(dir, 'format_score', 'best');
      expect(readFileSync(join(dir, 'adapters.safetensors'), 'utf8')).toBe('weights of step 400');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
