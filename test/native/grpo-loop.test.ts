// train_mode grpo end to end through runExperiment on the tiny chat model: the suite's scorers as
// rewards raise the mean reward (deterministically for a seed), metrics.jsonl carries the reward,
// the KL and the zero-advantage groups, a resumed run samples what the uninterrupted one sampled,
// a scorer that throws gives reward 0 with its error recorded while the run goes on, a group
// whose rewards are all equal is counted, and a prompt set without the `expect` a reward reads
// fails before the first step.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runExperiment } from '../../src/run/experiment.js';
import { train } from '../../src/train/loop.js';
import type { TrainConfig } from '../../src/config/config.js';
import { readSafetensors, maxAbsDiff } from '../helpers/safetensors.js';
import { FIXTURES } from '../helpers/paths.js';
import { TINY_CHAT } from '../helpers/experiment.js';
import { tinyConfig, tmpDir } from '../helpers/train.js';
import { RunFiles } from '../../src/core/run-files.js';
import { eventsOf, readMetrics } from '../../src/run/metrics.js';

const dirs: string[] = [];
const dir = () => {
  const d = tmpDir('mlxlab-grpo-');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A JSONL prompt set: four prompts whose reward is a reply starting with a lowercase letter (a system prompt: a suite header line). */
function promptSet(folder: string, expect: Record<string, unknown> = { regex: '^[a-z]' }, system?: string): string {
  const path = join(folder, 'prompts.jsonl');
  const lines = ['Say a word.', 'Name a fruit.', 'Pick a color.', 'Greet me.'].map((prompt, i) => JSON.stringify({ id: `p${i}`, prompt, expect }));
  if (system) lines.unshift(JSON.stringify({ suite: { name: 'prompts', system } }));
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Full fine-tuning of the tiny model (LoRA learns too slowly on it), so no KL term (beta 0). */
function config(adapterPath: string, data: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  return tinyConfig(adapterPath, {
    model: TINY_CHAT,
    data,
    train_mode: 'grpo',
    fine_tune_type: 'full',
    beta: 0,
    group_size: 8,
    batch_size: 2,
    max_completion_length: 4,
    temperature: 1,
    iters: 16,
    learning_rate: 3e-3,
    save_every: 100,
    steps_per_report: 4,
    seed: 5,
    ...overrides,
  });
}

/** The grpo events of a run folder's metrics.jsonl. */
function grpoEvents(adapterPath: string) {
  return eventsOf(readMetrics(new RunFiles(adapterPath).metrics).events, 'grpo');
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('GRPO training loop', () => {
  it('raises the mean reward of a regex rubric, the same way for the same seed', async () => {
    const folder = dir();
    const data = promptSet(folder);
    const runs = [];
    for (const name of ['a', 'b']) {
      const out = join(folder, name);
      await runExperiment(config(out, data));
      runs.push(grpoEvents(out));
    }
    const [a, b] = runs;
    expect(a.map((e) => e.iteration)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(b.map((e) => e.rewardMean)).toEqual(a.map((e) => e.rewardMean)); // deterministic for the seed
    const first = mean(a.slice(0, 4).map((e) => e.rewardMean));
    const last = mean(a.slice(-4).map((e) => e.rewardMean));
    console.log(`GRPO tiny-chat rewards: ${a.map((e) => e.rewardMean.toFixed(3)).join(' ')}`);
    expect(last).toBeGreaterThan(first + 0.2);
    expect(a[0]).toMatchObject({ groups: 2, scorerErrors: 0, kl: 0 });
    expect(Object.keys(a[0].rewards)).toEqual(['case_scorer']);
    // Once every completion earns 1, each group's rewards are all equal: counted, and the step still runs.
    const solved = a.filter((e) => e.rewardMean === 1);
    expect(solved.length).toBeGreaterThan(0);
    for (const e of solved) expect(e.zeroAdvantageGroups).toBe(e.groups);
    expect(a[0].zeroAdvantageGroups).toBeLessThan(a[0].groups);
  });

  it("a group's completions share its prompt: the batched generator prefills it once (the shared prefix, from 32 tokens)", async () => {
    const folder = dir();
    const out = join(folder, 'run');
    await runExperiment(config(out, promptSet(folder, undefined, 'You answer with one short lowercase word and nothing else.'), { iters: 1 }));
    const [e] = grpoEvents(out);
    expect(e.sharedPrefixTokens).toBeGreaterThanOrEqual(2 * 32); // two groups, each prompt > 32 tokens
    const short = join(folder, 'short');
    await runExperiment(config(short, promptSet(folder), { iters: 1 }));
    expect(grpoEvents(short)[0].sharedPrefixTokens).toBe(0); // under 32 tokens: each row prefills its own
  });

  it('LoRA with a KL term: the KL to the base model (adapter off) grows from 0 as the adapter moves', async () => {
    const folder = dir();
    const out = join(folder, 'run');
    await runExperiment(config(out, promptSet(folder), { fine_tune_type: 'lora', beta: 0.1, iters: 3, learning_rate: 5e-2, lora_parameters: { rank: 4, dropout: 0, scale: 20, keys: null } }));
    const events = grpoEvents(out);
    expect(events[0].kl).toBe(0); // lora_b starts at 0: the policy is the reference
    expect(events[2].kl).toBeGreaterThan(0);
  });

  it('a resumed run samples and trains what the uninterrupted run did (the prompt position and sampling seeds in the checkpoint)', async () => {
    const folder = dir();
    const data = promptSet(folder);
    const whole = join(folder, 'whole');
    const split = join(folder, 'split');
    await runExperiment(config(whole, data, { iters: 6, save_every: 3 }));
    await runExperiment(config(split, data, { iters: 3, save_every: 3 }));
    await runExperiment(config(split, data, { iters: 6, save_every: 3 }), { resume: true });
    expect(grpoEvents(split).map((e) => e.rewardMean)).toEqual(grpoEvents(whole).map((e) => e.rewardMean));
    const a = readSafetensors(new RunFiles(whole).checkpoint(6).adapterFile);
    const b = readSafetensors(new RunFiles(split).checkpoint(6).adapterFile);
    for (const k of Object.keys(a)) expect(maxAbsDiff(a[k].data, b[k].data), k).toBe(0);
  });

  it('a scorer that throws gives that reward 0 with its error recorded, and the run goes on', async () => {
    const folder = dir();
    const out = join(folder, 'run');
    const r = await runExperiment(config(out, promptSet(folder), { iters: 2, reward_functions: ['regex'], reward_functions_file: join(FIXTURES, 'eval', 'throws.mjs'), reward_weights: [1, 1] }));
    expect(r.iteration).toBe(2);
    const events = grpoEvents(out);
    expect(events).toHaveLength(2);
    for (const e of events) {
      expect(e.scorerErrors).toBe(16);
      expect(e.rewards.throws).toBe(0);
      expect(e.errors?.[0]).toMatch(/case "p\d": scorer "throws" failed: .*boom: this scorer is broken/);
    }
  });

  it('a prompt set without the expect field a reward reads, or an unknown reward, fails before the first step', async () => {
    const folder = dir();
    const out = join(folder, 'run');
    const data = promptSet(folder, { exact: 'yes' });
    await expect(runExperiment(config(out, data, { reward_functions: ['regex'] }))).rejects.toMatchObject({ code: 'E_SUITE', message: expect.stringMatching(/prompts\.jsonl:1: case "p0" has no expect\.regex, which the regex reward needs/) });
    await expect(runExperiment(config(out, data, { reward_functions: ['regexp'] }))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/reward_functions\[0\]: no scorer named "regexp"/) });
    await expect(runExperiment(config(out, join(folder, 'missing.jsonl')))).rejects.toMatchObject({ code: 'E_SUITE' });
    expect(readdirSync(out).filter((f) => f.endsWith('.safetensors'))).toEqual([]);
    expect(existsSync(new RunFiles(out).metrics) ? grpoEvents(out) : []).toEqual([]);
  });

  it('train() with train_mode grpo and no rollout is a clear error', async () => {
    const folder = dir();
    await expect(train(config(join(folder, 'run'), promptSet(folder)))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/train_mode is grpo, but no rewards were given to train\(\)/) });
  });
});
