// Inputs scripts/fuzz.mjs found that broke a property (see the README's Fuzzing section).
import { describe, expect, it } from 'vitest';
import { tokenizerFromGgufMetadata } from '../../src/model/gguf-tokenizer.js';

describe('fuzz regressions: GGUF metadata → tokenizer', () => {
  it('keeps tokens named like Object.prototype members ("constructor", "__proto__")', () => {
    const meta = { 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a', 'constructor', '__proto__', 'toString'], 'tokenizer.ggml.merges': [] };
    const tok = tokenizerFromGgufMetadata(meta, 'fuzz.gguf');
    expect(['constructor', '__proto__', 'toString'].map((t) => tok.tokenToId(t))).toEqual([1, 2, 3]);
  });

  it('encodes a BOS token whose spelling collides with an earlier token to its own id', () => {
    // " " is re-spelled "Ġ" (GPT-2 byte alphabet), which is already token 1.
    const meta = {
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.tokens': ['9', 'Ġ', 'Y', ' '],
      'tokenizer.ggml.merges': [],
      'tokenizer.ggml.bos_token_id': 3,
      'tokenizer.ggml.add_bos_token': true,
    };
    expect(tokenizerFromGgufMetadata(meta, 'fuzz.gguf').encode('Y')).toEqual([3, 2]);
  });

  it('encodes a BOS token outside the byte alphabet (" ") by its byte-level spelling', () => {
    const meta = {
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.tokens': ['!kMO', '=.nM', ' ', 'Ġ'],
      'tokenizer.ggml.merges': [],
      'tokenizer.ggml.bos_token_id': 2,
      'tokenizer.ggml.add_bos_token': true,
    };
    expect(tokenizerFromGgufMetadata(meta, 'fuzz.gguf').encode('_wC)')).toEqual([2]);
  });
});
