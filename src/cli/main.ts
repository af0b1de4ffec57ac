#!/usr/bin/env node
/** The `mlx-lab` command: one file per sub-command, errors printed without stack traces. */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { MlxLabError } from '../errors.js';
import { generateCommand } from './generate.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { selectCommand } from './select.js';
import { reportCommand } from './report.js';
import { sweepCommand } from './sweep.js';
import { fuseCommand } from './fuse.js';
import { convertCommand } from './convert.js';
import { demoCommand } from './demo.js';
import { launchCommand } from './launch.js';
import { benchCommand } from './bench.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command('mlx-lab')
    .description('LoRA fine-tuning, format evals, fusing and generation with MLX, in one Node process')
    .version(version)
    .showHelpAfterError()
    .enablePositionalOptions();
  program.addCommand(demoCommand());
  program.addCommand(generateCommand());
  program.addCommand(trainCommand());
  program.addCommand(evalCommand());
  program.addCommand(selectCommand());
  program.addCommand(sweepCommand());
  program.addCommand(reportCommand());
  program.addCommand(fuseCommand());
  program.addCommand(convertCommand());
  program.addCommand(launchCommand());
  usageErrorsAsArgumentErrors(program);
  program.addCommand(benchCommand());
  return program;
}

/** Commander's usage errors (bad flag values, missing options) in the same form as ours: E_ARGUMENT. */
function usageErrorsAsArgumentErrors(command: Command): void {
  command.configureOutput({ outputError: (text, write) => write(`mlx-lab: error E_ARGUMENT: ${text.replace(/^error: /, '')}`) });
  for (const sub of command.commands) usageErrorsAsArgumentErrors(sub);
}

/** Print an error the way users need it: code and message; the stack only with DEBUG=mlx-lab. */
export function reportError(err: unknown): number {
  if (err instanceof MlxLabError) {
    process.stderr.write(`mlx-lab: error ${err.code}: ${err.message}\n`);
    if (process.env.DEBUG?.includes('mlx-lab')) process.stderr.write(`${err.stack}\n`);
    return err.code === 'E_ABORTED' ? 130 : 1;
  }
  process.stderr.write(`mlx-lab: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.exitCode = reportError(err);
  });
