// `mlx-lab demo --ui`: the option is accepted, the page's URL (with its token) is printed before
// the first stage, and the page is the live page of the demo's run folder (<dir>/run), empty until
// stage 4 trains into it; nothing outside that folder is served; Ctrl-C stops the demo and the
// page with it. A page that cannot start (port taken) fails before the demo starts and leaves no
// folder behind. The full demo takes 15+ minutes: these tests stop it during its first stages.
import { createServer, get, type Server } from 'node:http';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runInterrupted } from '../helpers/cli.js';
import { describeOrSkip } from '../helpers/skip.js';
import { SMOLLM2_MISSING } from '../helpers/smollm2.js';
import { tmpDir } from '../helpers/train.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const dir = () => {
  const d = tmpDir('mlxlab-demo-ui-');
  dirs.push(d);
  return d;
};

/** GET a URL: its status and body, or the connection error. */
function fetchText(url: string): Promise<{ status: number; body: string } | Error> {
  return new Promise((done) => {
    get(url, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    }).on('error', (e) => done(e));
  });
}

describeOrSkip(SMOLLM2_MISSING, 'demo --ui (SmolLM2, stopped during the first stages)', () => {
  it('prints the URL, serves the live page of the demo run folder and only that folder, and closes it on Ctrl-C', async () => {
    const out = join(dir(), 'demo');
    let url: string | undefined;
    let checked: { page: { status: number; body: string } | Error; outside: { status: number; body: string } | Error } | undefined;
    const r = await runInterrupted(['demo', '--dir', out, '--train-examples', '20', '--iters', '4', '--ui'], 'SIGINT', (output) => {
      const m = /live page \(live\): (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48})\n/.exec(output);
      if (m && !url) {
        url = m[1];
        const u = new URL(url);
        void Promise.all([fetchText(url), fetchText(`${u.origin}/files/..%2Fdata%2Ftrain.jsonl?${u.searchParams}`)]).then(([page, outside]) => (checked = { page, outside }));
      }
      return checked !== undefined;
    }, { timeoutMs: 170_000 });
    expect(url, r.stderr).toBeDefined();
    const { page, outside } = checked!;
    if (page instanceof Error || outside instanceof Error) throw page instanceof Error ? page : outside;
    expect(page.status).toBe(200);
    expect(page.body).toContain('live · following the run');
    expect(page.body).toContain(join(out, 'run')); // the page names the folder it follows
    expect(page.body).toContain('id="ui-script"');
    expect(outside.status).toBe(403);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/demo interrupted/);
    expect(await fetchText(url!)).toBeInstanceOf(Error); // the page went with the process
  }, 180_000);
});

describe('demo --ui: bad options and a page that cannot start', () => {
  let busy: Server | undefined;
  afterAll(() => busy?.close());

  it('names a bad --ui-port', async () => {
    for (const port of ['70000', '-1', 'x']) {
      const r = await runCli(['demo', '--ui', '--ui-port', port, '--dir', join(dir(), 'demo')]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/--ui-port/);
    }
  });

  it('fails before the demo starts when the port is taken, leaving no folder behind', async () => {
    busy = createServer();
    await new Promise<void>((done) => busy!.listen(0, '127.0.0.1', done));
    const port = (busy.address() as { port: number }).port;
    const out = join(dir(), 'demo');
    const r = await runCli(['demo', '--ui', '--ui-port', String(port), '--dir', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
    expect(r.stderr).not.toMatch(/\[1\/7\]/); // no stage ran
    expect(existsSync(out)).toBe(false);
  });
});
