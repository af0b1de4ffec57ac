/**
 * Fusing a LoRA / DoRA / full fine-tuning adapter into its base model and saving the result as
 * a model folder mlx-lm loads (mlx_lm.fuse), plus the folder writing shared with convert:
 * config.json with mlx-lm's `quantization` and `quantization_config` blocks, shards with
 * model.safetensors.index.json, tokenizer files and generation config. Nothing is half-written:
 * everything goes into a temporary folder next to the target, is fsynced, then renamed into
 * place.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep, } from 'node:path';
import { adapterFiles, loraConfigFrom } from '../model/adapters.js';
import { MlxLabError } from '../core/errors.js';
import { assertNotAnInput } from '../core/paths.js';
import { tokenizerFromGguf } from '../model/gguf-tokenizer.js';
import { copyFileAtomic, fsyncPath, removeStaleTemps, tempPath, writeFileAtomic } from '../core/atomic.js';
import type { ModelConfig } from '../model/config.js';
import { readJsonObject } from '../core/json.js';
import { Model, nativeHandle } from '../model/model.js';
import { resolveModelPath } from '../hub/resolve.js';
import { native, type GgufMetadata, type NativeControl, type NativeFuseProgress, type NativeModel, type NativeQuantSpec, type NativeSavedWeights } from '../core/native.js';

/** The bits and group sizes fuse and convert accept (mlx-lm's affine quantization). */
export const QUANT_BITS = [2, 3, 4, 5, 6, 8] as const;
export const QUANT_GROUP_SIZES = [32, 64, 128] as const;

/** Progress: "load" (reading the model), "fuse" (per layer), "save" (per shard), "files" (config and tokenizer), "done". */
export interface FuseProgress {
  stage: 'load' | 'fuse' | 'save' | 'files' | 'done';
  done: number;
  total: number;
  /** The layer, shard or file just finished (the output folder for "done"). */
  name: string;
}

export interface FuseOptions {
  /** A loaded model, or a model folder / .gguf file (loaded and freed here). */
  model: Model | string;
  /** The adapter folder (adapters.safetensors + adapter_config.json) or its adapters.safetensors. */
  adapter: string;
  /** The folder to write. */
  out: string;
  /**
   * Re-quantize the base's quantized layers (those with its default spec) to these bits;
   * default: each layer keeps its own quantization. A full-precision base is quantized as
   * mlx_lm.convert -q does. 2, 3, 4, 5, 6 or 8.
   */
  bits?: number;
  /** Group size with bits (default: the base's, else 64). 32, 64 or 128. */
  groupSize?: number;
  /** Save every layer in full precision (mlx_lm.fuse --dequantize). */
  dequantize?: boolean;
  /** Replace `out` when it exists (it is refused otherwise). */
  force?: boolean;
  /** Largest shard in bytes (mlx-lm's 5 GiB by default). */
  maxShardBytes?: number;
  onProgress?: (progress: FuseProgress) => void;
  /** Stops at the next layer or shard; nothing is written (E_ABORTED). */
  signal?: AbortSignal;
}

export interface SavedModelFolder {
  out: string;
  /** Shard files written. */
  files: string[];
  /** The config.json written. */
  config: Record<string, unknown>;
  /** Its quantization block (undefined: full precision). */
  quantization?: Record<string, unknown>;
  /** Tokenizer and generation files written or copied. */
  tokenizerFiles: string[];
  totalSize: number;
  totalParameters: number;
  layers: NativeSavedWeights['layers'];
}

// ------------------------------------------------------------------ shared with convert

/** Check bits / group size (E_ARGUMENT naming the value and the allowed set). */
export function checkQuantChoice(bits: number | undefined, groupSize: number | undefined): void {
  if (bits !== undefined && !(QUANT_BITS as readonly number[]).includes(bits)) {
    throw new MlxLabError('E_ARGUMENT', `bits ${bits} is not supported (choose one of ${QUANT_BITS.join(', ')})`);
  }
  if (groupSize !== undefined && !(QUANT_GROUP_SIZES as readonly number[]).includes(groupSize)) {
    throw new MlxLabError('E_ARGUMENT', `group size ${groupSize} is not supported (choose one of ${QUANT_GROUP_SIZES.join(', ')})`);
  }
}

/**
 * Refuse a target that exists (unless force) or that would swallow an input (real paths: see
 * assertNotAnInput).
 * @param inputs paths the operation reads (model, adapter)
 */
export function checkTarget(out: string, force: boolean | undefined, inputs: string[]): string {
  const target = resolve(out);
  assertNotAnInput(target, inputs, 'the output folder');
  if (existsSync(target)) {
    if (!force) throw new MlxLabError('E_ARGUMENT', `${target} already exists (pass force / --force to replace it)`);
    if (!statSync(target).isDirectory()) throw new MlxLabError('E_ARGUMENT', `${target} exists and is not a folder`);
  }
  return target;
}

function randomSuffix(): string {
  return `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** config.json's quantization block as mlx-lm writes it: defaults, then per-module specs. */
export function quantizationBlock(q: NativeSavedWeights['quantization']): Record<string, unknown> | undefined {
  if (!q) return undefined;
  const block: Record<string, unknown> = {};
  if (q.base) Object.assign(block, { group_size: q.base.group_size, bits: q.base.bits, mode: q.base.mode });
  for (const path of Object.keys(q.overrides).sort()) {
    const spec = q.overrides[path];
    block[path] = spec === false ? false : specEntry(spec);
  }
  return block;
}

function specEntry(spec: NativeQuantSpec): Record<string, unknown> {
  const e: Record<string, unknown> = { group_size: spec.group_size, bits: spec.bits };
  if (spec.mode !== 'affine') e.mode = spec.mode;
  return e;
}

const QUANT_KEYS = ['group_size', 'bits', 'mode'];

/** A quantization block reduced to what it means: the default spec and the modules that differ. */
function quantMeaning(block: unknown): string | undefined {
  if (typeof block !== 'object' || block === null) return undefined;
  const b = block as Record<string, unknown>;
  const spec = (v: unknown) => {
    if (v === false || typeof v !== 'object' || v === null) return 'none';
    const o = v as Record<string, unknown>;
    return `${o.group_size}/${o.bits}/${o.mode ?? 'affine'}`;
  };
  const base = spec(b);
  const overrides = Object.keys(b)
    .filter((k) => !QUANT_KEYS.includes(k) && !['quant_method', 'linear_class', 'quantization_mode'].includes(k))
    .sort()
    .map((k) => [k, spec(b[k])] as const)
    .filter(([, v]) => v !== base);
  return JSON.stringify([base, overrides]);
}

/** mlx-lm's save_config: drop _name_or_path / vision_config, set both quantization blocks, sort keys. */
export function finishConfig(raw: Record<string, unknown>, quantization: Record<string, unknown> | undefined): Record<string, unknown> {
  const config: Record<string, unknown> = { ...raw };
  delete config._name_or_path;
  delete config.vision_config;
  // A block that says the same as the base's stays as the base wrote it (mlx_lm.fuse leaves
  // config.json's quantization alone).
  const original = raw.quantization ?? raw.quantization_config;
  if (quantization && original !== undefined && quantMeaning(original) === quantMeaning(quantization)) {
    quantization = original as Record<string, unknown>;
  }
  delete config.quantization;
  delete config.quantization_config;
  if (quantization) {
    config.quantization = quantization;
    config.quantization_config = quantization;
  }
  return Object.fromEntries(Object.keys(config).sort().map((k) => [k, config[k]]));
}

/** The shortest decimal that rounds to the same float32 (1e-05, not 9.999999747378752e-06). */
function float32Decimal(x: number): number {
  const f = Math.fround(x);
  for (let p = 1; p <= 17; p++) {
    const d = Number(f.toPrecision(p));
    if (Math.fround(d) === f) return d;
  }
  return x;
}

/** The Hugging Face class name of each model_type a GGUF can hold. */
const GGUF_CLASSES: Record<string, string> = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  gemma3_text: 'Gemma3ForCausalLM',
};

function ggufClass(modelType: string): string {
  const name = GGUF_CLASSES[modelType];
  if (!name) throw new MlxLabError('E_GGUF', `a GGUF model of type "${modelType}" has no config.json mapping (supported: ${Object.keys(GGUF_CLASSES).join(', ')})`);
  return name;
}

/** config.json for a model loaded from a GGUF (llama, qwen2, qwen3, gemma3): what its metadata and weights say. */
export function configFromGguf(config: ModelConfig, metadata: GgufMetadata): Record<string, unknown> {
  const gemma = config.model_type === 'gemma3_text';
  const out: Record<string, unknown> = {
    architectures: [ggufClass(config.model_type)],
    model_type: config.model_type,
    // Gemma 3's GELU (tanh) under transformers' key for it; the others' SiLU.
    ...(gemma ? { hidden_activation: 'gelu_pytorch_tanh' } : { hidden_act: 'silu' }),
    hidden_size: config.hidden_size,
    num_hidden_layers: config.num_hidden_layers,
    intermediate_size: config.intermediate_size,
    num_attention_heads: config.num_attention_heads,
    num_key_value_heads: config.num_key_value_heads,
    head_dim: config.head_dim,
    vocab_size: config.vocab_size,
    rms_norm_eps: float32Decimal(config.rms_norm_eps),
    rope_theta: float32Decimal(config.rope_theta),
    tie_word_embeddings: config.tie_word_embeddings,
  };
  if (config.max_position_embeddings) out.max_position_embeddings = config.max_position_embeddings;
  if (config.rope_scaling && config.rope_scaling.type !== 'default') {
    out.rope_scaling = { ...config.rope_scaling, rope_type: config.rope_scaling.type };
  }
  if (gemma) {
    // What native/io/gguf.cpp derived from the metadata (and llama.cpp's defaults), as mlx-lm reads it.
    out.query_pre_attn_scalar = config.query_pre_attn_scalar;
    out.rope_local_base_freq = float32Decimal(config.rope_local_base_freq ?? 10000);
    out.sliding_window = config.sliding_window;
    out.sliding_window_pattern = config.sliding_window_pattern;
  }
  const bos = metadata['tokenizer.ggml.bos_token_id'];
  const eos = metadata['tokenizer.ggml.eos_token_id'];
  if (typeof bos === 'number') out.bos_token_id = bos;
  if (typeof eos === 'number') out.eos_token_id = eos;
  return out;
}

/** Tokenizer and generation files copied from a model folder when present. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'chat_template.jinja',
  'chat_template.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
  'generation_config.json',
];

/** Where a model comes from, for its config.json and tokenizer files. */
export type ModelSource =
  | { kind: 'folder'; dir: string; raw: Record<string, unknown> }
  | { kind: 'gguf'; file: string; config: ModelConfig; metadata: GgufMetadata };

/** A model to work on: its native handle, where it came from, and how to free it if we loaded it. */
export interface OpenedModel {
  handle: NativeModel;
  source: ModelSource;
  path: string;
  /** Frees the model when this module loaded it (a no-op for a caller's Model). */
  release(): void;
}

/** Open a model for fuse / convert: a caller's Model as it is, or load a path (stored weights, no float32 copies). */
export async function openModel(model: Model | string): Promise<OpenedModel> {
  if (typeof model !== 'string') {
    if (model.disposed) throw new MlxLabError('E_DISPOSED', `${model.path}: the model has been disposed`);
    const source: ModelSource = model.path.endsWith('.gguf')
      ? { kind: 'gguf', file: model.path, config: model.config, metadata: await native().ggufMetadata(model.path) }
      : { kind: 'folder', dir: model.path, raw: readJsonObject(join(model.path, 'config.json'), { code: 'E_CONFIG' }) };
    return { handle: nativeHandle(model), source, path: model.path, release: () => {} };
  }
  const path = await resolveModelPath(model);
  if (path.endsWith('.gguf')) {
    if (!existsSync(path) || !statSync(path).isFile()) throw new MlxLabError('E_MODEL_LOAD', `${path}: GGUF file not found`);
    const loaded = await native().NativeModel.loadGguf(path, { compute: 'native' });
    return {
      handle: loaded.model,
      source: { kind: 'gguf', file: path, config: loaded.config, metadata: loaded.metadata },
      path,
      release: () => loaded.model.dispose(),
    };
  }
  const m = await Model.load(path, { tokenizer: false, compute: 'native' });
  return {
    handle: nativeHandle(m),
    source: { kind: 'folder', dir: path, raw: readJsonObject(join(path, 'config.json'), { code: 'E_CONFIG' }) },
    path,
    release: () => m.dispose(),
  };
}

/** The base config.json (before quantization is set) of a model source. */
function baseConfig(source: ModelSource): Record<string, unknown> {
  return source.kind === 'folder' ? source.raw : configFromGguf(source.config, source.metadata);
}

/** Write tokenizer / generation files into dir; returns their names. */
function writeTokenizerFiles(source: ModelSource, dir: string): string[] {
  const written: string[] = [];
  if (source.kind === 'folder') {
    for (const name of TOKENIZER_FILES) {
      const from = join(source.dir, name);
      if (!existsSync(from) || !statSync(from).isFile()) continue;
      const to = join(dir, name);
      copyFileAtomic(from, to);
      written.push(name);
    }
    return written;
  }
  const files = tokenizerFromGguf(source.metadata, source.file);
  writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizer));
  writeFileAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig, null, 2) + '\n');
  written.push('tokenizer.json', 'tokenizer_config.json');
  if (Object.keys(files.generationConfig).length > 0) {
    writeFileAtomic(join(dir, 'generation_config.json'), JSON.stringify(files.generationConfig, null, 2) + '\n');
    written.push('generation_config.json');
  }
  return written;
}

/**
 * Write a model folder atomically: `writeWeights(tmp)` puts the shards into a temporary folder
 * next to `out`; config.json, the index and the tokenizer files follow; then the folder is
 * fsynced and renamed into place (an existing `out`, allowed by `force`, is renamed away first
 * and deleted after). On any failure the temporary folder is removed and `out` is untouched.
 */
export async function writeModelFolder(
  target: string,
  source: ModelSource,
  writeWeights: (tmp: string, control: NativeControl) => Promise<NativeSavedWeights>,
  onProgress?: (p: FuseProgress) => void,
  signal?: AbortSignal,
): Promise<SavedModelFolder> {
  throwIfAborted(signal, target);
  const report = (p: FuseProgress) => {
    try {
      onProgress?.(p);
    } catch {
      // a progress callback must not break the write
    }
  };
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  removeStaleTemps(parent, `.${basename(target)}.`); // a killed earlier write of this folder
  const tmp = tempPath(target);
  mkdirSync(tmp);
  let result: SavedModelFolder;
  const control = new (native().NativeControl)();
  const cancel = () => control.cancel();
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    const saved = await writeWeights(tmp, control).catch((err) => {
      throwIfAborted(signal, target);
      throw err;
    });
    const config = finishConfig(baseConfig(source), quantizationBlock(saved.quantization));
    const quantization = config.quantization as Record<string, unknown> | undefined;
    writeFileAtomic(join(tmp, 'config.json'), JSON.stringify(config, null, 4));
    const index = {
      metadata: { total_size: saved.totalSize, total_parameters: saved.totalParameters },
      weight_map: saved.weightMap,
    };
    writeFileAtomic(join(tmp, 'model.safetensors.index.json'), JSON.stringify(index, null, 4));
    const tokenizerFiles = writeTokenizerFiles(source, tmp);
    report({ stage: 'files', done: 1, total: 1, name: 'config.json, index, tokenizer' });
    fsyncPath(tmp);
    throwIfAborted(signal, target);
    result = {
      out: target,
      files: saved.files,
      config,
      quantization,
      tokenizerFiles,
      totalSize: saved.totalSize,
      totalParameters: saved.totalParameters,
      layers: saved.layers,
    };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
  // Swap into place.
  let old: string | undefined;
  try {
    if (existsSync(target)) {
      old = join(parent, `.${basename(target)}.old-${randomSuffix()}`);
      renameSync(target, old);
    }
    renameSync(tmp, target);
  } catch (cause) {
    if (old && !existsSync(target)) {
      try {
        renameSync(old, target);
        old = undefined;
      } catch {
        // leave the old folder where it is; the message says where
      }
    }
    rmSync(tmp, { recursive: true, force: true });
    throw new MlxLabError(
      'E_MODEL_LOAD',
      `${target}: cannot move the new model folder into place (${(cause as Error).message})` + (old ? `; the previous folder is at ${old}` : ''),
      { cause },
    );
  }
  fsyncPath(parent);
  if (old) rmSync(old, { recursive: true, force: true });
  report({ stage: 'done', done: 1, total: 1, name: target });
  return result;
}

/** E_ABORTED when `signal` has fired: nothing was written to `target`. */
function throwIfAborted(signal: AbortSignal | undefined, target: string): void {
  if (!signal?.aborted) return;
  const reason = signal.reason instanceof Error ? signal.reason.message : 'aborted';
  throw new MlxLabError('E_ABORTED', `${target}: not written, interrupted (${reason})`, { cause: signal.reason });
}

/** Leftover temporary folders of interrupted runs next to `out` (for cleanup tools and tests). */
export function temporaryFolders(out: string): string[] {
  const target = resolve(out);
  const parent = dirname(target);
  if (!existsSync(parent)) return [];
  const prefix = `.${basename(target)}.`;
  return readdirSync(parent)
    .filter((n) => n.startsWith(prefix) && (n.includes('.tmp-') || n.includes('.old-')))
    .map((n) => parent + sep + n);
}

// ------------------------------------------------------------------ fuse

/**
 * Merge an adapter into its base and save the model folder (mlx_lm.fuse). The base's stored
 * weights are used (never the float32 compute copies); layers without an adapter keep their
 * stored weights unless bits / group size change their quantization.
 */
export async function fuse(options: FuseOptions): Promise<SavedModelFolder> {
  const { bits, groupSize, dequantize, onProgress } = options;
  checkQuantChoice(bits, groupSize);
  if (dequantize && (bits !== undefined || groupSize !== undefined)) {
    throw new MlxLabError('E_ARGUMENT', 'dequantize keeps full precision: give either dequantize or bits / group size');
  }
  const { file, configFile } = adapterFiles(await resolveModelPath(options.adapter));
  const lora = loraConfigFrom(configFile);
  const modelPath = typeof options.model === 'string' ? await resolveModelPath(options.model) : options.model.path;
  const target = checkTarget(options.out, options.force, [modelPath, dirname(file)]);

  onProgress?.({ stage: 'load', done: 0, total: 1, name: modelPath });
  const opened = await openModel(typeof options.model === 'string' ? modelPath : options.model);
  try {
    onProgress?.({ stage: 'load', done: 1, total: 1, name: modelPath });
    return await writeModelFolder(
      target,
      opened.source,
      async (tmp, control) => {
        try {
          return await native().fuseModel(
            opened.handle,
            { adapterFile: file, lora, outDir: tmp, dequantize, bits, groupSize, maxShardBytes: options.maxShardBytes },
            (p: NativeFuseProgress) => onProgress?.(p),
            control,
          );
        } catch (err) {
          throw withContext(err, `fusing ${options.adapter} into ${opened.path}`);
        }
      },
      onProgress,
      options.signal,
    );
  } finally {
    opened.release();
  }
}

/** Prefix an adapter / model error with what was being fused (same code). */
function withContext(err: unknown, context: string): unknown {
  if (err instanceof MlxLabError && (err.code === 'E_WEIGHTS' || err.code === 'E_CONFIG')) {
    const e = new MlxLabError(err.code, `${context}: ${err.message}`, { cause: err });
    return e;
  }
  return err;
}
