/**
 * Consistency lint: compare an eval suite with the training data BEFORE training, and warn where
 * the eval asks the model for something the training never showed it. The reference run lost
 * its eval to exactly this: the eval's system prompt named the tools `write_file_direct`,
 * `run_command_direct`, … while every training example called `write_file`, `run_command`.
 *
 * What is checked (each a warning with a code, a message and the case(s) concerned):
 * - `unknown_tool`: a tool name the suite expects (`expect.tool`, the rubric's wrapper) or gives in
 *   its tool schemas that never appears in the training data — neither as an assistant tool call
 *   (structured `tool_calls` or a `<tool_call>` block, Hermes or Qwen3 XML), nor as a function
 *   called inside a call's `code` argument, nor in a record's tool schemas. With a "did you mean"
 *   when a training tool name is close (same name with a suffix or prefix such as `_direct`,
 *   another case or separator, or a small edit distance).
 * - `system_prompt_mismatch`: a system prompt of the suite that equals no system prompt of the
 *   training data (the closest one is shown with the first difference and the words found in only
 *   one of them), a suite system prompt where the data has none, or none where the data has one.
 * - `tool_schema_mismatch`: the set of tool schema names the eval passes to the chat template
 *   differs from every set in the training records (or one side has schemas and the other none).
 * - `thinking_mismatch`: training replies that think (a `<think>` block or `reasoning_content`)
 *   while the eval counts thinking as a failure; or, given the chat template, an eval prompt that
 *   is not what training showed the model before its reply because training renders with another
 *   `enable_thinking` (mlx-lm: on when the vocabulary has think tokens) than the eval (off): e.g.
 *   a template whose generation prompt opens an empty think block only with thinking off.
 * - `template_mismatch`: the same, with equal `enable_thinking` (the template's generation
 *   prompt differs from how it renders an assistant turn).
 * - `prompt_leak`: a case whose user prompt appears in the training data verbatim (or equal up to
 *   case, punctuation and spacing; optionally a near-duplicate), so the eval measures recall.
 *
 * The lint reads the raw JSONL records (tokenizing is not needed): `readTrainingRecords(path)`
 * reads `train.jsonl` of a data folder (or a single JSONL file). What the data holds is gathered
 * in lint/profile.ts, the rules are in lint/rules-data.ts and lint/rules-prompt.ts, the message
 * helpers in lint/text.ts.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonl } from '../data/jsonl.js';
import { DEFAULT_FEATURES, type FeatureKeys } from '../data/formats.js';
import { MlxLabError } from '../core/errors.js';
import { suiteMessages, type EvalSuite } from './suite.js';
import { profileData } from './lint/profile.js';
import { schemaSetRule, systemPromptRule, toolNameRule } from './lint/rules-data.js';
import { leakRule, templateRule, thinkingRule } from './lint/rules-prompt.js';
import type { LintInput } from './lint/input.js';
import type { LintOptions, LintWarning, TrainingRecords } from './lint/types.js';

export { LINT_CODES, type LintCode, type LintOptions, type LintWarning, type TrainingRecords } from './lint/types.js';
export { firstDifference, suggestToolName } from './lint/text.js';

/** Read the training records of a data folder (train.jsonl) or of one JSONL file. */
export function readTrainingRecords(dataPath: string): TrainingRecords {
  let file = dataPath;
  if (existsSync(dataPath) && statSync(dataPath).isDirectory()) {
    file = join(dataPath, 'train.jsonl');
    if (!existsSync(file)) throw new MlxLabError('E_DATA', `${dataPath}: no train.jsonl (a data folder holds train.jsonl, and optionally valid.jsonl and test.jsonl)`);
  }
  return { source: file, records: readJsonl(file) };
}

/** The rules, in the order their warnings are reported. */
const RULES: readonly ((input: LintInput) => LintWarning[])[] = [toolNameRule, systemPromptRule, schemaSetRule, thinkingRule, templateRule, leakRule];

/**
 * Compare a suite with the training data; returns the warnings (none when they agree). `data`
 * is a data folder or JSONL file path, or records already read.
 */
export function lintSuiteAgainstData(suite: EvalSuite, data: TrainingRecords | string, options: LintOptions = {}): LintWarning[] {
  const records = typeof data === 'string' ? readTrainingRecords(data) : data;
  const features: FeatureKeys = { ...DEFAULT_FEATURES, ...options.features };
  const input: LintInput = { suite, profile: profileData(records, features), prompts: suite.cases.map((c) => ({ c, p: suiteMessages(c, suite) })), options };
  return RULES.flatMap((rule) => rule(input));
}

/** Warnings as text, one block per warning ("warning [code] message"). */
export function formatLintWarnings(warnings: readonly LintWarning[]): string {
  return warnings.map((w) => `warning [${w.code}] ${w.message}`).join('\n');
}
