/**
 * Prompt caches: the keys and values of a prompt (a system prompt and tools, a conversation so
 * far) kept by the engine between calls, with the token ids they came from. A generation that
 * starts from one prefills only the prompt tokens after those the cache holds; where the prompt
 * differs from the cached tokens, the cache is used up to the last common token.
 *
 * Made by `Model.cachePrefix()`, `Model.loadPromptCache()` and chat sessions (`Model.chat()`);
 * saved in mlx-lm's prompt-cache safetensors format (mlx_lm/models/cache.py save_prompt_cache:
 * per layer `i.0` keys, `i.1` values, `i.2` offset; metadata with the cache class names), plus
 * the token ids under the metadata key `mlx_lab_tokens`, which mlx-lm does not store.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MlxLabError, withIo } from '../core/errors.js';
import type { NativePromptCache } from '../core/native.js';

/** What owns a cache: the model it belongs to (its dispose() frees the cache too). */
export interface PromptCacheOwner {
  /** The model's path (saved as mlx-lm's `model` metadata). */
  readonly path: string;
  /** Called for every cache made for the model, so that its dispose() frees them. */
  track(dependent: { dispose(): void }): void;
}

export interface SavePromptCacheOptions {
  /**
   * More metadata strings (mlx-lm reads them back as its metadata dict). `model` (default: the
   * model's path) and `tokenizer_config` (default `{}`) are what `mlx_lm.generate
   * --prompt-cache-file` reads.
   */
  metadata?: Record<string, string>;
}

const handles = new WeakMap<PromptCache, NativePromptCache>();
const owners = new WeakMap<PromptCache, PromptCacheOwner>();

/** The native handle of a cache made for `owner` (E_ARGUMENT for another model's, E_DISPOSED after dispose()). Not public API. */
export function promptCacheHandle(cache: PromptCache, owner: PromptCacheOwner, what = 'promptCache'): NativePromptCache {
  const handle = handles.get(cache);
  if (!handle) throw new MlxLabError('E_ARGUMENT', `${what} must be a PromptCache (from cachePrefix(), loadPromptCache() or a chat session)`);
  if (owners.get(cache) !== owner) {
    throw new MlxLabError('E_ARGUMENT', `${what} belongs to another model (${owners.get(cache)?.path}); save it and load it with this model's loadPromptCache() to check that it fits`);
  }
  if (handle.disposed) throw new MlxLabError('E_DISPOSED', `${what} has been disposed`);
  return handle;
}

/** A prompt cache around a native handle, tracked by its owner. Not public API. */
export function wrapPromptCache(handle: NativePromptCache, owner: PromptCacheOwner, metadata: Record<string, string> = {}): PromptCache {
  return PromptCache[WRAP](handle, owner, metadata);
}

const WRAP = Symbol('wrap');

export class PromptCache {
  private constructor(
    private readonly handle: NativePromptCache,
    private readonly owner: PromptCacheOwner,
    /** The metadata strings of the file it was loaded from ({} otherwise), mlx-lm's `model` and `tokenizer_config` included. */
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  static [WRAP](handle: NativePromptCache, owner: PromptCacheOwner, metadata: Record<string, string>): PromptCache {
    const cache = new PromptCache(handle, owner, metadata);
    handles.set(cache, handle);
    owners.set(cache, owner);
    owner.track(cache);
    return cache;
  }

  /** The token ids whose keys and values the cache holds (after the calls queued on it ran). */
  get tokens(): number[] {
    return Array.from(this.live().tokens());
  }

  /** How many tokens the cache holds. */
  get length(): number {
    return this.live().length;
  }

  /** An independent copy (the arrays are shared until one side writes), e.g. to branch a conversation. */
  copy(): PromptCache {
    return wrapPromptCache(this.live().copy(), this.owner, { ...this.metadata });
  }

  /**
   * Write the cache to a `.safetensors` file, atomically (a temporary file beside it, fsync,
   * rename), in mlx-lm's prompt-cache format with the token ids in the metadata: mlx-lm's
   * `load_prompt_cache` and `mlx_lm.generate --prompt-cache-file` read it, `loadPromptCache()`
   * checks it against the model. E_ARGUMENT for an empty cache.
   */
  async save(path: string, options: SavePromptCacheOptions = {}): Promise<void> {
    const handle = this.live();
    const full = resolve(path);
    withIo(dirname(full), 'cannot create the folder', () => mkdirSync(dirname(full), { recursive: true }));
    await handle.save(full, { model: this.owner.path, tokenizer_config: '{}', ...options.metadata });
  }

  /** Frees the keys and values now (also done when the model is disposed). Safe to call twice. */
  dispose(): void {
    this.handle.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get disposed(): boolean {
    return this.handle.disposed;
  }

  private live(): NativePromptCache {
    if (this.handle.disposed) throw new MlxLabError('E_DISPOSED', 'this prompt cache has been disposed');
    return this.handle;
  }
}
