// Sweeps: several seeds in one process on ONE loaded base model. A 3-seed sweep loads the model
// once, writes a run folder per seed (run.json, adapters) and sweep.json, and each seed's result
// equals that seed trained alone with runExperiment on a freshly loaded model (the adapter is
// detached between runs, so the shared base model stays clean).
//
// On the tiny-chat fixture (a real tokenizer and chat template) the runs have live format evals
// on the tiny tool suite; without it, the sweep mechanics run on llama-f32 with synthetic token
// data and selection by val loss.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { defaultTrainConfig, mergeConfig, type TrainConfig } from '../../src/config/config.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { runExperiment, type ExperimentResult } from '../../src/run/experiment.js';
import { runSweep, planSweep, type SweepEvent, type SweepReport } from '../../src/sweep/index.js';
import { sweepCommand } from '../../src/cli/sweep.js';
import type { DataSplits } from '../../src/data/index.js';
import { modelDir } from '../helpers/paths.js';
import { formatTask, tmpDir } from '../helpers/train.js';

const TINY_CHAT = modelDir('tiny-chat');
const HAS_CHAT = existsSync(join(TINY_CHAT, 'config.json')) && existsSync(join(TINY_CHAT, 'tokenizer.json'));
const SYSTEM = 'Use execute_code to call tools.';

/** Chat records asking for the suite's tools in other words, answered with the wrapped call. */
function chatLines(n: number, offset: number): string[] {
  const tools = [
    { code: 'git_status()', asks: ['Show the git status.', 'Is the work tree clean?', 'Check git status please.', 'Any changes in git?', 'Git status, quickly.'] },
    { code: "run_tests('tests')", asks: ['Run the test suite.', 'Please run all tests.', 'Execute the tests now.', 'Tests, please.', 'Can you run every test?'] },
    { code: "read_file('README.md')", asks: ['Open README.md.', 'Show README.md to me.', 'What does README.md say?', 'Cat README.md.', 'Read the file README.md.'] },
  ];
  const lines: string[] = [];
  for (let i = offset; i < offset + n; i++) {
    const t = tools[i % 3];
    const reply = `<tool_call>${JSON.stringify({ name: 'execute_code', arguments: { code: t.code } })}</tool_call>`;
    const messages = [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: t.asks[Math.floor(i / 3) % t.asks.length] },
      { role: 'assistant', content: reply },
    ];
    lines.push(JSON.stringify({ messages }));
  }
  return lines;
}

const SUITE = `name: sweep-tiny
system: "${SYSTEM}"
scorer: rubric
cases:
  - {id: status, category: git, prompt: "What's the git status now?", expect: {tool: git_status}}
  - {id: tests, category: tests, prompt: "Could you run the tests for me?", expect: {tool: run_tests, keywords: ["'tests'"]}}
  - {id: readme, category: files, prompt: "I'd like to read README.md.", expect: {tool: read_file, keywords: [README.md]}}
  # Early signs of the format, so that scores differ between seeds and steps after a few steps.
  - {id: opens, category: shape, prompt: "Check the status of git.", scorer: regex, expect: {regex: "^<t"}}
  - {id: code, category: shape, prompt: "Run every test please.", scorer: regex, expect: {regex: "code"}}
  - {id: name, category: shape, prompt: "Print README.md.", scorer: regex, expect: {regex: "name"}}
`;

interface Fixture {
  config: TrainConfig;
  /** Synthetic data for the llama-f32 fallback (the chat fixture reads config.data). */
  data?: DataSplits;
  load: (path: string) => Promise<Model>;
}

function makeFixture(root: string, overrides: Partial<TrainConfig> = {}): Fixture {
  const common: Partial<TrainConfig> = {
    adapter_path: join(root, 'sweep'),
    batch_size: 4,
    iters: 30,
    steps_per_report: 10,
    steps_per_eval: 10,
    save_every: 10,
    num_layers: -1,
    mask_prompt: true,
    val_batches: 2,
    lora_parameters: { rank: 8, dropout: 0, scale: 20, keys: null },
    sweep: { seeds: [1, 2, 3], grid: {} },
  };
  if (HAS_CHAT) {
    const data = join(root, 'data');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'train.jsonl'), chatLines(36, 0).join('\n') + '\n');
    writeFileSync(join(data, 'valid.jsonl'), chatLines(6, 36).join('\n') + '\n');
    writeFileSync(join(root, 'suite.yaml'), SUITE);
    const config = mergeConfig(defaultTrainConfig(), {
      ...common,
      model: TINY_CHAT,
      data,
      learning_rate: 1e-3,
      eval: { suite: join(root, 'suite.yaml'), every: 10, max_tokens: 96, stop: [], at_start: true },
      ...overrides,
    });
    return { config, load: (p) => loadModel(p) };
  }
  const config = mergeConfig(defaultTrainConfig(), { ...common, model: modelDir('llama-f32'), learning_rate: 5e-3, selection: { metric: 'val_loss', rule: 'best' }, ...overrides });
  return { config, data: { path: 'synthetic', train: formatTask(40, 1), valid: formatTask(8, 2), test: null }, load: (p) => loadModel(p, { tokenizer: false }) };
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

describe(`sweeps (${HAS_CHAT ? 'tiny-chat with format evals' : 'llama-f32, synthetic data'})`, () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = tmpDir('mlxlab-sweep-');
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  let root: string;
  let fx: Fixture;
  let loads: string[];
  let events: SweepEvent[];
  let sweep: Awaited<ReturnType<typeof runSweep>>;
  let seconds: number;
  beforeAll(async () => {
    root = dir();
    fx = makeFixture(root);
    loads = [];
    events = [];
    const t0 = performance.now();
    sweep = await runSweep(fx.config, {
      data: fx.data,
      loadModel: async (p) => {
        loads.push(p);
        return fx.load(p);
      },
      onEvent: (e) => events.push(e),
    });
    seconds = (performance.now() - t0) / 1000;
  });

  it('loads the base model once for 3 seeds, and the data once', () => {
    console.log(`3-seed sweep: ${seconds.toFixed(1)}s; best ${sweep.report.runs.map((r) => r.best?.score ?? '-').join(', ')}; selected ${sweep.report.runs.map((r) => r.selected?.step).join(', ')}`);
    expect(loads).toEqual([fx.config.model]);
    expect(sweep.modelLoads).toBe(1);
    expect(sweep.report.modelLoads).toBe(1);
    expect(sweep.dataLoads).toBe(fx.data ? 0 : 1);
    expect(sweep.interrupted).toBe(false);
  });

  it('writes a run folder per seed (run.json, adapters) and sweep.json', () => {
    const sweepDir = join(root, 'sweep');
    expect(readdirSync(sweepDir).sort()).toEqual(['seed-1', 'seed-2', 'seed-3', 'sweep.json']);
    for (const name of ['seed-1', 'seed-2', 'seed-3']) {
      const files = readdirSync(join(sweepDir, name));
      expect(files).toEqual(expect.arrayContaining(['run.json', 'adapters.safetensors', 'adapter_config.json', 'metrics.jsonl', '0000030_adapters.safetensors']));
      const manifest = readJson(join(sweepDir, name, 'run.json'));
      expect(manifest.seed).toBe(Number(name.slice(5)));
      expect(manifest.config.adapter_path).toBe(join(sweepDir, name));
      expect(manifest.config.sweep).toBeNull();
    }
    const onDisk = readJson(sweep.file) as SweepReport;
    expect(sweep.file).toBe(join(sweepDir, 'sweep.json'));
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(sweep.report)));
    expect(onDisk.status).toBe('completed');
    expect(onDisk.plan.map((p) => p.name)).toEqual(['seed-1', 'seed-2', 'seed-3']);
    expect(onDisk.runs.map((r) => [r.name, r.seed, r.status, r.runDir])).toEqual([1, 2, 3].map((s) => [`seed-${s}`, s, 'completed', join(sweepDir, `seed-${s}`)]));
    expect(onDisk.lockThreshold).toBe(0.8);
    expect(onDisk.lint).toEqual([]);
  });

  it('each seed equals that seed trained alone with runExperiment on a fresh model', async () => {
    const alone: ExperimentResult[] = [];
    for (const seed of [1, 2, 3]) {
      const model = await fx.load(fx.config.model!);
      try {
        const config = mergeConfig(fx.config, { seed, adapter_path: join(dir(), `alone-${seed}`), sweep: null });
        alone.push(await runExperiment(config, { model, data: fx.data }));
      } finally {
        model.dispose();
      }
    }
    for (let i = 0; i < 3; i++) {
      const s = sweep.experiments[i]!;
      const a = alone[i];
      expect(s.losses).toEqual(a.losses);
      expect(s.valLosses).toEqual(a.valLosses);
      expect(s.manifest.evals.map((e) => [e.iteration, e.score, e.cases, e.failures])).toEqual(a.manifest.evals.map((e) => [e.iteration, e.score, e.cases, e.failures]));
      expect(s.selection?.checkpoint.iteration).toBe(a.selection?.checkpoint.iteration);
      const run = sweep.report.runs[i];
      const best = [...a.manifest.evals].sort((x, y) => y.score - x.score || (x.valLoss ?? Infinity) - (y.valLoss ?? Infinity) || x.iteration - y.iteration)[0];
      expect(run.best?.score ?? null).toBe(best?.score ?? null);
      expect(run.best?.step ?? null).toBe(best?.iteration ?? null);
      expect(run.selected?.step).toBe(a.selection?.checkpoint.iteration);
      expect(run.valLossAtSelection).toBe(a.selection?.checkpoint.valLoss ?? null);
      expect(run.finalTrainLoss).toBe(a.losses.at(-1));
    }
    // Seeds differ.
    expect(sweep.experiments[0]!.losses).not.toEqual(sweep.experiments[1]!.losses);
  });

  it('the shared base model is clean at the start of every run (same baseline eval / first val loss)', () => {
    const firstVal = sweep.experiments.map((e) => e!.valLosses[0]);
    expect(firstVal[1]).toEqual(firstVal[0]);
    expect(firstVal[2]).toEqual(firstVal[0]);
    if (HAS_CHAT) {
      const baselines = sweep.experiments.map((e) => e!.baseline);
      expect(baselines[0]).toBeDefined();
      expect(baselines[1]).toEqual(baselines[0]);
      expect(baselines[2]).toEqual(baselines[0]);
    }
  });

  it('reports the distribution over seeds, the Wilson interval of each best eval, failure mixes and locks', () => {
    const r = sweep.report;
    expect(r.summary.n).toBe(3);
    if (HAS_CHAT) {
      const bests = r.runs.map((x) => x.best!.score);
      const mean = bests.reduce((a, b) => a + b) / 3;
      expect(r.summary.bestScore!.mean).toBeCloseTo(mean, 12);
      expect(r.summary.bestScore!.min).toBe(Math.min(...bests));
      expect(r.summary.bestScore!.max).toBe(Math.max(...bests));
      expect(r.summary.bestScore!.std).toBeCloseTo(Math.sqrt(bests.reduce((a, b) => a + (b - mean) ** 2, 0) / 2), 12);
      for (const run of r.runs) {
        expect(run.best!.low).toBeLessThanOrEqual(run.best!.score);
        expect(run.best!.high).toBeGreaterThanOrEqual(run.best!.score);
        expect(run.locked).toBe(run.best!.score >= 0.8);
        expect(run.failuresStep).toBe(run.selected!.step);
        const selectedEval = sweep.experiments[r.runs.indexOf(run)]!.manifest.evals.find((e) => e.iteration === run.selected!.step)!;
        expect(run.failures).toEqual(selectedEval.failures);
        expect(run.selected!.score).toBe(selectedEval.score);
      }
      expect(r.summary.locked.count).toBe(r.runs.filter((x) => x.locked).length);
      expect(r.summary.locked.n).toBe(3);
    } else {
      expect(r.summary.bestScore).toBeNull();
      expect(r.summary.valLossAtSelection!.n).toBe(3);
      expect(r.summary.locked).toMatchObject({ count: 0, n: 0, rate: null });
    }
    expect(r.groups).toEqual([]);
  });

  it('emits sweep_start, run_start/run_done per run and sweep_done, with the runs\' training events between', () => {
    const kinds = events.filter((e) => e.event !== 'train').map((e) => (e.event === 'run_start' || e.event === 'run_done' ? `${e.event}:${e.index}` : e.event));
    expect(kinds).toEqual(['sweep_start', 'run_start:0', 'run_done:0', 'run_start:1', 'run_done:1', 'run_start:2', 'run_done:2', 'sweep_done']);
    const trainOf = (i: number) => events.filter((e) => e.event === 'train' && e.index === i);
    expect(trainOf(1).length).toBeGreaterThan(10);
  });

  it('Ctrl-C during the second run: it stops with a checkpoint, the third never starts, sweep.json says interrupted', async () => {
    const r2 = dir();
    const f2 = makeFixture(r2, { iters: 20 });
    const controller = new AbortController();
    const out = await runSweep(f2.config, {
      data: f2.data,
      loadModel: f2.load,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.event === 'train' && e.index === 1 && e.train.event === 'step' && e.train.iteration === 7) controller.abort(new Error('SIGINT'));
      },
    });
    expect(out.interrupted).toBe(true);
    const report = readJson(out.file) as SweepReport;
    expect(report.status).toBe('interrupted');
    expect(report.runs.map((r) => [r.name, r.status])).toEqual([
      ['seed-1', 'completed'],
      ['seed-2', 'interrupted'],
    ]);
    expect(report.plan).toHaveLength(3);
    expect(report.summary.n).toBe(1);
    expect(existsSync(join(r2, 'sweep', 'seed-3'))).toBe(false);
    // The interrupted run saved its state at the step it stopped after (resumable).
    expect(existsSync(join(r2, 'sweep', 'seed-2', '0000007_state.safetensors'))).toBe(true);
  });

  it('a grid: run names and configs per point, distributions per grid point', async () => {
    const r3 = dir();
    const f3 = makeFixture(r3, { iters: 4, save_every: 2, steps_per_eval: 2, sweep: { seeds: [5, 6], grid: { learning_rate: [1e-4, 5e-4], 'lora_parameters.rank': [4] } } });
    const plan = planSweep(f3.config);
    expect(plan.map((p) => p.name)).toEqual(['seed-5_lr-1e-4_rank-4', 'seed-6_lr-1e-4_rank-4', 'seed-5_lr-5e-4_rank-4', 'seed-6_lr-5e-4_rank-4']);
    expect(plan.map((p) => [p.config.seed, p.config.learning_rate, p.config.lora_parameters.rank, p.config.lora_parameters.scale])).toEqual([
      [5, 1e-4, 4, 20],
      [6, 1e-4, 4, 20],
      [5, 5e-4, 4, 20],
      [6, 5e-4, 4, 20],
    ]);
    let loadCount = 0;
    const out = await runSweep(f3.config, { data: f3.data, loadModel: (p) => (loadCount++, f3.load(p)) });
    expect(loadCount).toBe(1);
    expect(out.report.groups.map((g) => [g.grid, g.runNames, g.n])).toEqual([
      [{ learning_rate: 1e-4, 'lora_parameters.rank': 4 }, ['seed-5_lr-1e-4_rank-4', 'seed-6_lr-1e-4_rank-4'], 2],
      [{ learning_rate: 5e-4, 'lora_parameters.rank': 4 }, ['seed-5_lr-5e-4_rank-4', 'seed-6_lr-5e-4_rank-4'], 2],
    ]);
    const cfg = readJson(join(r3, 'sweep', 'seed-6_lr-5e-4_rank-4', 'adapter_config.json'));
    expect(cfg).toMatchObject({ seed: 6, learning_rate: 5e-4, lora_parameters: { rank: 4 } });
  });

  it.runIf(HAS_CHAT)('lint warnings come before the first run and are kept in sweep.json', async () => {
    const r4 = dir();
    const f4 = makeFixture(r4, { iters: 2, save_every: 2, steps_per_eval: 2, sweep: { seeds: [1], grid: {} } });
    writeFileSync(f4.config.eval!.suite, SUITE.replace('{tool: git_status}', '{tool: git_status_direct}'));
    const events: SweepEvent[] = [];
    const out = await runSweep(f4.config, { onEvent: (e) => events.push(e) });
    const kinds = events.filter((e) => e.event !== 'train').map((e) => e.event);
    expect(kinds.slice(0, 3)).toEqual(['sweep_start', 'lint', 'run_start']);
    expect(out.report.lint).toHaveLength(1);
    expect(out.report.lint[0]).toMatchObject({ code: 'unknown_tool', caseId: 'status', tool: 'git_status_direct', suggestion: 'git_status' });
  });

  // The command reads the data from disk; the synthetic fallback has none.
  it.runIf(HAS_CHAT)('mlx-lab sweep: --seeds, --lock-threshold, --json lines, then sweep.json', async () => {
    const r5 = dir();
    const f5 = makeFixture(r5, { iters: 2, save_every: 2, steps_per_eval: 2 });
    const config = join(r5, 'config.yaml');
    const c = f5.config;
    writeFileSync(
      config,
      [
        `model: ${c.model}`,
        `data: ${c.data}`,
        `iters: 2`,
        `batch_size: 4`,
        `save_every: 2`,
        `steps_per_eval: 2`,
        `num_layers: -1`,
        `val_batches: 1`,
        `learning_rate: 1e-3`,
        `eval: {suite: ${c.eval!.suite}, max_tokens: 8}`,
      ].join('\n') + '\n',
    );
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      const program = new Command('mlx-lab').exitOverride().addCommand(sweepCommand());
      await program.parseAsync(['sweep', '-c', config, '--adapter-path', join(r5, 'out'), '--seeds', '7,8', '--lock-threshold', '0.5', '--json'], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    const events = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as SweepEvent);
    expect(events[0]).toMatchObject({ event: 'sweep_start', lockThreshold: 0.5, runs: [{ name: 'seed-7' }, { name: 'seed-8' }] });
    expect(events.at(-1)!.event).toBe('sweep_done');
    const report = readJson(join(r5, 'out', 'sweep.json')) as SweepReport;
    expect(report.runs.map((r) => r.name)).toEqual(['seed-7', 'seed-8']);
    expect(report.lockThreshold).toBe(0.5);
    expect(process.exitCode ?? 0).toBe(0);
  });
});
