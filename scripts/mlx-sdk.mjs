#!/usr/bin/env node
// Obtains the MLX C++ SDK (headers, libmlx, MLXConfig.cmake) from the pinned official backend
// wheel on PyPI and unpacks it into .mlx/ (git-ignored). MLX_DIR overrides all of this.
// Prints the SDK description as JSON; writes it to .mlx/current.json for the build.
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync, renameSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { relinkBlas } from './lib/blas.mjs';
import { downloadWheel, unpackWheel } from './lib/wheels.mjs';

export { findOpenBlas } from './lib/blas.mjs';
export { wheelFits } from './lib/wheels.mjs';

export const MLX_VERSION = '0.32.4';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SDK_ROOT = join(ROOT, '.mlx');

/** Which backend wheel fits this machine (MLX_LAB_BACKEND=cpu|metal|cuda overrides). */
export function pickBackend(env = process.env, platform = process.platform) {
  const b = env.MLX_LAB_BACKEND ?? (platform === 'darwin' ? 'metal' : 'cpu');
  if (!['cpu', 'metal', 'cuda'].includes(b)) throw new Error(`MLX_LAB_BACKEND must be cpu, metal or cuda, got "${b}"`);
  if (b === 'metal' && platform !== 'darwin') throw new Error('the metal backend needs macOS');
  return b;
}

const PACKAGE = { cpu: 'mlx-cpu', metal: 'mlx-metal', cuda: 'mlx-cuda-13' };

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
  if (existsSync(marker)) {
    const sdk = JSON.parse(readFileSync(marker, 'utf8'));
    // An SDK unpacked with the reference BLAS (older installs) gets the fast one now.
    if (backend !== 'cpu' || sdk.blas !== 'reference' || process.env.MLX_LAB_BLAS === 'reference') return sdk;
    sdk.blas = await relinkBlas(dir, { log });
    writeFileSync(marker, JSON.stringify(sdk, null, 2));
    return sdk;
  }
  rmSync(dir, { recursive: true, force: true });
  const tmp = dir + '.tmp';
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  if (backend === 'cuda') pipInstallCuda(pkg, MLX_VERSION, tmp);
  else unpackWheel(await downloadWheel(pkg, MLX_VERSION, log), tmp);
  const blas = backend === 'cpu' ? await relinkBlas(tmp, { log }) : backend === 'metal' ? 'accelerate' : 'cublas';
  if (blas === 'reference') log('WARNING: MLX_LAB_BLAS=reference: MLX will use the slow reference BLAS (about 30x slower f32 matmul).');
  renameSync(tmp, dir);
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
