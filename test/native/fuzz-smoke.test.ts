// scripts/fuzz.mjs stays runnable: every target for one second, fixed seed (the real runs are
// `npm run fuzz`, see the README's Fuzzing section).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';

describe('scripts/fuzz.mjs', () => {
  it('runs every target and finds nothing in one second each', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'fuzz.mjs'), '--seconds', '1', '--seed', '1'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    const results = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(results.map((x) => x.target)).toEqual(['config', 'suite', 'dataset', 'gguf-tokenizer', 'chat-template', 'safetensors', 'gguf']);
    for (const x of results) {
      expect(x.failed, JSON.stringify(x)).toBe(false);
      expect(x.runs).toBeGreaterThan(0);
    }
    expect(r.status).toBe(0);
  });
});
