/**
 * TensorBoard's event-file format, written by hand (no maintained npm writer exists): a file is a
 * sequence of TFRecords, each `uint64 length | masked CRC32C of the length | data | masked CRC32C
 * of the data` (little-endian), whose data is one `Event` protobuf. Only the fields TensorBoard's
 * scalar dashboard reads are encoded:
 *
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 */
// @aws-crypto/crc32c: AWS's pure-JS CRC32C (Castagnoli), the checksum TFRecord uses.
import { crc32c } from '@aws-crypto/crc32c';

/** One scalar at one step: what the TensorBoard sink writes and MLflow's metrics carry. */
export interface Scalar {
  tag: string;
  value: number;
  step: number;
  /** Wall time in ms since the epoch. */
  time: number;
}

/** TFRecord's masked CRC32C: rotate right by 15 bits, add 0xa282ead8 (mod 2^32). */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord around `data`. */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/** A protobuf varint (non-negative integers up to 2^53). */
function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = BigInt(Math.trunc(n));
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    bytes.push(b);
  } while (v > 0n);
  return Buffer.from(bytes);
}

/** A length-delimited field (wire type 2). */
function bytesField(field: number, data: Uint8Array): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(data.length), data]);
}

function doubleField(field: number, v: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = (field << 3) | 1;
  b.writeDoubleLE(v, 1);
  return b;
}

function floatField(field: number, v: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = (field << 3) | 5;
  b.writeFloatLE(v, 1);
  return b;
}

/** The Event that opens every event file (file_version "brain.Event:2"). */
export function fileVersionEvent(timeMs: number): Buffer {
  return Buffer.concat([doubleField(1, timeMs / 1000), bytesField(3, Buffer.from('brain.Event:2', 'utf8'))]);
}

/** An Event holding scalars of one step and time (a Summary with one simple_value per tag). */
export function scalarEvent(step: number, timeMs: number, values: readonly { tag: string; value: number }[]): Buffer {
  const summary = Buffer.concat(values.map((v) => bytesField(1, Buffer.concat([bytesField(1, Buffer.from(v.tag, 'utf8')), floatField(2, v.value)]))));
  // proto3 leaves a field at its default out: step 0 is not written (readers take it as 0).
  const stepField = step > 0 ? Buffer.concat([Buffer.from([0x10]), varint(step)]) : Buffer.alloc(0);
  return Buffer.concat([doubleField(1, timeMs / 1000), stepField, bytesField(5, summary)]);
}

/** The records of these scalars, one Event per (step, time). */
export function scalarRecords(scalars: readonly Scalar[]): Buffer {
  const groups = new Map<string, Scalar[]>();
  for (const s of scalars) {
    const key = `${s.step}:${s.time}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return Buffer.concat([...groups.values()].map((g) => tfRecord(scalarEvent(g[0].step, g[0].time, g))));
}
