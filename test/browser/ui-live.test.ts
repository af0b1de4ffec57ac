// The live page in a real browser (headless Chromium driven by playwright-core) while a tiny-model
// run trains: `mlx-lab train --ui` on the tiny-chat fixture with format evals every 10 steps. The
// chart gains points and the heat map a column per eval while the run is live; clicking a case
// shows its replies; when the run ends the selected checkpoint is marked; no request without the
// token and no path outside the run folder is served. Screenshots: test-results/ui/ (git-ignored).
// No browser found: the suite skips saying how to install one (with CI=true that skip fails).
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { findBrowser, launchBrowser } from '../../scripts/lib/browser.mjs';
import { ROOT } from '../helpers/paths.js';
import { describeOrSkip } from '../helpers/skip.js';
import { tmpDir } from '../helpers/train.js';
import { formatEvents, startUiRun, type UiRun } from '../helpers/ui-run.js';

const found = await findBrowser();
const ARTIFACTS = join(ROOT, 'test-results', 'ui');

/** What the page shows now: the chart's points, the heat map's step columns, the status line, how many live redraws. */
interface Snapshot {
  points: number;
  columns: string[];
  status: string;
  updates: number;
}

function snapshot(page: Page): Promise<Snapshot> {
  return page.evaluate(() => {
    const w = window as unknown as { Chart?: { getChart(c: Element | null): { data: { datasets: { data: unknown[] }[] } } | undefined } };
    const chart = w.Chart?.getChart(document.getElementById('chart-main'));
    const heads = [...document.querySelectorAll('table.heat thead th')].slice(1);
    return {
      points: chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0,
      columns: heads.map((th) => (th.textContent ?? '').replace('★', '').trim()),
      status: document.getElementById('ui-status')?.textContent ?? '',
      updates: Number(document.body.getAttribute('data-ui-updates') ?? 0),
    };
  });
}

const isLive = (s: Snapshot) => s.status.startsWith('live');

describeOrSkip(found.missing, 'the live page in Chromium while tiny-chat trains', () => {
  let browser: Browser;
  let page: Page;
  let run: UiRun;
  let dir: string;
  const pageErrors: string[] = [];
  const seen: Snapshot[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchBrowser(found.path!); // started before the run, so the page is open early in it
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    dir = tmpDir('mlxlab-ui-browser-');
    run = await startUiRun({ dir, iters: 60, every: 10, maxTokens: 12 });
  });
  afterAll(async () => {
    await run?.stop();
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('follows the run live: the chart gains points and the heat map a column per eval', async () => {
    const first = await page.goto(run.url);
    expect(first?.status()).toBe(200);
    seen.push(await snapshot(page));
    expect(isLive(seen[0])).toBe(true);
    let liveShot = false;
    while (isLive(seen.at(-1)!)) {
      await page.waitForFunction((n) => Number(document.body.getAttribute('data-ui-updates') ?? 0) > n, seen.at(-1)!.updates, { timeout: 300_000, polling: 100 });
      const s = await snapshot(page);
      seen.push(s);
      if (!liveShot && isLive(s) && s.columns.length >= 2) {
        await page.screenshot({ path: join(ARTIFACTS, 'live.png'), fullPage: true });
        liveShot = true;
      }
    }
    await run.ended;
    // The stream's `finished` event marks the status at once and redraws 300 ms later: wait for
    // that last redraw (the server's read-only page) before the final checks.
    await page.waitForFunction(() => document.getElementById('ui-status')?.textContent?.includes('read-only'), undefined, { timeout: 60_000, polling: 100 });
    seen.push(await snapshot(page));
    const steps = formatEvents(run.runDir).map((e) => String(e.iteration));
    expect(steps).toEqual(['0', '10', '20', '30', '40', '50', '60']);
    const live = seen.filter(isLive);
    const points = [...new Set(live.map((s) => s.points))];
    expect(points.length, `points seen while live: ${points}`).toBeGreaterThanOrEqual(3);
    expect(points).toEqual([...points].sort((a, b) => a - b)); // only ever gains points
    const counts = [...new Set(live.map((s) => s.columns.length))];
    expect(counts.length, `heat map columns seen while live: ${counts}`).toBeGreaterThanOrEqual(2);
    for (const s of live) expect(s.columns).toEqual(steps.slice(0, s.columns.length)); // one column per eval, in step order
    expect(seen.at(-1)!.columns).toEqual(steps);
    expect(seen.at(-1)!.status).toContain('read-only');
    expect(pageErrors).toEqual([]);
  });

  it('marks the selected checkpoint when the run ends', async () => {
    const selected = String((JSON.parse(readFileSync(join(run.runDir, 'run.json'), 'utf8')) as { selected: { checkpoint: { iteration: number } } }).selected.checkpoint.iteration);
    await expect.poll(() => page.locator('tr.sel td').first().textContent(), { timeout: 30_000 }).toBe(selected);
    await expect(page.locator('tr.sel').textContent()).resolves.toContain('★ selected');
    const cards = await page.locator('.cards').textContent();
    expect(cards).toContain('selected checkpoint');
    expect(cards).not.toContain('provisional');
    await expect(page.locator('table.heat thead th', { hasText: '★' }).textContent()).resolves.toBe(`★${selected}`);
    await page.screenshot({ path: join(ARTIFACTS, 'finished.png'), fullPage: true });
  });

  it("shows a case's raw reply at each eval when it is clicked", async () => {
    const want = formatEvents(run.runDir).map((e) => e.replies?.tests);
    expect(want.every((r) => typeof r === 'string')).toBe(true);
    await page.locator('table.heat tbody th.case[title="tests"]').click();
    const panel = page.locator('#ui-replies');
    await expect.poll(() => panel.isVisible(), { timeout: 30_000 }).toBe(true);
    await expect(panel.locator('h2').textContent()).resolves.toBe('Replies of tests');
    const replies = await panel.locator('pre').evaluateAll((pres) => pres.map((p) => p.textContent));
    expect(replies).toEqual(want);
    await page.screenshot({ path: join(ARTIFACTS, 'replies.png') });
    expect(pageErrors).toEqual([]);
  });

  it('answers no request without the token (403)', async () => {
    const url = new URL(run.url);
    const token = url.searchParams.get('token')!;
    const base = `${url.origin}`;
    for (const path of ['/', '/events', '/replies?case=tests', '/files/metrics.jsonl', `/?token=${token.slice(0, -1)}x`, '/?token=']) {
      const r = await page.request.get(base + path);
      expect(r.status(), path).toBe(403);
      expect(await r.text()).not.toContain('metrics');
    }
    const nav = await (await browser.newPage()).goto(`${base}/`);
    expect(nav?.status()).toBe(403);
  });

  it('refuses a path outside the run folder (403) and serves one inside', async () => {
    const url = new URL(run.url);
    const t = `token=${url.searchParams.get('token')}`;
    const inside = await page.request.get(`${url.origin}/files/run.json?${t}`);
    expect(inside.status()).toBe(200);
    expect(await inside.json()).toMatchObject({ stopReason: 'completed' });
    for (const path of ['/files/..%2F..%2F..%2Fetc%2Fpasswd', '/files/%2Fetc%2Fpasswd', '/files/..%2Fconfig.yaml', '/run?dir=..', '/run?dir=%2Fetc', '/replies?case=tests&run=..%2F..']) {
      const r = await page.request.get(`${url.origin}${path}${path.includes('?') ? '&' : '?'}${t}`);
      expect(r.status(), path).toBe(403);
      const body = await r.text();
      expect(body).toMatch(/^refused/);
      expect(body).not.toContain('root:');
    }
  });

  it('exits cleanly on Ctrl-C once the page was left open', async () => {
    expect(await run.stop()).toBe(0);
    const r = await page.request.get(run.url).catch((e: Error) => e);
    expect(r).toBeInstanceOf(Error); // the server is gone with the process
  });
});
