// `mlx-lab eval --constrained [--compare]` end to end on the tiny chat model and suite: the JSON
// carries the constrained result (and both, with --compare), the table shows both scores, and bad
// flags or a hostile suite fail with a coded error and print no result.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { TINY_CHAT, TINY_SUITE } from '../helpers/experiment.js';

const BASE = ['eval', '-m', TINY_CHAT, '-s', TINY_SUITE, '--max-tokens', '48'];

describe('mlx-lab eval --constrained', () => {
  it('--json: the constrained result, every case under the wrapper grammar and no prose', async () => {
    const run = await runCli([...BASE, '--constrained', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r.constrained).toBe(true);
    expect(r.cases).toHaveLength(4);
    for (const c of r.cases) {
      expect(c.constraint).toBe('wrapper');
      expect(c.text.startsWith('<tool_call>{"name": "execute_code"')).toBe(true);
      expect(c.failure).not.toBe('prose');
    }
  });

  it('--compare --json: both results, per case, and the failure classes removed; the table shows both scores', async () => {
    const run = await runCli([...BASE, '--constrained', '--compare', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const cmp = JSON.parse(run.stdout);
    expect(cmp.unconstrained.cases).toHaveLength(4);
    expect(cmp.constrained.constrained).toBe(true);
    expect(cmp.cases.map((c: { id: string }) => c.id)).toEqual(['status', 'tests', 'readme', 'readme-2']);
    // The random model's free replies are prose; under the grammar none is.
    expect(cmp.failures.prose).toEqual({ unconstrained: 4, constrained: 0 });
    expect(cmp.removed.prose).toBe(4);
    for (const side of [cmp.unconstrained, cmp.constrained]) expect(side.low).toBeLessThanOrEqual(side.high);

    const table = await runCli([...BASE, '--constrained', '--compare']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^case +free +constr\. +grammar +failure free → constrained$/m);
    expect(table.stdout).toMatch(/^status +0\.00 +0\.00 +wrapper +prose → /m);
    expect(table.stdout).toMatch(/^95% CI: free \[0\.0%, [\d.]+%\], constrained \[[\d.]+%, [\d.]+%\]; gain /m);
    expect(table.stdout).toMatch(/^removed by the grammar: prose 4/m);
  });

  it('the plain table says the eval was constrained', async () => {
    const run = await runCli([...BASE, '--constrained']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^constrained: 4 of 4 cases decoded under their scorer's grammar/m);
  });

  it('bad flags and a hostile suite: a coded error, no result printed', async () => {
    const compareAlone = await runCli([...BASE, '--compare']);
    expect(compareAlone.code).not.toBe(0);
    expect(compareAlone.stderr).toMatch(/E_ARGUMENT: --compare compares a free and a constrained run: give it with --constrained/);
    const thinking = await runCli([...BASE, '--constrained', '--enable-thinking']);
    expect(thinking.stderr).toMatch(/E_ARGUMENT: --constrained cannot be combined with --enable-thinking/);
    const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-eval-constrained-'));
    try {
      const suite = join(dir, 'hostile.yaml');
      writeFileSync(suite, 'name: h\ncases:\n  - {id: ok, prompt: p, expect: {exact: x}}\n  - {id: never, prompt: p, expect: {json_schema: false}}\n  - {id: ahead, prompt: p, expect: {regex: "a(?=b)"}}\n');
      const never = await runCli(['eval', '-m', TINY_CHAT, '-s', suite, '--constrained']);
      expect(never.code).not.toBe(0);
      expect(never.stderr).toContain(`E_GRAMMAR: ${suite}: case "never" (line 4): expect.json_schema is false`);
      expect(never.stdout).toBe('');
      writeFileSync(suite, 'name: h\ncases:\n  - {id: ok, prompt: p, expect: {exact: x}}\n  - {id: ahead, prompt: p, expect: {regex: "a(?=b)"}}\n');
      for (const flags of [['--constrained'], ['--constrained', '--compare', '--json']]) {
        const ahead = await runCli(['eval', '-m', TINY_CHAT, '-s', suite, ...flags]);
        expect(ahead.code).not.toBe(0);
        expect(ahead.stderr).toContain(`E_GRAMMAR: ${suite}: case "ahead" (line 4): the regex grammar of the "regex" scorer cannot be used:`);
        expect(ahead.stdout).toBe('');
      }
      // Free, the same suite runs: the lookahead is fine for the scorer's JavaScript RegExp.
      const free = await runCli(['eval', '-m', TINY_CHAT, '-s', suite, '--max-tokens', '4', '--json']);
      expect(free.code, free.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
