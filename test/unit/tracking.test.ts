// The tracking sinks (report_to): MLflow's REST calls checked against a local mock server
// (127.0.0.1, node:http), the settings from the environment, and the guard around every sink: a
// failing service (HTTP 500, an answer that is not MLflow's, nothing listening, a disk error)
// warns once, gets nothing more, and never throws into training.
import { afterAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrainConfig } from '../../src/config/config.js';
import { openTracking } from '../../src/run/tracking/index.js';
import { mlflowSettings, proxiedArtifactPath } from '../../src/run/tracking/mlflow.js';
import { ScalarMapper, flattenParams } from '../../src/run/tracking/scalars.js';
import { GuardedSink, type Sink } from '../../src/run/tracking/sink.js';
import type { TrainEvent } from '../../src/train/loop.js';
import { expectError } from '../helpers/errors.js';
import { calls, closeMockServers, mockMlflow, servers } from '../helpers/mlflow-mock.js';

const root = mkdtempSync(join(tmpdir(), 'mlx-lab-tracking-'));
afterAll(async () => {
  await closeMockServers();
  rmSync(root, { recursive: true, force: true });
});

const config = (reportTo: string) => parseTrainConfig(`model: m\ndata: d\nreport_to: ${reportTo}\nlora_parameters: {rank: 4}\n`, 'run.yaml');

/** A short run's events: two reports, a val loss, a format eval with categories, the test loss. */
const EVENTS: TrainEvent[] = [
  { event: 'format', iteration: 0, score: 0.25, low: 0.1, high: 0.5, n: 8, cases: {}, failures: {}, categories: { json: 0.5, 'tool call!': 0 }, caseCategories: {}, seconds: 1, tokensPerSec: 10, peakMemory: 1e9 },
  { event: 'step', iteration: 1, loss: 2, tokens: 10, lr: 1e-5, updated: true },
  { event: 'report', iteration: 1, trainLoss: 2, lr: 1e-5, itPerSec: 3, tokensPerSec: 300, trainedTokens: 10, peakMemory: 2e9 },
  { event: 'val', iteration: 2, valLoss: 1.5, valTokens: 10, seconds: 0.1 },
  { event: 'report', iteration: 2, trainLoss: Number.NaN, lr: 1e-5, itPerSec: 3, tokensPerSec: 300, trainedTokens: 20, peakMemory: 2e9 },
  { event: 'test', testLoss: 1.25, testPpl: Math.exp(1.25), tokens: 10 },
];


describe('MLflow over REST (a local mock)', () => {
  it('creates the experiment and run, logs params and metrics in batches, uploads artifacts, ends the run', async () => {
    const { uri, seen } = await mockMlflow();
    const warnings: string[] = [];
    const runDir = join(root, 'run-a');
    const manifest = join(root, 'run.json');
    writeFileSync(manifest, '{"version":1}\n');
    const tracking = openTracking(config('[mlflow]'), runDir, { env: { MLFLOW_TRACKING_URI: `${uri}/`, MLFLOW_TRACKING_TOKEN: 'tok' }, warn: (m) => warnings.push(m) });
    for (const e of EVENTS) tracking.event(e);
    await tracking.close({ status: 'finished', artifacts: [{ name: 'run.json', path: manifest }] });
    expect(warnings).toEqual([]);
    expect(calls(seen)).toEqual([
      'GET /api/2.0/mlflow/experiments/get-by-name',
      'POST /api/2.0/mlflow/experiments/create',
      'POST /api/2.0/mlflow/runs/create',
      'POST /api/2.0/mlflow/runs/log-batch', // params
      'POST /api/2.0/mlflow/runs/log-batch', // metrics (one batch: the sink was busy opening while they queued)
      'POST /api/2.0/mlflow/runs/log-batch', // artifact tags
      'PUT /api/2.0/mlflow-artifacts/artifacts/7/r1/artifacts/run.json',
      'POST /api/2.0/mlflow/runs/update',
    ]);
    expect(seen[0].url).toBe('/api/2.0/mlflow/experiments/get-by-name?experiment_name=mlx-lab');
    expect(seen[1].json).toEqual({ name: 'mlx-lab' });
    expect(seen[2].json).toMatchObject({ experiment_id: '7', run_name: 'run-a' });
    const params = seen[3].json?.params as { key: string; value: string }[];
    expect(params).toContainEqual({ key: 'lora_parameters.rank', value: '4' });
    expect(params).toContainEqual({ key: 'report_to', value: '["mlflow"]' });
    expect(params).toContainEqual({ key: 'resume_adapter_file', value: 'None' });
    const metrics = (seen[4].json?.metrics as { key: string; value: number; step: number }[]).map(({ key, value, step }) => [key, step, value]);
    expect(metrics).toEqual([
      ['format/score', 0, 0.25], ['format/low', 0, 0.1], ['format/high', 0, 0.5], ['format/category/json', 0, 0.5], ['format/category/tool call_', 0, 0],
      ['train/loss', 1, 2], ['train/learning_rate', 1, 1e-5], ['train/tokens_per_sec', 1, 300], ['train/it_per_sec', 1, 3], ['train/peak_memory_gb', 1, 2],
      ['val/loss', 2, 1.5],
      // the NaN train loss of iteration 2 is left out (JSON has no NaN)
      ['train/learning_rate', 2, 1e-5], ['train/tokens_per_sec', 2, 300], ['train/it_per_sec', 2, 3], ['train/peak_memory_gb', 2, 2],
      ['test/loss', 2, 1.25], ['test/ppl', 2, Math.exp(1.25)],
    ]);
    expect(seen[5].json?.tags).toEqual([{ key: 'mlx_lab.artifact.run.json', value: manifest }]);
    expect(seen[6].body).toBe('{"version":1}\n');
    expect(seen[7].json).toMatchObject({ run_id: 'r1', status: 'FINISHED' });
  });

  it('sends the token, uses an existing experiment, and logs artifact paths only when the store is not proxied', async () => {
    const { uri, seen } = await mockMlflow((s) => (s.url.includes('get-by-name') ? { status: 200, body: '{"experiment":{"experiment_id":"3"}}' } : undefined), 's3://bucket/3/r1');
    const tracking = openTracking(config('mlflow'), join(root, 'run-b'), { env: { MLFLOW_TRACKING_URI: uri, MLFLOW_EXPERIMENT_NAME: 'exp x' }, warn: () => {} });
    await tracking.close({ status: 'killed', artifacts: [{ name: 'adapters.safetensors', path: '/r/adapters.safetensors' }] });
    expect(seen[0].url).toBe('/api/2.0/mlflow/experiments/get-by-name?experiment_name=exp%20x');
    expect(calls(seen)).not.toContain('POST /api/2.0/mlflow/experiments/create');
    expect(calls(seen).some((c) => c.startsWith('PUT'))).toBe(false);
    expect(seen.at(-1)?.json).toMatchObject({ status: 'KILLED' });
  });

  it('warns once and stops reporting when the server answers 500, never throwing', async () => {
    const { uri, seen } = await mockMlflow((s) => (s.url.endsWith('log-batch') ? { status: 500, body: '{"error_code":"INTERNAL_ERROR"}' } : undefined));
    const warnings: string[] = [];
    const tracking = openTracking(config('[mlflow]'), join(root, 'run-c'), { env: { MLFLOW_TRACKING_URI: uri }, warn: (m) => warnings.push(m) });
    for (const e of EVENTS) tracking.event(e);
    await tracking.close({ status: 'finished', artifacts: [] });
    for (const e of EVENTS) tracking.event(e); // after the failure: nothing is sent
    await tracking.close({ status: 'finished', artifacts: [] });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^mlflow: POST http:\/\/127\.0\.0\.1:\d+\/api\/2\.0\/mlflow\/runs\/log-batch: HTTP 500: .*INTERNAL_ERROR.*nothing more is reported to mlflow for this run \(training goes on\)$/);
    expect(calls(seen).filter((c) => c.endsWith('log-batch'))).toHaveLength(1);
  });

  it('warns once when the answer is not MLflow\'s (HTML, a JSON list, no run id)', async () => {
    for (const body of ['<html>proxy login</html>', '[1,2]', '{"run":{}}']) {
      const { uri } = await mockMlflow((s) => (s.url.endsWith('runs/create') ? { status: 200, body } : undefined));
      const warnings: string[] = [];
      const tracking = openTracking(config('[mlflow]'), join(root, 'run-d'), { env: { MLFLOW_TRACKING_URI: uri }, warn: (m) => warnings.push(m) });
      for (const e of EVENTS) tracking.event(e);
      await tracking.close({ status: 'finished', artifacts: [] });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/runs\/create: the answer is not MLflow's/);
    }
  });

  it('warns once, naming the URL, when nothing listens there', async () => {
    const { uri } = await mockMlflow();
    const server = servers.pop() as Server;
    await new Promise((r) => server.close(r));
    const warnings: string[] = [];
    const tracking = openTracking(config('[mlflow]'), join(root, 'run-e'), { env: { MLFLOW_TRACKING_URI: uri }, warn: (m) => warnings.push(m) });
    for (const e of EVENTS) tracking.event(e);
    await tracking.close({ status: 'failed', artifacts: [] });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`GET ${uri}/api/2.0/mlflow/experiments/get-by-name`);
    expect(warnings[0]).toMatch(/ECONNREFUSED \(is the MLflow server at MLFLOW_TRACKING_URI up\?\)/);
  });

  it('needs MLFLOW_TRACKING_URI, an http(s) URL, before the run starts', () => {
    expectError(() => openTracking(config('[mlflow]'), root, { env: {} }), 'E_CONFIG', 'report_to: mlflow needs MLFLOW_TRACKING_URI', 'MLFLOW_TRACKING_URI=http://127.0.0.1:5000');
    expectError(() => mlflowSettings({ MLFLOW_TRACKING_URI: 'not a url' }, null), 'E_CONFIG', 'MLFLOW_TRACKING_URI "not a url" is not a URL');
    expectError(() => mlflowSettings({ MLFLOW_TRACKING_URI: 'file:///tmp/mlruns' }, null), 'E_CONFIG', 'over http or https only (not file)');
    expect(mlflowSettings({ MLFLOW_TRACKING_URI: 'http://h:5000', MLFLOW_TRACKING_USERNAME: 'u', MLFLOW_TRACKING_PASSWORD: 'p' }, 'proj')).toEqual({
      uri: 'http://h:5000',
      experiment: 'proj',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('u:p').toString('base64')}` },
    });
    expect(openTracking(config('[wandb, swanlab]'), root, { env: {} }).sinks).toHaveLength(0);
  });

  it('reads the proxied artifact path of mlflow-artifacts URIs, with or without a host', () => {
    expect(proxiedArtifactPath('mlflow-artifacts:/1/abc/artifacts')).toBe('/1/abc/artifacts');
    expect(proxiedArtifactPath('mlflow-artifacts://host:5000/1/abc/artifacts/')).toBe('/1/abc/artifacts');
    expect(proxiedArtifactPath('file:///mlruns/1/abc/artifacts')).toBeUndefined();
  });

  it('flattens the config into params', () => {
    expect(flattenParams({ a: 1, b: { c: 'x', d: [1, 2] }, e: null })).toEqual([['a', '1'], ['b.c', 'x'], ['b.d', '[1,2]'], ['e', 'None']]);
  });
});

describe('the guard around a sink', () => {
  /** A sink whose writes wait until `release()`; it records what it got. */
  function slowSink() {
    const got: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sink: Sink = {
      name: 'slow',
      open: async () => {},
      write: async (s) => {
        await gate;
        got.push(...s.map((x) => x.step));
      },
      close: async () => {},
    };
    return { sink, got, release };
  }
  const scalar = (step: number) => ({ tag: 't', value: step, step, time: 0 });

  it('never runs the sink on the caller: push only queues', async () => {
    const { sink, got, release } = slowSink();
    let writes = 0;
    const counting: Sink = { ...sink, write: async (s) => (writes++, sink.write(s)) };
    const g = new GuardedSink(counting, () => {});
    g.push([scalar(1)]);
    expect(writes).toBe(0);
    release();
    await g.close({ status: 'finished', artifacts: [] });
    expect(got).toEqual([1]);
  });

  it('drops the oldest scalars past its bound, warning once, while the sink is slow', async () => {
    const { sink, got, release } = slowSink();
    const warnings: string[] = [];
    const g = new GuardedSink(sink, (m) => warnings.push(m), 10);
    g.push([scalar(0)]); // taken by the first write, which waits
    await new Promise((r) => setImmediate(r));
    for (let i = 1; i <= 25; i++) g.push([scalar(i)]);
    release();
    await g.close({ status: 'finished', artifacts: [] });
    expect(got).toEqual([0, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    expect(warnings).toEqual(['slow: it falls behind training; the oldest queued metrics were dropped']);
  });

  it('keeps mlflow going when tensorboard cannot write (the run folder is a file)', async () => {
    const { uri, seen } = await mockMlflow();
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    const warnings: string[] = [];
    const tracking = openTracking(config('[tensorboard, mlflow]'), file, { env: { MLFLOW_TRACKING_URI: uri }, warn: (m) => warnings.push(m) });
    for (const e of EVENTS) tracking.event(e);
    await tracking.close({ status: 'finished', artifacts: [] });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^tensorboard: .*a-file\/tb.*cannot write the TensorBoard event file/);
    expect(calls(seen)).toContain('POST /api/2.0/mlflow/runs/update');
  });

  it('writes a TensorBoard file in tb/ of the run folder', async () => {
    const runDir = join(root, 'run-tb');
    const tracking = openTracking(config('tensorboard'), runDir, { warn: (m) => expect.fail(m) });
    for (const e of EVENTS) tracking.event(e);
    await tracking.close({ status: 'finished', artifacts: [] });
    expect(readdirSync(join(runDir, 'tb'))).toHaveLength(1);
  });
});

describe('GRPO scalars', () => {
  it('a grpo event gives the reward, the KL, the loss, the groups without signal and each reward', () => {
    const e = { event: 'grpo' as const, iteration: 3, loss: 0.5, kl: 0.01, rewardMean: 0.75, rewardStd: 0.2, rewards: { rubric: 0.5, 'my scorer': 1 }, groups: 2, zeroAdvantageGroups: 1, scorerErrors: 0, completionTokens: 40, sharedPrefixTokens: 0, clipRatioLow: 0, clipRatioHigh: 0, rolloutSeconds: 1, seconds: 2 };
    const got = Object.fromEntries(new ScalarMapper().scalars(e, 0).map((s) => [s.tag, [s.value, s.step]]));
    expect(got).toEqual({
      'grpo/reward_mean': [0.75, 3],
      'grpo/reward_std': [0.2, 3],
      'grpo/kl': [0.01, 3],
      'grpo/loss': [0.5, 3],
      'grpo/zero_advantage_groups': [1, 3],
      'grpo/scorer_errors': [0, 3],
      'grpo/reward/rubric': [0.5, 3],
      'grpo/reward/my scorer': [1, 3],
    });
  });
});
