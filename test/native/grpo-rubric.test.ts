// The claim on the tiny chat model, as far as it holds here: a short SFT (80 steps) leaves
// the tiny suite's rubric score at 0.5; 10 GRPO steps from that checkpoint, rewarded by the rubric
// on prompts phrased unlike the suite's, raise the held-out suite's live format score (to 0.75 for
// this seed; 30 or 40 steps, at lr 1e-4 or 3e-4, did not reach the 0.9: 0.75 at best).
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/model/model.js';
import { runExperiment } from '../../src/run/experiment.js';
import { loadSuite } from '../../src/eval/index.js';
import type { TrainConfig } from '../../src/config/config.js';
import { SYSTEM, TINY_CHAT, TINY_SUITE, TOOLS, tinyToolSplits, toolRecords } from '../helpers/experiment.js';
import { tinyConfig, tmpDir } from '../helpers/train.js';
import { eventsOf, readMetrics } from '../../src/run/metrics.js';
import { RunFiles } from '../../src/core/run-files.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Suite cases (JSONL) from the generated training phrasings: the rubric's expectation of each tool. */
function promptSet(path: string, exclude: string[]): void {
  const records = toolRecords(24, 7, exclude);
  const lines = records.map((r, i) => {
    const messages = r.value.messages as { content: string }[];
    const tool = TOOLS[i % TOOLS.length].code;
    const name = tool.slice(0, tool.indexOf('('));
    const keywords = name === 'read_file' ? ['README.md'] : name === 'run_tests' ? ["'tests'"] : [];
    return JSON.stringify({ id: `g${i}`, prompt: messages[1].content, expect: { tool: name, keywords } });
  });
  writeFileSync(path, `${JSON.stringify({ suite: { name: 'grpo-prompts', system: SYSTEM, scorer: 'rubric' } })}\n${lines.join('\n')}\n`);
}

describe('SFT then GRPO on the tiny chat model', () => {
  // Minutes under load on 2 cores (80 full fine-tuning steps, then 10 GRPO steps of 24 completions).
  it('GRPO with the rubric as reward raises the held-out format score a short SFT left at 0.5', { timeout: 900_000 }, async () => {
    const out = tmpDir('mlxlab-grpo-rubric-');
    dirs.push(out);
    const suite = await loadSuite(TINY_SUITE);
    const heldOut = suite.cases.map((c) => c.prompt!);
    const model = await loadModel(TINY_CHAT);
    try {
      const base = (adapterPath: string, overrides: Partial<TrainConfig>): TrainConfig =>
        tinyConfig(adapterPath, {
          fine_tune_type: 'full',
          optimizer_config: { ...tinyConfig(adapterPath).optimizer_config, adam: { bias_correction: true } },
          steps_per_report: 10,
          seed: 1,
          eval: { suite: TINY_SUITE, every: overrides.iters, max_tokens: 100, stop: [], at_start: false },
          ...overrides,
        });
      const sft = await runExperiment(
        base(join(out, 'sft'), { batch_size: 8, iters: 80, learning_rate: 2e-3, save_every: 80, steps_per_eval: 1000, val_batches: 2, selection: { metric: 'format_score', rule: 'last' } }),
        { model, data: tinyToolSplits(model.tokenizer, heldOut, 120, 16) },
      );
      const sftScore = sft.evals.at(-1)!.score;
      const prompts = join(out, 'prompts.jsonl');
      promptSet(prompts, heldOut);
      const grpo = await runExperiment(
        base(join(out, 'grpo'), {
          model: TINY_CHAT,
          data: prompts,
          train_mode: 'grpo',
          beta: 0,
          group_size: 8,
          batch_size: 3,
          max_completion_length: 100,
          temperature: 0.7,
          iters: 10,
          learning_rate: 1e-4,
          save_every: 10,
          resume_adapter_file: sft.adapterFile,
        }),
        { model },
      );
      const scores = grpo.evals.map((e) => e.score);
      const rewards = eventsOf(readMetrics(new RunFiles(grpo.adapterPath).metrics).events, 'grpo').map((e) => e.rewardMean.toFixed(2));
      console.log(`GRPO mean rewards: ${rewards.join(' ')}`);
      console.log(`SFT (80 steps) format score ${sftScore}; GRPO format score after 10 steps: ${scores.join(' ')}`);
      expect(sftScore).toBe(0.5);
      expect(scores).toEqual([0.75]);
    } finally {
      model.dispose();
    }
  });
});
