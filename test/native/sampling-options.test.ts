// Logit bias, logprobs and XTC on the tiny chat model (random weights, vocabulary 260, float32),
// checked against references computed here from the model's own logits (model.logits()).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../src/core/native.js';
import { loadModel, nativeHandle, type GenerateOptions, type Model } from '../../src/model/model.js';
import { modelDir } from '../helpers/paths.js';

const PROMPTS = ['hello there', 'hi', 'what is 2+2? tell me now'];
const Z = 'z'.charCodeAt(0); // the tiny tokenizer's byte tokens: id = byte value
const EOS = 258; // <|im_end|>
const NEWLINE = 10;

let model: Model;
beforeAll(async () => {
  model = await loadModel(modelDir('tiny-chat'));
});
afterAll(() => model?.dispose());

/** Log-softmax (float64) of the last position's logits after `tokens`, plus an optional bias. */
async function referenceLogprobs(tokens: number[], bias: Record<number, number> = {}): Promise<number[]> {
  const { data, shape } = await model.logits([tokens]);
  const V = shape[2];
  const row = Array.from(data.subarray((tokens.length - 1) * V, tokens.length * V), (x, id) => x + (bias[id] ?? 0));
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
  return row.map((x) => x - lse);
}

/** Ids by descending value. */
const ranked = (values: number[]) => values.map((v, id) => ({ v, id })).sort((a, b) => b.v - a.v).map((e) => e.id);

describe('logitBias', () => {
  it('a huge bias forces a token under greedy decoding; a huge negative one bans the greedy choice', async () => {
    const forced = await model.generate('hello there', { maxTokens: 8, logitBias: { [Z]: 1e6 } });
    expect(forced.tokens).toEqual(Array(8).fill(Z)); // fails if the bias is not applied
    expect(forced.text).toBe('zzzzzzzz');
    const free = await model.generate('hello there', { maxTokens: 8 });
    const first = free.tokens[0];
    const banned = await model.generate('hello there', { maxTokens: 8, logitBias: { [first]: -1e9 } });
    expect(banned.tokens).not.toContain(first);
    // The new first token is the model's second choice (the ban removes one token, nothing else).
    const prompt = model.encodePrompt('hello there');
    expect(banned.tokens[0]).toBe(ranked(await referenceLogprobs(prompt))[1]);
  });

  it('batched rows equal their single runs (the bias applies to every row, prompts of different lengths)', async () => {
    const bias: GenerateOptions['logitBias'] = new Map([
      [Z, 4],
      [101, -3],
      [32, 2.5],
    ]);
    const batch = await model.generateBatch(PROMPTS, { maxTokens: 12, logitBias: bias });
    const singles = [];
    for (const p of PROMPTS) singles.push(await model.generate(p, { maxTokens: 12, logitBias: bias }));
    expect(batch.map((g) => g.tokens)).toEqual(singles.map((g) => g.tokens));
    const unbiased = await model.generateBatch(PROMPTS, { maxTokens: 12 });
    expect(unbiased.map((g) => g.tokens)).not.toEqual(batch.map((g) => g.tokens)); // the bias mattered here
  });

  it("a grammar's mask wins over any bias: the forced token is still forbidden", async () => {
    const g = await model.generate('hello there', { maxTokens: 10, logitBias: { [Z]: 1e6 }, grammar: { regex: '[a-c]{5}' } });
    expect(g.text).toMatch(/^[a-c]{5}$/);
  });

  it('an id past the vocabulary, or a bias that is not finite, is E_ARGUMENT before any token', async () => {
    await expect(model.generate('hi', { logitBias: { 260: 1 } })).rejects.toMatchObject({ code: 'E_ARGUMENT', message: "logitBias: token id 260 is out of range: the model's vocabulary has 260 tokens (ids 0 to 259)" });
    await expect(model.generateBatch(['a', 'b'], { logitBias: { 3: Number.POSITIVE_INFINITY } })).rejects.toThrow('logitBias: the bias of token 3 must be a finite number, got Infinity');
  });
});

describe('logprobs', () => {
  it('greedy: each token is its own top-1, the alternatives are sorted, and the values are the log-softmax of the model logits', async () => {
    const prompt = model.encodePrompt('hello there');
    const g = await model.generate({ tokens: prompt }, { maxTokens: 6, logprobs: 5 });
    expect(g.logprobs).toHaveLength(g.tokens.length);
    for (const [t, r] of (g.logprobs ?? []).entries()) {
      expect(r.id).toBe(g.tokens[t]);
      expect(r.top).toHaveLength(5);
      expect(r.top[0].id).toBe(r.id);
      expect(r.top[0].logprob).toBe(r.logprob);
      for (let j = 1; j < 5; j++) expect(r.top[j].logprob).toBeLessThanOrEqual(r.top[j - 1].logprob);
      expect(r.text).toBe(model.tokenizer.decode([r.id]));
      const reference = await referenceLogprobs([...prompt, ...g.tokens.slice(0, t)]);
      expect(r.top.map((a) => a.id)).toEqual(ranked(reference).slice(0, 5));
      for (const a of r.top) expect(a.logprob).toBeCloseTo(reference[a.id], 4);
    }
  });

  it('sums to one over the whole vocabulary (the engine asked for all 260 alternatives)', async () => {
    const control = new (native().NativeControl)(1);
    const out = await nativeHandle(model).generate({ prompts: [model.encodePrompt('hi')], maxTokens: 4, temperature: 1, seed: 1, logprobs: 260 }, control);
    const s = out.sequences[0];
    expect(s.topIds?.length).toBe(4 * 260);
    for (let t = 0; t < 4; t++) {
      const ids = [...(s.topIds ?? []).subarray(t * 260, (t + 1) * 260)];
      const values = [...(s.topLogprobs ?? []).subarray(t * 260, (t + 1) * 260)];
      expect(new Set(ids).size).toBe(260); // every token once
      expect(values.reduce((sum, v) => sum + Math.exp(v), 0)).toBeCloseTo(1, 4);
      expect(values[ids.indexOf(s.tokens[t])]).toBe(s.logprobs?.[t]); // the chosen token's value is its entry
    }
  });

  it('are taken before temperature, as mlx-lm does: a sampled reply at temperature 3 reports the temperature-1 distribution, with its bias', async () => {
    const prompt = model.encodePrompt('hi');
    const bias = { [Z]: 3 };
    const g = await model.generate({ tokens: prompt }, { maxTokens: 5, temperature: 3, seed: 11, logprobs: 2, logitBias: bias });
    for (const [t, r] of (g.logprobs ?? []).entries()) {
      const reference = await referenceLogprobs([...prompt, ...g.tokens.slice(0, t)], bias);
      expect(r.logprob).toBeCloseTo(reference[r.id], 4);
      expect(r.top[0].logprob).toBeCloseTo(Math.max(...reference), 4);
    }
  });

  it('batched rows equal single runs; a stop string cuts them with the tokens; stream() has them in its result', async () => {
    const batch = await model.generateBatch(PROMPTS, { maxTokens: 8, logprobs: 3 });
    for (const [i, p] of PROMPTS.entries()) {
      const one = await model.generate(p, { maxTokens: 8, logprobs: 3 });
      expect(batch[i].tokens).toEqual(one.tokens);
      for (const [t, r] of (one.logprobs ?? []).entries()) {
        expect(batch[i].logprobs?.[t].top.map((a) => a.id)).toEqual(r.top.map((a) => a.id));
        expect(batch[i].logprobs?.[t].logprob).toBeCloseTo(r.logprob, 5);
      }
    }
    const forced = await model.generate('hi', { maxTokens: 8, logitBias: { [Z]: 1e6 }, stop: ['zzz'], logprobs: 1 });
    expect(forced.finishReason).toBe('stop');
    expect(forced.logprobs).toHaveLength(forced.tokens.length);
    const stream = model.stream('hi', { maxTokens: 4, logprobs: 2 });
    for await (const _ of stream) {
      // drain
    }
    const result = await stream.result;
    expect(result.logprobs?.map((r) => r.id)).toEqual(result.tokens);
  });

  it("under a grammar they are the masked distribution: only the allowed tokens, carrying all the mass", async () => {
    // Byte tokens only (no merges): '[a-c]{5}' allows exactly a, b, c at each of the 5 steps.
    const g = await model.generate('hello there', { maxTokens: 10, logprobs: 5, grammar: { regex: '[a-c]{5}' } });
    expect(g.logprobs).toHaveLength(5);
    for (const r of g.logprobs ?? []) {
      expect(r.top.map((a) => a.text).sort()).toEqual(['a', 'b', 'c']); // the masked (-inf) ones are left out
      expect(r.top.reduce((sum, a) => sum + Math.exp(a.logprob), 0)).toBeCloseTo(1, 5);
    }
  });

  it('logprobs past 20 are refused before any token', async () => {
    await expect(model.generate('hi', { logprobs: 21 })).rejects.toThrow('logprobs must be a whole number from 0 to 20 (the alternatives per token), got 21');
  });
});

describe('XTC sampling', () => {
  it('with probability 1 the top token is never taken while two or more are above the threshold (and often is without XTC)', async () => {
    const threshold = 0.02;
    let tested = 0;
    let topTakenWithout = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const options: GenerateOptions = { maxTokens: 16, temperature: 1, seed, logprobs: 2, xtcSpecialTokens: [] };
      const g = await model.generate('hello there', { ...options, xtcProbability: 1, xtcThreshold: threshold });
      for (const r of g.logprobs ?? []) {
        if (Math.exp(r.top[1].logprob) <= threshold) continue;
        tested++;
        expect(r.id).not.toBe(r.top[0].id);
      }
      const free = await model.generate('hello there', options);
      topTakenWithout += (free.logprobs ?? []).filter((r) => r.id === r.top[0].id && Math.exp(r.top[1].logprob) > threshold).length;
    }
    expect(tested).toBeGreaterThan(10);
    expect(topTakenWithout).toBeGreaterThan(0); // the property is XTC's, not the model's
  });

  it('keeps the special tokens: EOS and newline by default, or the ids given', async () => {
    // Threshold 0: every token but the least likely is above it, so XTC leaves only that one and
    // the kept tokens. A bias makes EOS the top choice by far: kept, it is (almost surely) taken.
    for (const seed of [1, 2, 3]) {
      const kept = await model.generate('hi', { maxTokens: 4, temperature: 1, seed, xtcProbability: 1, xtcThreshold: 0, logitBias: { [EOS]: 30 } });
      expect(kept.finishReason).toBe('eos');
      expect(kept.tokens).toEqual([]);
      const removed = await model.generate('hi', { maxTokens: 4, temperature: 1, seed, xtcProbability: 1, xtcThreshold: 0, logitBias: { [EOS]: 30 }, xtcSpecialTokens: [] });
      expect(removed.tokens.length).toBeGreaterThan(0); // EOS was excluded
      const newline = await model.generate('hi', { maxTokens: 3, temperature: 1, seed, xtcProbability: 1, xtcThreshold: 0, logitBias: { [NEWLINE]: 30 } });
      expect(newline.tokens).toEqual([NEWLINE, NEWLINE, NEWLINE]);
      const chosen = await model.generate('hi', { maxTokens: 3, temperature: 1, seed, xtcProbability: 1, xtcThreshold: 0, logitBias: { [Z]: 30 }, xtcSpecialTokens: [Z] });
      expect(chosen.text).toBe('zzz');
    }
  });

  it('greedy ignores XTC (as mlx-lm); a seed repeats a run; probability 0 changes nothing', async () => {
    const greedy = await model.generate('hello there', { maxTokens: 10 });
    expect((await model.generate('hello there', { maxTokens: 10, xtcProbability: 1, xtcThreshold: 0 })).tokens).toEqual(greedy.tokens);
    const a = await model.generate('hello there', { maxTokens: 10, temperature: 1, seed: 9, xtcProbability: 0.5 });
    const b = await model.generate('hello there', { maxTokens: 10, temperature: 1, seed: 9, xtcProbability: 0.5 });
    expect(a.tokens).toEqual(b.tokens);
    const off = await model.generate('hello there', { maxTokens: 10, temperature: 1, seed: 9, xtcProbability: 0 });
    const plain = await model.generate('hello there', { maxTokens: 10, temperature: 1, seed: 9 });
    expect(off.tokens).toEqual(plain.tokens);
  });

  it('bad XTC options are E_ARGUMENT before any token', async () => {
    await expect(model.generate('hi', { temperature: 1, xtcProbability: 1, xtcThreshold: 0.9 })).rejects.toThrow('xtcThreshold must be a number from 0 to 0.5, got 0.9');
    await expect(model.generate('hi', { temperature: 1, xtcProbability: 1, xtcSpecialTokens: [300] })).rejects.toThrow(/xtcSpecialTokens\[0\]: token id 300 is out of range/);
  });
});
