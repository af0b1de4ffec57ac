/**
 * Each token's bytes, as the grammar engine needs them: byte-level BPE vocabularies (GPT-2,
 * Llama 3, Qwen, SmolLM) spell bytes as printable characters, SentencePiece ones use "▁" for a
 * space and <0xNN> for raw bytes. Special tokens get a leading 0xFF byte, so no grammar text
 * can match them.
 */
import type { Tokenizer } from './tokenizer.js';

/** Every token's bytes back to back, and each token's length (ids without a token: 0). */
export interface TokenBytes {
  bytes: Uint8Array;
  lens: Uint32Array;
}

const SPECIAL_MARKER = 0xff;

/** The byte-level alphabet: character → byte (printable bytes stand for themselves, the rest from U+0100 on). */
function byteLevelDecoder(): Map<string, number> {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map = new Map<string, number>();
  let next = 0;
  for (let b = 0; b < 256; b++) map.set(String.fromCodePoint(printable(b) ? b : 256 + next++), b);
  return map;
}

/** Whether the tokenizer spells bytes with the byte-level alphabet (a ByteLevel decoder or pre-tokenizer). */
export function isByteLevel(tokenizer: Tokenizer): boolean {
  const json = tokenizer.tokenizerJson;
  return JSON.stringify([json.decoder ?? null, json.pre_tokenizer ?? null]).includes('"ByteLevel"');
}

/** A byte-level vocabulary string as bytes; undefined when a character is outside the alphabet. */
function byteLevelBytes(piece: string, table: Map<string, number>): number[] | undefined {
  const out: number[] = [];
  for (const ch of piece) {
    const b = table.get(ch);
    if (b === undefined) return undefined;
    out.push(b);
  }
  return out;
}

/** A SentencePiece vocabulary string as bytes: <0xNN> is that byte, "▁" a space. */
function sentencePieceBytes(piece: string): number[] {
  const raw = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  if (raw) return [Number.parseInt(raw[1], 16)];
  return [...Buffer.from(piece.replaceAll('\u2581', ' '), 'utf8')];
}

/** The bytes of every id in [0, tokenizer.maxId]. */
export function tokenBytes(tokenizer: Tokenizer): TokenBytes {
  const n = tokenizer.maxId + 1;
  const added = new Map((tokenizer.tokenizerJson.added_tokens ?? []).map((t) => [t.id, t]));
  const table = isByteLevel(tokenizer) ? byteLevelDecoder() : undefined;
  const pieces: number[][] = [];
  for (let id = 0; id < n; id++) {
    const extra = added.get(id);
    const piece = extra?.content ?? tokenizer.idToToken(id);
    if (piece === undefined) pieces.push([]);
    else if (extra?.special || tokenizer.isSpecial(id)) pieces.push([SPECIAL_MARKER, ...Buffer.from(piece, 'utf8')]);
    else if (extra) pieces.push([...Buffer.from(piece, 'utf8')]);
    else pieces.push((table && byteLevelBytes(piece, table)) ?? sentencePieceBytes(piece));
  }
  const lens = Uint32Array.from(pieces, (p) => p.length);
  const bytes = new Uint8Array(lens.reduce((a, b) => a + b, 0));
  let at = 0;
  for (const p of pieces) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, lens };
}
