import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './paths.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the built CLI (dist/cli/main.js) in a fresh process. */
export async function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const { code, signal, stdout, stderr } = await runInterrupted(args, 'SIGINT', () => false, options);
  return { code, signal, stdout, stderr };
}

export interface InterruptedRun extends CliResult {
  /** Milliseconds from the signal to the exit (undefined when the signal was never sent). */
  stopMs?: number;
}

/**
 * Run the CLI and send `signal` once `ready(output, ms)` is true of its output so far (stdout and
 * stderr together) and the milliseconds since the start, i.e. once it shows progress (checked on
 * output and every 100 ms); resolves with the exit and how long it took after the signal.
 */
export function runInterrupted(
  args: string[],
  signal: NodeJS.Signals,
  ready: (output: string, ms: number) => boolean,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<InterruptedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let sentAt: number | undefined;
    const startedAt = performance.now();
    const check = () => {
      if (sentAt === undefined && ready(stdout + stderr, performance.now() - startedAt)) {
        sentAt = performance.now();
        child.kill(signal);
      }
    };
    const poll = setInterval(check, 100);
    child.stdout.on('data', (d) => {
      stdout += d;
      check();
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      check();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({ code, signal: sig, stdout, stderr, stopMs: sentAt === undefined ? undefined : performance.now() - sentAt });
    });
  });
}
