/** The options of a generation (generate, stream, generateBatch, chat sessions). */
import type { SamplingOptions } from '../core/native.js';
import type { ChatOptions } from './chat.js';
import type { GrammarOption } from './grammar.js';
import type { PromptCache } from './prompt-cache.js';
import type { SamplingExtras } from './sampling-options.js';
import type { ToolFormat } from './tool-calls/index.js';

export interface GenerateOptions extends SamplingOptions, SamplingExtras, ChatOptions {
  /** Tokens to generate at most (default 256). */
  maxTokens?: number;
  /** Stop strings, matched on the decoded text across token boundaries; not part of the text. */
  stop?: string[];
  /** A system prompt put before string prompts or messages without one. */
  system?: string;
  /** Apply the chat template to a string prompt (default: when the model has a template). */
  chat?: boolean;
  /** Cancels between tokens; the promise rejects with E_ABORTED. */
  signal?: AbortSignal;
  /**
   * Batches: prefill the prompts' common leading tokens (system prompt, tools) once and copy
   * that cache to every row. Default true; the tokens generated are the same either way.
   */
  sharePrefix?: boolean;
  /**
   * How tool calls are read from the reply into `toolCalls`: `auto` (default) the syntax the
   * chat template teaches (`<tool_call>` blocks when it shows none), a named syntax, or `none`.
   */
  toolFormat?: ToolFormat;
  /**
   * Constrained decoding: the reply follows this grammar (tokens it forbids are masked before
   * sampling; the reply ends when it is complete). generateBatch also takes a list, one grammar
   * (or null) per prompt. E_GRAMMAR before any token for an invalid one.
   */
  grammar?: GrammarOption | (GrammarOption | null)[];
  /**
   * Start from this prompt cache (`cachePrefix()`, `loadPromptCache()`, a session's
   * `snapshot()`): the leading prompt tokens it holds are not prefilled again (where the prompt
   * differs from them, up to the last common token). The cache is left as it was, unless
   * `updatePromptCache`. The tokens generated are the same as without it.
   */
  promptCache?: PromptCache;
  /**
   * One prompt: leave the prompt and the reply's tokens in `promptCache` (as a chat session
   * does), instead of leaving it unchanged.
   */
  updatePromptCache?: boolean;
}
