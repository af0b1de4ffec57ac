// A fast BLAS for MLX's Linux CPU wheel, which vendors the slow reference BLAS/LAPACK (~6 GFLOP/s
// f32 sgemm on 2 cores). The vendored file names are pointed at, in order of preference:
//   system   an OpenBLAS the distribution installed (same BLAS, CBLAS and LAPACK symbols);
//   bundled  OpenBLAS from the PyPI wheel scipy-openblas32 (DYNAMIC_ARCH, LP64 integers), whose
//            symbols carry a `scipy_` prefix: a small shim built here forwards the plain names;
//   reference the wheel as shipped.
// MLX_LAB_BLAS=auto|system|bundled|reference picks one (auto: system, else bundled).
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportedFunctions } from './elf.mjs';
import { downloadWheel, unpackWheel } from './wheels.mjs';

/** The pinned OpenBLAS wheel (OpenBLAS 0.3.34: knows CPUs up to Sapphire/Granite Rapids and Zen 5). */
export const BUNDLED = { package: 'scipy-openblas32', version: '0.3.34.481.3', lib: 'libscipy_openblas.so', prefix: 'scipy_' };
const SHIM = 'libmlxlab-blas.so';

/** Where Debian/Ubuntu/Fedora keep OpenBLAS; null when none is installed. */
export function findOpenBlas() {
  // The pthread build by its own path first: Debian's libopenblas.so.0 is an alternatives link
  // that may point at the OpenMP build, which was 3-20x slower here under MLX.
  const candidates = [
    '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0',
    '/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0',
    '/usr/lib/x86_64-linux-gnu/libopenblas.so.0',
    '/usr/lib/aarch64-linux-gnu/libopenblas.so.0',
    '/usr/lib64/libopenblas.so.0',
    '/usr/lib/libopenblas.so.0',
  ];
  try {
    const out = execFileSync('ldconfig', ['-p'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const m = /libopenblas\.so\.0 .*=> (\S+)/.exec(out);
    if (m) candidates.push(m[1]);
  } catch { /* no ldconfig: use the fixed list */ }
  return candidates.find((p) => existsSync(p)) ?? null;
}

/** Which BLAS to use for MLX_LAB_BLAS (auto|system|bundled|reference) and whether a system OpenBLAS exists. */
export function chooseBlas(setting = 'auto', systemOpenBlas = null) {
  if (!['auto', 'system', 'bundled', 'reference'].includes(setting)) throw new Error(`MLX_LAB_BLAS must be auto, system, bundled or reference, got "${setting}"`);
  if (setting === 'system' && !systemOpenBlas) throw new Error('MLX_LAB_BLAS=system but no OpenBLAS is installed (Debian/Ubuntu: apt-get install libopenblas0-pthread)');
  if (setting === 'auto') return systemOpenBlas ? 'system' : 'bundled';
  return setting;
}

/** Assembly for a shared object whose every `name` jumps to `prefix + name` (any signature: a tail call). */
export function shimAssembly(names, arch = process.arch, prefix = BUNDLED.prefix) {
  const jump = { x64: (t) => `jmp ${t}@PLT`, arm64: (t) => `b ${t}` }[arch];
  if (!jump) throw new Error(`no BLAS shim for ${arch} (x64 and arm64 only); set MLX_LAB_BLAS=system or reference`);
  const type = arch === 'arm64' ? '%function' : '@function';
  const body = names.map((n) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw new Error(`BLAS shim: "${n}" is not a plain C symbol name`);
    return `.globl ${n}\n.type ${n}, ${type}\n${n}:\n  ${jump(prefix + n)}\n`;
  });
  const stack = arch === 'arm64' ? '%progbits' : '@progbits';
  return `.text\n${body.join('')}.section .note.GNU-stack,"",${stack}\n`;
}

/** The names the shim forwards: defined by the vendored reference libraries and by the bundled OpenBLAS. */
export function forwardedNames(vendoredPaths, bundledPath, prefix = BUNDLED.prefix) {
  const bundled = new Set(exportedFunctions(bundledPath).filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length)));
  const wanted = new Set(vendoredPaths.flatMap((p) => exportedFunctions(p)));
  return [...wanted].filter((n) => bundled.has(n)).sort();
}

/** The C compiler to assemble the shim with (CC, else the first of cc, gcc, clang found). */
function compiler() {
  const tried = [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean);
  for (const cc of tried) {
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore' });
      return cc;
    } catch { /* try the next */ }
  }
  throw new Error(`no C compiler found to build the BLAS shim (tried ${tried.join(', ')}); install one, or set MLX_LAB_BLAS=reference`);
}

/** Unpack the bundled OpenBLAS into libs/ and build the forwarding shim next to it; returns the shim's path. */
async function installBundled(libs, vendored, log) {
  const wheel = await downloadWheel(BUNDLED.package, BUNDLED.version, log);
  const top = BUNDLED.package.replaceAll('-', '_');
  unpackWheel(wheel, libs, {
    keep: (n) => n === `${top}/lib/${BUNDLED.lib}` || /\.dist-info\/licenses\/LICENSE/.test(n),
    rename: (n) => (n.endsWith(BUNDLED.lib) ? BUNDLED.lib : `LICENSE.${BUNDLED.package}.txt`),
  });
  const names = forwardedNames(vendored, join(libs, BUNDLED.lib));
  if (!names.includes('cblas_sgemm')) throw new Error(`${BUNDLED.package} ${BUNDLED.version}: no ${BUNDLED.prefix}cblas_sgemm to forward to`);
  const asm = join(libs, 'mlxlab-blas-shim.S');
  writeFileSync(asm, shimAssembly(names));
  const out = join(libs, SHIM);
  execFileSync(compiler(), ['-shared', '-o', out + '.part', asm, `-L${libs}`, `-l:${BUNDLED.lib}`, '-Wl,-rpath,$ORIGIN', `-Wl,-soname,${SHIM}`], { stdio: 'inherit' });
  renameSync(out + '.part', out);
  rmSync(asm);
  log(`bundled OpenBLAS: ${BUNDLED.package} ${BUNDLED.version}, ${names.length} symbols forwarded by ${SHIM}`);
  return out;
}

/**
 * Point the wheel's vendored BLAS/LAPACK names (in `<sdk>/mlx_cpu.libs`) at the chosen BLAS.
 * Returns the SDK's `blas` description: "openblas:<path>", "bundled:<package> <version>",
 * "reference" or "vendored" (a wheel without vendored libraries).
 */
export async function relinkBlas(dir, { setting = process.env.MLX_LAB_BLAS ?? 'auto', log = () => {} } = {}) {
  const libs = join(dir, 'mlx_cpu.libs');
  if (!existsSync(libs)) return 'vendored';
  const vendored = readdirSync(libs).filter((f) => /^lib(blas|lapack)-.*\.so[.\d]*$/.test(f));
  const system = findOpenBlas();
  const kind = chooseBlas(setting, system);
  if (kind === 'reference') return 'reference';
  for (const f of vendored) if (!lstatSync(join(libs, f)).isSymbolicLink()) renameSync(join(libs, f), join(libs, f + '.reference'));
  const target = kind === 'system' ? system : await installBundled(libs, vendored.map((f) => join(libs, f + '.reference')), log);
  for (const f of vendored) {
    const p = join(libs, f);
    rmSync(p, { force: true });
    symlinkSync(kind === 'system' ? target : SHIM, p);
  }
  return kind === 'system' ? `openblas:${system}` : `bundled:${BUNDLED.package} ${BUNDLED.version}`;
}

