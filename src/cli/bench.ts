/**
 * `mlx-lab bench`: the benchmark harness (benchmarks/run.mjs) in a child process, with the same
 * options; it makes the mlx-lm virtualenvs and the SmolLM2 folder on first use.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { MlxLabError } from '../core/errors.js';

/** benchmarks/run.mjs of this package (dist/cli/ → the package root). */
export function harnessPath(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'benchmarks', 'run.mjs');
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('run the benchmarks (ours vs mlx-lm, bandwidth, scaling); writes benchmarks/RESULTS.md, results.html and results/<date>.json')
    .option('--quick', 'small sizes, 2 interleaved rounds: a smoke check (written to benchmarks/results/quick/)')
    .option('--only <names>', 'a comma-separated subset: matmul, generate, bandwidth, train, eval, scaling')
    .option('--skip-mlx-lm', 'ours only: no Python, no mlx-lm sides, no ratios')
    .option('--reps <n>', 'rounds, every side once per round, interleaved (default 3, 2 with --quick)')
    .option('--args <name=arguments>', 'extra arguments for one benchmark, e.g. "eval=--cases 9" (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--models-dir <dir>', 'where the random scaling models are written (default .cache/bench/models)')
    .option('--out-dir <dir>', 'where RESULTS.md and results.html go (default benchmarks/)')
    .action(async (opts: { quick?: boolean; only?: string; skipMlxLm?: boolean; reps?: string; args?: string[]; modelsDir?: string; outDir?: string }) => {
      const script = harnessPath();
      if (!existsSync(script)) throw new MlxLabError('E_ARGUMENT', `${script}: the benchmark harness is not in this installation`);
      const args = [
        ...(opts.quick ? ['--quick'] : []),
        ...(opts.only ? ['--only', opts.only] : []),
        ...(opts.skipMlxLm ? ['--skip-mlx-lm'] : []),
        ...(opts.reps ? ['--reps', opts.reps] : []),
        ...(opts.args ?? []).flatMap((a) => ['--args', a]),
        ...(opts.modelsDir ? ['--models-dir', resolve(opts.modelsDir)] : []),
        ...(opts.outDir ? ['--out-dir', resolve(opts.outDir)] : []),
      ];
      const code = await new Promise<number>((done) => {
        const child = spawn(process.execPath, [script, ...args], { cwd: join(dirname(script), '..'), stdio: 'inherit' });
        child.on('exit', (c, signal) => done(c ?? (signal ? 1 : 0)));
        child.on('error', () => done(1));
      });
      process.exitCode = code;
    });
}
