// Bad model folders give an MlxLabError naming the file and the problem, never a crash.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdtempSync, cpSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadModel } from '../../src/model/model.js';
import { MlxLabError } from '../../src/core/errors.js';
import { MODELS, modelDir } from '../helpers/paths.js';

const bad = (name: string) => join(MODELS, 'bad', name);

/** A GGUF v3 file with no tensors and one metadata key, general.architecture. */
function ggufWithArchitecture(arch: string): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(b.length));
    return Buffer.concat([len, b]);
  };
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const u64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return b;
  };
  const GGUF_TYPE_STRING = 8;
  return Buffer.concat([Buffer.from('GGUF'), u32(3), u64(0), u64(1), str('general.architecture'), u32(GGUF_TYPE_STRING), str(arch)]);
}

async function loadError(path: string, options = { tokenizer: false }): Promise<MlxLabError> {
  try {
    const m = await loadModel(path, options);
    m.dispose();
  } catch (err) {
    expect(err).toBeInstanceOf(MlxLabError);
    return err as MlxLabError;
  }
  throw new Error(`loading ${path} did not fail`);
}

describe('bad model input', () => {
  it('missing folder', async () => {
    const e = await loadError('/nonexistent/model');
    expect(e.code).toBe('E_MODEL_LOAD');
    expect(e.message).toBe('/nonexistent/model: model folder not found');
  });

  it('missing config.json', async () => {
    const e = await loadError(bad('no-config'));
    expect(e.code).toBe('E_MODEL_LOAD');
    expect(e.message).toContain('no-config: config.json not found');
  });

  it('invalid config.json', async () => {
    const e = await loadError(bad('bad-config'));
    expect(e.code).toBe('E_CONFIG');
    expect(e.message).toMatch(/bad-config\/config\.json: invalid JSON/);
  });

  it('unknown model_type', async () => {
    const e = await loadError(bad('unknown-type'));
    expect(e.code).toBe('E_CONFIG');
    expect(e.message).toMatch(/unknown-type\/config\.json: model_type "gpt_neox" is not supported/);
  });

  it('truncated safetensors', async () => {
    const e = await loadError(bad('truncated'));
    expect(e.code).toBe('E_MODEL_LOAD');
    expect(e.message).toMatch(/truncated\/model\.safetensors/);
    expect(e.message).toMatch(/truncated|incomplete|exceed/i);
  });

  it('a weight with the wrong shape', async () => {
    const e = await loadError(bad('wrong-shape'));
    expect(e.code).toBe('E_WEIGHTS');
    expect(e.message).toContain('model.layers.0.self_attn.q_proj.weight');
    expect(e.message).toMatch(/\[32, ?31\]/);
    expect(e.message).toMatch(/\[32, ?32\]/);
  });

  it('a missing weight', async () => {
    const e = await loadError(bad('missing-weight'));
    expect(e.code).toBe('E_WEIGHTS');
    expect(e.message).toContain('model.layers.0.mlp.down_proj.weight');
  });

  it('a missing tokenizer', async () => {
    const e = await loadError(modelDir('llama-f32'), {} as { tokenizer: false });
    expect(e.code).toBe('E_TOKENIZER');
    expect(e.message).toContain('tokenizer.json');
  });

  it('a missing shard named by the index', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlxlab-'));
    try {
      cpSync(modelDir('llama-sharded'), dir, { recursive: true });
      const { readdirSync } = await import('node:fs');
      const shard = readdirSync(dir).find((f) => f.endsWith('.safetensors') && f !== 'expected.safetensors')!;
      rmSync(join(dir, shard));
      const e = await loadError(dir);
      expect(e.code).toBe('E_MODEL_LOAD');
      expect(e.message).toContain(shard);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a GGUF of an unsupported architecture', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlxlab-gguf-'));
    try {
      const file = join(dir, 'gpt2.gguf');
      writeFileSync(file, ggufWithArchitecture('gpt2'));
      const e = await loadError(file);
      expect(e.code).toBe('E_GGUF');
      expect(e.message).toBe(`${file}: GGUF architecture "gpt2" is not supported (supported: llama, qwen2, qwen3, gemma3)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a GGUF file that does not exist', async () => {
    const e = await loadError('/nonexistent/model.gguf');
    expect(e.code).toBe('E_MODEL_LOAD');
  });

  it('using a disposed model', async () => {
    const m = await loadModel(modelDir('llama-f32'), { tokenizer: false });
    m.dispose();
    await expect(m.logits([[1, 2, 3]])).rejects.toMatchObject({ code: 'E_DISPOSED' });
  });
});
