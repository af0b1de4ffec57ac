/** Which files of a repo listing a model or adapter needs, and refusing names that would leave the cache. */
import { MlxLabError } from '../core/errors.js';

/** Top-level files a model or an adapter needs: configs, weights and index, tokenizer, chat template. */
const WANTED = /^(?:[^/]+\.json|[^/]+\.safetensors|[^/]+\.jinja|tokenizer\.model|merges\.txt|vocab\.txt)$/;

/** Whether a repo file is fetched for a model (top level only; no other formats, no subfolders). */
export function isWanted(path: string): boolean {
  return WANTED.test(path);
}

/**
 * E_HUB for a listed name that is not a plain relative path (`..` segments, absolute, drive or
 * UNC paths, backslashes, NUL): joined onto the cache it could write outside it.
 */
export function assertSafeRepoPath(path: string, where: string): void {
  const bad =
    path === '' ||
    path.includes('\0') ||
    path.includes('\\') ||
    path.startsWith('/') ||
    /^[A-Za-z]:/.test(path) ||
    path.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (bad) throw new MlxLabError('E_HUB', `${where}: refusing the file name ${JSON.stringify(path)} (not a plain relative path inside the repo)`);
}
