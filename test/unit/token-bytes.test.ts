// Token bytes for the grammar engine: byte-level BPE spellings decode to the bytes of the text,
// SentencePiece "▁" and <0xNN> pieces to a space and raw bytes, special tokens get 0xFF first.
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { isByteLevel, tokenBytes } from '../../src/model/token-bytes.js';
import { modelDir } from '../helpers/paths.js';

/** The bytes of token `id` out of a TokenBytes. */
function piece(t: ReturnType<typeof tokenBytes>, id: number): number[] {
  let at = 0;
  for (let i = 0; i < id; i++) at += t.lens[i];
  return [...t.bytes.subarray(at, at + t.lens[id])];
}

describe('tokenBytes', () => {
  it('byte-level BPE: the bytes of the tokens of a text are the UTF-8 bytes of the text', () => {
    const tok = Tokenizer.fromFolder(modelDir('tiny-chat'));
    expect(isByteLevel(tok)).toBe(true);
    const t = tokenBytes(tok);
    expect(t.lens.length).toBe(tok.maxId + 1);
    for (const text of ['hello world', 'héllo wörld – ünïcode ✓', '{"a": [1, 2]}\n\t', '日本語']) {
      const ids = tok.encode(text, { addSpecialTokens: false });
      expect(Buffer.from(ids.flatMap((id) => piece(t, id)))).toEqual(Buffer.from(text, 'utf8'));
    }
  });

  it('special tokens start with 0xFF so no text matches them', () => {
    const tok = Tokenizer.fromFolder(modelDir('tiny-chat'));
    const t = tokenBytes(tok);
    const end = tok.tokenToId('<|im_end|>')!;
    expect(piece(t, end)).toEqual([0xff, ...Buffer.from('<|im_end|>')]);
  });

  it('SentencePiece: "▁" is a space, <0xNN> a raw byte, unknown ids are empty', () => {
    const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2, '<0x0A>': 3, '\u2581hi': 4, h: 5, i: 6, '<0xE2>': 7 };
    const json = {
      model: { type: 'BPE', vocab, merges: [], byte_fallback: true, unk_token: '<unk>' },
      added_tokens: [
        { id: 1, content: '<s>', special: true },
        { id: 2, content: '</s>', special: true },
        { id: 9, content: '<extra>', special: false },
      ],
      decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }] },
    };
    const tok = Tokenizer.fromJSON(json, { bos_token: '<s>', eos_token: '</s>' });
    expect(isByteLevel(tok)).toBe(false);
    const t = tokenBytes(tok);
    expect(piece(t, 3)).toEqual([0x0a]);
    expect(piece(t, 4)).toEqual([...Buffer.from(' hi')]);
    expect(piece(t, 7)).toEqual([0xe2]);
    expect(piece(t, 2)).toEqual([0xff, ...Buffer.from('</s>')]);
    expect(piece(t, 8)).toEqual([]);
    expect(piece(t, 9)).toEqual([...Buffer.from('<extra>')]);
  });
});
