// One downloader per blob: a download finding the blob's lock held by a live process waits (one
// `wait` event naming the holder) and then uses the blob that process wrote, with no request for
// it; a dead process's lock is taken over; two resolutions of one model at once fetch each file
// once. Without the lock the first test would download the weights itself (a GET for them) and
// the third would send every file twice.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { repoFolder, blobPath } from '../../src/hub/cache.js';
import { blobLockPath } from '../../src/hub/blob-lock.js';
import type { HubProgress } from '../../src/hub/progress.js';
import { resolveModelPath } from '../../src/hub/resolve.js';
import { filesOf, type MockHub, repoOf, sha256, startMockHub } from '../helpers/mock-hub.js';

const MODEL = join(import.meta.dirname, '../fixtures/models/tiny-chat');
const REPO = 'test-org/tiny-chat';
let hub: MockHub;
let cache: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  hub = await startMockHub();
});
afterAll(() => hub.close());
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'mlx-lab-hub-lock-'));
  env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_HOME: join(cache, 'home') };
  hub.requests.length = 0;
  hub.repos.clear();
  hub.repos.set(REPO, repoOf(filesOf(MODEL)));
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

const weights = () => readFileSync(join(MODEL, 'model.safetensors'));
/** Full-body GETs of a file (the client probes each with a `bytes=0-0` range first). */
const fileGets = (name: string) => hub.requests.filter((r) => r.method === 'GET' && r.range === undefined && r.url.endsWith(`/${name}`)).length;

describe('the download lock', () => {
  it('waits for a live holder and uses the blob it wrote, without fetching it', async () => {
    const folder = repoFolder(cache, REPO);
    const etag = sha256(weights());
    const lock = blobLockPath(folder, etag);
    expect(lock).toBe(join(cache, '.locks', 'models--test-org--tiny-chat', `${etag}.mlx-lab.lock`));
    mkdirSync(dirname(lock), { recursive: true });
    // pid 1 is alive on this host: another downloader, which finishes the blob once we wait.
    writeFileSync(lock, JSON.stringify({ pid: 1, host: hostname(), startedAt: '2026-12-07T00:00:00Z', command: 'download' }));
    const events: HubProgress[] = [];
    const dir = await resolveModelPath(REPO, {
      env,
      onProgress: (e) => {
        events.push(e);
        if (e.event === 'wait') {
          setTimeout(() => {
            mkdirSync(join(folder, 'blobs'), { recursive: true });
            writeFileSync(blobPath(folder, etag), weights());
            rmSync(lock);
          }, 300);
        }
      },
    });
    const waits = events.filter((e) => e.event === 'wait');
    expect(waits).toEqual([{ event: 'wait', repo: REPO, file: 'model.safetensors', holder: expect.stringMatching(/^`download` \(pid 1 on /) }]);
    expect(fileGets('model.safetensors')).toBe(0);
    expect(fileGets('config.json')).toBe(1);
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(weights());
  });

  it('takes over the lock of a dead holder and leaves no lock behind', async () => {
    const folder = repoFolder(cache, REPO);
    const etag = sha256(weights());
    const lock = blobLockPath(folder, etag);
    mkdirSync(dirname(lock), { recursive: true });
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: '2026-12-07T00:00:00Z', command: 'download' }));
    const events: HubProgress[] = [];
    const dir = await resolveModelPath(REPO, { env, onProgress: (e) => events.push(e) });
    expect(events.some((e) => e.event === 'wait')).toBe(false);
    expect(fileGets('model.safetensors')).toBe(1);
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(weights());
    expect(existsSync(lock)).toBe(false);
  });

  it('two resolutions at once fetch each file once and agree', async () => {
    const [a, b] = await Promise.all([resolveModelPath(REPO, { env }), resolveModelPath(REPO, { env })]);
    expect(a).toBe(b);
    for (const name of ['config.json', 'model.safetensors', 'tokenizer.json']) expect(fileGets(name), name).toBe(1);
    expect(readFileSync(join(a, 'model.safetensors'))).toEqual(weights());
  });
});
