// The grammar engine for constrained decoding: llguidance's prebuilt library from its pinned
// PyPI wheel. The wheel is a Python extension (abi3), but its shared object also exports the C
// API (llg_*); what it needs from Python (96 Py* names, never called through the C API) comes
// from a small stub library compiled here, which the addon loads first. No Python is needed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { undefinedSymbols } from './elf.mjs';
import { downloadPinnedWheel, unpackWheel } from './wheels.mjs';

export const LLG_VERSION = '1.9.1';

/** The wheel per platform and its sha256 (from PyPI, checked on download). */
export const LLG_WHEELS = {
  'linux-x64': { file: `llguidance-${LLG_VERSION}-cp39-abi3-manylinux_2_31_x86_64.whl`, sha256: 'dfac6021d9c4c5ef16b3a1d336c05ca5e8208ff30dec29d1c63ebcafbee3a346' },
  'linux-arm64': { file: `llguidance-${LLG_VERSION}-cp39-abi3-manylinux_2_31_aarch64.whl`, sha256: '31b75c9f6e09d000d062ef7e4eb3bcb3759fc1eda5619be50fdd8a830b0e8bdf' },
  'darwin-arm64': { file: `llguidance-${LLG_VERSION}-cp39-abi3-macosx_11_0_arm64.whl`, sha256: 'a942487cd6221b793df3a11450881a6c9d25a45460a900c56d99b682633c45fe' },
};

const EXT = process.platform === 'darwin' ? 'dylib' : 'so';
export const LIB = `libllguidance.${EXT}`;
export const STUB = `libmlxlab-pystub.${EXT}`;

/** C source defining each name as a function that aborts (data names too: nothing reads them). */
export function stubSource(names) {
  const body = names.map((n) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw new Error(`grammar stub: "${n}" is not a plain C symbol name`);
    return `void ${n}(void) { abort(); }\n`;
  });
  return `#include <stdlib.h>\n${body.join('')}`;
}

/** The Python names a library needs (ELF: read here; Mach-O: `nm -u`, which Xcode brings). */
function pythonNames(lib) {
  const all = process.platform === 'darwin' ? execFileSync('nm', ['-u', lib]).toString().split('\n').map((s) => s.trim().replace(/^_/, '')) : undefinedSymbols(lib);
  return all.filter((n) => /^_?Py/.test(n));
}

function compileStub(names, dir) {
  const src = join(dir, 'pystub.c');
  writeFileSync(src, stubSource(names));
  const cc = process.env.CC ?? 'cc';
  const flags = process.platform === 'darwin' ? ['-dynamiclib'] : ['-shared', '-fPIC'];
  execFileSync(cc, [...flags, '-O1', '-o', join(dir, STUB), src], { stdio: 'inherit' });
}

/**
 * Unpack the pinned wheel into dir/llguidance-VERSION (once) and build its stub. Returns that
 * folder, or null with a warning when this platform has no wheel: constrained generation then
 * fails with a clear error, everything else works.
 */
export async function ensureLlguidance(dir, log = () => {}) {
  const out = join(dir, `llguidance-${LLG_VERSION}`);
  // What the addon loads (src/core/grammar-engine.ts reads it).
  const describe = () => writeFileSync(join(dir, 'llguidance.json'), JSON.stringify({ version: LLG_VERSION, lib: join(out, LIB), stub: join(out, STUB) }, null, 2));
  if (existsSync(join(out, '.complete'))) {
    describe();
    return out;
  }
  const wheel = LLG_WHEELS[`${process.platform}-${process.arch}`];
  if (!wheel) {
    log(`no llguidance wheel pinned for ${process.platform}/${process.arch}: constrained generation (grammar) is unavailable`);
    return null;
  }
  const path = await downloadPinnedWheel('llguidance', wheel.file, wheel.sha256, log);
  const tmp = out + '.tmp';
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  unpackWheel(path, tmp, { keep: (n) => n === 'llguidance/_lib.abi3.so', rename: () => LIB });
  compileStub(pythonNames(join(tmp, LIB)), tmp);
  writeFileSync(join(tmp, '.complete'), `${wheel.file}\n`);
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  describe();
  return out;
}

