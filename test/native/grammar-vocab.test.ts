// The vocabulary the grammar engine gets from a real tokenizer: the SmolLM2 GGUF (its tokenizer
// read from the GGUF, a byte-level BPE with merges) answers under a schema with JSON that fits.
// (A tokenizer larger than the model's vocabulary is refused when the model loads.)
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { SMOLLM2_GGUF, SMOLLM2_MISSING } from '../helpers/smollm2.js';

describe('grammar vocabularies', () => {
  it('SmolLM2 (GGUF tokenizer) under a schema answers with JSON that fits', async (ctx) => {
    ctx.skip(SMOLLM2_MISSING !== undefined, SMOLLM2_MISSING);
    const model = await loadModel(SMOLLM2_GGUF);
    try {
      const schema = { type: 'object', properties: { city: { type: 'string' }, country: { type: 'string' } }, required: ['city', 'country'], additionalProperties: false };
      const g = await model.generate('The capital of France, as JSON.', { maxTokens: 40, grammar: { jsonSchema: schema } });
      const value = JSON.parse(g.text);
      expect(Object.keys(value).sort()).toEqual(['city', 'country']);
      expect(g.finishReason).toBe('eos');
    } finally {
      model.dispose();
    }
  });
});
