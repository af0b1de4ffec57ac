/**
 * Attaching a saved adapter (mlx-lm's adapters.safetensors + adapter_config.json) to a loaded
 * model, for evals and generation. The model then generates with it until the handle is
 * detached or disposed. An attached adapter is for inference: it has no optimizer and no
 * optimizer state (the native trainer is made with `inference: true`).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import { readJsonObject } from '../core/json.js';
import { RUN_FILES, RunFiles } from '../core/run-files.js';
import { native, type NativeLoraConfig, type NativeModel, type NativeTrainer } from '../core/native.js';

/** An adapter attached to a model; detach() or dispose() makes it the base model again. */
export interface AttachedAdapter {
  file: string;
  config: NativeLoraConfig;
  /** Remove the adapter (after the work already queued): the model is the base model again. */
  detach(): Promise<void>;
  /** Remove the adapter without waiting (the native side detaches after the queued work). */
  dispose(): void;
  /** Whether the adapter is still attached. */
  readonly attached: boolean;
  [Symbol.asyncDispose](): Promise<void>;
  [Symbol.dispose](): void;
}

/** The native trainer behind each attached adapter (for this package's tests; not public API). */
const trainers = new WeakMap<AttachedAdapter, NativeTrainer>();

/** The native trainer behind an attached adapter (not public API). */
export function adapterTrainer(adapter: AttachedAdapter): NativeTrainer | undefined {
  return trainers.get(adapter);
}

/** adapters.safetensors and adapter_config.json of a folder or a file path. */
export function adapterFiles(path: string): { file: string; configFile: string } {
  if (!existsSync(path)) throw new MlxLabError('E_ARGUMENT', `${path}: adapter not found`);
  const file = statSync(path).isDirectory() ? new RunFiles(path).adapter : path;
  if (!existsSync(file)) throw new MlxLabError('E_ARGUMENT', `${path}: no ${RUN_FILES.adapter}`);
  const configFile = new RunFiles(dirname(file)).adapterConfig;
  if (!existsSync(configFile)) throw new MlxLabError('E_CONFIG', `${dirname(file)}: ${RUN_FILES.adapterConfig} not found (it says which layers the adapter covers)`);
  return { file, configFile };
}

/** The LoRA layout an adapter_config.json describes (mlx-lm's keys). */
export function loraConfigFrom(configFile: string): NativeLoraConfig {
  const raw = readJsonObject(configFile, { code: 'E_CONFIG' });
  const lp = (raw.lora_parameters ?? {}) as Record<string, unknown>;
  const type = (raw.fine_tune_type ?? (raw.use_dora ? 'dora' : 'lora')) as string;
  if (!['lora', 'dora', 'full'].includes(type)) throw new MlxLabError('E_CONFIG', `${configFile}: "fine_tune_type" must be lora, dora or full, got "${type}"`);
  const numLayers = raw.num_layers ?? raw.lora_layers ?? 16;
  if (typeof numLayers !== 'number' || !Number.isInteger(numLayers)) throw new MlxLabError('E_CONFIG', `${configFile}: "num_layers" must be an integer`);
  return {
    rank: typeof lp.rank === 'number' ? lp.rank : 8,
    scale: typeof lp.scale === 'number' ? lp.scale : 20,
    dropout: 0,
    keys: Array.isArray(lp.keys) ? (lp.keys as string[]) : null,
    numLayers,
    fineTuneType: type as NativeLoraConfig['fineTuneType'],
  };
}

/** The handle of an adapter a native trainer holds attached (it takes the trainer over). */
export function adapterHandle(trainer: NativeTrainer, file: string, config: NativeLoraConfig): AttachedAdapter {
  const detach = async () => {
    if (!trainer.disposed) {
      await trainer.detach();
      trainer.dispose();
    }
  };
  const dispose = () => trainer.dispose();
  const adapter: AttachedAdapter = {
    file,
    config,
    detach,
    dispose,
    get attached() {
      return !trainer.disposed;
    },
    [Symbol.asyncDispose]: detach,
    [Symbol.dispose]: dispose,
  };
  trainers.set(adapter, trainer);
  return adapter;
}

/** Attach an adapter folder (or file) to a native model, without an optimizer (Model.attachAdapter uses it). */
export async function attachToNative(handle: NativeModel, path: string): Promise<AttachedAdapter> {
  const { file, configFile } = adapterFiles(path);
  const config = loraConfigFrom(configFile);
  const trainer: NativeTrainer = await native()
    .NativeTrainer.create(handle, { lora: config, inference: true })
    .catch((err: unknown) => {
      // A layout that does not fit the model (keys, num_layers): name the file that says so.
      if (err instanceof MlxLabError && err.code === 'E_CONFIG') throw new MlxLabError('E_CONFIG', `${configFile}: ${err.message}`, { cause: err });
      throw err;
    });
  try {
    await trainer.loadAdapter(file);
  } catch (err) {
    trainer.dispose();
    throw err;
  }
  return adapterHandle(trainer, file, config);
}

/** Attach an adapter folder (or file) to the model: the same as `model.attachAdapter(path)`. */
export async function attachAdapter(model: { attachAdapter(path: string): Promise<AttachedAdapter> }, path: string): Promise<AttachedAdapter> {
  return model.attachAdapter(path);
}
