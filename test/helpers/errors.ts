import { expect } from 'vitest';
import { MlxLabError } from '../../src/core/errors.js';

/** Run fn, expect an MlxLabError with `code` whose message matches every part; return it. */
export function expectError(fn: () => unknown, code: string, ...parts: (string | RegExp)[]): MlxLabError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an error').toBeInstanceOf(MlxLabError);
  const e = caught as MlxLabError;
  expect(e.code).toBe(code);
  for (const p of parts) expect(e.message).toMatch(p);
  return e;
}

/** Await `promise`, expect it to reject with an MlxLabError, and return that error. */
export async function rejects(promise: Promise<unknown>): Promise<MlxLabError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(MlxLabError);
    return err as MlxLabError;
  }
  throw new Error('expected a rejection');
}
