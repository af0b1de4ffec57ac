import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { EXAMPLE_SUITE, type DemoOptions } from '../../src/demo/demo.js';
import { ROOT } from './paths.js';

/** The SmolLM2 GGUF: MLX_LAB_SMOLLM2 when set (as scripts/fetch-smollm2.mjs honours it), else the cache test/setup/global.ts fills. */
export const SMOLLM2_GGUF = process.env.MLX_LAB_SMOLLM2 ? resolve(process.env.MLX_LAB_SMOLLM2) : join(ROOT, '.cache', 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
export const hasSmolLM2 = existsSync(SMOLLM2_GGUF);
/** Why the SmolLM2 tests skip (describeOrSkip), or undefined when the GGUF is there. */
export const SMOLLM2_MISSING = hasSmolLM2
  ? undefined
  : `SmolLM2 GGUF not found at ${SMOLLM2_GGUF} (offline: MLX_LAB_OFFLINE=1 skips the download; MLX_LAB_SMOLLM2=<path> points at a copy)`;

/**
 * The demo's options for a small run in `dir` (2 SFT steps on 12 examples, 2 LoRA layers, a
 * 3-case slice of the example suite with 16-token replies, written to `dir`/suite.yaml), plus
 * `extra`.
 */
export function smallDemoOptions(dir: string, extra: Partial<DemoOptions> = {}): DemoOptions {
  const suite = parse(readFileSync(EXAMPLE_SUITE, 'utf8')) as { cases: unknown[] };
  const small = join(dir, 'suite.yaml');
  writeFileSync(small, stringify({ ...suite, cases: suite.cases.slice(0, 3), max_tokens: 16 }));
  return { dir, suite: small, maxTokens: 16, trainExamples: 12, validExamples: 4, iters: 2, evalEvery: 2, numLayers: 2, ...extra };
}
