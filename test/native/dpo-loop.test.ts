// train_mode dpo / orpo end to end through runExperiment on the tiny chat model, on pairs in
// mlx-lm-lora's DPO format: DPO raises the chosen-vs-rejected margin (deterministically for a
// seed), the validation loss is the DPO loss (so early stopping and selection see it) with
// mlx-lm-lora's metrics in the val event, a resumed run ends on the same weights as an
// uninterrupted one, ORPO lowers its loss, and SFT-format data fails before the first step.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runExperiment } from '../../src/run/experiment.js';
import type { TrainConfig } from '../../src/config/config.js';
import { readSafetensors, maxAbsDiff } from '../helpers/safetensors.js';
import { TINY_CHAT } from '../helpers/experiment.js';
import { tinyConfig, tmpDir } from '../helpers/train.js';
import { RunFiles } from '../../src/core/run-files.js';
import { eventsOf, readMetrics } from '../../src/run/metrics.js';

const dirs: string[] = [];
const dir = () => {
  const d = tmpDir('mlxlab-dpo-');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const PROMPTS = ['Say a word.', 'Name a fruit.', 'Pick a color.', 'Greet me.', 'Count to one.', 'Say yes.', 'Name a day.', 'Say hi.'];

/** A data folder of pairs: chosen a lowercase word, rejected the same shouted (train: 8 pairs, valid: 4). */
function pairsFolder(folder: string): string {
  const data = join(folder, 'data');
  mkdirSync(data, { recursive: true });
  const words = ['apple', 'blue', 'hello', 'one', 'yes', 'monday', 'hi', 'word'];
  const line = (prompt: string, i: number) => JSON.stringify({ prompt, chosen: words[i % words.length], rejected: `${words[i % words.length].toUpperCase()}!!` });
  writeFileSync(join(data, 'train.jsonl'), `${PROMPTS.map(line).join('\n')}\n`);
  writeFileSync(join(data, 'valid.jsonl'), `${PROMPTS.slice(0, 4).map((p, i) => line(p, i + 3)).join('\n')}\n`);
  return data;
}

function config(adapterPath: string, data: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  return tinyConfig(adapterPath, {
    model: TINY_CHAT,
    data,
    train_mode: 'dpo',
    beta: 0.1,
    batch_size: 2,
    iters: 10,
    learning_rate: 2e-2,
    lora_parameters: { rank: 4, dropout: 0, scale: 20, keys: null },
    save_every: 100,
    steps_per_report: 5,
    steps_per_eval: 5,
    val_batches: -1,
    seed: 3,
    ...overrides,
  });
}

const events = (adapterPath: string) => readMetrics(new RunFiles(adapterPath).metrics).events;

describe('DPO / ORPO training loop', () => {
  it('DPO raises the margin and accuracy on held-out pairs, the same way for the same seed', async () => {
    const folder = dir();
    const data = pairsFolder(folder);
    const runs = [];
    for (const name of ['a', 'b']) {
      const out = join(folder, name);
      await runExperiment(config(out, data));
      runs.push(events(out));
    }
    const [a, b] = runs;
    const steps = eventsOf(a, 'preference');
    expect(steps.map((e) => e.iteration)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(eventsOf(b, 'preference').map((e) => e.loss)).toEqual(steps.map((e) => e.loss)); // deterministic for the seed
    expect(steps[0]).toMatchObject({ method: 'dpo', margins: 0, chosenReward: 0, rejectedReward: 0 }); // lora_b starts at 0: the policy is the reference
    expect(steps[0].loss).toBeCloseTo(Math.log(2), 5);
    const val = eventsOf(a, 'val');
    expect(val.map((e) => e.iteration)).toEqual([1, 5, 10]);
    console.log(`DPO tiny-chat val: ${val.map((e) => `loss ${e.valLoss.toFixed(4)} margin ${e.preference?.margins.toFixed(4)} acc ${e.preference?.accuracies}`).join(' | ')}`);
    expect(val[0].valLoss).toBeCloseTo(Math.log(2), 5);
    expect(val[2].preference!.margins).toBeGreaterThan(val[0].preference!.margins + 0.05);
    expect(val[2].preference!.accuracies).toBe(1);
    expect(val[2].valLoss).toBeLessThan(val[0].valLoss - 0.02);
  });

  it('a resumed run ends on the weights of the uninterrupted one (batch order and optimizer in the checkpoint)', async () => {
    const folder = dir();
    const data = pairsFolder(folder);
    const whole = join(folder, 'whole');
    const split = join(folder, 'split');
    await runExperiment(config(whole, data, { iters: 6, save_every: 3 }));
    await runExperiment(config(split, data, { iters: 3, save_every: 3 }));
    await runExperiment(config(split, data, { iters: 6, save_every: 3 }), { resume: true });
    expect(eventsOf(events(split), 'preference').map((e) => e.loss)).toEqual(eventsOf(events(whole), 'preference').map((e) => e.loss));
    const a = readSafetensors(new RunFiles(whole).checkpoint(6).adapterFile);
    const b = readSafetensors(new RunFiles(split).checkpoint(6).adapterFile);
    for (const k of Object.keys(a)) expect(maxAbsDiff(a[k].data, b[k].data), k).toBe(0);
  });

  it('ORPO (no reference) lowers its loss', async () => {
    const folder = dir();
    const out = join(folder, 'orpo');
    await runExperiment(config(out, pairsFolder(folder), { train_mode: 'orpo', iters: 8, learning_rate: 2e-2 }));
    const steps = eventsOf(events(out), 'preference');
    expect(steps[0].method).toBe('orpo');
    const val = eventsOf(events(out), 'val');
    expect(val.at(-1)!.valLoss).toBeLessThan(val[0].valLoss);
  });

  it('SFT data with train_mode dpo, no data, or a Hub dataset fails before the first step naming the file and line', async () => {
    const folder = dir();
    const sft = join(folder, 'sft.jsonl');
    writeFileSync(sft, '{"prompt": "a", "completion": "b"}\n');
    await expect(runExperiment(config(join(folder, 'r1'), sft))).rejects.toMatchObject({ code: 'E_DATA', message: expect.stringMatching(/sft\.jsonl:1: no "chosen" \(the preferred reply\)/) });
    await expect(runExperiment(config(join(folder, 'r2'), join(folder, 'none')))).rejects.toMatchObject({ code: 'E_DATA', message: expect.stringMatching(/none: data not found/) });
    await expect(runExperiment(config(join(folder, 'r3'), sft, { hf_dataset: [{ path: 'org/pairs' }] as TrainConfig['hf_dataset'] }))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/hf_dataset: train_mode dpo reads local preference pairs only/) });
    await expect(runExperiment(config(join(folder, 'r4'), sft, { data: null }))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/data: required for train_mode dpo/) });
  });
});
