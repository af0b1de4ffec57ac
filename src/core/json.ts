/**
 * Reading JSON, the one place for it: a file or a piece of text is parsed with errors that name
 * where it came from, in the caller's error code, and say where JSON.parse stopped (its
 * "at position N" with the line and column added, as newer Node versions word it).
 * Missing files read as "<file>: <what> not found" (or undefined, when the file is optional);
 * I/O failures keep the coded errors of readRegularFile.
 */
import { MlxLabError, type ErrorCode } from './errors.js';
import { readRegularFile } from './files.js';

export type JsonObject = Record<string, unknown>;

export interface JsonSource {
  /** The error code of every failure (the caller's). */
  code: ErrorCode;
  /** What the file is, when the messages should say it ("tokenizer.json not found", "invalid JSON in tokenizer.json"). */
  what?: string;
}

/** 1-based line and column of a character offset in `text`. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** JSON.parse's message, with "(line L column C)" after "at position N" when it does not say it. */
function parseErrorDetail(text: string, cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  const at = /at position (\d+)/.exec(message);
  if (!at || /\(line \d+ column \d+\)/.test(message)) return message;
  const { line, column } = lineColumn(text, Number(at[1]));
  return message.replace(at[0], `${at[0]} (line ${line} column ${column})`);
}

/** JSON.parse of `text` from `source` (a file or an option): "<source>: invalid JSON (...)" in the caller's code otherwise. */
export function parseJson(text: string, source: string, { code, what }: JsonSource): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    const where = what === undefined ? '' : ` in ${what}`;
    throw new MlxLabError(code, `${source}: invalid JSON${where} (${parseErrorDetail(text, cause)})`, { cause });
  }
}

/** The text of a file that must exist, or undefined for a missing optional one; errors name the file. */
function readText(file: string, { code, what }: JsonSource, optional: boolean): string | undefined {
  try {
    return readRegularFile(file, 'utf8');
  } catch (cause) {
    if (cause instanceof MlxLabError) throw cause;
    const label = what ?? 'file';
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      if (optional) return undefined;
      throw new MlxLabError(code, `${file}: ${label} not found`, { cause });
    }
    throw new MlxLabError(code, `${file}: cannot read${what === undefined ? '' : ` ${what}`} (${(cause as Error).message})`, { cause });
  }
}

/** Read and parse a JSON file; every error names the file and has the caller's code. */
export function readJsonFile(file: string, source: JsonSource): unknown;
/** Read and parse a JSON file that may be missing (undefined then). */
export function readJsonFile(file: string, source: JsonSource & { optional: true }): unknown | undefined;
export function readJsonFile(file: string, source: JsonSource & { optional?: boolean }): unknown {
  const text = readText(file, source, source.optional === true);
  return text === undefined ? undefined : parseJson(text, file, source);
}

/** readJsonFile of a file that must hold a JSON object ("<file>: expected a JSON object" otherwise). */
export function readJsonObject(file: string, source: JsonSource): JsonObject {
  const value = readJsonFile(file, source);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MlxLabError(source.code, `${file}: expected a JSON object`);
  }
  return value as JsonObject;
}
