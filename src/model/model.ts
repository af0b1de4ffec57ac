/**
 * A loaded model: native weights plus the tokenizer and chat template, with generation
 * (single, streaming, batched). All MLX work runs on the addon's engine thread; this class
 * only encodes prompts, decodes tokens and matches stop strings.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MlxLabError, warn } from '../core/errors.js';
import { readModelFolder, type ModelConfig } from './config.js';
import { native, type ComputeMode, type ComputeReport, type NativeModel } from '../core/native.js';
import type { Generation, GenerationFinish, StreamChunk } from './generation-types.js';
import type { GenerateOptions } from './generate-options.js';
import { generationStream, type GenerationStream } from './stream.js';
import { Tokenizer, StreamDecoder, StopMatcher } from './tokenizer.js';
import { ChatTemplate, type ChatMessage } from './chat.js';
import { tokenizerFromGguf } from './gguf-tokenizer.js';
import { attachToNative, type AttachedAdapter } from './adapters.js';
import { resolveModelPath, type HubOptions } from '../hub/resolve.js';
import { grammarsOf, grammarVocab, specialTokenLookup } from './grammar.js';
import { readLogprobs, samplingExtras } from './sampling-options.js';
import { checkToolFormat, parameterSchemasOf, parseToolCalls, resolveToolFormat, type CallFormat } from './tool-calls/index.js';
import { promptCacheHandle, wrapPromptCache, type PromptCache, type PromptCacheOwner } from './prompt-cache.js';
import { ChatSession, type ChatSessionOptions } from './chat-session.js';

export type { ChatMessage } from './chat.js';
export type { ChatInput, ChatReply, ChatSession, ChatSessionOptions, ChatTurnOptions } from './chat-session.js';
export type { PromptCache, SavePromptCacheOptions } from './prompt-cache.js';

/** A prompt: plain text, chat messages, or token ids as they are. */
export type PromptInput = string | ChatMessage[] | { tokens: number[] };

export type { SamplingOptions } from '../core/native.js';

/** What `cachePrefix()` prefills: messages (rendered without a generation prompt) or token ids. */
export type PrefixInput = ChatMessage[] | { tokens: number[] };

export interface LoadPromptCacheOptions {
  /**
   * The token ids the cache was computed from, for files without them (mlx-lm's
   * `save_prompt_cache` / `mlx_lm.cache_prompt` store none). When the file has ids, these must
   * equal them.
   */
  tokens?: number[];
}

export type { GeneratedTokenLogprob, Generation, GenerationFinish, StreamChunk, TokenLogprob } from './generation-types.js';
export type { GenerateOptions } from './generate-options.js';
export type { LogitBias } from './sampling-options.js';
export type { GenerationStream } from './stream.js';

export interface LoadOptions {
  /** Folder with tokenizer.json etc. when it is not the model folder. */
  tokenizerPath?: string;
  /** false: load the weights only (prompts must then be token ids). Default true. */
  tokenizer?: boolean;
  /**
   * How weights are used for matmuls. "auto" (default) on CPU: affine 4/8-bit weights stay
   * stored and run through mlx-lab's kernels ("kernels"); other quantized and half-precision
   * weights get float32 copies when they fit in half the machine's memory. On a GPU: the stored
   * weights. "native": always the stored weights with MLX's kernels. "float32": float32 copies
   * of every quantized or half-precision weight. "kernels": our kernels, no copies.
   */
  compute?: ComputeMode;
  /** How a Hugging Face id (`org/name[@revision]`) is fetched: progress listener, env, fetch. */
  hub?: HubOptions;
}

/** Load a model folder (mlx-lm layout), a .gguf file, or a Hugging Face id `org/name[@revision]` (an existing path wins). */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<Model> {
  return Model.load(path, options);
}

/**
 * At load: every id the tokenizer can produce must have an embedding row (vocab_size rows; more
 * rows than tokens is normal padding). Otherwise the first such token would fail mid-run.
 */
export function checkVocabulary(tokenizer: Tokenizer, rows: number, where: string): void {
  if (!(rows > 0) || tokenizer.maxId < rows) return;
  throw new MlxLabError(
    'E_TOKENIZER',
    `${tokenizer.source}: the tokenizer has ids up to ${tokenizer.maxId}, but the model's embedding has ${rows} rows (vocab_size, ${where}); ids from ${rows} on cannot be embedded: a tokenizer from another model?`,
  );
}

/** Each model's native handle, kept off the public class (see nativeHandle). */
const handles = new WeakMap<Model, NativeModel>();

/** The native handle of a model, for the training, adapter and fusing code of this package (not public API). */
export function nativeHandle(model: Model): NativeModel {
  const handle = handles.get(model);
  if (!handle) throw new MlxLabError('E_ARGUMENT', 'not a Model made by loadModel()');
  return handle;
}

export class Model {
  /** Caches and sessions made for this model (freed by its dispose()). */
  private readonly dependents = new Set<WeakRef<{ dispose(): void }>>();
  /** What the prompt caches of this model know of it (their owner, checked on use). */
  private readonly cacheOwner: PromptCacheOwner;

  private constructor(
    private handle: NativeModel,
    readonly config: ModelConfig,
    private readonly tok: Tokenizer | undefined,
    readonly template: ChatTemplate | undefined,
    readonly path: string,
  ) {
    handles.set(this, handle);
    this.cacheOwner = { path, track: (dependent) => this.track(dependent) };
  }

  /** The tokenizer (E_TOKENIZER when the model was loaded with tokenizer: false). */
  get tokenizer(): Tokenizer {
    if (!this.tok) throw new MlxLabError('E_TOKENIZER', `${this.path}: loaded without a tokenizer; pass token ids ({ tokens }) or load with a tokenizer`);
    return this.tok;
  }

  static async load(path: string, options: LoadOptions = {}): Promise<Model> {
    const full = await resolveModelPath(path, options.hub);
    if (full.endsWith('.gguf')) return Model.loadGguf(full, options);
    const { config, files } = readModelFolder(full);
    const tokenizerDir = options.tokenizerPath ? resolve(options.tokenizerPath) : full;
    const tokenizer = options.tokenizer === false ? undefined : Tokenizer.fromFolder(tokenizerDir);
    const template = tokenizer ? ChatTemplate.fromFolder(tokenizerDir, tokenizer) : undefined;
    if (tokenizer) checkVocabulary(tokenizer, config.vocab_size, join(full, 'config.json'));
    const handle = await native().NativeModel.load(config, files, { compute: options.compute });
    return new Model(handle, config, tokenizer, template, full);
  }

  private static async loadGguf(file: string, options: LoadOptions): Promise<Model> {
    if (!existsSync(file) || !statSync(file).isFile()) throw new MlxLabError('E_MODEL_LOAD', `${file}: GGUF file not found`);
    const { model, config, metadata } = await native().NativeModel.loadGguf(file, { compute: options.compute });
    try {
      const files = tokenizerFromGguf(metadata, file);
      const tokenizer = Tokenizer.fromJSON(files.tokenizer, files.tokenizerConfig, files.generationConfig);
      const template = ChatTemplate.fromConfig(files.tokenizerConfig, tokenizer);
      checkVocabulary(tokenizer, config.vocab_size, file);
      return new Model(model, config, tokenizer, template, file);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  /** Frees the native weights now (a finalizer does it eventually otherwise), and the prompt caches and chat sessions made for it. */
  dispose(): void {
    for (const ref of this.dependents) ref.deref()?.dispose();
    this.dependents.clear();
    this.handle.dispose();
  }

  /** Remember a cache or session of this model, for dispose(). */
  private track(dependent: { dispose(): void }): void {
    if (this.dependents.size >= 64) {
      for (const ref of this.dependents) if (ref.deref() === undefined) this.dependents.delete(ref);
    }
    this.dependents.add(new WeakRef(dependent));
  }

  /**
   * A chat session: a conversation whose keys and values stay in a prompt cache between turns,
   * so each `send()` prefills only the new tokens (see ChatSession). `options` are the defaults
   * of every turn, plus earlier `messages` and a `prefix` cache to start from. Free it with
   * `dispose()` (or `using`); the model's dispose() frees it too.
   */
  chat(options: ChatSessionOptions = {}): ChatSession {
    if (this.disposed) throw new MlxLabError('E_DISPOSED', 'this model has been disposed');
    if (!this.template) throw new MlxLabError('E_TEMPLATE', `${this.path}: chat sessions need a chat template, and the model has none`);
    const { messages, prefix, ...defaults } = options;
    const handle = prefix ? promptCacheHandle(prefix, this.cacheOwner, 'prefix').copy() : new (native().NativePromptCache)();
    return new ChatSession(this, wrapPromptCache(handle, this.cacheOwner), defaults, messages);
  }

  /**
   * Prefill a prompt prefix once (a system prompt, tools) and keep its keys and values: every
   * `generate()`, `stream()`, `generateBatch()` or `chat()` given it as `promptCache` / `prefix`
   * starts from a copy of it instead of prefilling those tokens again. Messages are rendered
   * with the chat template without a generation prompt (`tools` and the other chat options
   * apply); the later prompts must render to tokens that begin the same way.
   */
  async cachePrefix(input: PrefixInput, options: Omit<GenerateOptions, 'promptCache' | 'updatePromptCache'> = {}): Promise<PromptCache> {
    if (!Array.isArray(input) && !(input && typeof input === 'object' && Array.isArray((input as { tokens?: unknown }).tokens))) {
      throw new MlxLabError('E_ARGUMENT', 'cachePrefix() takes chat messages or { tokens }');
    }
    const tokens = this.encodePrompt(input, { ...options, addGenerationPrompt: false });
    if (tokens.length === 0) throw new MlxLabError('E_ARGUMENT', 'cachePrefix(): the prefix has no tokens');
    const cache = wrapPromptCache(new (native().NativePromptCache)(), this.cacheOwner);
    try {
      const control = new (native().NativeControl)(1);
      await this.handle.generate({ prompts: [Int32Array.from(tokens)], maxTokens: 0, promptCache: promptCacheHandle(cache, this.cacheOwner), keepCache: true }, control);
    } catch (err) {
      cache.dispose();
      throw err;
    }
    return cache;
  }

  /**
   * Load a prompt cache saved by `PromptCache.save()` or by mlx-lm (`save_prompt_cache`,
   * `mlx_lm.cache_prompt`): E_PROMPT_CACHE naming the file when it is missing, truncated,
   * corrupt, or does not fit this model (layer count, kv heads, head dim, dtype). mlx-lm's files
   * hold no token ids: pass them as `tokens`.
   */
  async loadPromptCache(path: string, options: LoadPromptCacheOptions = {}): Promise<PromptCache> {
    const tokens = options.tokens === undefined ? undefined : Int32Array.from(options.tokens);
    const { cache, metadata } = await native().NativePromptCache.load(this.handle, resolve(path), tokens);
    return wrapPromptCache(cache, this.cacheOwner, metadata);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get disposed(): boolean {
    return this.handle.disposed;
  }

  /** What the compute policy chose (see LoadOptions.compute). */
  get compute(): ComputeReport {
    return this.handle.info().compute;
  }

  /** Switch the compute mode of the loaded model (e.g. to compare speeds). */
  async setCompute(mode: ComputeMode): Promise<ComputeReport> {
    return this.handle.setCompute(mode);
  }

  /**
   * Attach a saved adapter (an mlx-lm adapter folder or its adapters.safetensors) for inference:
   * a Hugging Face id of an adapter repo works too; the model generates with it until the handle's detach() or dispose(). No optimizer is made.
   */
  async attachAdapter(path: string, hub?: HubOptions): Promise<AttachedAdapter> {
    return attachToNative(this.handle, await resolveModelPath(path, hub));
  }

  /** Token ids of a prompt: chat template applied to messages (and to text when asked). */
  encodePrompt(input: PromptInput, options: GenerateOptions = {}): number[] {
    if (typeof input === 'object' && !Array.isArray(input)) return [...input.tokens];
    const useChat = Array.isArray(input) || (options.chat ?? this.template !== undefined);
    if (!useChat) return this.tokenizer.encode(input, { addSpecialTokens: true });
    if (!this.template) throw new MlxLabError('E_TEMPLATE', `${this.path}: the model has no chat template; pass chat: false to use plain text`);
    let messages: ChatMessage[] = typeof input === 'string' ? [{ role: 'user', content: input }] : input;
    if (options.system && !messages.some((m) => m.role === 'system')) messages = [{ role: 'system', content: options.system }, ...messages];
    return this.template.encode(messages, { addGenerationPrompt: true, ...options });
  }

  /** Stop strings for a call: the caller's, plus `<think>` when the template can think and thinking is off. */
  stopStrings(options: GenerateOptions): string[] {
    const stops = [...(options.stop ?? [])];
    return stops.filter((s) => s.length > 0);
  }

  /** The call syntax a generation with these options parses (see GenerateOptions.toolFormat). */
  toolCallFormat(options: Pick<GenerateOptions, 'toolFormat' | 'tools' | 'templateName'> = {}): CallFormat | 'none' {
    const requested = options.toolFormat === undefined ? 'auto' : checkToolFormat(options.toolFormat);
    let text: string | undefined;
    try {
      text = this.template?.templateText(options);
    } catch {
      text = undefined; // several templates and none picked: no markers to go by
    }
    return resolveToolFormat(requested, text);
  }

  async generate(input: PromptInput, options: GenerateOptions = {}): Promise<Generation> {
    const [one] = await this.generateBatch([input], options);
    return one;
  }

  /**
   * Stream the text of one generation: `for await` the chunks, then `await stream.result` for
   * the Generation (also the iterator's return value). Leaving the loop early (break, throw)
   * cancels the native generation; `result` then rejects with E_ABORTED.
   */
  stream(input: PromptInput, options: GenerateOptions = {}): GenerationStream {
    return generationStream(
      async (onChunk, signal) => (await this.runBatch([input], { ...options, signal }, (_seq, chunk) => onChunk(chunk)))[0],
      options.signal,
    );
  }

  /** Generate for several prompts at once (one left-padded batch). */
  async generateBatch(inputs: PromptInput[], options: GenerateOptions = {}): Promise<Generation[]> {
    return this.runBatch(inputs, options);
  }

  /** Logits [batch, length, vocab] for token ids (all rows the same length). */
  async logits(tokens: number[][]): Promise<{ data: Float32Array; shape: number[] }> {
    const length = tokens[0]?.length ?? 0;
    if (length === 0 || tokens.some((t) => t.length !== length)) throw new MlxLabError('E_ARGUMENT', 'logits() needs rows of equal, non-zero length');
    const out = await this.handle.forward(Int32Array.from(tokens.flat()), tokens.length);
    return { data: out.data as Float32Array, shape: out.shape };
  }

  /**
   * Prompts against the context length (max_position_embeddings; unknown when 0): a prompt longer
   * than it is an error (positions the model never saw: the output is noise); a prompt plus max
   * tokens beyond it is a warning (generation often ends earlier, and the user may want the budget).
   */
  private checkContext(prompts: Int32Array[], maxTokens: number): void {
    const context = this.config.max_position_embeddings ?? 0;
    if (!(context > 0)) return;
    const longest = Math.max(...prompts.map((p) => p.length));
    if (longest > context) {
      throw new MlxLabError('E_ARGUMENT', `${this.path}: a prompt of ${longest} tokens is longer than the model's context length of ${context} tokens (max_position_embeddings); shorten the prompt`);
    }
    if (Number.isFinite(maxTokens) && longest + maxTokens > context) {
      warn(`${this.path}: the prompt (${longest} tokens) plus max tokens (${maxTokens}) exceeds the context length of ${context} tokens; tokens past it are generated at positions the model never saw (max tokens ${context - longest} stays inside)`);
    }
  }

  /** The tokens XTC keeps by default, as mlx-lm's generate: the EOS ids and the newline's tokens. */
  private xtcSpecialTokens(): number[] {
    return [...(this.tok?.eosIds ?? []), ...(this.tok?.encode('\n', { addSpecialTokens: false }) ?? [])];
  }

  /** One token decoded alone ('' without a tokenizer), for logprobs. */
  private tokenText(id: number): string {
    return this.tok?.decode([id]) ?? '';
  }

  private async runBatch(
    inputs: PromptInput[],
    options: GenerateOptions,
    onChunk?: (seq: number, chunk: StreamChunk) => void,
  ): Promise<Generation[]> {
    if (inputs.length === 0) return [];
    const signal = options.signal;
    if (signal?.aborted) throw abortError(signal);
    const cache = options.promptCache === undefined ? undefined : promptCacheHandle(options.promptCache, this.cacheOwner);
    if (options.updatePromptCache && !cache) throw new MlxLabError('E_ARGUMENT', 'updatePromptCache needs a promptCache');
    if (options.updatePromptCache && inputs.length !== 1) throw new MlxLabError('E_ARGUMENT', `updatePromptCache takes one prompt, got ${inputs.length}`);
    const toolFormat = this.toolCallFormat(options);
    const grammars = grammarsOf(options.grammar, inputs.length, { tools: options.tools, toolFormat, specialTokenId: specialTokenLookup(this.tok) });
    const vocab = grammars ? grammarVocab(this.tok, this.path) : undefined;
    const schemas = parameterSchemasOf(options.tools);
    const extras = samplingExtras(options, this.config.vocab_size, () => this.xtcSpecialTokens());
    const prompts = inputs.map((input) => Int32Array.from(this.encodePrompt(input, options)));
    this.checkContext(prompts, options.maxTokens ?? 256);
    const stops = this.stopStrings(options);
    const eos = this.tok?.eosIds ?? new Set<number>();
    const control = new (native().NativeControl)(inputs.length);
    const seqs = inputs.map(() => ({
      decoder: this.tok ? new StreamDecoder(this.tok) : undefined,
      matcher: new StopMatcher(stops),
      text: '',
      tokens: [] as number[],
      stopped: undefined as string | undefined,
    }));
    const onToken = (seq: number, token: number) => {
      const s = seqs[seq];
      if (s.stopped !== undefined) return;
      s.tokens.push(token);
      if (eos.has(token)) return;
      if (!s.decoder) return;
      const { text, stop } = s.matcher.push(s.decoder.push(token));
      s.text += text;
      if (text && onChunk) onChunk(seq, { text, token });
      if (stop !== undefined) {
        s.stopped = stop;
        control.stop(seq);
      }
    };
    const abort = () => control.cancel();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      const result = await this.handle.generate(
        {
          prompts,
          maxTokens: options.maxTokens ?? 256,
          temperature: options.temperature,
          topP: options.topP,
          topK: options.topK,
          minP: options.minP,
          repetitionPenalty: options.repetitionPenalty,
          repetitionContext: options.repetitionContext,
          seed: options.seed,
          eosIds: [...eos],
          minSharedPrefix: options.sharePrefix === false ? 0 : undefined,
          grammars,
          grammarVocab: vocab,
          ...extras,
          ...(cache && { promptCache: cache, keepCache: options.updatePromptCache === true }),
        },
        control,
        onToken,
      );
      if (signal?.aborted) throw abortError(signal);
      const { stats } = result;
      return seqs.map((s, i) => {
        if (s.stopped === undefined) {
          const tail = s.matcher.flush() + '';
          s.text += tail;
          if (tail && onChunk) onChunk(i, { text: tail, token: s.tokens.at(-1) ?? -1 });
        }
        const finish: GenerationFinish = s.stopped !== undefined ? 'stop' : (result.sequences[i].finish as GenerationFinish);
        const tools = parseToolCalls(s.text, toolFormat, { schemas });
        return {
          text: tools.text,
          rawText: s.text,
          toolCalls: tools.calls,
          toolCallErrors: tools.errors,
          tokens: s.tokens,
          finishReason: finish,
          stopString: s.stopped,
          ...(result.sequences[i].grammarError !== undefined && { grammarError: result.sequences[i].grammarError }),
          promptTokens: prompts[i].length,
          sharedPrefixTokens: stats.sharedPrefixTokens,
          generationTokens: s.tokens.length,
          promptTps: stats.promptSeconds > 0 ? (cache ? stats.prefilledTokens : stats.promptTokens) / stats.promptSeconds : 0,
          generationTps: stats.generateSeconds > 0 ? stats.generatedTokens / stats.generateSeconds : 0,
          peakMemory: stats.peakMemory,
          ...(extras.logprobs !== undefined && { logprobs: readLogprobs(s.tokens, extras.logprobs, result.sequences[i], (id) => this.tokenText(id)) }),
          ...(cache && {
            reusedTokens: stats.reusedTokens,
            prefilledTokens: prompts[i].length - stats.reusedTokens,
            trimmedTokens: stats.cacheTokens - stats.reusedTokens,
          }),
        };
      });
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }
}

function abortError(signal: AbortSignal): MlxLabError {
  const reason = signal.reason instanceof Error ? signal.reason.message : 'aborted';
  return new MlxLabError('E_ABORTED', `generation aborted (${reason})`, { cause: signal.reason });
}

