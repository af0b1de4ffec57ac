/**
 * The GRPO rollout over a suite's cases: each iteration takes the next batch_size prompts (a
 * seeded order, reshuffled each pass), samples group_size completions of each from the live
 * adapter in one batch per group (the rows share the whole prompt, so the batched generator
 * prefills it once), scores them with the rewards, and normalises the rewards within each group.
 * Sampling seeds come from (seed, iteration, group), so a resumed run samples what the
 * uninterrupted one would have.
 */
import { native, type NativeGrpoBatch } from '../core/native.js';
import type { TrainConfig } from '../config/config.js';
import type { Generation, Model } from '../model/model.js';
import { caseStops } from '../eval/runner.js';
import { suiteMessages, type EvalCase, type EvalSuite } from '../eval/index.js';
import type { GrpoRollout, RolloutBatch, RolloutStats } from '../train/grpo.js';
import { reward, type Reward, type Rewards } from './rewards.js';

/** A 32-bit seed from several integers (FNV-1a over their bytes). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    for (let b = 0; b < 4; b++) {
      h ^= (p >>> (8 * b)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h >>> 0;
}

/** 0..n-1 in an order fixed by `seed` (Fisher-Yates with a mulberry32 stream). */
export function seededOrder(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** One prompt's group: its case, prompt tokens, completions and their rewards. */
interface Group {
  c: EvalCase;
  prompt: number[];
  gens: Generation[];
  rewards: Reward[];
}

/** Rows of prompt + completion, zero padded, with the group-normalised advantages. */
function assemble(groups: Group[], groupSize: number): NativeGrpoBatch {
  const rows = groups.flatMap((g) => g.gens.map((gen) => ({ prompt: g.prompt, completion: gen.tokens })));
  const width = Math.max(2, ...rows.map((r) => r.prompt.length + r.completion.length));
  const tokens = new Int32Array(rows.length * width);
  rows.forEach((r, i) => {
    tokens.set(r.prompt, i * width);
    tokens.set(r.completion, i * width + r.prompt.length);
  });
  const totals = groups.flatMap((g) => g.rewards.map((r) => r.total));
  return {
    tokens,
    batch: rows.length,
    promptLengths: rows.map((r) => r.prompt.length),
    completionLengths: rows.map((r) => r.completion.length),
    advantages: native().NativeTrainer.grpoAdvantages(totals, groupSize),
  };
}

/** What the groups measured: reward mean/std, per-reward means, zero-advantage groups, scorer errors. */
function measure(groups: Group[], names: string[], seconds: number): RolloutStats {
  const all = groups.flatMap((g) => g.rewards);
  const totals = all.map((r) => r.total);
  const mean = totals.reduce((a, b) => a + b, 0) / totals.length;
  const std = Math.sqrt(totals.reduce((a, b) => a + (b - mean) ** 2, 0) / totals.length);
  const rewards: Record<string, number> = {};
  names.forEach((name, k) => {
    rewards[name] = all.reduce((a, r) => a + r.scores[k], 0) / all.length;
  });
  const errors = all.flatMap((r) => r.errors);
  return {
    rewardMean: mean,
    rewardStd: std,
    rewards,
    groups: groups.length,
    zeroAdvantageGroups: groups.filter((g) => g.rewards.every((r) => r.total === g.rewards[0].total)).length,
    scorerErrors: all.filter((r) => r.errors.length > 0).length,
    errors: errors.slice(0, 5),
    completionTokens: groups.reduce((a, g) => a + g.gens.reduce((b, gen) => b + gen.tokens.length, 0), 0),
    sharedPrefixTokens: groups.reduce((a, g) => a + (g.gens[0]?.sharedPrefixTokens ?? 0), 0),
    seconds,
  };
}

/** GRPO prompts from a suite's cases, sampled and scored as described above. */
export class SuiteRollout implements GrpoRollout {
  readonly source: string;
  readonly prompts: number;
  private offset = 0;

  constructor(
    private readonly suite: EvalSuite,
    private readonly rewards: Rewards,
    private readonly config: TrainConfig,
  ) {
    this.source = suite.source;
    this.prompts = suite.cases.length;
  }

  state(): unknown {
    return { offset: this.offset };
  }

  restore(state: unknown): void {
    const offset = (state as { offset?: unknown } | null)?.offset;
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw new Error(`not a GRPO prompt position: ${JSON.stringify(state)}`);
    this.offset = offset;
  }

  /** The cases of the next batch (batch_size of them, or every case when there are fewer). */
  private take(): EvalCase[] {
    const n = this.prompts;
    const count = Math.min(this.config.batch_size, n);
    const out: EvalCase[] = [];
    for (let k = 0; k < count; k++) {
      const at = this.offset + k;
      out.push(this.suite.cases[seededOrder(n, mixSeed(this.config.seed, Math.floor(at / n)))[at % n]]);
    }
    this.offset += count;
    return out;
  }

  async next(it: number, model: Model): Promise<RolloutBatch> {
    const t0 = performance.now();
    const { group_size: G, max_completion_length: maxTokens, temperature } = this.config;
    const groups: Group[] = [];
    for (const [g, c] of this.take().entries()) {
      const p = suiteMessages(c, this.suite);
      const prompt = model.encodePrompt(p.messages, { tools: p.tools, enableThinking: false });
      const stop = caseStops(model, p.stop, {});
      const seed = mixSeed(this.config.seed, it, g);
      const gens = await model.generateBatch(
        Array.from({ length: G }, () => ({ tokens: prompt })),
        { maxTokens, stop, temperature, seed, toolFormat: 'none' },
      );
      const rewards = [];
      for (const gen of gens) rewards.push(await reward(this.rewards, c, gen.rawText, gen.finishReason, gen.stopString));
      groups.push({ c, prompt, gens, rewards });
    }
    const seconds = (performance.now() - t0) / 1000;
    return { batch: assemble(groups, G), stats: measure(groups, this.rewards.names, seconds) };
  }
}
