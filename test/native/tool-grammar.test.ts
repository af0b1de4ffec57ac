// Tool-call grammars (Hermes syntax) on the tiny chat model: with "required" every reply is calls
// of the given tools with arguments that fit their schemas; with "auto" any text passes until
// "<tool_call>", and then only a valid call does (checked with checkGrammarText, since a random model
// never writes the trigger by itself).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { loadModel, type Model } from '../../src/model/model.js';
import { checkGrammarText } from '../../src/model/grammar.js';
import { parseToolCalls } from '../../src/model/tool-calls/index.js';
import { MlxLabError } from '../../src/core/errors.js';
import { modelDir } from '../helpers/paths.js';

const WEATHER = { type: 'object', properties: { city: { type: 'string', maxLength: 5 }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city'], additionalProperties: false };
const TOOLS = [
  { type: 'function', function: { name: 'get_weather', parameters: WEATHER } },
  { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {}, additionalProperties: false } } },
];
const fitsWeather = new Ajv().compile(WEATHER);

/** The complete <tool_call> blocks of a reply, parsed. */
function completeCalls(raw: string): { name: string; arguments: unknown }[] {
  return [...raw.matchAll(/<tool_call>\n([\s\S]*?)\n<\/tool_call>/g)].map((m) => JSON.parse(m[1]));
}

describe('tool-call grammars', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(modelDir('tiny-chat'));
  });
  afterAll(() => model?.dispose());

  it('"required": every reply is calls of the given tools whose arguments fit, for several seeds', async () => {
    let calls = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const g = await model.generate('weather?', { tools: TOOLS, temperature: 1, seed, maxTokens: 160, grammar: { toolCalls: 'required' } });
      expect(g.rawText.startsWith('<tool_call>\n{"name": "')).toBe(true);
      for (const call of completeCalls(g.rawText)) {
        calls++;
        expect(['get_weather', 'now']).toContain(call.name);
        if (call.name === 'get_weather') expect(fitsWeather(call.arguments), JSON.stringify(call)).toBe(true);
        else expect(call.arguments).toEqual({});
      }
      // What the parser of the replies makes of them: the same calls, no broken markup among the complete ones.
      expect(g.toolCalls.map((c) => c.name)).toEqual(completeCalls(g.rawText).map((c) => c.name));
    }
    expect(calls).toBeGreaterThan(3);
  });

  it('"auto": any text is fine until <tool_call>, and then only a valid call', () => {
    const tok = model.tokenizer;
    const auto = { toolCalls: 'auto' } as const;
    const ctx = { tools: TOOLS, toolFormat: 'hermes' };
    const call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
    expect(checkGrammarText(tok, auto, 'Just text, no call. {"json": 1}', ctx)).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(tok, auto, `Let me look. ${call} Done.`, ctx)).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(tok, auto, `${call}${call}`, ctx).ok).toBe(true);
    expect(checkGrammarText(tok, auto, 'Let me look. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}', ctx)).toEqual({ ok: true, complete: false });
    for (const bad of ['{"name": "delete_all", "arguments": {}}', '{"name": "get_weather", "arguments": {"city": 5}}', '{"name": "get_weather", "arguments": {"city": "Paris", "x": 1}}', '{"name": "now"}']) {
      const r = checkGrammarText(tok, auto, `Sure. <tool_call>\n${bad}\n</tool_call>`, ctx);
      expect(r.ok, bad).toBe(false);
      expect(r.error).toBeTruthy();
    }
    expect(checkGrammarText(tok, { toolCalls: 'required' }, 'text first', ctx).ok).toBe(false);
  });

  it('Qwen3 XML, "required": typed parameters parse back to arguments that fit, for several seeds', async () => {
    const schema = { type: 'object', properties: { days: { type: 'integer', minimum: 1, maximum: 7 }, metric: { type: 'boolean' }, unit: { enum: ['C', 'F'] } }, required: ['days', 'unit'], additionalProperties: false };
    const tools = [{ type: 'function', function: { name: 'forecast', parameters: schema } }];
    const fits = new Ajv().compile(schema);
    let calls = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const g = await model.generate('forecast?', { tools, toolFormat: 'qwen3_xml', temperature: 1, seed, maxTokens: 120, grammar: { toolCalls: 'required' } });
      expect(g.rawText.startsWith('<tool_call>\n<function=forecast>\n<parameter=days>\n')).toBe(true);
      const parsed = parseToolCalls(g.rawText, 'qwen3_xml', { schemas: { forecast: schema } });
      for (const call of parsed.calls) {
        calls++;
        expect(call.name).toBe('forecast');
        expect(fits(call.arguments), JSON.stringify(call.arguments)).toBe(true);
      }
    }
    expect(calls).toBeGreaterThan(3);
  });

  it('Qwen3 XML: text values run to </parameter>, "auto" lets text run to the trigger, bad calls are refused', () => {
    const tok = model.tokenizer;
    const ctx = { tools: TOOLS, toolFormat: 'qwen3_xml' };
    const call = '<tool_call>\n<function=get_weather>\n<parameter=city>\nRome\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>';
    expect(checkGrammarText(tok, { toolCalls: 'required' }, call, ctx)).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(tok, { toolCalls: 'auto' }, `Looking. ${call} Done.`, ctx)).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(tok, { toolCalls: 'required' }, call.replace('\n3\n', '\n9\n'), ctx).ok).toBe(false); // days past its maximum
    expect(checkGrammarText(tok, { toolCalls: 'required' }, call.replace('get_weather', 'delete_all'), ctx).ok).toBe(false);
    expect(checkGrammarText(tok, { toolCalls: 'auto' }, 'Sure. <tool_call>\n<function=now>\n<parameter=x>\n1\n</parameter>\n</function>', ctx).ok).toBe(false);
  });

  it('checkGrammarText works for every grammar kind', () => {
    const tok = model.tokenizer;
    expect(checkGrammarText(tok, { regex: '[0-9]+' }, '123')).toEqual({ ok: true, complete: true });
    expect(checkGrammarText(tok, { regex: '[0-9]+' }, '12a').ok).toBe(false);
    expect(checkGrammarText(tok, { jsonSchema: WEATHER }, '{"city": "Rome"}').complete).toBe(true);
    expect(checkGrammarText(tok, { jsonSchema: WEATHER }, '{"city": "Rome", ').complete).toBe(false);
    expect(() => checkGrammarText(tok, { regex: '(' }, 'x')).toThrow(/E_GRAMMAR|grammar\.regex/);
  });

  it('a tool-call grammar without tools, with another syntax, or with a bad mode is E_GRAMMAR naming it', async () => {
    const fails = async (options: Parameters<Model['generate']>[1], pattern: RegExp) => {
      const err = await model.generate('x', options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MlxLabError);
      expect((err as MlxLabError).code).toBe('E_GRAMMAR');
      expect((err as Error).message).toMatch(pattern);
    };
    await fails({ grammar: { toolCalls: 'required' } }, /grammar\.toolCalls: a tool-call grammar needs the tools option/);
    await fails({ tools: TOOLS, toolFormat: 'none', grammar: { toolCalls: 'auto' } }, /needs a call syntax; this call reads "none"/);
    await fails({ tools: TOOLS, grammar: { toolCalls: 'always' as never } }, /grammar\.toolCalls: must be "auto" or "required"/);
    await fails({ tools: [{ type: 'function', function: {} }], grammar: { toolCalls: 'auto' } }, /tools\[0\] is not a tool schema/);
  });
});
