// Ctrl-C and SIGTERM for the long commands besides train (test/cli/train.test.ts): sweep, eval,
// fuse, convert and demo stop within 5 s of the signal with a clear message and exit 130 / 143,
// and leave nothing half-written (no temporary files, no partial output folder, logs that parse).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { findLatestCheckpoint } from '../../src/train/checkpoints.js';
import { parseMetrics } from '../../src/run/metrics.js';
import { temporaryFolders } from '../../src/convert/fuse.js';
import { runCli, runInterrupted, type InterruptedRun } from '../helpers/cli.js';
import { FIXTURES, ROOT, modelDir } from '../helpers/paths.js';
import { SMOLLM2_GGUF, SMOLLM2_MISSING } from '../helpers/smollm2.js';
import { describeOrSkip } from '../helpers/skip.js';
import { tmpDir } from '../helpers/train.js';

const TINY_CHAT = modelDir('tiny-chat');
const DATA = join(FIXTURES, 'data', 'folder');
const SUITE = join(FIXTURES, 'eval', 'tiny-suite.yaml');
const CODES = { SIGINT: 130, SIGTERM: 143 } as const;
const STOP_WITHIN_MS = 5000;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const dir = () => {
  const d = tmpDir('mlxlab-signals-');
  dirs.push(d);
  return d;
};

/** Every temporary file or folder (".tmp-" in its name) below `root`. */
function temporaries(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((p) => p.includes('.tmp-'));
}

/**
 * The exit, the stop time and the messages every interrupted command must show. `deadline`: the
 * command may also have ended by the signal itself after its grace period (the shell then
 * reports the same 130 / 143).
 */
function expectStopped(r: InterruptedRun, signal: keyof typeof CODES, message: RegExp, deadline = false): void {
  expect(r.stopMs, 'the signal was sent').toBeDefined();
  expect(r.stderr).toContain(`${signal} received`);
  const quit = deadline && r.signal === signal;
  if (quit) expect(r.stderr).toMatch(new RegExp(`still busy 4 s after ${signal}; quitting now`));
  else expect(r.stderr).toMatch(message);
  if (!quit) expect(r.code).toBe(CODES[signal]);
  expect(r.stopMs!).toBeLessThan(STOP_WITHIN_MS);
  console.log(`${r.stderr.match(/mlx-lab: (\S+) received: (.*?) \(/)?.slice(1).join(': ')}: stopped in ${r.stopMs!.toFixed(0)} ms (${quit ? 'deadline' : `exit ${r.code}`})`);
}

/** Run a script (ESM, run from the repository root) that uses the built CLI helpers. */
function nodeScript(code: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (c, sig) => resolve({ code: c, signal: sig, stderr }));
  });
}

describe('onInterrupt', () => {
  const script = (workMs: number) => `
    import { onInterrupt } from './dist/cli/signals.js';
    const controller = new AbortController();
    const interrupt = onInterrupt(controller, 'the work stops', { graceMs: 1000 });
    setTimeout(() => process.kill(process.pid, 'SIGTERM'), 50);
    const busy = setInterval(() => {}, 1000); // the pending work keeps the process alive
    // Work that notices the abort only after ${workMs} ms (one long native call, say).
    await new Promise((resolve) => controller.signal.addEventListener('abort', () => setTimeout(resolve, ${workMs})));
    clearInterval(busy);
    try { throw new Error('aborted'); } catch (err) { interrupt.settle(err, 'work interrupted'); } finally { interrupt.dispose(); }`;

  it('work that stops within the grace period exits 143 with the message', async () => {
    const r = await nodeScript(script(100));
    expect(r.stderr).toContain('SIGTERM received: the work stops');
    expect(r.stderr).toContain('mlx-lab: work interrupted');
    expect(r.code).toBe(143);
  });

  it('work that does not stop within the grace period ends by the signal (the shell reports 143)', async () => {
    const r = await nodeScript(script(5000));
    expect(r.stderr).toContain('still busy 1 s after SIGTERM; quitting now');
    expect(r.stderr).not.toContain('work interrupted');
    expect(r.signal).toBe('SIGTERM');
  });
});

describe('interrupting sweep and eval (tiny-chat)', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('sweep: %s stops the current run with a checkpoint and writes the sweep report', async (signal) => {
    const out = join(dir(), 'sweep');
    const r = await runInterrupted(
      ['sweep', '--model', TINY_CHAT, '--data', DATA, '--iters', '100000', '--batch-size', '2', '--num-layers', '-1', '--seeds', '1,2', '--save-every', '1000', '--no-lint', '--adapter-path', out, '--json'],
      signal,
      (output) => /"event":"step","iteration":3\b/.test(output),
    );
    expectStopped(r, signal, /sweep interrupted; 1 of 2 runs reported/);
    const run = join(out, 'seed-1');
    const stopped = JSON.parse(r.stdout.trim().split('\n').find((l) => l.includes('"event":"stop"'))!).train;
    expect(stopped).toMatchObject({ reason: 'aborted' });
    expect(findLatestCheckpoint(run)).toBe(join(run, `${String(stopped.iteration).padStart(7, '0')}_state.safetensors`));
    expect(JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')).runs).toHaveLength(1);
    expect(parseMetrics(readFileSync(join(run, 'metrics.jsonl'), 'utf8')).torn).toBeUndefined();
    expect(existsSync(join(out, 'seed-2'))).toBe(false);
    expect(temporaries(out)).toEqual([]);
  });

  it('eval: SIGINT stops the decode and prints no partial result', async () => {
    // 3,000 tokens per case take the tiny model several seconds: the signal lands mid-decode.
    const r = await runInterrupted(['eval', '--model', TINY_CHAT, '--suite', SUITE, '--max-tokens', '3000', '--json'], 'SIGINT', (_output, ms) => ms > 1500);
    expectStopped(r, 'SIGINT', /eval interrupted; no result was printed/, true);
    expect(r.stdout).toBe('');
  });
});

describeOrSkip(SMOLLM2_MISSING, 'interrupting fuse, convert and demo (SmolLM2)', () => {
  let adapter: string;
  beforeAll(async () => {
    adapter = join(dir(), 'adapter');
    const r = await runCli(['train', '--model', SMOLLM2_GGUF, '--data', DATA, '--iters', '1', '--batch-size', '1', '--num-layers', '2', '--adapter-path', adapter], { timeoutMs: 170_000 });
    expect(r.code, r.stderr).toBe(0);
  }, 180_000);

  it('fuse: SIGTERM stops at the next layer; the output folder never appears', async () => {
    const out = join(dir(), 'fused');
    const r = await runInterrupted(['fuse', '--model', SMOLLM2_GGUF, '--adapter-path', adapter, '--save-path', out, '--dequantize'], 'SIGTERM', (output) => output.includes('loading '));
    expectStopped(r, 'SIGTERM', new RegExp(`fuse interrupted; ${out} was not written`), true);
    expect(existsSync(out)).toBe(false);
    expect(temporaryFolders(out)).toEqual([]);
  });

  it('convert: SIGINT stops at the next layer; the output folder never appears', async () => {
    const out = join(dir(), 'converted');
    const r = await runInterrupted(['convert', '--model', SMOLLM2_GGUF, '--mlx-path', out, '--dequantize'], 'SIGINT', (output) => output.includes('loading '));
    expectStopped(r, 'SIGINT', new RegExp(`convert interrupted; ${out} was not written`), true);
    expect(existsSync(out)).toBe(false);
    expect(temporaryFolders(out)).toEqual([]);
  });

  it('demo: SIGTERM during the baseline eval stops it; nothing is fused', async () => {
    const out = dir();
    let evalStarted: number | undefined;
    const r = await runInterrupted(['demo', '--dir', out, '--train-examples', '20', '--iters', '4'], 'SIGTERM', (output, ms) => {
      if (evalStarted === undefined && output.includes('[3/7]')) evalStarted = ms;
      return evalStarted !== undefined && ms > evalStarted + 1000;
    }, { timeoutMs: 170_000 });
    expectStopped(r, 'SIGTERM', /demo interrupted/, true);
    expect(existsSync(join(out, 'model', 'config.json'))).toBe(true); // converted before the signal, whole
    expect(existsSync(join(out, 'fused'))).toBe(false);
    expect(temporaries(out)).toEqual([]);
  }, 180_000);
});
