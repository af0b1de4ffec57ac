/**
 * Mining preference pairs for DPO / ORPO: sample `samples` replies per case of a suite (or a
 * prompts JSONL with the same `expect` fields) from the model as it is (a base model, or one with
 * an adapter attached), in one batch per case (the rows share the prompt, so the batched
 * generator prefills it once), score every reply with the case's scorer, and pair a reply with
 * full score (chosen) with a failed one (rejected, labelled with its failure class). The records
 * are mlx-lm-lora's DPO format (prompt, chosen, rejected, system) plus `tools` when the case has
 * them (read by mlx-lab's loader; mlx-lm-lora ignores it), and `id`, `rejected_failure` and
 * `rejected_score`. Sampling seeds come from (seed, case index): the same run mines the same pairs.
 */
import { MlxLabError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';
import type { Model } from '../model/model.js';
import { caseStops } from '../eval/runner.js';
import { scoreCase, suiteMessages, type EvalCase, type EvalSuite } from '../eval/index.js';
import { mixSeed } from './rollout.js';

export interface MineOptions {
  /** Replies sampled per case (at least 2). */
  samples: number;
  /** Tokens per reply at most (the suite's or the case's own budget wins). */
  maxTokens: number;
  temperature: number;
  seed: number;
  /** Pairs per case at most (distinct chosen and rejected replies, each used once). */
  maxPairsPerPrompt: number;
  /** Called after each case. */
  onProgress?: (done: number, total: number, pairs: number) => void;
  signal?: AbortSignal;
}

/** One record of the pairs file. */
export interface MinedPair {
  id: string;
  system?: string;
  prompt: string;
  tools?: unknown[];
  chosen: string;
  rejected: string;
  rejected_failure: string;
  rejected_score: number;
}

export interface MineSummary {
  cases: number;
  samples: number;
  pairs: number;
  /** Cases whose replies all failed (no chosen) or all scored 1 (no rejected). */
  noChosen: number;
  noRejected: number;
  /** Cases mlx-lm-lora's format cannot hold (several turns, or a last turn not the user's). */
  skipped: string[];
  /** Failure classes of the rejected replies paired. */
  failures: Record<string, number>;
  /** Mean score of every reply sampled. */
  meanScore: number;
  seconds: number;
}

/** The system prompt and user turn of a case, or undefined when the format cannot hold it. */
function promptOf(c: EvalCase, suite: EvalSuite): { system?: string; prompt: string; tools?: unknown[] } | undefined {
  const p = suiteMessages(c, suite);
  const turns = p.messages.filter((m) => m.role !== 'system');
  const system = p.messages.find((m) => m.role === 'system');
  if (turns.length !== 1 || turns[0].role !== 'user' || typeof turns[0].content !== 'string') return undefined;
  if (system && typeof system.content !== 'string') return undefined;
  return { ...(system ? { system: system.content as string } : {}), prompt: turns[0].content, ...(p.tools ? { tools: p.tools as unknown[] } : {}) };
}

/** Up to `max` pairs of distinct full-score and failed replies, in sampling order. */
function pairUp(replies: { text: string; score: number; failure: string | null }[], max: number) {
  const seen = new Set<string>();
  const distinct = replies.filter((r) => !seen.has(r.text) && seen.add(r.text));
  const chosen = distinct.filter((r) => r.score >= 1);
  const rejected = distinct.filter((r) => r.score < 1);
  const n = Math.min(chosen.length, rejected.length, max);
  return { chosen: chosen.length, rejected: rejected.length, pairs: Array.from({ length: n }, (_, i) => [chosen[i], rejected[i]] as const) };
}

/** Sample, score and pair every case of the suite with the model as it is. */
export async function minePairs(model: Model, suite: EvalSuite, options: MineOptions): Promise<{ pairs: MinedPair[]; summary: MineSummary }> {
  if (!Number.isInteger(options.samples) || options.samples < 2) throw new MlxLabError('E_ARGUMENT', `samples must be an integer ≥ 2 (a pair needs a chosen and a rejected reply), got ${options.samples}`);
  const t0 = performance.now();
  const out: MinedPair[] = [];
  const summary: MineSummary = { cases: suite.cases.length, samples: 0, pairs: 0, noChosen: 0, noRejected: 0, skipped: [], failures: {}, meanScore: 0, seconds: 0 };
  let scoreSum = 0;
  for (const [i, c] of suite.cases.entries()) {
    if (options.signal?.aborted) throw new MlxLabError('E_ABORTED', 'pairs interrupted: nothing was written');
    const prompt = promptOf(c, suite);
    if (!prompt) {
      summary.skipped.push(c.id);
      options.onProgress?.(i + 1, suite.cases.length, out.length);
      continue;
    }
    const p = suiteMessages(c, suite);
    const tokens = model.encodePrompt(p.messages, { tools: p.tools, enableThinking: false });
    const gens = await model.generateBatch(
      Array.from({ length: options.samples }, () => ({ tokens })),
      { maxTokens: p.maxTokens ?? options.maxTokens, stop: caseStops(model, p.stop, {}), temperature: options.temperature, seed: mixSeed(options.seed, i), toolFormat: 'none' },
    );
    const replies = [];
    for (const g of gens) {
      const s = await scoreCase(c, g.rawText, g.finishReason, { stopString: g.stopString });
      replies.push({ text: g.rawText, score: s.score, failure: s.failure });
      scoreSum += s.score;
    }
    summary.samples += gens.length;
    const paired = pairUp(replies, options.maxPairsPerPrompt);
    if (paired.chosen === 0) summary.noChosen++;
    if (paired.rejected === 0) summary.noRejected++;
    for (const [good, bad] of paired.pairs) {
      const failure = bad.failure ?? 'partial';
      summary.failures[failure] = (summary.failures[failure] ?? 0) + 1;
      out.push({ id: c.id, ...prompt, chosen: good.text, rejected: bad.text, rejected_failure: failure, rejected_score: bad.score });
    }
    options.onProgress?.(i + 1, suite.cases.length, out.length);
  }
  summary.pairs = out.length;
  summary.meanScore = summary.samples > 0 ? scoreSum / summary.samples : 0;
  summary.seconds = (performance.now() - t0) / 1000;
  return { pairs: out, summary };
}

/** Write the pairs as JSONL, atomically (a killed run leaves no half-written file). */
export function writePairs(path: string, pairs: readonly MinedPair[]): void {
  writeFileAtomic(path, pairs.map((p) => `${JSON.stringify(p)}\n`).join(''));
}
