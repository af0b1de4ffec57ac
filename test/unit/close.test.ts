// The comparison helper of the parity tests (test/helpers/close.ts): the deviation is relative to
// the reference's largest magnitude, named arrays compare name by name, NaN never passes.
import { describe, expect, it } from 'vitest';
import { relDeviation } from '../helpers/close.js';

describe('relDeviation', () => {
  it('is max|got − want| / max|want|, the same at any scale', () => {
    expect(relDeviation([1, 2, 4.004], [1, 2, 4])).toBeCloseTo(1e-3, 12);
    expect(relDeviation([1e3, 2e3, 4.004e3], [1e3, 2e3, 4e3])).toBeCloseTo(1e-3, 12);
    expect(relDeviation(2.002, 2)).toBeCloseTo(1e-3, 12);
    expect(relDeviation([0, 0], [0, 0])).toBe(0);
  });

  it('takes the worst of named arrays, each against its own scale', () => {
    const got = { big: [100, 200], small: [0.011, 0.02] };
    const want = { big: [100, 200], small: [0.01, 0.02] };
    expect(relDeviation(got, want)).toBeCloseTo(0.05, 12);
    expect(relDeviation({ a: { data: [1, 2] } }, { a: { data: [1, 2] } })).toBe(0);
  });

  it('never passes NaN, a zero reference with a difference, or arrays that do not pair up', () => {
    expect(relDeviation([1, NaN], [1, 2])).toBe(Infinity);
    expect(relDeviation([1e-9], [0])).toBe(Infinity);
    expect(() => relDeviation([1, 2], [1])).toThrow(/length 2 != 1/);
    expect(() => relDeviation({ a: [1] }, { b: [1] })).toThrow(/"a" has nothing to compare against/);
    expect(() => relDeviation({ a: [1] }, { a: [1], b: [2] })).toThrow(/compared 1 arrays against 2/);
  });
});
