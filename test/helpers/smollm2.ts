import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths.js';

/** The cached SmolLM2 GGUF (test/setup/global.ts fetches it), or undefined when offline. */
export const SMOLLM2_GGUF = join(ROOT, '.cache', 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
export const hasSmolLM2 = existsSync(SMOLLM2_GGUF);
