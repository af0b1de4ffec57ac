/**
 * Reading a run's metrics log (metrics.jsonl): one JSON event per line, appended by the training
 * loop (see `TrainEvent` in train/loop.ts) with the time it was written.
 *
 * Each line is appended in one write, so a reader racing the writer, or a run that was killed,
 * may see the last line cut short: a last line that does not parse is dropped (and reported as
 * `torn`). Blank lines are skipped. A line that does not parse anywhere else means the file was
 * damaged, and is an error naming file:line.
 */
import { MlxLabError } from '../core/errors.js';
import type { TrainEvent } from '../train/loop.js';
import { readUserTextFile } from '../core/files.js';
import { RUN_FILES } from '../core/run-files.js';

/** One event of the log: a TrainEvent with the time it was written (ms since the epoch). */
export type MetricsEvent = TrainEvent & { time?: number };

export interface MetricsLog {
  file: string;
  /** The events in file order (events of unknown kinds are kept). */
  events: MetricsEvent[];
  /** The 1-based line number of a torn last line that was dropped, if any. */
  torn?: number;
}

/** Parse the text of a metrics log; `file` names it in errors. */
export function parseMetrics(text: string, file: string = RUN_FILES.metrics): MetricsLog {
  const lines = text.split('\n');
  let last = lines.length - 1;
  while (last >= 0 && lines[last].trim() === '') last--;
  const events: MetricsEvent[] = [];
  let torn: number | undefined;
  for (let i = 0; i <= last; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (cause) {
      if (i === last) {
        torn = i + 1;
        break;
      }
      throw new MlxLabError('E_ARGUMENT', `${file}:${i + 1}: not a JSON line (${(cause as Error).message}); the metrics log is damaged`, { cause });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { event?: unknown }).event !== 'string') {
      throw new MlxLabError('E_ARGUMENT', `${file}:${i + 1}: not a metrics event (an object with an "event" name)`);
    }
    events.push(value as MetricsEvent);
  }
  return { file, events, torn };
}

/** Read a metrics log from disk (see parseMetrics). */
export function readMetrics(file: string): MetricsLog {
  return parseMetrics(readUserTextFile(file, 'E_ARGUMENT', 'metrics log'), file);
}

/** The events of one kind, typed. */
export function eventsOf<K extends MetricsEvent['event']>(events: readonly MetricsEvent[], kind: K): Extract<MetricsEvent, { event: K }>[] {
  return events.filter((e): e is Extract<MetricsEvent, { event: K }> => e.event === kind);
}
