/** A minimal safetensors reader for tests: the header plus F32 / I32 / BF16 / F16 tensors. */
import { readFileSync, writeFileSync } from 'node:fs';

export interface Tensor {
  dtype: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

function halfToFloat(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  if (e === 0) return (s ? -1 : 1) * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : (s ? -1 : 1) * Infinity;
  return (s ? -1 : 1) * 2 ** (e - 15) * (1 + f / 1024);
}

export function readSafetensors(path: string): Record<string, Tensor> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + n;
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = buf.subarray(base + t.data_offsets[0], base + t.data_offsets[1]);
    const copy = new Uint8Array(bytes).buffer;
    let data: Float32Array | Int32Array;
    if (t.dtype === 'F32') data = new Float32Array(copy);
    else if (t.dtype === 'I32') data = new Int32Array(copy);
    else if (t.dtype === 'BF16') {
      const u16 = new Uint16Array(copy);
      data = new Float32Array(new Uint32Array(Array.from(u16, (x) => x << 16)).buffer);
    } else if (t.dtype === 'F16') data = Float32Array.from(new Uint16Array(copy), halfToFloat);
    else throw new Error(`${path}: dtype ${t.dtype} not supported by the test reader`);
    out[name] = { dtype: t.dtype, shape: t.shape, data };
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Write F32 tensors as a safetensors file (for adapters a test builds, e.g. a deliberately wrong one). */
export function writeSafetensors(path: string, tensors: Record<string, { shape: number[]; data: ArrayLike<number> }>): void {
  const header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> = {};
  const parts: Buffer[] = [];
  let at = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = Buffer.from(Float32Array.from(t.data).buffer);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [at, at + bytes.length] };
    parts.push(bytes);
    at += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(path, Buffer.concat([size, Buffer.from(json), ...parts]));
}

/** The transpose of a row-major [rows, cols] matrix. */
export function transpose(t: Tensor): Tensor {
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c];
  return { dtype: 'F32', shape: [cols, rows], data: out };
}
