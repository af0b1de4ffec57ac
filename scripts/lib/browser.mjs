// Which Chromium the browser tests and scripts/screenshot-ui.mjs drive (with playwright-core):
// the CHROMIUM environment variable, else Playwright's own downloaded Chromium when one is
// installed, else a system browser on PATH (chromium, chromium-browser, google-chrome,
// google-chrome-stable). Nothing is downloaded: playwright-core brings no browser.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** How to get a browser, for the messages of a missing one. */
export const INSTALL_HINT =
  'install one: `apt-get install -y chromium` (Debian), `npx playwright install chromium` where the Playwright CDN is reachable, or set CHROMIUM=/path/to/chrome';

/** The system browsers looked for on PATH, in this order. */
export const SYSTEM_BROWSERS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** True when `file` is a regular file this process may execute. */
export function isExecutable(file) {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first of `names` found as an executable in the PATH folders `path`, else undefined. */
export function onPath(names, path = process.env.PATH ?? '') {
  const dirs = path.split(delimiter).filter(Boolean);
  for (const name of names) {
    for (const dir of dirs) {
      const file = join(dir, name);
      if (isExecutable(file)) return file;
    }
  }
  return undefined;
}

/** Playwright's own Chromium (from `npx playwright install`), or undefined when playwright-core is absent or it is not downloaded. */
export async function playwrightChromium() {
  try {
    const { chromium } = await import('playwright-core');
    const file = chromium.executablePath();
    return file && isExecutable(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The browser to drive: `{ path, source }`, or `{ missing }` with why none was found and how to
 * install one. A CHROMIUM that names no executable file is reported as such, never passed over.
 */
export async function findBrowser({ env = process.env, playwright = playwrightChromium } = {}) {
  if (env.CHROMIUM) {
    return isExecutable(env.CHROMIUM) ? { path: env.CHROMIUM, source: 'CHROMIUM' } : { missing: `CHROMIUM=${env.CHROMIUM} is not an executable file; ${INSTALL_HINT}` };
  }
  const own = await playwright();
  if (own) return { path: own, source: 'playwright' };
  const system = onPath(SYSTEM_BROWSERS, env.PATH ?? '');
  if (system) return { path: system, source: 'PATH' };
  return { missing: `no Chromium found (CHROMIUM unset, no Playwright browser, none of ${SYSTEM_BROWSERS.join(', ')} on PATH); ${INSTALL_HINT}` };
}

/** Launch headless Chromium at `path` with playwright-core (no sandbox when running as root, where Chromium refuses one). */
export async function launchBrowser(path) {
  const { chromium } = await import('playwright-core');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return chromium.launch({ executablePath: path, headless: true, args: root ? ['--no-sandbox'] : [] });
}
