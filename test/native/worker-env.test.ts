// The addon keeps its JS references (constructors, the error class) per environment: a
// worker_thread that loads it registers its own, and the main thread's still work after the
// worker's environment is gone.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { loadModel, nativeHandle } from '../../src/model/model.js';
import { MlxLabError } from '../../src/core/errors.js';
import { native } from '../../src/core/native.js';
import { ROOT, modelDir } from '../helpers/paths.js';

// In the worker: its own error class; a wrong model argument must throw that class.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.gypBuild)(workerData.root);
class WorkerError extends Error { constructor(code, message) { super(message); this.code = code; } }
addon.setErrorClass(WorkerError);
const seen = [];
for (const call of [() => addon.fuseModel({}, {}), () => addon.NativeTrainer.create({}, {})]) {
  try { call(); seen.push('no error'); } catch (e) { seen.push((e instanceof WorkerError) + ' ' + e.code + ' ' + e.message); }
}
parentPort.postMessage(seen);
`;

function runWorker(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const gypBuild = join(ROOT, 'node_modules', 'node-gyp-build');
    const worker = new Worker(WORKER, { eval: true, workerData: { root: ROOT, gypBuild } });
    let seen: string[] = [];
    worker.on('message', (m: string[]) => (seen = m));
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 ? resolve(seen) : reject(new Error(`worker exit ${code}`))));
  });
}

describe('per-environment references', () => {
  it('a worker gets its own error class and constructors; the main thread keeps its own', async () => {
    const addon = native();
    expect(await runWorker()).toEqual([
      'true E_ARGUMENT model must be a NativeModel',
      'true E_ARGUMENT model must be a NativeModel',
    ]);
    // After the worker's environment is torn down, the main thread's references are intact.
    expect(() => addon.fuseModel({} as never, {} as never)).toThrow(MlxLabError);
    const model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
    const trainer = await addon.NativeTrainer.create(nativeHandle(model), { seed: 1, lora: { numLayers: -1 } });
    expect(trainer.info().trainableParameters).toBeGreaterThan(0);
    trainer.dispose();
    model.dispose();
  });
});
