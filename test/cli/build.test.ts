// The node-gyp build description stays in step with the cmake-js one, and a prebuilt folder (when
// `node scripts/prebuild.mjs` made one) is self-contained: everything it loads is found through
// $ORIGIN. Building itself is not done here (too slow for the suite); see scripts/prebuild.mjs.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT as root } from '../helpers/paths.js';

function cppFiles(dir: string, recursive: boolean): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return recursive ? cppFiles(p, true) : [];
    return e.name.endsWith('.cpp') ? [relative(root, p)] : [];
  });
}

describe('binding.gyp', () => {
  it('compiles the same sources as CMakeLists.txt (native/**/*.cpp, bindings/*.cpp)', () => {
    const listed = execFileSync(process.execPath, [join(root, 'scripts', 'gyp-info.cjs'), 'sources'], { cwd: root, encoding: 'utf8' }).trim().split(/\s+/);
    const cmake = [...cppFiles(join(root, 'native'), true), ...cppFiles(join(root, 'bindings'), false)];
    expect([...listed].sort()).toEqual([...cmake].sort());
  });

  it('builds mlx_lab as C++20 with an rpath next to itself', () => {
    const gyp = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8'));
    const target = gyp.targets[0];
    expect(target.target_name).toBe('mlx_lab');
    expect(target.cflags_cc).toContain('-std=c++20');
    expect(target['cflags_cc!']).toContain('-std=gnu++17');
    const text = JSON.stringify(target.conditions);
    expect(text).toContain("-Wl,-rpath,'$$ORIGIN'");
    expect(text).toContain('@loader_path');
  });
});

const prebuilt = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const systemLib = /^(linux-vdso|ld-linux[-\w.]*|libc|libm|libdl|libpthread|librt|libutil|libresolv|libgcc_s|libstdc\+\+)\.so/;

// A check of an artifact, not of the tree: prebuilds/ exists only after `npm run prebuild` (which
// verifies its own output too). On a clean clone there is nothing to check, so the suite is not
// registered rather than reported as a skip that CI would have to accept; after a prebuild,
// `npm test` runs it.
const checkPrebuilt = process.platform === 'linux' && existsSync(prebuilt);
if (checkPrebuilt) describe('prebuilds/ (Linux)', () => {
  it('holds the addon, libmlx and every non-system library they need, all found via $ORIGIN', () => {
    const files = readdirSync(prebuilt);
    expect(files.some((f) => f.endsWith('.node'))).toBe(true);
    expect(files).toContain('libmlx.so');
    for (const f of files.filter((x) => x.endsWith('.node') || /\.so(\.|$)/.test(x))) {
      const dyn = execFileSync('readelf', ['-d', '-W', join(prebuilt, f)], { encoding: 'utf8' });
      const paths = [...dyn.matchAll(/\((?:RPATH|RUNPATH)\).*\[(.*)\]/g)].map((m) => m[1]);
      expect(paths, f).toEqual(['$ORIGIN']);
      const needed = [...dyn.matchAll(/\(NEEDED\).*\[(.*)\]/g)].map((m) => m[1]);
      for (const n of needed.filter((x) => !systemLib.test(x))) expect(files, `${f} needs ${n}`).toContain(n);
    }
  });
});
