// The checks and layout of logitBias, logprobs and the XTC options (src/model/sampling-options.ts),
// without the addon: every bad value is E_ARGUMENT naming the option and the id, and what the
// engine gets is exactly what was asked.
import { describe, expect, it } from 'vitest';
import { MlxLabError } from '../../src/core/errors.js';
import { logitBiasArrays, readLogprobs, samplingExtras } from '../../src/model/sampling-options.js';

const V = 260;
const none = () => [];

/** The E_ARGUMENT message of `f` (fails the test when it does not throw one). */
function argumentError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(MlxLabError);
    expect((err as MlxLabError).code).toBe('E_ARGUMENT');
    return (err as Error).message;
  }
  throw new Error('no error');
}

describe('logitBias', () => {
  it('lays an object (JSON keys) or a Map out as parallel ids and float32 values', () => {
    const { ids, values } = logitBiasArrays({ 17: -100, '42': 2.5 }, V);
    expect([...ids]).toEqual([17, 42]);
    expect([...values]).toEqual([-100, 2.5]);
    const map = logitBiasArrays(new Map([[259, 1e30]]), V);
    expect([...map.ids]).toEqual([259]);
    expect(map.values[0]).toBeCloseTo(1e30, -25);
    expect(samplingExtras({ logitBias: {} }, V, none)).toEqual({}); // nothing to send
  });

  it('names the id: out of range, negative, not a whole number; and the bias: not finite, too large, not a number', () => {
    expect(argumentError(() => logitBiasArrays({ 260: 1 }, V))).toBe("logitBias: token id 260 is out of range: the model's vocabulary has 260 tokens (ids 0 to 259)");
    expect(argumentError(() => logitBiasArrays({ '-1': 1 }, V))).toBe('logitBias: token id "-1" is not a whole number >= 0');
    expect(argumentError(() => logitBiasArrays({ '1.5': 1 }, V))).toBe('logitBias: token id "1.5" is not a whole number >= 0');
    expect(argumentError(() => logitBiasArrays(new Map([[Number.NaN, 1]]), V))).toBe('logitBias: token id NaN is not a whole number >= 0');
    expect(argumentError(() => logitBiasArrays({ 5: Number.NaN }, V))).toBe('logitBias: the bias of token 5 must be a finite number, got NaN');
    expect(argumentError(() => logitBiasArrays({ 5: -Infinity }, V))).toBe('logitBias: the bias of token 5 must be a finite number, got -Infinity');
    expect(argumentError(() => logitBiasArrays({ 5: '3' }, V))).toBe('logitBias: the bias of token 5 must be a finite number, got "3"');
    expect(argumentError(() => logitBiasArrays({ 5: 1e39 }, V))).toMatch(/^logitBias: the bias of token 5 is 1e\+39, past ±1e\+30/);
    expect(argumentError(() => logitBiasArrays([1, 2], V))).toMatch(/^logitBias: must be an object of token id → bias/);
    expect(argumentError(() => logitBiasArrays(null, V))).toMatch(/^logitBias: must be an object/);
  });
});

describe('logprobs and XTC', () => {
  it('logprobs: a whole number from 0 to 20 (or the vocabulary, when smaller)', () => {
    expect(samplingExtras({ logprobs: 0 }, V, none)).toEqual({ logprobs: 0 });
    expect(samplingExtras({ logprobs: 20 }, V, none)).toEqual({ logprobs: 20 });
    expect(argumentError(() => samplingExtras({ logprobs: 21 }, V, none))).toBe('logprobs must be a whole number from 0 to 20 (the alternatives per token), got 21');
    expect(argumentError(() => samplingExtras({ logprobs: 1.5 }, V, none))).toMatch(/got 1\.5$/);
    expect(argumentError(() => samplingExtras({ logprobs: 8 }, 5, none))).toMatch(/^logprobs must be a whole number from 0 to 5 /);
    expect(argumentError(() => samplingExtras({ logprobs: true as unknown as number }, V, none))).toMatch(/got true$/);
  });

  it('XTC: ranges as mlx-lm checks them; the default kept tokens only when XTC is on', () => {
    let asked = 0;
    const special = () => {
      asked++;
      return [258, 10, 999]; // 999: past this vocabulary, dropped
    };
    expect(samplingExtras({ xtcProbability: 0, xtcThreshold: 0.2 }, V, special)).toEqual({}); // off: nothing sent
    expect(asked).toBe(0);
    const on = samplingExtras({ xtcProbability: 0.5, xtcThreshold: 0.2 }, V, special);
    expect(on).toEqual({ xtcProbability: 0.5, xtcThreshold: 0.2, xtcSpecialTokens: Int32Array.from([258, 10]) });
    expect(samplingExtras({ xtcProbability: 1, xtcSpecialTokens: [] }, V, special)).toEqual({ xtcProbability: 1, xtcSpecialTokens: new Int32Array() });
    expect(asked).toBe(1);
    expect(argumentError(() => samplingExtras({ xtcProbability: 1.5 }, V, none))).toBe('xtcProbability must be a number from 0 to 1, got 1.5');
    expect(argumentError(() => samplingExtras({ xtcProbability: 1, xtcThreshold: 0.6 }, V, none))).toBe('xtcThreshold must be a number from 0 to 0.5, got 0.6');
    expect(argumentError(() => samplingExtras({ xtcThreshold: Number.NaN }, V, none))).toBe('xtcThreshold must be a number from 0 to 0.5, got NaN');
    expect(argumentError(() => samplingExtras({ xtcProbability: 1, xtcSpecialTokens: [3, 400] }, V, none))).toMatch(/^xtcSpecialTokens\[1\]: token id 400 is out of range/);
  });

  it('readLogprobs: one record per kept token (a stop string can cut the engine short), masked alternatives left out', () => {
    // Three tokens from the engine, k = 2; the reply kept two. Token 9 was masked at step 0.
    const raw = {
      logprobs: Float32Array.from([-0.5, -1, -2]),
      topIds: Int32Array.from([7, 9, 4, 3, 1, 2]),
      topLogprobs: Float32Array.from([-0.5, -Infinity, -0.75, -1, -0.125, -3]),
    };
    const records = readLogprobs([7, 3], 2, raw, (id) => `t${id}`);
    expect(records).toEqual([
      { id: 7, text: 't7', logprob: -0.5, top: [{ id: 7, text: 't7', logprob: -0.5 }] },
      { id: 3, text: 't3', logprob: -1, top: [{ id: 4, text: 't4', logprob: -0.75 }, { id: 3, text: 't3', logprob: -1 }] },
    ]);
    expect(readLogprobs([1], 0, { logprobs: Float32Array.from([-3]), topIds: new Int32Array(), topLogprobs: new Float32Array() }, String)).toEqual([{ id: 1, text: '1', logprob: -3, top: [] }]);
  });
});
