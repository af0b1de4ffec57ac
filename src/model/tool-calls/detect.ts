/**
 * Which call syntax a chat template teaches its model, from the markers in the template text.
 * The checks run from the most specific marker to the most generic one (`<tool_call>`).
 */
import type { CallFormat, ToolFormat } from './types.js';

const RULES: ReadonlyArray<[CallFormat, (t: string) => boolean]> = [
  ['qwen3_xml', (t) => /<tool_call>(\\n|\n)<function=/.test(t) || (t.includes('<function=') && t.includes('<parameter='))],
  ['mistral', (t) => t.includes('[TOOL_CALLS]')],
  ['pythonic', (t) => t.includes('<|tool_call_start|>') || t.includes('<|tool_list_start|>') || /\[func_name1\(/.test(t)],
  ['llama3_json', (t) => t.includes('<|python_tag|>') || /"parameters": dictionary of argument/.test(t)],
  ['hermes', (t) => t.includes('<tool_call>')],
];

/** The call format a chat template uses, or undefined when it shows none. */
export function detectToolFormat(template: string | undefined): CallFormat | undefined {
  if (!template) return undefined;
  return RULES.find(([, test]) => test(template))?.[0];
}

/**
 * The format to parse with: a named one as is; `auto` (the default) the template's, and
 * `<tool_call>` blocks (Hermes/Qwen3 XML, the example suite's form) when the template shows none.
 */
export function resolveToolFormat(requested: ToolFormat | undefined, template: string | undefined): CallFormat | 'none' {
  if (requested === undefined || requested === 'auto') return detectToolFormat(template) ?? 'hermes';
  return requested;
}
