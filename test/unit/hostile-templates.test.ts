// Chat templates come with model folders: untrusted code (issue 21). A runaway render fails with
// E_TEMPLATE within its budget instead of a V8 heap abort (range(10**9)) or a hang (nested loops);
// unknown roles and non-text content parts are errors naming the message, text parts are joined.
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { ChatTemplate, type ChatMessage } from '../../src/model/chat.js';
import { expectError } from '../helpers/errors.js';
import { modelDir } from '../helpers/paths.js';

const tok = Tokenizer.fromFolder(modelDir('tiny-chat'));
const SIMPLE = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}";
const hi: ChatMessage[] = [{ role: 'user', content: 'hi' }];
const render = (template: string, messages = hi) => () => new ChatTemplate(template, tok, 'hostile').render(messages);

describe('template budget', () => {
  it('range(10**9) is refused at once, not a V8 heap abort', () => {
    const t0 = performance.now();
    expectError(render('{% for i in range(10**9) %}x{% endfor %}'), 'E_TEMPLATE', 'hostile: chat template "default" failed to render: range() of 1000000000 items is over the limit of 20000');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a nested loop ends at the time budget', () => {
    process.env.MLX_LAB_TEMPLATE_TIMEOUT_MS = '300';
    try {
      const t0 = performance.now();
      expectError(render('{% for i in range(20000) %}{% for j in range(20000) %}{% endfor %}{% endfor %}'), 'E_TEMPLATE', /ran past its 300 ms budget after \d+ steps/);
      expect(performance.now() - t0).toBeLessThan(3000);
    } finally {
      delete process.env.MLX_LAB_TEMPLATE_TIMEOUT_MS;
    }
  });

  it('a string doubled past the size limit fails before it exhausts the heap', () => {
    const doubling = '{% set ns = namespace(s="ab") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}';
    expectError(render(doubling), 'E_TEMPLATE', /produced a string of more than 16777216 characters/);
  });

  it('endless recursion of a macro is E_TEMPLATE', () => {
    expectError(render('{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}'), 'E_TEMPLATE', 'hostile: chat template "default" failed to render');
  });

  it('an ordinary template is untouched', () => {
    expect(render(SIMPLE)()).toBe('<user>hi');
  });
});

describe('messages', () => {
  it('an unknown role is an error naming the message and the role', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'a' }, { role: 'narrator', content: 'b' }];
    expectError(render(SIMPLE, messages), 'E_TEMPLATE', 'hostile: message 1 has an unknown role "narrator" (known: system, developer, user, assistant, tool, ipython, function)');
  });

  it('content as text parts is joined; other parts are refused by index', () => {
    const parts: ChatMessage[] = [{ role: 'user', content: [{ type: 'text', text: 'one ' }, { type: 'text', text: 'two' }] }];
    expect(render(SIMPLE, parts)()).toBe('<user>one two');
    const image: ChatMessage[] = [{ role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image_url', image_url: { url: 'x' } }] }];
    expectError(render(SIMPLE, image), 'E_TEMPLATE', 'hostile: message 0: content part 1 is of type "image_url"; only text parts are supported');
  });
});
