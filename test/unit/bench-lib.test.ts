// The benchmark harness's pure pieces (benchmarks/lib): bytes read per decoded token, random
// model folders, the goals read out of reports, and the Markdown tables. No native code.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM scripts without types
import { decodeBytesPerToken } from '../../benchmarks/lib/decode-bytes.mjs';
// @ts-expect-error: plain ESM scripts without types
import { ensureRandomModel, parameterCount, randomConfig } from '../../benchmarks/lib/random-models.mjs';
// @ts-expect-error: plain ESM scripts without types
import { evaluateGoals, goalRows } from '../../benchmarks/lib/goals.mjs';
// @ts-expect-error: plain ESM scripts without types
import { mdTable } from '../../benchmarks/lib/stats.mjs';

const MODELS = resolve(__dirname, '..', 'fixtures', 'models');
const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-bench-lib-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('decodeBytesPerToken', () => {
  // llama-q4: hidden 64, 2 layers, 4 heads and 2 KV heads of 16, intermediate 128, vocab 256, untied, 4-bit group 32.
  const matmulParams = 2 * (64 * 64 * 2 + 32 * 64 * 2 + 3 * 128 * 64) + 256 * 64; // blocks + lm_head
  const norms = (2 * 2 + 1) * 64 * 4; // float32 norm weights, read as stored

  it('counts float32 copies of quantized matmul weights, one embedding row, norms and the KV cache', () => {
    const b = decodeBytesPerToken(join(MODELS, 'llama-q4'), { computeMode: 'float32', position: 10 });
    expect(b.weights).toBe(matmulParams * 4 + 64 * 4 + norms);
    expect(b.kv).toBe(2 * 2 * 2 * 16 * 10 * 4);
    expect(b.total).toBe(b.weights + b.kv);
  });

  it('counts the stored weights, scales and biases under native compute', () => {
    const native = decodeBytesPerToken(join(MODELS, 'llama-q4'), { computeMode: 'native', position: 0 });
    // 4 bits per weight + two float32 (scale, bias) per group of 32.
    const perWeight = 0.5 + 8 / 32;
    expect(native.weights).toBeCloseTo(matmulParams * perWeight + (64 * perWeight) + norms, 6);
    expect(native.kv).toBe(0);
  });

  it('reads only the top-k experts of a MoE layer', () => {
    const dir = ensureRandomModel(tmp, 'qwen3_moe', 'tiny');
    const c = randomConfig('qwen3_moe', 'tiny');
    const b = decodeBytesPerToken(dir, { computeMode: 'native', position: 0 });
    const experts = c.num_hidden_layers * 3 * c.num_experts * c.moe_intermediate_size * c.hidden_size * 4;
    const all = parameterCount(c) * 4;
    const embeddingRowsSkipped = (c.vocab_size - 1) * c.hidden_size * 4;
    expect(b.weights).toBe(all - experts + (experts * c.num_experts_per_tok) / c.num_experts - embeddingRowsSkipped);
  });
});

describe('random models', () => {
  it('writes float32 folders of the size their config says, and reuses them', () => {
    for (const arch of ['llama', 'qwen3']) {
      const dir = ensureRandomModel(tmp, arch, 'tiny');
      const params = parameterCount(randomConfig(arch, 'tiny'));
      expect(params).toBeGreaterThan(0.8e6);
      const size = statSync(join(dir, 'model.safetensors')).size;
      expect(size).toBeGreaterThan(params * 4);
      expect(size).toBeLessThan(params * 4 + 64 * 1024); // data plus the header
      const mtime = statSync(join(dir, 'model.safetensors')).mtimeMs;
      ensureRandomModel(tmp, arch, 'tiny');
      expect(statSync(join(dir, 'model.safetensors')).mtimeMs).toBe(mtime);
    }
  });
});

describe('goals', () => {
  const reports = {
    generate: {
      ratios: [
        { ours: 'ours auto', mlx_lm: 'mlx-lm stock', prompt_tokens: 128, batch: 1, prompt: 2, decode: 1.05 },
        { ours: 'ours auto', mlx_lm: 'mlx-lm openblas', prompt_tokens: 128, batch: 1, prompt: 0.9, decode: 1.2 },
        { ours: 'ours auto', mlx_lm: 'mlx-lm openblas', prompt_tokens: 128, batch: 4, prompt: 9, decode: 9 },
      ],
    },
    bandwidth: { compute: { mode: 'float32' }, fraction: 0.61 },
  };

  it('reads each ratio out of its report and says whether the goal is met', () => {
    const goals = evaluateGoals(reports);
    const byId = Object.fromEntries(goals.map((g: { id: string }) => [g.id, g]));
    expect(byId.decode.rows.map((r: { value: number; met: boolean; fair: boolean }) => [r.value, r.met, r.fair])).toEqual([[1.05, false, false], [1.2, true, true]]);
    expect(byId.prefill.rows.map((r: { met: boolean }) => r.met)).toEqual([true, false]);
    expect(byId.bandwidth.rows[0].met).toBe(true);
    expect(byId.train.rows).toEqual([]);
    const rows = goalRows(goals);
    expect(rows.find((r: string[]) => r[0].startsWith('LoRA'))).toContain('not measured in this run');
    expect(rows.find((r: string[]) => r[0].startsWith('decode as'))[1]).toBe('61.0%');
  });
});

describe('mdTable', () => {
  it('right-aligns number columns and escapes pipes', () => {
    expect(mdTable([['side', 'tok/s', 'note'], ['ours', '12.5', 'a|b'], ['mlx-lm', '—', 'x']])).toBe(
      ['| side | tok/s | note |', '|---|---:|---|', '| ours | 12.5 | a\\|b |', '| mlx-lm | — | x |'].join('\n'),
    );
  });
});
