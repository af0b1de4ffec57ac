/** A mock MLflow tracking server on 127.0.0.1 (node:http) for the tracking tests: it records every request. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Servers started by mockMlflow, for the tests' afterAll. */
export const servers: Server[] = [];

/** Close every mock server. */
export async function closeMockServers(): Promise<void> {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
}

export interface Seen {
  method: string;
  url: string;
  body: string;
  /** The body's bytes (uploads). */
  raw: Buffer;
  json?: Record<string, unknown>;
}

export type Answer = (req: Seen) => { status: number; body: string } | undefined;

/** A mock MLflow server: records every request; `answer` may override the default answers. */
export async function mockMlflow(answer: Answer = () => undefined, artifactUri = 'mlflow-artifacts:/7/r1/artifacts') {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = raw.toString('utf8');
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', body, raw };
      try {
        s.json = JSON.parse(body);
      } catch {}
      seen.push(s);
      const a = answer(s) ?? defaultAnswer(s, artifactUri);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function defaultAnswer(s: Seen, artifactUri: string): { status: number; body: string } {
  if (s.url.startsWith('/api/2.0/mlflow/experiments/get-by-name')) return { status: 404, body: JSON.stringify({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no such experiment' }) };
  if (s.url === '/api/2.0/mlflow/experiments/create') return { status: 200, body: JSON.stringify({ experiment_id: '7' }) };
  if (s.url === '/api/2.0/mlflow/runs/create') return { status: 200, body: JSON.stringify({ run: { info: { run_id: 'r1', artifact_uri: artifactUri } } }) };
  return { status: 200, body: '{}' };
}

/** Each request as "METHOD /path" (no query). */
export const calls = (seen: Seen[]) => seen.map((s) => `${s.method} ${s.url.replace(/\?.*/, '')}`);
