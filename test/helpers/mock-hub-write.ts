/**
 * The write side of the mock Hub (mock-hub.ts routes here first): repo creation, preupload, the
 * LFS batch API with a "basic" PUT transfer, and the ndjson commit, as @huggingface/hub calls
 * them. Writes need `Authorization: Bearer <writeToken>`; what each commit carried is captured.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MockHub } from './mock-hub.js';

/** One commit as the mock received it: the title and every file's bytes. */
export interface CapturedCommit {
  repo: string;
  title: string;
  files: Map<string, Buffer>;
}

/** The state of the write side (part of MockHub). */
export interface MockHubWrites {
  /** The token writes need (undefined: any bearer token). */
  writeToken?: string;
  /** Repos created through /api/repos/create, with the request's body. */
  created: { repo: string; body: Record<string, unknown> }[];
  commits: CapturedCommit[];
  /** LFS objects PUT so far, by sha256. */
  lfs: Map<string, Buffer>;
}

export function emptyWrites(): MockHubWrites {
  return { created: [], commits: [], lfs: new Map() };
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(value));
}

function authorized(hub: MockHub, req: IncomingMessage): boolean {
  const auth = req.headers.authorization ?? '';
  return hub.writes.writeToken === undefined ? auth.startsWith('Bearer ') : auth === `Bearer ${hub.writes.writeToken}`;
}

let commits = 0;

async function commit(hub: MockHub, repoId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const repo = hub.repos.get(repoId);
  if (!repo) return json(res, 404, { error: 'Repository not found' });
  const lines = (await body(req)).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
  const files = new Map<string, Buffer>();
  let title = '';
  for (const { key, value } of lines) {
    if (key === 'header') title = String(value.summary);
    else if (key === 'file') files.set(String(value.path), Buffer.from(String(value.content), 'base64'));
    else if (key === 'lfsFile') {
      const data = hub.writes.lfs.get(String(value.oid));
      if (!data || data.length !== value.size) return json(res, 422, { error: `LFS object ${value.oid} was not uploaded` });
      files.set(String(value.path), data);
    } else return json(res, 400, { error: `unknown key ${key}` });
  }
  hub.writes.commits.push({ repo: repoId, title, files });
  const sha = createHash('sha1').update(`commit ${++commits}`).digest('hex');
  const parent = repo.commits.get(repo.refs.get('main') ?? '') ?? new Map();
  repo.commits.set(sha, new Map([...parent, ...files]));
  repo.refs.set('main', sha);
  json(res, 200, { success: true, commitOid: sha, commitUrl: `${hub.url}/${repoId}/commit/${sha}` });
}

async function lfsBatch(hub: MockHub, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { objects } = JSON.parse((await body(req)).toString('utf8')) as { objects: { oid: string; size: number }[] };
  res.writeHead(200, { 'Content-Type': 'application/vnd.git-lfs+json' });
  res.end(JSON.stringify({ transfer: 'basic', objects: objects.map((o) => ({ ...o, actions: { upload: { href: `${hub.url}/lfs-upload/${o.oid}` } } })) }));
}

async function lfsPut(hub: MockHub, oid: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const data = await body(req);
  if (createHash('sha256').update(data).digest('hex') !== oid) return json(res, 400, { error: 'sha256 mismatch' });
  hub.writes.lfs.set(oid, data);
  res.writeHead(200);
  res.end();
}

/** Serve a write request; false when `parts` is not a write route (mock-hub.ts serves it). */
export function handleWrite(hub: MockHub, req: IncomingMessage, res: ServerResponse, parts: string[]): boolean {
  const post = req.method === 'POST';
  const fail = (err: unknown) => json(res, 500, { error: String(err) });
  if (req.method === 'PUT' && parts[0] === 'lfs-upload') {
    lfsPut(hub, parts[1], req, res).catch(fail);
    return true;
  }
  const create = post && parts.join('/') === 'api/repos/create';
  const api = post && parts[0] === 'api' && parts[1] === 'models' && (parts[4] === 'preupload' || parts[4] === 'commit');
  const batch = post && parts[1]?.endsWith('.git') && parts.slice(2).join('/') === 'info/lfs/objects/batch';
  if (!create && !api && !batch) return false;
  if (!authorized(hub, req)) {
    json(res, 401, { error: 'Invalid credentials in Authorization header' });
    return true;
  }
  if (create) {
    body(req)
      .then((b) => {
        const payload = JSON.parse(b.toString('utf8')) as Record<string, unknown>;
        const repo = `${payload.organization}/${payload.name}`;
        if (hub.repos.has(repo)) return json(res, 409, { error: 'You already created this model repo' });
        hub.writes.created.push({ repo, body: payload });
        hub.repos.set(repo, { commits: new Map(), refs: new Map() });
        json(res, 200, { url: `${hub.url}/${repo}`, id: repo });
      })
      .catch(fail);
  } else if (batch) {
    lfsBatch(hub, req, res).catch(fail);
  } else if (parts[4] === 'preupload') {
    body(req)
      .then((b) => {
        const { files } = JSON.parse(b.toString('utf8')) as { files: { path: string }[] };
        json(res, 200, { files: files.map((f) => ({ path: f.path, uploadMode: f.path.endsWith('.safetensors') ? 'lfs' : 'regular', shouldIgnore: false })) });
      })
      .catch(fail);
  } else {
    commit(hub, `${parts[2]}/${parts[3]}`, req, res).catch(fail);
  }
  return true;
}
