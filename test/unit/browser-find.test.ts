// Which Chromium the browser tests drive (scripts/lib/browser.mjs): CHROMIUM first (and a CHROMIUM
// that names no executable is reported, never passed over), then Playwright's own browser, then
// chromium / chromium-browser / google-chrome / google-chrome-stable on PATH; none: a reason that
// says how to install one. Fake browsers (executable files) in a temporary folder; nothing runs.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findBrowser, isExecutable, onPath, playwrightChromium } from '../../scripts/lib/browser.mjs';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-browser-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** A fake executable at `dir/name` (mode 0o755 unless given). */
function fake(dir: string, name: string, mode = 0o755): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, mode);
  return file;
}

const none = async () => undefined;

describe('findBrowser', () => {
  it('takes CHROMIUM first, over Playwright and PATH', async () => {
    const mine = fake(join(tmp, 'mine'), 'chrome');
    fake(join(tmp, 'bin'), 'chromium');
    const got = await findBrowser({ env: { CHROMIUM: mine, PATH: join(tmp, 'bin') }, playwright: async () => fake(join(tmp, 'pw'), 'chrome') });
    expect(got).toEqual({ path: mine, source: 'CHROMIUM' });
  });

  it('reports a CHROMIUM that is missing, a folder or not executable, and says how to install a browser', async () => {
    fake(join(tmp, 'bin'), 'chromium'); // present on PATH, yet a wrong CHROMIUM is not passed over
    const notExec = fake(join(tmp, 'x'), 'chrome', 0o644);
    for (const bad of [join(tmp, 'nope'), tmp, notExec]) {
      const got = await findBrowser({ env: { CHROMIUM: bad, PATH: join(tmp, 'bin') }, playwright: none });
      expect(got.path).toBeUndefined();
      expect(got.missing).toContain(`CHROMIUM=${bad} is not an executable file`);
      expect(got.missing).toContain('apt-get install -y chromium');
    }
  });

  it("takes Playwright's own browser before one on PATH", async () => {
    const pw = fake(join(tmp, 'pw'), 'chrome');
    fake(join(tmp, 'bin'), 'chromium');
    expect(await findBrowser({ env: { PATH: join(tmp, 'bin') }, playwright: async () => pw })).toEqual({ path: pw, source: 'playwright' });
  });

  it('finds a system browser on PATH, in the order chromium, chromium-browser, google-chrome, google-chrome-stable', async () => {
    const chrome = fake(join(tmp, 'a'), 'google-chrome');
    const chromiumBrowser = fake(join(tmp, 'b'), 'chromium-browser');
    const path = ['', join(tmp, 'a'), join(tmp, 'b')].join(delimiter); // an empty PATH entry is ignored
    expect(await findBrowser({ env: { PATH: path }, playwright: none })).toEqual({ path: chromiumBrowser, source: 'PATH' });
    expect(await findBrowser({ env: { PATH: join(tmp, 'a') }, playwright: none })).toEqual({ path: chrome, source: 'PATH' });
  });

  it('passes over a non-executable file or a folder named chromium on PATH', async () => {
    fake(join(tmp, 'a'), 'chromium', 0o644);
    mkdirSync(join(tmp, 'b', 'chromium'), { recursive: true });
    const real = fake(join(tmp, 'c'), 'google-chrome-stable');
    const path = [join(tmp, 'a'), join(tmp, 'b'), join(tmp, 'c')].join(delimiter);
    expect(onPath(['chromium'], path)).toBeUndefined();
    expect(await findBrowser({ env: { PATH: path }, playwright: none })).toEqual({ path: real, source: 'PATH' });
  });

  it('with no browser anywhere: a reason naming what was looked for and how to install one', async () => {
    for (const PATH of [undefined, '', join(tmp, 'empty')]) {
      const got = await findBrowser({ env: { PATH }, playwright: none });
      expect(got.path).toBeUndefined();
      expect(got.missing).toMatch(/^no Chromium found \(CHROMIUM unset, no Playwright browser, none of chromium, chromium-browser, google-chrome, google-chrome-stable on PATH\)/);
      expect(got.missing).toContain('apt-get install -y chromium');
      expect(got.missing).toContain('npx playwright install chromium');
    }
  });

  it("asks playwright-core where its own browser would be, and gives a path only when an executable is there", async () => {
    const own = await playwrightChromium();
    expect(own === undefined || isExecutable(own)).toBe(true);
    const got = await findBrowser({ env: { PATH: '' } });
    expect(got.source === 'playwright' ? got.path : undefined).toBe(own);
  });
});
