// The JSON Schemas of the YAML files (schemas/*.schema.json) are generated from the zod schemas
// by `npm run schemas`; the committed files must be what the schemas generate, and they must
// accept the files the validators accept (and refuse what they refuse).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { schemaFileText } from '../../src/core/schema-doc.js';
import { TRAIN_CONFIG_SCHEMA_FILE, trainConfigJsonSchema } from '../../src/config/json-schema.js';
import { EVAL_SUITE_SCHEMA_FILE, evalSuiteJsonSchema } from '../../src/eval/suite-json-schema.js';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const yaml = (file: string) => parse(read(file), { version: '1.1' });

describe('JSON Schemas for editors', () => {
  it('the committed files are what the zod schemas generate (run npm run schemas after changing a schema)', () => {
    expect(read(TRAIN_CONFIG_SCHEMA_FILE)).toBe(schemaFileText(trainConfigJsonSchema()));
    expect(read(EVAL_SUITE_SCHEMA_FILE)).toBe(schemaFileText(evalSuiteJsonSchema()));
  });

  it('accept the example files and refuse unknown keys and unsupported values', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const config = ajv.compile(JSON.parse(read(TRAIN_CONFIG_SCHEMA_FILE)));
    const suite = ajv.compile(JSON.parse(read(EVAL_SUITE_SCHEMA_FILE)));
    for (const file of ['test/fixtures/configs/full.yaml', 'test/fixtures/configs/mlx-lm-example.yaml']) {
      expect(config(yaml(file)), `${file}: ${ajv.errorsText(config.errors)}`).toBe(true);
    }
    expect(config({ learnin_rate: 1 })).toBe(false);
    expect(config({ optimizer: 'muon' })).toBe(false);
    expect(config({ lora_parameters: { keys: [] } })).toBe(false);
    expect(config({ sweep: { grid: { 'lora_parameters.rank': [0] } } })).toBe(false);
    expect(suite(yaml('examples/tool-format/suite.yaml')), ajv.errorsText(suite.errors)).toBe(true);
    expect(suite({ cases: [{ id: 'a', prompt: 'x', expect: { exact: 'y' }, catgory: 'c' }] })).toBe(false);
    expect(suite({ cases: [{ id: 'a', prompt: 'x' }] })).toBe(false);
  });
});
