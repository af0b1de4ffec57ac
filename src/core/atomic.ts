/**
 * Atomic file writes, the one place for them: write a temporary file beside the target, fsync
 * it, rename it over the target, fsync the folder. A reader sees the old file or the new one,
 * never half of one. Folders (fused models) go through a temporary folder the same way (see
 * writeModelFolder in fuse.ts); safetensors saved by the addon use the same recipe in C++
 * (native/io/safetensors.cpp). Temporary names start with "." and contain ".tmp-", so a killed
 * writer's leftovers never look like a finished file.
 */
import { closeSync, copyFileSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { withIo } from './errors.js';

/** A unique temporary name beside `path` (same folder, so the rename stays atomic). */
export function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

/** fsync a file or a folder (a folder's entries, i.e. a rename, become durable). */
export function fsyncPath(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    // some file systems cannot fsync a folder; the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Rename `tmp` over `path` and make the rename durable; `tmp` is removed if that fails. */
export function commitTemp(tmp: string, path: string): void {
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  fsyncPath(dirname(path));
}

/** Write `data` to `path` atomically; I/O failures are coded errors naming the path (ioError). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  withIo(path, 'cannot write', () => writeFileAtomicRaw(path, data));
}

function writeFileAtomicRaw(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPath(path);
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  commitTemp(tmp, path);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** Copy `from` over `to` atomically (a temporary copy, fsynced, renamed). */
export function copyFileAtomic(from: string, to: string): void {
  withIo(from, `cannot copy it to ${to}`, () => copyFileAtomicRaw(from, to));
}

function copyFileAtomicRaw(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const tmp = tempPath(to);
  try {
    copyFileSync(from, tmp);
    fsyncPath(tmp);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  commitTemp(tmp, to);
}

/** The length of the file behind `fd` up to and including its last "\n" (0 when it has none). */
function lengthOfCompleteLines(fd: number, size: number): number {
  const last = Buffer.alloc(1);
  if (readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 0x0a) return size;
  const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const i = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (i >= 0) return start + i + 1;
    end = start;
  }
  return 0;
}

/**
 * Append one JSON line in a single write and fsync it. A torn last line left by a killed writer
 * is cut off first, so the log stays one event per line (readers also skip a torn last line).
 */
export function appendJsonLine(path: string, value: unknown): void {
  withIo(path, 'cannot append to the log', () => appendJsonLineRaw(path, value));
}

function appendJsonLineRaw(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a+');
  try {
    const size = fstatSync(fd).size;
    const complete = size > 0 ? lengthOfCompleteLines(fd, size) : 0;
    if (complete < size) ftruncateSync(fd, complete);
    writeAll(fd, Buffer.from(JSON.stringify(value) + '\n', 'utf8'));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The writer's pid in a temporary name (ours: `.name.tmp-PID-xxxxxx`, the addon's: `name.tmp-PID`). */
const TEMP_NAME = /\.tmp-(\d+)(-[a-z0-9]+)?$/;

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove the temporary files and folders a killed writer left in `dir` (those of live processes
 * stay), only those whose names start with `prefix`; returns their names.
 */
export function removeStaleTemps(dir: string, prefix = ''): string[] {
  const stale = readdirSync(dir).filter((name) => {
    if (!name.startsWith(prefix)) return false;
    const m = TEMP_NAME.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !isAlive(Number(m[1]));
  });
  for (const name of stale) rmSync(join(dir, name), { recursive: true, force: true });
  return stale;
}
