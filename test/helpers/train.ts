import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataset, type Example } from '../../src/data/index.js';
import { defaultTrainConfig, type TrainConfig } from '../../src/config/config.js';
import { mulberry32 } from '../../scripts/lib/prng.mjs';

/** A seeded PRNG for test data (mulberry32). */
export const rng = mulberry32;

/** Examples of a fixed-format task: a random prompt, then always the same reply (masked prompt). */
export function formatTask(n: number, seed = 1, reply = [200, 201, 202, 203, 204, 205]): Dataset {
  const r = rng(seed);
  const examples: Example[] = [];
  for (let i = 0; i < n; i++) {
    const len = 4 + Math.floor(r() * 8);
    const prompt = Array.from({ length: len }, () => 1 + Math.floor(r() * 150));
    examples.push({ tokens: Int32Array.from([...prompt, ...reply]), offset: len, line: i + 1, keys: 1 });
  }
  return new Dataset(`synthetic-${seed}`, 'completions', examples);
}

export function tmpDir(prefix = 'mlxlab-train-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A small, fast config for tiny fixture models. */
export function tinyConfig(adapterPath: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...defaultTrainConfig(),
    adapter_path: adapterPath,
    batch_size: 2,
    iters: 20,
    learning_rate: 5e-3,
    steps_per_report: 5,
    steps_per_eval: 10,
    save_every: 5,
    num_layers: -1,
    mask_prompt: true,
    val_batches: 2,
    seed: 3,
    lora_parameters: { rank: 4, dropout: 0.1, scale: 10, keys: null },
    ...overrides,
  };
}
