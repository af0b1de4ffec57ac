// The grammar each eval case implies (src/eval/constraint.ts), without the engine: which kind
// each scorer gets, what the grammar text holds (the wrapper's name, the tools, the regex as a
// whole-reply pattern), which cases stay free, and the errors that name the suite file and case.
// The engine-side checks (each grammar compiles, a compliant reply is complete under it, a
// hostile grammar is refused before any token) are in test/native/eval-constrained.test.ts.
import { describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { MlxLabError } from '../../src/core/errors.js';
import { parseSuite } from '../../src/eval/suite.js';
import { caseConstraint, caseWhere, suiteConstraints, wholeReplyRegex, wrapperGrammar } from '../../src/eval/constraint.js';
import { JSON_LAYOUT } from '../../src/model/grammar.js';
import { hermesToolGrammar, qwen3XmlToolGrammar } from '../../src/model/tool-grammar.js';

const ROOT = resolve(import.meta.dirname, '../..');
const EXAMPLE = join(ROOT, 'examples/tool-format/suite.yaml');

const TOOLS = `tools: [{type: function, function: {name: get_weather, parameters: {type: object, properties: {city: {type: string}}, required: [city]}}}]\n`;

/** A suite from YAML case lines (parsed as a file named bad.yaml would be). */
const suiteOf = (cases: string, head = 'name: t\n') => parseSuite(`${head}cases:\n${cases}`, '/suites/bad.yaml');

/** The lark text of a grammar option (fails when it is another kind). */
const lark = (g: unknown) => {
  expect(g).toHaveProperty('lark');
  return (g as { lark: string }).lark;
};

describe('the grammar a case implies', () => {
  it('the example suite: every case is held to one execute_code call with a string code, in the suite\'s form', () => {
    const suite = parseSuite(readFileSync(EXAMPLE, 'utf8'), EXAMPLE);
    const all = suiteConstraints(suite);
    expect(all).toHaveLength(27);
    expect(new Set(all.map((k) => k.kind))).toEqual(new Set(['wrapper']));
    const text = lark(all[0].grammar);
    // The suite's own form: no newline inside the tags, json.dumps layout, the name fixed, code a non-empty string.
    expect(text.startsWith('start: "<tool_call>" %json {')).toBe(true);
    expect(text).toContain('"name":{"const":"execute_code"}');
    expect(text).toContain('"code":{"type":"string","minLength":1}');
    expect(text).toContain('"required":["code"],"additionalProperties":false');
    expect(text).toContain(JSON.stringify(JSON_LAYOUT));
  });

  it('rubric: the wrapper named by the expectation, and Qwen3 XML when the expectation asks for it', () => {
    const suite = suiteOf('  - {id: a, prompt: p, expect: {tool: t, wrapper: run_python}}\n  - {id: b, prompt: p, expect: {tool: t, wrapper: run_python, format: qwen3_xml}}\n');
    const [hermes, xml] = suiteConstraints(suite);
    expect(lark(hermes.grammar)).toContain('"name":{"const":"run_python"}');
    expect(xml.kind).toBe('wrapper');
    expect(lark(xml.grammar)).toContain('"<tool_call>\\n<function=" "run_python" ">\\n<parameter=code>\\n" code "\\n</function>\\n</tool_call>"');
    expect(wrapperGrammar('run_python', 'qwen3_xml')).toEqual(xml.grammar);
  });

  it('hermes / qwen3_xml: calls of the case\'s tools (not only the expected one), or of any name without tools', () => {
    const suite = suiteOf(
      ['  - {id: h, prompt: p, expect: {tool: get_weather}}', '  - {id: x, prompt: p, scorer: qwen3_xml, expect: {tool: get_weather}}', '  - {id: free-h, prompt: p, tools: [], expect: {format: hermes}}', '  - {id: free-x, prompt: p, tools: [], expect: {format: qwen3_xml}}', ''].join('\n'),
      `name: t\n${TOOLS}`,
    );
    const [h, x, freeH, freeX] = suiteConstraints(suite);
    const where = caseWhere(suite, suite.cases[0]);
    expect(h).toEqual({ kind: 'hermes', grammar: { lark: hermesToolGrammar(suite.tools, 'required', where, JSON_LAYOUT) } });
    expect(x).toEqual({ kind: 'qwen3_xml', grammar: { lark: qwen3XmlToolGrammar(suite.tools, 'required', caseWhere(suite, suite.cases[1]), JSON_LAYOUT) } });
    // Calls only ("required"): no text before or between them.
    expect(lark(h.grammar).startsWith('start: call ("\\n" call)*')).toBe(true);
    expect(freeH.kind).toBe('hermes');
    expect(lark(freeH.grammar)).toContain('"name":{"type":"string","pattern":"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"}');
    expect(lark(freeH.grammar)).toContain('"arguments":{"type":"object"}');
    expect(freeX.kind).toBe('qwen3_xml');
    expect(lark(freeX.grammar)).toContain('NAME: /[A-Za-z_][A-Za-z0-9_.-]{0,63}/');
  });

  it('json_schema and regex: the expectation\'s schema, and the regex as a whole-reply pattern', () => {
    const suite = suiteOf('  - {id: j, prompt: p, expect: {json_schema: {type: object, required: [a]}}}\n  - {id: r, prompt: p, expect: {regex: "^(yes|no)$", flags: "gi"}}\n');
    const [j, r] = suiteConstraints(suite);
    expect(j).toEqual({ kind: 'json_schema', grammar: { jsonSchema: { type: 'object', required: ['a'] } } });
    expect(r).toEqual({ kind: 'regex', grammar: { regex: '(?i:(yes|no))' } });
  });

  it('wholeReplyRegex: drops a leading ^ and an unescaped trailing $, keeps i/m/s as inline flags', () => {
    expect(wholeReplyRegex('abc')).toBe('(?:abc)');
    expect(wholeReplyRegex('^a+$')).toBe('(?:a+)');
    expect(wholeReplyRegex('cost \\$')).toBe('(?:cost \\$)'); // an escaped $ is a dollar sign
    expect(wholeReplyRegex('a\\\\$')).toBe('(?:a\\\\)'); // an escaped backslash, then the anchor
    expect(wholeReplyRegex('x', 'gimsuy')).toBe('(?ims:x)');
    expect(wholeReplyRegex('')).toBe('(?:)');
    // The pattern is searched by the scorer: a whole-reply match is one of its matches.
    for (const [pattern, reply] of [['^(yes|no)$', 'yes'], ['[0-9]{3}', '123'], ['a\\\\$', 'a\\']] as const) {
      expect(new RegExp(`^${wholeReplyRegex(pattern)}$`).test(reply), pattern).toBe(true);
      expect(new RegExp(pattern).test(reply), pattern).toBe(true);
    }
  });

  it('exact and user scorers have no format grammar: the case runs free (kind null)', () => {
    const suite = suiteOf('  - {id: e, prompt: p, expect: {exact: "4"}}\n  - {id: u, prompt: p, scorer: mine, expect: {data: 1}}\n', 'name: t\nscorers: {mine: ./mine.mjs}\n');
    expect(suiteConstraints(suite)).toEqual([
      { kind: null, grammar: null },
      { kind: null, grammar: null },
    ]);
  });

  it('a json_schema of false is E_GRAMMAR naming the suite file, the case and its line', () => {
    const suite = suiteOf('  - {id: ok, prompt: p, expect: {exact: "x"}}\n  - {id: never, prompt: p, expect: {json_schema: false}}\n');
    let err: unknown;
    try {
      suiteConstraints(suite);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MlxLabError);
    expect((err as MlxLabError).code).toBe('E_GRAMMAR');
    expect((err as Error).message).toBe('/suites/bad.yaml: case "never" (line 4): expect.json_schema is false, which no reply fits: there is no grammar for it');
  });

  it('a case built by hand with malformed tools is E_GRAMMAR naming the case (the suite parser refuses them in a file)', () => {
    const suite = suiteOf('  - {id: h, prompt: p, expect: {format: hermes}}\n');
    const c = { ...suite.cases[0], tools: [{ type: 'function', function: { description: 'no name' } }] as never };
    expect(() => caseConstraint(suite, c)).toThrow(/\/suites\/bad\.yaml: case "h" \(line 3\): tools\[0\] is not a tool schema/);
  });
});
