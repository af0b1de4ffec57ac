/**
 * Tests only: read the metadata key/values of a GGUF file (header only, no tensors), in plain JS
 * values the way MLX's load_gguf reports them (numbers, strings, string[] and number[]).
 */
import { closeSync, openSync, readSync } from 'node:fs';

export type GgufValue = number | boolean | string | string[] | number[] | GgufValue[];

const enum T {
  U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64,
}

class Reader {
  private buf = Buffer.alloc(0);
  private base = 0; // file offset of buf[0]
  pos = 0;

  constructor(private readonly fd: number) {}

  private ensure(n: number): void {
    const end = this.pos + n;
    if (end <= this.base + this.buf.length) return;
    const want = Math.max(end - this.base, this.buf.length * 2, 1 << 20);
    const next = Buffer.alloc(want);
    this.buf.copy(next);
    const got = readSync(this.fd, next, this.buf.length, want - this.buf.length, this.base + this.buf.length);
    this.buf = next.subarray(0, this.buf.length + got);
    if (end > this.base + this.buf.length) throw new Error('GGUF: unexpected end of file in the header');
  }

  private at(n: number): number {
    this.ensure(n);
    const off = this.pos - this.base;
    this.pos += n;
    return off;
  }

  private read<V>(n: number, f: (b: Buffer, off: number) => V): V {
    const off = this.at(n); // moves the window first; then read from the current buffer
    return f(this.buf, off);
  }

  u32(): number { return this.read(4, (b, o) => b.readUInt32LE(o)); }
  u64(): number { return Number(this.read(8, (b, o) => b.readBigUInt64LE(o))); }
  string(): string {
    const len = this.u64();
    return this.read(len, (b, off) => b.toString('utf8', off, off + len));
  }

  value(type: number): GgufValue {
    switch (type) {
      case T.U8: return this.read(1, (b, o) => b.readUInt8(o));
      case T.I8: return this.read(1, (b, o) => b.readInt8(o));
      case T.U16: return this.read(2, (b, o) => b.readUInt16LE(o));
      case T.I16: return this.read(2, (b, o) => b.readInt16LE(o));
      case T.U32: return this.read(4, (b, o) => b.readUInt32LE(o));
      case T.I32: return this.read(4, (b, o) => b.readInt32LE(o));
      case T.F32: return this.read(4, (b, o) => b.readFloatLE(o));
      case T.BOOL: return this.read(1, (b, o) => b.readUInt8(o)) !== 0;
      case T.STRING: return this.string();
      case T.U64: return Number(this.read(8, (b, o) => b.readBigUInt64LE(o)));
      case T.I64: return Number(this.read(8, (b, o) => b.readBigInt64LE(o)));
      case T.F64: return this.read(8, (b, o) => b.readDoubleLE(o));
      case T.ARRAY: {
        const elem = this.u32();
        const count = this.u64();
        const out: GgufValue[] = new Array(count);
        for (let i = 0; i < count; i++) out[i] = this.value(elem);
        return out as GgufValue;
      }
      default:
        throw new Error(`GGUF: unknown value type ${type}`);
    }
  }
}

/** All metadata KVs of a GGUF file (v2/v3). */
export function readGgufMetadata(path: string): Record<string, GgufValue> {
  const fd = openSync(path, 'r');
  try {
    const r = new Reader(fd);
    const magic = r.u32();
    if (magic !== 0x46554747) throw new Error(`${path}: not a GGUF file`);
    const version = r.u32();
    if (version < 2) throw new Error(`${path}: GGUF v${version} is not supported`);
    r.u64(); // tensor count
    const kvCount = r.u64();
    const meta: Record<string, GgufValue> = {};
    for (let i = 0; i < kvCount; i++) {
      const key = r.string();
      const type = r.u32();
      meta[key] = r.value(type);
    }
    return meta;
  } finally {
    closeSync(fd);
  }
}
