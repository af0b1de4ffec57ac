// The CLI end to end with a Hugging Face id: `generate -m org/name` and `train --model org/name`
// download the tiny chat model from the mock Hub into the cache, and run again offline from it.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { filesOf, type MockHub, repoOf, startMockHub } from '../helpers/mock-hub.js';
import { modelDir, ROOT } from '../helpers/paths.js';

const DATA = join(ROOT, 'test', 'fixtures', 'data', 'folder');
let hub: MockHub;
let tmp: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  hub = await startMockHub();
  hub.repos.set('test-org/tiny-chat', repoOf(filesOf(modelDir('tiny-chat'))));
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-cli-hub-'));
  env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: join(tmp, 'cache'), HF_HUB_OFFLINE: '' };
});
afterAll(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});

it('generate -m org/name downloads into the cache, then runs offline with no request', async () => {
  const first = await runCli(['generate', '-m', 'test-org/tiny-chat', '-p', 'hello', '--max-tokens', '6', '--temp', '0', '--json'], { env });
  expect(first.code, first.stderr).toBe(0);
  expect(existsSync(join(tmp, 'cache', 'models--test-org--tiny-chat', 'snapshots'))).toBe(true);
  const online = JSON.parse(first.stdout.trim().split('\n').at(-1)!);
  expect(online.tokens).toHaveLength(6);
  hub.requests.length = 0;
  const offline = await runCli(['generate', '-m', 'test-org/tiny-chat', '-p', 'hello', '--max-tokens', '6', '--temp', '0', '--json'], { env: { ...env, HF_HUB_OFFLINE: '1' } });
  expect(offline.code, offline.stderr).toBe(0);
  expect(hub.requests).toEqual([]);
  expect(JSON.parse(offline.stdout.trim().split('\n').at(-1)!).tokens).toEqual(online.tokens);
});

it('train --model org/name trains from the cached snapshot', async () => {
  const out = join(tmp, 'run');
  const r = await runCli(['train', '--model', 'test-org/tiny-chat', '--data', DATA, '--iters', '2', '--batch-size', '1', '--num-layers', '1', '--adapter-path', out, '--json'], { env: { ...env, HF_HUB_OFFLINE: '1' } });
  expect(r.code, r.stderr).toBe(0);
  expect(existsSync(join(out, 'adapters.safetensors'))).toBe(true);
});

it('an id that is not cached fails offline with a clear error naming HF_HUB_OFFLINE', async () => {
  const r = await runCli(['generate', '-m', 'test-org/not-there', '-p', 'hello', '--max-tokens', '2'], { env: { ...env, HF_HUB_OFFLINE: '1' } });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/HF_HUB_OFFLINE/);
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // a message, not a stack
});
