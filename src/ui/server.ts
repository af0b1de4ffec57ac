/**
 * The live page's server (node:http, in the mlx-lab process): the report page of one run or
 * sweep folder, its updates over server-sent events, the raw replies of a case, and the files
 * of the run folders.
 *
 * Security: it binds to 127.0.0.1 unless the caller names another host; every request must
 * carry the random token (`?token=`, printed at start), else 403; it serves nothing outside
 * the folder it was given (real paths, symlinks resolved, compared with core/paths.ts); it only
 * reads (GET and HEAD; anything else is 405).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isAbsolute, join } from 'node:path';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { MlxLabError } from '../core/errors.js';
import { isInside } from '../core/paths.js';
import { detectReportKind, findRunDirs, findUnfinishedRunDirs } from '../report/load.js';
import { RunDir } from '../run/run-dir.js';
import { tailFeed, type Feed, type FeedItem } from './feed.js';
import { relativeName, renderRunPage, renderSweepPage } from './page.js';
import { repliesOf } from './replies.js';

export const DEFAULT_HOST = '127.0.0.1';

export interface UiOptions {
  /** The run or sweep folder shown. */
  target: string;
  /** Where to listen (default 127.0.0.1; anything else exposes the page to that network). */
  host?: string;
  /** 0 (default): a free port. */
  port?: number;
  /** The URL token (default: 24 random bytes, hex). */
  token?: string;
  /** Follow the runs (default: while a run of the folder has no run.json). */
  live?: boolean;
  /** The live events (default: metrics.jsonl of the run folders, tailed). */
  feed?: Feed;
  /** How often a tailed log is looked at (ms). */
  intervalMs?: number;
  threshold?: number;
  /** What the folder is (default: detected; give it for a run that has not written its log yet). */
  kind?: 'run' | 'sweep';
}

export interface UiServer {
  /** The page's address, token included. */
  url: string;
  token: string;
  host: string;
  port: number;
  live: boolean;
  /** The runs ended: open streams get `finished` (the page redraws once more) and the page is read-only from now on. */
  finish(): void;
  close(): Promise<void>;
}

/** True for the addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The warning printed when the page is served beyond this machine (undefined on loopback). */
export function exposureWarning(host: string): string | undefined {
  return isLoopback(host) ? undefined : `warning: the page listens on ${host}: anyone who can reach it and has the URL's token can read these runs; the token is the only protection`;
}

/** Start serving the live page of a run or sweep folder. */
export async function startUiServer(options: UiOptions): Promise<UiServer> {
  const root = realFolder(options.target);
  const kind = options.kind ?? detectReportKind(root);
  const runDirs = () => (kind === 'run' ? [root] : [...findRunDirs(root), ...findUnfinishedRunDirs(root)]);
  const live = options.live ?? (kind === 'run' ? !new RunDir(root).hasManifest() : findUnfinishedRunDirs(root).length > 0 || findRunDirs(root).length === 0);
  const token = options.token ?? randomBytes(24).toString('hex');
  const feed = live ? (options.feed ?? tailFeed({ runDirs, root, intervalMs: options.intervalMs })) : undefined;
  const ctx: Context = { root, kind, live, token, feed, source: options.target, threshold: options.threshold, streams: new Set() };
  const server = createServer((req, res) => handle(ctx, req, res));
  const host = options.host ?? DEFAULT_HOST;
  await new Promise<void>((done, fail) => {
    server.once('error', (e) => fail(new MlxLabError('E_ARGUMENT', `cannot listen on ${host}:${options.port ?? 0}: ${e.message}`, { cause: e })));
    server.listen(options.port ?? 0, host, () => done());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/?token=${token}`,
    token,
    host,
    port,
    get live() {
      return ctx.live;
    },
    finish() {
      ctx.live = false;
      for (const s of ctx.streams) s.end('event: finished\ndata: {}\n\n');
    },
    close: () =>
      new Promise<void>((done) => {
        if (!options.feed) feed?.close();
        for (const s of ctx.streams) s.end();
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

interface Context {
  root: string;
  kind: 'run' | 'sweep';
  live: boolean;
  token: string;
  feed?: Feed;
  source: string;
  threshold?: number;
  streams: Set<ServerResponse>;
}

function realFolder(target: string): string {
  let real: string;
  try {
    real = realpathSync(target);
  } catch {
    throw new MlxLabError('E_ARGUMENT', `${target}: no such folder`);
  }
  if (!statSync(real).isDirectory()) throw new MlxLabError('E_ARGUMENT', `${target}: not a folder (give a run folder or a sweep folder)`);
  return real;
}

function tokenMatches(given: string | null, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

const HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' };

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { ...HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

const text = (res: ServerResponse, status: number, message: string) => send(res, status, 'text/plain; charset=utf-8', `${message}\n`);

function handle(ctx: Context, req: IncomingMessage, res: ServerResponse): void {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    text(res, 400, 'bad request');
    return;
  }
  if (!tokenMatches(url.searchParams.get('token'), ctx.token)) {
    text(res, 403, 'forbidden: this page needs the token printed when mlx-lab ui started');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    text(res, 405, 'read-only: only GET and HEAD');
    return;
  }
  try {
    route(ctx, url, req, res);
  } catch (err) {
    const status = err instanceof Refused ? 403 : err instanceof MlxLabError && err.code === 'E_ARGUMENT' ? 404 : 500;
    text(res, status, err instanceof Error ? err.message : String(err));
  }
}

/** A path the server will not serve (outside the folder shown). */
class Refused extends Error {}

function route(ctx: Context, url: URL, req: IncomingMessage, res: ServerResponse): void {
  const path = url.pathname;
  if (path === '/') {
    const page = ctx.kind === 'run' ? renderRunPage(ctx.root, pageOptions(ctx)) : renderSweepPage(ctx.root, pageOptions(ctx));
    send(res, 200, 'text/html; charset=utf-8', page);
    return;
  }
  if (path === '/run') {
    const dir = inside(ctx.root, url.searchParams.get('dir') ?? '');
    send(res, 200, 'text/html; charset=utf-8', renderRunPage(dir, { ...pageOptions(ctx), run: relativeName(ctx.root, dir), source: relativeName(ctx.root, dir) }));
    return;
  }
  if (path === '/events') {
    events(ctx, req, res);
    return;
  }
  if (path === '/replies') {
    const run = url.searchParams.get('run');
    const dirs = run ? [inside(ctx.root, run)] : ctx.kind === 'run' ? [ctx.root] : [...findRunDirs(ctx.root), ...findUnfinishedRunDirs(ctx.root)];
    const id = url.searchParams.get('case') ?? '';
    send(res, 200, 'application/json; charset=utf-8', JSON.stringify({ case: id, runs: dirs.map((d) => ({ run: relativeName(ctx.root, d), ...repliesOf(d, id) })) }));
    return;
  }
  if (path.startsWith('/files/')) {
    const rel = path.slice('/files/'.length).split('/').map(decodeURIComponent).join('/');
    const file = inside(ctx.root, rel);
    if (!statSync(file).isFile()) throw new MlxLabError('E_ARGUMENT', `${rel}: not a file`);
    send(res, 200, rel.endsWith('.html') ? 'text/html; charset=utf-8' : rel.endsWith('.json') || rel.endsWith('.jsonl') ? 'application/json; charset=utf-8' : 'application/octet-stream', readFileSync(file));
    return;
  }
  text(res, 404, `not found: ${path}`);
}

function pageOptions(ctx: Context) {
  return { token: ctx.token, live: ctx.live, source: ctx.source, threshold: ctx.threshold };
}

/** The real path of `rel` below `root`, refused when it is absolute, has a NUL, or leads (through `..` or a symlink) outside it. */
export function inside(root: string, rel: string): string {
  if (rel.includes('\0') || isAbsolute(rel) || /^[a-zA-Z]:/.test(rel)) throw new Refused(`refused: ${JSON.stringify(rel)} is not a path inside the folder shown`);
  let real: string;
  try {
    real = realpathSync(join(root, rel));
  } catch {
    if (!isInside(join(root, rel), root)) throw new Refused(`refused: ${JSON.stringify(rel)} is outside the folder shown`);
    throw new MlxLabError('E_ARGUMENT', `${rel}: not found`);
  }
  if (!isInside(real, root)) throw new Refused(`refused: ${JSON.stringify(rel)} is outside the folder shown`);
  return real;
}

/** The event stream: one `metrics` event per log event; a read-only page gets `finished` and the end. */
function events(ctx: Context, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { ...HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
  res.write('retry: 2000\n\n');
  if (!ctx.live || !ctx.feed) {
    res.end('event: finished\ndata: {}\n\n');
    return;
  }
  let n = 0;
  const unsubscribe = ctx.feed.subscribe((item: FeedItem) => {
    res.write(`id: ${++n}\nevent: metrics\ndata: ${JSON.stringify(item)}\n\n`);
  });
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  keepAlive.unref();
  ctx.streams.add(res);
  const stop = () => {
    unsubscribe();
    clearInterval(keepAlive);
    ctx.streams.delete(res);
  };
  req.on('close', stop);
  res.on('close', stop);
}
