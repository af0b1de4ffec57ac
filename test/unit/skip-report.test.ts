// The skip reporter (test/setup/skip-report.ts), run on test/fixtures/skips in a vitest of its
// own: it says how many tests were skipped and why, and with CI=true fails the run on a skip the
// allow-list does not name.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';

const SKIPS = join(ROOT, 'test', 'fixtures', 'skips');

/** vitest on the fixture with `env` added; its exit code and output. */
function runFixture(env: Record<string, string | undefined>): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', join(SKIPS, 'vitest.config.ts')], {
    cwd: ROOT,
    env: { ...process.env, CI: undefined, ...env },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('skip report', () => {
  it('prints how many tests were skipped and why, and passes outside CI', () => {
    const r = runFixture({});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('skipped: 2 tests, why:');
    expect(r.stdout).toMatch(/1 × the widget is not installed\n\s+test\/fixtures\/skips\/some\.skips\.ts > needs a widget > uses the widget/);
    expect(r.stdout).toMatch(/1 × only on Tuesdays\n\s+test\/fixtures\/skips\/some\.skips\.ts > skips itself/);
  });

  it('with CI=true fails on a skip the allow-list does not name, naming it', () => {
    const r = runFixture({ CI: 'true', MLX_LAB_EXPECTED_SKIPS: join(SKIPS, 'none-expected.json') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CI: 2 skip(s) not listed in test/fixtures/skips/none-expected.json');
    expect(r.stderr).toContain('test/fixtures/skips/some.skips.ts > needs a widget > uses the widget (the widget is not installed)');
  });

  it('with CI=true passes when every skip is expected', () => {
    const r = runFixture({ CI: 'true', MLX_LAB_EXPECTED_SKIPS: join(SKIPS, 'all-expected.json') });
    expect(r.code, r.stderr).toBe(0);
  });
});
