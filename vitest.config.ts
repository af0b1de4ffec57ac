import { defineConfig } from 'vitest/config';

// MLX state is per process: run test files in forked processes, one at a time.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    // The default output, then how many tests were skipped and why (CI=true: unexpected skips fail).
    reporters: ['default', './test/setup/skip-report.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: false, maxForks: 1, minForks: 1 } },
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
