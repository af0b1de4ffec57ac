/** A validated eval suite and its cases, as eval/suite.ts builds them and the scorers read them. */
import type { ChatMessage, ToolSchema } from '../model/chat.js';
import type { Expectation } from './suite-schema.js';

export type { Expectation } from './suite-schema.js';

export interface EvalCase {
  id: string;
  category: string;
  /** 0-based position in the suite. */
  index: number;
  /** 1-based line of the case in its file, when known. */
  line?: number;
  /** The chat as given (without the system prompt unless it had one). */
  messages?: ChatMessage[];
  prompt?: string;
  /** The system prompt in effect (the case's, else the suite's). */
  system?: string;
  /** The tools in effect (the case's, else the suite's). */
  tools?: ToolSchema[];
  expect: Expectation;
  /** The scorer in effect (the case's, else the suite's, else inferred). */
  scorer: string;
  weight: number;
  /** max_tokens in effect. */
  maxTokens?: number;
  /** Stop strings in effect. */
  stop?: string[];
  notes?: string;
}

export interface EvalSuite {
  name: string;
  description?: string;
  /** Where it came from (the path, or the name given to parseSuite). */
  source: string;
  format: 'yaml' | 'jsonl';
  system?: string;
  tools?: ToolSchema[];
  maxTokens?: number;
  stop?: string[];
  scorer?: string;
  /** User scorer files: name → absolute path (loaded by loadSuite / loadSuiteScorers). */
  scorers: Record<string, string>;
  cases: EvalCase[];
}

/** The chat, tools and generation settings of one case. */
export interface CasePrompt {
  messages: ChatMessage[];
  tools?: ToolSchema[];
  maxTokens?: number;
  stop?: string[];
}
