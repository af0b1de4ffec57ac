/**
 * A suite scored twice on the same model and settings: free, then under the grammars its
 * scorers imply. The free score is what the model does by itself; the constrained score is what
 * it does once the format is forced, so the gap is the part of the format score a grammar would
 * give for free, and what stays below 1 under the grammar (wrong tool, missing keyword, a reply
 * cut by the budget) is what the format cannot fix. Per case both scores and failure classes;
 * per class how many failures each run had, and how many the grammar removed.
 */
import type { Model } from '../model/model.js';
import type { EvalSuite } from './suite-types.js';
import { FAILURE_CLASSES, type FailureClass } from './scorers.js';
import { evalConstraints, runEval, type CaseResult, type EvalOptions, type EvalResult } from './runner.js';
import type { ConstraintKind } from './constraint.js';

export interface CaseComparison {
  id: string;
  category: string;
  /** The format the constrained run held the reply to (null: the case ran free both times). */
  constraint: ConstraintKind | null;
  unconstrained: { score: number; failure: FailureClass | null };
  constrained: { score: number; failure: FailureClass | null; finishReason: CaseResult['finishReason'] };
}

export interface ConstraintComparison {
  suite: string;
  unconstrained: EvalResult;
  constrained: EvalResult;
  /** Constrained score minus free score. */
  gain: number;
  cases: CaseComparison[];
  /** Per failure class that occurred in either run: its count free and constrained. */
  failures: Partial<Record<FailureClass, { unconstrained: number; constrained: number }>>;
  /** Per failure class with fewer cases under the grammar: how many fewer. */
  removed: Partial<Record<FailureClass, number>>;
}

/** Run the suite free and then constrained (grammars checked before either run) and set the two side by side. */
export async function compareConstrained(model: Model, suite: EvalSuite, options: Omit<EvalOptions, 'constrained'> = {}): Promise<ConstraintComparison> {
  // A bad grammar is reported before the free run spends any time.
  evalConstraints(model, suite, { ...options, constrained: true });
  const free = await runEval(model, suite, { ...options, constrained: false });
  const held = await runEval(model, suite, { ...options, constrained: true });
  return compareResults(free, held);
}

/** Two results of one suite (free, constrained) side by side. */
export function compareResults(free: EvalResult, held: EvalResult): ConstraintComparison {
  const heldById = new Map(held.cases.map((c) => [c.id, c]));
  const cases = free.cases.map((f): CaseComparison => {
    const h = heldById.get(f.id);
    if (!h) throw new Error(`compareResults: case "${f.id}" is missing from the constrained result`);
    return {
      id: f.id,
      category: f.category,
      constraint: h.constraint ?? null,
      unconstrained: { score: f.score, failure: f.failure },
      constrained: { score: h.score, failure: h.failure, finishReason: h.finishReason },
    };
  });
  const failures: ConstraintComparison['failures'] = {};
  const removed: ConstraintComparison['removed'] = {};
  for (const k of FAILURE_CLASSES) {
    const before = free.failures[k] ?? 0;
    const after = held.failures[k] ?? 0;
    if (before > 0 || after > 0) failures[k] = { unconstrained: before, constrained: after };
    if (after < before) removed[k] = before - after;
  }
  return { suite: free.suite, unconstrained: free, constrained: held, gain: held.score - free.score, cases, failures, removed };
}
