// The live page's server (src/ui): token, read-only, no path outside the folder shown, the
// event stream from a tailed metrics.jsonl and from in-process pushes, replies per case. Runs
// on copies of the synthetic run folders of test/fixtures/report; the page in a real browser: test/browser.
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { get, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pushFeed } from '../../src/ui/feed.js';
import { exposureWarning, startUiServer, type UiServer } from '../../src/ui/server.js';

const FIX = resolve('test/fixtures/report');
let tmp: string;
let server: UiServer | undefined;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-ui-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(tmp, { recursive: true, force: true });
});

function copy(name: string): string {
  const dir = join(tmp, 'runs', name);
  cpSync(join(FIX, name), dir, { recursive: true });
  return dir;
}

/** run-unfinished's log ends in a torn line (a killed run); a log being appended to has whole lines. */
function dropTornLine(dir: string): void {
  const file = join(dir, 'metrics.jsonl');
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.slice(0, text.lastIndexOf('\n') + 1));
}

const base = (s: UiServer) => `http://127.0.0.1:${s.port}`;

/** GET (or another method) with a raw path, so that `..` and encodings reach the server as written. */
function raw(s: UiServer, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port: s.port, path, method }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** Read server-sent events until `count` of them arrived (or the stream ended). */
function readEvents(s: UiServer, count: number, onOpen: () => void = () => {}): Promise<{ event: string; data: string }[]> {
  return new Promise((done, fail) => {
    const out: { event: string; data: string }[] = [];
    get(`${base(s)}/events?token=${s.token}`, (res) => {
      let buf = '';
      onOpen();
      res.on('data', (chunk) => {
        buf += chunk;
        let i = buf.indexOf('\n\n');
        while (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data !== undefined) out.push({ event, data });
          if (out.length >= count) {
            res.destroy();
            return done(out);
          }
          i = buf.indexOf('\n\n');
        }
      });
      res.on('end', () => done(out));
    }).on('error', fail);
  });
}

describe('ui server: access', () => {
  it('serves the report page of a finished run read-only, with the token', async () => {
    const dir = copy('run-reference');
    server = await startUiServer({ target: dir });
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    expect(server.token).toMatch(/^[0-9a-f]{48}$/);
    expect(server.live).toBe(false);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<h1>mlx-lab run');
    expect(html).toContain('id="chart-main"');
    expect(html).toContain('read-only · the run has finished');
    expect(html).toContain('id="ui-script"');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('answers 403 without the token or with a wrong one, on every path', async () => {
    server = await startUiServer({ target: copy('run-reference') });
    // The token with its last digit changed (always to another digit: a fixed '0' was the token itself once in 16 runs).
    const near = `${server.token.slice(0, -1)}${server.token.endsWith('0') ? '1' : '0'}`;
    for (const path of ['/', '/events', '/replies?case=write-01', '/files/run.json', '/nowhere']) {
      expect((await raw(server, path)).status).toBe(403);
      expect((await raw(server, `${path}${path.includes('?') ? '&' : '?'}token=${near}`)).status).toBe(403);
      expect((await raw(server, `${path}${path.includes('?') ? '&' : '?'}token=`)).status).toBe(403);
    }
    const wrong = await raw(server, '/?token=x');
    expect(wrong.body).not.toContain('mlx-lab run');
  });

  it('only reads: POST, PUT and DELETE get 405 even with the token', async () => {
    server = await startUiServer({ target: copy('run-reference') });
    for (const method of ['POST', 'PUT', 'DELETE']) expect((await raw(server, `/files/run.json?token=${server.token}`, method)).status).toBe(405);
  });

  it('refuses every path outside the folder: .., encoded .., absolute, symlinks out', async () => {
    const dir = copy('run-reference');
    writeFileSync(join(tmp, 'secret.txt'), 'SECRET-CONTENT');
    symlinkSync(join(tmp, 'secret.txt'), join(dir, 'link.txt'));
    symlinkSync(tmp, join(dir, 'up'));
    server = await startUiServer({ target: dir });
    const t = `token=${server.token}`;
    const ok = await raw(server, `/files/run.json?${t}`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toHaveProperty('checkpoints');
    for (const path of [
      `/files/../../secret.txt?${t}`,
      `/files/%2e%2e/%2e%2e/secret.txt?${t}`,
      `/files/..%2f..%2fsecret.txt?${t}`,
      `/files/%2fetc%2fpasswd?${t}`,
      `/files/link.txt?${t}`,
      `/files/up/secret.txt?${t}`,
      `/run?dir=..&${t}`,
      `/run?dir=${encodeURIComponent(tmp)}&${t}`,
      `/run?dir=up&${t}`,
      `/replies?case=x&run=..%2F..&${t}`,
      `/files/run.json%00.txt?${t}`,
    ]) {
      const res = await raw(server, path);
      expect(res.status, path).not.toBe(200);
      expect(res.body, path).not.toContain('SECRET-CONTENT');
    }
    expect((await raw(server, `/files/link.txt?${t}`)).status).toBe(403);
    expect((await raw(server, `/run?dir=up&${t}`)).status).toBe(403);
  });

  it('binds to 127.0.0.1 unless a host is given; another host comes with a warning', () => {
    expect(exposureWarning('127.0.0.1')).toBeUndefined();
    expect(exposureWarning('localhost')).toBeUndefined();
    expect(exposureWarning('0.0.0.0')).toMatch(/token is the only protection/);
  });

  it('names a folder that is not a run or sweep', async () => {
    await expect(startUiServer({ target: join(tmp, 'missing') })).rejects.toThrow(/missing: no such folder/);
    await expect(startUiServer({ target: tmp })).rejects.toThrow(/neither a run folder/);
  });
});

describe('ui server: live', () => {
  it('a finished run: the event stream says finished and ends', async () => {
    server = await startUiServer({ target: copy('run-reference') });
    expect(await readEvents(server, 5)).toEqual([{ event: 'finished', data: '{}' }]);
  });

  it('a run still training: lines appended to metrics.jsonl arrive in order, a half-written line only once complete', async () => {
    const dir = copy('run-unfinished');
    dropTornLine(dir);
    server = await startUiServer({ target: dir, intervalMs: 10 });
    expect(server.live).toBe(true);
    const log = join(dir, 'metrics.jsonl');
    const events = readEvents(server, 3, () => {
      appendFileSync(log, `${JSON.stringify({ event: 'val', iteration: 901, valLoss: 1.5, valTokens: 10, seconds: 1 })}\n{"event":"val","valTokens":10,"seconds":1,"itera`);
      appendFileSync(log, `tion":902,"valLoss":1.4}\n${JSON.stringify({ event: 'report', iteration: 903, trainLoss: 1.2, lr: 1e-5, itPerSec: 1, tokensPerSec: 100, trainedTokens: 1000, peakMemory: 1e9 })}\n`);
    });
    const got = (await events).map((e) => JSON.parse(e.data) as { run: string; event: { iteration: number } });
    expect(got.map((g) => g.event.iteration)).toEqual([901, 902, 903]);
    expect(got.every((g) => g.run === '')).toBe(true);
    const page = await (await fetch(server.url)).text();
    expect(page).toContain('live · following the run');
  });

  it('in process (--ui): pushed events stream in order, and finish() ends the stream', async () => {
    const dir = copy('run-unfinished');
    const feed = pushFeed();
    server = await startUiServer({ target: dir, live: true, feed, kind: 'run' });
    const s = server;
    const events = readEvents(s, 10, () => {
      setImmediate(() => {
        feed.push({ run: '', event: { event: 'val', iteration: 1, valLoss: 2, valTokens: 1, seconds: 0 } });
        feed.push({ run: '', event: { event: 'val', iteration: 2, valLoss: 1, valTokens: 1, seconds: 0 } });
        s.finish();
      });
    });
    const got = await events;
    expect(got.map((e) => e.event)).toEqual(['metrics', 'metrics', 'finished']);
    expect(got.slice(0, 2).map((e) => (JSON.parse(e.data) as { event: { iteration: number } }).event.iteration)).toEqual([1, 2]);
    expect(s.live).toBe(false);
  });

  it('train --ui before the first event: an empty live page (no 404) that the events fill; a finished empty folder is still not a run', async () => {
    const dir = join(tmp, 'runs', 'new-run');
    mkdirSync(dir, { recursive: true });
    server = await startUiServer({ target: dir, live: true, feed: pushFeed(), kind: 'run' });
    const page = await raw(server, `/?token=${server.token}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('live · following the run');
    expect(page.body).toContain('id="ui-script"');
    server.finish(); // the run ended without writing anything: the page now reads the folder as it is
    const after = await raw(server, `/?token=${server.token}`);
    expect(after.status).toBe(404);
    expect(after.body).toMatch(/no run\.json or metrics\.jsonl/);
  });

  it('serves the raw replies of a case at each eval', async () => {
    const dir = copy('run-unfinished');
    dropTornLine(dir);
    appendFileSync(join(dir, 'metrics.jsonl'), `${JSON.stringify({ event: 'format', iteration: 950, score: 1, low: 0.5, high: 1, n: 1, cases: { 'write-01': 1 }, failures: {}, replies: { 'write-01': '<tool_call>{"name":"write"}</tool_call>' } })}\n`);
    server = await startUiServer({ target: dir });
    const res = await fetch(`${base(server)}/replies?token=${server.token}&case=write-01`);
    const json = (await res.json()) as { runs: { evals: { iteration: number; reply: string | null; score: number }[] }[] };
    const last = json.runs[0].evals.at(-1)!;
    expect(last).toEqual({ iteration: 950, score: 1, reply: '<tool_call>{"name":"write"}</tool_call>' });
    expect(json.runs[0].evals[0].reply).toBeNull(); // the fixture's older evals logged no replies
  });

  it('a sweep: the runs side by side, each linked to its own page on the server', async () => {
    const dir = join(tmp, 'sweep');
    cpSync(join(FIX, 'sweep'), dir, { recursive: true });
    server = await startUiServer({ target: dir });
    const html = await (await fetch(server.url)).text();
    expect(html).toContain('<h1>mlx-lab sweep');
    expect(html).toContain('Best format score over seeds');
    const link = /href="(run\?[^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    expect(link).toContain(`token=${server.token}`);
    const run = await fetch(`${base(server)}/${link}`);
    expect(run.status).toBe(200);
    expect(await run.text()).toContain('<h1>mlx-lab run');
  });
});
