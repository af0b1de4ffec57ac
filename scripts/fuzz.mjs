#!/usr/bin/env node
// Property-based fuzzing (fast-check) of our own parsers for a bounded time per target:
//   config (YAML → validated config), suite (YAML and JSONL), dataset (JSONL → tokenized
//   examples), gguf-tokenizer (GGUF metadata → tokenizer, then encode), safetensors and gguf
//   (mutated valid files through the native readers).
// Property: the parser returns, or throws an MlxLabError; never a TypeError/RangeError, a crash or a hang.
// Each target runs in a child process, so a native crash is reported (with the input that caused
// it, kept in fuzz-out/) instead of ending the run. Needs `npx tsc` (imports dist/).
//
//   node scripts/fuzz.mjs [--seconds 30] [--seed 42] [target...]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { stringify } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'fuzz-out');
const FIXTURES = join(ROOT, 'test', 'fixtures');
const dist = (path) => import(join(ROOT, 'dist', path));

// ---- generators shared by the text targets

/** Printable-ish text with the characters parsers care about. */
const text = fc.string({ unit: fc.constantFrom(...'ab:- \n\t"\'{}[],#&*!|>%@`\\0.9eE+\u00e9\u{1F600}\uFEFF\r'), maxLength: 200 });
/** Any JSON-able value, small. */
const json = fc.jsonValue({ maxDepth: 3 });
/** One mutation of a string: insert, delete or replace a short run of characters. */
function mutated(base) {
  return fc
    .tuple(fc.nat({ max: base.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 8 }))
    .map(([at, cut, insert]) => base.slice(0, at) + insert + base.slice(at + cut));
}
/** A mapping of keys (mostly known ones) to arbitrary values, as YAML. */
function yamlOf(keys) {
  return fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 12 })), json, { maxKeys: 6 }).map((o) => stringify(o));
}

// ---- targets: name → async () => { arbitrary, run(input) }

const CONFIG_KEYS = ['model', 'data', 'iters', 'batch_size', 'learning_rate', 'lora_parameters', 'optimizer', 'lr_schedule', 'eval', 'early_stopping', 'selection', 'sweep', 'mask_prompt', 'seed', 'num_layers'];
const SUITE_KEYS = ['name', 'system', 'tools', 'max_tokens', 'stop', 'scorer', 'scorers', 'cases', 'description'];

const TARGETS = {
  async config() {
    const { parseTrainConfig } = await dist('config/config.js');
    const valid = readFileSync(join(FIXTURES, 'configs', 'full.yaml'), 'utf8');
    return {
      arbitrary: fc.oneof(text, yamlOf(CONFIG_KEYS), mutated(valid)),
      run: (input) => parseTrainConfig(input, 'fuzz.yaml'),
    };
  },

  async suite() {
    const { parseSuite } = await dist('eval/suite.js');
    const valid = readFileSync(join(FIXTURES, 'eval', 'tiny-suite.yaml'), 'utf8');
    const jsonlCase = fc.record({ id: json, prompt: json, expect: json, messages: json, tools: json }, { requiredKeys: [] });
    const jsonl = fc.array(jsonlCase, { maxLength: 4 }).map((rows) => [JSON.stringify({ name: 's' }), ...rows.map((r) => JSON.stringify(r))].join('\n'));
    return {
      arbitrary: fc.oneof(
        fc.tuple(fc.constant('yaml'), fc.oneof(text, yamlOf(SUITE_KEYS), mutated(valid))),
        fc.tuple(fc.constant('jsonl'), fc.oneof(text, jsonl)),
      ),
      run: ([format, input]) => parseSuite(input, `fuzz.${format}`),
    };
  },

  async dataset() {
    const { parseDataset } = await dist('data/index.js');
    const { Tokenizer } = await dist('model/tokenizer.js');
    const tokenizer = Tokenizer.fromFolder(join(FIXTURES, 'models', 'tiny-chat'));
    // Mostly well-formed examples (so tokenizing and masking run), sometimes any JSON value.
    const usually = (good) => fc.oneof({ arbitrary: good, weight: 8 }, { arbitrary: json, weight: 1 });
    const content = usually(fc.string({ maxLength: 20 }));
    const message = (role) => fc.record({ role: usually(role), content }, { requiredKeys: ['role'] });
    const chat = fc
      .tuple(fc.array(message(fc.constantFrom('system', 'user', 'assistant', 'tool')), { maxLength: 3 }), message(fc.constant('assistant')))
      .map(([head, last]) => [...head, last]);
    const formats = [
      fc.record({ messages: usually(chat), tools: fc.option(json, { nil: undefined }) }, { requiredKeys: ['messages'] }),
      fc.record({ prompt: content, completion: content }, { requiredKeys: [] }),
      fc.record({ text: content }),
      fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 3 }),
    ];
    // One format per file (as mlx-lm requires), sometimes a stray line of text.
    const line = (row) => fc.oneof({ arbitrary: row.map((r) => JSON.stringify(r)), weight: 12 }, { arbitrary: text, weight: 1 });
    const lines = fc.constantFrom(...formats).chain((row) => fc.array(line(row), { minLength: 1, maxLength: 3 })).map((l) => l.join('\n'));
    return {
      arbitrary: fc.tuple(lines, fc.boolean()),
      run: ([input, maskPrompt]) => parseDataset(input, 'fuzz.jsonl', tokenizer, { maskPrompt }),
    };
  },

  async 'gguf-tokenizer'() {
    const { tokenizerFromGgufMetadata } = await dist('model/gguf-tokenizer.js');
    const token = fc.oneof(fc.constantFrom('a', 'b', 'ab', '<eos>', 'Ġ', '\u2581', '\u2581a', '<0x61>', '<0xC3>', 'constructor', '__proto__', 'toString', ' ', ''), fc.string({ maxLength: 4 }));
    // Mostly plausible values (so parsing goes deep), sometimes any JSON value.
    const usually = (good) => fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: json, weight: 1 });
    const scalar = fc.option(usually(fc.oneof(fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.constant(0xffffffff), fc.double())), { nil: undefined });
    // Tokens with their scores and types, mostly of one length (so the lists agree).
    const entry = fc.tuple(token, fc.oneof(fc.integer({ min: -9, max: 0 }), fc.double()), fc.integer({ min: 0, max: 6 }));
    const meta = fc.array(entry, { maxLength: 8 }).chain((entries) =>
      fc.record(
        {
          'tokenizer.ggml.model': usually(fc.constantFrom('gpt2', 'llama')),
          'tokenizer.ggml.pre': usually(fc.constantFrom('smollm', 'llama3', 'qwen2', 'default')),
          'tokenizer.ggml.tokens': usually(fc.constant(entries.map((e) => e[0]))),
          'tokenizer.ggml.merges': usually(fc.array(fc.constantFrom('a b', 'ab <eos>', 'Ġ a', 'constructor b'), { maxLength: 4 })),
          'tokenizer.ggml.scores': usually(fc.constant(entries.map((e) => e[1]))),
          'tokenizer.ggml.token_type': usually(fc.constant(entries.map((e) => e[2]))),
          'tokenizer.ggml.bos_token_id': scalar,
          'tokenizer.ggml.eos_token_id': scalar,
          'tokenizer.ggml.unknown_token_id': scalar,
          'tokenizer.ggml.add_bos_token': scalar,
          'tokenizer.ggml.add_space_prefix': scalar,
          'tokenizer.chat_template': usually(fc.constant('{{ messages[0].content }}')),
          'tokenizer.chat_templates': usually(fc.constant([])),
        },
        { requiredKeys: ['tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.merges'] },
      ),
    );
    return {
      arbitrary: fc.tuple(meta, fc.string({ maxLength: 12 })),
      run: ([m, sample]) => {
        const tok = tokenizerFromGgufMetadata(m, 'fuzz.gguf');
        const count = m['tokenizer.ggml.tokens'].length;
        const ids = tok.encode(sample);
        if (ids.some((id) => !(id >= 0 && id < count))) throw new Error(`encode gave ids ${ids} outside ${count} tokens`);
        tok.decode(ids);
      },
    };
  },

  // Untrusted chat templates and messages (issue 21): loops of any size, nesting, string growth,
  // recursion; roles and content parts of any kind. Each render returns or throws MlxLabError
  // within its time budget (here 200 ms; the check allows 2 s for a slow machine).
  async 'chat-template'() {
    const { Tokenizer } = await dist('model/tokenizer.js');
    const { ChatTemplate } = await dist('model/chat.js');
    process.env.MLX_LAB_TEMPLATE_TIMEOUT_MS = '200';
    const tok = Tokenizer.fromFolder(join(FIXTURES, 'models', 'tiny-chat'));
    const n = fc.oneof(fc.integer({ min: -3, max: 20 }), fc.constantFrom(1000, 10 ** 6, 10 ** 9, 2 ** 31));
    const leaf = fc.oneof(
      fc.constantFrom('{{ m.content }}', '{{ m.role }}', 'x', '{{ ns.s }}', '{% set ns.s = ns.s ~ ns.s %}', '{{ f(0) }}', '{{ messages | length }}', '{{ raise_exception("no") }}'),
      n.map((k) => `{{ range(${k}) | length }}`),
    );
    const block = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('loop'), tie('seq')),
      loop: fc.tuple(fc.constantFrom('i', 'j', 'k'), n, tie('node')).map(([v, k, body]) => `{% for ${v} in range(${k}) %}${body}{% endfor %}`),
      seq: fc.array(tie('node'), { maxLength: 3 }).map((xs) => xs.join('')),
    })).node;
    const template = block.map((body) => `{% set ns = namespace(s='ab') %}{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{% for m in messages %}${body}{% endfor %}`);
    const part = fc.oneof(fc.record({ type: fc.constant('text'), text: fc.string({ maxLength: 8 }) }), fc.record({ type: fc.constantFrom('image_url', 'audio', 'x') }), json);
    const message = fc.record({
      role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool', 'narrator', ''), json),
      content: fc.oneof(fc.string({ maxLength: 12 }), fc.array(part, { maxLength: 3 }), json),
    });
    return {
      arbitrary: fc.tuple(template, fc.array(message, { minLength: 1, maxLength: 3 })),
      run: ([text, messages]) => {
        const t0 = performance.now();
        try {
          new ChatTemplate(text, tok, 'fuzz').render(messages, { addGenerationPrompt: true });
        } finally {
          const ms = performance.now() - t0;
          if (ms > 2000) throw new Error(`the render took ${ms.toFixed(0)} ms, past its 200 ms budget`);
        }
      },
    };
  },

  async safetensors() {
    const { native } = await dist('core/native.js');
    const { readModelFolder } = await dist('model/config.js');
    const { config } = readModelFolder(join(FIXTURES, 'models', 'llama-f32'));
    const valid = readFileSync(join(FIXTURES, 'models', 'llama-f32', 'model.safetensors'));
    const headerEnd = 8 + Number(valid.readBigUInt64LE(0));
    const dir = mkdtempSync(join(tmpdir(), 'mlxlab-fuzz-st-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    return {
      // Byte edits inside the length field and the JSON header, and truncation anywhere.
      arbitrary: fileMutation(valid, headerEnd),
      run: async (mutation) => {
        const file = join(dir, 'model.safetensors');
        writeFileSync(file, applyMutation(valid, mutation));
        const model = await native().NativeModel.load(config, [file], { compute: 'native' });
        model.dispose();
      },
      save: (mutation) => applyMutation(valid, mutation),
    };
  },

  async gguf() {
    const { native } = await dist('core/native.js');
    const { tinyLlamaGguf } = await import(join(FIXTURES, 'bad', 'make.mjs'));
    const valid = tinyLlamaGguf();
    const dir = mkdtempSync(join(tmpdir(), 'mlxlab-fuzz-gguf-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    return {
      arbitrary: fileMutation(valid, valid.length),
      run: async (mutation) => {
        const file = join(dir, 'model.gguf');
        writeFileSync(file, applyMutation(valid, mutation));
        const { model } = await native().NativeModel.loadGguf(file, { compute: 'native' });
        model.dispose();
      },
      save: (mutation) => applyMutation(valid, mutation),
    };
  },
};

/** Edits of a file: up to 8 byte writes below `limit`, then an optional truncation. */
function fileMutation(valid, limit) {
  const edit = fc.tuple(fc.nat({ max: limit - 1 }), fc.oneof(fc.nat({ max: 255 }), fc.constantFrom(0, 0xff, 0x7f, 0x80)));
  return fc.record({ edits: fc.array(edit, { maxLength: 8 }), cut: fc.option(fc.nat({ max: valid.length }), { freq: 4 }) });
}

function applyMutation(valid, { edits, cut }) {
  const buf = Buffer.from(valid);
  for (const [at, byte] of edits) buf[at] = byte;
  return cut === null ? buf : buf.subarray(0, cut);
}

// ---- one target in this process (the child)

async function fuzzTarget(name, seconds, seed) {
  const { MlxLabError } = await dist('core/errors.js');
  const target = await TARGETS[name]();
  mkdirSync(OUT, { recursive: true });
  const current = join(OUT, `${name}-current.json`);
  let runs = 0;
  let rejected = 0;
  const property = fc.asyncProperty(target.arbitrary, async (input) => {
    runs++;
    // Kept before the call: if the process dies, this is the input that killed it.
    writeFileSync(current, JSON.stringify(input, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    try {
      await target.run(input);
    } catch (err) {
      if (!(err instanceof MlxLabError)) throw err;
      rejected++;
    }
  });
  const result = await fc.check(property, { seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false, endOnFailure: true });
  if (result.failed) {
    const file = join(OUT, `${name}-failure.json`);
    writeFileSync(file, JSON.stringify({ counterexample: result.counterexample, error: String(result.errorInstance?.stack ?? result.error) }, null, 2));
    if (target.save) writeFileSync(join(OUT, `${name}-failure.bin`), target.save(result.counterexample[0]));
  }
  rmSync(current, { force: true });
  process.stdout.write(JSON.stringify({ target: name, runs, rejected, failed: result.failed, seed }) + '\n');
  process.exitCode = result.failed ? 1 : 0;
}

// ---- the parent: each target in a child, a summary table

function runChild(name, seconds, seed) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', '--seconds', String(seconds), '--seed', String(seed), name], {
    encoding: 'utf8',
    timeout: (seconds + 120) * 1000, // a hang is a finding too
    env: { ...process.env, MLX_LAB_OFFLINE: '1' },
  });
  const line = child.stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (line) return JSON.parse(line);
  const why = child.error?.code === 'ETIMEDOUT' ? 'hang (timeout)' : child.signal ? `crash (${child.signal})` : `exit ${child.status}`;
  return { target: name, runs: null, failed: true, crash: why, input: join(OUT, `${name}-current.json`), stderr: child.stderr.slice(-2000) };
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { seconds: { type: 'string', default: '30' }, seed: { type: 'string', default: String(Date.now() % 1e9) }, child: { type: 'boolean', default: false } },
});
const seconds = Number(values.seconds);
const seed = Number(values.seed);
if (values.child) {
  await fuzzTarget(positionals[0], seconds, seed);
} else {
  const names = positionals.length > 0 ? positionals : Object.keys(TARGETS);
  const results = names.map((name) => {
    const r = runChild(name, seconds, seed);
    process.stdout.write(JSON.stringify(r) + '\n');
    return r;
  });
  console.log(`\n| target | runs in ${seconds} s | rejected with MlxLabError | result |\n|---|---|---|---|`);
  for (const r of results) console.log(`| ${r.target} | ${r.runs ?? '-'} | ${r.rejected ?? '-'} | ${r.failed ? `FAILED ${r.crash ?? ''} (see fuzz-out/)` : 'ok'} |`);
  process.exitCode = results.some((r) => r.failed) ? 1 : 0;
}
