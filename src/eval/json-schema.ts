/**
 * JSON-schema validation for the eval scorers (`json_schema`, `arguments_schema`).
 *
 * We use Ajv: the most used JSON-schema validator for JavaScript, actively maintained, complete
 * for drafts 06/07 (the default here) and 2019-09/2020-12, and it compiles a schema once into a
 * fast validator, which matters when a suite is scored every few training steps. Unknown
 * keywords are not fatal (strict: false) since suites are written by hand and schemas copied
 * from tool definitions often carry extra annotations.
 */
import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new WeakMap<object, ValidateFunction>();

/** Compile (and cache) a schema; throws an Error with Ajv's message when the schema is invalid. */
export function compileSchema(schema: Record<string, unknown> | boolean): ValidateFunction {
  if (typeof schema === 'boolean') return ajv.compile(schema);
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  return fn;
}

/** Why a schema is invalid, or null when it compiles. */
export function schemaProblem(schema: unknown): string | null {
  if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) {
    return 'must be a JSON schema (an object)';
  }
  try {
    compileSchema(schema as Record<string, unknown> | boolean);
    return null;
  } catch (err) {
    return `is not a valid JSON schema: ${(err as Error).message}`;
  }
}

/** Validate a value; returns null when valid, else a short description of the violations. */
export function validateAgainst(schema: Record<string, unknown> | boolean, value: unknown): string | null {
  const fn = compileSchema(schema);
  if (fn(value)) return null;
  return describeErrors(fn.errors ?? []);
}

function describeErrors(errors: ErrorObject[]): string {
  const parts = errors.slice(0, 3).map((e) => {
    const where = e.instancePath === '' ? '(root)' : e.instancePath;
    const extra =
      e.keyword === 'additionalProperties'
        ? ` "${String((e.params as { additionalProperty?: string }).additionalProperty)}"`
        : e.keyword === 'enum'
          ? `: ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)}`
          : '';
    return `${where} ${e.message ?? e.keyword}${extra}`;
  });
  if (errors.length > 3) parts.push(`and ${errors.length - 3} more`);
  return parts.join('; ');
}
