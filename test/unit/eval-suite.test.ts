import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { MlxLabError } from '../../src/core/errors.js';
import { loadSuite, parseSuite, suiteMessages, inferScorer, type EvalSuite } from '../../src/eval/suite.js';
import { scoreCase, unregisterScorer } from '../../src/eval/scorers.js';
import { meanInterval, summarizeScores, wilsonInterval } from '../../src/eval/stats.js';
import { generateToolFormatData, writeToolFormatData } from '../../src/demo/generate-data.js';
import { isNearDuplicate, suitePrompts } from '../../src/eval/prompts.js';
import { TOOL_FORMAT_SYSTEM, TOOL_NAMES, wrappedCallReply } from '../../src/demo/tool-format.js';
import { parseJsonl } from '../../src/data/jsonl.js';
import { loadData } from '../../src/data/index.js';
import { Tokenizer } from '../../src/model/tokenizer.js';

const ROOT = resolve(import.meta.dirname, '../..');
const EXAMPLE = join(ROOT, 'examples/tool-format/suite.yaml');
const FIXTURES = join(ROOT, 'test/fixtures/eval');

/** The E_SUITE error message thrown by fn (fails the test when it does not throw one). */
function suiteError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MlxLabError);
    expect((err as MlxLabError).code).toBe('E_SUITE');
    return (err as Error).message;
  }
  throw new Error('expected an E_SUITE error');
}

function writeFileInDir(path: string, data: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

const yaml = (cases: string, head = 'name: t\n') => `${head}cases:\n${cases}`;

describe('the example suite (examples/tool-format/suite.yaml)', () => {
  let suite: EvalSuite;
  beforeAll(async () => {
    suite = await loadSuite(EXAMPLE);
  });

  it('loads 27 cases in the reference categories, all under the rubric', () => {
    expect(suite.name).toBe('tool-format');
    expect(suite.cases).toHaveLength(27);
    const counts: Record<string, number> = {};
    for (const c of suite.cases) counts[c.category] = (counts[c.category] ?? 0) + 1;
    expect(counts).toEqual({ text_tools: 3, validation: 3, lsp: 5, git: 3, cst: 3, domain: 9, multi_tool: 1 });
    expect(new Set(suite.cases.map((c) => c.scorer))).toEqual(new Set(['rubric']));
    expect(suite.maxTokens).toBe(128);
    expect(suite.stop).toEqual(['<think>']);
  });

  it('uses the generator system prompt, and asks only for tools it names', () => {
    expect(suite.system).toBe(TOOL_FORMAT_SYSTEM);
    for (const c of suite.cases) {
      for (const t of [c.expect.tool].flat()) {
        expect(TOOL_NAMES).toContain(t);
        expect(suite.system).toContain(`${t}(`);
      }
    }
  });

  it('suiteMessages gives system + user, the tools and the generation settings', () => {
    const c = suite.cases.find((x) => x.id === 'text-01')!;
    expect(suiteMessages(c, suite)).toEqual({
      messages: [
        { role: 'system', content: TOOL_FORMAT_SYSTEM },
        { role: 'user', content: 'Create a file hello.py that prints hello world.' },
      ],
      maxTokens: 128,
      stop: ['<think>'],
    });
  });

  it('every case can be answered for 1.0, and a direct call gets 0.5', async () => {
    for (const c of suite.cases) {
      const tools = [c.expect.tool!].flat();
      const arg = (c.expect.keywords ?? []).join(' ');
      const code = tools.map((t) => `${t}(x='${arg}')`).join('; ');
      const full = await scoreCase(c, wrappedCallReply(code), 'eos');
      expect(full, c.id).toMatchObject({ score: 1, failure: null });
      const direct = await scoreCase(c, tools.map((t) => `<tool_call>{"name": "${t}", "arguments": {"x": 1}}</tool_call>`).join('\n'), 'eos');
      expect(direct, c.id).toMatchObject({ score: 0.5, failure: 'no_wrapper' });
      const prose = await scoreCase(c, 'Let me first check what is in that file...', 'eos');
      expect(prose, c.id).toMatchObject({ score: 0, failure: 'prose' });
    }
  });
});

describe('suite format', () => {
  it('parses YAML with defaults, overrides and inferred scorers', () => {
    const s = parseSuite(
      [
        'name: mixed',
        'system: Be terse.',
        'max_tokens: 32',
        'tools: [{name: get_weather, parameters: {type: object}}]',
        'cases:',
        '  - id: 1',
        '    prompt: Weather in Oslo?',
        '    expect: {tool: get_weather, arguments_schema: {type: object, required: [city]}}',
        '  - id: b',
        '    category: json',
        '    system: Answer in JSON.',
        '    messages: [{role: user, content: "Hi"}, {role: assistant, content: "Hello"}, {role: user, content: "JSON please"}]',
        '    max_tokens: 64',
        '    stop: ["\\n\\n"]',
        '    weight: 2',
        '    expect: {json_schema: {type: object}}',
        '  - id: c',
        '    prompt: Say ok.',
        '    expect: {regex: "^ok$", flags: i}',
        '  - id: d',
        '    prompt: Call it in XML.',
        '    expect: {tool: get_weather, format: qwen3_xml}',
        '  - id: e',
        '    prompt: Wrap it.',
        '    expect: {tool: get_weather, wrapper: execute_code}',
      ].join('\n'),
      'mixed.yaml',
    );
    expect(s.cases.map((c) => [c.id, c.category, c.scorer, c.weight])).toEqual([
      ['1', 'default', 'hermes', 1],
      ['b', 'json', 'json_schema', 2],
      ['c', 'default', 'regex', 1],
      ['d', 'default', 'qwen3_xml', 1],
      ['e', 'default', 'rubric', 1],
    ]);
    // Short tool schemas become OpenAI style.
    expect(s.tools).toEqual([{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }]);
    const b = suiteMessages(s.cases[1], s);
    expect(b.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(b.messages[0].content).toBe('Answer in JSON.');
    expect([b.maxTokens, b.stop]).toEqual([64, ['\n\n']]);
    expect(suiteMessages(s.cases[0], s)).toMatchObject({ maxTokens: 32, tools: s.tools, messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Weather in Oslo?' }] });
    expect(s.cases[0].line).toBe(6);
    expect(inferScorer({ keywords: ['a'] })).toBeUndefined();
  });

  it('parses JSONL with a header line, blank lines allowed', async () => {
    const s = await loadSuite(join(FIXTURES, 'ok.jsonl'));
    expect(s.name).toBe('ok-lines');
    expect(s.format).toBe('jsonl');
    expect(s.cases.map((c) => [c.id, c.line, c.scorer, c.system])).toEqual([
      ['a', 2, 'regex', 'Be brief.'],
      ['b', 4, 'json_schema', 'Be brief.'],
    ]);
  });

  it('rejects a duplicate id', async () => {
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    expect: {exact: x}\n  - id: a\n    prompt: ho\n    expect: {exact: y}\n'), 'bad.yaml'))).toBe(
      'bad.yaml: case "a" (#2, line 6): id: duplicate id "a" (first used by the case at #1, line 3)',
    );
    const file = join(FIXTURES, 'duplicate-id.yaml');
    await expect(loadSuite(file)).rejects.toThrow(`${file}: case "same" (#2, line 6): id: duplicate id "same" (first used by the case at #1, line 3)`);
  });

  it('rejects a case with no expectation', () => {
    const need = 'every case needs an expectation (e.g. {tool, keywords}, {regex}, {exact} or {json_schema})';
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n'), 'bad.yaml'))).toBe(`bad.yaml: case "a" (#1, line 3): expect: missing: ${need}`);
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    expect: {}\n'), 'bad.yaml'))).toBe(`bad.yaml: case "a" (#1, line 3): expect: empty: ${need}`);
  });

  it('rejects an unknown scorer, with a suggestion', () => {
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    scorer: rubrik\n    expect: {tool: x}\n'), 'bad.yaml'))).toBe(
      'bad.yaml: case "a" (#1, line 3): scorer: unknown scorer "rubrik" (did you mean "rubric"?) (known: exact, execute_code, hermes, json_schema, qwen3_xml, regex, rubric)',
    );
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    expect: {tool: x}\n', 'scorer: hermez\n'), 'bad.yaml'))).toBe(
      'bad.yaml:1: scorer: unknown scorer "hermez" (did you mean "hermes"?) (known: exact, execute_code, hermes, json_schema, qwen3_xml, regex, rubric)',
    );
  });

  it('rejects unknown fields with suggestions, at every level', () => {
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    catgory: x\n    prompt: hi\n    expect: {tool: x, keywrods: [a]}\n', 'name: t\nsytem: x\n'), 'bad.yaml'))).toBe(
      [
        'bad.yaml:2: sytem: unknown field (did you mean "system"?)',
        'bad.yaml: case "a" (#1, line 4): catgory: unknown field (did you mean "category"?)',
        'bad.yaml: case "a" (#1, line 4): expect.keywrods: unknown field (did you mean "keywords"?)',
      ].join('\n'),
    );
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    zzz: 1\n    expect: {exact: x}\n'), 'bad.yaml'))).toBe('bad.yaml: case "a" (#1, line 3): zzz: unknown field');
  });

  it('rejects wrong types, naming the field', () => {
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    weight: heavy\n    expect: {tool: x, keywords: a.py}\n'), 'bad.yaml'))).toBe(
      [
        'bad.yaml: case "a" (#1, line 3): weight: must be a number > 0 (got the string "heavy")',
        'bad.yaml: case "a" (#1, line 3): expect.keywords: must be a list of non-empty strings (got the string "a.py")',
      ].join('\n'),
    );
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    expect: {regex: "("}\n'), 'bad.yaml'))).toBe(
      'bad.yaml: case "a" (#1, line 3): expect.regex: is not a valid regular expression: Invalid regular expression: /(/: Unterminated group',
    );
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    expect: {json_schema: {type: 12}}\n'), 'bad.yaml'))).toMatch(
      /^bad\.yaml: case "a" \(#1, line 3\): expect\.json_schema: is not a valid JSON schema: /,
    );
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    messages: [{role: user, content: x}]\n    expect: {exact: x}\n'), 'bad.yaml'))).toBe(
      'bad.yaml: case "a" (#1, line 3): prompt: give either "prompt" or "messages", not both',
    );
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    messages: [{role: user, content: x}, {role: assistant, content: y}]\n    expect: {exact: x}\n'), 'bad.yaml'))).toBe(
      'bad.yaml: case "a" (#1, line 3): messages[1].role: the last message must be from the user or a tool, so the model answers it (got "assistant")',
    );
    expect(suiteError(() => parseSuite(yaml('  - prompt: hi\n    expect: {exact: x}\n'), 'bad.yaml'))).toBe('bad.yaml: case #1 (line 3): id: missing (every case needs a unique id)');
    expect(suiteError(() => parseSuite('name: t\nmax_tokens: -3\ncases: []\n', 'bad.yaml'))).toBe('bad.yaml:2: max_tokens: must be a positive integer (got number -3)\nbad.yaml: the suite has no cases');
  });

  it('says when an expectation field belongs to another scorer', () => {
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    expect: {regex: x}\n', 'scorer: rubric\n'), 'bad.yaml'))).toBe(
      'bad.yaml: case "a" (#1, line 3): expect.regex: not used by the "rubric" scorer (did you mean scorer: regex?)',
    );
    expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    scorer: rubric\n    expect: {keywords: [x]}\n'), 'bad.yaml'))).toBe(
      'bad.yaml: case "a" (#1, line 3): expect.tool: missing: the "rubric" scorer needs it',
    );
  });

  it('JSONL errors name the line', async () => {
    const file = join(FIXTURES, 'malformed.jsonl');
    await expect(loadSuite(file)).rejects.toThrow(new RegExp(`^${file.replace(/[.]/g, '\\.')}:3: invalid JSON \\(`));
    expect(
      suiteError(() => parseSuite('{"id": "a", "prompt": "x", "expect": {"exact": "y"}}\n\n{"id": "b", "prompt": "x"}\n{"id": "a", "prompt": "x", "expect": {"exact": "y"}}\n', 'bad.jsonl')),
    ).toBe(
      [
        'bad.jsonl:3: case "b": expect: missing: every case needs an expectation (e.g. {tool, keywords}, {regex}, {exact} or {json_schema})',
        'bad.jsonl:4: case "a": id: duplicate id "a" (first used by the case at line 1)',
      ].join('\n'),
    );
    expect(suiteError(() => parseSuite('{"id": "a", "prompt": "x", "expect": {"exact": "y"}}\n{"suite": {"name": "late"}}\n', 'bad.jsonl'))).toBe(
      'bad.jsonl:2: a {"suite": …} header is only allowed on the first line',
    );
  });

  it('YAML syntax errors and missing files', async () => {
    expect(suiteError(() => parseSuite('name: t\ncases: [\n', 'bad.yaml'))).toMatch(/^bad\.yaml:3:1: invalid YAML: /);
    const missing = join(FIXTURES, 'nope.yaml');
    await expect(loadSuite(missing)).rejects.toThrow(`${missing}: suite file not found`);
  });

  describe('user scorer files named by the suite', () => {
    afterAll(() => {
      unregisterScorer('contains_word');
      unregisterScorer('broken');
    });

    it('loads them; a throwing scorer scores 0 with the error and the other cases still score', async () => {
      const s = await loadSuite(join(FIXTURES, 'with-scorers.yaml'));
      expect(s.scorers).toEqual({ contains_word: join(FIXTURES, 'contains-word.mjs'), broken: join(FIXTURES, 'throws.mjs') });
      const replies: Record<string, string> = { a: 'hello!', b: 'whatever', c: ' ok ' };
      const results = [];
      for (const c of s.cases) results.push(await scoreCase(c, replies[c.id], 'eos'));
      expect(results).toEqual([
        { score: 1, failure: null, parsed: null, detail: 'found hello' },
        { score: 0, failure: 'scorer_error', parsed: null, detail: 'scorer "broken" failed: boom: this scorer is broken' },
        { score: 1, failure: null, parsed: null, detail: 'exact match' },
      ]);
    });

    it('rejects a scorer file named like a built-in, and a scorer name that is not declared', () => {
      expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    expect: {exact: x}\n', 'scorers: {rubric: ./x.mjs}\n'), 'bad.yaml'))).toBe(
        'bad.yaml:1: scorers.rubric: "rubric" is a built-in scorer; give the file another name',
      );
      expect(suiteError(() => parseSuite(yaml('  - id: a\n    prompt: hi\n    scorer: mine\n    expect: {data: 1}\n'), 'bad.yaml'))).toMatch(/scorer: unknown scorer "mine"/);
    });
  });
});

describe('statistics', () => {
  it('Wilson 95% intervals match published values (Newcombe 1998, method 3)', () => {
    const cases: Array<[number, number, number, number]> = [
      [81, 263, 0.2553, 0.3662],
      [15, 148, 0.0624, 0.1605],
      [0, 20, 0, 0.1611],
      [1, 29, 0.0061, 0.1718],
      [29, 29, 0.883, 1],
      [5, 10, 0.2366, 0.7634],
    ];
    for (const [x, n, low, high] of cases) {
      const w = wilsonInterval(x, n);
      expect(w.low, `${x}/${n}`).toBeCloseTo(low, 4);
      expect(w.high, `${x}/${n}`).toBeCloseTo(high, 4);
    }
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
    expect(() => wilsonInterval(3, 2)).toThrow(RangeError);
  });

  it('the reference run: 12 half scores and 15 zeros of 27 (22.2%)', () => {
    const scores = [...Array(12).fill(0.5), ...Array(15).fill(0)];
    const m = meanInterval(scores);
    expect(m.n).toBe(27);
    expect(m.mean).toBeCloseTo(6 / 27, 12);
    // Treated as 6 successes of 27.
    expect(m.low).toBeCloseTo(0.1061, 4);
    expect(m.high).toBeCloseTo(0.4076, 4);
    expect(meanInterval([])).toMatchObject({ n: 0, low: 0, high: 1 });
    expect(Number.isNaN(meanInterval([]).mean)).toBe(true);
  });

  it('weights: the weighted mean with Kish effective n', () => {
    const m = meanInterval([1, 0], [3, 1]);
    expect(m.mean).toBe(0.75);
    const nEff = 16 / 10;
    const w = wilsonInterval(0.75 * nEff, nEff);
    expect([m.low, m.high]).toEqual([w.low, w.high]);
    expect(meanInterval([1, 0], [2, 2])).toEqual(meanInterval([1, 0]));
  });

  it('summarizes categories, failures and the score distribution', () => {
    const s = summarizeScores([
      { id: 'a', category: 'git', score: 1, failure: null },
      { id: 'b', category: 'git', score: 0.5, failure: 'no_wrapper' },
      { id: 'c', category: 'lsp', score: 0, failure: 'prose' },
      { id: 'd', category: 'lsp', score: 0, failure: 'prose' },
      { id: 'e', category: 'cst', score: 0, failure: 'think' },
    ]);
    expect(s.n).toBe(5);
    expect(s.mean).toBeCloseTo(0.3, 12);
    expect(s.categories.map((c) => [c.category, c.n, c.mean])).toEqual([
      ['git', 2, 0.75],
      ['lsp', 2, 0],
      ['cst', 1, 0],
    ]);
    expect(s.failures.prose).toBe(2);
    expect(s.failures.no_wrapper).toBe(1);
    expect(s.failures.think).toBe(1);
    expect(s.failures.truncated).toBe(0);
    expect(s.distribution).toEqual({ full: 1, partial: 1, zero: 3 });
    const w = wilsonInterval(1.5, 5);
    expect([s.low, s.high]).toEqual([w.low, w.high]);
  });
});

describe('training set generator', () => {
  let suite: EvalSuite;
  beforeAll(async () => {
    suite = await loadSuite(EXAMPLE);
  });

  it('is deterministic per seed', () => {
    const a = generateToolFormatData({ n: 200, seed: 7, heldOut: suite });
    const b = generateToolFormatData({ n: 200, seed: 7, heldOut: suite });
    const c = generateToolFormatData({ n: 200, seed: 8, heldOut: suite });
    expect(a).toEqual(b);
    expect(a.map((x) => x.messages[1].content)).not.toEqual(c.map((x) => x.messages[1].content));
    // A longer run starts with the shorter one.
    expect(generateToolFormatData({ n: 50, seed: 7, heldOut: suite })).toEqual(a.slice(0, 50));
  });

  it('holds out the suite prompts: no equal or near-duplicate user message', () => {
    const prompts = suitePrompts(suite);
    expect(prompts).toHaveLength(27);
    const data = generateToolFormatData({ n: 1500, seed: 1, heldOut: suite });
    const users = data.map((x) => x.messages[1].content as string);
    expect(new Set(users).size).toBe(users.length);
    for (const u of users) for (const p of prompts) expect(isNearDuplicate(u, p), `${u} ~ ${p}`).toBe(false);
    // The near-duplicate test catches small edits of a suite prompt.
    expect(isNearDuplicate('Run tests/test_parser.py and tell me if it passes.', 'The loader changed; run tests/test_loader.py and tell me if it passes.')).toBe(false);
    expect(isNearDuplicate('the loader changed: run tests/test_cache.py and tell me if it passes', 'The loader changed; run tests/test_loader.py and tell me if it passes.')).toBe(true);
    expect(isNearDuplicate('Create a file hello.py that prints hello world', 'Create a file hello.py that prints hello world.')).toBe(true);
  });

  it('writes the suite system prompt and covers every tool the suite asks for', () => {
    const data = generateToolFormatData({ n: 600, seed: 3, heldOut: suite });
    for (const x of data) {
      expect(x.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
      expect(x.messages[0].content).toBe(suite.system);
    }
    const called = new Set(data.flatMap((x) => x.tools));
    for (const c of suite.cases) for (const t of [c.expect.tool!].flat()) expect(called).toContain(t);
    expect(data.some((x) => x.tools.length === 2)).toBe(true);
  });

  it('its replies score 1.0 under the rubric for the requested tool and keywords', async () => {
    const data = generateToolFormatData({ n: 400, seed: 11, heldOut: suite });
    for (const x of data) {
      const c = { ...suite.cases[0], expect: { tool: x.tools.length === 1 ? x.tools[0] : x.tools, keywords: x.keywords } };
      for (const k of x.keywords) expect(x.messages[1].content).toContain(k);
      const r = await scoreCase(c, x.messages[2].content as string, 'eos');
      expect(r, x.messages[2].content as string).toMatchObject({ score: 1, failure: null });
    }
  });

  it('refuses a suite whose tools it does not know (the _direct suffix case)', () => {
    const bad = parseSuite(yaml('  - id: a\n    prompt: hi\n    expect: {tool: write_file_direct}\n', 'name: t\nscorer: rubric\n'), 'drift.yaml');
    expect(() => generateToolFormatData({ n: 1, seed: 0, heldOut: bad })).toThrow(/case "a" expects the tool "write_file_direct", which the tool-format generator does not know/);
  });

  it('its files load as chat data for SmolLM2 (ChatML), the reply alone left in the loss', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-gen-'));
    try {
      const tokDir = join(dir, 'tok');
      const smol = join(ROOT, 'test/fixtures/tokenizers/smollm2');
      writeFileInDir(join(tokDir, 'tokenizer.json'), gunzipSync(readFileSync(join(smol, 'tokenizer.json.gz'))));
      copyFileSync(join(smol, 'tokenizer_config.json'), join(tokDir, 'tokenizer_config.json'));
      copyFileSync(join(smol, 'chat_template.jinja'), join(tokDir, 'chat_template.jinja'));
      const tokenizer = Tokenizer.fromFolder(tokDir);
      const data = join(dir, 'data');
      writeToolFormatData({ dir: data, n: 40, valid: 5, seed: 9, heldOut: suite });
      const splits = loadData(data, tokenizer, { maskPrompt: true });
      expect([splits.train?.length, splits.valid?.length]).toEqual([40, 5]);
      const generated = generateToolFormatData({ n: 40, seed: 9, heldOut: suite });
      splits.train!.examples.forEach((e, i) => {
        const completion = tokenizer.decode(Array.from(e.tokens.slice(e.offset)));
        expect(completion).toContain(generated[i].messages[2].content as string);
        // Short enough for a small model: the whole example stays well under 1k tokens.
        expect(e.tokens.length).toBeLessThan(1000);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes train.jsonl and valid.jsonl atomically, with no shared user message', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-gen-'));
    try {
      const out = writeToolFormatData({ dir, n: 120, valid: 20, seed: 5, heldOut: suite });
      expect(out).toEqual({ train: join(dir, 'train.jsonl'), valid: join(dir, 'valid.jsonl'), trainCount: 120, validCount: 20 });
      expect(readdirSync(dir).sort()).toEqual(['train.jsonl', 'valid.jsonl']);
      const train = parseJsonl(readFileSync(out.train, 'utf8'), out.train);
      const valid = parseJsonl(readFileSync(out.valid, 'utf8'), out.valid);
      expect([train.length, valid.length]).toEqual([120, 20]);
      expect(Object.keys(train[0].value)).toEqual(['messages']);
      const user = (r: { value: Record<string, unknown> }) => (r.value.messages as Array<{ content: string }>)[1].content;
      const trainUsers = new Set(train.map(user));
      for (const v of valid) expect(trainUsers.has(user(v))).toBe(false);
      // Same seed, same files.
      const again = generateToolFormatData({ n: 140, seed: 5, heldOut: suite });
      expect(train.map(user)).toEqual(again.slice(0, 120).map((x) => x.messages[1].content));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
