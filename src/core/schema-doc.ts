/**
 * JSON Schema for editors from the zod schemas (zod 4's z.toJSONSchema, input side: what a file
 * may hold). A value checked as a whole, with one message for any problem inside it, is written
 * as the shape it checks against.
 */
import { z } from 'zod';

const SHAPES = new WeakMap<z.ZodType, z.ZodType>();

/** `checker`, written in the JSON Schema as `shape`. */
export function documentedAs<S extends z.ZodType>(checker: S, shape: z.ZodType): S {
  SHAPES.set(checker, shape);
  return checker;
}

/** `schema`, where any problem inside the value is the one problem `message` describes. */
export function wholeValue<S extends z.ZodType>(schema: S, message: (value: unknown) => string): z.ZodType<z.output<S>, unknown> {
  const checker = z.unknown().transform((v, ctx) => {
    const r = schema.safeParse(v);
    if (r.success) return r.data;
    ctx.issues.push({ code: 'custom', input: v, message: message(v) });
    return z.NEVER;
  });
  return documentedAs(checker, schema);
}

/** The JSON Schema (draft 2020-12) of what a file checked by `schema` may hold. */
export function toJsonSchema(schema: z.ZodType, meta: { $id?: string; title?: string; description?: string } = {}): Record<string, unknown> {
  const convert = (s: z.ZodType): Record<string, unknown> =>
    z.toJSONSchema(s, {
      io: 'input',
      unrepresentable: 'any',
      override: ({ zodSchema, jsonSchema }) => {
        const shape = SHAPES.get(zodSchema as unknown as z.ZodType);
        if (!shape) return;
        for (const key of Object.keys(jsonSchema)) delete (jsonSchema as Record<string, unknown>)[key];
        const { $schema: _, ...rest } = convert(shape);
        Object.assign(jsonSchema, rest);
      },
    }) as Record<string, unknown>;
  const { $schema, ...rest } = convert(schema);
  return { $schema, ...meta, ...rest };
}

/** A JSON Schema as its committed file holds it (two-space indent, a final newline). */
export function schemaFileText(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
