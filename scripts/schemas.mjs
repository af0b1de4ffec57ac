// Writes the JSON Schemas of the YAML files (the config and eval suites) from the zod schemas,
// for editors: schemas/train-config.schema.json, schemas/eval-suite.schema.json. Run by
// `npm run schemas` after a build (it reads dist/); a test checks the committed files match.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemaFileText } from '../dist/core/schema-doc.js';
import { TRAIN_CONFIG_SCHEMA_FILE, trainConfigJsonSchema } from '../dist/config/json-schema.js';
import { EVAL_SUITE_SCHEMA_FILE, evalSuiteJsonSchema } from '../dist/eval/suite-json-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const [file, schema] of [
  [TRAIN_CONFIG_SCHEMA_FILE, trainConfigJsonSchema()],
  [EVAL_SUITE_SCHEMA_FILE, evalSuiteJsonSchema()],
]) {
  const path = join(root, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, schemaFileText(schema));
  console.log(`wrote ${file}`);
}
