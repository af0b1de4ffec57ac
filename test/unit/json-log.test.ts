// The metrics log written off the event loop: append() only queues, the lines land in order,
// flush()/close() make them durable, a torn last line is cut on open, and a failed write is an
// error naming the file.
import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { JsonLineLog } from '../../src/core/json-log.js';
import { parseMetrics } from '../../src/run/metrics.js';

const root = mkdtempSync(join(tmpdir(), 'mlx-lab-json-log-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const file = () => join(root, `run-${++n}`, 'metrics.jsonl');

describe('JsonLineLog', () => {
  it('queues without writing on the caller, then lands 1,000 quick events in order', async () => {
    const path = file();
    const log = new JsonLineLog(path);
    for (let i = 1; i <= 1000; i++) log.append({ event: 'step', iteration: i });
    expect(existsSync(path)).toBe(false); // nothing was written on the event loop
    await log.flush();
    const events = parseMetrics(readFileSync(path, 'utf8')).events as { iteration: number }[];
    expect(events.map((e) => e.iteration)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    await log.close();
  });

  it('keeps the order across flushes and appends made while a write is in flight', async () => {
    const path = file();
    const log = new JsonLineLog(path);
    const writes: Promise<void>[] = [];
    for (let i = 1; i <= 300; i++) {
      log.append({ event: 'val', iteration: i });
      if (i % 7 === 0) writes.push(log.flush());
      if (i % 11 === 0) await Promise.resolve();
    }
    await Promise.all(writes);
    await log.close();
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(parseMetrics(text).events.map((e) => (e as { iteration: number }).iteration)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('appends to an existing log and cuts a torn last line (a killed writer) first', async () => {
    const path = file();
    const first = new JsonLineLog(path);
    first.append({ event: 'val', iteration: 1 });
    await first.close();
    appendFileSync(path, '{"event":"report","itera'); // the kill
    const log = new JsonLineLog(path);
    log.append({ event: 'val', iteration: 2 });
    await log.close();
    expect(readFileSync(path, 'utf8')).toBe('{"event":"val","iteration":1}\n{"event":"val","iteration":2}\n');
  });

  it('cuts a file that is all torn line', async () => {
    const path = file();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '{"ev');
    const log = new JsonLineLog(path);
    log.append({ event: 'start' });
    await log.close();
    expect(readFileSync(path, 'utf8')).toBe('{"event":"start"}\n');
  });

  it('refuses appends after close, and close twice is fine', async () => {
    const log = new JsonLineLog(file());
    log.append({ event: 'start' });
    await log.close();
    await log.close();
    expect(() => log.append({ event: 'done' })).toThrow(/the log is closed/);
  });

  it.skipIf(!existsSync('/dev/full'))('reports a failed write (a full disk) as E_NO_SPACE naming the file, at flush and at the next append', async () => {
    const log = new JsonLineLog('/dev/full');
    log.append({ event: 'start' });
    await expect(log.flush()).rejects.toMatchObject({ code: 'E_NO_SPACE', message: /\/dev\/full: cannot append to the log/ });
    expect(() => log.append({ event: 'done' })).toThrow(/cannot append to the log/);
    await expect(log.close()).rejects.toMatchObject({ code: 'E_NO_SPACE' });
  });
});
