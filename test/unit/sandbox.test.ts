// User scorers run in a worker thread with a time and a memory budget (issue 21): a runaway
// scores 0 with its coded error recorded, the main thread stays free, and later cases score.
import { afterAll, describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import type { EvalCase } from '../../src/eval/suite.js';
import { loadScorerFile, scoreCase, unregisterScorer } from '../../src/eval/scorers.js';
import { MlxLabError } from '../../src/core/errors.js';

const HOSTILE = resolve(import.meta.dirname, '../fixtures/eval/hostile');
const mkCase = (scorer: string): EvalCase => ({ id: 'c', category: 't', index: 0, expect: { data: {} }, scorer, weight: 1 }) as EvalCase;
const NAMES = ['never', 'loop', 'hog', 'fn', 'mixed'];

afterAll(() => {
  for (const n of NAMES) unregisterScorer(n);
});

/** How long the main thread went without running a 10 ms interval, while `work` ran. */
async function longestStall(work: Promise<unknown>): Promise<number> {
  let last = performance.now();
  let worst = 0;
  const t = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 10);
  try {
    await work;
  } finally {
    clearInterval(t);
  }
  return worst;
}

describe('scorer sandbox', () => {
  it('a promise that never settles: E_SCORER_TIMEOUT, score 0, within the budget', async () => {
    await loadScorerFile(join(HOSTILE, 'never-settles.mjs'), 'never', { timeoutMs: 300 });
    const t0 = performance.now();
    const r = await scoreCase(mkCase('never'), 'x');
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(r.score).toBe(0);
    expect(r.failure).toBe('scorer_error');
    expect(r.detail).toContain('E_SCORER_TIMEOUT');
    expect(r.detail).toContain('did not finish scoring within 300 ms');
  });

  it('a synchronous endless loop: stopped, and the main thread never stalls', async () => {
    await loadScorerFile(join(HOSTILE, 'sync-loop.mjs'), 'loop', { timeoutMs: 400 });
    let r: Awaited<ReturnType<typeof scoreCase>> | undefined;
    const stall = await longestStall(scoreCase(mkCase('loop'), 'x').then((x) => (r = x)));
    expect(stall).toBeLessThan(250); // in process, the loop froze the thread for good
    expect(r!.detail).toContain('E_SCORER_TIMEOUT');
  });

  it('a heap hog: E_SCORER_MEMORY, and the process lives on', async () => {
    await loadScorerFile(join(HOSTILE, 'memory-hog.mjs'), 'hog', { timeoutMs: 60_000, memoryMb: 64 });
    const r = await scoreCase(mkCase('hog'), 'x');
    expect(r.score).toBe(0);
    expect(r.detail).toContain('E_SCORER_MEMORY');
    expect(r.detail).toContain('64 MB');
  });

  it('a module whose top level never returns: loading fails with E_SCORER_TIMEOUT', async () => {
    const file = join(HOSTILE, 'load-loop.mjs');
    const err = await loadScorerFile(file, 'toplevel', { timeoutMs: 300 }).catch((e) => e);
    expect(err).toBeInstanceOf(MlxLabError);
    expect(err.code).toBe('E_SCORER_TIMEOUT');
    expect(err.message).toContain(`${file}: scorer "toplevel" did not finish loading within 300 ms`);
  });

  it('a result that cannot cross the thread is a scorer_error, not a crash', async () => {
    await loadScorerFile(join(HOSTILE, 'returns-function.mjs'), 'fn');
    const r = await scoreCase(mkCase('fn'), 'x');
    expect(r.failure).toBe('scorer_error');
    expect(r.detail).toMatch(/could not be cloned/);
  });

  it('after a runaway case, a fresh worker scores the next cases', async () => {
    await loadScorerFile(join(HOSTILE, 'slow-then-fine.mjs'), 'mixed', { timeoutMs: 300 });
    expect((await scoreCase(mkCase('mixed'), 'ok')).score).toBe(1);
    expect((await scoreCase(mkCase('mixed'), 'slow')).detail).toContain('E_SCORER_TIMEOUT');
    expect((await scoreCase(mkCase('mixed'), 'ok')).score).toBe(1);
    expect((await scoreCase(mkCase('mixed'), 'no')).score).toBe(0);
  });
});
