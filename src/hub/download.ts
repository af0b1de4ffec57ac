/**
 * One file from the Hub into the cache's blobs/: streamed into `<blob>.incomplete` (never read by
 * a loader), resumed from its length with a range request after an interruption, checked against
 * the listing's size and etag (sha256 for LFS files, the git blob id for the others), and only
 * then renamed to its blob name. A mismatch deletes the partial file and fetches it again.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { downloadFile } from '@huggingface/hub';
import { fsyncPath } from '../core/atomic.js';
import { MlxLabError } from '../core/errors.js';
import { hubError, type HubRequest } from './errors.js';

/** A file of a repo listing that we fetch. */
export interface RemoteFile {
  path: string;
  size: number;
  /** The blob name: the LFS sha256, else the git blob id. */
  etag: string;
  /** Whether the etag is the sha256 of the content (else a git blob id). */
  lfs: boolean;
}

/** How many times one file is tried (each try resumes where the last one stopped). */
const TRIES = 3;

/** A hash that ends as the file's etag: sha256 of the bytes for LFS files, else git's blob id. */
function etagHash(file: RemoteFile): Hash {
  if (file.lfs) return createHash('sha256');
  return createHash('sha1').update(`blob ${file.size}\0`);
}

/** Feed the bytes already in a partial file to the hash (a resumed download is checked whole). */
async function hashPartial(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** The length of a usable partial file (0 when absent or longer than the file). */
function partialLength(path: string, size: number): number {
  if (!existsSync(path)) return 0;
  const len = statSync(path).size;
  if (len <= size) return len;
  rmSync(path, { force: true });
  return 0;
}

/** Stream the rest of the file (from the partial file's length) onto it, hashing every byte. */
async function fetchRest(req: HubRequest, file: RemoteFile, partial: string, hash: Hash, onBytes: (n: number) => void): Promise<void> {
  const offset = partialLength(partial, file.size);
  if (offset > 0) {
    await hashPartial(partial, hash);
    onBytes(offset);
  }
  if (offset === file.size) return;
  const blob = await downloadFile({ repo: { type: req.type ?? 'model', name: req.repo }, path: file.path, revision: req.commit, hubUrl: req.endpoint, accessToken: req.token, fetch: req.fetch, xet: false });
  if (!blob) throw new MlxLabError('E_HUB', `${req.endpoint}/${req.type === 'dataset' ? 'datasets/' : ''}${req.repo}/resolve/${req.commit}/${file.path}: not found although the listing names it`);
  if (blob.size !== file.size) throw new MismatchError(`the server reports ${blob.size} bytes, the listing ${file.size}`);
  const out = createWriteStream(partial, { flags: offset > 0 ? 'a' : 'w' });
  let written = offset;
  try {
    for await (const chunk of blob.slice(offset).stream() as unknown as AsyncIterable<Uint8Array>) {
      written += chunk.byteLength;
      if (written > file.size) throw new MismatchError(`more than the listed ${file.size} bytes arrived`);
      hash.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      onBytes(chunk.byteLength);
    }
  } finally {
    out.end();
    await finished(out).catch(() => {});
  }
}

/** The content did not match the listing (size or etag): the partial file is dropped and fetched again. */
class MismatchError extends Error {}

/**
 * Download `file` into `blob` (resuming `<blob>.incomplete`), verified; E_HUB when it cannot be
 * fetched intact in TRIES tries. `onBytes` gets every byte count that lands (resumed bytes first).
 */
export async function downloadBlob(req: HubRequest, file: RemoteFile, blob: string, onBytes: (n: number) => void): Promise<void> {
  const partial = `${blob}.incomplete`;
  let last: unknown;
  for (let attempt = 0; attempt < TRIES; attempt++) {
    const hash = etagHash(file);
    let counted = 0;
    try {
      await fetchRest(req, file, partial, hash, (n) => {
        counted += n;
        onBytes(n);
      });
      const size = statSync(partial).size;
      const digest = hash.digest('hex');
      if (size !== file.size) throw new MismatchError(`${size} bytes arrived, the listing says ${file.size}`);
      if (digest !== file.etag) throw new MismatchError(`the content hashes to ${digest}, the etag is ${file.etag}`);
      fsyncPath(partial);
      renameSync(partial, blob);
      return;
    } catch (err) {
      onBytes(-counted); // the next try reports its bytes again
      if (err instanceof MismatchError) rmSync(partial, { force: true });
      else if (err instanceof MlxLabError || isHttpError(err)) throw hubError(err, req, file.path);
      last = err;
    }
  }
  const why = last instanceof Error ? last.message : String(last);
  throw new MlxLabError('E_HUB', `${req.repo}: ${file.path} could not be downloaded intact in ${TRIES} tries (${why}); run again to resume${existsSync(partial) ? ` from ${partial}` : ''}`);
}

/** Whether an error is an HTTP status answer of the Hub (not worth retrying). */
function isHttpError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'statusCode' in err;
}
