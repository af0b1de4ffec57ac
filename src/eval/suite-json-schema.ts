/** The JSON Schema of an eval suite YAML (schemas/eval-suite.schema.json, `npm run schemas`). */
import { toJsonSchema } from '../core/schema-doc.js';
import { suiteFileSchema } from './suite-schema.js';

/** The committed file, relative to the package root. */
export const EVAL_SUITE_SCHEMA_FILE = 'schemas/eval-suite.schema.json';

/** The JSON Schema of what an eval suite file may hold, for editors (yaml-language-server). */
export function evalSuiteJsonSchema(): Record<string, unknown> {
  return toJsonSchema(suiteFileSchema, {
    title: 'mlx-lab eval suite',
    description: 'Format-eval cases: a prompt or chat, an expectation, and the scorer that reads it (see the README).',
  });
}
