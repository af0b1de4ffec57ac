// What the benchmarks need around them: the project root, the Python environments with mlx-lm
// (made on first use), the SmolLM2 model folder (fetched and converted on first use) and the
// versions of everything that decides a number (MLX, mlx-lm, BLAS).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SMOLLM2_DIR = join(ROOT, '.cache', 'models', 'smollm2-mlx-ref');

/** The 1-minute load average, rounded: said next to every timing on a shared machine. */
export const load1 = () => +loadavg()[0].toFixed(2);

/**
 * The python of a benchmark venv, made if missing: "stock" = the project venv with mlx-lm as
 * users install it (scripts/venv.sh), "openblas" = its copy on the same BLAS as our libmlx.
 */
export function benchPython(kind) {
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

/** mlx and mlx-lm versions inside a venv. */
export function pythonVersions(python) {
  const code = 'import json, mlx.core as mx, mlx_lm; print(json.dumps({"mlx": mx.__version__, "mlx_lm": mlx_lm.__version__}))';
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) return { mlx: null, mlx_lm: null };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** Our MLX version and the BLAS our libmlx is linked to (from the SDK's .mlx/current.json). */
export async function ourVersions() {
  const { native } = await import('../../dist/native.js');
  const sdkFile = join(ROOT, '.mlx', 'current.json');
  const sdk = existsSync(sdkFile) ? JSON.parse(readFileSync(sdkFile, 'utf8')) : {};
  return { mlx: native().runtime().mlxVersion, device: native().runtime().device, sdk: sdk.package ?? null, blas: sdk.blas ?? 'vendored (the wheel as shipped)' };
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
