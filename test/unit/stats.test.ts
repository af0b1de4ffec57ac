// The statistics and types that sweep/ and report/ share: one Distribution (its field names are
// sweep.json's), one best-eval order, one lock threshold, one text table.
import { describe, expect, it } from 'vitest';
import { describeValues, distribution } from '../../src/eval/stats.js';
import { DEFAULT_LOCK_THRESHOLD, bestEval, evalPoint, lockedFormat } from '../../src/sweep/evals.js';
import { table } from '../../src/core/table.js';
import * as sweep from '../../src/sweep/index.js';
import * as report from '../../src/report/index.js';

describe('one Distribution', () => {
  it('keeps the field names and their order as sweep.json writes them', () => {
    expect(JSON.stringify(describeValues([0.5, 0.25, 1]))).toBe(
      JSON.stringify({ n: 3, mean: 0.5833333333333334, std: 0.38188130791298663, min: 0.25, median: 0.5, max: 1 }),
    );
    expect(JSON.stringify({ bestScore: describeValues([]) ?? null })).toBe('{"bestScore":null}');
  });

  it('for display: only finite values count, and none give NaNs', () => {
    expect(distribution([0.5, Number.NaN, 0.7, Number.POSITIVE_INFINITY])).toEqual(describeValues([0.5, 0.7]));
    expect(distribution([])).toMatchObject({ n: 0, mean: Number.NaN, std: Number.NaN, median: Number.NaN });
  });

  it('sweep and report export the same functions and constant', () => {
    expect(report.distribution).toBe(distribution);
    expect(sweep.describeValues).toBe(describeValues);
    expect(sweep.DEFAULT_LOCK_THRESHOLD).toBe(DEFAULT_LOCK_THRESHOLD);
    expect(report.DEFAULT_LOCK_THRESHOLD).toBe(DEFAULT_LOCK_THRESHOLD);
    expect(DEFAULT_LOCK_THRESHOLD).toBe(0.8);
  });
});

describe('evals', () => {
  const e = (iteration: number, score: number, valLoss?: number) => ({ iteration, score, low: 0, high: 1, valLoss, cases: {}, failures: {} });

  it('the best eval: highest score, then lower val loss, then the earlier step; no finite score never wins', () => {
    expect(bestEval([e(100, 0.5), e(200, 0.7, 0.3), e(300, 0.7, 0.2), e(400, 0.7, 0.2), e(500, Number.NaN)])?.iteration).toBe(300);
    expect(bestEval([e(100, 0.5), e(200, 0.5)])?.iteration).toBe(100);
    expect(bestEval([e(1, Number.NaN)])).toBeUndefined();
    expect(bestEval([])).toBeUndefined();
  });

  it('locks at the threshold, and sweep.json points keep step and a null val loss', () => {
    expect(lockedFormat({ score: 0.8 }, 0.8)).toBe(true);
    expect(lockedFormat({ score: 0.79 }, 0.8)).toBe(false);
    expect(lockedFormat(null, 0)).toBe(false);
    expect(lockedFormat(undefined, 0)).toBe(false);
    expect(evalPoint(e(300, 0.9))).toEqual({ step: 300, score: 0.9, low: 0, high: 1, valLoss: null });
  });
});

describe('table', () => {
  it('aligns columns two spaces apart, right-aligned where asked, without trailing spaces', () => {
    expect(table([['run', 'n', 'stop'], ['seed-1', '12', 'done'], ['s', '3', '']])).toBe('run     n   stop\nseed-1  12  done\ns       3');
    expect(table([['a', 'n'], ['bb', '12'], ['c', '3']], new Set([1]))).toBe('a    n\nbb  12\nc    3');
  });
});
