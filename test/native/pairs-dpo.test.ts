// Mined pairs end to end on the tiny chat model: minePairs samples replies per case (one batch per
// case, sharing its prompt), scores them with the case's scorer and pairs a full-score reply
// (chosen) with a failed one (rejected, labelled with its failure class); the same seed mines the
// same pairs; then DPO on those pairs raises the chosen-vs-rejected margin, the same way for a seed.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/model/model.js';
import { loadSuite } from '../../src/eval/index.js';
import { minePairs, writePairs } from '../../src/rl/index.js';
import { runExperiment } from '../../src/run/experiment.js';
import { RunFiles } from '../../src/core/run-files.js';
import { eventsOf, readMetrics } from '../../src/run/metrics.js';
import { TINY_CHAT } from '../helpers/experiment.js';
import { tinyConfig, tmpDir } from '../helpers/train.js';

const dirs: string[] = [];
const dir = () => {
  const d = tmpDir('mlxlab-pairs-');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const PROMPTS = ['Say a word.', 'Name a fruit.', 'Pick a color.', 'Greet me.', 'Count to one.', 'Say yes.', 'Name a day.', 'Say hi.'];

/** A prompts JSONL whose cases score 1 for a reply starting with a printable ASCII character (about a third of the random model's replies). */
function promptSet(folder: string): string {
  const path = join(folder, 'prompts.jsonl');
  writeFileSync(path, `${PROMPTS.map((prompt, i) => JSON.stringify({ id: `p${i}`, prompt, expect: { regex: '^[ -~]' } })).join('\n')}\n`);
  return path;
}

const options = { samples: 8, maxTokens: 4, temperature: 1, seed: 7, maxPairsPerPrompt: 2 };

describe('mlx-lab pairs, then DPO', () => {
  it('mines labelled pairs deterministically, and DPO on them raises the margin the same way for a seed', async () => {
    const folder = dir();
    const suite = await loadSuite(promptSet(folder));
    using model = await loadModel(TINY_CHAT);
    const a = await minePairs(model, suite, options);
    const b = await minePairs(model, suite, options);
    expect(b.pairs).toEqual(a.pairs); // the same seed mines the same pairs
    expect(a.summary.samples).toBe(64);
    expect(a.pairs.length).toBeGreaterThanOrEqual(6);
    expect(a.summary.pairs).toBe(a.pairs.length);
    for (const p of a.pairs) {
      expect(p.chosen.trim()).toMatch(/^[ -~]/); // the regex scorer reads the trimmed reply
      expect(p.rejected.trim()).not.toMatch(/^[ -~]/);
      expect(p.rejected_failure).toMatch(/^(no_match|truncated)$/); // the scorer's failure class
      expect(p.rejected_score).toBe(0);
      expect(PROMPTS).toContain(p.prompt);
    }
    expect(Object.values(a.summary.failures).reduce((s, n) => s + n, 0)).toBe(a.pairs.length);
    const other = await minePairs(model, suite, { ...options, seed: 8 });
    expect(other.pairs).not.toEqual(a.pairs);

    const data = join(folder, 'pairs.jsonl');
    writePairs(data, a.pairs);
    expect(readFileSync(data, 'utf8').trim().split('\n')).toHaveLength(a.pairs.length);
    const runs = [];
    for (const name of ['x', 'y']) {
      const out = join(folder, name);
      await runExperiment(
        tinyConfig(out, { model: TINY_CHAT, data, train_mode: 'dpo', batch_size: 2, iters: 10, learning_rate: 2e-2, lora_parameters: { rank: 4, dropout: 0, scale: 20, keys: null }, save_every: 100, seed: 3 }),
        { model },
      );
      runs.push(eventsOf(readMetrics(new RunFiles(out).metrics).events, 'preference'));
    }
    const [x, y] = runs;
    expect(y.map((e) => e.margins)).toEqual(x.map((e) => e.margins));
    console.log(`pairs → DPO tiny-chat margins: ${x.map((e) => e.margins.toFixed(3)).join(' ')}`);
    const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
    expect(x[0].margins).toBe(0); // the policy starts as the reference
    expect(mean(x.slice(-3).map((e) => e.margins))).toBeGreaterThan(0.05);
    expect(x.slice(-3).every((e) => e.accuracies === 1)).toBe(true);
  });

  it('samples below 2 are refused; a case with several turns is skipped and counted', async () => {
    const folder = dir();
    const path = join(folder, 'turns.jsonl');
    const turns = [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }];
    writeFileSync(path, `${JSON.stringify({ id: 'multi', messages: turns, expect: { regex: '^[a-z]' } })}\n${JSON.stringify({ id: 'one', prompt: 'x', expect: { regex: '^[a-z]' } })}\n`);
    const suite = await loadSuite(path);
    using model = await loadModel(TINY_CHAT);
    await expect(minePairs(model, suite, { ...options, samples: 1 })).rejects.toMatchObject({ code: 'E_ARGUMENT', message: expect.stringMatching(/samples must be an integer ≥ 2/) });
    const r = await minePairs(model, suite, options);
    expect(r.summary.skipped).toEqual(['multi']);
    expect(r.summary.samples).toBe(8);
    expect(r.pairs.every((p) => p.id === 'one')).toBe(true);
  });
});
