/**
 * The live page's event feed: every metrics event of the runs shown, as it arrives. Two
 * sources, one shape: `pushFeed` for a run training in this process (`train --ui`: the loop's
 * events are pushed as they are logged), `tailFeed` for runs written by another process
 * (`mlx-lab ui <folder>`: metrics.jsonl is read from where it was last read, whole lines only,
 * so a line being written is picked up on the next look, never half).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import type { MetricsEvent } from '../run/metrics.js';
import { RunDir } from '../run/run-dir.js';

/** One event of one run; `run` is the run folder relative to the folder shown ('' for the folder itself). */
export interface FeedItem {
  run: string;
  event: MetricsEvent;
}

export type FeedListener = (item: FeedItem) => void;

/** A source of live events. */
export interface Feed {
  subscribe(listener: FeedListener): () => void;
  close(): void;
}

/** A feed the caller pushes events into (in-process runs). */
export interface PushFeed extends Feed {
  push(item: FeedItem): void;
}

/** A feed fed by `push` (the same events as metrics.jsonl, straight from the training loop). */
export function pushFeed(): PushFeed {
  const listeners = new Set<FeedListener>();
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    push(item) {
      for (const l of listeners) l(item);
    },
    close() {
      listeners.clear();
    },
  };
}

/** Where one metrics log was last read. */
interface Tail {
  offset: number;
  partial: string;
}

/** The whole lines appended to `file` since `tail` last read it (a last line without its newline waits). */
export function readNewLines(file: string, tail: Tail): string[] {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return [];
  }
  if (size < tail.offset) Object.assign(tail, { offset: 0, partial: '' }); // the log was replaced: read it again
  if (size === tail.offset) return [];
  const buf = Buffer.alloc(size - tail.offset);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, tail.offset);
  } finally {
    closeSync(fd);
  }
  tail.offset = size;
  const lines = (tail.partial + buf.toString('utf8')).split('\n');
  tail.partial = lines.pop() ?? '';
  return lines.filter((l) => l.trim() !== '');
}

/** Parse a log line into an event; undefined for anything that is not one (a damaged line is left to the page's next full read). */
function parseLine(line: string): MetricsEvent | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { event?: unknown }).event === 'string' ? (v as MetricsEvent) : undefined;
  } catch {
    return undefined;
  }
}

export interface TailOptions {
  /** The run folders to follow, looked up again at each poll (a sweep gains runs as it goes). */
  runDirs: () => string[];
  /** The folder shown: runs are named relative to it. */
  root: string;
  /** How often the logs are looked at (ms). */
  intervalMs?: number;
}

/**
 * A feed that follows metrics.jsonl of each run folder: events already in a log when it is
 * first seen are skipped (the page has them), later lines are passed on in file order.
 */
export function tailFeed(options: TailOptions): Feed & { poll(): void } {
  const listeners = new Set<FeedListener>();
  const tails = new Map<string, Tail>();
  const known = (dir: string, atStart: boolean): Tail => {
    let t = tails.get(dir);
    if (!t) {
      const size = atStart ? sizeOf(new RunDir(dir).metrics) : 0;
      t = { offset: size, partial: '' };
      tails.set(dir, t);
    }
    return t;
  };
  for (const dir of options.runDirs()) known(dir, true);
  const poll = () => {
    for (const dir of options.runDirs()) {
      const tail = known(dir, false);
      const run = relative(options.root, dir).split(/[\\/]/).join('/');
      for (const line of readNewLines(new RunDir(dir).metrics, tail)) {
        const event = parseLine(line);
        if (event) for (const l of listeners) l({ run, event });
      }
    }
  };
  const timer = setInterval(poll, options.intervalMs ?? 500);
  timer.unref();
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    poll,
    close() {
      clearInterval(timer);
      listeners.clear();
    },
  };
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
