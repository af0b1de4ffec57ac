// The public generation API a Node user expects: a stream that stops the engine when the
// consumer leaves the loop, the Generation reachable without calling next() by hand, and an
// adapter handle that attaches for inference without making an optimizer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, nativeHandle, type Generation, type Model } from '../../src/model/model.js';
import { adapterTrainer } from '../../src/model/adapters.js';
import { native } from '../../src/core/native.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';

/** What a generation decided (timings and memory differ run to run). */
const decided = (g: Generation) => ({ text: g.text, tokens: g.tokens, finishReason: g.finishReason, promptTokens: g.promptTokens });

const LONG = 100_000; // a generation that would run for minutes if nothing cancelled it

describe('Model.stream()', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(modelDir('tiny-chat'));
  });
  afterAll(() => model?.dispose());

  it('gives the Generation through `result` after for await, equal to the streamed text', async () => {
    const stream = model.stream('hello', { maxTokens: 12, chat: false });
    let text = '';
    for await (const chunk of stream) text += chunk.text;
    const g = await stream.result;
    expect(g.text).toBe(text);
    expect(g.generationTokens).toBe(g.tokens.length);
    expect(g.finishReason === 'length' || g.finishReason === 'eos').toBe(true);
    expect(g.promptTokens).toBeGreaterThan(0);
    expect(decided(g)).toEqual(decided(await model.generate('hello', { maxTokens: 12, chat: false })));
  });

  it('gives the Generation through `result` without iterating at all', async () => {
    const g = await model.stream('hello', { maxTokens: 8, chat: false }).result;
    expect(decided(g)).toEqual(decided(await model.generate('hello', { maxTokens: 8, chat: false })));
  });

  it('still returns the Generation as the iterator value', async () => {
    const stream = model.stream('hello', { maxTokens: 8, chat: false });
    let step = await stream.next();
    while (!step.done) step = await stream.next();
    expect(step.value).toEqual(await stream.result);
  });

  it('cancels the native generation when the consumer breaks out of the loop', async () => {
    const stream = model.stream('hello', { maxTokens: LONG, chat: false });
    const start = performance.now();
    let chunks = 0;
    for await (const _ of stream) if (++chunks === 2) break;
    await expect(stream.result).rejects.toMatchObject({ code: 'E_ABORTED', message: /the stream was closed/ });
    expect(performance.now() - start).toBeLessThan(30_000); // 100k tokens would take far longer
    // The engine is free again: a short generation right after runs to its end.
    expect((await model.generate({ tokens: [1, 2, 3] }, { maxTokens: 4 })).generationTokens).toBe(4);
  });

  it('cancels the native generation when the loop body throws', async () => {
    const stream = model.stream('hello', { maxTokens: LONG, chat: false });
    const consume = async () => {
      for await (const _ of stream) throw new Error('consumer failed');
    };
    await expect(consume()).rejects.toThrow('consumer failed');
    await expect(stream.result).rejects.toMatchObject({ code: 'E_ABORTED' });
  });

  it('cancels a generation started through `result` when return() comes before next()', async () => {
    const stream = model.stream('hello', { maxTokens: LONG, chat: false });
    const result = stream.result;
    await stream.return(undefined as never);
    await expect(result).rejects.toMatchObject({ code: 'E_ABORTED' });
  });

  it('keeps the caller signal: an abort rejects iteration and result with E_ABORTED', async () => {
    const controller = new AbortController();
    const stream = model.stream('hello', { maxTokens: LONG, chat: false, signal: controller.signal });
    const consume = async () => {
      for await (const _ of stream) controller.abort();
    };
    await expect(consume()).rejects.toMatchObject({ code: 'E_ABORTED' });
    await expect(stream.result).rejects.toMatchObject({ code: 'E_ABORTED' });
  });
});

describe('Model.attachAdapter()', () => {
  let tmp: string;
  let adapter: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-api-'));
    adapter = join(tmp, 'adapter');
    mkdirSync(adapter);
    copyFileSync(join(FIXTURES, 'lora', 'llama-f32', 'adapters_adam.safetensors'), join(adapter, 'adapters.safetensors'));
    writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ fine_tune_type: 'lora', num_layers: 2, lora_parameters: { rank: 8, scale: 20, dropout: 0 } }));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('changes the logits while attached, makes no optimizer, and dispose() restores the base model', async () => {
    using model = await loadModel(modelDir('llama-f32'), { tokenizer: false, compute: 'native' });
    const rows = [[1, 2, 3, 4]];
    const base = (await model.logits(rows)).data;
    const attached = await model.attachAdapter(adapter);
    expect(attached.attached).toBe(true);
    const trainer = adapterTrainer(attached);
    expect(trainer?.info().trainableParameters).toBeGreaterThan(0);
    expect(trainer?.info().optimizerStateArrays).toBe(0);
    await expect(trainer?.step({ tokens: [1, 2, 3, 4], batch: 1, lengths: [4] })).rejects.toMatchObject({ code: 'E_ARGUMENT', message: /attached for inference/ });
    await expect(trainer?.saveState(join(tmp, 'state.safetensors'))).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    const adapted = (await model.logits(rows)).data;
    expect(adapted).not.toEqual(base);
    attached.dispose();
    expect(attached.attached).toBe(false);
    expect((await model.logits(rows)).data).toEqual(base);
  });

  it('detach() and `await using` restore the base model too', async () => {
    using model = await loadModel(modelDir('llama-f32'), { tokenizer: false, compute: 'native' });
    const rows = [[5, 6, 7]];
    const base = (await model.logits(rows)).data;
    {
      await using _attached = await model.attachAdapter(adapter);
      expect((await model.logits(rows)).data).not.toEqual(base);
    }
    expect((await model.logits(rows)).data).toEqual(base);
    const again = await model.attachAdapter(adapter);
    await again.detach();
    expect((await model.logits(rows)).data).toEqual(base);
  });

  it('a training trainer still makes its optimizer state', async () => {
    using model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
    const trainer = await native().NativeTrainer.create(nativeHandle(model), { lora: { numLayers: 2 } });
    try {
      expect(trainer.info().optimizerStateArrays).toBeGreaterThan(0);
    } finally {
      trainer.dispose();
    }
  });
});
