// Reading JSON (src/core/json.ts): every error names the file (or option) in the caller's code and
// says where JSON.parse stopped, with the line and column.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseJson, readJsonFile, readJsonObject } from '../../src/core/json.js';
import { expectError } from '../helpers/errors.js';
import { tmpDir } from '../helpers/train.js';

const dir = tmpDir('mlxlab-json-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('core/json', () => {
  it('parses text and names the source, the line and the column of a syntax error', () => {
    expect(parseJson('{"a": [1, 2]}', 'x.json', { code: 'E_CONFIG' })).toEqual({ a: [1, 2] });
    const e = expectError(() => parseJson('{\n  "a": 1,\n}', 'x.json', { code: 'E_CONFIG' }), 'E_CONFIG', /^x\.json: invalid JSON \(/);
    expect(e.message).toMatch(/at position 12 \(line 3 column 1\)\)$/);
    expectError(() => parseJson('', '--messages', { code: 'E_ARGUMENT' }), 'E_ARGUMENT', /^--messages: invalid JSON \(Unexpected end of JSON input\)$/);
  });

  it('says what the file is when asked to', () => {
    const file = join(dir, 'tokenizer.json');
    writeFileSync(file, '{');
    expectError(() => readJsonFile(file, { code: 'E_TOKENIZER', what: 'tokenizer.json' }), 'E_TOKENIZER', `${file}: invalid JSON in tokenizer.json (`);
  });

  it('missing files: "not found", or undefined when optional', () => {
    const file = join(dir, 'missing.json');
    expectError(() => readJsonFile(file, { code: 'E_CONFIG' }), 'E_CONFIG', `${file}: file not found`);
    expectError(() => readJsonFile(file, { code: 'E_TOKENIZER', what: 'special_tokens_map.json' }), 'E_TOKENIZER', `${file}: special_tokens_map.json not found`);
    expect(readJsonFile(file, { code: 'E_TOKENIZER', optional: true })).toBeUndefined();
  });

  it('a folder cannot be read; an object is required where asked', () => {
    const folder = join(dir, 'folder.json');
    mkdirSync(folder);
    expectError(() => readJsonFile(folder, { code: 'E_MODEL_LOAD', optional: true }), 'E_MODEL_LOAD', `${folder}: cannot read (EISDIR`);
    const list = join(dir, 'list.json');
    writeFileSync(list, '[1]');
    expect(readJsonFile(list, { code: 'E_CONFIG' })).toEqual([1]);
    expectError(() => readJsonObject(list, { code: 'E_CONFIG' }), 'E_CONFIG', `${list}: expected a JSON object`);
  });
});
