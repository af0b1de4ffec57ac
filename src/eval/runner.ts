/**
 * Running a suite on a model in this process: every case's prompt is encoded with the model's
 * chat template (tools included), the cases are decoded together in batches (greedy by default),
 * each reply is scored, and the result carries per-case texts, parsed calls, scores and failure
 * classes plus the overall score with its Wilson 95% interval. The model may have a live adapter
 * attached: this is what runs during training, with no copy, no server and no port.
 *
 * Constrained (`constrained: true`): each case is decoded under the grammar its scorer implies
 * (constraint.ts; rows of one batch carry their own grammars), all compiled before the first
 * token. A case whose scorer has no format runs unconstrained and says so (`constraint: null`).
 * A reply whose grammar dead-ends ends with finish reason "grammar" and is scored as its scorer
 * scores that text (a call cut short is invalid_json / invalid_xml, as any unclosed call is).
 */
import { MlxLabError } from '../core/errors.js';
import type { Model, Generation } from '../model/model.js';
import type { GrammarOption } from '../model/grammar.js';
import type { EvalSuite, EvalCase } from './suite.js';
import { suiteMessages } from './suite.js';
import { scoreCase, type FailureClass } from './scorers.js';
import type { ParsedCall } from './parse.js';
import { summarizeScores, type ScoreSummary } from './stats.js';
import { checkConstraints, suiteConstraints, type CaseConstraint, type ConstraintKind } from './constraint.js';

export interface EvalOptions {
  /** Default token budget (a case's or the suite's max_tokens wins). Default 256. */
  maxTokens?: number;
  /** Extra stop strings for every case. */
  stop?: string[];
  /** Cases decoded together at most (default: all of a group at once). */
  batchSize?: number;
  /** Let thinking templates think (default false: `<think>` becomes a stop string). */
  enableThinking?: boolean;
  /** Decode each case under the grammar its scorer implies (see constraint.ts). Default false. */
  constrained?: boolean;
  temperature?: number;
  seed?: number;
  signal?: AbortSignal;
  /** Called as each case is scored. */
  onCase?: (result: CaseResult) => void;
}

export interface CaseResult {
  id: string;
  category: string;
  score: number;
  failure: FailureClass | null;
  detail: string;
  parsed: ParsedCall[] | null;
  /** The raw reply (without a stop string that ended it). */
  text: string;
  finishReason: Generation['finishReason'];
  stopString?: string;
  /** Constrained evals: the format the reply was held to (null: the case ran unconstrained). */
  constraint?: ConstraintKind | null;
  /** Why the grammar could go no further, when finishReason is "grammar". */
  grammarError?: string;
  promptTokens: number;
  generationTokens: number;
  weight: number;
}

export interface EvalResult extends ScoreSummary {
  suite: string;
  /** Alias of `mean`: the weighted mean score in [0, 1]. */
  score: number;
  cases: CaseResult[];
  /** Whether the cases were decoded under their grammars (constrained: true). */
  constrained?: boolean;
  seconds: number;
  /** Generated tokens per second over the whole eval. */
  tokensPerSec: number;
  promptTokens: number;
  generationTokens: number;
}

/** The stop strings of a case: its own (or the suite's), the caller's, and `<think>` when the template can think but thinking is off. */
export function caseStops(model: Model, stop: readonly string[] | undefined, options: EvalOptions): string[] {
  const stops = new Set([...(stop ?? []), ...(options.stop ?? [])]);
  if (!options.enableThinking && model.template?.templateCanThink()) stops.add('<think>');
  return [...stops];
}

interface Prepared {
  c: EvalCase;
  tokens: number[];
  maxTokens: number;
  stop: string[];
  constraint?: CaseConstraint;
}

/**
 * The grammars of a constrained eval, checked by the engine before any generation (E_GRAMMAR
 * naming the suite file and case); undefined when the eval is not constrained.
 */
export function evalConstraints(model: Model, suite: EvalSuite, options: Pick<EvalOptions, 'constrained' | 'enableThinking'>): CaseConstraint[] | undefined {
  if (!options.constrained) return undefined;
  if (options.enableThinking) {
    throw new MlxLabError('E_ARGUMENT', `${suite.source}: a constrained eval cannot let the model think: the grammars hold the reply to its format from the first token (drop enableThinking / --enable-thinking)`);
  }
  const constraints = suiteConstraints(suite);
  checkConstraints(model.tokenizer, suite, constraints);
  return constraints;
}

/** Run every case of a suite on the model (greedy unless a temperature is given). */
export async function runEval(model: Model, suite: EvalSuite, options: EvalOptions = {}): Promise<EvalResult> {
  const started = performance.now();
  const constraints = evalConstraints(model, suite, options);
  const prepared: Prepared[] = suite.cases.map((c, i) => {
    const p = suiteMessages(c, suite);
    const tokens = model.encodePrompt(p.messages, { tools: p.tools, enableThinking: options.enableThinking ?? false });
    return { c, tokens, maxTokens: p.maxTokens ?? options.maxTokens ?? 256, stop: caseStops(model, p.stop, options), constraint: constraints?.[i] };
  });
  // Cases with the same budget and stops decode as one batch.
  const groups = new Map<string, Prepared[]>();
  for (const p of prepared) {
    const key = JSON.stringify([p.maxTokens, [...p.stop].sort()]);
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const byId = new Map<string, CaseResult>();
  let promptTokens = 0;
  let generationTokens = 0;
  let generateSeconds = 0;
  for (const group of groups.values()) {
    const size = options.batchSize ?? group.length;
    for (let i = 0; i < group.length; i += size) {
      const chunk = group.slice(i, i + size);
      const t0 = performance.now();
      // toolFormat none: the scorers parse the reply as generated, with their own rules.
      // One grammar per row (null: that row is free); no list at all when the eval is free.
      const grammar: (GrammarOption | null)[] | undefined = constraints ? chunk.map((p) => p.constraint?.grammar ?? null) : undefined;
      const gens = await model.generateBatch(
        chunk.map((p) => ({ tokens: p.tokens })),
        { maxTokens: chunk[0].maxTokens, stop: chunk[0].stop, temperature: options.temperature, seed: options.seed, signal: options.signal, toolFormat: 'none', grammar },
      );
      generateSeconds += (performance.now() - t0) / 1000;
      for (let k = 0; k < chunk.length; k++) {
        const r = await caseResult(chunk[k], gens[k], constraints !== undefined);
        promptTokens += r.promptTokens;
        generationTokens += r.generationTokens;
        byId.set(r.id, r);
        options.onCase?.(r);
      }
    }
  }
  const cases = suite.cases.map((c) => byId.get(c.id)!);
  const summary = summarizeScores(cases);
  return {
    ...summary,
    suite: suite.name,
    score: summary.mean,
    cases,
    ...(constraints && { constrained: true }),
    seconds: (performance.now() - started) / 1000,
    tokensPerSec: generateSeconds > 0 ? generationTokens / generateSeconds : 0,
    promptTokens,
    generationTokens,
  };
}

/** Score one generated reply; a constrained eval also records the case's grammar and a dead end. */
async function caseResult(p: Prepared, g: Generation, constrained: boolean): Promise<CaseResult> {
  const { c } = p;
  const s = await scoreCase(c, g.rawText, g.finishReason, { stopString: g.stopString });
  return {
    id: c.id,
    category: c.category,
    score: s.score,
    failure: s.failure,
    detail: s.detail,
    parsed: s.parsed,
    text: g.rawText,
    finishReason: g.finishReason,
    stopString: g.stopString,
    ...(constrained && { constraint: p.constraint?.kind ?? null }),
    ...(g.grammarError !== undefined && { grammarError: g.grammarError }),
    promptTokens: g.promptTokens,
    generationTokens: g.generationTokens,
    weight: c.weight,
  };
}
