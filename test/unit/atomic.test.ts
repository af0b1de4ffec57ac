// The atomic writers (src/core/atomic.ts): no temporary file survives a write, a torn metrics line
// left by a killed writer is cut before the next append, stale temporaries of dead writers go.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendJsonLine, copyFileAtomic, removeStaleTemps, tempPath, writeFileAtomic, writeJsonAtomic } from '../../src/core/atomic.js';
import { parseMetrics } from '../../src/run/metrics.js';
import { tmpDir } from '../helpers/train.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const dir = () => {
  const d = tmpDir('mlxlab-atomic-');
  dirs.push(d);
  return d;
};

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
}

describe('atomic writes', () => {
  it('replaces a file whole and leaves no temporary file', () => {
    const d = dir();
    const file = join(d, 'sub', 'run.json');
    writeJsonAtomic(file, { a: 1 });
    writeFileAtomic(file, 'second\n');
    expect(readFileSync(file, 'utf8')).toBe('second\n');
    expect(readdirSync(join(d, 'sub'))).toEqual(['run.json']);
  });

  it('copies a file atomically over an existing one', () => {
    const d = dir();
    writeFileSync(join(d, 'a'), 'new bytes');
    writeFileSync(join(d, 'b'), 'old');
    copyFileAtomic(join(d, 'a'), join(d, 'b'));
    expect(readFileSync(join(d, 'b'), 'utf8')).toBe('new bytes');
    expect(readdirSync(d).sort()).toEqual(['a', 'b']);
  });

  it('a failed copy leaves the target as it was and no temporary file', () => {
    const d = dir();
    writeFileSync(join(d, 'b'), 'old');
    expect(() => copyFileAtomic(join(d, 'missing'), join(d, 'b'))).toThrow(/no such file or folder \(ENOENT\)/);
    expect(readFileSync(join(d, 'b'), 'utf8')).toBe('old');
    expect(readdirSync(d)).toEqual(['b']);
  });

  it('names temporaries beside the target, hidden, with the writer pid', () => {
    expect(tempPath('/x/y/adapters.safetensors')).toMatch(new RegExp(`^/x/y/\\.adapters\\.safetensors\\.tmp-${process.pid}-[a-z0-9]+$`));
  });
});

describe('metrics lines', () => {
  it('appends whole lines', () => {
    const file = join(dir(), 'metrics.jsonl');
    appendJsonLine(file, { event: 'val', iteration: 1 });
    appendJsonLine(file, { event: 'val', iteration: 2 });
    expect(readFileSync(file, 'utf8')).toBe('{"event":"val","iteration":1}\n{"event":"val","iteration":2}\n');
  });

  it('cuts a torn last line (a killed writer) before appending, so the log stays readable', () => {
    const file = join(dir(), 'metrics.jsonl');
    appendJsonLine(file, { event: 'val', iteration: 1 });
    appendFileSync(file, '{"event":"report","itera'); // the kill
    expect(parseMetrics(readFileSync(file, 'utf8')).torn).toBe(2);
    appendJsonLine(file, { event: 'val', iteration: 2 });
    const log = parseMetrics(readFileSync(file, 'utf8'));
    expect(log.torn).toBeUndefined();
    expect(log.events.map((e) => (e as { iteration: number }).iteration)).toEqual([1, 2]);
  });

  it('cuts a torn line longer than the read chunk, and a file that is all torn', () => {
    const file = join(dir(), 'metrics.jsonl');
    appendJsonLine(file, { event: 'start' });
    appendFileSync(file, '{"event":"x","pad":"' + 'a'.repeat(200_000));
    appendJsonLine(file, { event: 'done' });
    expect(readFileSync(file, 'utf8')).toBe('{"event":"start"}\n{"event":"done"}\n');
    const only = join(dir(), 'metrics.jsonl');
    writeFileSync(only, '{"ev');
    appendJsonLine(only, { event: 'start' });
    expect(readFileSync(only, 'utf8')).toBe('{"event":"start"}\n');
  });
});

describe('stale temporaries', () => {
  it('removes those of dead writers (ours and the addon\'s) and keeps live ones and real files', () => {
    const d = dir();
    const dead = deadPid();
    const names = [
      `.adapter_config.json.tmp-${dead}-abc123`, // TS writer, dead
      `0000004_state.safetensors.tmp-${dead}`, // addon writer, dead
      `.run.json.tmp-${process.pid}-xyz789`, // a live writer (this process)
      '0000004_adapters.safetensors',
      'metrics.jsonl',
    ];
    for (const n of names) writeFileSync(join(d, n), 'x');
    expect(removeStaleTemps(d).sort()).toEqual([names[0], names[1]].sort());
    expect(readdirSync(d).sort()).toEqual([names[2], names[3], names[4]].sort());
    expect(existsSync(join(d, names[1]))).toBe(false);
  });

  it('with a prefix, removes only the temporaries of that target (a killed fuse of one folder)', () => {
    const d = dir();
    const dead = deadPid();
    const names = [`.fused.tmp-${dead}-abc123`, `.other.tmp-${dead}-abc123`, `.fused.old-${dead}-abc123`];
    for (const n of names) mkdirSync(join(d, n));
    expect(removeStaleTemps(d, '.fused.')).toEqual([names[0]]);
    expect(readdirSync(d).sort()).toEqual([names[1], names[2]].sort());
  });
});
