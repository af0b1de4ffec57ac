/**
 * The "tool format" task of the example suite (examples/tool-format/suite.yaml) and of the
 * training-set generator (generate-data.ts): a coding agent answers every request with ONE
 * Hermes-style tool call of the `execute_code` wrapper, whose `code` argument is one line of
 * Python calling the project's tools with keyword arguments and single-quoted strings:
 *
 *   <tool_call>{"name": "execute_code", "arguments": {"code": "write_file(path='hello.py', content='print(42)')"}}</tool_call>
 *
 * Two steps are two calls joined by "; ". Values never hold quotes or backslashes, so the JSON
 * needs no escapes — easy for a very small model (SmolLM2-135M) to learn from a few hundred
 * examples. Both the suite and the generator take their system prompt and tool names from here,
 * so they cannot drift apart (the reference run's `_direct` suffix mismatch).
 */

export const TOOL_FORMAT_WRAPPER = 'execute_code';

export interface ToolSpec {
  name: string;
  /** Keyword parameters, in call order. */
  params: string[];
  description: string;
  category: 'text_tools' | 'validation' | 'lsp' | 'git' | 'cst' | 'domain';
}

export const TOOL_CATALOG: readonly ToolSpec[] = [
  { name: 'write_file', params: ['path', 'content'], description: 'write a file', category: 'text_tools' },
  { name: 'read_file', params: ['path'], description: 'read a file', category: 'text_tools' },
  { name: 'run_command', params: ['cmd'], description: 'run a shell command', category: 'text_tools' },
  { name: 'typecheck', params: ['path'], description: 'run the type checker', category: 'validation' },
  { name: 'ruff_check', params: ['path'], description: 'lint with ruff', category: 'validation' },
  { name: 'pytest_run', params: ['path'], description: 'run tests', category: 'validation' },
  { name: 'goto_definition', params: ['symbol'], description: 'where a symbol is defined', category: 'lsp' },
  { name: 'find_references', params: ['symbol'], description: 'every use of a symbol', category: 'lsp' },
  { name: 'workspace_symbols', params: ['query'], description: 'search symbols in the project', category: 'lsp' },
  { name: 'document_symbols', params: ['path'], description: 'the symbols of one file', category: 'lsp' },
  { name: 'git_status', params: [], description: 'working tree status', category: 'git' },
  { name: 'git_diff', params: ['path'], description: 'uncommitted changes of a path', category: 'git' },
  { name: 'git_log', params: ['n'], description: 'the last n commits', category: 'git' },
  { name: 'cst_find_pattern', params: ['pattern', 'path'], description: 'find a code pattern', category: 'cst' },
  { name: 'cst_rename', params: ['old', 'new', 'path'], description: 'rename a symbol', category: 'cst' },
  { name: 'cst_add_import', params: ['module', 'path'], description: 'add an import', category: 'cst' },
  { name: 'validate_route_pattern', params: ['pattern'], description: 'check a URL route pattern', category: 'domain' },
  { name: 'check_circuit_breaker', params: ['path'], description: 'check circuit breaker settings', category: 'domain' },
  { name: 'validate_registration', params: ['path'], description: 'check handler registration', category: 'domain' },
  { name: 'check_imports', params: ['path'], description: 'find import cycles and unused imports', category: 'domain' },
  { name: 'check_html_escaping', params: ['path'], description: 'check that html() calls escape input', category: 'domain' },
  { name: 'validate_config', params: ['path'], description: 'check a config file', category: 'domain' },
];

export const TOOL_NAMES: readonly string[] = TOOL_CATALOG.map((t) => t.name);

/** The system prompt of the tool-format suite and its training data. */
export const TOOL_FORMAT_SYSTEM = [
  'You are a coding agent. Answer each request with one tool call and nothing else, in exactly this form:',
  `<tool_call>{"name": "${TOOL_FORMAT_WRAPPER}", "arguments": {"code": "CODE"}}</tool_call>`,
  'CODE is one line of Python that calls the functions below with keyword arguments and single-quoted strings. For two steps, join two calls with "; ".',
  'Functions:',
  ...TOOL_CATALOG.map((t) => `${t.name}(${t.params.join(', ')}) - ${t.description}`),
].join('\n');

/** A Python call with keyword arguments: strings single-quoted, numbers bare. */
export function pythonCall(tool: string, args: ReadonlyArray<readonly [string, string | number]>): string {
  const parts = args.map(([k, v]) => {
    if (typeof v === 'number') return `${k}=${v}`;
    if (/['\\\n]/.test(v)) throw new Error(`tool-format values cannot hold quotes, backslashes or newlines: ${JSON.stringify(v)}`);
    return `${k}='${v}'`;
  });
  return `${tool}(${parts.join(', ')})`;
}

/** The assistant reply for some code: one Hermes tool call of the wrapper. */
export function wrappedCallReply(code: string, wrapper: string = TOOL_FORMAT_WRAPPER): string {
  return `<tool_call>{"name": ${JSON.stringify(wrapper)}, "arguments": {"code": ${JSON.stringify(code)}}}</tool_call>`;
}
