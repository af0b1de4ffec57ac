/**
 * An append-only JSON-lines log written off the event loop (the run's metrics.jsonl).
 * `append()` only queues the line; one queue writes the lines in the order they were appended,
 * each batch of queued lines in one write followed by an fdatasync (durable without blocking the
 * loop), so the file only ever ends in whole lines or (after a kill) one torn line. `flush()` waits for the queue and fsyncs (the training loop calls it at
 * each checkpoint), `close()` flushes and closes. A torn last line left by a killed writer is cut
 * off when the log opens, as appendJsonLine does. A write error is kept and thrown by the next
 * append, flush or close, as an MlxLabError naming the file (ioError).
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MlxLabError, ioError } from './errors.js';

const DOING = 'cannot append to the log';

/** The length of the file up to and including its last "\n" (0 when it has none). */
async function completeLength(fh: FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await fh.read(chunk, 0, end - start, start);
    const i = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (i >= 0) return start + i + 1;
    end = start;
  }
  return 0;
}

/** Open `path` for appending, cutting a torn last line first. */
async function openLog(path: string): Promise<FileHandle> {
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, 'a+');
  try {
    const { size } = await fh.stat();
    const complete = size > 0 ? await completeLength(fh, size) : 0;
    if (complete < size) await fh.truncate(complete);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

export class JsonLineLog {
  private fh: Promise<FileHandle> | undefined;
  private pending: string[] = [];
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown;
  private closed = false;

  constructor(readonly path: string) {}

  /** Queue one value as a JSON line; throws the error of an earlier failed write. */
  append(value: unknown): void {
    this.check();
    if (this.closed) throw new MlxLabError('E_ARGUMENT', `${this.path}: ${DOING}: the log is closed`);
    this.pending.push(JSON.stringify(value) + '\n');
    if (this.pending.length === 1) this.schedule(() => this.writePending());
  }

  /** Wait until every queued line is written, then fsync the file. */
  async flush(): Promise<void> {
    this.schedule(async () => {
      if (this.fh) await (await this.fh).sync();
    });
    await this.queue;
    this.check();
  }

  /** Flush and close (appends after this throw). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return this.flushed();
    this.closed = true;
    this.schedule(async () => {
      if (!this.fh) return;
      const fh = await this.fh;
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
    return this.flushed();
  }

  private async flushed(): Promise<void> {
    await this.queue;
    this.check();
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Run `job` after everything queued before it; its failure is kept and ends the log. */
  private schedule(job: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.failure !== undefined) return;
      try {
        await job();
      } catch (err) {
        this.failure = ioError(err, this.path, DOING);
      }
    });
  }

  private async writePending(): Promise<void> {
    const text = this.pending.join('');
    this.pending = [];
    this.fh ??= openLog(this.path);
    const fh = await this.fh;
    const data = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
    await fh.datasync(); // each batch durable, as the synchronous log's fsync per line was
  }
}
