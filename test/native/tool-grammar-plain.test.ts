// Tool-call grammars for Llama 3 JSON, Mistral and pythonic calls on the tiny chat model: with
// "required" every sampled reply parses (with the same parser the scorers use) into calls of the
// given tools whose arguments fit their schemas; with "auto" prose passes and a broken or foreign
// call is refused (checked with checkGrammarText, since a random model never writes a call by
// itself). A grammar that let a wrong name, a missing required argument, an out-of-range value or
// a non-literal through would fail here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { loadModel, type Model } from '../../src/model/model.js';
import { checkGrammarText } from '../../src/model/grammar.js';
import { parseToolCalls, type CallFormat } from '../../src/model/tool-calls/index.js';
import { modelDir } from '../helpers/paths.js';

const WEATHER = { type: 'object', properties: { city: { type: 'string', maxLength: 5 }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city'], additionalProperties: false };
const TOOLS = [
  { type: 'function', function: { name: 'get_weather', parameters: WEATHER } },
  { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {}, additionalProperties: false } } },
];
const fitsWeather = new Ajv().compile(WEATHER);
const REQUIRED = { toolCalls: 'required' } as const;
const AUTO = { toolCalls: 'auto' } as const;

describe('tool-call grammars for llama3_json, mistral and pythonic', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(modelDir('tiny-chat'));
  });
  afterAll(() => model?.dispose());

  /** Where a list of calls may be cut and closed: after the call before this separator. */
  const CUT: Partial<Record<CallFormat, [string, string]>> = { llama3_json: ['}; {"name"', ''], mistral: ['}, {"name"', ']'], pythonic: ['), ', ']'] };

  /**
   * Samples replies under the "required" grammar and checks every parsed call; returns the raw
   * replies. A random model rarely ends a list, so a reply cut by maxTokens is closed after its
   * last whole call (the grammar must call that a complete reply) and checked as well.
   */
  async function sampleCalls(toolFormat: CallFormat, tools: unknown[], fits: (name: string, args: unknown) => boolean): Promise<string[]> {
    let calls = 0;
    const raws: string[] = [];
    const ctx = { tools, toolFormat };
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const g = await model.generate('weather?', { tools: tools as never, toolFormat, temperature: 1, seed, maxTokens: 160, grammar: REQUIRED });
      raws.push(g.rawText);
      let reply = g.rawText;
      if (g.finishReason === 'length') {
        const [sep, close] = CUT[toolFormat]!;
        const at = reply.lastIndexOf(sep);
        if (at === -1) continue;
        reply = reply.slice(0, at + 1) + close;
        expect(checkGrammarText(model.tokenizer, REQUIRED, reply, ctx), reply).toEqual({ ok: true, complete: true });
      }
      const parsed = parseToolCalls(reply, toolFormat, { wrapper: null });
      expect(parsed.errors, reply).toEqual([]);
      expect(parsed.calls.length, reply).toBeGreaterThan(0);
      for (const call of parsed.calls) {
        calls++;
        expect(fits(call.name, call.arguments), `${call.name} ${JSON.stringify(call.arguments)}`).toBe(true);
      }
    }
    expect(calls).toBeGreaterThan(2);
    return raws;
  }
  const fitsTools = (name: string, args: unknown) => (name === 'get_weather' ? fitsWeather(args) : name === 'now' && JSON.stringify(args) === '{}');

  it('llama3_json "required": replies are JSON calls with "parameters" that fit, for several seeds', async () => {
    const raws = await sampleCalls('llama3_json', TOOLS, fitsTools);
    for (const raw of raws) expect(raw.startsWith('{"name": "'), raw).toBe(true);
  });

  it('llama3_json "auto": prose passes, a reply opening with "{" must be a valid call', () => {
    const ctx = { tools: TOOLS, toolFormat: 'llama3_json' };
    const call = '{"name": "get_weather", "parameters": {"city": "Rome", "days": 3}}';
    expect(checkGrammarText(model.tokenizer, AUTO, 'It is sunny. {"a": 1}', ctx)).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(model.tokenizer, AUTO, call, ctx)).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(model.tokenizer, AUTO, `${call}; {"name": "now", "parameters": {}}`, ctx)).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(model.tokenizer, AUTO, '{"name": "delete_all", "parameters": {}}', ctx).ok).toBe(false);
    expect(checkGrammarText(model.tokenizer, AUTO, '{"name": "get_weather", "arguments": {"city": "Rome"}}', ctx).ok).toBe(false);
    expect(checkGrammarText(model.tokenizer, AUTO, call.replace('3', '9'), ctx).ok).toBe(false);
    expect(checkGrammarText(model.tokenizer, REQUIRED, 'It is sunny.', ctx).ok).toBe(false);
  });

  it('mistral "required": [TOOL_CALLS] and a JSON list of calls that fit, for several seeds', async () => {
    const raws = await sampleCalls('mistral', TOOLS, fitsTools);
    for (const raw of raws) expect(raw.startsWith('[TOOL_CALLS][{"name": "'), raw).toBe(true);
  });

  it('mistral "auto": text runs to [TOOL_CALLS], then only a valid list of calls', () => {
    const ctx = { tools: TOOLS, toolFormat: 'mistral' };
    const list = '[{"name": "get_weather", "arguments": {"city": "Rome"}}]';
    expect(checkGrammarText(model.tokenizer, AUTO, 'Just text [1, 2].', ctx)).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(model.tokenizer, AUTO, `Let me check. [TOOL_CALLS]${list}`, ctx)).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(model.tokenizer, AUTO, 'Sure [TOOL_CALLS][{"name": "rm", "arguments": {}}]', ctx).ok).toBe(false);
    expect(checkGrammarText(model.tokenizer, AUTO, 'Sure [TOOL_CALLS]{"name": "now", "arguments": {}}', ctx).ok).toBe(false);
    expect(checkGrammarText(model.tokenizer, REQUIRED, list, ctx).ok).toBe(false);
  });

  it('mistral: where [TOOL_CALLS] is a special token, the grammar asks for that token, not its spelling', () => {
    // Stand-in: the tiny model's special token <|im_start|> plays [TOOL_CALLS] (its tokenizer has none).
    const id = model.tokenizer.tokenToId('<|im_start|>');
    expect(id).toBeDefined();
    const ctx = { tools: TOOLS, toolFormat: 'mistral', specialTokenId: (t: string) => (t === '[TOOL_CALLS]' ? id : undefined) };
    const list = '[{"name": "now", "arguments": {}}]';
    expect(checkGrammarText(model.tokenizer, REQUIRED, `<|im_start|>${list}`, ctx)).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(model.tokenizer, REQUIRED, `[TOOL_CALLS]${list}`, ctx).ok).toBe(false);
    expect(checkGrammarText(model.tokenizer, AUTO, `Let me see. <|im_start|>${list}`, ctx)).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(model.tokenizer, AUTO, 'Let me see. <|im_start|>[{"name": "rm", "arguments": {}}]', ctx).ok).toBe(false);
  });

  const FORECAST = {
    type: 'object',
    properties: { city: { type: 'string', maxLength: 6 }, days: { type: 'integer', minimum: 1, maximum: 7 }, metric: { type: 'boolean' }, unit: { enum: ['C', 'F'] }, extra: { type: 'object' } },
    required: ['city', 'unit'],
    additionalProperties: false,
  };
  const PY_TOOLS = [
    { type: 'function', function: { name: 'forecast', parameters: FORECAST } },
    { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {} } } },
  ];
  const fitsForecast = new Ajv().compile(FORECAST);

  it('pythonic "required": keyword calls whose Python literals fit, for several seeds', async () => {
    const raws = await sampleCalls('pythonic', PY_TOOLS, (name, args) => (name === 'forecast' ? fitsForecast(args) : name === 'now' && JSON.stringify(args) === '{}'));
    for (const raw of raws) expect(raw, raw).toMatch(/^\[(forecast|now)\(/);
  });

  it('pythonic: schema order, required arguments, Python constants; "auto" lets prose through', () => {
    const ctx = { tools: PY_TOOLS, toolFormat: 'pythonic' };
    const ok = (text: string, option: typeof AUTO | typeof REQUIRED = REQUIRED) => checkGrammarText(model.tokenizer, option, text, ctx);
    expect(ok('[forecast(city="Rome", unit="C")]')).toEqual({ ok: true, complete: true });
    expect(ok('[forecast(city="Rome", days=3, metric=True, unit="F", extra={"a": [1, None]}), now()]')).toEqual({ ok: true, complete: true });
    expect(ok('[forecast(city="Rome", metric=true, unit="C")]').ok).toBe(false); // JSON's true is no Python constant
    expect(ok('[forecast(unit="C")]').ok).toBe(false); // city is required
    expect(ok('[forecast(city="Rome", days=9, unit="C")]').ok).toBe(false); // past the maximum
    expect(ok('[forecast(unit="C", city="Rome")]').ok).toBe(false); // the schema's order
    expect(ok('[forecast(city="Rome", unit="K")]').ok).toBe(false); // not in the enum
    expect(ok('[forecast(city="Rome", unit="C", extra=[1])]').ok).toBe(false); // a list where a dict is asked for
    expect(ok('[delete_all()]').ok).toBe(false);
    expect(ok('It will rain.', AUTO)).toEqual({ ok: true, complete: true });
    expect(ok('[now()]', AUTO)).toEqual({ ok: true, complete: true });
    expect(ok('[rm(path="/")]', AUTO).ok).toBe(false);
    expect(ok('It will rain.').ok).toBe(false);
  });
});
