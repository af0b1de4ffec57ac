/**
 * The parsers of numeric command-line arguments, one place for every command. Each names its
 * flag in the error; commander prefixes "option '<flag> <n>' argument '<value>' is invalid.".
 * Blank values are refused everywhere (Number('') would read as 0).
 */
import { InvalidArgumentError, Option } from 'commander';
import { parseByteSize } from '../core/byte-size.js';
import { MlxLabError, type ErrorCode } from '../core/errors.js';
import { readRegularFile } from '../core/files.js';
import type { ComputeMode } from '../core/native.js';

/** The compute policies loadModel takes (LoadOptions.compute), in the order help lists them. */
export const COMPUTE_MODES: readonly ComputeMode[] = ['auto', 'native', 'float32', 'kernels'];

/** `--compute <mode>`: the compute policy of the loaded model (commander refuses other values, listing these). */
export function computeOption(): Option {
  return new Option('--compute <mode>', 'how weights are used for matmuls: auto (on CPU: our kernels on stored 4/8-bit weights, float32 copies of the others when they fit), native (MLX on the stored weights), float32 (copies of all), kernels').choices(COMPUTE_MODES).default('auto');
}

type Parser = (value: string) => number;

export interface NumberBounds {
  /** Whole numbers only. */
  int?: boolean;
  min?: number;
  max?: number;
}

/** A finite number (an integer with `int`) within the bounds: "<flag> must be a number / an integer / >= min / <= max". */
export function number(flag: string, bounds: NumberBounds = {}): Parser {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (bounds.int && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${flag} must be ${bounds.int ? 'an integer' : 'a number'}`);
    }
    if (bounds.min !== undefined && n < bounds.min) throw new InvalidArgumentError(`${flag} must be >= ${bounds.min}`);
    if (bounds.max !== undefined && n > bounds.max) throw new InvalidArgumentError(`${flag} must be <= ${bounds.max}`);
    return n;
  };
}

/** An integer written in decimal digits, with an optional sign: "<flag> must be an integer". */
export function integer(flag: string): Parser {
  return (value) => {
    if (!/^[-+]?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${flag} must be an integer`);
    return Number(value);
  };
}

/** A count of at least 1 written in decimal digits: "<flag> must be an integer >= 1". */
export function positiveInteger(flag: string): Parser {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < 1) throw new InvalidArgumentError(`${flag} must be an integer >= 1`);
    return n;
  };
}

/** A number in [0, 1]: "<flag> must be a number in [0, 1] (e.g. 0.8)". */
export function fraction(flag: string): Parser {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${flag} must be a number in [0, 1] (e.g. 0.8)`);
    return n;
  };
}

/** A byte count or a size such as 512M or 2GB (core/byte-size.ts): "<flag> must be a size such as 1000000, 512M or 2GB". */
export function byteSize(flag: string): Parser {
  return (value) => {
    const bytes = parseByteSize(value);
    if (bytes === undefined) throw new InvalidArgumentError(`${flag} must be a size such as 1000000, 512M or 2GB`);
    return bytes;
  };
}

/**
 * An option that takes its value inline or as a path to a file holding it: the text, and `where`
 * (the flag, plus the path when read from a file) for later errors. `isInline` tells the forms
 * apart; a path that cannot be read is an error as `code`, naming the flag and saying what
 * inline form (`kind`) was expected.
 */
export function inlineOrFile(arg: string, flag: string, isInline: (arg: string) => boolean, code: ErrorCode, kind: string): { text: string; where: string } {
  if (isInline(arg)) return { text: arg, where: flag };
  try {
    return { text: readRegularFile(arg, 'utf8'), where: `${flag} ${arg}` };
  } catch (cause) {
    if (cause instanceof MlxLabError) throw new MlxLabError(code, `${flag}: ${cause.message}`, { cause });
    throw new MlxLabError(code, `${flag}: "${arg}" is neither ${kind} nor a readable file (${(cause as Error).message})`, { cause });
  }
}
