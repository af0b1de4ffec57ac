/** The result types of a generation (shared by Model and its streams). */
import type { FinishReason } from '../core/native.js';

export type GenerationFinish = Exclude<FinishReason, 'cancelled'>;

export interface Generation {
  text: string;
  tokens: number[];
  finishReason: GenerationFinish;
  /** The stop string that ended the text, when finishReason is "stop". */
  stopString?: string;
  promptTokens: number;
  /** Leading prompt tokens shared by the whole batch and prefilled once for it (0 when none). */
  sharedPrefixTokens: number;
  generationTokens: number;
  /** Prompt (prefill) tokens per second and generation tokens per second, for the whole batch. */
  promptTps: number;
  generationTps: number;
  /** Peak MLX memory in bytes during the call. */
  peakMemory: number;
}

export interface StreamChunk {
  /** New text (may be empty while a possible stop string is held back). */
  text: string;
  token: number;
}
