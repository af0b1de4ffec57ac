/**
 * The Hugging Face cache as huggingface_hub lays it out, so that mlx-lm and mlx-lab share models:
 *   <cache>/models--org--name/refs/<revision>          the commit a branch or tag pointed to
 *   <cache>/models--org--name/blobs/<etag>             file contents, named by etag (sha256 or git oid)
 *   <cache>/models--org--name/snapshots/<commit>/<f>   relative symlinks to ../../blobs/<etag>
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import { readJsonObject } from '../core/json.js';
import { COMMIT } from './id.js';

/** The kinds of Hub repos mlx-lab reads. */
export type RepoType = 'model' | 'dataset';

/** The folder of one repo in the cache (`models--org--name`, `datasets--org--name`). */
export function repoFolder(cacheDir: string, repo: string, type: RepoType = 'model'): string {
  return join(cacheDir, `${type}s--${repo.split('/').join('--')}`);
}

/** The commit a revision names in the cache: the revision itself when it is a commit, else refs/<revision>. */
export function cachedCommit(folder: string, revision: string): string | undefined {
  if (COMMIT.test(revision)) return revision;
  const ref = join(folder, 'refs', revision);
  if (!existsSync(ref) || !statSync(ref).isFile()) return undefined;
  const commit = readFileSync(ref, 'utf8').trim();
  return COMMIT.test(commit) ? commit : undefined;
}

/** Record that `revision` pointed to `commit` (nothing for a commit revision, as huggingface_hub). */
export function writeRef(folder: string, revision: string, commit: string): void {
  if (revision === commit) return;
  const ref = join(folder, 'refs', revision);
  mkdirSync(dirname(ref), { recursive: true });
  writeFileAtomic(ref, commit);
}

/** Whether `file` exists (symlinks followed) as a regular file. */
function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether a snapshot folder holds a loadable model or adapter: config.json with every shard its
 * index names, or an adapter's config and weights.
 */
export function snapshotComplete(dir: string): boolean {
  if (isFile(join(dir, 'adapter_config.json'))) return isFile(join(dir, 'adapters.safetensors'));
  if (!isFile(join(dir, 'config.json'))) return false;
  const index = join(dir, 'model.safetensors.index.json');
  if (!isFile(index)) return isFile(join(dir, 'model.safetensors'));
  try {
    const map = readJsonObject(index, { code: 'E_MODEL_LOAD' }).weight_map;
    if (!map || typeof map !== 'object') return false;
    return [...new Set(Object.values(map))].every((f) => typeof f === 'string' && isFile(join(dir, f)));
  } catch {
    return false;
  }
}

/** The complete snapshot folder a revision names in the cache (by `complete`, default a model's check), or undefined. */
export function cachedSnapshot(folder: string, revision: string, complete: (dir: string) => boolean = snapshotComplete): string | undefined {
  const commit = cachedCommit(folder, revision);
  if (!commit) return undefined;
  const dir = join(folder, 'snapshots', commit);
  return complete(dir) ? dir : undefined;
}

/** The blob path of an etag. */
export function blobPath(folder: string, etag: string): string {
  return join(folder, 'blobs', etag);
}

/** Point snapshots/<commit>/<file> at its blob with a relative symlink (replacing what was there, atomically). */
export function linkSnapshotFile(folder: string, commit: string, file: string, etag: string): string {
  const pointer = join(folder, 'snapshots', commit, file);
  mkdirSync(dirname(pointer), { recursive: true });
  const target = relative(dirname(pointer), blobPath(folder, etag));
  const tmp = `${pointer}.${process.pid}.link`;
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, pointer);
  return pointer;
}

/** The size of a blob, or undefined when it is missing (or not a file). */
export function blobSize(path: string): number | undefined {
  try {
    const st = lstatSync(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}
