/**
 * A reader of TensorBoard event files for the tests, written apart from the writer
 * (src/run/tracking/tfrecord.ts): records with both CRCs checked, and the Event fields TensorBoard's
 * scalar dashboard reads (step, file_version, summary values with tag and simple_value).
 */
import { maskedCrc32c } from '../../src/run/tracking/tfrecord.js';

/** The records of an event file, each CRC checked (throws naming the offset on a mismatch or a torn record). */
export function readRecords(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + 12 > buf.length) throw new Error(`torn header at ${off}`);
    const len = Number(buf.readBigUInt64LE(off));
    if (buf.readUInt32LE(off + 8) !== maskedCrc32c(buf.subarray(off, off + 8))) throw new Error(`bad length CRC at ${off}`);
    if (off + 16 + len > buf.length) throw new Error(`torn record at ${off}`);
    const data = buf.subarray(off + 12, off + 12 + len);
    if (buf.readUInt32LE(off + 12 + len) !== maskedCrc32c(data)) throw new Error(`bad data CRC at ${off}`);
    out.push(data);
    off += 16 + len;
  }
  return out;
}

export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: { tag: string; value: number }[];
}

/** The fields of a protobuf message: field number → raw values (numbers for varints, buffers otherwise). */
function fields(buf: Buffer): [number, number | Buffer][] {
  const out: [number, number | Buffer][] = [];
  let off = 0;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[off++];
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
  };
  while (off < buf.length) {
    const key = varint();
    const [field, wire] = [key >>> 3, key & 7];
    if (wire === 0) out.push([field, varint()]);
    else if (wire === 1) out.push([field, buf.subarray(off, (off += 8))]);
    else if (wire === 5) out.push([field, buf.subarray(off, (off += 4))]);
    else if (wire === 2) {
      const len = varint();
      out.push([field, buf.subarray(off, (off += len))]);
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

/** One Event record decoded. */
export function decodeEvent(record: Buffer): DecodedEvent {
  const e: DecodedEvent = { wallTime: 0, step: 0, values: [] };
  for (const [f, v] of fields(record)) {
    if (f === 1) e.wallTime = (v as Buffer).readDoubleLE(0);
    else if (f === 2) e.step = v as number;
    else if (f === 3) e.fileVersion = (v as Buffer).toString('utf8');
    else if (f === 5) {
      for (const [, value] of fields(v as Buffer)) {
        const parts = new Map(fields(value as Buffer));
        e.values.push({ tag: (parts.get(1) as Buffer).toString('utf8'), value: (parts.get(2) as Buffer).readFloatLE(0) });
      }
    }
  }
  return e;
}

/** Every scalar of an event file as tag → [step, value][]. */
export function scalarsOf(buf: Buffer): Record<string, [number, number][]> {
  const out: Record<string, [number, number][]> = {};
  for (const e of readRecords(buf).map(decodeEvent)) for (const v of e.values) (out[v.tag] ??= []).push([e.step, v.value]);
  return out;
}
