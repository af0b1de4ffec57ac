#!/usr/bin/env node
// `npm install` hook: use a prebuilt addon for this platform when one ships in prebuilds/,
// else fetch the MLX SDK and build. MLX_LAB_SKIP_BUILD=1 skips the build entirely.
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative, fetchGrammarEngine } from './build-native.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function hasPrebuild() {
  try {
    const path = require('node-gyp-build').resolve(ROOT);
    return path.includes('prebuilds');
  } catch {
    return false;
  }
}

if (process.env.MLX_LAB_SKIP_BUILD === '1') {
  process.stderr.write('[mlx-lab] MLX_LAB_SKIP_BUILD=1: not building the native addon\n');
} else if (hasPrebuild() && !process.env.MLX_LAB_FORCE_BUILD) {
  process.stderr.write('[mlx-lab] using the prebuilt addon from prebuilds/\n');
  await fetchGrammarEngine();
} else {
  try {
    await buildNative();
  } catch (err) {
    process.stderr.write(`[mlx-lab] native build failed: ${err.message}\n`);
    process.exit(1);
  }
}
