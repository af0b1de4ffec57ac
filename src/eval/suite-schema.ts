/**
 * The schema of an eval suite file (zod): the suite's keys, a case's keys and the expectation,
 * each with the message its errors give. suite.ts applies them key by key and adds the rules
 * across keys (prompt or messages, the scorer and the expectation fields it reads, unique ids).
 */
import { z } from 'zod';
import type { ChatMessage, ToolSchema } from '../model/chat.js';
import { documentedAs, wholeValue } from '../core/schema-doc.js';
import { describeValue, isPlainObject } from '../core/suggest.js';
import { schemaProblem } from './json-schema.js';

/** A value in a suite error ("an object", the string "x", number 3). */
export const kind = (v: unknown): string => describeValue(v, { object: 'an object', string: 'the string', maxString: 40 });

function says(message: (input: unknown) => string): { error: (issue: { input?: unknown }) => string } {
  return { error: (issue) => message(issue.input) };
}

/** A string that is not blank; `trim`: the value trimmed. */
function nonBlank(what: string, opts: { trim?: boolean } = {}) {
  const err = says((v) => `must be ${what} (got ${kind(v)})`);
  const s = z.string(err).regex(/\S/, err);
  return opts.trim ? s.transform((v) => v.trim()) : s;
}

const text = () => z.string(says((v) => `must be a string (got ${kind(v)})`));
const bool = () => z.boolean(says((v) => `must be true or false (got ${kind(v)})`));
const positiveInt = () => z.int(says((v) => `must be a positive integer (got ${kind(v)})`)).min(1, says((v) => `must be a positive integer (got ${kind(v)})`));

const stringList = (item: z.ZodType<string>) => wholeValue(z.array(item), (v) => `must be a list of non-empty strings (got ${kind(v)})`);
const stopStrings = () => stringList(z.string().min(1));

/** A JSON schema (checked by ajv) that must be an object. */
const jsonSchemaObject = z.record(z.string(), z.unknown(), says(() => 'must be a JSON schema (an object)')).superRefine((v, ctx) => {
  const why = schemaProblem(v);
  if (why) ctx.addIssue({ code: 'custom', input: v, message: why });
});

/** Tools: OpenAI style {type: "function", function: {name, description?, parameters?}}, or the short {name, description?, parameters?}. */
const tool = z.unknown().transform((t, ctx): ToolSchema => {
  const fn = isPlainObject(t) ? (isPlainObject(t.function) ? t.function : t) : undefined;
  if (!fn || typeof fn.name !== 'string' || fn.name.trim() === '') {
    ctx.issues.push({ code: 'custom', input: t, message: 'must be a tool schema {type: "function", function: {name, description, parameters}}' });
    return z.NEVER;
  }
  if (fn.parameters !== undefined) {
    const why = isPlainObject(fn.parameters) ? schemaProblem(fn.parameters) : 'must be a JSON schema (an object)';
    if (why) {
      ctx.issues.push({ code: 'custom', input: fn.parameters, path: ['function', 'parameters'], message: why });
      return z.NEVER;
    }
  }
  return isPlainObject((t as Record<string, unknown>).function) ? (t as ToolSchema) : ({ type: 'function', function: fn } as ToolSchema);
});

const toolFunction = z.looseObject({ name: z.string().regex(/\S/), description: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional() });
documentedAs(tool, z.union([z.looseObject({ type: z.literal('function').optional(), function: toolFunction }), toolFunction]));

const tools = () => z.array(tool, says((v) => `must be a list of tool schemas (got ${kind(v)})`));

const ROLES = ['system', 'user', 'assistant', 'tool'] as const;

const message = z
  .looseObject(
    {
      role: z.enum(ROLES, says((v) => `must be one of ${ROLES.join(', ')} (got ${kind(v)})`)),
      content: z.unknown().optional(),
      tool_calls: z.unknown().optional(),
    },
    says((v) => `must be a message {role, content} (got ${kind(v)})`),
  )
  // Checked even when the role is wrong (both are reported).
  .refine((m) => typeof m.content === 'string' || (hasToolCalls(m) && (m.content === undefined || m.content === null)), {
    path: ['content'],
    when: (payload) => isPlainObject(payload.value),
    error: (issue) => `must be a string (got ${kind((issue.input as { content?: unknown } | undefined)?.content)})`,
  });

function hasToolCalls(m: { tool_calls?: unknown }): boolean {
  return Array.isArray(m.tool_calls) && m.tool_calls.length > 0;
}

/** A chat that ends with a user or tool message (the model answers it). */
const messages = () => {
  const err = says((v) => `must be a non-empty list of chat messages (got ${kind(v)})`);
  return z
    .array(message, err)
    .min(1, err)
    .superRefine((list, ctx) => {
      const last = list.at(-1);
      if (last && last.role !== 'user' && last.role !== 'tool') {
        ctx.addIssue({ code: 'custom', path: [list.length - 1, 'role'], input: last.role, message: `the last message must be from the user or a tool, so the model answers it (got "${last.role}")` });
      }
    })
    .transform((list) => list as unknown as ChatMessage[]);
};

const toolName = () => z.string().regex(/\S/).transform((v) => v.trim());

/** What a case expects of the reply; which fields matter depends on the scorer (see scorers.ts). */
export const EXPECTATION = {
  /** The tool name, or a list of names all of which must be called. */
  tool: wholeValue(z.union([toolName(), z.array(toolName()).min(1)]), (v) => `must be a tool name or a non-empty list of tool names (got ${kind(v)})`),
  /** Strings that must appear (case-sensitive) in the call's argument text (numbers are taken as their digits). */
  keywords: stringList(z.union([z.string(), z.number().transform(String)]).pipe(z.string().min(1))),
  /** The code-wrapper tool of the rubric scorer (default execute_code). */
  wrapper: nonBlank('a tool name', { trim: true }),
  /** The call syntax required. */
  format: z.enum(['hermes', 'qwen3_xml'], says((v) => `must be "hermes" or "qwen3_xml" (got ${kind(v)})`)),
  /** A JSON schema the call's arguments must satisfy. */
  arguments_schema: jsonSchemaObject,
  /** A JSON schema the whole reply (parsed as JSON) must satisfy. */
  json_schema: z.unknown().superRefine((v, ctx) => {
    const why = schemaProblem(v);
    if (why) ctx.addIssue({ code: 'custom', input: v, message: why });
  }) as z.ZodType<Record<string, unknown> | boolean>,
  /** A pattern the reply must match (JavaScript RegExp, searched, not anchored). */
  regex: text(),
  flags: z.string(says((v) => `must be RegExp flags such as "i" or "ms" (got ${kind(v)})`)).regex(/^[dgimsuvy]*$/, says((v) => `must be RegExp flags such as "i" or "ms" (got ${kind(v)})`)),
  /** The reply, trimmed, must equal this, trimmed. */
  exact: text(),
  /** No prose allowed around the tool call(s). */
  only_call: bool(),
  /** A thinking block before the answer is not a failure. */
  allow_think: bool(),
  /** Free-form data for user scorers. */
  data: z.unknown(),
};

export type Expectation = { [K in keyof typeof EXPECTATION]?: z.output<(typeof EXPECTATION)[K]> };
export const EXPECT_FIELDS = Object.keys(EXPECTATION) as (keyof Expectation)[];

/** The keys of a case, in the order they are checked. */
export const CASE = {
  /** Unique in the suite (a string; an integer is taken as its digits). */
  id: wholeValue(z.union([z.string().regex(/\S/).transform((v) => v.trim()), z.int().transform(String)]), (v) => `must be a non-empty string (got ${kind(v)})`),
  category: nonBlank('a non-empty string', { trim: true }),
  /** A user message; or `messages`. */
  prompt: nonBlank('a non-empty string'),
  /** A chat ending with a user or tool message. */
  messages: messages(),
  system: text(),
  tools: tools(),
  max_tokens: positiveInt(),
  stop: stopStrings(),
  weight: z.number(says((v) => `must be a number > 0 (got ${kind(v)})`)).gt(0, says((v) => `must be a number > 0 (got ${kind(v)})`)),
  notes: text(),
  scorer: nonBlank('a scorer name'),
  expect: z.record(z.string(), z.unknown(), says((v) => `must be an object (got ${kind(v)})`)),
};

/** The keys of a suite (all optional but cases, which a JSONL suite gives one per line). */
export const SUITE = {
  name: nonBlank('a non-empty string'),
  description: text(),
  /** The default system prompt. */
  system: text(),
  /** The default tools. */
  tools: tools(),
  /** The default generation budget. */
  max_tokens: positiveInt(),
  /** The default stop strings. */
  stop: stopStrings(),
  /** User scorer files: name → path (relative to the suite). */
  scorers: z.record(z.string(), z.unknown(), says((v) => `must be a map of scorer name to file path (got ${kind(v)})`)),
  /** The default scorer. */
  scorer: nonBlank('a scorer name'),
  cases: z.array(z.unknown(), says((v) => `must be a list of cases (got ${kind(v)})`)),
};

/** The whole suite file, for the JSON Schema editors read. */
export const suiteFileSchema = z
  .strictObject({
    ...SUITE,
    scorers: z.record(z.string().regex(/^[A-Za-z_][\w.-]*$/), z.string().regex(/\S/)),
    cases: z.array(z.strictObject({ ...CASE, expect: z.strictObject(EXPECTATION).partial() }).partial().required({ id: true, expect: true })),
  })
  .partial()
  .required({ cases: true });
