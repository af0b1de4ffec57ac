/** The lint's warning codes, warnings, options and inputs. */
import type { ChatTemplate } from '../../model/chat.js';
import type { JsonlRecord } from '../../data/jsonl.js';
import type { FeatureKeys } from '../../data/formats.js';

export const LINT_CODES = ['unknown_tool', 'system_prompt_mismatch', 'tool_schema_mismatch', 'thinking_mismatch', 'template_mismatch', 'prompt_leak'] as const;
export type LintCode = (typeof LINT_CODES)[number];

export interface LintWarning {
  code: LintCode;
  /** One line (or a few) a person can act on. */
  message: string;
  /** The case concerned (the first one, when the warning covers several). */
  caseId?: string;
  /** Every case concerned, when the warning covers several. */
  caseIds?: string[];
  /** unknown_tool: the tool name. */
  tool?: string;
  /** unknown_tool: the training tool name it probably should be. */
  suggestion?: string;
}

/** The training records to compare with: raw JSONL objects (with line numbers when known). */
export interface TrainingRecords {
  /** A file path or name, for messages. */
  source: string;
  records: readonly (JsonlRecord | Record<string, unknown>)[];
}

export interface LintOptions {
  /** Record keys (the config's prompt_feature, completion_feature, chat_feature, text_feature). */
  features?: Partial<FeatureKeys>;
  /** The model's chat template: enables the rendering check of enable_thinking. */
  template?: ChatTemplate;
  /** enable_thinking of the training render (mlx-lm: whether the vocabulary has think tokens). */
  trainThinking?: boolean;
  /** enable_thinking of the eval render (runEval's default: false). */
  evalThinking?: boolean;
  /** Also report prompts that are near-duplicates of training prompts (edit distance), not only equal ones. */
  nearDuplicates?: boolean;
  /** At most this many prompt_leak warnings (the rest are summed up in the last one). Default 10. */
  maxLeakWarnings?: number;
}
