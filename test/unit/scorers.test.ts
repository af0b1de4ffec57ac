import { describe, it, expect, afterAll } from 'vitest';
import { join, resolve } from 'node:path';
import { MlxLabError } from '../../src/core/errors.js';
import type { EvalCase, Expectation } from '../../src/eval/suite.js';
import {
  FAILURE_CLASSES,
  getScorer,
  loadScorerFile,
  registerScorer,
  scoreCase,
  scorerNames,
  unregisterScorer,
  type FailureClass,
} from '../../src/eval/scorers.js';
import { codeCallsTool, parseReply, splitThinking } from '../../src/eval/parse.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/eval');

function mkCase(scorer: string, expectation: Expectation, extra: Partial<EvalCase> = {}): EvalCase {
  return { id: 'c', category: 'test', index: 0, expect: expectation, scorer, weight: 1, ...extra };
}

/** A Hermes call of the execute_code wrapper. */
const wrapped = (code: string, wrapper = 'execute_code') => `<tool_call>{"name": "${wrapper}", "arguments": {"code": ${JSON.stringify(code)}}}</tool_call>`;
const hermes = (name: string, args: Record<string, unknown>) => `<tool_call>{"name": "${name}", "arguments": ${JSON.stringify(args)}}</tool_call>`;

interface Row {
  name: string;
  scorer: string;
  expect: Expectation;
  reply: string;
  finish?: string;
  stop?: string;
  score: number;
  failure: FailureClass | null;
  detail?: string;
  tools?: EvalCase['tools'];
}

const RUBRIC: Expectation = { tool: 'write_file', keywords: ['hello.py'] };
const WRITE = "write_file(path='hello.py', content='print(1)')";
const WEATHER_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } },
  required: ['city'],
  additionalProperties: false,
};
const WEATHER: Expectation = { tool: 'get_weather', arguments_schema: WEATHER_SCHEMA };
const XML_OK = '<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>';
const JSON_SCHEMA: Expectation = {
  json_schema: { type: 'object', properties: { answer: { type: 'integer' } }, required: ['answer'] },
};

const rows: Row[] = [
  // ---- rubric: 1.0
  { name: 'rubric: wrapped call naming tool and keyword', scorer: 'rubric', expect: RUBRIC, reply: wrapped(WRITE), score: 1, failure: null },
  { name: 'rubric: whitespace around and inside the tags', scorer: 'rubric', expect: RUBRIC, reply: `\n\n  <tool_call>\n  {"name":"execute_code",\n "arguments":{"code":"${WRITE}"}}\n</tool_call>\n`, score: 1, failure: null },
  { name: 'rubric: empty <think></think> then the call', scorer: 'rubric', expect: RUBRIC, reply: `<think>\n\n</think>\n\n${wrapped(WRITE)}`, score: 1, failure: null },
  { name: 'rubric: prompt-opened empty think (only </think>)', scorer: 'rubric', expect: RUBRIC, reply: `\n</think>\n${wrapped(WRITE)}`, score: 1, failure: null },
  { name: 'rubric: wrapper in Qwen3 XML syntax', scorer: 'rubric', expect: RUBRIC, reply: `<tool_call><function=execute_code><parameter=code>\n${WRITE}\n</parameter></function></tool_call>`, score: 1, failure: null },
  { name: 'rubric: prose around the call is ignored by default', scorer: 'rubric', expect: RUBRIC, reply: `Sure, writing it now.\n${wrapped(WRITE)}`, score: 1, failure: null },
  { name: 'rubric: arguments given as a JSON string', scorer: 'rubric', expect: RUBRIC, reply: `<tool_call>{"name": "execute_code", "arguments": ${JSON.stringify(JSON.stringify({ code: WRITE }))}}</tool_call>`, score: 1, failure: null },
  { name: 'rubric: a direct call and a wrapped call', scorer: 'rubric', expect: RUBRIC, reply: hermes('write_file', { path: 'x' }) + wrapped(WRITE), score: 1, failure: null },
  { name: 'rubric: multi-step, both tools in the code', scorer: 'rubric', expect: { tool: ['goto_definition', 'find_references'], keywords: ['HomeView'] }, reply: wrapped("goto_definition(symbol='HomeView'); find_references(symbol='HomeView')"), score: 1, failure: null },
  { name: 'rubric: a custom wrapper', scorer: 'rubric', expect: { ...RUBRIC, wrapper: 'run_python' }, reply: wrapped(WRITE, 'run_python'), score: 1, failure: null },
  { name: 'rubric: allow_think accepts a thought before the call', scorer: 'rubric', expect: { ...RUBRIC, allow_think: true }, reply: `<think>write the file</think>${wrapped(WRITE)}`, score: 1, failure: null },
  { name: 'rubric: no keywords needed (git_status)', scorer: 'rubric', expect: { tool: 'git_status' }, reply: wrapped('git_status()'), score: 1, failure: null },
  // ---- rubric: 0.5
  { name: 'rubric: direct Hermes call of the right tool', scorer: 'rubric', expect: RUBRIC, reply: hermes('write_file', { path: 'hello.py', content: 'x' }), score: 0.5, failure: 'no_wrapper' },
  { name: 'rubric: direct call without the keyword still 0.5', scorer: 'rubric', expect: RUBRIC, reply: hermes('write_file', { path: 'main.py' }), score: 0.5, failure: 'no_wrapper' },
  { name: 'rubric: direct Qwen3 XML call of the right tool', scorer: 'rubric', expect: RUBRIC, reply: '<tool_call><function=write_file><parameter=path>hello.py</parameter></function></tool_call>', score: 0.5, failure: 'no_wrapper' },
  // ---- rubric: 0.0
  { name: 'rubric: prose only', scorer: 'rubric', expect: RUBRIC, reply: 'Let me first check what is in that file before writing hello.py...', score: 0, failure: 'prose', detail: 'no tool call' },
  { name: 'rubric: a Python code block instead of a call', scorer: 'rubric', expect: RUBRIC, reply: "```python\nwith open('hello.py', 'w') as f:\n    f.write('hi')\n```", score: 0, failure: 'prose' },
  { name: 'rubric: a JSON call without the tags', scorer: 'rubric', expect: RUBRIC, reply: '{"name": "execute_code", "arguments": {"code": "write_file()"}}', score: 0, failure: 'prose', detail: 'without <tool_call> tags' },
  { name: 'rubric: only_call rejects prose around the call', scorer: 'rubric', expect: { ...RUBRIC, only_call: true }, reply: `Here you go: ${wrapped(WRITE)}`, score: 0, failure: 'prose', detail: 'text around' },
  { name: 'rubric: thinking before a correct call', scorer: 'rubric', expect: RUBRIC, reply: `<think>The user wants a file.</think>\n${wrapped(WRITE)}`, score: 0, failure: 'think' },
  { name: 'rubric: unterminated <think> (ran out of tokens)', scorer: 'rubric', expect: RUBRIC, reply: '<think>\nOkay, the user wants me to create', finish: 'length', score: 0, failure: 'think', detail: 'never closes' },
  { name: 'rubric: stopped on the <think> stop string', scorer: 'rubric', expect: RUBRIC, reply: '', finish: 'stop', stop: '<think>', score: 0, failure: 'think' },
  { name: 'rubric: wrapper code calls the wrong tool', scorer: 'rubric', expect: RUBRIC, reply: wrapped("run_command(cmd='touch hello.py')"), score: 0, failure: 'wrong_tool', detail: 'does not call write_file' },
  { name: 'rubric: wrapper code names a longer tool (write_files)', scorer: 'rubric', expect: RUBRIC, reply: wrapped("write_files(path='hello.py')"), score: 0, failure: 'wrong_tool' },
  { name: 'rubric: direct call of the wrong tool', scorer: 'rubric', expect: RUBRIC, reply: hermes('read_file', { path: 'hello.py' }), score: 0, failure: 'wrong_tool' },
  { name: 'rubric: the default wrapper when another is expected', scorer: 'rubric', expect: { ...RUBRIC, wrapper: 'run_python' }, reply: wrapped(WRITE), score: 0, failure: 'wrong_tool' },
  { name: 'rubric: multi-step with one tool missing', scorer: 'rubric', expect: { tool: ['goto_definition', 'find_references'], keywords: ['HomeView'] }, reply: wrapped("goto_definition(symbol='HomeView')"), score: 0, failure: 'wrong_tool' },
  { name: 'rubric: wrapped call without the keyword', scorer: 'rubric', expect: RUBRIC, reply: wrapped("write_file(path='main.py', content='x')"), score: 0, failure: 'missing_keyword', detail: '"hello.py"' },
  { name: 'rubric: invalid JSON in the call', scorer: 'rubric', expect: RUBRIC, reply: `<tool_call>{"name": "execute_code", "arguments": {"code": "${WRITE}"}</tool_call>`, score: 0, failure: 'invalid_json' },
  { name: 'rubric: a call block that is neither JSON nor XML', scorer: 'rubric', expect: RUBRIC, reply: `<tool_call>${WRITE}</tool_call>`, score: 0, failure: 'invalid_json' },
  { name: 'rubric: broken Qwen3 XML', scorer: 'rubric', expect: RUBRIC, reply: `<tool_call><function=execute_code><parameter=code>${WRITE}</function></tool_call>`, score: 0, failure: 'invalid_xml' },
  { name: 'rubric: an unclosed call that did not run out of tokens', scorer: 'rubric', expect: RUBRIC, reply: `<tool_call>{"name": "execute_code", "arguments": {"code": "${WRITE}"}}`, finish: 'eos', score: 0, failure: 'invalid_json' },
  { name: 'rubric: max tokens inside the call', scorer: 'rubric', expect: RUBRIC, reply: '<tool_call>{"name": "execute_code", "arguments": {"code": "write_file(path=\'hel', finish: 'length', score: 0, failure: 'truncated' },
  { name: 'rubric: max tokens inside the opening tag', scorer: 'rubric', expect: RUBRIC, reply: 'Writing it. <tool_c', finish: 'length', score: 0, failure: 'truncated' },
  { name: 'rubric: format hermes rejects XML', scorer: 'rubric', expect: { ...RUBRIC, format: 'hermes' }, reply: `<tool_call><function=execute_code><parameter=code>${WRITE}</parameter></function></tool_call>`, score: 0, failure: 'invalid_json' },
  { name: 'rubric: empty reply', scorer: 'rubric', expect: RUBRIC, reply: '', finish: 'eos', score: 0, failure: 'empty' },
  { name: 'rubric: whitespace only', scorer: 'rubric', expect: RUBRIC, reply: '  \n\t ', score: 0, failure: 'empty' },
  { name: 'rubric: only an empty think block', scorer: 'rubric', expect: RUBRIC, reply: '<think></think>\n', score: 0, failure: 'empty' },
  // ---- hermes
  { name: 'hermes: valid call', scorer: 'hermes', expect: WEATHER, reply: hermes('get_weather', { city: 'Paris', days: 3 }), score: 1, failure: null },
  { name: 'hermes: two calls with whitespace', scorer: 'hermes', expect: { tool: 'get_weather' }, reply: ` <tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>\n<tool_call> {"name": "get_weather", "arguments": {"city": "Oslo"}} </tool_call>`, score: 1, failure: null },
  { name: 'hermes: empty think then the call', scorer: 'hermes', expect: WEATHER, reply: `<think></think>${hermes('get_weather', { city: 'Paris' })}`, score: 1, failure: null },
  { name: 'hermes: keywords in the arguments', scorer: 'hermes', expect: { tool: 'get_weather', keywords: ['Paris'] }, reply: hermes('get_weather', { city: 'Paris' }), score: 1, failure: null },
  { name: 'hermes: bad JSON', scorer: 'hermes', expect: WEATHER, reply: '<tool_call>{"name": "get_weather", "arguments": {"city": Paris}}</tool_call>', score: 0, failure: 'invalid_json' },
  { name: 'hermes: no name', scorer: 'hermes', expect: WEATHER, reply: '<tool_call>{"arguments": {"city": "Paris"}}</tool_call>', score: 0, failure: 'invalid_json', detail: 'no "name"' },
  { name: 'hermes: wrong tool', scorer: 'hermes', expect: WEATHER, reply: hermes('get_time', { city: 'Paris' }), score: 0, failure: 'wrong_tool' },
  { name: 'hermes: schema violation (type)', scorer: 'hermes', expect: WEATHER, reply: hermes('get_weather', { city: 'Paris', days: 'three' }), score: 0, failure: 'schema', detail: '/days must be integer' },
  { name: 'hermes: schema violation (required)', scorer: 'hermes', expect: WEATHER, reply: hermes('get_weather', { days: 2 }), score: 0, failure: 'schema', detail: "must have required property 'city'" },
  { name: 'hermes: schema violation (extra property)', scorer: 'hermes', expect: WEATHER, reply: hermes('get_weather', { city: 'Rome', unit: 'C' }), score: 0, failure: 'schema', detail: '"unit"' },
  { name: 'hermes: XML where JSON is expected', scorer: 'hermes', expect: WEATHER, reply: XML_OK, score: 0, failure: 'invalid_json', detail: 'got Qwen3 XML' },
  { name: 'hermes: prose', scorer: 'hermes', expect: WEATHER, reply: 'It is sunny in Paris.', score: 0, failure: 'prose' },
  { name: 'hermes: missing keyword', scorer: 'hermes', expect: { tool: 'get_weather', keywords: ['Paris'] }, reply: hermes('get_weather', { city: 'Lyon' }), score: 0, failure: 'missing_keyword' },
  { name: 'hermes: truncated', scorer: 'hermes', expect: WEATHER, reply: '<tool_call>{"name": "get_weather", "argu', finish: 'length', score: 0, failure: 'truncated' },
  { name: 'hermes: thinking', scorer: 'hermes', expect: WEATHER, reply: `<think>Paris, so</think>${hermes('get_weather', { city: 'Paris' })}`, score: 0, failure: 'think' },
  // ---- qwen3_xml
  { name: 'qwen3_xml: valid call with newlines (days typed by the schema)', scorer: 'qwen3_xml', expect: WEATHER, reply: XML_OK, score: 1, failure: null },
  { name: 'qwen3_xml: compact, no whitespace', scorer: 'qwen3_xml', expect: WEATHER, reply: '<tool_call><function=get_weather><parameter=city>Paris</parameter></function></tool_call>', score: 1, failure: null },
  { name: 'qwen3_xml: surrounding whitespace and an empty think', scorer: 'qwen3_xml', expect: WEATHER, reply: `<think>\n</think>\n\n  ${XML_OK}  \n`, score: 1, failure: null },
  { name: 'qwen3_xml: missing </function>', scorer: 'qwen3_xml', expect: WEATHER, reply: '<tool_call><function=get_weather><parameter=city>Paris</parameter></tool_call>', score: 0, failure: 'invalid_xml', detail: 'not closed by </function>' },
  { name: 'qwen3_xml: missing </parameter>', scorer: 'qwen3_xml', expect: WEATHER, reply: '<tool_call><function=get_weather><parameter=city>Paris</function></tool_call>', score: 0, failure: 'invalid_xml', detail: 'not closed by </parameter>' },
  { name: 'qwen3_xml: stray text between parameters', scorer: 'qwen3_xml', expect: WEATHER, reply: '<tool_call><function=get_weather>city=Paris</function></tool_call>', score: 0, failure: 'invalid_xml', detail: 'unexpected text' },
  { name: 'qwen3_xml: JSON where XML is expected', scorer: 'qwen3_xml', expect: WEATHER, reply: hermes('get_weather', { city: 'Paris' }), score: 0, failure: 'invalid_xml', detail: 'got Hermes JSON' },
  { name: 'qwen3_xml: wrong function', scorer: 'qwen3_xml', expect: WEATHER, reply: '<tool_call><function=get_time><parameter=city>Paris</parameter></function></tool_call>', score: 0, failure: 'wrong_tool' },
  { name: 'qwen3_xml: schema violation (days not a number)', scorer: 'qwen3_xml', expect: WEATHER, reply: '<tool_call><function=get_weather><parameter=city>Paris</parameter><parameter=days>soon</parameter></function></tool_call>', score: 0, failure: 'schema' },
  { name: 'qwen3_xml: truncated', scorer: 'qwen3_xml', expect: WEATHER, reply: '<tool_call>\n<function=get_weather>\n<parameter=city>\nPar', finish: 'length', score: 0, failure: 'truncated' },
  { name: 'qwen3_xml: unclosed, not out of tokens', scorer: 'qwen3_xml', expect: WEATHER, reply: '<tool_call><function=get_weather><parameter=city>Paris</parameter></function>', finish: 'eos', score: 0, failure: 'invalid_xml' },
  { name: 'qwen3_xml: empty', scorer: 'qwen3_xml', expect: WEATHER, reply: '', score: 0, failure: 'empty' },
  // ---- json_schema
  { name: 'json_schema: valid', scorer: 'json_schema', expect: JSON_SCHEMA, reply: ' {"answer": 42}\n', score: 1, failure: null },
  { name: 'json_schema: valid after an empty think', scorer: 'json_schema', expect: JSON_SCHEMA, reply: '<think></think>{"answer": 1}', score: 1, failure: null },
  { name: 'json_schema: not JSON', scorer: 'json_schema', expect: JSON_SCHEMA, reply: 'The answer is 42.', score: 0, failure: 'invalid_json' },
  { name: 'json_schema: schema violation', scorer: 'json_schema', expect: JSON_SCHEMA, reply: '{"answer": "42"}', score: 0, failure: 'schema', detail: '/answer must be integer' },
  { name: 'json_schema: truncated', scorer: 'json_schema', expect: JSON_SCHEMA, reply: '{"answer": ', finish: 'length', score: 0, failure: 'truncated' },
  { name: 'json_schema: empty', scorer: 'json_schema', expect: JSON_SCHEMA, reply: '', score: 0, failure: 'empty' },
  { name: 'json_schema: thinking', scorer: 'json_schema', expect: JSON_SCHEMA, reply: '<think>hmm</think>{"answer": 1}', score: 0, failure: 'think' },
  // ---- regex
  { name: 'regex: matches', scorer: 'regex', expect: { regex: '\\b42\\b' }, reply: 'The answer is 42.', score: 1, failure: null },
  { name: 'regex: flags', scorer: 'regex', expect: { regex: '^hello', flags: 'i' }, reply: 'HELLO there', score: 1, failure: null },
  { name: 'regex: mismatch', scorer: 'regex', expect: { regex: '^\\d+$' }, reply: 'forty-two', score: 0, failure: 'mismatch' },
  { name: 'regex: mismatch when out of tokens is truncated', scorer: 'regex', expect: { regex: 'END$' }, reply: 'a long story that never', finish: 'length', score: 0, failure: 'truncated' },
  { name: 'regex: unterminated think', scorer: 'regex', expect: { regex: '.' }, reply: '<think>let me see', score: 0, failure: 'think' },
  // ---- exact
  { name: 'exact: equal after trimming', scorer: 'exact', expect: { exact: 'Paris' }, reply: '\n Paris \n', score: 1, failure: null },
  { name: 'exact: different', scorer: 'exact', expect: { exact: 'Paris' }, reply: 'paris', score: 0, failure: 'mismatch', detail: 'expected "Paris"' },
  { name: 'exact: empty', scorer: 'exact', expect: { exact: 'Paris' }, reply: '', score: 0, failure: 'empty' },
];

describe('built-in scorers: a table of replies', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const c = mkCase(row.scorer, row.expect, row.tools ? { tools: row.tools } : {});
    const result = await scoreCase(c, row.reply, row.finish, row.stop !== undefined ? { stopString: row.stop } : {});
    expect({ score: result.score, failure: result.failure }).toEqual({ score: row.score, failure: row.failure });
    if (row.detail) expect(result.detail).toContain(row.detail);
    expect(typeof result.detail).toBe('string');
    expect(result.parsed === null || Array.isArray(result.parsed)).toBe(true);
  });

  it('covers every score and every built-in failure class', () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
    for (const s of [1, 0.5, 0]) expect(rows.some((r) => r.score === s)).toBe(true);
    const seen = new Set(rows.map((r) => r.failure));
    for (const f of FAILURE_CLASSES) if (f !== 'scorer_error') expect(seen, `failure ${f}`).toContain(f);
    for (const scorer of ['rubric', 'hermes', 'qwen3_xml', 'json_schema', 'regex', 'exact']) {
      const mine = rows.filter((r) => r.scorer === scorer);
      expect(mine.some((r) => r.score === 1), `${scorer} has a pass`).toBe(true);
      expect(mine.some((r) => r.score === 0), `${scorer} has a fail`).toBe(true);
    }
  });

  it('returns the parsed calls', async () => {
    const r = await scoreCase(mkCase('rubric', RUBRIC), wrapped(WRITE), 'eos');
    expect(r.parsed).toEqual([{ name: 'execute_code', arguments: { code: WRITE }, format: 'hermes', raw: expect.any(String) }]);
    const x = await scoreCase(mkCase('qwen3_xml', WEATHER), XML_OK);
    expect(x.parsed?.[0].arguments).toEqual({ city: 'Paris', days: 3 });
    // Without a schema, XML values stay strings.
    const y = await scoreCase(mkCase('qwen3_xml', { tool: 'get_weather' }), XML_OK);
    expect(y.parsed?.[0].arguments).toEqual({ city: 'Paris', days: '3' });
    // The case's tool schemas type XML values too.
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: WEATHER_SCHEMA } }];
    const z = await scoreCase(mkCase('qwen3_xml', { tool: 'get_weather' }, { tools }), XML_OK);
    expect(z.parsed?.[0].arguments).toEqual({ city: 'Paris', days: 3 });
  });

  it('the execute_code alias is the rubric', async () => {
    expect(getScorer('execute_code')).toBe(getScorer('rubric'));
    const r = await scoreCase(mkCase('execute_code', RUBRIC), wrapped(WRITE));
    expect(r.score).toBe(1);
  });
});

describe('parsing helpers', () => {
  it('splits thinking', () => {
    expect(splitThinking('plain')).toEqual({ think: 'none', thinking: '', body: 'plain' });
    expect(splitThinking('<think> </think> x')).toEqual({ think: 'empty', thinking: '', body: 'x' });
    expect(splitThinking('<think>a</think>b')).toEqual({ think: 'content', thinking: 'a', body: 'b' });
    expect(splitThinking('x<think>a')).toEqual({ think: 'unterminated', thinking: 'a', body: 'x' });
    expect(splitThinking('reasoning</think>answer')).toEqual({ think: 'content', thinking: 'reasoning', body: 'answer' });
  });

  it('finds tool names in code as whole words', () => {
    expect(codeCallsTool("x = write_file (path='a')", 'write_file')).toBe(true);
    expect(codeCallsTool("tools.write_file(path='a')", 'write_file')).toBe(true);
    expect(codeCallsTool("rewrite_file(path='a')", 'write_file')).toBe(false);
    expect(codeCallsTool('write_file', 'write_file')).toBe(false);
  });

  it('reports prose outside the calls', () => {
    const p = parseReply(`Sure! ${hermes('a', {})} done`);
    expect(p.calls.map((c) => c.name)).toEqual(['a']);
    expect(p.outside).toBe('Sure! done');
  });
});

describe('user scorers', () => {
  afterAll(() => {
    for (const n of ['contains_word', 'broken', 'length', 'bad_range', 'inline', 'inline_async']) unregisterScorer(n);
  });

  it('loads a JS scorer (default export) and scores with it', async () => {
    await loadScorerFile(join(FIXTURES, 'contains-word.mjs'), 'contains_word');
    expect(scorerNames()).toContain('contains_word');
    const c = mkCase('contains_word', { data: { word: 'hello' } });
    expect(await scoreCase(c, 'well hello there')).toEqual({ score: 1, failure: null, parsed: null, detail: 'found hello' });
    expect(await scoreCase(c, 'bye')).toEqual({ score: 0, failure: 'mismatch', parsed: null, detail: 'no hello' });
  });

  it('a scorer that throws gives 0 with scorer_error and the message, and scoring goes on', async () => {
    await loadScorerFile(join(FIXTURES, 'throws.mjs'), 'broken');
    const r = await scoreCase(mkCase('broken', { data: {} }), 'anything');
    expect(r).toEqual({ score: 0, failure: 'scorer_error', parsed: null, detail: 'scorer "broken" failed: boom: this scorer is broken' });
    // The next case scores as usual.
    expect((await scoreCase(mkCase('exact', { exact: 'ok' }), 'ok')).score).toBe(1);
  });

  it('loads a TypeScript scorer (named export score) through jiti', async () => {
    const fn = await loadScorerFile(join(FIXTURES, 'length.ts'));
    expect(typeof fn).toBe('function');
    const c = mkCase('length', { data: { max: 10 } });
    expect(await scoreCase(c, '12345')).toEqual({ score: 0.5, failure: 'mismatch', parsed: null, detail: '' });
    expect(await scoreCase(c, '1234567890abc')).toEqual({ score: 1, failure: null, parsed: null, detail: '' });
  });

  it('a score outside [0, 1] is a scorer_error', async () => {
    await loadScorerFile(join(FIXTURES, 'bad-range.mjs'), 'bad_range');
    const r = await scoreCase(mkCase('bad_range', { data: 1 }), 'x');
    expect(r.failure).toBe('scorer_error');
    expect(r.score).toBe(0);
    expect(r.detail).toBe('scorer "bad_range" failed: returned the score 7, not a number in [0, 1]');
  });

  it('an unregistered scorer is a scorer_error, not a crash', async () => {
    const r = await scoreCase(mkCase('nope', { data: 1 }), 'x');
    expect(r).toEqual({ score: 0, failure: 'scorer_error', parsed: null, detail: 'no scorer named "nope" is registered' });
  });

  it('registerScorer: inline and async scorers; unknown failure classes are rejected', async () => {
    registerScorer('inline', ({ reply }) => ({ score: reply === 'a' ? 1 : 0, failure: reply === 'a' ? null : ('weird' as FailureClass), parsed: null, detail: '' }));
    registerScorer('inline_async', async ({ reply }) => (reply.length > 0 ? 1 : 0));
    expect((await scoreCase(mkCase('inline', { data: 0 }), 'a')).score).toBe(1);
    const bad = await scoreCase(mkCase('inline', { data: 0 }), 'b');
    expect(bad.failure).toBe('scorer_error');
    expect(bad.detail).toContain('"weird"');
    expect(await scoreCase(mkCase('inline_async', { data: 0 }), 'x')).toEqual({ score: 1, failure: null, parsed: null, detail: '' });
    expect(() => registerScorer('inline', () => 1)).toThrow(/already registered/);
    expect(() => registerScorer('rubric', () => 1)).toThrow(/built-in scorer and cannot be replaced/);
    expect(() => registerScorer('bad name', () => 1)).toThrow(MlxLabError);
  });

  it('load errors name the file and say what to do', async () => {
    const missing = join(FIXTURES, 'missing.mjs');
    await expect(loadScorerFile(missing)).rejects.toThrow(`${missing}: scorer file not found`);
    const none = join(FIXTURES, 'no-scorer.mjs');
    await expect(loadScorerFile(none)).rejects.toThrow(`${none}: exports no scorer: export a function (input) => {score, failure, parsed, detail} as default or as "score"`);
    const yaml = join(FIXTURES, 'duplicate-id.yaml');
    await expect(loadScorerFile(yaml)).rejects.toMatchObject({ code: 'E_SCORER', message: `${yaml}: a scorer file must be JavaScript (.js, .mjs, .cjs) or TypeScript (.ts, .mts, .cts), not ".yaml"` });
  });
});
