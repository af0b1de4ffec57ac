// Makes test/fixtures/hub: a Hugging Face cache tree written by Python huggingface_hub (the dev
// venv's) downloading a tiny repo from the mock Hub of the tests, so the tests can show that a
// cache made by huggingface_hub / mlx-lm is used as it is. Run: node scripts/make-hub-fixture.mjs
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createJiti } from 'jiti';

const root = join(import.meta.dirname, '..');
const jiti = createJiti(import.meta.url);
const { startMockHub, repoOf } = await jiti.import(join(root, 'test/helpers/mock-hub.ts'));
const { pyFixtureFiles, PY_FIXTURE } = await jiti.import(join(root, 'test/helpers/hub-fixture.ts'));

const out = join(root, 'test/fixtures/hub');
rmSync(out, { recursive: true, force: true });
const hub = await startMockHub();
hub.repos.set(PY_FIXTURE.repo, repoOf(pyFixtureFiles(), PY_FIXTURE.label));
try {
  const python = join(root, '.venv/bin/python');
  const code = `from huggingface_hub import snapshot_download; print(snapshot_download(${JSON.stringify(PY_FIXTURE.repo)}))`;
  const env = { ...process.env, HF_ENDPOINT: hub.url, HF_HUB_CACHE: out, HF_HUB_DISABLE_TELEMETRY: '1', HF_HUB_DISABLE_XET: '1' };
  // async: the mock Hub answers from this process's event loop
  const { stdout } = await promisify(execFile)(python, ['-c', code], { env, encoding: 'utf8' });
  process.stdout.write(stdout);
} finally {
  await hub.close();
}
rmSync(join(out, '.locks'), { recursive: true, force: true });
