// Constrained decoding on the tiny chat model (random weights: free output is noise). Under a
// grammar every reply must parse and fit, for several seeds, greedy and sampled, single and
// batched; bad grammars are E_GRAMMAR before any token and never take Node down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { loadModel, type GenerateOptions, type Model } from '../../src/model/model.js';
import { MlxLabError } from '../../src/core/errors.js';
import { modelDir } from '../helpers/paths.js';
import { tokenBytes } from '../../src/model/token-bytes.js';

/** Whether bytes are valid UTF-8, or valid UTF-8 cut inside its last character. */
function validUtf8Prefix(bytes: number[]): boolean {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (n === 0) return false;
    for (let k = 1; k < n; k++) {
      if (i + k >= bytes.length) return true; // cut inside the last character
      const c = bytes[i + k];
      if (c < 0x80 || c > 0xbf) return false;
      // The second byte's narrower ranges: no overlong forms, surrogates or code points past U+10FFFF.
      if (k === 1 && ((b === 0xe0 && c < 0xa0) || (b === 0xed && c > 0x9f) || (b === 0xf0 && c < 0x90) || (b === 0xf4 && c > 0x8f))) return false;
    }
    i += n;
  }
  return true;
}

const SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 6 },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    pet: { enum: ['cat', 'dog', 'none'] },
    tags: { type: 'array', items: { type: 'boolean' }, maxItems: 3 },
  },
  required: ['name', 'age', 'pet', 'tags'],
  additionalProperties: false,
};
const REGEX = '(yes|no): [0-9]{3}-[a-f]{2}';
const fitsRegex = (text: string) => new RegExp(`^(?:${REGEX})$`).test(text);
const validate = new Ajv().compile(SCHEMA);
const fitsSchema = (text: string) => {
  try {
    return validate(JSON.parse(text)) === true;
  } catch {
    return false;
  }
};

const SAMPLERS: Record<string, GenerateOptions> = {
  greedy: {},
  temperature: { temperature: 1.5 },
  topP: { temperature: 1, topP: 0.9 },
  topK: { temperature: 1, topK: 5 },
  minP: { temperature: 1, minP: 0.05 },
  penalty: { temperature: 1, repetitionPenalty: 1.3 },
};

describe('constrained decoding (grammar option)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(modelDir('tiny-chat'));
  });
  afterAll(() => model?.dispose());

  it('free output of the random model is not JSON (the constraint below is what makes it so)', async () => {
    const free = await Promise.all([1, 2, 3].map((seed) => model.generate('hi', { maxTokens: 40, temperature: 1, seed })));
    expect(free.filter((g) => fitsSchema(g.text))).toHaveLength(0);
  });

  for (const [name, sampling] of Object.entries(SAMPLERS)) {
    it(`every ${name} reply under the JSON schema parses and validates, and ends as the grammar does`, async () => {
      for (const seed of [0, 1, 2, 3, 4]) {
        const g = await model.generate('hi', { ...sampling, seed, maxTokens: 120, grammar: { jsonSchema: SCHEMA } });
        expect(fitsSchema(g.text), `seed ${seed}: ${g.text}`).toBe(true);
        expect(g.finishReason).toBe('eos');
      }
    });
  }

  it('1,000 sampled replies (10 seeds x batches of 100 rows) all fit a schema, and 1,000 the regex', async () => {
    // A short schema keeps the 2,000 replies quick; the full one is checked per sampler above.
    const small = { type: 'object', properties: { pet: { enum: ['cat', 'dog'] }, age: { type: 'integer', minimum: 0, maximum: 99 } }, required: ['pet', 'age'], additionalProperties: false };
    const fitsSmall = new Ajv().compile(small);
    const fits = (text: string) => {
      try {
        return fitsSmall(JSON.parse(text)) === true;
      } catch {
        return false;
      }
    };
    const prompts = Array.from({ length: 100 }, (_, i) => `item ${i}`);
    let schemaOk = 0;
    let regexOk = 0;
    for (let seed = 0; seed < 10; seed++) {
      const json = await model.generateBatch(prompts, { temperature: 1, seed, maxTokens: 40, grammar: { jsonSchema: small } });
      schemaOk += json.filter((g) => fits(g.text)).length;
      const re = await model.generateBatch(prompts, { temperature: 1, seed, maxTokens: 40, grammar: { regex: REGEX } });
      regexOk += re.filter((g) => fitsRegex(g.text)).length;
    }
    expect([schemaOk, regexOk]).toEqual([1000, 1000]);
  }, 300_000);

  it('every reply under the regex matches it whole, greedy and sampled', async () => {
    for (const seed of [0, 1, 2, 3, 4, 5]) {
      for (const sampling of [SAMPLERS.greedy, SAMPLERS.temperature, SAMPLERS.topK]) {
        const g = await model.generate('hi', { ...sampling, seed, maxTokens: 40, grammar: { regex: REGEX } });
        expect(fitsRegex(g.text), `seed ${seed}: ${g.text}`).toBe(true);
      }
    }
  });

  it('a Lark grammar constrains too', async () => {
    const lark = 'start: "x=" NUM ";" ("y" | "z") "=" NUM\nNUM: /[0-9]{1,2}/';
    for (const seed of [0, 1, 2]) {
      const g = await model.generate('hi', { temperature: 1, seed, maxTokens: 40, grammar: { lark } });
      expect(g.text).toMatch(/^x=[0-9]{1,2};[yz]=[0-9]{1,2}$/);
      expect(g.finishReason).toBe('eos');
    }
  });

  it('greedy under a grammar that allows any text only loses what it forbids: free and constrained agree until free takes a forbidden token', async () => {
    // `.` is any character: tokens that make the bytes invalid UTF-8, and special tokens, are out.
    // Greedy only: MLX's categorical draw is not invariant to masking, so sampled runs may differ.
    const tok = model.tokenizer;
    const bytes = tokenBytes(tok);
    const starts = [0];
    for (const n of bytes.lens) starts.push(starts[starts.length - 1] + n);
    const pieceOf = (id: number) => [...bytes.bytes.subarray(starts[id], starts[id + 1])];
    const allowed = (prefix: number[], id: number) => !tok.isSpecial(id) && validUtf8Prefix([...prefix.flatMap(pieceOf), ...pieceOf(id)]);
    let agreed = 0;
    for (const prompt of ['say 0', 'hello', 'what is 2+2?', 'write JSON', 'a', 'tell me a story', 'x y z', 'ok']) {
      const free = await model.generate(prompt, { maxTokens: 30 });
      const constrained = await model.generate(prompt, { maxTokens: 30, grammar: { regex: '(?s:.*)' } });
      const k = free.tokens.findIndex((t, i) => t !== constrained.tokens[i]);
      if (k < 0) {
        expect(constrained.tokens).toEqual(free.tokens);
        agreed += free.tokens.length;
        continue;
      }
      agreed += k;
      expect(allowed(free.tokens.slice(0, k), free.tokens[k]), `${prompt}: free token ${free.tokens[k]} at ${k} was allowed`).toBe(false);
      expect(allowed(constrained.tokens.slice(0, k), constrained.tokens[k])).toBe(true);
    }
    expect(agreed).toBeGreaterThan(8);
  });

  it('a batch of 3 with different constraints: each row fits its own, and greedy rows equal their single runs', async () => {
    const grammar = [{ jsonSchema: SCHEMA }, { regex: REGEX }, null];
    const prompts = ['hi', 'hello there', 'hey'];
    const batch = await model.generateBatch(prompts, { maxTokens: 120, grammar });
    expect(fitsSchema(batch[0].text)).toBe(true);
    expect(fitsRegex(batch[1].text)).toBe(true);
    const singles = await Promise.all(prompts.map((p, i) => model.generate(p, { maxTokens: 120, grammar: grammar[i] ?? undefined })));
    expect(batch.map((g) => g.tokens)).toEqual(singles.map((g) => g.tokens));
    for (const seed of [7, 8, 9]) {
      const sampled = await model.generateBatch(prompts, { maxTokens: 120, temperature: 1, seed, grammar });
      expect(fitsSchema(sampled[0].text)).toBe(true);
      expect(fitsRegex(sampled[1].text)).toBe(true);
    }
  });

  it('rows sharing a prefilled prefix keep their own grammars', async () => {
    const system = 'You answer in the format you are given. '.repeat(3);
    const prompts = ['one', 'two', 'three'].map((p) => [{ role: 'system' as const, content: system }, { role: 'user' as const, content: p }]);
    const out = await model.generateBatch(prompts, { temperature: 1, seed: 3, maxTokens: 120, grammar: [{ regex: REGEX }, { jsonSchema: SCHEMA }, { regex: '[a-z]{4}' }] });
    expect(out[0].sharedPrefixTokens).toBeGreaterThan(0);
    expect(fitsRegex(out[0].text)).toBe(true);
    expect(fitsSchema(out[1].text)).toBe(true);
    expect(out[2].text).toMatch(/^[a-z]{4}$/);
  });

  it('stream() and a stop string work under a grammar', async () => {
    const stream = model.stream('hi', { maxTokens: 40, grammar: { regex: REGEX } });
    let text = '';
    for await (const chunk of stream) text += chunk.text;
    const g = await stream.result;
    expect(text).toBe(g.text);
    expect(fitsRegex(g.text)).toBe(true);
    const stopped = await model.generate('hi', { maxTokens: 40, grammar: { regex: 'ab+c' }, stop: ['b'] });
    expect(stopped.text).toBe('a');
    expect(stopped.finishReason).toBe('stop');
  });

  it('maxTokens cuts a long grammar short with finish "length"', async () => {
    const g = await model.generate('hi', { maxTokens: 5, grammar: { regex: '[a-z]{50}' } });
    expect(g.text).toMatch(/^[a-z]{5}$/);
    expect(g.finishReason).toBe('length');
  });
});

describe('hostile grammars: E_GRAMMAR before any token, naming the option', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(modelDir('tiny-chat'));
  });
  afterAll(() => model?.dispose());

  const rejects = async (grammar: unknown, pattern: RegExp) => {
    let tokens = 0;
    const stream = model.stream('hi', { maxTokens: 8, grammar: grammar as never });
    const err = await (async () => {
      for await (const _ of stream) tokens++;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MlxLabError);
    expect((err as MlxLabError).code).toBe('E_GRAMMAR');
    expect((err as Error).message).toMatch(pattern);
    expect(tokens).toBe(0);
  };

  it('malformed options', async () => {
    await rejects({}, /grammar: must have exactly one of jsonSchema, regex, lark, toolCalls \(got no key\)/);
    await rejects({ regex: 'a', lark: 'b' }, /exactly one/);
    await rejects('a+', /grammar: must be an object/);
    await rejects({ regex: 5 }, /grammar\.regex: must be a string/);
    await rejects({ regex: '' }, /grammar\.regex: is empty/);
    await rejects({ regex: 'a\0b' }, /NUL/);
    await rejects({ jsonSchema: '{not json' }, /grammar\.jsonSchema: is not valid JSON/);
    await rejects({ jsonSchema: 7 }, /grammar\.jsonSchema: must be a schema object/);
    await rejects({ regex: 'a'.repeat(4_000_001) }, /over the limit/);
    await expect(model.generateBatch(['a', 'b'], { grammar: [{ regex: 'a' }] })).rejects.toThrow(/grammar: lists 1 grammars for 2 prompts/);
  });

  it('an invalid schema, regex or Lark grammar is refused by the engine with its reason', async () => {
    await rejects({ jsonSchema: { type: 'nope' } }, /grammar\.jsonSchema \(json_schema\): Invalid type: nope/);
    await rejects({ jsonSchema: { type: 'object', properties: { a: { $ref: '#/nowhere' } } } }, /grammar\.jsonSchema \(json_schema\): .*nowhere/);
    await rejects({ regex: '(unclosed' }, /grammar\.regex \(regex\): .*unclosed group/s);
    await rejects({ regex: '[z-a]' }, /grammar\.regex \(regex\): .*invalid character class range/s);
    await rejects({ lark: 'start: missing_rule' }, /grammar\.lark \(lark\): .*unknown name/s);
  });

  it('a deep or huge schema is an error or a working grammar, never a crash', async () => {
    const nest = (depth: number) => {
      let deep: object = { type: 'string' };
      for (let i = 0; i < depth; i++) deep = { type: 'array', items: deep };
      return deep;
    };
    await rejects({ jsonSchema: nest(1000) }, /grammar\.jsonSchema \(json_schema\): recursion limit exceeded/);
    await rejects({ jsonSchema: nest(20_000) }, /grammar\.jsonSchema: cannot be written as JSON/);
    // Deep nesting in a regex or a Lark grammar: refused, and the message (which quotes the
    // grammar) stays short.
    for (const grammar of [{ regex: `${'('.repeat(100_000)}a${')'.repeat(100_000)}` }, { lark: `start: ${'('.repeat(100_000)}"a"${')'.repeat(100_000)}` }]) {
      const err = await model.generate('hi', { maxTokens: 4, grammar }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_GRAMMAR' });
      expect((err as Error).message.length).toBeLessThan(2200);
    }
    // Counted repetitions far past any reply compile lazily: a working grammar.
    const counted = await model.generate('hi', { maxTokens: 6, grammar: { regex: 'a{99999999}' } });
    expect(counted.text).toBe('aaaaaa');
    const wide = { enum: Array.from({ length: 20_000 }, (_, i) => `value-${i}`) };
    const g = await model.generate('hi', { maxTokens: 20, grammar: { jsonSchema: wide } });
    expect(wide.enum).toContain(JSON.parse(g.text));
  });

  it('an unsatisfiable regex ends the reply with finish "grammar" or is refused, never hangs', async () => {
    const result = await model.generate('hi', { maxTokens: 8, grammar: { regex: 'a[^\\s\\S]' } }).catch((e: unknown) => e);
    if (result instanceof MlxLabError) {
      expect(result.code).toBe('E_GRAMMAR');
    } else {
      const g = result as Awaited<ReturnType<Model['generate']>>;
      expect(g.finishReason).toBe('grammar');
      expect(g.grammarError).toBeTruthy();
    }
  });

  it('the model still generates after all of the above', async () => {
    const g = await model.generate('hi', { maxTokens: 40, grammar: { regex: REGEX } });
    expect(fitsRegex(g.text)).toBe(true);
  });
});
