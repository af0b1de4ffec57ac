// Gates that run with the tests: the C++ format (clang-format, checked, never applied). The
// format was made with clang-format 14 (Debian 12's); other major versions wrap differently, so
// they skip with that reason (CI installs 14 and fails on any skip it did not expect).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { describeOrSkip } from '../helpers/skip.js';

const ROOT = resolve(__dirname, '..', '..');
const FORMAT_MAJOR = 14;
const version = spawnSync('clang-format', ['--version'], { encoding: 'utf8' });
const major = Number(/version (\d+)/.exec(version.stdout ?? '')?.[1]);
const skip = version.error
  ? 'clang-format is not installed (apt-get install clang-format)'
  : major !== FORMAT_MAJOR
    ? `clang-format ${major} is not ${FORMAT_MAJOR}, the version the C++ was formatted with`
    : undefined;

describeOrSkip(skip, 'C++ format gate (npm run lint:cpp)', () => {
  it('native/, bindings/ and test/native/cpp/ are formatted as .clang-format says', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'lint-cpp.mjs')], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).toMatch(/files formatted as \.clang-format says/);
    expect(r.status).toBe(0);
  });

  it('fails on a badly formatted file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-format-'));
    try {
      cpSync(join(ROOT, '.clang-format'), join(dir, '.clang-format'));
      writeFileSync(join(dir, 'bad.cpp'), 'int   f( int x ){return x+1;}\n');
      const r = spawnSync('clang-format', ['--dry-run', '--Werror', 'bad.cpp'], { cwd: dir, encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(readFileSync(join(dir, 'bad.cpp'), 'utf8')).toContain('int   f('); // checked, never rewritten
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
