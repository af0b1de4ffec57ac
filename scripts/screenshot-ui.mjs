#!/usr/bin/env node
// A screenshot of the live page of a real run, for the README (docs/img/ui.png): `mlx-lab train
// --ui` (the built CLI: run `npm run build:ts` first) fully fine-tunes the tiny-chat fixture model
// on tool-call chat data, a format eval of the tiny suite every --every steps, until the format
// score reaches --target or --iters; headless Chromium (scripts/lib/browser.mjs: CHROMIUM, else
// Playwright's own, else the system's) follows the page and, once the run ended and the selected
// checkpoint is marked, captures it down to the heat map (--width wide, at most --height high).
// The same setup as the browser tests (test/browser/ui-live.test.ts, test/helpers/ui-run.ts).
//
// Usage: node scripts/screenshot-ui.mjs [--out docs/img/ui.png] [--iters 250] [--every 25]
//          [--target 0.9] [--max-tokens 100] [--width 1200] [--height 1700]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createJiti } from 'jiti';
import { findBrowser, launchBrowser } from './lib/browser.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(ROOT, 'docs', 'img', 'ui.png') },
    iters: { type: 'string', default: '250' },
    every: { type: 'string', default: '25' },
    target: { type: 'string', default: '0.9' },
    'max-tokens': { type: 'string', default: '100' },
    width: { type: 'string', default: '1200' },
    height: { type: 'string', default: '1700' },
  },
});
const log = (msg) => process.stderr.write(`[screenshot-ui] ${msg}\n`);
const found = await findBrowser();
if (found.missing) {
  log(found.missing);
  process.exit(1);
}
const { startUiRun } = await createJiti(import.meta.url).import(join(ROOT, 'test', 'helpers', 'ui-run.ts'));
const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-screenshot-ui-'));
const browser = await launchBrowser(found.path);
let run;
try {
  const page = await browser.newPage({ viewport: { width: Number(values.width), height: Number(values.height) } });
  run = await startUiRun({ dir, iters: Number(values.iters), every: Number(values.every), batchSize: 8, trainExamples: 120, target: Number(values.target), maxTokens: Number(values['max-tokens']) });
  log(`training; the page: ${run.url}`);
  await page.goto(run.url);
  await run.ended;
  await page.waitForFunction(() => document.getElementById('ui-status')?.textContent?.startsWith('read-only') && document.querySelector('tr.sel'), undefined, { timeout: 60_000 });
  await page.waitForTimeout(500); // the charts' last draw
  mkdirSync(dirname(resolve(values.out)), { recursive: true });
  // Down to the end of the per-case heat map (the failure classes below repeat what it shows), at most --height.
  const heat = await page.locator('table.heat').boundingBox();
  const height = Math.min(Number(values.height), heat ? Math.ceil(heat.y + heat.height + 24) : Number(values.height));
  await page.screenshot({ path: resolve(values.out), fullPage: true, clip: { x: 0, y: 0, width: Number(values.width), height } });
  const manifest = JSON.parse(readFileSync(join(run.runDir, 'run.json'), 'utf8'));
  log(`wrote ${values.out} (${(statSync(values.out).size / 1024).toFixed(0)} KB): ${manifest.stopReason} at step ${manifest.iterations}, selected step ${manifest.selected?.checkpoint.iteration} (${manifest.selected?.reason})`);
} finally {
  await run?.stop();
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
