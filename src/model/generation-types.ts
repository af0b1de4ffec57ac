/** The result types of a generation (shared by Model and its streams). */
import type { FinishReason } from '../core/native.js';
import type { CallError, ParsedCall } from './tool-calls/types.js';

export type GenerationFinish = Exclude<FinishReason, 'cancelled'>;

export interface Generation {
  /** The reply without its tool-call markup, trimmed (rawText as is when it holds no call markup). */
  text: string;
  /** The reply as decoded (stop string excluded), call markup included. */
  rawText: string;
  /** The tool calls of the reply, in the syntax of GenerateOptions.toolFormat. */
  toolCalls: ParsedCall[];
  /** Call markup that did not parse (broken JSON, unclosed tags): no call is made of it. */
  toolCallErrors: CallError[];
  tokens: number[];
  finishReason: GenerationFinish;
  /** The stop string that ended the text, when finishReason is "stop". */
  stopString?: string;
  /** Why the grammar could go no further, when finishReason is "grammar". */
  grammarError?: string;
  promptTokens: number;
  /** Leading prompt tokens shared by the whole batch and prefilled once for it (0 when none). */
  sharedPrefixTokens: number;
  generationTokens: number;
  /** Prompt (prefill) tokens per second (with a prompt cache: of the tokens prefilled) and generation tokens per second, for the whole batch. */
  promptTps: number;
  generationTps: number;
  /** Peak MLX memory in bytes during the call. */
  peakMemory: number;
  /** With a prompt cache (GenerateOptions.promptCache, chat sessions): leading prompt tokens whose keys and values came from it. */
  reusedTokens?: number;
  /** With a prompt cache: prompt tokens not taken from it (promptTokens - reusedTokens; in a batch, shared-prefix tokens count for every prompt). */
  prefilledTokens?: number;
  /** With a prompt cache: the tokens it held past the reused ones, not used because the prompt differs there. */
  trimmedTokens?: number;
  /** With GenerateOptions.logprobs: one record per token of `tokens`. */
  logprobs?: GeneratedTokenLogprob[];
}

export interface StreamChunk {
  /** New text (may be empty while a possible stop string is held back). */
  text: string;
  token: number;
}

/** A token and its log-probability (natural log). */
export interface TokenLogprob {
  id: number;
  /** The token decoded alone (a piece of a multi-byte character decodes to U+FFFD). */
  text: string;
  logprob: number;
}

/** One generated token with its log-probability and the most likely alternatives (most likely first). */
export interface GeneratedTokenLogprob extends TokenLogprob {
  top: TokenLogprob[];
}
