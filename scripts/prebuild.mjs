#!/usr/bin/env node
// Makes a self-contained prebuilt addon for this platform in prebuilds/<platform>-<arch>/ with
// prebuildify (N-API, stripped), built from binding.gyp in a staging copy of the sources so a
// local build/ (cmake-js) is never touched. Next to the addon it puts libmlx and what libmlx
// loads that a plain machine may lack, all found through $ORIGIN (@loader_path on macOS):
//
//   Linux  mlx-lab.node, libmlx.so and its BLAS/LAPACK with their Fortran runtime.
//          --blas auto (default): whatever libmlx loads here. With the SDK relinked to OpenBLAS
//            (scripts/mlx-sdk.mjs does that when OpenBLAS is installed) that is OpenBLAS
//            (libopenblas.so.0, libgfortran.so.5, libquadmath.so.0): f32 sgemm at full speed on
//            any x86-64 (Debian builds it with DYNAMIC_ARCH) and no newer glibc than libmlx
//            itself needs (GLIBC_2.35 from the manylinux_2_35 wheel).
//          --blas reference: the wheel's vendored reference BLAS/LAPACK (+ gfortran, quadmath):
//            12 MB instead of 40 MB, but sgemm is many times slower.
//          --blas openblas: like auto, but fails unless the BLAS found is OpenBLAS.
//   macOS  mlx-lab.node, libmlx.dylib and mlx.metallib (MLX loads the metallib that sits next
//          to the libmlx binary); Accelerate and Metal are system frameworks.
//
// Usage: node scripts/prebuild.mjs [--blas auto|openblas|reference] [--no-strip] [--no-verify]
//        [--keep-stage]
// Verification (on unless --no-verify; needs dist/): copies package.json, dist/ and prebuilds/
// into a temporary folder (node_modules linked), loads the addon there with no
// LD_LIBRARY_PATH/DYLD_* and no MLX_DIR, checks that node-gyp-build picked the prebuild and that
// no library came from the SDK folder, and generates 4 tokens from a tiny fixture model.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync,
  realpathSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ensureSdk } from './mlx-sdk.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const PREBUILDIFY = '6.0.1';
const TUPLE = `${process.platform}-${process.arch}`;

function log(msg) {
  process.stderr.write(`[prebuild] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

// ---------------------------------------------------------------- the build (prebuildify)

/** A copy of what binding.gyp needs, so node-gyp's build/ lives outside the working tree. */
function stageSources() {
  const stage = mkdtempSync(join(tmpdir(), 'mlx-lab-prebuild-'));
  for (const f of ['binding.gyp', 'package.json']) copyFileSync(join(ROOT, f), join(stage, f));
  for (const d of ['native', 'bindings']) cpSync(join(ROOT, d), join(stage, d), { recursive: true });
  mkdirSync(join(stage, 'scripts'));
  copyFileSync(join(ROOT, 'scripts', 'gyp-info.cjs'), join(stage, 'scripts', 'gyp-info.cjs'));
  symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'), 'dir');
  return stage;
}

/** node-gyp: a local one, the one npm passes to scripts, or the one bundled with npm. */
function findNodeGyp() {
  const candidates = [];
  try { candidates.push(require.resolve('node-gyp/bin/node-gyp.js', { paths: [ROOT] })); } catch { /* not installed */ }
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error('node-gyp not found: install it (npm i -D node-gyp) or run through npm');
  return found;
}

/** prebuildify's command: the devDependency when installed, else npx with the pinned version. */
function prebuildifyCommand() {
  try {
    return [process.execPath, [require.resolve('prebuildify/bin.js', { paths: [ROOT] })]];
  } catch {
    return ['npx', ['--yes', `prebuildify@${PREBUILDIFY}`]];
  }
}

function buildAddon(stage, sdk, strip) {
  const env = { ...process.env, MLX_DIR: sdk.prefix, PREBUILD_NODE_GYP: findNodeGyp() };
  env.JOBS ??= String(availableParallelism());
  // The running node's own headers when it ships them (distro, nvm, setup-node, Homebrew): no
  // header download. An npm config nodedir (npm_config_nodedir) wins.
  const prefix = dirname(dirname(process.execPath));
  if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) env.npm_config_nodedir = prefix;
  const [cmd, pre] = prebuildifyCommand();
  const args = [...pre, '--napi', '--target', process.versions.node, '--cwd', stage, '--out', stage];
  if (strip) args.push('--strip');
  log(`building with prebuildify (${cmd === 'npx' ? `npx prebuildify@${PREBUILDIFY}` : 'local prebuildify'}, node-gyp ${env.PREBUILD_NODE_GYP})`);
  const r = spawnSync(cmd, args, { cwd: stage, env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`prebuildify failed (exit ${r.status ?? r.signal})`);
  const out = join(stage, 'prebuilds', TUPLE);
  const addon = readdirSync(out).find((f) => f.endsWith('.node'));
  if (!addon) throw new Error(`prebuildify produced no .node in ${out}`);
  return { dir: out, addon: join(out, addon) };
}

// ---------------------------------------------------------------- Linux: ELF bundling

// Libraries every glibc Linux has (the manylinux policy's list, with libstdc++/libgcc_s).
const SYSTEM_ELF = /^(linux-vdso|linux-gate|ld-linux[-\w.]*|libc|libm|libdl|libpthread|librt|libutil|libresolv|libgcc_s|libstdc\+\+)\.so/;

function elfInfo(file) {
  const out = run('readelf', ['-d', '-W', file]);
  const grab = (tag) => [...out.matchAll(new RegExp(`\\(${tag}\\)\\s+\\S.*?\\[(.*)\\]`, 'g'))].map((m) => m[1]);
  const paths = [...grab('RPATH'), ...grab('RUNPATH')].flatMap((p) => p.split(':')).filter(Boolean);
  return { needed: grab('NEEDED'), soname: grab('SONAME')[0], paths };
}

/** name → path as the dynamic loader resolves it for `file` (ldd), for what rpaths miss. */
function lddMap(file) {
  const map = new Map();
  for (const line of run('ldd', [file]).split('\n')) {
    const m = /^\s*(\S+) => (\/\S+)/.exec(line);
    if (m) map.set(m[1], m[2]);
  }
  return map;
}

function makeElfBundler(dest, blas, strip) {
  const copied = new Map(); // real source path → file name in dest
  const patched = [];
  const notes = [];
  const pick = (p) => (blas === 'reference' && existsSync(p + '.reference') ? p + '.reference' : p);

  function locate(from, info, name) {
    for (const dir of info.paths) {
      const p = join(dir.replaceAll('$ORIGIN', dirname(from)).replaceAll('${ORIGIN}', dirname(from)), name);
      if (existsSync(p)) return pick(p);
    }
    const p = lddMap(from).get(name);
    if (!p) throw new Error(`${from}: cannot find ${name}`);
    return pick(p);
  }

  /** Copy `src` (and what it needs) into dest; returns the name it got there. */
  function bundle(src, name) {
    const real = realpathSync(src);
    if (copied.has(real)) return copied.get(real);
    const info = elfInfo(real);
    // A file reached under another name (the wheel's libblas-*.so symlinked to OpenBLAS) keeps
    // its own soname, and whoever needs it is patched to that name.
    const own = name ?? basename(src);
    const target = info.soname && info.soname !== own && !src.endsWith('.reference') ? info.soname : own;
    copied.set(real, target);
    const out = join(dest, target);
    copyFileSync(real, out);
    chmodSync(out, 0o755);
    // Strip before patchelf edits the file: strip on a patchelf'ed ELF can leave load segments
    // misaligned ("ELF load command address/offset not page-aligned" at dlopen).
    if (strip && /\s\.symtab\s/.test(run('readelf', ['-S', '-W', out]))) run('strip', ['--strip-unneeded', out]);
    if (/openblas/i.test(info.soname ?? '') || /openblas/i.test(real)) notes.push(`BLAS: OpenBLAS (${real})`);
    else if (/^lib(blas|lapack)/.test(target)) notes.push(`BLAS: ${target} from ${real}`);
    const edits = [];
    for (const dep of info.needed) {
      if (SYSTEM_ELF.test(dep)) continue;
      const got = bundle(locate(src, info, dep), dep);
      if (got === dep) continue;
      if (info.needed.includes(got) || edits.some((e) => e[0] === '--replace-needed' && e[2] === got)) edits.push(['--remove-needed', dep]);
      else edits.push(['--replace-needed', dep, got]);
    }
    for (const e of edits) run('patchelf', [...e, out]);
    patched.push(out);
    return target;
  }
  return { bundle, patched, notes, copied };
}

function bundleLinux(dir, addon, sdk, { blas, strip }) {
  const libmlx = join(sdk.libDir, 'libmlx.so');
  if (!existsSync(libmlx)) throw new Error(`no libmlx.so in ${sdk.libDir}`);
  const b = makeElfBundler(dir, blas, strip);
  b.bundle(libmlx, 'libmlx.so');
  // Everything we copied, and the addon, finds its neighbours and nothing else.
  for (const f of [...b.patched, addon]) run('patchelf', ['--set-rpath', '$ORIGIN', f]);
  const blasNote = b.notes.find((n) => n.startsWith('BLAS: OpenBLAS')) ?? b.notes[0] ?? 'BLAS: none found';
  if (blas === 'openblas' && !blasNote.includes('OpenBLAS')) {
    throw new Error('--blas openblas: libmlx does not load OpenBLAS here (install libopenblas0-pthread and run `npm run sdk -- --force`)');
  }
  log(blasNote);
}

// ---------------------------------------------------------------- macOS: Mach-O bundling

function machoDeps(file) {
  return run('otool', ['-L', file]).split('\n').slice(1).map((l) => l.trim().split(' ')[0]).filter(Boolean);
}

function machoRpaths(file) {
  const out = run('otool', ['-l', file]);
  return [...out.matchAll(/cmd LC_RPATH\n\s+cmdsize \d+\n\s+path (.*) \(offset \d+\)/g)].map((m) => m[1]);
}

function bundleMac(dir, addon, sdk) {
  const libmlx = join(sdk.libDir, 'libmlx.dylib');
  const metallib = join(sdk.libDir, 'mlx.metallib');
  if (!existsSync(libmlx)) throw new Error(`no libmlx.dylib in ${sdk.libDir}`);
  const copyLib = (src) => {
    const out = join(dir, basename(src));
    copyFileSync(realpathSync(src), out);
    chmodSync(out, 0o755);
    return out;
  };
  const edited = new Set([addon]);
  const mlx = copyLib(libmlx);
  // libmlx.dylib of the wheel needs only system frameworks and libc++; anything it loads
  // through @rpath (a custom MLX_DIR build may) comes along, found via @loader_path.
  for (const dep of machoDeps(mlx)) {
    const m = /^@rpath\/(.+)$/.exec(dep);
    if (!m || m[1] === 'libmlx.dylib') continue;
    copyLib(join(sdk.libDir, m[1]));
    if (!machoRpaths(mlx).includes('@loader_path')) {
      run('install_name_tool', ['-add_rpath', '@loader_path', mlx]);
      edited.add(mlx);
    }
  }
  // MLX loads the mlx.metallib that sits next to the libmlx binary (dladdr + "mlx.metallib").
  if (existsSync(metallib)) copyFileSync(metallib, join(dir, 'mlx.metallib'));
  else if (sdk.backend !== 'cpu') throw new Error(`no mlx.metallib in ${sdk.libDir}: the Metal backend cannot run without it`);
  // The addon: only @loader_path, not the SDK folder it was linked against.
  for (const p of machoRpaths(addon)) if (p !== '@loader_path') run('install_name_tool', ['-delete_rpath', p, addon]);
  if (!machoRpaths(addon).includes('@loader_path')) run('install_name_tool', ['-add_rpath', '@loader_path', addon]);
  // Editing load commands invalidates the signature and arm64 macOS refuses unsigned code:
  // sign what was edited again (ad hoc); untouched libraries keep their own signature.
  for (const f of edited) run('codesign', ['--force', '--sign', '-', f]);
}

// ---------------------------------------------------------------- verification

const VERIFY_SCRIPT = `
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const root = process.cwd();
const require = createRequire(root + '/package.json');
const path = require('node-gyp-build').resolve(root);
const { native } = await import(root + '/dist/core/native.js');
const runtime = native().runtime();
const result = { addon: path, runtime };
const fixture = process.argv[2];
if (fixture) {
  const { loadModel } = await import(root + '/dist/model/model.js');
  const model = await loadModel(fixture, { tokenizer: false });
  const g = await model.generate({ tokens: [1, 2, 3] }, { maxTokens: 4 });
  result.tokens = g.tokens;
  model.dispose?.();
}
if (process.platform === 'linux') {
  result.libs = [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter((p) => p && /\\.so(\\.|$)|\\.node$/.test(p)))];
}
console.log(JSON.stringify(result));
`;

function verify(dir) {
  if (!existsSync(join(ROOT, 'dist', 'core/native.js'))) {
    log('dist/ is not built (npx tsc -p tsconfig.json): skipping the verification');
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-prebuild-check-'));
  try {
    copyFileSync(join(ROOT, 'package.json'), join(tmp, 'package.json'));
    cpSync(join(ROOT, 'dist'), join(tmp, 'dist'), { recursive: true });
    cpSync(dir, join(tmp, 'prebuilds', TUPLE), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(tmp, 'node_modules'), 'dir');
    writeFileSync(join(tmp, 'verify.mjs'), VERIFY_SCRIPT);
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (/^(LD_LIBRARY_PATH|LD_PRELOAD|DYLD_|MLX_DIR$|MLX_LAB_PREBUILD$)/.test(k)) delete env[k];
    const fixture = join(ROOT, 'test', 'fixtures', 'models', 'llama-f32');
    const out = run(process.execPath, [join(tmp, 'verify.mjs'), ...(existsSync(fixture) ? [fixture] : [])], { cwd: tmp, env });
    const r = JSON.parse(out.trim().split('\n').pop());
    const prebuildDir = realpathSync(join(tmp, 'prebuilds'));
    if (!realpathSync(r.addon).startsWith(prebuildDir)) throw new Error(`node-gyp-build loaded ${r.addon}, not the prebuild`);
    const leaked = (r.libs ?? []).filter((p) => p.startsWith(ROOT) || p.includes('/.mlx/'));
    if (leaked.length) throw new Error(`the prebuild loaded libraries from outside its folder: ${leaked.join(', ')}`);
    const own = (r.libs ?? []).filter((p) => p.startsWith(prebuildDir)).map((p) => basename(p));
    log(`verified in ${tmp}: MLX ${r.runtime.mlxVersion} (${r.runtime.device})` +
      (r.tokens ? `, generated ${JSON.stringify(r.tokens)}` : '') + (own.length ? `; loaded from the prebuild: ${own.join(', ')}` : ''));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

export async function prebuild({ blas = 'auto', strip = true, verifyAfter = true, keepStage = false } = {}) {
  if (!['auto', 'openblas', 'reference'].includes(blas)) throw new Error(`--blas must be auto, openblas or reference, got "${blas}"`);
  if (process.platform !== 'linux' && process.platform !== 'darwin') throw new Error(`prebuilds are made on Linux and macOS, not ${process.platform}`);
  const sdk = await ensureSdk();
  log(`MLX ${sdk.version} (${sdk.backend}, BLAS ${sdk.blas}) from ${sdk.prefix}`);
  const stage = stageSources();
  try {
    const { dir, addon } = buildAddon(stage, sdk, strip);
    if (process.platform === 'linux') bundleLinux(dir, addon, sdk, { blas, strip });
    else bundleMac(dir, addon, sdk);
    const dest = join(ROOT, 'prebuilds', TUPLE);
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dirname(dest), { recursive: true });
    cpSync(dir, dest, { recursive: true });
    const files = readdirSync(dest).map((f) => `${f} (${(lstatSync(join(dest, f)).size / 1e6).toFixed(1)} MB)`);
    log(`wrote ${dest}: ${files.join(', ')}`);
    if (verifyAfter) verify(dest);
    return dest;
  } finally {
    if (keepStage) log(`staging folder kept: ${stage}`);
    else rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      blas: { type: 'string', default: process.env.MLX_LAB_PREBUILD_BLAS ?? 'auto' },
      'no-strip': { type: 'boolean', default: false },
      'no-verify': { type: 'boolean', default: false },
      'keep-stage': { type: 'boolean', default: false },
    },
  });
  try {
    await prebuild({ blas: values.blas, strip: !values['no-strip'], verifyAfter: !values['no-verify'], keepStage: values['keep-stage'] });
  } catch (err) {
    log(`failed: ${err.message}`);
    process.exit(1);
  }
}
