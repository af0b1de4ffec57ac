// `mlx-lab pairs` through the built CLI: the pairs file in mlx-lm-lora's DPO format written
// atomically, progress on stderr and the summary as JSON with --json; bad input (a missing suite,
// a bad flag) fails with a clear message and writes nothing.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { TINY_CHAT } from '../helpers/experiment.js';
import { tmpDir } from '../helpers/train.js';

const dirs: string[] = [];
const dir = () => {
  const d = tmpDir('mlxlab-pairs-cli-');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function suite(folder: string): string {
  const path = join(folder, 'prompts.jsonl');
  writeFileSync(path, `${['Say a word.', 'Name a fruit.', 'Greet me.', 'Say hi.'].map((prompt, i) => JSON.stringify({ id: `p${i}`, prompt, system: 'Be brief.', expect: { regex: '^[ -~]' } })).join('\n')}\n`);
  return path;
}

describe('mlx-lab pairs', () => {
  it('writes prompt/chosen/rejected records with the failure class, and a JSON summary', async () => {
    const folder = dir();
    const out = join(folder, 'pairs.jsonl');
    const r = await runCli(['pairs', '-m', TINY_CHAT, '-s', suite(folder), '-o', out, '-n', '8', '--max-tokens', '4', '--seed', '7', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ out, cases: 4, samples: 32 });
    expect(r.stderr).toMatch(/pairs: case 4\/4/);
    const records = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records).toHaveLength(summary.pairs);
    expect(summary.pairs).toBeGreaterThan(0);
    for (const p of records) {
      expect(Object.keys(p).sort()).toEqual(['chosen', 'id', 'prompt', 'rejected', 'rejected_failure', 'rejected_score', 'system']);
      expect(p.system).toBe('Be brief.');
    }
  });

  it('a missing suite or a bad flag fails clearly and writes nothing', async () => {
    const folder = dir();
    const out = join(folder, 'pairs.jsonl');
    const missing = await runCli(['pairs', '-m', TINY_CHAT, '-s', join(folder, 'none.jsonl'), '-o', out]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/none\.jsonl/);
    const bad = await runCli(['pairs', '-m', TINY_CHAT, '-s', suite(folder), '-o', out, '-n', '0']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--samples must be an integer >= 1/);
    const one = await runCli(['pairs', '-m', TINY_CHAT, '-s', suite(folder), '-o', out, '-n', '1']);
    expect(one.code).not.toBe(0);
    expect(one.stderr).toMatch(/samples must be an integer ≥ 2/);
    expect(existsSync(out)).toBe(false);
  });
});
