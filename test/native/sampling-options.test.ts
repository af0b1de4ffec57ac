// Logit bias on the tiny chat model (random weights, vocabulary 260, float32),
// checked against references computed here from the model's own logits (model.logits()).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type GenerateOptions, type Model } from '../../src/model/model.js';
import { modelDir } from '../helpers/paths.js';

const PROMPTS = ['hello there', 'hi', 'what is 2+2? tell me now'];
const Z = 'z'.charCodeAt(0); // the tiny tokenizer's byte tokens: id = byte value

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
