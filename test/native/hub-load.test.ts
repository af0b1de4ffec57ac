// End to end: loadModel('org/name') downloads a tiny model from the mock Hub into the cache and
// generates; the same id then loads offline from the cache and gives the same tokens.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadModel } from '../../src/model/model.js';
import { filesOf, type MockHub, repoOf, startMockHub } from '../helpers/mock-hub.js';
import { modelDir } from '../helpers/paths.js';

let hub: MockHub;
let cache: string;

beforeAll(async () => {
  hub = await startMockHub();
  hub.repos.set('test-org/tiny-chat', repoOf(filesOf(modelDir('tiny-chat'))));
  cache = mkdtempSync(join(tmpdir(), 'mlx-lab-hub-load-'));
});
afterAll(async () => {
  await hub.close();
  rmSync(cache, { recursive: true, force: true });
});

/** Greedy tokens of the model an id names, loaded with the given environment. */
async function greedy(env: NodeJS.ProcessEnv): Promise<number[]> {
  const model = await loadModel('test-org/tiny-chat', { hub: { env } });
  try {
    expect(model.path.startsWith(join(cache, 'models--test-org--tiny-chat', 'snapshots'))).toBe(true);
    const g = await model.generate({ tokens: [1, 2, 3] }, { maxTokens: 8, temperature: 0 });
    return g.tokens;
  } finally {
    model.dispose();
  }
}

it('loads a Hub id through the mock Hub, then offline from the cache', async () => {
  const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache };
  const online = await greedy(env);
  expect(online.length).toBeGreaterThan(0);
  hub.requests.length = 0;
  expect(await greedy({ ...env, HF_HUB_OFFLINE: '1' })).toEqual(online);
  expect(hub.requests).toEqual([]);
  const direct = await loadModel(modelDir('tiny-chat'));
  try {
    expect((await direct.generate({ tokens: [1, 2, 3] }, { maxTokens: 8, temperature: 0 })).tokens).toEqual(online);
  } finally {
    direct.dispose();
  }
});
