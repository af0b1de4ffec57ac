// Skips that say why. A suite that cannot run here (a model not cached, another platform) is
// declared with describeOrSkip(reason, …): its tests are reported as skipped with that reason by
// test/setup/skip-report.ts, which lists every skip after a run and, with CI=true, fails the run
// on a skip that test/expected-skips.json does not list.
import { describe } from 'vitest';
import { getCurrentSuite } from 'vitest/suite';

/** describe(name, factory), or, when `skipReason` is set, the same suite skipped with that reason. */
export function describeOrSkip(skipReason: string | undefined, name: string, factory: () => void): void {
  describe.skipIf(skipReason !== undefined)(name, () => {
    if (skipReason !== undefined) getCurrentSuite().suite!.meta.skipReason = skipReason;
    factory();
  });
}

/** `reason` when `missing`, else undefined: the skipReason of describeOrSkip. */
export const unless = (available: boolean, reason: string): string | undefined => (available ? undefined : reason);

declare module '@vitest/runner' {
  interface TaskMeta {
    /** Why describeOrSkip skipped this suite. */
    skipReason?: string;
  }
}
