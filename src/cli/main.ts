#!/usr/bin/env node
/** The `mlx-lab` command: one file per sub-command, errors printed without stack traces. */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { MlxLabError, ioError } from '../core/errors.js';
import { generateCommand } from './generate.js';
import { cachePromptCommand } from './cache-prompt.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { pairsCommand } from './pairs.js';
import { selectCommand } from './select.js';
import { reportCommand } from './report.js';
import { sweepCommand } from './sweep.js';
import { fuseCommand } from './fuse.js';
import { convertCommand } from './convert.js';
import { uploadCommand } from './upload.js';
import { demoCommand } from './demo.js';
import { launchCommand } from './launch.js';
import { benchCommand } from './bench.js';
import { uiCommand } from './ui.js';
import { guardDrain } from './drain.js';
import { setDefaultHubProgress } from '../hub/progress.js';
import { hubProgressBar } from './hub-progress.js';

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
  program.addCommand(cachePromptCommand());
  program.addCommand(trainCommand());
  program.addCommand(evalCommand());
  program.addCommand(pairsCommand());
  program.addCommand(selectCommand());
  program.addCommand(sweepCommand());
  program.addCommand(reportCommand());
  program.addCommand(uiCommand());
  program.addCommand(fuseCommand());
  program.addCommand(convertCommand());
  program.addCommand(uploadCommand());
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

/**
 * Print an error the way users need it: code and message, never a stack (the stack only with
 * DEBUG=mlx-lab). Node I/O errors get their E_ codes (ioError); anything else is E_INTERNAL.
 */
export function reportError(err: unknown): number {
  const e = ioError(err);
  const debug = process.env.DEBUG?.includes('mlx-lab');
  if (e instanceof MlxLabError) {
    process.stderr.write(`mlx-lab: error ${e.code}: ${e.message}\n`);
    if (debug) process.stderr.write(`${e.stack}\n`);
    return e.code === 'E_ABORTED' ? 130 : 1;
  }
  const message = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  process.stderr.write(`mlx-lab: error E_INTERNAL: ${message} (an mlx-lab bug: please report it; DEBUG=mlx-lab prints the stack)\n`);
  if (debug) process.stderr.write(`${(e as Error)?.stack}\n`);
  return 1;
}

// An error thrown outside the command's promise (a timer, a stream callback) is still a coded error.
process.on('uncaughtException', (err) => {
  process.exit(reportError(err));
});

setDefaultHubProgress(hubProgressBar());
const work = buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.exitCode = reportError(err);
  });
guardDrain(work, `mlx-lab ${process.argv.slice(2, 3).join(' ') || ''}`.trim());
