// The grammar engine as `npm install` lays it out: the pinned wheels, the stub of Python names,
// and (on Linux, where the ELF reader works) the installed library against what the addon binds.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM scripts without types
import { LLG_VERSION, LLG_WHEELS, stubSource } from '../../scripts/lib/llguidance.mjs';
// @ts-expect-error: plain ESM scripts without types
import { exportedFunctions, undefinedSymbols } from '../../scripts/lib/elf.mjs';
import { ROOT } from '../helpers/paths.js';

describe('the llguidance install', () => {
  it('pins one abi3 wheel and its sha256 for Linux x86_64/aarch64 and macOS arm64', () => {
    expect(Object.keys(LLG_WHEELS).sort()).toEqual(['darwin-arm64', 'linux-arm64', 'linux-x64']);
    for (const { file, sha256 } of Object.values(LLG_WHEELS) as { file: string; sha256: string }[]) {
      expect(file).toMatch(new RegExp(`^llguidance-${LLG_VERSION.replaceAll('.', '\\.')}-cp39-abi3-.*\\.whl$`));
      expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('the stub defines each name as an aborting function and refuses names that are not C symbols', () => {
    const src = stubSource(['PyExc_TypeError', '_Py_NoneStruct']);
    expect(src).toContain('void PyExc_TypeError(void) { abort(); }');
    expect(src).toContain('void _Py_NoneStruct(void) { abort(); }');
    expect(() => stubSource(['Py_x; system("rm")'])).toThrow(/not a plain C symbol name/);
  });

  it('the installed library exports every llg_ function the addon binds, and the stub every Python name it needs', () => {
    const described = JSON.parse(readFileSync(join(ROOT, '.mlx', 'llguidance.json'), 'utf8')) as { lib: string; stub: string };
    expect(existsSync(described.lib) && existsSync(described.stub)).toBe(true);
    if (process.platform !== 'linux') return; // the symbol tables below are ELF
    const bound = [...readFileSync(join(ROOT, 'native', 'grammar.cpp'), 'utf8').matchAll(/bind\(lib, "(llg_\w+)"/g)].map((m) => m[1]);
    expect(bound.length).toBeGreaterThan(10);
    const exported = new Set(exportedFunctions(described.lib));
    expect(bound.filter((n) => !exported.has(n))).toEqual([]);
    const python = (undefinedSymbols(described.lib) as string[]).filter((n) => /^_?Py/.test(n));
    expect(python.length).toBeGreaterThan(0);
    const stubbed = new Set(exportedFunctions(described.stub));
    expect(python.filter((n) => !stubbed.has(n))).toEqual([]);
    // Nothing else unresolved but the C library's own names (libc, libm, the loader, libgcc).
    const other = (undefinedSymbols(described.lib) as string[]).filter((n) => !/^_?Py/.test(n));
    expect(other.filter((n) => n.startsWith('llg_'))).toEqual([]);
  });
});
