/**
 * The one error class of mlx-lab. Native failures arrive as instances of it too (the addon is
 * given this class at load time), so callers can switch on `code` wherever an error came from.
 */
/** Every error code, in one list (switch on `err.code`; `ErrorCode` is derived from it). */
export const ERROR_CODES = [
  'E_MODEL_LOAD', // model files missing or unreadable
  'E_CONFIG', // bad or unsupported configuration
  'E_DATA', // bad or missing training data (JSONL files, formats, batching)
  'E_WEIGHTS', // missing or mis-shaped weight
  'E_GGUF', // unsupported GGUF content
  'E_HUB', // a Hugging Face Hub id could not be resolved or downloaded (access, network, offline, listing)
  'E_TOKENIZER', // missing or invalid tokenizer files
  'E_TEMPLATE', // chat template errors
  'E_GRAMMAR', // an invalid grammar (JSON schema, regex, Lark) or no grammar engine installed
  'E_PROMPT_CACHE', // a prompt cache file that is missing, truncated, corrupt, or made for another model
  'E_ARGUMENT', // bad call arguments
  'E_DISPOSED', // handle used after dispose()
  'E_ABORTED', // cancelled through an AbortSignal
  'E_NATIVE_LOAD', // the addon could not be loaded
  'E_MLX', // an error raised inside MLX
  'E_TRAIN', // a training step failed (non-finite loss, MLX failure during a step)
  'E_DISTRIBUTED', // a distributed run failed (group init, a peer lost, a rank died)
  'E_SUITE', // an eval suite file is missing, malformed or invalid
  'E_SCORER', // an eval scorer is unknown, cannot be loaded or is misused
  'E_SCORER_TIMEOUT', // a user scorer ran past its time budget (or never settled)
  'E_SCORER_MEMORY', // a user scorer ran past its memory budget
  'E_LOCKED', // a run folder is held by another writer (train, sweep, select, resume)
  'E_UNFINISHED', // the command ended with work still pending (a promise that never settled)
  'E_NOT_A_FILE', // a path that must be a regular file is a FIFO, socket, device or folder
  'E_NO_SPACE', // ENOSPC: the disk is full
  'E_FILE_TOO_LARGE', // EFBIG: a file exceeds the file system's or the process's size limit
  'E_READ_ONLY', // EROFS: the file system is read-only
  'E_PERMISSION', // EACCES / EPERM: not allowed to read or write the path
  'E_EXISTS', // EEXIST: the path exists already
  'E_IS_FOLDER', // EISDIR: a folder where a file was expected
  'E_IO', // any other I/O failure (the errno code is in the message)
  'E_INTERNAL', // anything else
] as const;

/** One of ERROR_CODES. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether `code` is one of ERROR_CODES. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

export class MlxLabError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MlxLabError';
    // Native I/O failures arrive as E_IO with the errno name at the end of the message; a code
    // outside the list (a newer addon) is E_INTERNAL, so the union stays true at run time.
    this.code = code === 'E_IO' ? ioCodeOf(message) : isErrorCode(code) ? code : 'E_INTERNAL';
  }
}

/** Shorthand for `throw new MlxLabError(...)` in expression position. */
export function fail(code: ErrorCode, message: string, options?: { cause?: unknown }): never {
  throw new MlxLabError(code, message, options);
}

/** The `E_` code of each file-system errno that users can act on (the one mapping; see ioError). */
const IO_CODES: Record<string, ErrorCode> = {
  ENOSPC: 'E_NO_SPACE',
  EDQUOT: 'E_NO_SPACE',
  EFBIG: 'E_FILE_TOO_LARGE',
  EROFS: 'E_READ_ONLY',
  EACCES: 'E_PERMISSION',
  EPERM: 'E_PERMISSION',
  EEXIST: 'E_EXISTS',
  EISDIR: 'E_IS_FOLDER',
};

const IO_WORDS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EFBIG: 'the file is too large for this file system (or the process file-size limit)',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'it exists already',
  EISDIR: 'it is a folder, not a file',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ENOENT: 'no such file or folder',
};

/** The code of an E_IO message that ends with "(ENOSPC)" etc. (the addon's I/O errors). */
function ioCodeOf(message: string): ErrorCode {
  const errno = /\((E[A-Z0-9]+)\)$/.exec(message)?.[1];
  return (errno && IO_CODES[errno]) || 'E_IO';
}

/** The errno code of a Node file-system error (`ENOSPC`...), or undefined. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) && !code.startsWith('E_') ? code : undefined;
}

/**
 * A Node I/O error as an MlxLabError naming the path: ENOSPC, EFBIG, EROFS, EACCES/EPERM,
 * EEXIST and EISDIR get their own codes, any other errno E_IO. `doing` says what failed
 * ("cannot write the adapter"). MlxLabErrors and non-I/O errors are returned unchanged.
 */
export function ioError(err: unknown, path?: string, doing = 'I/O failed'): unknown {
  if (err instanceof MlxLabError) return err;
  const errno = errnoOf(err);
  if (!errno) return err;
  const where = path ?? (err as NodeJS.ErrnoException).path;
  const words = IO_WORDS[errno] ?? (err as Error).message;
  return new MlxLabError(IO_CODES[errno] ?? 'E_IO', `${where ? `${where}: ` : ''}${doing}: ${words} (${errno})`, { cause: err });
}

/** Run `fn`; an I/O error it throws becomes ioError(err, path, doing). */
export function withIo<T>(path: string, doing: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw ioError(err, path, doing);
  }
}

const warned = new Set<string>();

/** A warning on stderr, once per message per process (the one place warnings are printed). */
export function warn(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.stderr.write(`mlx-lab: warning: ${message}\n`);
}
