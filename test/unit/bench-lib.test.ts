// The benchmark harness's pure pieces (benchmarks/lib): bytes read per decoded token, random
// model folders, the goals read out of reports, medians with their spread, interleaved rounds,
// the provenance of a run (commit, BLAS kernel), the training data kinds and the Markdown
// tables. No native code, no Python, no node-llama-cpp.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
import { interleaved, mdTable, pairedRatio, peakRss, quantile, spread, spreadText, summarizeRate } from '../../benchmarks/lib/stats.mjs';
// @ts-expect-error: plain ESM scripts without types
import { blasText, gitState } from '../../benchmarks/lib/env.mjs';
// @ts-expect-error: plain ESM scripts without types
import { DATA_KINDS, dataKindLines, withoutSharedPrefix } from '../../benchmarks/lib/train-data.mjs';

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
  const spreadOf = (median: number, min: number, max: number) => ({ median, min, max, n: 3 });
  const reports = {
    generate: {
      comparisons: [
        { kind: 'policy + engine', ours: 'ours auto', other: 'mlx-lm stock', prompt_tokens: 128, batch: 1, prompt: 2, decode: 1.05, decode_spread: spreadOf(1.05, 1, 1.1) },
        { kind: 'like-for-like', ours: 'ours native', other: 'mlx-lm same-blas', prompt_tokens: 128, batch: 1, prompt: 0.9, decode: 1.2, decode_spread: spreadOf(1.2, 1.15, 1.3) },
        { kind: 'like-for-like', ours: 'ours native', other: 'mlx-lm same-blas', prompt_tokens: 128, batch: 4, prompt: 9, decode: 9 },
      ],
    },
    bandwidth: { compute: { mode: 'float32' }, fraction: 0.61 },
  };

  it('reads each ratio out of its report and says whether the goal is met', () => {
    const goals = evaluateGoals(reports);
    const byId = Object.fromEntries(goals.map((g: { id: string }) => [g.id, g]));
    expect(byId.decode.rows.map((r: { value: number; met: boolean; like: boolean }) => [r.value, r.met, r.like])).toEqual([[1.05, false, false], [1.2, true, true]]);
    expect(byId.prefill.rows.map((r: { met: boolean }) => r.met)).toEqual([true, false]);
    expect(byId.bandwidth.rows[0].met).toBe(true);
    expect(byId.train.rows).toEqual([]);
    const rows = goalRows(goals);
    expect(rows.find((r: string[]) => r[0].startsWith('LoRA'))).toContain('not measured in this run');
    expect(rows.find((r: string[]) => r[0].startsWith('decode as'))[1]).toBe('61.0%');
    // The spread over rounds beside the median, and the like-for-like label.
    expect(rows).toContainEqual(['decode tokens/s, ours / mlx_lm.generate', '1.20× [1.15×–1.30×]', '≥ 1.1×', 'met', 'ours native / mlx-lm same-blas (prompt 128, batch 1) (like-for-like)']);
  });
});

describe('spread and interleaving', () => {
  it('gives the median, min–max, the IQR and how many values were timed', () => {
    expect(quantile([1, 2, 3, 4], 0.25)).toBe(1.75);
    const s = spread([5, 1, 3, 2, 4]);
    expect(s).toMatchObject({ n: 5, median: 3, min: 1, max: 5, q1: 2, q3: 4 });
    expect(summarizeRate([1, 3, 2]).best).toBe(3);
    expect(spreadText(spread([1, 2, 3]), (x: number) => x.toFixed(1))).toBe('2.0 [1.0–3.0]');
    expect(spreadText(spread([2]), (x: number) => x.toFixed(1))).toBe('2.0'); // one value: no range to show
  });

  it('pairs the ratios round by round', () => {
    expect(pairedRatio([10, 20, 30], [5, 20, 10])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
  });

  it('runs the sides interleaved, A B A B, and keeps each side\'s results in round order', async () => {
    const calls: string[] = [];
    const r = await interleaved([{ name: 'A' }, { name: 'B' }], 3, async (side: { name: string }, round: number) => {
      calls.push(`${side.name}${round}`);
      return round;
    });
    expect(calls).toEqual(['A0', 'B0', 'A1', 'B1', 'A2', 'B2']);
    expect(r.order).toEqual([[0, 'A'], [0, 'B'], [1, 'A'], [1, 'B'], [2, 'A'], [2, 'B']]);
    expect(r.bySide.get('B')).toEqual([0, 1, 2]);
  });
});

describe('provenance', () => {
  it('reads the commit and whether the tree is dirty', () => {
    const g = gitState();
    expect(g.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(typeof g.dirty).toBe('boolean');
    expect(gitState(tmpdir())).toEqual({ sha: null, dirty: null }); // not a repository
  });

  it('says a BLAS in one line', () => {
    expect(blasText({ library: 'OpenBLAS', version: '0.3.34', corename: 'Haswell' })).toBe('OpenBLAS 0.3.34, kernel Haswell');
    expect(blasText({ library: 'reference BLAS', version: null, corename: null })).toBe('reference BLAS');
    expect(blasText(null)).toBe('unknown');
  });

  it('measures this process\'s own peak resident set', () => {
    if (process.platform === 'linux') expect(peakRss()).toBeGreaterThan(1 << 20);
  });
});

describe('training data kinds', () => {
  const system = 'You are a coding agent. Answer with one tool call. Functions: read_file(path) write_file(path, content) run_command(cmd)';
  const lines = Array.from({ length: 6 }, (_, i) => JSON.stringify({ messages: [{ role: 'system', content: system }, { role: 'user', content: `task ${i}` }, { role: 'assistant', content: 'ok' }] }));

  it('keeps the shared-prefix data as written', () => {
    expect(DATA_KINDS).toEqual(['shared-prefix', 'no-prefix']);
    expect(dataKindLines('shared-prefix', lines, 1)).toEqual(lines);
    expect(() => dataKindLines('nope', lines, 1)).toThrow(/unknown "nope"/);
  });

  it('shuffles each system prompt with its own seed: same words, no common start, replayable', () => {
    const out = withoutSharedPrefix(lines, 7).map((l: string) => JSON.parse(l));
    const systems = out.map((r: { messages: { content: string }[] }) => r.messages[0].content);
    const sorted = (t: string) => t.split(' ').sort().join(' ');
    for (const t of systems) expect(sorted(t)).toBe(sorted(system.split(/\s+/).join(' ')));
    const commonStart = (a: string, b: string) => { let n = 0; while (n < a.length && a[n] === b[n]) n++; return n; };
    const shortest = Math.min(...systems.slice(1).map((t: string) => commonStart(t, systems[0])));
    expect(shortest).toBeLessThan(20); // the shared ~120-character prompt is gone
    expect(out.map((r: { messages: { content: string }[] }) => r.messages[1].content)).toEqual(lines.map((_, i) => `task ${i}`));
    expect(withoutSharedPrefix(lines, 7)).toEqual(withoutSharedPrefix(lines, 7));
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
  const rate = (x: number) => ({ median: x, best: x * 1.1, min: x * 0.9, max: x * 1.1, n: 3, runs: [x * 0.9, x, x * 1.1] });
  const blas = { library: 'OpenBLAS', version: '0.3.34', corename: 'Haswell' };
  const run = {
    date: '2026-11-26T09:00:00.000Z',
    quick: false,
    command: 'node benchmarks/run.mjs',
    seconds: 600,
    git: { sha: 'a'.repeat(40), dirty: true },
    machine: { cpu: 'Test CPU', cores: 2, memoryGB: 8, os: 'linux', node: '20' },
    versions: {
      ours: { mlx: '0.32.4', sdk: 'mlx-cpu', device: 'cpu', blas: { library: 'OpenBLAS', version: '0.3.34', corename: 'Haswell' } },
      mlx_lm: { 'same-blas': { mlx: '0.32.4', mlx_lm: '0.32.2', blas: { library: 'OpenBLAS', version: '0.3.34', corename: 'Haswell' } } },
      llama_cpp: 'node-llama-cpp 3.22.1',
    },
    timed: { generate: { 'ours native': [3], 'mlx-lm same-blas': [3] }, train: { 'ours auto [no-prefix]': 6 } },
    runs: ['generate', 'train', 'eval', 'bandwidth', 'scaling'].map((name) => ({ name, status: 'ok', seconds: 60, loadavg: [0.5, 2], args: [] })),
    reports: {
      generate: {
        model: '/x/smollm2', max_tokens: 128, reps: 3, warmup: 1, order: ['1:ours native', '1:mlx-lm same-blas', '1:llama.cpp', '2:ours native'],
        sides: ['ours native', 'mlx-lm same-blas', 'llama.cpp'].map((name, i) => ({
          name, weights: 'stored 4-bit', kernels: i === 2 ? 'ggml CPU kernels (no BLAS)' : 'MLX quantized matmul (CPU)', batching: 'batch 1', blas: i === 2 ? { library: 'none (ggml CPU kernels)' } : blas,
          info: { max_rss: { median: 2 ** 20 * 500 } },
          results: [{ prompt_tokens: 128, batch: 1, timed_runs: 3, prompt_tps: rate(100 - i * 30), generation_tps: rate(20 - i * 5), peak_memory: i === 2 ? null : { median: 2 ** 20 } }],
        })),
        comparisons: [
          { kind: 'like-for-like', label: 'same stored weights and kernels', ours: 'ours native', other: 'mlx-lm same-blas', prompt_tokens: 128, batch: 1, prompt: 10 / 7, prompt_spread: { median: 10 / 7, min: 1.3, max: 1.5, n: 3 }, decode: 20 / 15, decode_spread: { median: 20 / 15, min: 1.25, max: 1.4, n: 3 }, memory: 1, max_rss: 1 },
          { kind: 'peer', label: 'llama.cpp peer', ours: 'ours native', other: 'llama.cpp', prompt_tokens: 128, batch: 1, prompt: 2.5, prompt_spread: { median: 2.5, min: 2.4, max: 2.6, n: 3 }, decode: 2, decode_spread: { median: 2, min: 1.9, max: 2.1, n: 3 }, memory: null, max_rss: 1 },
        ],
      },
      train: {
        model: '/x/smollm2', data_stats: { 'shared-prefix': { examples: 10, mean_tokens: 400 }, 'no-prefix': { examples: 10, mean_tokens: 398 } }, settings: { lora_parameters: { rank: 8 }, num_layers: 8, batch_size: 1, iters: 20, warmup: 2 }, rounds: 3,
        sides: ['shared-prefix', 'no-prefix'].flatMap((data) => ['ours auto', 'mlx-lm same-blas-f32'].map((side, i) => ({
          name: `${side} [${data}]`, side, data, weights: 'float32', kernels: 'MLX f32 matmul on BLAS', batching: 'batch 1', blas,
          result: { tokens_per_sec: 30 - i * 10, tokens_per_sec_spread: { median: 30 - i * 10, min: 25 - i * 10, max: 31 - i * 10, n: 3 }, timed_iterations_total: 54, peak_memory: 2 ** 20, first_loss: 2, last_loss: 1 },
        }))),
        ratios: ['shared-prefix', 'no-prefix'].map((data) => ({ kind: 'like-for-like', like: true, ours: 'ours auto', mlx_lm: 'mlx-lm same-blas-f32', data, tokens_per_sec: 1.5, tokens_per_sec_spread: { median: 1.5, min: 1.4, max: 1.6, n: 3 }, memory: 1, same_batches: true, loss: { max_rel: 0 } })),
        prefix_reuse: [{ side: 'ours auto', shared_over_none: 1.4 }],
      },
      eval: {
        model: '/x/smollm2', suite: '/x/suite.yaml', cases: 27, cases_in_suite: 27, rounds: 3,
        sides: [
          { name: 'ours auto', weights: 'f32 copies', kernels: 'BLAS', batching: 'one batch', blas, timed_cases: 81, setup_seconds: 5, suite_seconds: 100, suite_seconds_spread: { median: 100, min: 95, max: 110, n: 3 }, score: 0.5 },
          { name: 'mlx_lm.server same-blas concurrent', weights: 'stored 4-bit', kernels: 'quantized', batching: 'concurrent', blas, timed_cases: 81, setup_seconds: 10, suite_seconds: 600, suite_seconds_spread: { median: 600, min: 590, max: 610, n: 3 }, score: 0.5 },
        ],
        ratios: [{ ours: 'ours auto', server: 'mlx_lm.server same-blas concurrent', mode: 'concurrent', like: true, suite: 6, suite_spread: { median: 6, min: 5.5, max: 6.5, n: 3 }, with_setup: 610 / 105 }],
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
    expect(md).toContain(`| commit | ${'a'.repeat(40)} (dirty: the tree had changes not in this commit) |`);
    expect(md).toContain('| BLAS (ours) | OpenBLAS 0.3.34, kernel Haswell |');
    expect(md).toContain('| mlx-lm same-blas venv | mlx-lm 0.32.2, mlx 0.32.4, BLAS OpenBLAS 0.3.34, kernel Haswell (the same files as ours) |');
    expect(md).toContain('| llama.cpp peer | node-llama-cpp 3.22.1 (prebuilt CPU binaries from npm) |');
    expect(md).toContain('| decode tokens/s, ours / mlx_lm.generate | 1.33× [1.25×–1.40×] | ≥ 1.1× | met | ours native / mlx-lm same-blas (prompt 128, batch 1) (like-for-like) |');
    expect(md).not.toMatch(/\| decode tokens\/s, ours \/ mlx_lm.generate \|.*llama\.cpp/); // the peer is not an mlx-lm goal
    expect(md).toContain('| peer | llama.cpp peer | ours native / llama.cpp | 128 | 1 | 2.50× [2.40×–2.60×] | 2.00× [1.90×–2.10×] | — | 1.00× |');
    expect(md).toContain('| LoRA training tokens/s, ours / mlx_lm.lora | 1.50× [1.40×–1.60×] | ≥ 1.2× | met | ours auto / mlx-lm same-blas-f32, no-prefix data (like-for-like) |');
    // What each side runs, what was timed, and the spread over rounds.
    expect(md).toContain('| llama.cpp | stored 4-bit | ggml CPU kernels (no BLAS) | none (ggml CPU kernels) | batch 1 |');
    expect(md).toContain('| ours native | 128 | 1 | 3 | 100 [90.0–110] | 20.0 [18.0–22.0] | 1 | 500 |');
    expect(md).toContain('| generate | mlx-lm same-blas | 3 |');
    expect(md).toContain('| ours auto | no-prefix | 54 | 30.0 [25.0–31.0] |');
    expect(md).toContain('| ours auto | 1.40× |'); // prefix reuse: shared-prefix / no-prefix data
    expect(md).toContain('| ours auto vs mlx_lm.server same-blas concurrent (both batch) | 6.00× [5.50×–6.50×] | 5.81× |');
    expect(md).toContain('| mlx_lm.server same-blas concurrent / ours auto, 27 of 27 cases (like-for-like: both batch, same libmlx) |');
    expect(md).toContain('| ours auto | float32 | MLX f32 matmul on BLAS | OpenBLAS 0.3.34, kernel Haswell | batch 1 |'); // train: one row per side
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

  it('render RESULTS.md again from several committed runs (--render), each benchmark from the last one that has it', () => {
    const older = { ...run, runs: run.runs.filter((r) => r.name !== 'train'), reports: { ...run.reports, train: undefined } };
    const newer = { ...run, date: '2026-12-06T21:00:00.000Z', git: { sha: 'b'.repeat(40), dirty: false }, command: 'node benchmarks/run.mjs --only train,eval', runs: run.runs.filter((r) => r.name === 'train' || r.name === 'eval'), reports: { train: run.reports.train, eval: { ...run.reports.eval, cases: 9 } } };
    const dir = mkdtempSync(join(tmp, 'render-'));
    writeFileSync(join(dir, 'old.json'), JSON.stringify(older));
    writeFileSync(join(dir, 'new.json'), JSON.stringify(newer));
    const r = spawnSync(process.execPath, [resolve(__dirname, '..', '..', 'benchmarks', 'run.mjs'), '--render', `${join(dir, 'old.json')},${join(dir, 'new.json')}`, '--out-dir', dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const md = readFileSync(join(dir, 'RESULTS.md'), 'utf8');
    expect(md).toMatch(/from 2 committed runs/);
    expect(md).toContain(`| old.json | 2026-11-26T09:00:00.000Z | ${'a'.repeat(12)} (dirty) | generate, eval, bandwidth, scaling |`);
    expect(md).toContain(`| new.json | 2026-12-06T21:00:00.000Z | ${'b'.repeat(12)} | train, eval |`);
    expect(md).toMatch(/\| eval \| ok \|.*\| new\.json \|/); // the newer run's eval wins
    expect(md).toMatch(/\| generate \| ok \|.*\| old\.json \|/);
    expect(readFileSync(join(dir, 'results.html'), 'utf8')).toContain('<html');
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ ...newer, machine: { ...run.machine, cpu: 'Another CPU' } }));
    const mixed = spawnSync(process.execPath, [resolve(__dirname, '..', '..', 'benchmarks', 'run.mjs'), '--render', `${join(dir, 'old.json')},${join(dir, 'other.json')}`, '--out-dir', dir], { encoding: 'utf8' });
    expect(mixed.status).not.toBe(0);
    expect(mixed.stderr).toMatch(/different CPUs/);
  });
});

describe('benchmarks/ui.mjs', () => {
  const script = resolve(__dirname, '..', '..', 'benchmarks', 'ui.mjs');
  const spreadOf = (xs: number[]) => spread(xs);

  it('its RESULTS.md section: steps/s per side, the paired ratio, page ms and redraws', async () => {
    const { uiSection } = await import('../../benchmarks/lib/results-md.mjs');
    const report = {
      benchmark: 'ui', model: '/x/models/smollm2-mlx-ref', suite: '/x/tool-format/suite.yaml', client: 'headless Chromium', rounds: 3,
      settings: { examples: 60, iters: 30, warmup: 2, batch: 1, num_layers: 8, eval_every: 10, max_tokens: 24, probe_ms: 250 },
      sides: [
        { name: 'without --ui', steps_per_sec: spreadOf([1.9, 2, 2.1]), timed_steps: [28, 28, 28], evals: [4, 4, 4] },
        { name: 'with --ui', steps_per_sec: spreadOf([1.8, 2, 2.05]), timed_steps: [28, 28, 28], evals: [4, 4, 4], page_ms: spreadOf([1, 2, 40]), page_redraws: [9, 10, 9] },
      ],
      ratio: { median: 0.98, min: 0.95, max: 1.01, n: 3 },
    };
    const [text, rows] = uiSection(report);
    expect(text).toContain('3 interleaved rounds, client: headless Chromium');
    expect(text).toContain('every 10 steps');
    expect(rows).toContain('| without --ui | 2.00 [1.90–2.10] | — | — | — |');
    expect(rows).toContain('| with --ui | 2.00 [1.80–2.05] | 0.98× [0.95–1.01] | 2.0 [40.0] | 9 / 10 / 9 |');
  });

  it('names a bad option before training anything', () => {
    for (const [args, message] of [
      [['--client', 'firefox'], /--client: expected auto, browser or http, got "firefox"/],
      [['--reps', '0'], /--reps: expected an integer ≥ 1, got "0"/],
      [['--client', 'browser', '--reps', '1'], /--client browser: CHROMIUM=\/nonexistent is not an executable file/],
    ] as const) {
      const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', env: { ...process.env, CHROMIUM: '/nonexistent' }, timeout: 60_000 });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/round 1/); // nothing trained
    }
  });
});
