/**
 * A tracking sink behind a bounded queue: `push()` only queues the scalars (training never waits
 * for a sink); one drain loop hands them to the sink in order, in batches. A sink that fails is
 * reported once through `warn` and then dropped for the rest of the run: its errors never reach
 * training. A queue that grows past its bound (a sink slower than training) drops the oldest
 * scalars and says so once.
 */
import type { Scalar } from './tfrecord.js';

/** How a run ended, for a sink's close. */
export interface RunEnd {
  status: 'finished' | 'failed' | 'killed';
  /** Files to keep with the run (the manifest, the report, the selected adapter), by name. */
  artifacts: { name: string; path: string }[];
}

/** What one tracking service implements. */
export interface Sink {
  /** The service's name in warnings (tensorboard, mlflow). */
  readonly name: string;
  /** Before the first batch (create the run, log the params). */
  open(): Promise<void>;
  write(scalars: readonly Scalar[]): Promise<void>;
  close(end: RunEnd): Promise<void>;
}

/** Scalars a queue holds before it drops the oldest. */
export const QUEUE_LIMIT = 10_000;

export class GuardedSink {
  private pending: Scalar[] = [];
  private draining: Promise<void> | undefined;
  private opened = false;
  private failed = false;
  private dropped = false;

  constructor(
    private readonly sink: Sink,
    private readonly warn: (message: string) => void,
    private readonly limit = QUEUE_LIMIT,
  ) {}

  /** Whether the sink failed (and was dropped). */
  get dead(): boolean {
    return this.failed;
  }

  /** Queue scalars; returns at once. */
  push(scalars: readonly Scalar[]): void {
    if (this.failed || scalars.length === 0) return;
    this.pending.push(...scalars);
    if (this.pending.length > this.limit) {
      this.pending.splice(0, this.pending.length - this.limit);
      if (!this.dropped) this.warn(`${this.sink.name}: it falls behind training; the oldest queued metrics were dropped`);
      this.dropped = true;
    }
    this.draining ??= this.drain();
  }

  /** Wait for the queue, then close the sink; never throws. */
  async close(end: RunEnd): Promise<void> {
    await this.draining;
    if (this.failed) return;
    await this.guard(async () => {
      if (!this.opened) await this.openSink();
      await this.sink.close(end);
    });
  }

  private async drain(): Promise<void> {
    await Promise.resolve(); // let the caller go on first
    while (this.pending.length > 0 && !this.failed) {
      const batch = this.pending;
      this.pending = [];
      await this.guard(async () => {
        if (!this.opened) await this.openSink();
        await this.sink.write(batch);
      });
    }
    this.draining = undefined;
  }

  private async openSink(): Promise<void> {
    this.opened = true;
    await this.sink.open();
  }

  private async guard(job: () => Promise<void>): Promise<void> {
    try {
      await job();
    } catch (err) {
      this.failed = true;
      this.pending = [];
      this.warn(`${this.sink.name}: ${(err as Error).message ?? String(err)}; nothing more is reported to ${this.sink.name} for this run (training goes on)`);
    }
  }
}
