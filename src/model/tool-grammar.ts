/**
 * Tool-call grammars: the Lark grammar (llguidance's dialect) that holds a reply to the Hermes
 * syntax, `<tool_call>{"name": …, "arguments": {…}}</tool_call>`, with the name one of the tools
 * and the arguments fitting that tool's parameter schema. "auto": free text, and a call wherever
 * the model writes `<tool_call>` (the trigger), once or more; "required": one call or more and
 * nothing else.
 */
import { MlxLabError } from '../core/errors.js';
import { isPlainObject } from '../core/suggest.js';

export type ToolCallMode = 'auto' | 'required';

/** One JSON Schema for the body of a call: any tool's name with that tool's arguments. */
export function callSchema(tools: unknown, where: string, layout: object): Record<string, unknown> {
  if (!Array.isArray(tools) || tools.length === 0) {
    throw new MlxLabError('E_GRAMMAR', `${where}: a tool-call grammar needs the tools option (a non-empty list of tool schemas)`);
  }
  const anyOf = tools.map((tool, i) => {
    const fn = isPlainObject(tool) && isPlainObject(tool.function) ? tool.function : tool;
    if (!isPlainObject(fn) || typeof fn.name !== 'string' || fn.name === '') {
      throw new MlxLabError('E_GRAMMAR', `${where}: tools[${i}] is not a tool schema with a function name`);
    }
    const parameters = isPlainObject(fn.parameters) ? fn.parameters : { type: 'object' };
    return { type: 'object', properties: { name: { const: fn.name }, arguments: parameters }, required: ['name', 'arguments'], additionalProperties: false };
  });
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
