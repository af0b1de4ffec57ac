// The kill test in short (scripts/kill-test.mjs runs 20 kills): `mlx-lab train` on tiny-chat is
// killed with SIGKILL 3 times (once inside the checkpoint writes) and resumed; the newest
// checkpoint must load after each kill, and the resumed run's losses, final adapter and checkpoint
// selection must equal the uninterrupted run's exactly.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without types
import { killTest } from '../../scripts/kill-test.mjs';

interface KillRow {
  resumedFrom: number;
  latest: number;
}
interface KillSummary {
  kills: number;
  survived: number;
  lossesIdentical: boolean;
  adapterIdentical: boolean;
  selectionIdentical: boolean;
  iterations: number;
  rows: KillRow[];
  mismatches: unknown[];
}

describe('SIGKILL during training', () => {
  it('3 kills: the latest checkpoint loads each time and resuming reproduces the uninterrupted run bit for bit', async () => {
    const s = (await killTest({ kills: 3, seed: 5, iters: 24 })) as KillSummary;
    expect(s.kills).toBe(3);
    expect(s.survived).toBe(3);
    expect(s.iterations).toBe(24);
    expect(s.mismatches).toEqual([]);
    expect(s.lossesIdentical).toBe(true);
    expect(s.adapterIdentical).toBe(true);
    expect(s.selectionIdentical).toBe(true);
    // A kill never loses a finished checkpoint.
    for (const row of s.rows) expect(row.latest).toBeGreaterThanOrEqual(row.resumedFrom);
  }, 120_000);
});
