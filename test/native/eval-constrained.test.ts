// Constrained evals on the tiny chat model (random weights: its free replies are byte noise, so
// every format failure of the free run is real, and whatever the constrained run gets right in
// format the grammar gave it). What would fail on a defect: a grammar that lets prose or broken
// JSON through (the failure-class checks), rows of a batch decoded under the wrong grammar (the
// mixed suite), a grammar that changes a reply that already complies (SmolLM2, each case
// expecting its own free reply), a hostile suite that generates before its error (the onCase spies).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlxLabError } from '../../src/core/errors.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { checkGrammarText } from '../../src/model/grammar.js';
import { loadSuite, parseSuite, scoreCase, type EvalSuite } from '../../src/eval/index.js';
import { suiteConstraints } from '../../src/eval/constraint.js';
import { runEval, type CaseResult } from '../../src/eval/runner.js';
import { compareConstrained } from '../../src/eval/compare.js';
import { TINY_CHAT, TINY_SUITE, tinyToolSplits } from '../helpers/experiment.js';
import { SMOLLM2_GGUF, SMOLLM2_MISSING } from '../helpers/smollm2.js';
import { describeOrSkip } from '../helpers/skip.js';
import { ROOT } from '../helpers/paths.js';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runExperiment } from '../../src/run/experiment.js';
import { tinyConfig } from '../helpers/train.js';

const EXAMPLE_SUITE = join(ROOT, 'examples', 'tool-format', 'suite.yaml');

/** Failure classes a format grammar makes impossible for a reply that ends as the grammar does (or is cut by the budget). */
const FORMAT_FAILURES = ['prose', 'invalid_json', 'invalid_xml', 'empty', 'think', 'no_wrapper', 'schema'];

/** Escape a text for a regex both JS and the engine (Rust syntax) read literally. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const MIXED = `name: mixed
cases:
  - {id: wrap, prompt: "status?", expect: {tool: git_status, wrapper: execute_code}}
  - {id: call, prompt: "weather?", expect: {format: hermes}}
  - {id: xml, prompt: "weather in xml?", expect: {format: qwen3_xml}}
  - {id: json, prompt: "a pet", expect: {json_schema: {type: object, properties: {pet: {enum: [cat, dog]}, age: {type: integer, minimum: 0, maximum: 20}}, required: [pet, age], additionalProperties: false}}}
  - {id: code, prompt: "a code", expect: {regex: "^[A-Z]{2}-[0-9]{3}$"}}
  - {id: exact, prompt: "say 4", expect: {exact: "4"}}
`;

/** A reply the grammar finished (EOS) must score with no format failure; one cut by the budget is truncated. */
function expectFormatHeld(r: CaseResult): void {
  if (r.finishReason === 'length') {
    expect(r.failure, `${r.id}: ${r.text}`).toBe('truncated');
    return;
  }
  expect(r.finishReason, `${r.id}: ${r.text}`).toBe('eos');
  expect(FORMAT_FAILURES, `${r.id} (${r.failure}): ${r.text}`).not.toContain(r.failure);
}

describe('constrained evals (eval --constrained)', () => {
  let model: Model;
  let tiny: EvalSuite;
  beforeAll(async () => {
    model = await loadModel(TINY_CHAT);
    tiny = await loadSuite(TINY_SUITE);
  });
  afterAll(() => model?.dispose());

  it('each implied grammar compiles; a reply in the format is complete under it and its scorer finds no format failure; prose is refused', async () => {
    const tok = model.tokenizer;
    const suite = parseSuite(MIXED, 'mixed.yaml');
    const [wrap, call, xml, json, code, exact] = suiteConstraints(suite);
    const replies: [typeof wrap, number, string][] = [
      [wrap, 0, '<tool_call>{"name": "execute_code", "arguments": {"code": "git_status()"}}</tool_call>'],
      [call, 1, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>'],
      [xml, 2, '<tool_call>\n<function=get_weather>\n<parameter=city>\nRome\n</parameter>\n</function>\n</tool_call>'],
      [json, 3, '{"pet": "cat", "age": 3}'],
      [code, 4, 'AB-123'],
    ];
    for (const [k, i, reply] of replies) {
      expect(checkGrammarText(tok, k.grammar!, reply), reply).toEqual({ ok: true, complete: true });
      const s = await scoreCase(suite.cases[i], reply, 'eos');
      expect(s.failure, `${suite.cases[i].id}: ${s.detail}`).toBeNull();
    }
    for (const [k, reply] of [
      [wrap, 'I will check the git status.'],
      [wrap, '<tool_call>{"name": "git_status", "arguments": {}}</tool_call>'], // a direct call: not the wrapper
      [wrap, '<tool_call>{"name": "execute_code", "arguments": {"code": ""}}</tool_call>'],
      [call, '{"name": "get_weather", "arguments": {}}'], // no tags
      [call, '<tool_call>\n{"name": "two words", "arguments": {}}\n</tool_call>'],
      [json, '{"pet": "cow", "age": 3}'],
      [code, 'ab-123'],
    ] as const) {
      expect(checkGrammarText(tok, k.grammar!, reply).ok, reply).toBe(false);
    }
    expect(exact).toEqual({ kind: null, grammar: null });
  });

  it('the tiny suite constrained: every reply is one execute_code call (or cut by the budget), where the free replies are prose', async () => {
    const free = await runEval(model, tiny, { maxTokens: 64 });
    expect(free.constrained).toBeUndefined();
    expect(free.cases.map((c) => c.failure)).toEqual(free.cases.map(() => 'prose'));
    let finished = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const held = await runEval(model, tiny, { maxTokens: 256, temperature: 1, seed, constrained: true });
      expect(held.constrained).toBe(true);
      for (const r of held.cases) {
        expect(r.constraint).toBe('wrapper');
        expect(r.text.startsWith('<tool_call>{"name": "execute_code", "arguments": {"code": "'), r.text).toBe(true);
        expectFormatHeld(r);
        if (r.finishReason === 'eos') {
          finished++;
          expect(r.parsed?.map((c) => c.name)).toEqual(['execute_code']);
          expect(typeof r.parsed?.[0].arguments.code).toBe('string');
        }
      }
    }
    // Byte noise closes its code string now and then (3 of these 48 replies): those end as the grammar does.
    expect(finished).toBeGreaterThanOrEqual(2);
  }, 300_000);

  it('rows of one batch carry their own grammars (mixed scorers, one batch); the free case is decoded free', async () => {
    const suite = parseSuite(MIXED, 'mixed.yaml');
    const kinds = suiteConstraints(suite).map((k) => k.kind);
    expect(kinds).toEqual(['wrapper', 'hermes', 'qwen3_xml', 'json_schema', 'regex', null]);
    const free = await runEval(model, suite, { maxTokens: 96 });
    for (const seed of [1, 2, 3]) {
      const held = await runEval(model, suite, { maxTokens: 96, temperature: 1, seed, constrained: true });
      expect(held.cases.map((c) => c.constraint)).toEqual(kinds);
      for (const r of held.cases.slice(0, 5)) expectFormatHeld(r);
      const [, , , json, code] = held.cases;
      if (json.finishReason === 'eos') expect(json.score).toBe(1);
      expect(code.text).toMatch(/^[A-Z]{2}-[0-9]{3}$/);
    }
    const greedy = await runEval(model, suite, { maxTokens: 96, constrained: true });
    // The exact case has no grammar: greedy, it is the free reply, batched with constrained rows.
    expect(greedy.cases[5].constraint).toBeNull();
    expect(greedy.cases[5].text).toBe(free.cases[5].text);
  });


  it('eval: {constrained: true} in a training config makes the live evals constrained (no prose), the default free', async () => {
    const data = tinyToolSplits(model.tokenizer, tiny.cases.map((c) => c.prompt!), 16, 4);
    const root = mkdtempSync(join(tmpdir(), 'mlx-lab-constrained-run-'));
    try {
      const run = (name: string, constrained?: boolean) => {
        const evalSection = { suite: TINY_SUITE, every: 2, max_tokens: 64, stop: [], at_start: true, ...(constrained !== undefined && { constrained }) };
        const config = tinyConfig(join(root, name), { iters: 2, save_every: 2, steps_per_eval: 2, eval: evalSection, early_stopping: null });
        return runExperiment(config, { model, data, suite: tiny });
      };
      const held = await run('held', true);
      const free = await run('free');
      expect(held.evals.map((e) => e.iteration)).toEqual([0, 2]);
      for (const e of held.evals) expect(e.failures.prose ?? 0, JSON.stringify(e.failures)).toBe(0);
      for (const e of free.evals) expect(e.failures.prose).toBe(4);
      const events = readFileSync(join(root, 'held', 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"event":"format"'));
      for (const line of events) for (const reply of Object.values(JSON.parse(line).replies as Record<string, string>)) expect(reply.startsWith('<tool_call>{"name": "execute_code"'), reply).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 300_000);

  it('compareConstrained: both scores, per case, and the failure classes the grammar removed', async () => {
    const cmp = await compareConstrained(model, tiny, { maxTokens: 64 });
    expect(cmp.unconstrained.constrained).toBeUndefined();
    expect(cmp.constrained.constrained).toBe(true);
    expect(cmp.cases.map((c) => c.id)).toEqual(tiny.cases.map((c) => c.id));
    expect(cmp.cases.every((c) => c.unconstrained.failure === 'prose' && c.constraint === 'wrapper')).toBe(true);
    expect(cmp.failures.prose).toEqual({ unconstrained: 4, constrained: 0 });
    expect(cmp.removed.prose).toBe(4);
    expect(cmp.gain).toBeCloseTo(cmp.constrained.score - cmp.unconstrained.score, 12);
    for (const c of cmp.constrained.cases) expectFormatHeld(c);
  });
});

describe('hostile suites under --constrained: E_GRAMMAR naming the file and case, before any generation', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(TINY_CHAT);
  });
  afterAll(() => model?.dispose());

  const refused = async (expectLine: string, pattern: RegExp) => {
    const suite = parseSuite(`name: h\ncases:\n  - {id: fine, prompt: p, expect: {exact: x}}\n  - {id: bad-one, prompt: p, expect: ${expectLine}}\n`, '/suites/hostile.yaml');
    let generated = 0;
    const onCase = () => generated++;
    for (const run of [() => runEval(model, suite, { constrained: true, maxTokens: 4, onCase }), () => compareConstrained(model, suite, { maxTokens: 4, onCase })]) {
      const err = await run().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MlxLabError);
      expect((err as MlxLabError).code).toBe('E_GRAMMAR');
      expect((err as Error).message).toMatch(/^\/suites\/hostile\.yaml: case "bad-one" \(line 4\): the \w+ grammar of the "\w+" scorer cannot be used: /);
      expect((err as Error).message).toMatch(pattern);
    }
    expect(generated).toBe(0);
  };

  it('a regex the engine cannot read (JS lookahead) or that matches nothing', async () => {
    await refused('{regex: "a(?=b)"}', /look-around, including look-ahead and look-behind, is not supported/);
    await refused('{regex: "[^\\\\s\\\\S]"}', /allows no reply/);
  });

  it('schemas that Ajv takes but the engine refuses (a JS-only pattern, an unsatisfiable one, an unimplemented keyword)', async () => {
    await refused('{json_schema: {type: string, pattern: "(?<=a)b"}}', /grammar\.jsonSchema \(json_schema\): regex parse error:.*look-around/s);
    await refused('{json_schema: {type: string, minLength: 5, maxLength: 2}}', /Unsatisfiable schema: minLength \(5\) is greater than maxLength \(2\)/);
    await refused('{json_schema: {not: {type: string}}}', /Unimplemented keys: \["not"\]/);
  });

  it('a constrained eval that would think is E_ARGUMENT', async () => {
    const suite = await loadSuite(TINY_SUITE);
    await expect(runEval(model, suite, { constrained: true, enableThinking: true })).rejects.toThrow(/constrained eval cannot let the model think/);
  });
});

// A model whose replies are text (the tiny model's are mostly invalid UTF-8, which no grammar
// spells): each case of this suite expects, as a regex, exactly SmolLM2's own free greedy reply
// (what follows a reply cut by the budget is left free), so that reply already complies; under
// the grammar greedy decoding must give it again, token for token, next to a free row.
describeOrSkip(SMOLLM2_MISSING, 'constrained evals on SmolLM2-135M: a reply that already complies', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(SMOLLM2_GGUF);
  });
  afterAll(() => model?.dispose());

  it('is the same reply constrained as free (greedy), in a batch with a free row', async () => {
    const example = await loadSuite(EXAMPLE_SUITE);
    const picked = example.cases.filter((c) => ['text-03', 'valid-01', 'lsp-01'].includes(c.id));
    const base = { name: 'own', system: example.system, max_tokens: 24 };
    const asCase = (c: EvalSuite['cases'][number], expect: object) => ({ id: c.id, prompt: c.prompt, expect });
    const free = await runEval(model, parseSuite(JSON.stringify({ ...base, cases: picked.map((c) => asCase(c, { exact: 'x' })) }), 'free.yaml'), {});
    const own = free.cases.map((r, i) => asCase(picked[i], { regex: `^${literal(r.text)}${r.finishReason === 'length' ? '[\\s\\S]*' : ''}$` }));
    const suite = parseSuite(JSON.stringify({ ...base, cases: [...own, { ...asCase(picked[0], { exact: 'x' }), id: 'free-row' }] }), 'own.yaml');
    const held = await runEval(model, suite, { constrained: true });
    expect(held.cases.map((c) => c.constraint)).toEqual(['regex', 'regex', 'regex', null]);
    for (const [i, f] of free.cases.entries()) {
      expect(f.text.length, f.id).toBeGreaterThan(0);
      expect(held.cases[i].text, f.id).toBe(f.text);
      expect(held.cases[i].generationTokens, f.id).toBe(f.generationTokens);
      expect(held.cases[i].finishReason, f.id).toBe(f.finishReason);
    }
    expect(held.cases[3].text).toBe(free.cases[0].text);
  }, 300_000);
});
