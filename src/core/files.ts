/**
 * Reading the files users name (configs, data, suites, tokenizer and model JSON, manifests,
 * prompts), the one place for it. Only regular files are read: opening a FIFO blocks until a
 * writer appears, and a blocked synchronous read blocks the event loop, so no signal would be
 * handled; a socket or device is refused the same way. Missing files and folders are thrown as
 * Node's ENOENT / EISDIR errors so each caller words "not found" its own way; other I/O failures
 * (EACCES...) become their coded errors (ioError).
 */
import { mkdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { MlxLabError, ioError, type ErrorCode } from './errors.js';

/** What a non-regular file is, in words. */
function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** E_NOT_A_FILE unless `path` (after symlinks) is a regular file; ENOENT / EISDIR as Node throws them. */
export function checkRegularFile(path: string): Stats {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') throw err;
    throw ioError(err, path, 'cannot read');
  }
  if (st.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: 'EISDIR', path });
  if (!st.isFile()) {
    throw new MlxLabError('E_NOT_A_FILE', `${path}: is ${kindOf(st)}; mlx-lab reads only regular files (a pipe or device would block it)`);
  }
  return st;
}

export function readRegularFile(path: string): Buffer;
export function readRegularFile(path: string, encoding: 'utf8'): string;
export function readRegularFile(path: string, encoding?: 'utf8'): Buffer | string {
  checkRegularFile(path);
  try {
    return encoding ? readFileSync(path, encoding) : readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') throw err;
    throw ioError(err, path, 'cannot read');
  }
}

/**
 * A text file the user named, as UTF-8: `<path>: <what> not found`, `is a folder, not a <what>`
 * or `cannot read: ...` as `code` when it cannot be read.
 */
export function readUserTextFile(path: string, code: ErrorCode, what: string): string {
  try {
    return readRegularFile(path, 'utf8');
  } catch (err) {
    if (err instanceof MlxLabError) throw err;
    const errno = (err as NodeJS.ErrnoException).code;
    const why = errno === 'ENOENT' ? `${what} not found` : errno === 'EISDIR' ? `is a folder, not a ${what}` : `cannot read: ${(err as Error).message}`;
    throw new MlxLabError(code, `${path}: ${why}`, { cause: err });
  }
}

/** Make sure `path` is a folder (created when missing): E_EXISTS when a file is in the way. */
export function ensureFolder(path: string, what: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new MlxLabError('E_EXISTS', `${path}: ${what} must be a folder, but a file is in the way`, { cause: err });
    }
    throw ioError(err, path, `cannot create ${what}`);
  }
}
