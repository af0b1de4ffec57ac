/**
 * Tool-call grammars for the syntaxes without a `<tool_call>` block (Lark, llguidance's dialect):
 * Llama 3 JSON (`{"name": …, "parameters": {…}}` as the whole reply, calls joined by "; "),
 * Mistral (`[TOOL_CALLS][{"name": …, "arguments": {…}}]`) and pythonic calls
 * (`[get_weather(city="Paris"), now()]` as the whole reply). The name is one of the tools and the
 * arguments fit that tool's parameter schema. "required": calls and nothing else; "auto": a reply
 * of calls, or prose that cannot be mistaken for a broken call (Llama 3: prose does not open
 * with "{", pythonic: not with "["; Mistral: free text, and after `[TOOL_CALLS]` only calls).
 */
import { isPlainObject } from '../core/suggest.js';
import { callSchema, toolList, type ToolCallMode } from './tool-grammar.js';

/** How a literal is written in the grammar: a special token by id, or its text. */
export type SpecialTokenId = (text: string) => number | undefined;

/** The Lark grammar of Llama 3 JSON calls for these tools. */
export function llama3ToolGrammar(tools: unknown, mode: ToolCallMode, where: string, layout: object): string {
  const call = `call: %json ${JSON.stringify(callSchema(tools, where, layout, 'parameters'))}`;
  const calls = 'calls: call ("; " call)*';
  // Prose is anything that does not open with "{" (after white space), so a call is never half-made.
  const start = mode === 'required' ? 'start: calls' : 'start: calls | PROSE\nPROSE: /(?s:\\s*([^{\\s].*)?)/';
  return [start, calls, call, ''].join('\n');
}

/** The Lark grammar of Mistral `[TOOL_CALLS]` JSON-list calls; the marker by token id when it is a special token. */
export function mistralToolGrammar(tools: unknown, mode: ToolCallMode, where: string, layout: object, specialId?: SpecialTokenId): string {
  const id = specialId?.('[TOOL_CALLS]');
  const tag = id === undefined ? '"[TOOL_CALLS]"' : `<[${id}]>`;
  const list = { type: 'array', minItems: 1, items: callSchema(tools, where, layout, 'arguments'), 'x-guidance': layout };
  const calls = `calls: ${tag} %json ${JSON.stringify(list)}`;
  if (mode === 'required') return ['start: calls', calls, ''].join('\n');
  // A marker written as text ends the free text, as `<tool_call>` does for Hermes; a special token cannot be text.
  const head = id === undefined ? 'head[lazy]: TEXT "[TOOL_CALLS]"' : 'head: TEXT';
  const rest = `rest: %json ${JSON.stringify(list)}`;
  const start = id === undefined ? 'start: (head rest)* TEXT' : `start: TEXT (${tag} rest TEXT)*`;
  return [start, ...(id === undefined ? [head] : []), rest, 'TEXT: /(?s:.*)/', ''].join('\n');
}

/** Whether JSON text of values fitting `schema` is also a Python literal (no true/false/null anywhere). */
function jsonIsPython(schema: unknown): boolean {
  if (!isPlainObject(schema)) return false;
  if (Array.isArray(schema.enum) || 'const' in schema) {
    const values = 'const' in schema ? [schema.const] : (schema.enum as unknown[]);
    return values.every((v) => typeof v === 'string' || typeof v === 'number');
  }
  if (schema.type === 'string' || schema.type === 'integer' || schema.type === 'number') return true;
  if (schema.type === 'array') return jsonIsPython(schema.items);
  if (schema.type !== 'object' || schema.additionalProperties !== false) return false;
  return Object.values(isPlainObject(schema.properties) ? schema.properties : {}).every(jsonIsPython);
}

/** How one keyword argument's value is written: JSON where it is Python too, else Python's own constants or any literal. */
function pythonValue(schema: unknown, layout: object): string {
  if (isPlainObject(schema) && schema.type === 'boolean') return '("True" | "False")';
  if (isPlainObject(schema) && schema.type === 'null') return '"None"';
  if (jsonIsPython(schema)) return `%json ${JSON.stringify({ ...(schema as object), 'x-guidance': layout })}`;
  if (isPlainObject(schema) && schema.type === 'object') return 'pydict';
  if (isPlainObject(schema) && schema.type === 'array') return 'pylist';
  return 'pyvalue';
}

/** Any Python literal: strings, numbers, True/False/None, lists and dicts (their items unchecked by a schema). */
const PY_LITERAL = [
  'pyvalue: PYSTR | PYNUM | "True" | "False" | "None" | pylist | pydict',
  'pylist: "[" (pyvalue (", " pyvalue)*)? "]"',
  'pydict: "{" (PYSTR ": " pyvalue (", " PYSTR ": " pyvalue)*)? "}"',
  'PYSTR: /"([^"\\\\\\n]|\\\\.)*"/',
  'PYNUM: /-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?/',
];

/**
 * The keyword arguments of tool `i`, in the schema's order (optional ones may be left out), as
 * rules: `h<i>_<k>`: those from k on, the first without a comma; `t<i>_<k>`: each after ", ".
 */
function pythonArgs(i: number, parameters: Record<string, unknown>, layout: object): string[] {
  const props = Object.entries(isPlainObject(parameters.properties) ? (parameters.properties as Record<string, unknown>) : {});
  const required = new Set(Array.isArray(parameters.required) ? parameters.required : []);
  const rules = props.map(([key, schema], k) => `a${i}_${k}: ${JSON.stringify(`${key}=`)} ${pythonValue(schema, layout)}`);
  for (let k = props.length - 1; k >= 0; k--) {
    const arg = `a${i}_${k}`;
    const last = k === props.length - 1;
    const tail = last ? '' : ` t${i}_${k + 1}`;
    const head = last ? '' : ` | h${i}_${k + 1}`;
    if (required.has(props[k][0])) {
      rules.push(`t${i}_${k}: ", " ${arg}${tail}`, `h${i}_${k}: ${arg}${tail}`);
    } else {
      rules.push(`t${i}_${k}: (", " ${arg})?${tail}`, `h${i}_${k}: ${arg}${tail}${head}`);
    }
  }
  return rules;
}

/** Whether tool `i` may be called with no argument (no parameter, or none required). */
function mayBeEmpty(parameters: Record<string, unknown>): boolean {
  const props = isPlainObject(parameters.properties) ? Object.keys(parameters.properties) : [];
  return props.length === 0 || !(Array.isArray(parameters.required) && parameters.required.some((r) => props.includes(r as string)));
}

/** The Lark grammar of pythonic calls (a Python list of keyword-argument calls) for these tools. */
export function pythonicToolGrammar(tools: unknown, mode: ToolCallMode, where: string, layout: object): string {
  const list = toolList(tools, where);
  const rules = list.flatMap(({ name, parameters }, i) => {
    const hasArgs = isPlainObject(parameters.properties) && Object.keys(parameters.properties).length > 0;
    const args = !hasArgs ? '' : mayBeEmpty(parameters) ? ` h${i}_0?` : ` h${i}_0`;
    return [`fn${i}: ${JSON.stringify(`${name}(`)}${args} ")"`, ...(hasArgs ? pythonArgs(i, parameters, layout) : [])];
  });
  const calls = `calls: "[" call (", " call)* "]"\ncall: ${list.map((_, i) => `fn${i}`).join(' | ')}`;
  // Prose is anything that does not open with "[" (after white space).
  const start = mode === 'required' ? 'start: calls' : 'start: calls | PROSE\nPROSE: /(?s:\\s*([^\\[\\s].*)?)/';
  return [start, calls, ...rules, ...PY_LITERAL, ''].join('\n');
}
