// safetensors for the benchmarks: read a file's header (tensor names, dtypes, shapes, byte
// sizes) and write float32 tensors tensor by tensor, so a 600 MB model never sits in one buffer.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/** The JSON header of a .safetensors file: { name: { dtype, shape, data_offsets } }, no __metadata__. */
export function readHeader(path) {
  const fd = openSync(path, 'r');
  try {
    const size = Buffer.alloc(8);
    readSync(fd, size, 0, 8, 0);
    const json = Buffer.alloc(Number(size.readBigUInt64LE()));
    readSync(fd, json, 0, json.length, 8);
    const { __metadata__, ...tensors } = JSON.parse(json.toString('utf8'));
    return tensors;
  } finally {
    closeSync(fd);
  }
}

/** Bytes of one tensor as stored. */
export const storedBytes = (t) => t.data_offsets[1] - t.data_offsets[0];

/**
 * Write float32 tensors: `tensors` is [{ name, shape, fill(Float32Array) }]; names sorted, data
 * 8-byte aligned after the header, as the safetensors library writes it.
 */
export function writeFloat32(path, tensors, metadata = { format: 'mlx' }) {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1));
  const header = { __metadata__: metadata };
  let offset = 0;
  for (const t of sorted) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    writeSync(fd, json);
    for (const t of sorted) {
      const data = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
      t.fill(data);
      writeSync(fd, new Uint8Array(data.buffer));
    }
  } finally {
    closeSync(fd);
  }
  return offset;
}
