/**
 * JSONL reading with line numbers. As mlx-lm (`json.loads(l) for l in fid`), one JSON value per
 * line. Differences, on purpose: blank lines are skipped (mlx-lm fails on them with a bare
 * JSONDecodeError), a UTF-8 BOM at the start is ignored, and errors name the file and line.
 */
import { MlxLabError } from '../core/errors.js';
import { readRegularFile } from '../core/files.js';
import { isPlainObject, typeName } from '../core/suggest.js';

/** One parsed line: its 1-based line number and its JSON object. */
export interface JsonlRecord {
  line: number;
  value: Record<string, unknown>;
  /** The file it came from, when records of several files are tokenized together (else the dataset's source). */
  source?: string;
}

/** Parse JSONL text; `source` names it in errors (with `code`). Every line must hold a JSON object. */
export function parseJsonl(text: string, source: string, code: 'E_DATA' | 'E_SUITE' = 'E_DATA'): JsonlRecord[] {
  const records: JsonlRecord[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new MlxLabError(code, `${source}:${i + 1}: invalid JSON (${(err as Error).message})`, { cause: err });
    }
    if (!isPlainObject(value)) {
      throw new MlxLabError(code, `${source}:${i + 1}: expected a JSON object per line, got ${typeName(value)}`);
    }
    records.push({ line: i + 1, value: value as Record<string, unknown> });
  }
  return records;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A file's UTF-8 text; E_DATA naming the first line that is not UTF-8 (mlx-lm fails on it too, instead of training on U+FFFD). */
function decodeUtf8(bytes: Buffer, path: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    let start = 0;
    for (let line = 1; ; line++) {
      const end = bytes.indexOf(0x0a, start);
      try {
        strictUtf8.decode(bytes.subarray(start, end < 0 ? bytes.length : end));
      } catch {
        throw new MlxLabError('E_DATA', `${path}:${line}: not valid UTF-8 text`);
      }
      if (end < 0) throw new MlxLabError('E_DATA', `${path}: not valid UTF-8 text`);
      start = end + 1;
    }
  }
}

/** Read and parse a JSONL file. */
export function readJsonl(path: string): JsonlRecord[] {
  let text: string;
  try {
    text = decodeUtf8(readRegularFile(path), path);
  } catch (err) {
    if (err instanceof MlxLabError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not a JSONL file' : `cannot read: ${(err as Error).message}`;
    throw new MlxLabError('E_DATA', `${path}: ${why}`, { cause: err });
  }
  return parseJsonl(text, path);
}
