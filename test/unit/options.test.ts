// The command-line number parsers (src/cli/options.ts) and the byte-size parser they share with the
// config (src/core/byte-size.ts): each error names its flag.
import { describe, expect, it } from 'vitest';
import { byteSize, fraction, integer, number, positiveInteger } from '../../src/cli/options.js';
import { parseByteSize } from '../../src/core/byte-size.js';

describe('cli/options', () => {
  it('number: finite, integer when asked, within bounds; blank refused', () => {
    expect(number('--temp', { min: 0 })('0.7')).toBe(0.7);
    expect(() => number('--temp')('')).toThrow('--temp must be a number');
    expect(() => number('--temp')('warm')).toThrow('--temp must be a number');
    expect(() => number('--top-k', { int: true })('1.5')).toThrow('--top-k must be an integer');
    expect(() => number('--top-p', { max: 1 })('2')).toThrow('--top-p must be <= 1');
    expect(() => number('--seed', { min: 0 })('-1')).toThrow('--seed must be >= 0');
  });

  it('integer, positiveInteger and fraction', () => {
    expect(integer('--num-layers')('-1')).toBe(-1);
    expect(() => integer('--iters')('1e3')).toThrow('--iters must be an integer');
    expect(positiveInteger('--ranks')('2')).toBe(2);
    expect(() => positiveInteger('--ranks')('0')).toThrow('--ranks must be an integer >= 1');
    expect(() => positiveInteger('--batch-size')('1.5')).toThrow('--batch-size must be an integer >= 1');
    expect(fraction('--threshold')('0.8')).toBe(0.8);
    expect(() => fraction('--lock-threshold')('1.2')).toThrow('--lock-threshold must be a number in [0, 1] (e.g. 0.8)');
    expect(() => fraction('--threshold')(' ')).toThrow('--threshold must be a number in [0, 1]');
  });

  it('byte sizes as mlx-lm reads them (decimal M and G)', () => {
    expect(parseByteSize('1000000')).toBe(1_000_000);
    expect(parseByteSize('512M')).toBe(512_000_000);
    expect(parseByteSize(' 2gb ')).toBe(2_000_000_000);
    expect(parseByteSize('1.5G')).toBe(1_500_000_000);
    expect(parseByteSize('2 TB')).toBeUndefined();
    expect(byteSize('--clear-cache-threshold')('.5MB')).toBe(500_000);
    expect(() => byteSize('--clear-cache-threshold')('lots')).toThrow('--clear-cache-threshold must be a size such as 1000000, 512M or 2GB');
  });
});
