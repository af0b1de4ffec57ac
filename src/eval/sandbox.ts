/**
 * User scorer files run in a worker thread, never in the main thread: a scorer that loops
 * forever, never settles its promise or allocates without bound cannot block the event loop
 * (signals keep working) or take the process down. Each call has a time budget (a runaway is
 * terminated: E_SCORER_TIMEOUT) and the worker a heap limit (E_SCORER_MEMORY); either way the
 * case scores 0 with the error recorded (scoreCase), and the next call starts a fresh worker.
 * Budgets: MLX_LAB_SCORER_TIMEOUT_MS (default 10000 per call, module load included) and
 * MLX_LAB_SCORER_MEMORY_MB (default 256), or loadScorerFile's options.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MlxLabError } from '../core/errors.js';

export interface SandboxLimits {
  /** Milliseconds per call (and for loading the module). */
  timeoutMs?: number;
  /** The worker's heap limit in MB. */
  memoryMb?: number;
}

export const DEFAULT_SCORER_TIMEOUT_MS = 10_000;
export const DEFAULT_SCORER_MEMORY_MB = 256;

function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** The limits in force: options, then the environment, then the defaults. */
export function sandboxLimits(limits: SandboxLimits = {}): Required<SandboxLimits> {
  return {
    timeoutMs: limits.timeoutMs ?? envNumber('MLX_LAB_SCORER_TIMEOUT_MS', DEFAULT_SCORER_TIMEOUT_MS),
    memoryMb: limits.memoryMb ?? envNumber('MLX_LAB_SCORER_MEMORY_MB', DEFAULT_SCORER_MEMORY_MB),
  };
}

// The worker: load the module (TypeScript through jiti), find the scorer, answer calls. The
// one place that decides what a scorer module exports (default, score, default.score...).
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
function pick(m) {
  if (!isObject(m) && typeof m !== 'function') return undefined;
  if (typeof m.default === 'function') return m.default;
  if (typeof m.score === 'function') return m.score;
  if (isObject(m.default) && typeof m.default.score === 'function') return m.default.score;
  if (isObject(m.default) && typeof m.default.default === 'function') return m.default.default;
  return undefined;
}
const message = (e) => (e && typeof e.message === 'string' ? e.message : String(e));
(async () => {
  let mod;
  try {
    if (workerData.jiti) {
      const { createJiti } = await import(workerData.jiti);
      mod = await createJiti(workerData.url, { fsCache: false, moduleCache: false }).import(workerData.file);
    } else {
      mod = await import(workerData.url);
    }
  } catch (e) {
    return parentPort.postMessage({ type: 'load-error', message: message(e) });
  }
  const fn = pick(mod);
  if (!fn) return parentPort.postMessage({ type: 'no-scorer' });
  parentPort.on('message', async ({ id, input }) => {
    try {
      const out = await fn(input);
      parentPort.postMessage({ type: 'result', id, out });
    } catch (e) {
      parentPort.postMessage({ type: 'error', id, message: message(e) });
    }
  });
  parentPort.postMessage({ type: 'ready' });
})();
`;

type Reply = { type: 'ready' | 'no-scorer' } | { type: 'load-error'; message: string } | { type: 'result'; id: number; out: unknown } | { type: 'error'; id: number; message: string };

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** One user scorer module in its own worker thread. */
export class ScorerSandbox {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  readonly limits: Required<SandboxLimits>;

  constructor(
    readonly file: string,
    readonly name: string,
    limits: SandboxLimits = {},
  ) {
    this.limits = sandboxLimits(limits);
  }

  /** Start the worker and load the module; rejects with E_SCORER when it cannot be loaded. */
  load(): Promise<void> {
    if (this.ready) return this.ready;
    const ts = /\.[mc]?ts$/i.test(this.file);
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { file: this.file, url: pathToFileURL(this.file).href, jiti: ts ? pathToFileURL(createRequire(import.meta.url).resolve('jiti')).href : undefined },
      resourceLimits: { maxOldGenerationSizeMb: this.limits.memoryMb, maxYoungGenerationSizeMb: Math.min(32, this.limits.memoryMb) },
      stdout: false,
      stderr: false,
    });
    worker.unref(); // an idle scorer never keeps the process alive; a pending call has its timer
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      const loading = { resolve: () => resolve(), reject };
      this.pending.set(0, loading);
      worker.on('message', (m: Reply) => this.onMessage(m));
      worker.on('error', (err) => this.onDeath(worker, err));
      worker.on('exit', (code) => this.onDeath(worker, new Error(`the scorer's worker exited (code ${code})`)));
      this.deadline(0, 'loading');
    });
    return this.ready;
  }

  /** Score one input in the worker within the time budget. */
  async call(input: unknown): Promise<unknown> {
    await this.load();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        this.worker!.postMessage({ id, input });
      } catch (err) {
        this.pending.delete(id);
        reject(new MlxLabError('E_SCORER', `the input for scorer "${this.name}" cannot be sent to it: ${(err as Error).message}`));
        return;
      }
      this.deadline(id, 'scoring');
    });
  }

  /** Stop the worker (pending calls fail); the next call starts a new one. */
  async dispose(): Promise<void> {
    const w = this.worker;
    this.reset(new MlxLabError('E_SCORER', `scorer "${this.name}" was disposed`));
    await w?.terminate();
  }

  private deadline(id: number, doing: string): void {
    const timer = setTimeout(() => {
      if (!this.pending.has(id)) return;
      const err = new MlxLabError(
        'E_SCORER_TIMEOUT',
        `${this.file}: scorer "${this.name}" did not finish ${doing} within ${this.limits.timeoutMs} ms (an endless loop, or a promise that never settles); it was stopped (MLX_LAB_SCORER_TIMEOUT_MS sets the budget)`,
      );
      const w = this.worker;
      this.reset(err);
      void w?.terminate();
    }, this.limits.timeoutMs);
    const p = this.pending.get(id)!;
    this.pending.set(id, {
      resolve: (v) => {
        clearTimeout(timer);
        p.resolve(v);
      },
      reject: (e) => {
        clearTimeout(timer);
        p.reject(e);
      },
    });
  }

  private settle(id: number, fn: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    fn(p);
  }

  private onMessage(m: Reply): void {
    switch (m.type) {
      case 'ready':
        this.settle(0, (p) => p.resolve(undefined));
        break;
      case 'no-scorer':
        this.fail(new MlxLabError('E_SCORER', `${this.file}: exports no scorer: export a function (input) => {score, failure, parsed, detail} as default or as "score"`));
        break;
      case 'load-error':
        this.fail(new MlxLabError('E_SCORER', `${this.file}: cannot load the scorer file: ${m.message}`));
        break;
      case 'result':
        this.settle(m.id, (p) => p.resolve(m.out));
        break;
      case 'error':
        this.settle(m.id, (p) => p.reject(new Error(m.message)));
        break;
    }
  }

  private onDeath(worker: Worker, err: Error & { code?: string }): void {
    if (worker !== this.worker) return; // an old worker, already replaced
    const e =
      err.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? new MlxLabError('E_SCORER_MEMORY', `${this.file}: scorer "${this.name}" ran out of its ${this.limits.memoryMb} MB heap and was stopped (MLX_LAB_SCORER_MEMORY_MB sets the limit)`)
        : new MlxLabError('E_SCORER', `${this.file}: scorer "${this.name}" crashed: ${err.message}`);
    this.reset(e);
  }

  private fail(err: MlxLabError): void {
    const w = this.worker;
    this.reset(err);
    void w?.terminate();
  }

  /** Fail every pending call with `err` and forget the worker. */
  private reset(err: unknown): void {
    this.worker = undefined;
    this.ready = undefined;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
  }
}
