// `mlx-lab generate --tools`: reading the tool schemas, with errors naming the file and entry.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTools } from '../../src/cli/generate.js';

const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-tools-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const WEATHER = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

describe('readTools', () => {
  it('reads a file or inline JSON', () => {
    expect(readTools(file('ok.json', JSON.stringify([WEATHER])))).toEqual([WEATHER]);
    expect(readTools(JSON.stringify([WEATHER, { name: 'bare', parameters: {} }]))).toHaveLength(2);
  });

  it('names the missing file', () => {
    expect(() => readTools(join(dir, 'nope.json'))).toThrow(/--tools: .*nope\.json/);
  });

  it('names the file and the place of invalid JSON', () => {
    expect(() => readTools(file('bad.json', '[{"type": "function",\n  "function": }]'))).toThrow(/--tools .*bad\.json: invalid JSON \(Unexpected token '}'/);
  });

  it('rejects JSON that is not an array of tools, naming the entry', () => {
    expect(() => readTools(file('obj.json', JSON.stringify(WEATHER)))).toThrow(/obj\.json: expected a JSON array of tool schemas/);
    expect(() => readTools(file('entry.json', JSON.stringify([WEATHER, { function: { name: 7 } }])))).toThrow(/entry\.json: entry 1 is not a tool schema/);
    expect(() => readTools('[null]')).toThrow(/--tools: entry 0 is not a tool schema/);
  });
});
