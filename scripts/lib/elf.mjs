// The exported function names of an ELF64 little-endian shared object (x86_64, aarch64): what
// the BLAS shim must forward; and the names it needs (what the grammar engine's stub defines). Reads the file's .dynsym section; no binutils needed.
import { readFileSync } from 'node:fs';

const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;

/** Defined function symbols in the dynamic symbol table of an ELF64 LE file, sorted. */
export function exportedFunctions(path) {
  return dynamicSymbols(path, (type, undef) => !undef && (type === STT_FUNC || type === STT_GNU_IFUNC));
}

/** Symbols an ELF64 LE file needs from elsewhere (functions and data), sorted; weak ones included. */
export function undefinedSymbols(path) {
  return dynamicSymbols(path, (type, undef) => undef && type !== 0xf);
}

// Names in the dynamic symbol table that `want(type, undefined)` accepts.
function dynamicSymbols(path, want) {
  const buf = readFileSync(path);
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path}: not an ELF file`);
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`${path}: not a 64-bit little-endian ELF file`);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const section = (i) => {
    const o = shoff + i * shentsize;
    if (o + 64 > buf.length) throw new Error(`${path}: section header ${i} lies outside the file`);
    return { type: buf.readUInt32LE(o + 4), offset: Number(buf.readBigUInt64LE(o + 0x18)), size: Number(buf.readBigUInt64LE(o + 0x20)), link: buf.readUInt32LE(o + 0x28), entsize: Number(buf.readBigUInt64LE(o + 0x38)) };
  };
  const names = new Set();
  for (let i = 0; i < shnum; i++) {
    const sym = section(i);
    if (sym.type !== SHT_DYNSYM) continue;
    const str = section(sym.link);
    for (let o = sym.offset; o + 24 <= sym.offset + sym.size; o += sym.entsize || 24) {
      const type = buf[o + 4] & 0xf;
      if (buf.readUInt32LE(o) === 0 || !want(type, buf.readUInt16LE(o + 6) === SHN_UNDEF)) continue;
      const start = str.offset + buf.readUInt32LE(o);
      const end = buf.indexOf(0, start);
      if (start >= buf.length || end < 0) throw new Error(`${path}: a symbol name lies outside the file`);
      names.add(buf.toString('latin1', start, end).split('@')[0]);
    }
  }
  return [...names].sort();
}
