// Tool calls through the generation API on the tiny chat model: every result carries toolCalls,
// toolCallErrors and rawText as the shared parser reads them; the syntax follows the template.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type Generation, type Model } from '../../src/model/model.js';
import { parseToolCalls } from '../../src/model/tool-calls/index.js';
import { modelDir } from '../helpers/paths.js';

const TOOLS = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

describe('toolCalls from generate(), stream() and generateBatch()', () => {
  let model: Model;
  let dir: string;
  beforeAll(async () => {
    model = await loadModel(modelDir('tiny-chat'));
    dir = mkdtempSync(join(tmpdir(), 'mlx-lab-toolfmt-'));
  });
  afterAll(() => {
    model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const consistent = (g: Generation, format: ReturnType<Model['toolCallFormat']>) => {
    const parsed = parseToolCalls(g.rawText, format);
    expect(g.toolCalls).toEqual(parsed.calls);
    expect(g.toolCallErrors).toEqual(parsed.errors);
    expect(g.text).toBe(parsed.text);
  };

  it('each result holds the parse of its raw text, the same single, streamed and batched', async () => {
    const options = { maxTokens: 16, tools: TOOLS };
    const format = model.toolCallFormat(options);
    expect(format).toBe('hermes'); // the tiny template shows no syntax: <tool_call> blocks
    const one = await model.generate('hello', options);
    consistent(one, format);
    const streamed = await model.stream('hello', options).result;
    expect(streamed.rawText).toBe(one.rawText);
    expect(streamed.toolCalls).toEqual(one.toolCalls);
    const batch = await model.generateBatch(['hello', 'weather in Paris?'], options);
    expect(batch[0].rawText).toBe(one.rawText);
    for (const g of batch) consistent(g, format);
    const off = await model.generate('hello', { ...options, toolFormat: 'none' });
    expect(off.text).toBe(off.rawText);
    expect(off.toolCalls).toEqual([]);
  });

  it('a bad toolFormat is E_ARGUMENT before anything is generated', async () => {
    await expect(model.generate('hello', { toolFormat: 'json' as never })).rejects.toThrow(/E_ARGUMENT|toolFormat: "json" is not a tool-call format/);
  });

  it('follows the chat template of the loaded model', async () => {
    const folder = join(dir, 'mistral-chat');
    cpSync(modelDir('tiny-chat'), folder, { recursive: true });
    const configFile = join(folder, 'tokenizer_config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    // the marker as Mistral templates write it, in a comment so the tiny template still renders
    config.chat_template = `${config.chat_template}{# assistant calls: [TOOL_CALLS][{"name": …}] #}`;
    writeFileSync(configFile, JSON.stringify(config));
    const mistral = await loadModel(folder);
    try {
      expect(mistral.toolCallFormat()).toBe('mistral');
      expect(mistral.toolCallFormat({ toolFormat: 'pythonic' })).toBe('pythonic');
      consistent(await mistral.generate('hello', { maxTokens: 8 }), 'mistral');
    } finally {
      mistral.dispose();
    }
  });
});
