/**
 * GRPO's rewards: the eval suite's scorers, by name (mlx-lm-lora's `reward_functions`), weighted
 * (`reward_weights`), plus a user scorer file (`reward_functions_file`). A scorer that throws
 * gives that reward 0 and its error is recorded (scoreCase never throws); a prompt set whose
 * cases lack an `expect` field a scorer reads fails before the first step.
 */
import { basename, extname } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import type { TrainConfig } from '../config/config.js';
import { hasScorer, loadScorerFile, scoreCase, scorerNames, type EvalCase, type EvalSuite, type Expectation } from '../eval/index.js';

/** The name that stands for "each case's own scorer" when reward_functions is null. */
export const CASE_SCORER = 'case_scorer';

/** The expectation field each built-in scorer cannot do without. */
const NEEDS: Record<string, keyof Expectation> = { rubric: 'tool', execute_code: 'tool', json_schema: 'json_schema', regex: 'regex', exact: 'exact' };

/** The rewards of a run: scorer names (CASE_SCORER: the case's own) and their weights. */
export interface Rewards {
  names: string[];
  weights: number[];
}

/** One completion's rewards: the weighted sum, each scorer's score, and the scorer errors. */
export interface Reward {
  total: number;
  scores: number[];
  errors: string[];
}

/** The reward functions of a config (loading its reward_functions_file), checked against the suite's scorers. */
export async function configuredRewards(config: TrainConfig): Promise<Rewards> {
  const names = config.reward_functions ? [...config.reward_functions] : [CASE_SCORER];
  if (config.reward_functions_file) {
    const file = config.reward_functions_file;
    await loadScorerFile(file).catch((err: unknown) => {
      throw new MlxLabError('E_CONFIG', `reward_functions_file: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    names.push(basename(file, extname(file)));
  }
  for (const [i, name] of names.entries()) {
    if (name !== CASE_SCORER && !hasScorer(name)) {
      throw new MlxLabError('E_CONFIG', `reward_functions[${i}]: no scorer named "${name}" (known: ${scorerNames().join(', ')}; a suite's own scorer files are known once the suite is loaded)`);
    }
  }
  const weights = config.reward_weights ?? names.map(() => 1);
  return { names, weights };
}

/** The scorer a reward uses on a case. */
function scorerFor(name: string, c: EvalCase): string {
  return name === CASE_SCORER ? c.scorer : name;
}

/** Every case must carry what each reward's scorer reads; one error listing the first few that do not. */
export function checkExpectations(suite: EvalSuite, rewards: Rewards): void {
  const problems: string[] = [];
  for (const c of suite.cases) {
    for (const name of rewards.names) {
      const scorer = scorerFor(name, c);
      const field = NEEDS[scorer];
      if (field && c.expect[field] === undefined) {
        problems.push(`${suite.source}${c.line ? `:${c.line}` : ''}: case "${c.id}" has no expect.${field}, which the ${scorer} reward needs`);
      }
    }
  }
  if (problems.length === 0) return;
  const more = problems.length > 5 ? `\n… and ${problems.length - 5} more` : '';
  throw new MlxLabError('E_SUITE', `${problems.slice(0, 5).join('\n')}${more}`);
}

/** Score one completion with every reward; a failing scorer gives 0 for it and its error. */
export async function reward(rewards: Rewards, c: EvalCase, text: string, finishReason: string, stopString?: string): Promise<Reward> {
  const scores: number[] = [];
  const errors: string[] = [];
  let total = 0;
  for (const [i, name] of rewards.names.entries()) {
    const s = await scoreCase({ ...c, scorer: scorerFor(name, c) }, text, finishReason, { stopString });
    if (s.failure === 'scorer_error') errors.push(`case "${c.id}": ${s.detail}`);
    scores.push(s.score);
    total += rewards.weights[i] * s.score;
  }
  return { total, scores, errors };
}
