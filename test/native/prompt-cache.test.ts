// Chat sessions and prompt caches (issue 16 item 3): a session's turn N gives exactly the tokens
// of a fresh generate() on the whole conversation while prefilling only the new tokens; a cached
// prefix serves many calls unchanged; a saved cache loads back (and mlx-lm's loads here) and
// continues as if never saved; hostile files fail with E_PROMPT_CACHE naming the file and what
// does not fit, never a crash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type ChatMessage, type GenerateOptions, type Model } from '../../src/model/model.js';
import { MlxLabError } from '../../src/core/errors.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'mlxlab-prompt-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** tiny-chat's byte tokens: biased to lowercase letters, so replies are ASCII and re-encode to the same ids. */
const LETTERS: GenerateOptions = { maxTokens: 8, logitBias: Object.fromEntries(Array.from({ length: 26 }, (_, i) => [97 + i, 30])) };

async function expectError(work: Promise<unknown> | (() => unknown), code: string, ...parts: (string | RegExp)[]): Promise<MlxLabError> {
  let error: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (e) {
    error = e;
  }
  expect(error, 'an error').toBeInstanceOf(MlxLabError);
  const e = error as MlxLabError;
  expect(e.code, e.message).toBe(code);
  for (const part of parts) expect(e.message).toMatch(part);
  return e;
}

describe('chat sessions', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(modelDir('tiny-chat'));
  });
  afterAll(() => model?.dispose());

  it('turn N equals a fresh generate() on the whole conversation, prefilling only the new tokens', async () => {
    using session = model.chat({ ...LETTERS, system: 'be brief' });
    const conversation: ChatMessage[] = [];
    let cached = 0;
    for (const [turn, text] of ['hello there', 'and again', 'a third one'].entries()) {
      conversation.push({ role: 'user', content: text });
      const reply = await session.send(text);
      const fresh = await model.generate(conversation, { ...LETTERS, system: 'be brief' });
      expect(reply.tokens).toEqual(fresh.tokens);
      expect(reply.rawText).toBe(fresh.rawText);
      expect(reply.promptTokens).toBe(fresh.promptTokens);
      // The reply's tokens ran through the model except the last one (its keys are made when the next turn feeds it).
      expect(reply.reusedTokens).toBe(cached);
      expect(reply.trimmedTokens).toBe(0);
      expect(reply.prefilledTokens).toBe(reply.promptTokens - cached);
      if (turn > 0) expect(reply.prefilledTokens).toBeLessThan(reply.promptTokens / 2);
      cached = reply.promptTokens + reply.generationTokens - 1;
      expect(session.cachedTokens).toBe(cached);
      conversation.push({ role: 'assistant', content: reply.rawText });
      expect(session.messages).toEqual(conversation); // the system option is applied at each render, not stored
    }
  });

  it('streams a turn: the chunks, then the ChatReply, equal to send()', async () => {
    using a = model.chat(LETTERS);
    using b = model.chat(LETTERS);
    await a.send('first');
    await b.send('first');
    const stream = a.stream('second');
    let text = '';
    for await (const chunk of stream) text += chunk.text;
    const streamed = await stream.result;
    const sent = await b.send('second');
    expect(streamed.rawText).toBe(text);
    expect(streamed.tokens).toEqual(sent.tokens);
    expect((streamed as typeof sent).reusedTokens).toBe(sent.reusedTokens);
    expect(a.messages).toEqual(b.messages);
  });

  it('falls back to the common prefix when the template renders an earlier turn differently, and says so', async () => {
    // A ChatML template that upper-cases assistant turns: the cached reply (lower case) no longer
    // begins the rendered conversation, as with templates that drop <think> from history.
    const dir = join(tmp, 'upper-chat');
    cpSync(modelDir('tiny-chat'), dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    config.chat_template = config.chat_template.replace("+ message['content'] +", "+ (message['content'] | upper if message['role'] == 'assistant' else message['content']) +");
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    using upper = await loadModel(dir);
    using session = upper.chat(LETTERS);
    const first = await session.send('hello there');
    expect(first.rawText).toMatch(/^[a-z]+$/);
    const second = await session.send('again');
    const fresh = await upper.generate(session.messages.slice(0, -1), LETTERS);
    expect(second.tokens).toEqual(fresh.tokens);
    expect(second.reusedTokens).toBe(first.promptTokens); // up to the reply, which renders in upper case
    expect(second.trimmedTokens).toBe(first.generationTokens - 1);
    expect(second.prefilledTokens).toBe(second.promptTokens - first.promptTokens);
  });

  it('after an aborted turn, the next one still equals a fresh generation (the conversation is unchanged)', async () => {
    using session = model.chat(LETTERS);
    await session.send('hello');
    const before = session.messages;
    const stream = session.stream('this one is cut short', { maxTokens: 10_000 });
    for await (const _chunk of stream) break;
    await expectError(stream.result, 'E_ABORTED');
    expect(session.messages).toEqual(before);
    const reply = await session.send('next');
    const fresh = await model.generate([...before, { role: 'user', content: 'next' }], LETTERS);
    expect(reply.tokens).toEqual(fresh.tokens);
    expect(reply.reusedTokens).toBeGreaterThan(0);
  });

  it('refuses a second send() while one runs (turns run one at a time)', async () => {
    using session = model.chat(LETTERS);
    const first = session.send('one');
    await expectError(session.send('two'), 'E_ARGUMENT', /already generating a reply/);
    await expectError(session.stream('two').result, 'E_ARGUMENT', /already generating a reply/);
    await first;
    expect(session.messages.map((m) => m.content)).toEqual(['one', expect.any(String)]);
    await session.send('two'); // free again
  });

  it('dispose() twice is safe; a disposed session, or one whose model was disposed, throws E_DISPOSED', async () => {
    const session = model.chat(LETTERS);
    await session.send('hi');
    session.dispose();
    session.dispose();
    expect(session.disposed).toBe(true);
    await expectError(session.send('again'), 'E_DISPOSED', 'this chat session has been disposed');
    expect(() => session.cachedTokens).toThrow(/disposed/);

    const other = await loadModel(modelDir('tiny-chat'));
    const orphan = other.chat(LETTERS);
    const prefix = await other.cachePrefix([{ role: 'system', content: 'x' }]);
    await orphan.send('hi');
    other.dispose();
    expect(orphan.disposed).toBe(true);
    expect(prefix.disposed).toBe(true);
    await expectError(orphan.send('again'), 'E_DISPOSED', 'this chat session has been disposed (its model was disposed)');
    await expectError(() => prefix.tokens, 'E_DISPOSED', 'this prompt cache has been disposed');
    prefix.dispose();
  });

  it('rejects bad input with clear errors', async () => {
    using session = model.chat(LETTERS);
    await expectError(session.send([]), 'E_ARGUMENT', /at least one message/);
    await expectError(model.generateBatch(['a', 'b'], { promptCache: await model.cachePrefix({ tokens: [1, 2] }), updatePromptCache: true }), 'E_ARGUMENT', /updatePromptCache takes one prompt/);
    await expectError(model.generate('a', { updatePromptCache: true }), 'E_ARGUMENT', /updatePromptCache needs a promptCache/);
    await expectError(model.generate('a', { promptCache: {} as never }), 'E_ARGUMENT', /must be a PromptCache/);
    await expectError(model.cachePrefix('just text' as never), 'E_ARGUMENT', /chat messages or \{ tokens \}/);
    using other = await loadModel(modelDir('tiny-chat'));
    const foreign = await other.cachePrefix({ tokens: [1, 2, 3] });
    await expectError(model.generate('a', { promptCache: foreign }), 'E_ARGUMENT', /belongs to another model/);
    using plain = await loadModel(modelDir('llama-f32'), { tokenizer: false });
    expect(() => plain.chat()).toThrow(/chat template/);
  });
});

describe('cachePrefix', () => {
  let model: Model;
  const system: ChatMessage = { role: 'system', content: 'You are a terse assistant. Answer in lower case letters.' };
  beforeAll(async () => {
    model = await loadModel(modelDir('tiny-chat'));
  });
  afterAll(() => model?.dispose());

  it('serves many generations unchanged, with the tokens of generations without it', async () => {
    using prefix = await model.cachePrefix([system]);
    const held = prefix.tokens;
    expect(held).toEqual(model.encodePrompt([system], { addGenerationPrompt: false }));
    for (const question of ['what is up', 'and now', 'what is up']) {
      const messages = [system, { role: 'user', content: question }];
      const cached = await model.generate(messages, { ...LETTERS, promptCache: prefix });
      const plain = await model.generate(messages, LETTERS);
      expect(cached.tokens).toEqual(plain.tokens);
      expect(cached.reusedTokens).toBe(held.length);
      expect(cached.trimmedTokens).toBe(0);
      expect(cached.prefilledTokens).toBe(plain.promptTokens - held.length);
      expect(prefix.tokens).toEqual(held); // copied, not consumed
    }
    // The same in a batch and through a stream.
    const prompts = ['one', 'two', 'three'].map((q) => [system, { role: 'user', content: q }]);
    const batch = await model.generateBatch(prompts, { ...LETTERS, promptCache: prefix });
    const plainBatch = await model.generateBatch(prompts, LETTERS);
    expect(batch.map((g) => g.tokens)).toEqual(plainBatch.map((g) => g.tokens));
    expect(batch.map((g) => g.reusedTokens)).toEqual([held.length, held.length, held.length]);
    const streamed = await model.stream(prompts[0], { ...LETTERS, promptCache: prefix }).result;
    expect(streamed.tokens).toEqual(plainBatch[0].tokens);
  });

  it('starts chat sessions from a copy of it', async () => {
    using prefix = await model.cachePrefix([system]);
    using a = model.chat({ ...LETTERS, messages: [system], prefix });
    using b = model.chat({ ...LETTERS, messages: [system] });
    const ra = await a.send('hi');
    const rb = await b.send('hi');
    expect(ra.tokens).toEqual(rb.tokens);
    expect(ra.reusedTokens).toBe(prefix.length);
    expect(rb.reusedTokens).toBe(0);
    expect(prefix.tokens).toEqual(model.encodePrompt([system], { addGenerationPrompt: false }));
  });

  it('uses what matches when a prompt only begins like it, and all but the last token when the prompt is the prefix', async () => {
    using prefix = await model.cachePrefix({ tokens: [257, 115, 121, 115, 10, 104, 105, 258] });
    const partial = await model.generate({ tokens: [257, 115, 121, 115, 10, 120, 120, 258, 10] }, { ...LETTERS, promptCache: prefix });
    expect(partial.reusedTokens).toBe(5);
    expect(partial.trimmedTokens).toBe(3);
    expect(partial.tokens).toEqual((await model.generate({ tokens: [257, 115, 121, 115, 10, 120, 120, 258, 10] }, LETTERS)).tokens);
    const same = await model.generate({ tokens: prefix.tokens }, { ...LETTERS, promptCache: prefix });
    expect(same.reusedTokens).toBe(7);
    expect(same.tokens).toEqual((await model.generate({ tokens: prefix.tokens }, LETTERS)).tokens);
    const none = await model.generate({ tokens: [1, 2, 3] }, { ...LETTERS, promptCache: prefix });
    expect(none.reusedTokens).toBe(0);
    expect(none.trimmedTokens).toBe(8);
  });
});

describe('every architecture', () => {
  // Token-level turns (the fixtures have no tokenizer): the cache extended in place, as a session
  // does, must give the tokens of a fresh generation each time; gemma3's 6-position sliding window
  // is crossed by the cached and the new positions.
  it.each(['llama-f32', 'qwen3-f32', 'qwen3_moe-f32', 'qwen2-f32', 'mistral-f32', 'phi3-f32', 'gemma3_text-f32', 'granite-f32', 'llama-q4', 'gemma3_text-q4'])('%s', async (name) => {
    using model = await loadModel(modelDir(name), { tokenizer: false });
    using cache = await model.cachePrefix({ tokens: [1, 2, 3, 4, 5, 6, 7, 8, 9] });
    let prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    for (let turn = 0; turn < 3; turn++) {
      const held = cache.length;
      const kept = await model.generate({ tokens: prompt }, { maxTokens: 6, promptCache: cache, updatePromptCache: true });
      const fresh = await model.generate({ tokens: prompt }, { maxTokens: 6 });
      expect(kept.tokens, `turn ${turn}`).toEqual(fresh.tokens);
      expect(kept.reusedTokens).toBe(held);
      expect(cache.tokens).toEqual([...prompt, ...kept.tokens.slice(0, -1)]);
      prompt = [...prompt, ...kept.tokens, 20 + turn, 30 + turn];
    }
  });
});

describe('saving and loading prompt caches', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(modelDir('tiny-chat'));
  });
  afterAll(() => model?.dispose());

  it('save → load → continue equals continuing without the save, in a fresh model', async () => {
    using session = model.chat(LETTERS);
    await session.send('hello there');
    await session.send('and again');
    const file = join(tmp, 'sub', 'session.safetensors');
    await session.save(file);
    const history = session.messages;
    const cachedTokens = session.cachedTokens;
    const unsaved = await session.send('third');

    using reloaded = await loadModel(modelDir('tiny-chat'));
    using cache = await reloaded.loadPromptCache(file);
    expect(cache.length).toBe(cachedTokens);
    expect(cache.metadata).toMatchObject({ model: model.path, tokenizer_config: '{}' });
    using resumed = reloaded.chat({ ...LETTERS, messages: history, prefix: cache });
    const reply = await resumed.send('third');
    expect(reply.tokens).toEqual(unsaved.tokens);
    expect(reply.reusedTokens).toBe(cachedTokens);
    expect(reply.prefilledTokens).toBe(unsaved.prefilledTokens);
    // Loading twice from the one file, and through generate().
    using again = await reloaded.loadPromptCache(file);
    const g = await reloaded.generate([...history, { role: 'user', content: 'third' }], { ...LETTERS, promptCache: again });
    expect(g.tokens).toEqual(unsaved.tokens);
  });

  it("writes mlx-lm's layout: i.0 keys, i.1 values, i.2 offset, KVCache classes, scalars, and the token ids", async () => {
    using prefix = await model.cachePrefix({ tokens: [257, 104, 105, 258, 10] });
    const file = join(tmp, 'layout.safetensors');
    await prefix.save(file, { metadata: { note: 'x' } });
    const { header, metadata } = readHeader(file);
    expect(Object.keys(header).sort()).toEqual(['0.0', '0.1', '0.2', '1.0', '1.1', '1.2']);
    expect(header['0.0']).toMatchObject({ dtype: 'F32', shape: [1, 2, 5, 16] });
    expect(header['1.2']).toMatchObject({ dtype: 'I32', shape: [] });
    expect(metadata).toEqual({
      '0.model': model.path,
      '0.tokenizer_config': '{}',
      '0.note': 'x',
      '0.mlx_lab_tokens': '[257,104,105,258,10]',
      '0.mlx_lab_model': 'llama num_hidden_layers=2 hidden_size=64 num_attention_heads=4 num_key_value_heads=2 head_dim=16 vocab_size=260',
      '1.0': 'KVCache',
      '1.1': 'KVCache',
      '2.0': '',
      '2.1.0': '0.2',
      '2.1.1': 'scalar',
      '2.2.0': '1.2',
      '2.2.1': 'scalar',
    });
    expect(readdirSync(tmp, { recursive: true }).map(String).filter((f) => f.includes('.tmp-'))).toEqual([]); // atomic: no temporary left
    await expectError(model.chat().save(join(tmp, 'empty.safetensors')), 'E_ARGUMENT', /empty; there is nothing to save/);
  });

  it("loads mlx-lm's prompt cache (mlx_lm.cache_prompt) and continues to mlx-lm's greedy tokens", async () => {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, 'prompt-cache', 'expected.json'), 'utf8')) as { model: string; prompt: string; cached_ids: number[]; suffix_ids: number[]; greedy_from_cache: number[]; greedy_from_scratch: number[]; max_tokens: number; top_logprobs: [number, number][][] };
    const file = join(FIXTURES, 'prompt-cache', 'mlx-lm-tiny-chat.safetensors');
    using fromMlxLm = await model.loadPromptCache(file, { tokens: fixture.cached_ids });
    expect(fromMlxLm.length).toBe(fixture.cached_ids.length);
    expect(fromMlxLm.metadata.model).toBe(fixture.model);
    const prompt = { tokens: [...fixture.cached_ids, ...fixture.suffix_ids] };
    const g = await model.generate(prompt, { maxTokens: fixture.max_tokens, promptCache: fromMlxLm, logprobs: 5 });
    expect(g.reusedTokens).toBe(fixture.cached_ids.length);
    expect(g.prefilledTokens).toBe(fixture.suffix_ids.length);
    expect(g.tokens).toEqual(fixture.greedy_from_cache);
    // The distribution, not only its argmax (the random model soon repeats one token): mlx-lm's
    // top log-probabilities of the first steps, within float32 rounding across BLAS kernels.
    for (const [step, top] of fixture.top_logprobs.entries()) {
      const ours = g.logprobs![step].top;
      expect(ours.map((t) => t.id)).toEqual(top.map(([id]) => id));
      for (const [k, [, logprob]] of top.entries()) expect(Math.abs(ours[k].logprob - logprob)).toBeLessThan(2e-3);
    }
    expect(g.tokens).toEqual((await model.generate(prompt, { maxTokens: fixture.max_tokens })).tokens);
    expect(fixture.greedy_from_scratch).toEqual(fixture.greedy_from_cache);
    // The cached ids are the rendered user message (continue_final_message), as mlx_lm.cache_prompt makes them.
    expect(model.encodePrompt([{ role: 'user', content: fixture.prompt }], { continueFinalMessage: true, addGenerationPrompt: false })).toEqual(fixture.cached_ids);
    await expectError(model.loadPromptCache(file), 'E_PROMPT_CACHE', `${file}: the file holds no token ids (mlx-lm does not store them): pass the ids of the ${fixture.cached_ids.length} prompt tokens it was made from ({ tokens })`);
  });
});

/** The JSON header of a safetensors file, split into tensors and metadata. */
function readHeader(file: string): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; metadata: Record<string, string> } {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const { __metadata__: metadata = {}, ...header } = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  return { header, metadata };
}

/** Rewrite a safetensors file's header (tensors and metadata); the data bytes stay as they are. */
function rewriteHeader(
  from: string,
  to: string,
  edit: (header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>, metadata: Record<string, string>, dataBytes: number) => void,
  extraData: Buffer = Buffer.alloc(0),
): string {
  const buf = readFileSync(from);
  const n = Number(buf.readBigUInt64LE(0));
  const { header, metadata } = readHeader(from);
  edit(header, metadata, buf.length - 8 - n);
  const json = Buffer.from(JSON.stringify({ ...header, __metadata__: metadata }));
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(to, Buffer.concat([size, json, buf.subarray(8 + n), extraData]));
  return to;
}

describe('hostile prompt-cache files', () => {
  let model: Model;
  let good: string; // a valid cache of tiny-chat: 2 layers, [1, 2, 5, 16] float32
  let bad: (name: string) => string;
  beforeAll(async () => {
    model = await loadModel(modelDir('tiny-chat'));
    const prefix = await model.cachePrefix({ tokens: [257, 104, 105, 258, 10] });
    good = join(tmp, 'good.safetensors');
    await prefix.save(good);
    prefix.dispose();
    bad = (name) => join(tmp, `bad-${name}.safetensors`);
  });
  afterAll(() => model?.dispose());

  it('loads the unharmed file', async () => {
    using cache = await model.loadPromptCache(good);
    expect(cache.tokens).toEqual([257, 104, 105, 258, 10]);
  });

  it('a missing file, a folder, a truncated file, a corrupt header', async () => {
    const missing = join(tmp, 'no-such.safetensors');
    await expectError(model.loadPromptCache(missing), 'E_PROMPT_CACHE', `${missing}: file not found`);
    await expectError(model.loadPromptCache(tmp), 'E_PROMPT_CACHE', `${tmp}: not a regular file`);
    const cut = bad('truncated');
    copyFileSync(good, cut);
    truncateSync(cut, statSync(good).size - 100);
    await expectError(model.loadPromptCache(cut), 'E_PROMPT_CACHE', `${cut}: bad safetensors file: `, 'exceeding the size of the file');
    const tiny = bad('tiny');
    writeFileSync(tiny, Buffer.from([1, 2, 3]));
    await expectError(model.loadPromptCache(tiny), 'E_PROMPT_CACHE', `${tiny}: truncated safetensors file`);
    const garbled = bad('garbled');
    const bytes = readFileSync(good);
    bytes.write('#', 8); // the header's opening brace
    writeFileSync(garbled, bytes);
    await expectError(model.loadPromptCache(garbled), 'E_PROMPT_CACHE', `${garbled}: bad safetensors file`);
  });

  it('a weights file, not a prompt cache', async () => {
    const weights = join(modelDir('tiny-chat'), 'model.safetensors');
    await expectError(model.loadPromptCache(weights), 'E_PROMPT_CACHE', `${weights}: not a prompt cache: its metadata names no cache classes`);
  });

  it('another model: layer count, kv heads, head dim, dtype, architecture', async () => {
    const oneLayer = rewriteHeader(good, bad('one-layer'), (h, m) => {
      for (const k of ['1.0', '1.1', '1.2']) delete h[k];
      for (const k of ['1.1', '2.2.0', '2.2.1']) delete m[k];
    });
    await expectError(model.loadPromptCache(oneLayer), 'E_PROMPT_CACHE', `${oneLayer}: the prompt cache has 1 layers, the model 2 (a cache made with another model?)`);
    const heads = rewriteHeader(good, bad('heads'), (h) => {
      h['0.0'].shape = [1, 1, 10, 16];
    });
    await expectError(model.loadPromptCache(heads), 'E_PROMPT_CACHE', `${heads}: layer 0 keys have 1 kv heads, the model 2`);
    const headDim = rewriteHeader(good, bad('head-dim'), (h) => {
      h['1.1'].shape = [1, 2, 10, 8];
    });
    await expectError(model.loadPromptCache(headDim), 'E_PROMPT_CACHE', `${headDim}: layer 1 values have head dim 8, the model 16`);
    const dtype = rewriteHeader(good, bad('dtype'), (h) => {
      h['0.0'] = { ...h['0.0'], dtype: 'BF16', shape: [1, 2, 10, 16] };
    });
    await expectError(model.loadPromptCache(dtype), 'E_PROMPT_CACHE', `${dtype}: layer 0 keys are bfloat16, the model computes float32 ones`);
    const batch = rewriteHeader(good, bad('batch'), (h) => {
      h['0.1'].shape = [2, 2, 5, 8];
    });
    await expectError(model.loadPromptCache(batch), 'E_PROMPT_CACHE', `${batch}: layer 0 values hold a batch of 2 sequences, not 1`);
    // A cache of tiny-chat (llama) in a qwen3 model of the same dims: the recorded model tells.
    using qwen = await loadModel(modelDir('qwen3-f32'), { tokenizer: false });
    await expectError(qwen.loadPromptCache(good), 'E_PROMPT_CACHE', `${good}: the prompt cache was made with another model (llama num_hidden_layers=2`, 'this model is qwen3 num_hidden_layers=2');
    // Same type and dims, other dtype: llama-bf16 computing natively in bfloat16.
    using bf16 = await loadModel(modelDir('llama-bf16'), { tokenizer: false, compute: 'native' });
    const noModel = rewriteHeader(good, bad('no-model'), (_h, m) => {
      delete m['0.mlx_lab_model'];
    });
    await expectError(bf16.loadPromptCache(noModel), 'E_PROMPT_CACHE', `${noModel}: layer 0 keys are float32, the model computes bfloat16 ones (a cache made by another model, or under another compute mode)`);
  });

  it('cache classes, offsets, stray tensors and token ids that do not fit', async () => {
    const quantized = rewriteHeader(good, bad('quantized'), (_h, m) => {
      m['1.1'] = 'QuantizedKVCache';
    });
    await expectError(model.loadPromptCache(quantized), 'E_PROMPT_CACHE', `${quantized}: layer 1 holds a QuantizedKVCache; mlx-lab reads KVCache layers only`);
    const missing = rewriteHeader(good, bad('missing-values'), (h) => {
      delete h['1.1'];
    });
    await expectError(model.loadPromptCache(missing), 'E_PROMPT_CACHE', `${missing}: tensor "1.1" (the values of layer 1) is missing`);
    const stray = rewriteHeader(
      good,
      bad('stray'),
      (h, _m, end) => {
        h.junk = { dtype: 'I32', shape: [], data_offsets: [end, end + 4] };
      },
      Buffer.alloc(4),
    );
    await expectError(model.loadPromptCache(stray), 'E_PROMPT_CACHE', `${stray}: tensor "junk" is not part of a KVCache layer`);
    const offset = bad('offset');
    const { header } = readHeader(good);
    const bytes = readFileSync(good);
    const n = Number(bytes.readBigUInt64LE(0));
    bytes.writeInt32LE(999, 8 + n + header['1.2'].data_offsets[0]);
    writeFileSync(offset, bytes);
    await expectError(model.loadPromptCache(offset), 'E_PROMPT_CACHE', `${offset}: layer 1 has offset 999, outside the 5 positions its keys and values hold`);
    const offsetType = rewriteHeader(good, bad('offset-type'), (h) => {
      h['0.2'].dtype = 'F32';
    });
    await expectError(model.loadPromptCache(offsetType), 'E_PROMPT_CACHE', `${offsetType}: tensor "0.2" (the offset of layer 0) is not one integer`);
    const fewIds = rewriteHeader(good, bad('few-ids'), (_h, m) => {
      m['0.mlx_lab_tokens'] = '[257, 104]';
    });
    await expectError(model.loadPromptCache(fewIds), 'E_PROMPT_CACHE', `${fewIds}: mlx_lab_tokens lists 2 token ids for 5 cached positions`);
    const notIds = rewriteHeader(good, bad('not-ids'), (_h, m) => {
      m['0.mlx_lab_tokens'] = '[257, "hi", 3]';
    });
    await expectError(model.loadPromptCache(notIds), 'E_PROMPT_CACHE', `${notIds}: mlx_lab_tokens is not a JSON list of token ids`);
    const outside = rewriteHeader(good, bad('outside'), (_h, m) => {
      m['0.mlx_lab_tokens'] = '[257,104,105,258,99999]';
    });
    await expectError(model.loadPromptCache(outside), 'E_PROMPT_CACHE', `${outside}: the prompt cache has token id 99999 outside the vocabulary [0, 260)`);
    await expectError(model.loadPromptCache(good, { tokens: [257, 104, 105, 258, 11] }), 'E_PROMPT_CACHE', `${good}: the token ids given differ from those the file holds (from position 4 on)`);
    const noIds = rewriteHeader(good, bad('no-ids'), (_h, m) => {
      delete m['0.mlx_lab_tokens'];
    });
    await expectError(model.loadPromptCache(noIds, { tokens: [1, 2] }), 'E_PROMPT_CACHE', `${noIds}: 2 token ids given for a cache of 5 positions`);
    using ok = await model.loadPromptCache(noIds, { tokens: [257, 104, 105, 258, 10] });
    expect(ok.length).toBe(5);
  });

  it('random damage to the file never crashes: it loads or fails with a coded error', async () => {
    const original = readFileSync(good);
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const codes = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const bytes = Buffer.from(original);
      for (let k = 0; k < 1 + Math.floor(random() * 4); k++) bytes[Math.floor(random() * Math.min(bytes.length, 900))] = Math.floor(random() * 256);
      const file = bad(`random-${i}`);
      writeFileSync(file, bytes);
      try {
        const cache = await model.loadPromptCache(file);
        // Loaded: the damage hit the data only; it still generates.
        await model.generate({ tokens: [...cache.tokens, 10] }, { maxTokens: 2, promptCache: cache });
        cache.dispose();
        codes.add('ok');
      } catch (e) {
        expect(e, String(e)).toBeInstanceOf(MlxLabError);
        codes.add((e as MlxLabError).code);
      }
    }
    expect([...codes].every((c) => ['ok', 'E_PROMPT_CACHE'].includes(c)), [...codes].join()).toBe(true);
    expect(existsSync(good)).toBe(true);
  });
});
