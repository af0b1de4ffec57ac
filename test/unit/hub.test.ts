// Hugging Face ids and the cache, against a local mock Hub (no internet): downloads with
// progress, offline use, pinned revisions, gated repos, resume, corruption, hostile listings,
// and a cache tree written by Python huggingface_hub.
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { repoFolder } from '../../src/hub/cache.js';
import { parseHubId } from '../../src/hub/id.js';
import type { HubProgress } from '../../src/hub/progress.js';
import { resolveModelPath } from '../../src/hub/resolve.js';
import { PY_FIXTURE } from '../helpers/hub-fixture.js';
import { commitId, filesOf, type MockHub, repoOf, sha256, startMockHub } from '../helpers/mock-hub.js';

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
  cache = mkdtempSync(join(tmpdir(), 'mlx-lab-hub-'));
  env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_HOME: join(cache, 'home') };
  hub.requests.length = 0;
  hub.repos.clear();
  hub.faults.clear();
  hub.repos.set(REPO, repoOf(filesOf(MODEL)));
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

/** What resolveModelPath throws for `arg` (fails the test when it does not throw). */
async function failure(arg: string, e: NodeJS.ProcessEnv = env): Promise<{ code: string; message: string }> {
  try {
    await resolveModelPath(arg, { env: e });
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error(`${arg}: resolved`);
}

describe('parseHubId', () => {
  it('reads org/name and org/name@revision, and leaves paths alone', () => {
    expect(parseHubId('mlx-community/Qwen2.5-0.5B-Instruct-4bit')).toEqual({ repo: 'mlx-community/Qwen2.5-0.5B-Instruct-4bit', revision: undefined });
    expect(parseHubId('org/name@v1.0')).toEqual({ repo: 'org/name', revision: 'v1.0' });
    expect(parseHubId('org/name@refs/pr/3')).toEqual({ repo: 'org/name', revision: 'refs/pr/3' });
    for (const notId of ['model', './org/name', '/abs/org', 'a/b/c', 'org/../x', '../name', 'org/name@', 'org/name@../../x', 'org/name@/etc', 'org/m.gguf', 'org/a--b', '.hidden/x'])
      expect(parseHubId(notId), notId).toBeUndefined();
  });
});

describe('resolveModelPath against the mock Hub', () => {
  it('downloads what a model needs into the huggingface_hub layout, with progress', async () => {
    const events: HubProgress[] = [];
    const dir = await resolveModelPath(REPO, { env, onProgress: (e) => events.push(e) });
    const folder = repoFolder(cache, REPO);
    const sha = commitId('main');
    expect(dir).toBe(join(folder, 'snapshots', sha));
    expect(readFileSync(join(folder, 'refs', 'main'), 'utf8')).toBe(sha);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer_config.json']);
    for (const name of readdirSync(dir)) {
      expect(lstatSync(join(dir, name)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(dir, name))).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{40,64}$/);
      expect(readFileSync(join(dir, name))).toEqual(readFileSync(join(MODEL, name)));
    }
    const weights = readFileSync(join(MODEL, 'model.safetensors'));
    expect(readlinkSync(join(dir, 'model.safetensors'))).toBe(`../../blobs/${sha256(weights)}`);
    expect(hub.requests.some((r) => r.url.includes('README.md'))).toBe(false);
    const start = events[0];
    expect(start.event).toBe('start');
    const total = readdirSync(dir).reduce((s, n) => s + readFileSync(join(dir, n)).length, 0);
    expect(start.event === 'start' && start.totalBytes).toBe(total);
    const bytes = events.filter((e) => e.event === 'bytes').reduce((s, e) => s + (e.event === 'bytes' ? e.bytes : 0), 0);
    expect(bytes).toBe(total);
    expect(events.at(-1)?.event).toBe('done');
  });

  it('works from the cache with HF_HUB_OFFLINE=1 and zero requests; fails clearly when not cached', async () => {
    const dir = await resolveModelPath(REPO, { env });
    hub.requests.length = 0;
    expect(await resolveModelPath(REPO, { env: { ...env, HF_HUB_OFFLINE: '1' } })).toBe(dir);
    const err = await failure('test-org/other', { ...env, HF_HUB_OFFLINE: '1' });
    expect(err.code).toBe('E_HUB');
    expect(err.message).toContain('HF_HUB_OFFLINE');
    expect(err.message).toContain(join(cache, 'models--test-org--other'));
    expect(hub.requests).toEqual([]);
  });

  it('a second online run downloads nothing', async () => {
    await resolveModelPath(REPO, { env });
    hub.requests.length = 0;
    await resolveModelPath(REPO, { env });
    expect(hub.requests.filter((r) => !r.url.startsWith('/api/'))).toEqual([]);
  });

  it('honours a pinned revision (tag or commit), and a cached commit needs no request', async () => {
    const v1 = commitId('v1');
    const oldFiles = filesOf(MODEL);
    oldFiles.set('config.json', Buffer.from(JSON.stringify({ ...JSON.parse(oldFiles.get('config.json')!.toString()), marker: 'v1' })));
    const repo = repoOf(filesOf(MODEL));
    repo.commits.set(v1, oldFiles);
    repo.refs.set('v1', v1);
    hub.repos.set(REPO, repo);
    const dir = await resolveModelPath(`${REPO}@v1`, { env });
    expect(dir.endsWith(v1)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).marker).toBe('v1');
    expect(readFileSync(join(repoFolder(cache, REPO), 'refs', 'v1'), 'utf8')).toBe(v1);
    const main = await resolveModelPath(REPO, { env });
    expect(JSON.parse(readFileSync(join(main, 'config.json'), 'utf8')).marker).toBeUndefined();
    hub.requests.length = 0;
    expect(await resolveModelPath(`${REPO}@${v1}`, { env })).toBe(dir);
    expect(hub.requests).toEqual([]);
    expect((await failure(`${REPO}@nope`)).message).toMatch(/HTTP 404.*no such repo, revision or file/);
  });

  it('a gated repo without a token fails naming HF_TOKEN; with the token it downloads', async () => {
    hub.repos.get(REPO)!.token = 'hf_secret';
    const err = await failure(REPO);
    expect(err.code).toBe('E_HUB');
    expect(err.message).toContain('HF_TOKEN');
    expect(err.message).toContain('HTTP 401');
    expect(existsSync(join(repoFolder(cache, REPO), 'snapshots'))).toBe(false);
    expect((await failure(REPO, { ...env, HF_TOKEN: 'hf_wrong' })).message).toContain('HF_TOKEN was sent but has no access');
    expect((await failure(REPO, { ...env, HF_TOKEN: 'secret' })).message).toContain('starts with "hf_"');
    const dir = await resolveModelPath(REPO, { env: { ...env, HF_TOKEN: 'hf_secret' } });
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
  });

  it('resumes an interrupted download with a range request', async () => {
    hub.faults.set(`${REPO}/model.safetensors`, { cutAfter: 100_000 });
    const dir = await resolveModelPath(REPO, { env });
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(readFileSync(join(MODEL, 'model.safetensors')));
    const ranges = hub.requests.filter((r) => r.url.endsWith('/model.safetensors') && r.range && r.range !== 'bytes=0-0').map((r) => r.range);
    expect(ranges).toContain(`bytes=100000-${readFileSync(join(MODEL, 'model.safetensors')).length - 1}`);
  });

  it('resumes a partial file left by an earlier run, and never links it before it is complete', async () => {
    const weights = readFileSync(join(MODEL, 'model.safetensors'));
    const blobs = join(repoFolder(cache, REPO), 'blobs');
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(blobs, `${sha256(weights)}.incomplete`), weights.subarray(0, 4096));
    const dir = await resolveModelPath(REPO, { env });
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(weights);
    expect(hub.requests.some((r) => r.range === `bytes=4096-${weights.length - 1}`)).toBe(true);
    expect(readdirSync(blobs).some((n) => n.endsWith('.incomplete'))).toBe(false);
  });

  it('fetches a corrupted download again, and gives up without linking a bad blob', async () => {
    const weights = readFileSync(join(MODEL, 'model.safetensors'));
    hub.faults.set(`${REPO}/model.safetensors`, { corrupt: 1 });
    const dir = await resolveModelPath(REPO, { env });
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(weights);

    rmSync(cache, { recursive: true, force: true });
    hub.faults.set(`${REPO}/model.safetensors`, { corrupt: 10 });
    const err = await failure(REPO);
    expect(err.code).toBe('E_HUB');
    expect(err.message).toMatch(/model\.safetensors could not be downloaded intact .*hashes to/);
    const folder = repoFolder(cache, REPO);
    expect(existsSync(join(folder, 'blobs', sha256(weights)))).toBe(false);
    expect(existsSync(join(folder, 'snapshots', commitId('main'), 'model.safetensors'))).toBe(false);
  });

  it('replaces a cached blob of the wrong size', async () => {
    const weights = readFileSync(join(MODEL, 'model.safetensors'));
    const dir = await resolveModelPath(REPO, { env });
    writeFileSync(join(repoFolder(cache, REPO), 'blobs', sha256(weights)), weights.subarray(0, 10));
    expect(await resolveModelPath(REPO, { env })).toBe(dir);
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(weights);
  });

  it.each(['../../evil.json', '/etc/evil.json', 'a/../../evil.json', 'C:evil.json', 'a\\..\\evil.json'])('refuses the listed file name %s', async (bad) => {
    hub.repos.get(REPO)!.extraListing = [{ type: 'file', path: bad, size: 2, oid: '0'.repeat(40) }];
    const err = await failure(REPO);
    expect(err.code).toBe('E_HUB');
    expect(err.message).toContain(`refusing the file name ${JSON.stringify(bad)}`);
    expect(err.message).toContain(`${hub.url}/api/models/${REPO}/tree/`);
    expect(existsSync(join(repoFolder(cache, REPO), 'blobs'))).toBe(false);
    expect(existsSync(join(cache, 'evil.json'))).toBe(false);
  });

  it('uses a cache tree written by Python huggingface_hub without any request', async () => {
    cpSync(join(import.meta.dirname, '../fixtures/hub'), cache, { recursive: true, verbatimSymlinks: true });
    const commit = readFileSync(join(repoFolder(cache, PY_FIXTURE.repo), 'refs', 'main'), 'utf8');
    const offline = await resolveModelPath(PY_FIXTURE.repo, { env: { ...env, HF_HUB_OFFLINE: '1' } });
    expect(offline).toBe(join(repoFolder(cache, PY_FIXTURE.repo), 'snapshots', commit));
    expect(await resolveModelPath(`${PY_FIXTURE.repo}@${commit}`, { env })).toBe(offline);
    expect(JSON.parse(readFileSync(join(offline, 'config.json'), 'utf8')).model_type).toBeDefined();
    expect(hub.requests).toEqual([]);
  });

  it('an existing local path wins over an id, and a non-id is a path', async () => {
    const cwd = process.cwd();
    const base = mkdtempSync(join(tmpdir(), 'mlx-lab-local-'));
    try {
      cpSync(MODEL, join(base, REPO), { recursive: true });
      process.chdir(base);
      expect(await resolveModelPath(REPO, { env })).toBe(join(base, REPO));
      expect(await resolveModelPath('no/such/model', { env })).toBe(join(base, 'no/such/model'));
    } finally {
      process.chdir(cwd);
      rmSync(base, { recursive: true, force: true });
    }
    expect(hub.requests).toEqual([]);
  });

  it('names the endpoint when the Hub cannot be reached, and refuses a bad HF_ENDPOINT', async () => {
    const err = await failure(REPO, { ...env, HF_ENDPOINT: 'http://127.0.0.1:1' });
    expect(err.code).toBe('E_HUB');
    expect(err.message).toContain('cannot reach http://127.0.0.1:1');
    expect((await failure(REPO, { ...env, HF_ENDPOINT: 'ftp://x' })).code).toBe('E_ARGUMENT');
  });
});

describe('the CLI download progress', () => {
  it('writes a start and an end line with bytes when stderr is not a terminal', async () => {
    const { hubProgressBar, formatBytes } = await import('../../src/cli/hub-progress.js');
    expect([formatBytes(999), formatBytes(1500), formatBytes(2_500_000_000)]).toEqual(['999 B', '1.5 kB', '2.5 GB']);
    let text = '';
    const stream = { isTTY: false, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
    await resolveModelPath(REPO, { env, onProgress: hubProgressBar(stream) });
    expect(text).toMatch(/^Downloading test-org\/tiny-chat@[0-9a-f]{8}: 5 file\(s\), 44\d\.\d kB\nDownloaded test-org\/tiny-chat@[0-9a-f]{8} \(44\d\.\d kB\)\n$/);
  });
});
