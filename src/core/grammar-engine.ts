/**
 * The grammar engine (llguidance) for constrained decoding: `npm install` unpacks it under .mlx/
 * and describes it in .mlx/llguidance.json; the addon loads it on first use, so everything else
 * works without it. MLX_LAB_LLGUIDANCE names another description file.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MlxLabError } from './errors.js';
import { readJsonFile } from './json.js';
import { native } from './native.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
let version: string | undefined;

/** Where the description of the installed engine is. */
export function grammarEngineFile(): string {
  return resolve(process.env.MLX_LAB_LLGUIDANCE ?? resolve(root, '.mlx', 'llguidance.json'));
}

/** Load the engine once; its version. E_GRAMMAR saying how to install it when it is missing. */
export function grammarEngineVersion(): string {
  if (version) return version;
  const file = grammarEngineFile();
  const described = readJsonFile(file, { code: 'E_GRAMMAR', what: 'grammar engine description', optional: true }) as { lib?: unknown; stub?: unknown } | undefined;
  if (!described || typeof described.lib !== 'string' || typeof described.stub !== 'string') {
    throw new MlxLabError('E_GRAMMAR', `constrained generation needs the grammar engine (llguidance), which is not installed (${file} is missing or incomplete); run \`npm install\` or \`npm run build:native\` to fetch it`);
  }
  version = native().loadGrammarEngine(described.stub, described.lib);
  return version;
}
