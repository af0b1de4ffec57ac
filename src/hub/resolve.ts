/**
 * The one resolver from a model (or adapter) argument to a local path: a path that exists wins;
 * else an `org/name[@revision]` id is looked up in the Hugging Face cache and what is missing is
 * downloaded (nothing is requested when HF_HUB_OFFLINE is set, or when a pinned commit is cached).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { datasetInfo, listFiles, modelInfo } from '@huggingface/hub';
import { MlxLabError } from '../core/errors.js';
import { blobPath, blobSize, cachedSnapshot, linkSnapshotFile, repoFolder, writeRef } from './cache.js';
import { downloadBlob, type RemoteFile } from './download.js';
import { withBlobLock } from './blob-lock.js';
import { hubEnv, type HubEnv } from './env.js';
import { hubError, type HubRequest } from './errors.js';
import { assertSafeRepoPath } from './files.js';
import { COMMIT, formatHubId, parseHubId, type HubId } from './id.js';
import { DATASET_KIND, MODEL_KIND, type RepoKind } from './kinds.js';
import { progressListener, type HubProgressListener } from './progress.js';

/** Options of resolveModelPath. */
export interface HubOptions {
  /** Download progress (default: the listener set by setDefaultHubProgress, e.g. the CLI's bar). */
  onProgress?: HubProgressListener;
  /** The environment to read HF_* from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
}

/** A local path for `arg`: the path itself when it exists or is not an id, else the cached (and completed) snapshot folder of the Hub id. */
export async function resolveModelPath(arg: string, options: HubOptions = {}): Promise<string> {
  const local = resolve(arg);
  if (existsSync(local)) return local;
  const id = parseHubId(arg);
  if (!id) return local;
  return resolveHubId(id, MODEL_KIND, hubEnv(options.env), options);
}

/**
 * The snapshot folder of a dataset id (`org/name[@revision]`, already parsed) in the cache
 * (`datasets--org--name`), with every JSONL, JSON and Parquet file of the repo downloaded.
 */
export async function resolveDatasetPath(id: HubId, options: HubOptions = {}): Promise<string> {
  return resolveHubId(id, DATASET_KIND, hubEnv(options.env), options);
}

/** The snapshot folder of a Hub id, downloading what is missing unless offline. */
async function resolveHubId(id: HubId, kind: RepoKind, env: HubEnv, options: HubOptions): Promise<string> {
  const revision = id.revision ?? 'main';
  const folder = repoFolder(env.cacheDir, id.repo, kind.type);
  const cached = cachedSnapshot(folder, revision, kind.complete);
  if (cached && (env.offline || COMMIT.test(revision))) return cached;
  if (env.offline) {
    throw new MlxLabError('E_HUB', `${formatHubId(id)}: not in the Hugging Face cache (${folder}) and HF_HUB_OFFLINE is set, so nothing is downloaded: unset HF_HUB_OFFLINE to fetch it, or give a local path`);
  }
  const req: HubRequest = { repo: id.repo, type: kind.type, commit: revision, endpoint: env.endpoint, token: env.token, fetch: options.fetch ?? fetch };
  let commit: string;
  try {
    commit = await resolveCommit(req);
  } catch (err) {
    const e = hubError(err, req, `revision ${revision}`);
    if (cached && !(err instanceof Error && 'statusCode' in err)) {
      process.emitWarning(`${e.message}; using the cached snapshot ${cached}`);
      return cached;
    }
    throw e;
  }
  const files = await listWanted({ ...req, commit }, kind);
  await fetchMissing({ ...req, commit }, folder, files, progressListener(options.onProgress));
  writeRef(folder, revision, commit);
  return join(folder, 'snapshots', commit);
}

/** The API path of a repo (`models/org/name`, `datasets/org/name`). */
function apiPath(req: HubRequest): string {
  return `${req.type ?? 'model'}s/${req.repo}`;
}

/** The commit a revision names on the Hub. */
async function resolveCommit(req: HubRequest): Promise<string> {
  const params = { name: req.repo, revision: req.commit, hubUrl: req.endpoint, accessToken: req.token, fetch: req.fetch, additionalFields: ['sha' as const] };
  const info = req.type === 'dataset' ? await datasetInfo(params) : await modelInfo(params);
  const sha = info.sha;
  if (typeof sha !== 'string' || !COMMIT.test(sha)) {
    throw new MlxLabError('E_HUB', `${req.endpoint}/api/${apiPath(req)}/revision/${req.commit}: no commit id (sha) in the answer`);
  }
  return sha;
}

/** The files of the commit that the kind wants, every listed name checked first. */
async function listWanted(req: HubRequest, kind: RepoKind): Promise<RemoteFile[]> {
  const where = `${req.endpoint}/api/${apiPath(req)}/tree/${req.commit}`;
  const out: RemoteFile[] = [];
  const recursive = kind.type === 'dataset'; // dataset files sit in folders (data/, a subset's folder)
  try {
    for await (const entry of listFiles({ repo: { type: kind.type, name: req.repo }, recursive, revision: req.commit, hubUrl: req.endpoint, accessToken: req.token, fetch: req.fetch })) {
      assertSafeRepoPath(entry.path, where);
      if (entry.type !== 'file' || !kind.wanted(entry.path)) continue;
      const etag = entry.lfs?.oid ?? entry.oid;
      if (typeof etag !== 'string' || !/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(etag)) {
        throw new MlxLabError('E_HUB', `${where}: ${entry.path} has no usable oid (${JSON.stringify(etag)})`);
      }
      const size = entry.lfs?.size ?? entry.size;
      if (!Number.isSafeInteger(size) || size < 0) throw new MlxLabError('E_HUB', `${where}: ${entry.path} has no usable size`);
      out.push({ path: entry.path, size, etag, lfs: entry.lfs !== undefined });
    }
  } catch (err) {
    throw hubError(err, req, 'listing files');
  }
  const refused = kind.refuse(out.map((f) => f.path));
  if (refused) throw new MlxLabError('E_HUB', `${where}: ${refused}`);
  return out;
}

/** Download the blobs that are missing or of the wrong size, then link every file into the snapshot. */
async function fetchMissing(req: HubRequest, folder: string, files: RemoteFile[], onProgress: HubProgressListener | undefined): Promise<void> {
  const missing = files.filter((f) => blobSize(blobPath(folder, f.etag)) !== f.size);
  const totalBytes = missing.reduce((s, f) => s + f.size, 0);
  if (missing.length > 0) {
    mkdirSync(join(folder, 'blobs'), { recursive: true });
    onProgress?.({ event: 'start', repo: req.repo, commit: req.commit, files: missing.length, totalBytes });
    for (const file of missing) {
      const blob = blobPath(folder, file.etag);
      const onBytes = (bytes: number) => onProgress?.({ event: 'bytes', repo: req.repo, file: file.path, bytes, totalBytes });
      // One downloader per blob: another process fetching it is waited for, and its blob used.
      await withBlobLock(folder, file.etag, (holder) => onProgress?.({ event: 'wait', repo: req.repo, file: file.path, holder }), async () => {
        if (blobSize(blob) === file.size) return onBytes(file.size);
        rmSync(blob, { force: true }); // a blob of the wrong size is never linked or loaded
        await downloadBlob(req, file, blob, onBytes);
      });
    }
    onProgress?.({ event: 'done', repo: req.repo, commit: req.commit, totalBytes });
  }
  for (const file of files) linkSnapshotFile(folder, req.commit, file.path, file.etag);
}
