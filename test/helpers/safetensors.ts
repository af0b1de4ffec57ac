/** A minimal safetensors reader for tests: the header plus F32 / I32 / BF16 / F16 tensors. */
import { readFileSync } from 'node:fs';

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
