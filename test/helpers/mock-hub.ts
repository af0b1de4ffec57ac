/**
 * A local stand-in for the Hugging Face Hub (node:http on 127.0.0.1, a random port), serving the
 * endpoints the client uses: model info at a revision, the file tree, and resolve with a redirect,
 * ETag / X-Linked-ETag and range requests. Faults can be injected per file (a cut connection, a
 * corrupted body) and every request is logged. Dataset repos are kept under the key
 * `datasets/org/name` and served on the dataset routes (/api/datasets/..., /datasets/.../resolve).
 * The write endpoints (repo creation, preupload,
 * LFS, commit) are in mock-hub-write.ts.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { emptyWrites, handleWrite, type MockHubWrites } from './mock-hub-write.js';

export interface MockRepo {
  /** commit id → files */
  commits: Map<string, Map<string, Buffer>>;
  /** branch or tag → commit id */
  refs: Map<string, string>;
  /** when set, requests need `Authorization: Bearer <token>` */
  token?: string;
  /** extra entries appended to the tree listing (hostile names) */
  extraListing?: { type: string; path: string; size: number; oid: string }[];
}

export interface Fault {
  /** cut the connection after this many body bytes (first full GET of the file only) */
  cutAfter?: number;
  /** serve a body with one byte flipped this many times */
  corrupt?: number;
}

export interface LoggedRequest {
  method: string;
  url: string;
  range: string | undefined;
}

export interface MockHub {
  url: string;
  requests: LoggedRequest[];
  repos: Map<string, MockRepo>;
  faults: Map<string, Fault>;
  /** The write side: created repos, commits, LFS objects (mock-hub-write.ts). */
  writes: MockHubWrites;
  close(): Promise<void>;
}

/** The git blob id of a content (what the Hub lists as `oid` for non-LFS files). */
export function gitOid(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

/** sha256 hex of a content (the LFS oid). */
export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A fake commit id made from a label. */
export function commitId(label: string): string {
  return createHash('sha1').update(label).digest('hex');
}

/** The files of a folder (top level), as a repo commit. */
export function filesOf(dir: string, skip: string[] = []): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(dir)) if (!skip.includes(name)) out.set(name, readFileSync(join(dir, name)));
  return out;
}

const isLfs = (path: string) => path.endsWith('.safetensors') || path.endsWith('.parquet');

function entry(path: string, data: Buffer) {
  return isLfs(path)
    ? { type: 'file', path, size: data.length, oid: gitOid(Buffer.from(`lfs pointer ${path}`)), lfs: { oid: sha256(data), size: data.length, pointerSize: 130 } }
    : { type: 'file', path, size: data.length, oid: gitOid(data) };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The commit a revision names in a repo. */
function commitOf(repo: MockRepo, rev: string): string | undefined {
  const r = decodeURIComponent(rev);
  if (repo.commits.has(r)) return r;
  return repo.refs.get(r === 'HEAD' ? 'main' : r);
}

function serveFile(hub: MockHub, req: IncomingMessage, res: ServerResponse, key: string, data: Buffer, etag: string): void {
  const range = req.headers.range;
  const fault = hub.faults.get(key);
  let body = data;
  let start = 0;
  let end = data.length - 1;
  const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
  if (m) {
    start = Number(m[1]);
    end = m[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
  }
  const probe = range === 'bytes=0-0';
  if (!probe && fault?.corrupt) {
    fault.corrupt--;
    body = Buffer.from(data);
    body[body.length - 1] ^= 0xff;
  }
  const chunk = body.subarray(start, end + 1);
  const headers = { ETag: `"${etag}"`, 'X-Linked-ETag': `"${etag}"`, 'Accept-Ranges': 'bytes', 'Content-Length': String(chunk.length), 'Content-Type': 'application/octet-stream' };
  if (m) res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${data.length}` });
  else res.writeHead(200, headers);
  if (!probe && fault?.cutAfter !== undefined) {
    const n = fault.cutAfter;
    fault.cutAfter = undefined;
    res.write(chunk.subarray(0, n), () => res.destroy());
    return;
  }
  res.end(chunk);
}

function handle(hub: MockHub, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  hub.requests.push({ method: req.method ?? '', url: url.pathname + url.search, range: req.headers.range });
  const parts = url.pathname.split('/').filter(Boolean);
  if (handleWrite(hub, req, res, parts)) return;
  // A dataset route is a model route with "datasets" before the org (after api/ and cdn/): drop it and key the repo with it.
  const datasetAt = parts[0] === 'api' || parts[0] === 'cdn' ? 1 : 0;
  const dataset = parts[datasetAt] === 'datasets' && !(parts[0] === 'api' && parts[1] === 'models');
  if (dataset) parts.splice(datasetAt, 1, ...(parts[0] === 'api' ? ['models'] : []));
  const api = parts[0] === 'api' && parts[1] === 'models';
  const cdn = parts[0] === 'cdn';
  const [org, name] = api ? parts.slice(2, 4) : cdn ? parts.slice(1, 3) : parts.slice(0, 2);
  const repoId = `${dataset ? 'datasets/' : ''}${org}/${name}`;
  const repo = hub.repos.get(repoId);
  if (!repo) return json(res, 401, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
  if (repo.token !== undefined && req.headers.authorization !== `Bearer ${repo.token}`) {
    return json(res, 401, { error: `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it.` }, { 'X-Error-Code': 'GatedRepo' });
  }
  if (api && parts.length === 4) return json(res, 200, { _id: 'x', id: repoId, private: false, likes: 0 });
  if (api && parts[4] === 'revision') {
    const sha = commitOf(repo, parts[5] ?? 'main');
    if (!sha) return json(res, 404, { error: 'Invalid rev id' }, { 'X-Error-Code': 'RevisionNotFound' });
    const files = repo.commits.get(sha)!;
    return json(res, 200, { _id: 'x', id: repoId, sha, private: false, gated: repo.token ? 'manual' : false, downloads: 0, likes: 0, lastModified: '2025-01-01T00:00:00.000Z', siblings: [...files.keys()].map((rfilename) => ({ rfilename })) });
  }
  if (api && parts[4] === 'tree') {
    const sha = commitOf(repo, parts[5] ?? 'main');
    if (!sha) return json(res, 404, { error: 'Invalid rev id' });
    const files = repo.commits.get(sha)!;
    return json(res, 200, [...[...files].map(([p, d]) => entry(p, d)), ...(repo.extraListing ?? [])]);
  }
  if (parts[2] === 'resolve') {
    const sha = commitOf(repo, parts[3] ?? '');
    const path = parts.slice(4).join('/');
    const data = sha ? repo.commits.get(sha)!.get(path) : undefined;
    if (!sha || !data) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
    if (!isLfs(path)) {
      res.setHeader('X-Repo-Commit', sha);
      return serveFile(hub, req, res, `${repoId}/${path}`, data, gitOid(data));
    }
    // LFS files: an absolute redirect to the "CDN" carrying the metadata, as the Hub does.
    res.writeHead(302, { Location: `${hub.url}/cdn/${repoId}/${sha}/${path}`, 'X-Repo-Commit': sha, 'X-Linked-Etag': `"${sha256(data)}"`, 'X-Linked-Size': String(data.length) });
    return void res.end();
  }
  if (cdn) {
    const sha = parts[3];
    const path = parts.slice(4).join('/');
    const data = repo.commits.get(sha)?.get(path);
    if (!data) return json(res, 404, { error: 'not found' });
    res.setHeader('X-Repo-Commit', sha);
    return serveFile(hub, req, res, `${repoId}/${path}`, data, isLfs(path) ? sha256(data) : gitOid(data));
  }
  json(res, 404, { error: `no route ${url.pathname}` });
}

/** Start a mock Hub on 127.0.0.1 with a random port. */
export async function startMockHub(): Promise<MockHub> {
  let server: Server | undefined;
  const hub: MockHub = {
    url: '',
    requests: [],
    repos: new Map(),
    faults: new Map(),
    writes: emptyWrites(),
    close: () =>
      new Promise((r) => {
        server?.closeAllConnections();
        server ? server.close(() => r()) : r();
      }),
  };
  server = createServer((req, res) => handle(hub, req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return hub;
}

/** A repo whose `main` is one commit of the given files. */
export function repoOf(files: Map<string, Buffer>, label = 'main'): MockRepo {
  const sha = commitId(label);
  return { commits: new Map([[sha, files]]), refs: new Map([['main', sha]]) };
}
