/**
 * The TensorBoard sink: one event file per training session in the run folder's `tb/` subfolder
 * (`tensorboard --logdir <run or sweep folder>`), appended batch by batch off the event loop and
 * fdatasynced at close. A resumed run adds a second file; TensorBoard reads them together.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ioError } from '../../core/errors.js';
import { RunFiles } from '../../core/run-files.js';
import { fileVersionEvent, scalarRecords, tfRecord, type Scalar } from './tfrecord.js';
import type { RunEnd, Sink } from './sink.js';

/** The event file's name: TensorBoard's `events.out.tfevents.<seconds>.<host>`, plus the pid. */
export function eventFileName(timeMs: number, host = hostname(), pid = process.pid): string {
  return `events.out.tfevents.${Math.floor(timeMs / 1000)}.${host.replace(/[^A-Za-z0-9._-]/g, '_')}.${pid}`;
}

export class TensorBoardSink implements Sink {
  readonly name = 'tensorboard';
  /** The event file (set when opened). */
  file: string | undefined;
  private fh: FileHandle | undefined;

  /** `runDir`: the run folder (the file goes in its tb/ subfolder). */
  constructor(private readonly runDir: string) {}

  async open(): Promise<void> {
    const dir = new RunFiles(this.runDir).tensorboard;
    const now = Date.now();
    const file = join(dir, eventFileName(now));
    this.file = file;
    await this.io(async () => {
      await mkdir(dir, { recursive: true });
      this.fh = await open(file, 'a');
      await this.append(tfRecord(fileVersionEvent(now)));
    });
  }

  async write(scalars: readonly Scalar[]): Promise<void> {
    await this.io(() => this.append(scalarRecords(scalars)));
  }

  async close(_end: RunEnd): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await this.io(async () => fh.datasync().finally(() => fh.close()));
  }

  private async append(data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) off += (await (this.fh as FileHandle).write(data, off, data.length - off)).bytesWritten;
  }

  private async io(job: () => Promise<void>): Promise<void> {
    try {
      await job();
    } catch (err) {
      throw ioError(err, this.file, 'cannot write the TensorBoard event file');
    }
  }
}
