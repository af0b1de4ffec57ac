// What the benchmarks need around them: the project root, the Python environments with mlx-lm
// (made on first use), the SmolLM2 model folders (fetched and converted on first use), the
// versions of everything that decides a number (MLX, mlx-lm, BLAS and its kernel) and the
// commit the run measured.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SMOLLM2_DIR = join(ROOT, '.cache', 'models', 'smollm2-mlx-ref');
/** The Python environments: "stock" (mlx-lm as users install it) and "same-blas" (on our libmlx's BLAS). */
export const VENVS = ['stock', 'same-blas'];

/** The 1-minute load average, rounded: said next to every timing on a shared machine. */
export const load1 = () => +loadavg()[0].toFixed(2);

/**
 * The python of a benchmark venv, made if missing: "stock" = the project venv with mlx-lm as
 * users install it (scripts/venv.sh), "same-blas" = its copy whose libmlx loads exactly the
 * BLAS/LAPACK files ours does (scripts/bench-venv.sh).
 */
export function benchPython(kind) {
  if (!VENVS.includes(kind)) throw new Error(`unknown python environment "${kind}" (${VENVS.join(', ')})`);
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'bench-venv.sh'), kind], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`scripts/bench-venv.sh ${kind} failed`);
  return resolve(ROOT, r.stdout.trim().split('\n').pop());
}

/** Shared-object files mapped into this process whose names say BLAS/LAPACK (Linux). */
export function loadedBlas() {
  try {
    const paths = readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)[5]).filter(Boolean);
    return [...new Set(paths.filter((p) => /blas|lapack/.test(p.split('/').pop())))];
  } catch {
    return [];
  }
}

/**
 * mlx and mlx-lm versions inside a venv and the BLAS its libmlx loads, with the OpenBLAS kernel
 * (benchmarks/lib/blas_info.py): { mlx, mlx_lm, blas: { library, version, corename, config, files } }.
 */
export function pythonVersions(python) {
  const r = spawnSync(python, [join(ROOT, 'benchmarks', 'lib', 'blas_info.py')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) return { mlx: null, mlx_lm: null, blas: null };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** What a BLAS description says in one line: "OpenBLAS 0.3.34, kernel Haswell". */
export function blasText(b) {
  if (!b) return 'unknown';
  const lib = [b.library ?? 'unknown', b.version].filter(Boolean).join(' ');
  return b.corename ? `${lib}, kernel ${b.corename}` : lib;
}

/** The BLAS our libmlx loads and its kernel, as the addon reports it (runtime().blas). */
export async function ourBlas() {
  const { runtime } = await import('../../dist/core/runtime.js');
  const b = runtime().blas;
  const library = b.name === 'reference' ? 'reference BLAS (netlib, vendored by the mlx wheel)' : b.name;
  return { library, version: b.version, corename: b.corename || null, kernelChoice: b.kernelChoice, source: 'runtime().blas', files: loadedBlas() };
}

/** The commit measured and whether the work tree differed from it: { sha, dirty }. */
export function gitState(cwd = ROOT) {
  const git = (...args) => spawnSync('git', args, { cwd, encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0) return { sha: null, dirty: null };
  const status = git('status', '--porcelain');
  return { sha: head.stdout.trim(), dirty: status.status === 0 ? status.stdout.trim().length > 0 : null };
}

/** Our MLX version, the SDK and the BLAS our libmlx loads with its kernel (ourBlas). */
export async function ourVersions() {
  const { native } = await import('../../dist/core/native.js');
  const sdkFile = join(ROOT, '.mlx', 'current.json');
  const sdk = existsSync(sdkFile) ? JSON.parse(readFileSync(sdkFile, 'utf8')) : {};
  return { mlx: native().runtime().mlxVersion, device: native().runtime().device, sdk: sdk.package ?? null, blas: await ourBlas() };
}

/**
 * The SmolLM2-135M model folder (mlx-lm layout): the GGUF from scripts/fetch-smollm2.mjs,
 * converted by our convert() when the folder is missing.
 */
export async function ensureSmolLM2(dir = SMOLLM2_DIR, log = () => {}) {
  if (existsSync(join(dir, 'config.json'))) return dir;
  const { ensureSmolLM2: fetchGguf } = await import('../../scripts/fetch-smollm2.mjs');
  const gguf = await fetchGguf();
  log(`converting ${gguf} to ${dir}`);
  const { convert } = await import('../../dist/index.js');
  await convert({ input: gguf, out: dir });
  return dir;
}

/**
 * The same-math folder of a quantized model folder: every quantized layer dequantized and every
 * weight cast to float32 by our convert, made once under .cache/bench/models/<name>-f32. Both
 * sides of a same-math comparison load these same float32 weights.
 */
export async function ensureFloat32Folder(source, log = () => {}) {
  const dir = join(ROOT, '.cache', 'bench', 'models', `${basename(source)}-f32`);
  if (existsSync(join(dir, 'config.json'))) return dir;
  log(`dequantizing ${source} to float32 in ${dir}`);
  const { convert } = await import('../../dist/index.js');
  await convert({ input: source, out: dir, dequantize: true, dtype: 'float32' });
  return dir;
}

/**
 * Run one side of a benchmark in a fresh process and return the last JSON line of its stdout.
 * Its stderr shows as it runs, or (quiet) only its last 30 lines when it fails.
 */
export function runJson(cmd, args, { label, log, quiet = false }) {
  log(`${label}: ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', quiet ? 'pipe' : 'inherit'], maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    if (quiet && r.stderr) process.stderr.write(r.stderr.split('\n').slice(-30).join('\n') + '\n');
    throw new Error(`${label} failed (exit ${r.status ?? r.signal})`);
  }
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`${label}: no JSON line in its output`);
  return JSON.parse(line);
}
