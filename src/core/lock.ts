/**
 * One writer per run folder: an exclusive lock file (`.mlx-lab.lock`, created with O_EXCL)
 * holding the writer's pid, host, start time and command. train, resume, sweep and select take
 * it; readers (report) never do. A lock whose pid is dead on this host is stale (a killed
 * writer): it is taken over with a warning. A lock from another host, or a live pid, refuses
 * with E_LOCKED naming the holder. Limits: a lock from another host is never judged stale
 * (remove the file by hand once that writer is gone), and a pid reused by an unrelated process
 * keeps a stale lock alive until that process ends.
 */
import { closeSync, linkSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { MlxLabError, ioError, warn } from './errors.js';
import { isAlive, tempPath } from './atomic.js';
import { RUN_FILES } from './run-files.js';

/** The lock file's name in a run folder. */
export const LOCK_FILE = RUN_FILES.lock;

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

export interface RunLock {
  readonly file: string;
  release(): void;
}

/** Folders this process holds (real path → the lock file), so nested writers of one command share it. */
const held = new Map<string, { file: string; count: number }>();

function readHolder(file: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
    return typeof h?.pid === 'number' && typeof h.host === 'string' ? h : undefined;
  } catch {
    return undefined; // gone meanwhile, or being written: treated as held (see tryCreate)
  }
}

/** A lock's holder, for messages. */
export function describeHolder(h: LockHolder | undefined): string {
  return h ? `\`${h.command}\` (pid ${h.pid} on ${h.host}, since ${h.startedAt})` : 'another writer (its lock file is being written or unreadable)';
}

/** Create the lock file with O_EXCL; false when it exists. */
function tryCreate(file: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError(err, file, 'cannot create the run lock');
  }
  try {
    writeSync(fd, JSON.stringify(holder) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Take over a stale lock: rename it aside (only one taker can), then check the renamed file is
 * still the stale one; if another taker's fresh lock was moved instead, put it back.
 */
function takeOver(file: string, stale: LockHolder): boolean {
  const aside = tempPath(file);
  try {
    renameSync(file, aside);
  } catch {
    return false; // someone else took it first
  }
  const moved = readHolder(aside);
  if (moved && (moved.pid !== stale.pid || moved.startedAt !== stale.startedAt)) {
    try {
      linkSync(aside, file); // back in place, unless a third writer created one meanwhile
    } catch {
      // a newer lock is in place
    }
    rmSync(aside, { force: true });
    return false;
  }
  rmSync(aside, { force: true });
  warn(`${file}: taking over a stale lock of ${describeHolder(stale)}: that process is gone`);
  return true;
}

/** Lock `dir` (it must exist) for `command`; E_LOCKED when another live writer holds it. */
export function lockRunFolder(dir: string, command: string): RunLock {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (err) {
    throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? new MlxLabError('E_ARGUMENT', `${dir}: no such run folder`) : ioError(err, dir, 'cannot lock the run folder');
  }
  const mine = held.get(real);
  if (mine) {
    mine.count++;
    return { file: mine.file, release: () => release(real) };
  }
  const file = join(real, LOCK_FILE);
  const other = tryLockFile(file, command);
  if (other === null) {
    held.set(real, { file, count: 1 });
    return { file, release: () => release(real) };
  }
  throw new MlxLabError(
    'E_LOCKED',
    `${dir}: the run folder is locked by ${describeHolder(other)}; one writer at a time (train, resume, sweep, select). Wait for it to finish, or if it is gone from its host, remove ${file}`,
  );
}

/**
 * Take the lock file `file` for `command` (a stale one is taken over): null when taken, else
 * who holds it (undefined: its file is being written or unreadable).
 */
export function tryLockFile(file: string, command: string): LockHolder | undefined | null {
  const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(file, holder)) return null;
    const other = readHolder(file);
    if (other === undefined) continue; // removed or being written meanwhile: try again
    const stale = other.host === holder.host && other.pid !== process.pid && !isAlive(other.pid);
    if (!stale) break;
    takeOver(file, other);
  }
  return readHolder(file);
}

/** Remove a lock file this process took with tryLockFile (left alone when another holder's). */
export function releaseLockFile(file: string): void {
  const h = readHolder(file);
  if (h && h.pid === process.pid) rmSync(file, { force: true });
}

function release(real: string): void {
  const mine = held.get(real);
  if (!mine || --mine.count > 0) return;
  held.delete(real);
  releaseLockFile(mine.file);
}

/** Whether this process holds the lock of `dir`. */
export function holdsRunLock(dir: string): boolean {
  try {
    return held.has(realpathSync(dir));
  } catch {
    return false;
  }
}

/** Run `fn` holding the lock of `dir` (released however `fn` ends). */
export async function withRunLock<T>(dir: string, command: string, fn: () => Promise<T> | T): Promise<T> {
  const lock = lockRunFolder(dir, command);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
