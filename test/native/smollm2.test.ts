// A real model: SmolLM2-135M-Instruct (Q4_1 GGUF, llama architecture). Its greedy tokens must
// equal those mlx-lm produced on the same weights (test/fixtures/smollm2/greedy.json, made by
// scripts/fixtures/smollm2_reference.py), and it must answer a simple question sensibly.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type Model } from '../../src/model/model.js';
import { FIXTURES } from '../helpers/paths.js';
import { SMOLLM2_GGUF, SMOLLM2_MISSING } from '../helpers/smollm2.js';
import { describeOrSkip } from '../helpers/skip.js';
import type { ChatMessage } from '../../src/model/chat.js';

interface GreedyCase {
  messages: ChatMessage[];
  prompt_ids: number[];
  tokens: number[];
  text: string;
}
const reference = JSON.parse(readFileSync(join(FIXTURES, 'smollm2', 'greedy.json'), 'utf8')) as { cases: GreedyCase[]; max_tokens: number; eos_token_ids: number[] };
// mlx-lm's generate_step yields the EOS token; like its stream_generate we leave it out.
const withoutEos = (tokens: number[]) => tokens.filter((t) => !reference.eos_token_ids.includes(t));

describeOrSkip(SMOLLM2_MISSING, 'SmolLM2-135M GGUF', () => {
  let model: Model;
  let loadTicks = 0;
  let loadMs = 0;

  beforeAll(async () => {
    const timer = setInterval(() => loadTicks++, 5);
    const start = performance.now();
    model = await loadModel(SMOLLM2_GGUF);
    loadMs = performance.now() - start;
    clearInterval(timer);
  });
  afterAll(() => model?.dispose());

  it('loads without blocking the event loop', () => {
    console.log(`SmolLM2 load: ${loadMs.toFixed(0)} ms, ${loadTicks} timer ticks`);
    expect(loadMs).toBeGreaterThan(50);
    expect(loadTicks).toBeGreaterThan(loadMs / 5 / 3);
  });

  it('has the config the GGUF describes', () => {
    expect(model.config).toMatchObject({ model_type: 'llama', num_hidden_layers: 30, hidden_size: 576, num_attention_heads: 9, num_key_value_heads: 3, tie_word_embeddings: true });
    expect(model.config.rope_theta).toBe(100000);
  });

  it.each(reference.cases.map((c, i) => [i, c] as const))('case %i: prompt ids and greedy tokens equal mlx-lm', async (_i, c) => {
    expect(model.encodePrompt(c.messages)).toEqual(c.prompt_ids);
    const g = await model.generate(c.messages, { maxTokens: reference.max_tokens });
    expect(g.tokens).toEqual(withoutEos(c.tokens));
    expect(g.text).toBe(c.text);
  });

  it('answers "What is the capital of France?" with Paris', async () => {
    const g = await model.generate('What is the capital of France?', { maxTokens: 24 });
    expect(g.text).toMatch(/Paris/);
    expect(g.finishReason).toBe('eos');
    expect(g.promptTps).toBeGreaterThan(0);
    expect(g.generationTps).toBeGreaterThan(0);
  });

  it('stops at a stop string across token boundaries and leaves it out of the text', async () => {
    const g = await model.generate('What is the capital of France?', { maxTokens: 24, stop: ['is Par'] });
    expect(g.finishReason).toBe('stop');
    expect(g.stopString).toBe('is Par');
    expect(g.text).toBe('The capital of France ');
  });

  it('streams the same text it returns', async () => {
    const stream = model.stream('What is the capital of France?', { maxTokens: 24 });
    let text = '';
    let step = await stream.next();
    while (!step.done) {
      text += step.value.text;
      step = await stream.next();
    }
    expect(text).toBe(step.value.text);
    expect(text).toMatch(/Paris/);
  });

  it('decodes a batch of different prompts like one at a time', async () => {
    const prompts = reference.cases.map((c) => c.messages);
    const batch = await model.generateBatch(prompts, { maxTokens: 12 });
    for (let i = 0; i < prompts.length; i++) {
      expect(batch[i].tokens).toEqual(withoutEos(reference.cases[i].tokens).slice(0, 12));
    }
  });

  it('drops rows that finished from the batch and decodes the rest as one at a time', async () => {
    // Two of the three reference replies end with EOS long before the third: the batch shrinks.
    const prompts = reference.cases.map((c) => c.messages);
    const lengths = reference.cases.map((c) => withoutEos(c.tokens).length);
    expect(Math.min(...lengths)).toBeLessThan(Math.max(...lengths) / 2);
    const batch = await model.generateBatch(prompts, { maxTokens: reference.max_tokens });
    for (let i = 0; i < prompts.length; i++) expect(batch[i].tokens).toEqual(withoutEos(reference.cases[i].tokens));
  });

  it('samples reproducibly with a seed', async () => {
    const opts = { maxTokens: 16, temperature: 0.8, topP: 0.9, seed: 7 };
    const a = await model.generate('Tell me a story.', opts);
    const b = await model.generate('Tell me a story.', opts);
    const c = await model.generate('Tell me a story.', { ...opts, seed: 8 });
    expect(a.tokens).toEqual(b.tokens);
    expect(c.tokens).not.toEqual(a.tokens);
  });

  it('chats: each turn equals a fresh generation of the whole conversation, and prefills only what is new', async () => {
    using session = model.chat({ maxTokens: 16 });
    const conversation: ChatMessage[] = [];
    let previous = 0; // tokens of the last prompt and reply
    for (const [turn, text] of ['What is the capital of France?', 'And the capital of Germany?', 'Which of the two is larger?'].entries()) {
      conversation.push({ role: 'user', content: text });
      const reply = await session.send(text);
      const fresh = await model.generate(conversation, { maxTokens: 16 });
      expect(reply.tokens).toEqual(fresh.tokens);
      expect(reply.promptTokens).toBe(fresh.promptTokens);
      expect(reply.prefilledTokens).toBe(reply.promptTokens - reply.reusedTokens);
      console.log(`SmolLM2 chat turn ${turn + 1}: ${reply.promptTokens} prompt tokens, ${reply.reusedTokens} from the cache, ${reply.trimmedTokens} trimmed; ${JSON.stringify(reply.text)}`);
      // The template re-renders the reply from its text: at most the reply's tokens differ.
      if (turn > 0) expect(reply.reusedTokens).toBeGreaterThanOrEqual(previous - reply.trimmedTokens - 1);
      if (turn > 0) expect(reply.reusedTokens).toBeGreaterThan(reply.prefilledTokens);
      previous = reply.promptTokens + reply.generationTokens;
      conversation.push({ role: 'assistant', content: reply.rawText });
    }
  });
});
