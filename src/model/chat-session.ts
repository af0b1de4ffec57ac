/**
 * Chat sessions: a conversation whose keys and values stay in a prompt cache between turns, so
 * turn N prefills only the tokens after what the cache holds (the previous turns, the reply's
 * tokens included). Each turn renders the whole conversation with the chat template and checks
 * that its tokens begin with the cached ones; where a template renders an earlier turn
 * differently (e.g. drops a `<think>` block from history), the cache is used up to the last
 * common token and the rest is prefilled again (`trimmedTokens` says how many it dropped). So a
 * reply is always the one a fresh `generate()` on the whole conversation gives.
 */
import { MlxLabError } from '../core/errors.js';
import type { ChatMessage } from './chat.js';
import type { Generation } from './generation-types.js';
import type { GenerateOptions } from './generate-options.js';
import type { PromptCache } from './prompt-cache.js';
import { generationStream, type GenerationStream } from './stream.js';

/** Options of one turn (the session's options are the defaults). */
export type ChatTurnOptions = Omit<GenerateOptions, 'promptCache' | 'updatePromptCache' | 'chat'>;

export interface ChatSessionOptions extends ChatTurnOptions {
  /** Earlier turns to continue from (a system message, a conversation so far). */
  messages?: ChatMessage[];
  /**
   * Start from a copy of this cache (from `model.cachePrefix()` or `model.loadPromptCache()`):
   * its keys and values serve every leading token the conversation shares with it. The cache
   * itself is not changed, so one prefix serves many sessions.
   */
  prefix?: PromptCache;
}

/** A reply: the Generation, with how much of its prompt came from the session's cache. */
export interface ChatReply extends Generation {
  /** Leading prompt tokens whose keys and values came from the cache. */
  reusedTokens: number;
  /** Prompt tokens run through the model this turn (promptTokens - reusedTokens). */
  prefilledTokens: number;
  /** Cached tokens dropped because the rendered conversation differs from them there. */
  trimmedTokens: number;
}

/** What `send()` takes: a user message's text, a message, or several messages (e.g. tool results). */
export type ChatInput = string | ChatMessage | ChatMessage[];

/** What a session generates with (a Model). */
export interface ChatModel {
  generate(input: ChatMessage[], options: GenerateOptions): Promise<Generation>;
  stream(input: ChatMessage[], options: GenerateOptions): GenerationStream;
}

export class ChatSession {
  private history: ChatMessage[];
  private busy = false;
  private closed = false;

  /** Made by `model.chat()`; `cache` is the session's own (disposed with it). */
  constructor(
    private readonly model: ChatModel,
    private readonly cache: PromptCache,
    private readonly defaults: ChatTurnOptions,
    messages: ChatMessage[] = [],
  ) {
    this.history = [...messages];
  }

  /** The conversation so far: the turns sent and the replies (as `rawText`, call markup included). */
  get messages(): ChatMessage[] {
    return [...this.history];
  }

  /** The token ids whose keys and values the session's cache holds. */
  get cachedTokens(): number {
    return this.live().length;
  }

  /**
   * Append `input` to the conversation and generate the reply (which is appended too). One turn
   * at a time: a send() or stream() while another runs is refused with E_ARGUMENT. A failed or
   * aborted turn leaves the conversation as it was.
   */
  async send(input: ChatInput, options: ChatTurnOptions = {}): Promise<ChatReply> {
    const { conversation, opts } = this.begin(input, options);
    try {
      return this.finish(conversation, await this.model.generate(conversation, opts));
    } finally {
      this.busy = false;
    }
  }

  /** send() as a stream of text chunks; `result` is the ChatReply. The turn starts when the stream is first read. */
  stream(input: ChatInput, options: ChatTurnOptions = {}): GenerationStream {
    return generationStream(async (onChunk, signal) => {
      const { conversation, opts } = this.begin(input, { ...options, signal });
      try {
        const inner = this.model.stream(conversation, opts);
        for await (const chunk of inner) onChunk(chunk);
        return this.finish(conversation, await inner.result);
      } finally {
        this.busy = false;
      }
    }, options.signal);
  }

  /** Save the session's cache (mlx-lm's prompt-cache format; see PromptCache.save). */
  async save(path: string): Promise<void> {
    await this.live().save(path);
  }

  /** A copy of the session's cache, e.g. to start another session from this point (`prefix`). */
  snapshot(): PromptCache {
    return this.live().copy();
  }

  /** Frees the session's cache. Safe to call twice; the model's dispose() does it too. */
  dispose(): void {
    this.closed = true;
    this.cache.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get disposed(): boolean {
    return this.closed || this.cache.disposed;
  }

  private live(): PromptCache {
    if (this.disposed) {
      const why = this.closed ? '' : ' (its model was disposed)';
      throw new MlxLabError('E_DISPOSED', `this chat session has been disposed${why}`);
    }
    return this.cache;
  }

  private begin(input: ChatInput, options: ChatTurnOptions): { conversation: ChatMessage[]; opts: GenerateOptions } {
    this.live();
    if (this.busy) {
      throw new MlxLabError('E_ARGUMENT', 'this chat session is already generating a reply; await it before sending the next message (turns run one at a time)');
    }
    const added = typeof input === 'string' ? [{ role: 'user', content: input }] : Array.isArray(input) ? input : [input];
    if (added.length === 0) throw new MlxLabError('E_ARGUMENT', 'send() needs at least one message');
    for (const [i, m] of added.entries()) {
      if (!m || typeof m !== 'object' || typeof m.role !== 'string') throw new MlxLabError('E_ARGUMENT', `message ${i} must be an object with a role`);
    }
    this.busy = true;
    const conversation = [...this.history, ...added];
    return { conversation, opts: { ...this.defaults, ...options, chat: true, promptCache: this.cache, updatePromptCache: true } };
  }

  private finish(conversation: ChatMessage[], generation: Generation): ChatReply {
    this.history = [...conversation, { role: 'assistant', content: generation.rawText }];
    return {
      ...generation,
      reusedTokens: generation.reusedTokens ?? 0,
      prefilledTokens: generation.prefilledTokens ?? generation.promptTokens,
      trimmedTokens: generation.trimmedTokens ?? 0,
    };
  }
}
