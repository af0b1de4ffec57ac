// The engine thread owns MLX work: the event loop stays live while it runs, calls queue in
// order, and an AbortSignal cancels a generation between tokens.
import { describe, expect, it } from 'vitest';
import { native } from '../../src/core/native.js';
import { loadModel, nativeHandle } from '../../src/model/model.js';
import { modelDir } from '../helpers/paths.js';

/** Count timer ticks (every 5 ms) while `work` runs. */
async function ticksDuring<T>(work: () => Promise<T>): Promise<{ ticks: number; ms: number; value: T }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const start = performance.now();
  try {
    const value = await work();
    return { ticks, ms: performance.now() - start, value };
  } finally {
    clearInterval(timer);
  }
}

describe('engine', () => {
  it('keeps the event loop running during long native work', async () => {
    const { ticks, ms } = await ticksDuring(() => native().sleepOnEngine(400));
    expect(ms).toBeGreaterThanOrEqual(390);
    expect(ticks).toBeGreaterThan(30); // ~80 at 5 ms; a blocked loop gives 0 or 1
  });

  it('keeps the event loop running during a long load and a long generation', async () => {
    const load = await ticksDuring(() => loadModel(modelDir('qwen3_moe-f32'), { tokenizer: false }));
    using model = load.value;
    expect(load.ticks).toBeGreaterThanOrEqual(Math.floor(load.ms / 5) - 10);
    const gen = await ticksDuring(() => model.generate({ tokens: [1, 2, 3] }, { maxTokens: 400 }));
    expect(gen.value.generationTokens).toBe(400);
    console.log(`load ${load.ms.toFixed(0)} ms, ${load.ticks} ticks; generation ${gen.ms.toFixed(0)} ms, ${gen.ticks} ticks`);
    expect(gen.ms).toBeGreaterThan(50);
    expect(gen.ticks).toBeGreaterThan(gen.ms / 5 / 3); // at least a third of the ideal count
  });

  it('cancels a generation through an AbortSignal', async () => {
    using model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
    const controller = new AbortController();
    const started = model.generate({ tokens: [1, 2, 3] }, { maxTokens: 100_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(started).rejects.toMatchObject({ code: 'E_ABORTED' });
  });

  it('streams tokens as they are made', async () => {
    using model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
    const seen: number[] = [];
    const result = await nativeHandle(model).generate({ prompts: [[1, 2, 3]], maxTokens: 10 }, new (native().NativeControl)(1), (_s, t) => seen.push(t));
    expect(seen).toEqual(Array.from(result.sequences[0].tokens));
  });

  it('turns bad arguments into MlxLabError, not a crash', async () => {
    using model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
    expect(() => nativeHandle(model).generate({ prompts: [] }, new (native().NativeControl)(1))).toThrow(/prompts must not be empty/);
    expect(() => nativeHandle(model).generate({ prompts: [[1]], topP: 2 }, new (native().NativeControl)(1))).toThrow(/topP/);
    expect(() => nativeHandle(model).generate({ prompts: [[1]] }, {} as never)).toThrow(/NativeControl/);
    try {
      nativeHandle(model).generate({ prompts: [[1]] }, {} as never);
    } catch (e) {
      expect((e as { code: string }).code).toBe('E_ARGUMENT');
    }
  });
});
