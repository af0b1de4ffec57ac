// Gates that run with the tests: the C++ format (clang-format, checked, never applied), the
// layer rule of src/ (dependency-cruiser), Biome's lint of src/ and publint. The C++ format was made with clang-format 14 (Debian 12's); other major versions wrap differently, so
// they skip with that reason (CI installs 14 and fails on any skip it did not expect).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
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

// The layer rule of src/ (.dependency-cruiser.cjs): lower layers never import higher ones.
describe('layer gate (npm run lint:layers)', () => {
  const depcruise = join(ROOT, 'node_modules', '.bin', 'depcruise');
  const cruise = (cwd: string) => spawnSync(depcruise, ['src', '--config', join(ROOT, '.dependency-cruiser.cjs')], { cwd, encoding: 'utf8' });

  it('src/ keeps the layer rule', () => {
    const r = cruise(ROOT);
    expect(r.stdout + r.stderr).toMatch(/no dependency violations found/);
    expect(r.status).toBe(0);
  });

  it('fails on an upward import, a library import of cli/ and a cycle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-layers-'));
    try {
      cpSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
      const put = (file: string, text: string) => {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        writeFileSync(join(dir, file), text);
      };
      put('src/core/low.ts', "import { high } from '../train/high.js';\nexport const low = high + 1;\n");
      put('src/train/high.ts', 'export const high = 1;\n');
      put('src/eval/uses-cli.ts', "import { top } from '../cli/top.js';\nexport const x = top;\n");
      put('src/cli/top.ts', 'export const top = 1;\n');
      put('src/run/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
      put('src/run/b.ts', "import { a } from './a.js';\nexport const b = () => a;\n");
      const r = cruise(dir);
      const out = r.stdout + r.stderr;
      expect(out).toMatch(/layer-core: src\/core\/low\.ts → src\/train\/high\.ts/);
      expect(out).toMatch(/no-library-to-cli: src\/eval\/uses-cli\.ts → src\/cli\/top\.ts/);
      expect(out).toMatch(/no-circular/);
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// TypeScript lint (Biome, biome.json) and the package's manifest (publint).
describe('TypeScript and package gates (npm run lint:ts, lint:package)', () => {
  const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);
  const inTemp = (files: Record<string, string>, fn: (dir: string) => void) => {
    const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-gate-'));
    try {
      for (const [file, text] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        writeFileSync(join(dir, file), text);
      }
      fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('src/ passes Biome', () => {
    const r = spawnSync(bin('biome'), ['lint', '--error-on-warnings'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('Biome fails on a lint error', () => {
    const config = readFileSync(join(ROOT, 'biome.json'), 'utf8').replace('./node_modules/@biomejs/biome/configuration_schema.json', join(ROOT, 'node_modules/@biomejs/biome/configuration_schema.json'));
    inTemp({ 'biome.json': config, 'src/bad.ts': 'export function same(a: unknown, b: unknown): boolean {\n  return a == b;\n}\n' }, (dir) => {
      const r = spawnSync(bin('biome'), ['lint'], { cwd: dir, encoding: 'utf8' });
      expect(r.stdout + r.stderr).toMatch(/noDoubleEquals/);
      expect(r.status).not.toBe(0);
    });
  });

  it('the package manifest passes publint, and a broken one fails', () => {
    const ok = spawnSync(bin('publint'), ['--pack', 'false'], { cwd: ROOT, encoding: 'utf8' });
    expect(ok.stdout + ok.stderr).toMatch(/All good/);
    expect(ok.status).toBe(0);
    inTemp({ 'package.json': JSON.stringify({ name: 'x', version: '1.0.0', type: 'module', main: 'missing.js', exports: { '.': './nothere.js' } }) }, (dir) => {
      const r = spawnSync(bin('publint'), ['--pack', 'false'], { cwd: dir, encoding: 'utf8' });
      expect(r.stdout + r.stderr).toMatch(/does not exist/);
      expect(r.status).not.toBe(0);
    });
  });
});
