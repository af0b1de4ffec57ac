#!/usr/bin/env node
// Builds the addon with cmake-js against the MLX SDK (fetched first when MLX_DIR is unset).
// Extra arguments go to cmake-js, e.g. `npm run build:native -- --debug`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLlguidance } from './lib/llguidance.mjs';
import { ensureSdk } from './mlx-sdk.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The grammar engine under .mlx/ (constrained decoding); a failure only warns: the rest works without it. */
export async function fetchGrammarEngine() {
  const log = (msg) => process.stderr.write(`[mlx-lab] ${msg}\n`);
  try {
    await ensureLlguidance(join(ROOT, '.mlx'), log);
  } catch (err) {
    log(`WARNING: no grammar engine (constrained generation unavailable): ${err.message}`);
  }
}

export async function buildNative(extra = []) {
  const sdk = await ensureSdk();
  await fetchGrammarEngine();
  mkdirSync(join(ROOT, '.mlx'), { recursive: true });
  writeFileSync(join(ROOT, '.mlx', 'current.json'), JSON.stringify(sdk, null, 2));
  const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const args = [cmakeJs, 'compile', '--out', 'build', `--CDMLX_DIR=${sdk.prefix}`, ...extra];
  const jobs = process.env.CMAKE_BUILD_PARALLEL_LEVEL ?? String(Math.max(1, (await import('node:os')).availableParallelism()));
  process.stderr.write(`[mlx-lab] building the addon against MLX ${sdk.version} (${sdk.backend}, BLAS ${sdk.blas})\n`);
  execFileSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: jobs } });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildNative(process.argv.slice(2));
}
