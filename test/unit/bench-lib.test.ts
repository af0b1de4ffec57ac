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

describe('RESULTS.md and results.html', () => {
  const rate = (x: number) => ({ median: x, best: x, runs: [x] });
  const run = {
    date: '2026-11-26T09:00:00.000Z',
    quick: false,
    command: 'node benchmarks/run.mjs',
    seconds: 600,
    machine: { cpu: 'Test CPU', cores: 2, memoryGB: 8, os: 'linux', node: '20' },
    versions: { ours: { mlx: '0.32.4', sdk: 'mlx-cpu', device: 'cpu', blas: 'openblas' }, mlx_lm: { openblas: { mlx: '0.32.4', mlx_lm: '0.32.2' } } },
    runs: ['generate', 'train', 'eval', 'bandwidth', 'scaling'].map((name) => ({ name, status: 'ok', seconds: 60, loadavg: [0.5, 2], args: [] })),
    reports: {
      generate: {
        model: '/x/smollm2', max_tokens: 128, reps: 3, warmup: 1,
        sides: ['ours auto', 'mlx-lm openblas'].map((name, i) => ({ name, results: [{ prompt_tokens: 128, batch: 1, prompt_tps: rate(100 - i * 50), generation_tps: rate(20 - i * 5), peak_memory: { median: 2 ** 20 } }] })),
        ratios: [{ ours: 'ours auto', mlx_lm: 'mlx-lm openblas', prompt_tokens: 128, batch: 1, prompt: 2, decode: 20 / 15, memory: 1 }],
      },
      train: {
        model: '/x/smollm2', data_stats: { examples: 10, mean_tokens: 400 }, settings: { lora_parameters: { rank: 8 }, num_layers: 8, batch_size: 1, iters: 20, warmup: 2 },
        sides: ['ours auto', 'mlx-lm openblas-f32'].map((name, i) => ({ name, result: { tokens_per_sec: 30 - i * 10, peak_memory: 2 ** 20, first_loss: 2, last_loss: 1 } })),
        ratios: [{ ours: 'ours auto', mlx_lm: 'mlx-lm openblas-f32', tokens_per_sec: 1.5, memory: 1, same_batches: true, loss: { max_rel: 0 } }],
      },
      eval: {
        model: '/x/smollm2', suite: '/x/suite.yaml', cases: 27, cases_in_suite: 27,
        sides: [{ name: 'ours auto', setup_seconds: 5, suite_seconds: 100, score: 0.5 }, { name: 'mlx_lm.server stock', setup_seconds: 10, suite_seconds: 600, score: 0.5 }],
        ratios: [{ ours: 'ours auto', server: 'mlx_lm.server stock', suite: 6, with_setup: 610 / 105 }],
      },
      bandwidth: {
        model: '/x/smollm2', compute: { mode: 'float32' }, prompt_tokens: 128, max_tokens: 128, fraction: 0.5, bound_tps: 40,
        copy: { best: 20e9, best_single: 20e9, best_parallel: 18e9, threads: 2, median: 19e9 },
        bytes_per_token: { weights: 5e8, kv: 1e7, position: 192 }, decode_tps: { median: 20, best: 21 },
      },
      scaling: {
        max_tokens: 32, reps: 3, warmup: 0,
        models: ['tiny', 'mid'].map((size) => ({ arch: 'llama', size, parameters: size === 'tiny' ? 1.3e6 : 42e6, results: [1, 4].map((batch) => ({ prompt_tokens: 64, batch, prompt_tps: rate(1000 * batch), generation_tps: rate(100 * batch), peak_memory: { median: 2 ** 24 } })) })),
      },
    },
  };

  it('write the goals, the machine and every benchmark', async () => {
    // @ts-expect-error: plain ESM scripts without types
    const { resultsMarkdown } = await import('../../benchmarks/lib/results-md.mjs');
    const md: string = resultsMarkdown({ ...run, goals: evaluateGoals(run.reports) });
    expect(md).not.toContain('QUICK');
    expect(md).toContain('| CPU | Test CPU, 2 cores |');
    expect(md).toContain('| decode tokens/s, ours / mlx_lm.generate | 1.33× | ≥ 1.1× | met | ours auto / mlx-lm openblas (prompt 128, batch 1) (fair) |');
    expect(md).toContain('| LoRA training tokens/s, ours / mlx_lm.lora | 1.50× | ≥ 1.2× | met |');
    expect(md).toContain('| decode as a share of the memory-bandwidth bound | 50.0% | ≥ 60% | NOT met |');
    expect(md).toContain('| decode tok/s: model | params | prompt | batch 1 | batch 4 |');
    expect(md).toContain('| llama mid | 42.0M | 64 | 100 | 400 |');
    for (const h of ['## generate', '## train', '## eval', '## bandwidth', '## scaling']) expect(md).toContain(h);
    expect(md).not.toContain('Busy machine');
  });

  it('draws the goals, ours vs mlx-lm and the scaling axes', async () => {
    // @ts-expect-error: plain ESM scripts without types
    const { resultsHtml } = await import('../../benchmarks/lib/results-html.mjs');
    const html: string = resultsHtml({ ...run, goals: evaluateGoals(run.reports) });
    const specs = JSON.parse(html.match(/<script id="charts-data" type="application\/json">(.*?)<\/script>/s)![1]);
    expect(specs.map((s: { title: string }) => s.title)).toEqual([
      'Goals: measured ÷ goal (1 = goal met)',
      'generate: prefill tokens/s',
      'generate: decode tokens/s',
      'LoRA training tokens/s',
      'eval suite seconds (27 cases; lower is better)',
      'prefill tokens/s over prompt length (batch 1)',
      'prefill tokens/s over batch size (prompt 64)',
      'prefill tokens/s over model size (prompt 64, batch 1)',
      'decode tokens/s over prompt length (batch 1)',
      'decode tokens/s over batch size (prompt 64)',
      'decode tokens/s over model size (prompt 64, batch 1)',
    ]);
    expect(specs[9].datasets[1].data).toEqual([100, 400]);
    expect(html.length).toBeGreaterThan(100_000); // Chart.js inlined: no network needed
  });
});
