import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from './paths.js';

/** The SmolLM2 GGUF: MLX_LAB_SMOLLM2 when set (as scripts/fetch-smollm2.mjs honours it), else the cache test/setup/global.ts fills. */
export const SMOLLM2_GGUF = process.env.MLX_LAB_SMOLLM2 ? resolve(process.env.MLX_LAB_SMOLLM2) : join(ROOT, '.cache', 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
export const hasSmolLM2 = existsSync(SMOLLM2_GGUF);
/** Why the SmolLM2 tests skip (describeOrSkip), or undefined when the GGUF is there. */
export const SMOLLM2_MISSING = hasSmolLM2
  ? undefined
  : `SmolLM2 GGUF not found at ${SMOLLM2_GGUF} (offline: MLX_LAB_OFFLINE=1 skips the download; MLX_LAB_SMOLLM2=<path> points at a copy)`;
