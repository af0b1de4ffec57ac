/**
 * Tool-call grammars: the Lark grammar (llguidance's dialect) that holds a reply to a call
 * syntax, with the name one of the tools and the arguments fitting that tool's parameter schema.
 * Hermes: `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>`; Qwen3 XML:
 * `<tool_call>\n<function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>\n…</function>\n</tool_call>`
 * (string values as raw text, others as JSON; parameters in the schema's order, the optional
 * ones may be left out). "auto": free text, and a call wherever the model writes `<tool_call>`
 * (the trigger), once or more; "required": one call or more and nothing else.
 */
import { MlxLabError } from '../core/errors.js';
import { isPlainObject } from '../core/suggest.js';

export type ToolCallMode = 'auto' | 'required';

/** Each tool's name and parameter schema (E_GRAMMAR naming the entry that is not a tool). */
export function toolList(tools: unknown, where: string): { name: string; parameters: Record<string, unknown> }[] {
  if (!Array.isArray(tools) || tools.length === 0) {
    throw new MlxLabError('E_GRAMMAR', `${where}: a tool-call grammar needs the tools option (a non-empty list of tool schemas)`);
  }
  return tools.map((tool, i) => {
    const fn = isPlainObject(tool) && isPlainObject(tool.function) ? tool.function : tool;
    if (!isPlainObject(fn) || typeof fn.name !== 'string' || fn.name === '') {
      throw new MlxLabError('E_GRAMMAR', `${where}: tools[${i}] is not a tool schema with a function name`);
    }
    return { name: fn.name, parameters: isPlainObject(fn.parameters) ? fn.parameters : { type: 'object' } };
  });
}

/** One JSON Schema for the body of a call: any tool's name with that tool's arguments (under `argsKey`). */
export function callSchema(tools: unknown, where: string, layout: object, argsKey = 'arguments'): Record<string, unknown> {
  const anyOf = toolList(tools, where).map(({ name, parameters }) => ({
    type: 'object',
    properties: { name: { const: name }, [argsKey]: parameters },
    required: ['name', argsKey],
    additionalProperties: false,
  }));
  return { anyOf, 'x-guidance': layout };
}

/** The Lark grammar of Hermes calls for these tools. */
export function hermesToolGrammar(tools: unknown, mode: ToolCallMode, where: string, layout: object): string {
  const body = JSON.stringify(callSchema(tools, where, layout));
  const call = `"<tool_call>\\n" %json ${body} "\\n</tool_call>"`;
  if (mode === 'required') return `start: call ("\\n" call)*\ncall: ${call}\n`;
  // Text is lazy up to the trigger: once "<tool_call>" is written, the call must follow.
  return ['start: (head body)* TEXT', 'head[lazy]: TEXT "<tool_call>"', `body: "\\n" %json ${body} "\\n</tool_call>"`, 'TEXT: /(?s:.*)/', ''].join('\n');
}

/** How a Qwen3 XML parameter value is written: raw text, one of some strings, or JSON. */
function xmlValue(schema: unknown, layout: object): string {
  const end = '"\\n</parameter>"';
  if (!isPlainObject(schema)) return 'text_value';
  const choices = 'const' in schema ? [schema.const] : Array.isArray(schema.enum) ? schema.enum : undefined;
  if (choices && choices.length > 0 && choices.every((c) => typeof c === 'string')) return `(${choices.map((c) => JSON.stringify(c)).join(' | ')}) ${end}`;
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes('string') || (schema.type === undefined && !choices)) return 'text_value';
  return `%json ${JSON.stringify({ ...schema, 'x-guidance': layout })} ${end}`;
}

/** The Lark rules of one tool's Qwen3 XML call, as rule `fn<i>`. */
function qwen3Function(i: number, name: string, parameters: Record<string, unknown>, layout: object): string[] {
  const props = isPlainObject(parameters.properties) ? (parameters.properties as Record<string, unknown>) : {};
  const required = new Set(Array.isArray(parameters.required) ? parameters.required : []);
  const rules: string[] = [];
  const parts = Object.entries(props).map(([key, schema], k) => {
    const rule = `p${i}_${k}`;
    rules.push(`${rule}: "<parameter=" ${JSON.stringify(key)} ">\\n" ${xmlValue(schema, layout)} "\\n"`);
    return required.has(key) ? rule : `${rule}?`;
  });
  rules.unshift(`fn${i}: "<function=" ${JSON.stringify(name)} ">\\n" ${parts.join(' ')} "</function>"`);
  return rules;
}

/** The Lark grammar of Qwen3 XML calls for these tools. */
export function qwen3XmlToolGrammar(tools: unknown, mode: ToolCallMode, where: string, layout: object): string {
  const list = toolList(tools, where);
  const fns = list.flatMap(({ name, parameters }, i) => qwen3Function(i, name, parameters, layout));
  const choice = list.map((_, i) => `fn${i}`).join(' | ');
  const text = 'text_value[suffix="\\n</parameter>"]: /(?s:.*)/';
  const start = mode === 'required' ? 'start: call ("\\n" call)*' : 'start: (head call_rest)* TEXT\nhead[lazy]: TEXT "<tool_call>"\nTEXT: /(?s:.*)/';
  const call = mode === 'required' ? `call: "<tool_call>\\n" (${choice}) "\\n</tool_call>"` : `call_rest: "\\n" (${choice}) "\\n</tool_call>"`;
  return [start, call, ...fns, text, ''].join('\n');
}
