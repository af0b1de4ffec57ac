/**
 * The chat template files of a model folder, read in one place: chat_template.jinja (as
 * "default") and additional_chat_templates/<name>.jinja (as <name>), as transformers saves them.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import { readRegularFile } from '../core/files.js';

const JINJA = '.jinja';

/** A template file's text; undefined when it is missing, E_TOKENIZER naming it when it cannot be read. */
function readTemplate(path: string): string | undefined {
  try {
    return readRegularFile(path, 'utf8');
  } catch (err) {
    if (err instanceof MlxLabError) throw err; // a FIFO, a device, no permission: refused, not skipped
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MlxLabError('E_TOKENIZER', `${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
}

/** The .jinja files of a folder, sorted (none when it is missing or not a folder). */
function jinjaFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(JINJA))
      .sort();
  } catch {
    return [];
  }
}

/** chat_template.jinja and additional_chat_templates/*.jinja of `dir`, name → text (empty when there are none). */
export function readChatTemplateFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const main = readTemplate(join(dir, 'chat_template.jinja'));
  if (main !== undefined) files.default = main;
  const extraDir = join(dir, 'additional_chat_templates');
  for (const file of jinjaFiles(extraDir)) {
    const text = readTemplate(join(extraDir, file));
    if (text !== undefined) files[file.slice(0, -JINJA.length)] = text;
  }
  return files;
}
