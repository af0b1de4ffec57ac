/**
 * Converting models into MLX model folders (mlx_lm.convert):
 * - a GGUF file (llama, qwen2, qwen3 or gemma3 architecture; F32 / F16 / Q4_0 / Q4_1 / Q8_0 tensors) to an mlx-lm
 *   folder with tokenizer.json, tokenizer_config.json (chat template) and generation_config.json
 *   built from its metadata; quantized tensors stay quantized as MLX loads them (affine, group
 *   size 32) unless `dequantize`;
 * - a full-precision MLX / Hugging Face safetensors folder to a quantized one (`quantize` with
 *   `bits` / `groupSize`: every linear, expert and embedding layer whose input dims the group
 *   size divides, as mlx_lm.utils.quantize_model), or a quantized one to full precision.
 * The folder is written atomically (see writeModelFolder in fuse.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { resolveModelPath } from '../hub/resolve.js';
import { MlxLabError } from '../core/errors.js';
import { checkQuantChoice, checkTarget, openModel, writeModelFolder, type FuseProgress, type SavedModelFolder } from './fuse.js';
import { native, type GgufHeader, type NativeFuseProgress } from '../core/native.js';

export interface ConvertOptions {
  /** A .gguf file or a model folder (mlx-lm / Hugging Face safetensors layout). */
  input: string;
  /** The folder to write. */
  out: string;
  /** Quantize the full-precision layers (mlx_lm.convert -q). */
  quantize?: boolean;
  /** With quantize: 2, 3, 4, 5, 6 or 8 (default 4). */
  bits?: number;
  /** With quantize: 32, 64 or 128 (default 64). */
  groupSize?: number;
  /** Every quantized layer to full precision. */
  dequantize?: boolean;
  /** Cast floating weights first (default: the config's torch_dtype, as mlx_lm.convert). */
  dtype?: 'float16' | 'bfloat16' | 'float32';
  /** Replace `out` when it exists (it is refused otherwise). */
  force?: boolean;
  /** Largest shard in bytes (mlx-lm's 5 GiB by default). */
  maxShardBytes?: number;
  onProgress?: (progress: FuseProgress) => void;
  /** Stops at the next layer or shard; nothing is written (E_ABORTED). */
  signal?: AbortSignal;
}

const DTYPES = ['float16', 'bfloat16', 'float32'] as const;

// ------------------------------------------------------------------ GGUF header

/** The GGUF architectures (general.architecture) import takes, as native/io/gguf_arch.cpp lists them. */
export const GGUF_ARCHITECTURES = ['llama', 'qwen2', 'qwen3', 'gemma3'] as const;

/** The tensor types convert takes from a GGUF. */
export const GGUF_CONVERT_TYPES = ['F32', 'F16', 'Q4_0', 'Q4_1', 'Q8_0'] as const;

/** The header of a GGUF file (v2/v3): scalar metadata and the tensors' names, shapes and types (the native reader). */
export function readGgufHeader(path: string): GgufHeader {
  return native().readGgufHeader(path);
}

/** Refuse GGUF files convert does not take: another architecture, or tensors of other types. */
export function checkGgufForConvert(path: string): GgufHeader {
  const header = readGgufHeader(path);
  const arch = header.metadata['general.architecture'];
  if (typeof arch !== 'string') throw new MlxLabError('E_GGUF', `${path}: GGUF metadata "general.architecture" is missing`);
  if (!(GGUF_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new MlxLabError('E_GGUF', `${path}: GGUF architecture "${arch}" is not supported (supported: ${GGUF_ARCHITECTURES.join(', ')})`);
  }
  const bad = header.tensors.filter((t) => !(GGUF_CONVERT_TYPES as readonly string[]).includes(t.type));
  if (bad.length > 0) {
    const types = [...new Set(bad.map((t) => t.type))].join(', ');
    throw new MlxLabError(
      'E_GGUF',
      `${path}: tensor "${bad[0].name}" has type ${bad[0].type}` +
        (bad.length > 1 ? ` (and ${bad.length - 1} more tensors of types ${types})` : '') +
        `; convert supports ${GGUF_CONVERT_TYPES.join(', ')}`,
    );
  }
  return header;
}

// ------------------------------------------------------------------ convert

/** Convert a GGUF file or a model folder into an MLX model folder (see the module comment). */
export async function convert(options: ConvertOptions): Promise<SavedModelFolder> {
  const { quantize, dequantize, bits, groupSize, onProgress } = options;
  checkQuantChoice(bits, groupSize);
  if (quantize && dequantize) throw new MlxLabError('E_ARGUMENT', 'choose either quantize or dequantize, not both');
  if (!quantize && (bits !== undefined || groupSize !== undefined)) {
    throw new MlxLabError('E_ARGUMENT', 'bits and group size need quantize (-q)');
  }
  if (options.dtype !== undefined && !(DTYPES as readonly string[]).includes(options.dtype)) {
    throw new MlxLabError('E_ARGUMENT', `dtype must be one of ${DTYPES.join(', ')}, got "${options.dtype}"`);
  }
  const input = await resolveModelPath(options.input);
  if (!existsSync(input)) throw new MlxLabError('E_MODEL_LOAD', `${input}: not found (give a .gguf file or a model folder)`);
  const isGguf = statSync(input).isFile();
  if (isGguf && !input.endsWith('.gguf')) throw new MlxLabError('E_ARGUMENT', `${input}: give a .gguf file or a model folder`);
  const target = checkTarget(options.out, options.force, [input]); // before reading: the input may be the output
  if (isGguf) checkGgufForConvert(input);

  onProgress?.({ stage: 'load', done: 0, total: 1, name: input });
  const opened = await openModel(input);
  try {
    onProgress?.({ stage: 'load', done: 1, total: 1, name: input });
    let dtype = options.dtype;
    if (dtype === undefined && opened.source.kind === 'folder') {
      const t = opened.source.raw.torch_dtype;
      if (typeof t === 'string' && (DTYPES as readonly string[]).includes(t)) dtype = t as ConvertOptions['dtype'];
    }
    return await writeModelFolder(
      target,
      opened.source,
      (tmp, control) =>
        native().convertModel(
          opened.handle,
          { outDir: tmp, quantize, dequantize, bits, groupSize, dtype, maxShardBytes: options.maxShardBytes },
          (p: NativeFuseProgress) => onProgress?.(p),
          control,
        ),
      onProgress,
      options.signal,
    );
  } finally {
    opened.release();
  }
}
