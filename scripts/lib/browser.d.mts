import type { Browser } from 'playwright-core';

export const INSTALL_HINT: string;
export const SYSTEM_BROWSERS: string[];
/** True when `file` is a regular file this process may execute. */
export function isExecutable(file: string): boolean;
/** The first of `names` found as an executable in the PATH folders `path`, else undefined. */
export function onPath(names: readonly string[], path?: string): string | undefined;
/** Playwright's own Chromium, or undefined. */
export function playwrightChromium(): Promise<string | undefined>;
export type BrowserFound = { path: string; source: 'CHROMIUM' | 'playwright' | 'PATH'; missing?: undefined } | { missing: string; path?: undefined };
/** The browser to drive, or why none was found. */
export function findBrowser(options?: { env?: NodeJS.ProcessEnv; playwright?: () => Promise<string | undefined> }): Promise<BrowserFound>;
/** Launch headless Chromium at `path`. */
export function launchBrowser(path: string): Promise<Browser>;
