/**
 * A real tiny-model run with its live page: `mlx-lab train --ui` (the built CLI) on the tiny-chat
 * fixture model, tool-call chat data (toolRecords) and the tiny suite, format evals every few
 * steps. Used by the browser test (test/browser/ui-live.test.ts) and scripts/screenshot-ui.mjs.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parse, stringify } from 'yaml';
import { TINY_CHAT, TINY_SUITE, toolRecords } from './experiment.js';
import { ROOT } from './paths.js';

export interface UiRunOptions {
  /** Where the data, the config and the run folder (`<dir>/run`) go. */
  dir: string;
  iters: number;
  /** Format eval (and checkpoint) every this many steps, and once before training. */
  every: number;
  batchSize?: number;
  learningRate?: number;
  trainExamples?: number;
  maxTokens?: number;
  /** Stop early at this format score (default: train all `iters`). */
  target?: number;
}

export interface UiRun {
  /** The live page's address with its token. */
  url: string;
  runDir: string;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves once the run ended and the page stays open read-only. */
  ended: Promise<void>;
  /** Ctrl-C (the page closes, the process exits); resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Write the tool-call data and the YAML config of a tiny run into `o.dir`; the config's path. */
export function writeTinyRunConfig(o: UiRunOptions): string {
  const data = join(o.dir, 'data');
  mkdirSync(data, { recursive: true });
  const suitePrompts = (parse(readFileSync(TINY_SUITE, 'utf8')) as { cases: { prompt: string }[] }).cases.map((c) => c.prompt);
  const lines = (n: number, seed: number) => `${toolRecords(n, seed, suitePrompts).map((r) => JSON.stringify(r.value)).join('\n')}\n`;
  writeFileSync(join(data, 'train.jsonl'), lines(o.trainExamples ?? 60, 1));
  writeFileSync(join(data, 'valid.jsonl'), lines(8, 2));
  const config = {
    model: TINY_CHAT,
    data,
    fine_tune_type: 'full',
    optimizer_config: { adam: { bias_correction: true } },
    iters: o.iters,
    batch_size: o.batchSize ?? 4,
    learning_rate: o.learningRate ?? 2e-3,
    num_layers: -1,
    steps_per_report: Math.max(1, Math.floor(o.every / 2)),
    steps_per_eval: o.every,
    save_every: o.every,
    val_batches: 1,
    seed: 1,
    eval: { suite: TINY_SUITE, every: o.every, max_tokens: o.maxTokens ?? 16, at_start: true },
    ...(o.target === undefined ? {} : { early_stopping: { metric: 'format_score', target: o.target, patience: null, min_delta: 0, warmup: 0 } }),
    selection: { metric: 'format_score', rule: 'best' },
  };
  const file = join(o.dir, 'config.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

/** Start `mlx-lab train --ui` on a tiny run; resolves once the page's URL is printed. */
export function startUiRun(o: UiRunOptions, timeoutMs = 120_000): Promise<UiRun> {
  const config = writeTinyRunConfig(o);
  const runDir = join(o.dir, 'run');
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'train', '-c', config, '--adapter-path', runDir, '--ui', '--json'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exit = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const ended = new Promise<void>((done, fail) => {
    const check = () => out.includes('the page stays open read-only') && done();
    child.stdout.on('data', (d) => ((out += d), check()));
    child.stderr.on('data', (d) => ((out += d), check()));
    void exit.then((code) => fail(new Error(`mlx-lab train --ui exited (${code}) before the run ended:\n${out.slice(-4000)}`)));
  });
  ended.catch(() => {});
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no live page URL within ${timeoutMs} ms:\n${out.slice(-4000)}`));
    }, timeoutMs);
    const look = () => {
      const m = /live page \(live\): (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stderr.off('data', look);
      resolve({
        url: m[1],
        runDir,
        output: () => out,
        ended,
        stop: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
          return exit;
        },
      });
    };
    child.stderr.on('data', look);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`mlx-lab train --ui exited (${code}) before printing the page's URL:\n${out.slice(-4000)}`));
    });
  });
}

/** The format events of a run folder's metrics log, in order. */
export function formatEvents(runDir: string): { iteration: number; replies?: Record<string, string> }[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { event: string; iteration: number; replies?: Record<string, string> })
    .filter((e) => e.event === 'format');
}
