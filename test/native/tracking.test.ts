// report_to end to end on the tiny-chat fixture model: a short runExperiment with format evals
// reports to TensorBoard (an event file in <run>/tb whose scalars match run.json and the metrics
// log) and to MLflow (a local mock server: params, metrics, artifacts uploaded, the run ended
// FINISHED); with the MLflow server gone, the same run still trains to the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { loadModel, type Model } from '../../src/model/model.js';
import { runExperiment } from '../../src/run/experiment.js';
import { loadSuite, type EvalSuite } from '../../src/eval/index.js';
import type { DataSplits } from '../../src/data/index.js';
import type { TrainConfig } from '../../src/config/config.js';
import { tinyToolSplits, TINY_CHAT, TINY_SUITE } from '../helpers/experiment.js';
import { tinyConfig, tmpDir } from '../helpers/train.js';
import { calls, closeMockServers, mockMlflow, servers } from '../helpers/mlflow-mock.js';
import { scalarsOf } from '../helpers/tfevents.js';

describe('report_to on a short run', () => {
  let model: Model;
  let suite: EvalSuite;
  let data: DataSplits;
  const dirs: string[] = [];
  const saved = process.env.MLFLOW_TRACKING_URI;

  const config = (adapterPath: string): TrainConfig =>
    tinyConfig(adapterPath, {
      fine_tune_type: 'full',
      batch_size: 4,
      iters: 10,
      steps_per_report: 5,
      steps_per_eval: 5,
      save_every: 5,
      seed: 1,
      report_to: ['tensorboard', 'mlflow'],
      eval: { suite: TINY_SUITE, every: 5, max_tokens: 16, stop: [], at_start: true },
    });

  beforeAll(async () => {
    model = await loadModel(TINY_CHAT);
    suite = await loadSuite(TINY_SUITE);
    data = tinyToolSplits(model.tokenizer, suite.cases.map((c) => c.prompt!), 40, 8);
  });
  afterAll(async () => {
    model?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    if (saved === undefined) delete process.env.MLFLOW_TRACKING_URI;
    else process.env.MLFLOW_TRACKING_URI = saved;
    await closeMockServers();
  });

  it('writes TensorBoard scalars that match run.json, and reports the run to MLflow', async () => {
    const { uri, seen } = await mockMlflow();
    process.env.MLFLOW_TRACKING_URI = uri;
    const out = tmpDir('mlxlab-tracking-');
    dirs.push(out);
    const run = await runExperiment(config(out), { model, data, suite });
    expect(run.stopReason).toBe('completed');

    const [file, ...more] = readdirSync(join(out, 'tb'));
    expect(more).toEqual([]);
    const tb = scalarsOf(readFileSync(join(out, 'tb', file)));
    expect(tb['format/score'].map(([step]) => step)).toEqual(run.evals.map((e) => e.iteration));
    expect(tb['format/score'].map(([, v]) => v)).toEqual(run.evals.map((e) => Math.fround(e.score)));
    expect(tb['format/high'].map(([, v]) => v)).toEqual(run.evals.map((e) => Math.fround(e.high)));
    expect(tb['train/loss'].map(([step]) => step)).toEqual([5, 10]);
    expect(tb['val/loss'].map(([step]) => step)).toEqual(run.valLosses.map((v) => v.iteration));
    expect(Object.keys(tb).some((t) => t.startsWith('format/category/'))).toBe(true);

    expect(calls(seen)[2]).toBe('POST /api/2.0/mlflow/runs/create');
    const metricKeys = new Set(seen.flatMap((s) => ((s.json?.metrics as { key: string }[] | undefined) ?? []).map((m) => m.key)));
    for (const k of ['train/loss', 'train/learning_rate', 'train/tokens_per_sec', 'val/loss', 'format/score', 'format/low', 'format/high']) expect(metricKeys).toContain(k);
    const puts = calls(seen).filter((c) => c.startsWith('PUT')).map((c) => c.replace(/^PUT .*\//, ''));
    expect(puts.sort()).toEqual(['adapter_config.json', 'adapters.safetensors', 'run.json']);
    const adapterPut = seen.find((s) => s.url.endsWith('/adapters.safetensors'))!;
    expect(adapterPut.raw.equals(readFileSync(run.adapterFile))).toBe(true); // the selected adapter, byte for byte
    expect(seen.at(-1)?.json).toMatchObject({ status: 'FINISHED' });
  });

  it('trains to the end when the MLflow server is gone', async () => {
    const { uri } = await mockMlflow();
    await new Promise((r) => (servers.pop() as Server).close(r));
    process.env.MLFLOW_TRACKING_URI = uri;
    const out = tmpDir('mlxlab-tracking-');
    dirs.push(out);
    const run = await runExperiment(config(out), { model, data, suite });
    expect(run.stopReason).toBe('completed');
    expect(run.iteration).toBe(10);
    expect(readdirSync(join(out, 'tb'))).toHaveLength(1); // TensorBoard went on
  });
});
