// `upload` against the local mock Hub (no internet): the dry run sends nothing, --yes sends the
// files and the card in one commit (LFS for weights), a token is required, and hostile inputs
// (bad repo ids, missing folders, symlinks out of --path, secrets, hostile run.json values) are
// refused or defused before any request.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { uploadCommand } from '../../src/cli/upload.js';
import { baseModelOf, factsFromManifest, modelCard } from '../../src/convert/model-card.js';
import { planUpload, uploadToHub, type UploadOptions } from '../../src/convert/upload.js';
import type { RunManifest } from '../../src/run/manifest.js';
import { type MockHub, sha256, startMockHub } from '../helpers/mock-hub.js';

const TOKEN = 'hf_test_write_token_0123456789abcdef';
const BASE_SHA = 'a'.repeat(40);
let hub: MockHub;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  hub = await startMockHub();
});
afterAll(() => hub.close());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mlx-lab-upload-'));
  env = { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_HUB_CACHE: join(dir, 'cache'), HF_HOME: join(dir, 'home') };
  hub.requests.length = 0;
  hub.repos.clear();
  hub.writes.created.length = 0;
  hub.writes.commits.length = 0;
  hub.writes.lfs.clear();
  hub.writes.writeToken = TOKEN;
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

function manifest(over: Partial<RunManifest> = {}): RunManifest {
  const ckpt = { iteration: 200, adapterFile: '0000200_adapters.safetensors', formatScore: 0.667, formatLow: 0.5, formatHigh: 0.8, valLoss: 0.1234 };
  return {
    version: 1,
    model: `org/base@${BASE_SHA}`,
    data: 'data',
    suite: '/home/someone/suites/tool-format.yaml',
    seed: 1,
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T01:00:00Z',
    stopReason: 'completed',
    iterations: 400,
    baseline: { iteration: 0, score: 0.2, low: 0.1, high: 0.35, cases: {}, failures: {} },
    evals: [],
    valLosses: [{ iteration: 200, loss: 0.1234 }],
    checkpoints: [ckpt],
    selected: { checkpoint: ckpt, adapterFile: ckpt.adapterFile, metric: 'format_score', rule: 'best', reason: 'best format_score 0.6670 at step 200' },
    config: { model: 'org/base', fine_tune_type: 'lora' } as RunManifest['config'],
    ...over,
  };
}

/** A fused model folder with weights, tokenizer files, a README and files that must stay home. */
function fusedFolder(): string {
  const f = join(dir, 'fused');
  mkdirSync(f);
  writeFileSync(join(f, 'config.json'), '{"model_type":"llama"}');
  writeFileSync(join(f, 'model.safetensors'), Buffer.from('weights-bytes-'.repeat(100)));
  writeFileSync(join(f, 'model.safetensors.index.json'), '{"weight_map":{}}');
  writeFileSync(join(f, 'tokenizer.json'), '{}');
  writeFileSync(join(f, 'special_tokens_map.json'), '{}');
  writeFileSync(join(f, 'README.md'), 'old');
  writeFileSync(join(f, '.env'), `HF_TOKEN=${TOKEN}`);
  writeFileSync(join(f, 'hf_token.txt'), 'x');
  writeFileSync(join(f, 'notes.txt'), `pasted hf_${'Q'.repeat(34)} by mistake`);
  writeFileSync(join(f, '.mlx-lab.lock'), '1');
  writeFileSync(join(f, 'odd\nname\\.json'), '{}');
  return f;
}

/** A finished run folder: adapter, config, checkpoints, logs and run.json. */
function runFolder(m: RunManifest = manifest()): string {
  const r = join(dir, 'run');
  mkdirSync(r);
  writeFileSync(join(r, 'adapters.safetensors'), Buffer.from('adapter-bytes'));
  writeFileSync(join(r, 'adapter_config.json'), '{"fine_tune_type":"lora"}');
  writeFileSync(join(r, '0000200_adapters.safetensors'), 'c');
  writeFileSync(join(r, '0000200_state.safetensors'), 's');
  writeFileSync(join(r, 'metrics.jsonl'), '{"event":"report"}\n');
  writeFileSync(join(r, 'run.json'), JSON.stringify(m));
  return r;
}

/** What uploadToHub throws (fails the test when it does not). */
async function failure(options: UploadOptions): Promise<{ code: string; message: string }> {
  try {
    await uploadToHub(options);
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('uploaded');
}

const frontMatter = (card: string) => parse(card.split('---\n')[1]) as Record<string, unknown>;

describe('the model card', () => {
  it('carries the base with its revision, the suite, the score with its interval, the val loss and the selection', () => {
    const card = modelCard({ repo: 'me/tuned', kind: 'fused', facts: factsFromManifest(manifest(), env) });
    expect(frontMatter(card)).toEqual({ library_name: 'mlx', base_model: 'org/base', base_model_relation: 'finetune', tags: ['mlx', 'mlx-lab', 'lora'], pipeline_tag: 'text-generation' });
    expect(card).toContain(`[org/base](https://huggingface.co/org/base) at revision \`${BASE_SHA}\``);
    expect(card).toContain('| Eval suite | tool-format.yaml |');
    expect(card).not.toContain('/home/someone');
    expect(card).toContain('| Format score (selected step) | 66.7% (95% interval 50.0% to 80.0%) |');
    expect(card).toContain('| Format score (base, before training) | 20.0% (95% interval 10.0% to 35.0%) |');
    expect(card).toContain('| Validation loss (selected step) | 0.1234 |');
    expect(card).toContain('| Selected step | 200 (best by format\\_score) |');
    expect(card).toContain('| Why | best format\\_score 0.6670 at step 200 |');
    expect(card).toContain('mlx_lm.generate --model me/tuned');
  });

  it('finds the base revision in a cache snapshot path, in the cache refs, or says it is a local folder', () => {
    expect(baseModelOf(`/c/hub/models--org--base/snapshots/${BASE_SHA}`, env)).toEqual({ repo: 'org/base', revision: BASE_SHA });
    const refs = join(env.HF_HUB_CACHE!, 'models--org--base', 'refs');
    mkdirSync(refs, { recursive: true });
    writeFileSync(join(refs, 'main'), 'b'.repeat(40));
    expect(baseModelOf('org/base', env)).toEqual({ repo: 'org/base', revision: 'b'.repeat(40) });
    expect(baseModelOf('org/other@v1', env)).toEqual({ repo: 'org/other', revision: 'v1' });
    expect(baseModelOf('/models/SmolLM2-135M/', env)).toEqual({ local: 'SmolLM2-135M' });
  });

  it('keeps hostile run.json values from adding front matter keys or page markup', () => {
    const m = manifest({ model: '/x/evil\n---\nlicense: mit\n', suite: 'a|b\n# heading <img src=x onerror=alert(1)>.yaml' });
    m.selected!.reason = 'x\n\n## injected\n| a | b |';
    const card = modelCard({ repo: 'me/tuned', kind: 'adapter', facts: factsFromManifest(m, env) });
    const fm = frontMatter(card);
    expect(Object.keys(fm).sort()).toEqual(['library_name', 'pipeline_tag', 'tags']);
    expect(card.split('\n').filter((l) => /^#+ /.test(l))).toEqual(['# tuned', '## Use']);
    expect(card).not.toContain('<img');
    for (const row of card.split('\n').filter((l) => l.startsWith('| '))) expect(row.split(/(?<!\\)\|/).length, row).toBe(4);
  });
});

describe('uploadToHub against the mock Hub', () => {
  it('is a dry run by default: the plan and the card, no request', async () => {
    const r = await uploadToHub({ path: fusedFolder(), repo: 'me/tuned', run: runFolder(), env });
    expect(r.uploaded).toBe(false);
    expect(hub.requests).toEqual([]);
    expect(r.files.map((f) => f.path)).toEqual(['config.json', 'model.safetensors', 'model.safetensors.index.json', 'special_tokens_map.json', 'tokenizer.json']);
    expect(Object.fromEntries(r.skipped.map((s) => [s.path, s.reason.split(' (')[0]]))).toEqual({
      '.env': 'its name looks like a secret',
      '.mlx-lab.lock': 'hidden',
      'README.md': 'replaced by the generated model card',
      'hf_token.txt': 'its name looks like a secret',
      'notes.txt': 'it holds what looks like a Hugging Face token',
      'odd\nname\\.json': 'a name the Hub cannot hold',
    });
    expect(r.card).toContain('66.7%');
  });

  it('--yes creates the repo and commits the files and the card (weights through LFS)', async () => {
    const fused = fusedFolder();
    const r = await uploadToHub({ path: fused, repo: 'me/tuned', run: runFolder(), yes: true, env });
    expect(r).toMatchObject({ uploaded: true, created: true });
    expect(hub.writes.created).toEqual([{ repo: 'me/tuned', body: expect.objectContaining({ name: 'tuned', organization: 'me', type: 'model' }) }]);
    expect(hub.writes.commits).toHaveLength(1);
    const sent = hub.writes.commits[0];
    expect([...sent.files.keys()].sort()).toEqual(['README.md', 'config.json', 'model.safetensors', 'model.safetensors.index.json', 'special_tokens_map.json', 'tokenizer.json']);
    for (const f of r.files) expect(sent.files.get(f.path), f.path).toEqual(readFileSync(join(fused, f.path)));
    expect(sent.files.get('README.md')!.toString()).toBe(r.card);
    expect([...hub.writes.lfs.keys()]).toEqual([sha256(readFileSync(join(fused, 'model.safetensors')))]);
    expect(r.commit?.url).toBe(`${hub.url}/me/tuned/commit/${hub.repos.get('me/tuned')!.refs.get('main')}`);
    expect(hub.requests.map((q) => `${q.method} ${q.url.split('?')[0]}`)).toEqual([
      'GET /api/models/me/tuned',
      'POST /api/repos/create',
      'POST /api/models/me/tuned/preupload/main',
      'POST /me/tuned.git/info/lfs/objects/batch',
      `PUT /lfs-upload/${[...hub.writes.lfs.keys()][0]}`,
      'POST /api/models/me/tuned/commit/main',
    ]);
  });

  it('uploads an adapter folder as the adapter, its config and the card from its run.json; an existing repo is not created again', async () => {
    hub.repos.set('me/adapter', { commits: new Map(), refs: new Map() });
    const r = await uploadToHub({ path: runFolder(), repo: 'me/adapter', yes: true, env });
    expect(r).toMatchObject({ kind: 'adapter', created: false });
    expect(hub.writes.created).toEqual([]);
    expect([...hub.writes.commits[0].files.keys()].sort()).toEqual(['README.md', 'adapter_config.json', 'adapters.safetensors']);
    expect(frontMatter(r.card)).toMatchObject({ base_model: 'org/base', base_model_relation: 'adapter', tags: ['mlx', 'mlx-lab', 'lora', 'adapter'] });
    expect(r.card).toContain('--adapter-path me/adapter');
  });

  it('uploads secret-looking files only with includeSecrets', async () => {
    await uploadToHub({ path: fusedFolder(), repo: 'me/tuned', yes: true, includeSecrets: true, env });
    expect([...hub.writes.commits[0].files.keys()]).toEqual(expect.arrayContaining(['.env', 'hf_token.txt', 'notes.txt']));
    expect(hub.writes.commits[0].files.has('.mlx-lab.lock')).toBe(false);
  });

  it('an aborted upload makes no commit (E_ABORTED)', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    const e = await failure({ path: fusedFolder(), repo: 'me/tuned', yes: true, env, signal: controller.signal });
    expect(e.code).toBe('E_ABORTED');
    expect(hub.requests).toEqual([]);
  });

  it('without a token: E_HUB naming HF_TOKEN, and nothing sent', async () => {
    const e = await failure({ path: fusedFolder(), repo: 'me/tuned', yes: true, env: { ...env, HF_TOKEN: '' } });
    expect(e.code).toBe('E_HUB');
    expect(e.message).toContain('HF_TOKEN');
    expect(hub.requests).toEqual([]);
  });

  it('a token the Hub refuses: E_HUB with the URL and HF_TOKEN, no commit', async () => {
    hub.repos.set('me/tuned', { commits: new Map(), refs: new Map() });
    hub.writes.writeToken = 'hf_another_token_0000000000000000';
    const e = await failure({ path: fusedFolder(), repo: 'me/tuned', yes: true, env });
    expect(e.code).toBe('E_HUB');
    expect(e.message).toMatch(/HTTP 401 from http:\/\/127\.0\.0\.1:\d+\/api\/models\/me\/tuned\/preupload\/main: HF_TOKEN has no write access/);
    expect(hub.writes.commits).toEqual([]);
  });
});

describe('hostile inputs are refused before any request', () => {
  it('bad repo ids', async () => {
    const path = fusedFolder();
    for (const repo of ['tuned', 'a/b/c', '../x', 'me/tuned@main', 'me/a--b', 'me/', '/etc/passwd', 'me/tu ned', 'me/.hidden']) {
      const e = await failure({ path, repo, yes: true, env });
      expect(e.code, repo).toBe('E_ARGUMENT');
      expect(e.message, repo).toContain(`--repo ${JSON.stringify(repo)}`);
    }
    expect(hub.requests).toEqual([]);
  });

  it('a missing --path, a file, a folder that is neither a model nor an adapter, a missing --run', async () => {
    const file = join(dir, 'file.txt');
    writeFileSync(file, 'x');
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const cases: [UploadOptions, RegExp][] = [
      [{ path: join(dir, 'nope'), repo: 'me/x' }, /--path .*nope: no such folder/],
      [{ path: file, repo: 'me/x' }, /file\.txt: not a folder/],
      [{ path: empty, repo: 'me/x' }, /neither a model folder .* nor an adapter folder/],
      [{ path: fusedFolder(), repo: 'me/x', run: empty }, /empty: no run\.json/],
    ];
    for (const [options, message] of cases) {
      const e = await failure({ ...options, yes: true, env });
      expect(e.code).toBe('E_ARGUMENT');
      expect(e.message).toMatch(message);
    }
    expect(hub.requests).toEqual([]);
  });

  it('a symlink out of --path (a file, a folder, the adapter itself)', async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.json'), '{}');
    const fused = fusedFolder();
    symlinkSync(join(outside, 'secret.json'), join(fused, 'extra.json'));
    let e = await failure({ path: fused, repo: 'me/x', yes: true, env });
    expect(e.code).toBe('E_ARGUMENT');
    expect(e.message).toContain(`${join(fused, 'extra.json')}: a symlink to ${join(outside, 'secret.json')}, outside --path`);
    rmSync(join(fused, 'extra.json'));
    symlinkSync(outside, join(fused, 'sub'));
    e = await failure({ path: fused, repo: 'me/x', yes: true, env });
    expect(e.message).toContain(`${join(fused, 'sub')}: a symlink to ${outside}, outside --path`);
    const run = runFolder();
    rmSync(join(run, 'adapters.safetensors'));
    writeFileSync(join(outside, 'adapters.safetensors'), 'a');
    symlinkSync(join(outside, 'adapters.safetensors'), join(run, 'adapters.safetensors'));
    e = await failure({ path: run, repo: 'me/x', yes: true, env });
    expect(e.message).toContain('outside --path');
    expect(hub.requests).toEqual([]);
  });

  it('a damaged run.json is an error naming it; a malformed HF_TOKEN does not stop a dry run', async () => {
    const run = runFolder();
    writeFileSync(join(run, 'run.json'), '{"version": 1, "checkpoints": [');
    const e = await failure({ path: run, repo: 'me/x', yes: true, env });
    expect(e.code).toBe('E_ARGUMENT');
    expect(e.message).toContain(join(run, 'run.json'));
    writeFileSync(join(run, 'run.json'), JSON.stringify(manifest({ model: 'org/base' })));
    const plan = planUpload({ path: run, repo: 'me/x', env: { ...env, HF_TOKEN: 'not-a-token' } });
    expect(plan.facts?.base).toEqual({ repo: 'org/base', revision: undefined });
    expect(hub.requests).toEqual([]);
  });

  it('a symlink that stays inside --path is uploaded as the file it points to; subfolders keep their paths', () => {
    const fused = fusedFolder();
    symlinkSync('tokenizer.json', join(fused, 'tokenizer-copy.json'));
    mkdirSync(join(fused, 'extra'));
    writeFileSync(join(fused, 'extra', 'notes.md'), 'n');
    writeFileSync(join(fused, 'extra', '.env.local'), 'n');
    const plan = planUpload({ path: fused, repo: 'me/x', env });
    expect(plan.files.find((f) => f.path === 'tokenizer-copy.json')?.source).toBe(join(fused, 'tokenizer.json'));
    expect(plan.files.map((f) => f.path)).toContain('extra/notes.md');
    expect(plan.skipped.map((f) => f.path)).toContain('extra/.env.local');
  });
});

/** Run `mlx-lab upload` in process with the test's environment; its stdout. */
async function cli(args: string[]): Promise<string> {
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  try {
    await uploadCommand().exitOverride().parseAsync(args, { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return out.join('');
}

describe('mlx-lab upload', () => {
  it('prints the dry run (files, sizes, left out, the card) and sends nothing', async () => {
    const text = await cli(['--path', fusedFolder(), '--repo', 'me/tuned', '--run', runFolder()]);
    expect(text).toMatch(/^dry run: nothing was sent/);
    expect(text).toMatch(/ {2}model\.safetensors {2}1\.4 KB\n/);
    expect(text).toContain('  .env: its name looks like a secret (pass --include-secrets to upload it)');
    expect(text).toContain('--- README.md ---\n---\nlibrary_name: mlx\n');
    expect(text).toContain('pass --yes to upload');
    expect(hub.requests).toEqual([]);
  });

  it('--yes uploads and prints the commit; without HF_TOKEN it rejects with E_HUB', async () => {
    const text = await cli(['--path', runFolder(), '--repo', 'me/adapter', '--yes', '--private', '-m', 'first']);
    expect(text).toMatch(/^uploaded the adapter .* to me\/adapter \(a new repo\): http:\/\/127\.0\.0\.1:\d+\/me\/adapter\/commit\/[0-9a-f]{40}\n/);
    expect(hub.writes.created[0].body.visibility).toBe('private');
    expect(hub.writes.commits[0].title).toBe('first');
    env.HF_TOKEN = '';
    await expect(cli(['--path', join(dir, 'run'), '--repo', 'me/adapter', '--yes'])).rejects.toMatchObject({ code: 'E_HUB', message: expect.stringContaining('HF_TOKEN') });
  });
});
