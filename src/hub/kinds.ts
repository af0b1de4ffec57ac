/**
 * What differs between the kinds of repos the resolver fetches: the cache folder prefix and API
 * path (models, datasets), which listed files are wanted, what makes a cached snapshot complete,
 * and what a listing must hold to be of that kind.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { snapshotComplete, type RepoType } from './cache.js';
import { isWanted } from './files.js';

/** One kind of repo, as the resolver treats it. */
export interface RepoKind {
  type: RepoType;
  /** Whether a listed file is fetched. */
  wanted(path: string): boolean;
  /** Whether a cached snapshot folder can be used as it is. */
  complete(dir: string): boolean;
  /** Why a listing (the wanted paths) is not of this kind, or undefined when it is. */
  refuse(paths: readonly string[]): string | undefined;
}

/** A model or adapter: configs, weights, tokenizer and template at the top level. */
export const MODEL_KIND: RepoKind = {
  type: 'model',
  wanted: isWanted,
  complete: snapshotComplete,
  refuse: (paths) =>
    paths.some((p) => p === 'config.json' || p === 'adapter_config.json') ? undefined : 'no config.json or adapter_config.json: not an MLX / safetensors model or adapter repo',
};

/** Data files of a dataset repo, in any folder: JSONL, JSON and Parquet. */
const DATA_FILE = /\.(?:jsonl|json|parquet)$/;

/** Metadata files the `datasets` library writes, which are not examples. */
const METADATA = /(?:^|\/)(?:dataset_infos?|dataset_dict|state)\.json$/;

/** Whether a dataset repo file holds examples mlx-lab reads. */
export function isDataFile(path: string): boolean {
  return DATA_FILE.test(path) && !METADATA.test(path) && !path.split('/').some((s) => s.startsWith('.'));
}

/** Every data file under `dir`, as paths relative to it with `/` (symlinks followed, hidden entries skipped). */
export function dataFilesIn(dir: string, prefix = ''): string[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, prefix)).sort();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${name}` : name;
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(join(dir, rel));
    } catch {
      continue; // a dangling link: its blob is missing
    }
    if (st.isDirectory()) out.push(...dataFilesIn(dir, rel));
    else if (st.isFile() && isDataFile(rel)) out.push(rel);
  }
  return out;
}

/** A dataset: every JSONL, JSON and Parquet file of the repo. */
export const DATASET_KIND: RepoKind = {
  type: 'dataset',
  wanted: isDataFile,
  complete: (dir) => dataFilesIn(dir).length > 0,
  refuse: (paths) => (paths.length > 0 ? undefined : 'no .jsonl, .json or .parquet file: mlx-lab reads datasets in those formats only'),
};
