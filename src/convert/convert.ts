/**
 * Converting models into MLX model folders (mlx_lm.convert):
 * - a GGUF file (llama architecture; F32 / F16 / Q4_0 / Q4_1 / Q8_0 tensors) to an mlx-lm
 *   folder with tokenizer.json, tokenizer_config.json (chat template) and generation_config.json
 *   built from its metadata; quantized tensors stay quantized as MLX loads them (affine, group
 *   size 32) unless `dequantize`;
 * - a full-precision MLX / Hugging Face safetensors folder to a quantized one (`quantize` with
 *   `bits` / `groupSize`: every linear, expert and embedding layer whose input dims the group
 *   size divides, as mlx_lm.utils.quantize_model), or a quantized one to full precision.
 * The folder is written atomically (see writeModelFolder in fuse.ts).
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import { checkQuantChoice, checkTarget, openModel, writeModelFolder, type FuseProgress, type SavedModelFolder } from './fuse.js';
import { native, type NativeFuseProgress } from '../core/native.js';

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

/** ggml tensor type ids and names (ggml.h). */
const GGML_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S',
  20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64',
  29: 'IQ1_M', 30: 'BF16',
};

/** The tensor types convert takes from a GGUF. */
export const GGUF_CONVERT_TYPES = ['F32', 'F16', 'Q4_0', 'Q4_1', 'Q8_0'] as const;

export interface GgufHeader {
  version: number;
  /** Scalar and string metadata (arrays are skipped). */
  metadata: Record<string, string | number | boolean | bigint>;
  tensors: { name: string; shape: number[]; type: string }[];
}

/** Reads a file front to back in chunks. */
class FileCursor {
  private buf = Buffer.alloc(0);
  private pos = 0; // in buf
  private fileOffset = 0; // file offset of buf[0]

  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly path: string,
  ) {}

  private need(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const keep = this.buf.subarray(this.pos);
    const want = Math.max(n - keep.length, 1 << 20);
    const start = this.fileOffset + this.pos + keep.length;
    const chunk = Buffer.alloc(Math.min(want, Math.max(0, this.size - start)));
    let got = 0;
    while (got < chunk.length) {
      const r = readSync(this.fd, chunk, got, chunk.length - got, start + got);
      if (r === 0) break;
      got += r;
    }
    this.fileOffset += this.pos;
    this.buf = Buffer.concat([keep, chunk.subarray(0, got)]);
    this.pos = 0;
    if (this.buf.length < n) throw new MlxLabError('E_MODEL_LOAD', `${this.path}: truncated GGUF header`);
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  count(what: string): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v > BigInt(this.size)) throw new MlxLabError('E_MODEL_LOAD', `${this.path}: corrupt GGUF header (${what} ${v})`);
    return Number(v);
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  string(): string {
    return this.bytes(this.count('string length')).toString('utf8');
  }
  skip(n: number): void {
    while (n > 0) {
      const step = Math.min(n, 1 << 20);
      this.bytes(step);
      n -= step;
    }
  }
}

const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

function readValue(c: FileCursor, type: number, path: string): string | number | boolean | bigint | undefined {
  switch (type) {
    case 0: return c.bytes(1).readUInt8(0);
    case 1: return c.bytes(1).readInt8(0);
    case 2: return c.bytes(2).readUInt16LE(0);
    case 3: return c.bytes(2).readInt16LE(0);
    case 4: return c.bytes(4).readUInt32LE(0);
    case 5: return c.bytes(4).readInt32LE(0);
    case 6: return c.bytes(4).readFloatLE(0);
    case 7: return c.bytes(1).readUInt8(0) !== 0;
    case 8: return c.string();
    case 9: {
      const itemType = c.u32();
      const n = c.count('array length');
      if (itemType === 8) {
        for (let i = 0; i < n; i++) c.skip(c.count('string length'));
      } else if (itemType === 9) {
        throw new MlxLabError('E_GGUF', `${path}: nested GGUF arrays are not supported`);
      } else {
        const size = SCALAR_BYTES[itemType];
        if (size === undefined) throw new MlxLabError('E_GGUF', `${path}: unknown GGUF value type ${itemType}`);
        c.skip(size * n);
      }
      return undefined;
    }
    case 10: return c.u64();
    case 11: return c.bytes(8).readBigInt64LE(0);
    case 12: return c.bytes(8).readDoubleLE(0);
    default:
      throw new MlxLabError('E_GGUF', `${path}: unknown GGUF value type ${type}`);
  }
}

/** The header of a GGUF file (v2/v3): scalar metadata and the tensors' names, shapes and types. */
export function readGgufHeader(path: string): GgufHeader {
  if (!existsSync(path) || !statSync(path).isFile()) throw new MlxLabError('E_MODEL_LOAD', `${path}: GGUF file not found`);
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const c = new FileCursor(fd, size, path);
    if (size < 4 || c.bytes(4).toString('latin1') !== 'GGUF') throw new MlxLabError('E_MODEL_LOAD', `${path}: not a GGUF file (no GGUF magic)`);
    const version = c.u32();
    if (version < 2 || version > 3) throw new MlxLabError('E_GGUF', `${path}: GGUF version ${version} is not supported (2 or 3)`);
    const nTensors = c.count('tensor count');
    const nKv = c.count('metadata count');
    const metadata: GgufHeader['metadata'] = {};
    for (let i = 0; i < nKv; i++) {
      const key = c.string();
      const value = readValue(c, c.u32(), path);
      if (value !== undefined) metadata[key] = value;
    }
    const tensors: GgufHeader['tensors'] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = c.string();
      const nDims = c.u32();
      if (nDims > 8) throw new MlxLabError('E_MODEL_LOAD', `${path}: corrupt GGUF tensor info for "${name}"`);
      const shape: number[] = [];
      for (let d = 0; d < nDims; d++) shape.push(c.count('dimension'));
      const typeId = c.u32();
      c.u64(); // offset
      tensors.push({ name, shape: shape.reverse(), type: GGML_TYPES[typeId] ?? `type ${typeId}` });
    }
    return { version, metadata, tensors };
  } finally {
    closeSync(fd);
  }
}

/** Refuse GGUF files convert does not take: another architecture, or tensors of other types. */
export function checkGgufForConvert(path: string): GgufHeader {
  const header = readGgufHeader(path);
  const arch = header.metadata['general.architecture'];
  if (typeof arch !== 'string') throw new MlxLabError('E_GGUF', `${path}: GGUF metadata "general.architecture" is missing`);
  if (arch !== 'llama') throw new MlxLabError('E_GGUF', `${path}: GGUF architecture "${arch}" is not supported (only llama)`);
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
  const input = resolve(options.input);
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
