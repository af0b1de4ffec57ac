// llama.cpp through the npm package node-llama-cpp: the second peer of the generation benchmark,
// what a Node user would pick instead on a CPU. A benchmark tool, installed project-locally into
// .cache/bench/node-llama-cpp (npm install --prefix, never a dependency of this package) with its
// prebuilt CPU binaries (npm optional packages: no download or build beyond npm; install scripts
// are not run). ensureNodeLlamaCpp() installs the pinned version once; the worker
// (llama_cpp_generate.mjs) imports it from there.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './env.mjs';

export const NODE_LLAMA_CPP_VERSION = '3.22.1';
export const NODE_LLAMA_CPP_DIR = join(ROOT, '.cache', 'bench', 'node-llama-cpp');

/** The installed node-llama-cpp version in dir, or null. */
export function installedVersion(dir = NODE_LLAMA_CPP_DIR) {
  const file = join(dir, 'node_modules', 'node-llama-cpp', 'package.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : null;
}

/** The entry module to import(), installing the pinned version first when it is missing. */
export function ensureNodeLlamaCpp(log = () => {}) {
  if (installedVersion() !== NODE_LLAMA_CPP_VERSION) {
    log(`installing node-llama-cpp ${NODE_LLAMA_CPP_VERSION} into ${NODE_LLAMA_CPP_DIR} (a benchmark tool, not a dependency)`);
    mkdirSync(NODE_LLAMA_CPP_DIR, { recursive: true });
    writeFileSync(join(NODE_LLAMA_CPP_DIR, 'package.json'), JSON.stringify({ private: true, description: 'mlx-lab benchmark tool' }, null, 2) + '\n');
    const r = spawnSync('npm', ['install', '--prefix', NODE_LLAMA_CPP_DIR, '--save-exact', '--ignore-scripts', '--no-audit', '--no-fund', `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`], {
      cwd: NODE_LLAMA_CPP_DIR,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
    });
    if (r.status !== 0 || installedVersion() !== NODE_LLAMA_CPP_VERSION) throw new Error(`npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION} failed`);
  }
  return join(NODE_LLAMA_CPP_DIR, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
}

/** The SmolLM2 GGUF both our folder and llama.cpp come from (scripts/fetch-smollm2.mjs). */
export async function smollm2Gguf() {
  const { ensureSmolLM2 } = await import('../../scripts/fetch-smollm2.mjs');
  return ensureSmolLM2();
}
