// Data-parallel training and distributed sweeps on MLX's ring back end, 2 ranks over loopback,
// started by `mlx-lab launch` / `-n 2`, against the same work in one process:
// - 10 training steps on 2 ranks (each half of every batch) give the losses of one process with
//   the whole batch and an adapter within float rounding of it (bounds below); and they equal,
//   bit for bit, one process computing the same two shards (localShards: 2), so the all_sum adds
//   no error of its own (the remaining difference is only the order of sums over the batch);
// - a 4-seed sweep over 2 ranks reports the per-seed results of the same sweep in one process;
// - killing a rank ends the launch non-zero within 10 s naming the rank, leaving no process.
import { describe, expect, it, afterAll, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { tmpDir } from '../helpers/train.js';
import { TINY_CHAT, TINY_SUITE, toolRecords } from '../helpers/experiment.js';
import { readSafetensors } from '../helpers/safetensors.js';
import { expectClose } from '../helpers/close.js';
import { describeOrSkip } from '../helpers/skip.js';
import { defaultTrainConfig, type TrainConfig } from '../../src/config/config.js';
import { train } from '../../src/train/loop.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const dir = () => {
  const d = tmpDir('mlxlab-dist-');
  dirs.push(d);
  return d;
};
/** A port range of our own (other test runs on this machine may use the default 32323). */
const port = () => String(40000 + Math.floor(Math.random() * 20000));

let data: string;
beforeAll(() => {
  data = dir();
  const lines = (n: number, seed: number) => toolRecords(n, seed).map((r) => JSON.stringify(r.value)).join('\n') + '\n';
  writeFileSync(join(data, 'train.jsonl'), lines(24, 1));
  writeFileSync(join(data, 'valid.jsonl'), lines(8, 2));
});

const ITERS = 10;
function trainConfig(adapterPath: string): TrainConfig {
  return { ...defaultTrainConfig(), model: TINY_CHAT, data, adapter_path: adapterPath, iters: ITERS, batch_size: 4, num_layers: -1, learning_rate: 1e-3, steps_per_eval: 5, save_every: 100, val_batches: 1, seed: 7 };
}
const trainFlags = (adapterPath: string) =>
  ['--model', TINY_CHAT, '--data', data, '--adapter-path', adapterPath, '--iters', String(ITERS), '--batch-size', '4', '--num-layers', '-1', '--learning-rate', '1e-3', '--steps-per-eval', '5', '--save-every', '100', '--val-batches', '1', '--seed', '7'];

// Bounds on max|2 ranks − one process| / max|one process| (test/helpers/close.ts), ≥ 3× the
// largest over 5 OpenBLAS kernels (scripts/kernel-spread.mjs test/cli/distributed.test.ts):
const LOSSES = 1e-5; // measured ≤ 1.3e-6 (Haswell)
const ADAPTER = 5e-4; // 10 Adam steps carry 1-ulp gradient differences into the weights: measured ≤ 8.9e-5 (Prescott)

describe('data-parallel training on 2 ranks (ring, loopback)', () => {
  it('equals one process with the combined batch within the bounds, and the same shards in one process bit for bit', async () => {
    const combined = await train(trainConfig(dir()));
    const sharded = await train(trainConfig(dir()), { localShards: 2 });
    const out = dir();
    const r = await runCli(['launch', '-n', '2', '--port', port(), '--', 'train', ...trainFlags(out), '--json'], { timeoutMs: 170_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const losses = events.filter((e) => e.event === 'step').map((e) => e.loss as number);
    expect(losses).toHaveLength(ITERS);
    expectClose(losses, combined.losses, { rel: LOSSES, label: 'distributed.losses[2-ranks-vs-whole]' });
    // Bit for bit the one-process computation of the same two shards.
    expect(losses).toEqual(sharded.losses);
    const adapter = join(out, 'adapters.safetensors');
    expect(readFileSync(adapter).equals(readFileSync(sharded.adapterFile))).toBe(true);
    // Against the whole batch in one gemm the adapter differs only by the order of float sums
    // over the batch (1-ulp gradient differences, which Adam's g / sqrt(v) carries into the
    // weights).
    expectClose(readSafetensors(adapter), readSafetensors(combined.adapterFile), { rel: ADAPTER, label: 'distributed.adapter[2-ranks-vs-whole]' });
    // Rank 0 alone wrote the run's files; the validation loss is the same on every rank.
    expect(events.filter((e) => e.event === 'val').map((e) => e.iteration)).toEqual([1, 5, 10]);
    expect(existsSync(join(out, 'run.json'))).toBe(true);
  }, 240_000);

  it("rank 0's format eval stops every rank at the same step", async () => {
    const cfg = join(dir(), 'stop.yaml');
    writeFileSync(cfg, `eval: {suite: ${TINY_SUITE}, every: 3, max_tokens: 8, at_start: false}\nearly_stopping: {metric: format_score, target: 0.0, warmup: 3}\n`);
    const out = dir();
    const r = await runCli(['train', '-c', cfg, ...trainFlags(out), '--json', '-n', '2', '--port', port()], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event === 'format').map((e) => e.iteration)).toEqual([3]);
    expect(events.find((e) => e.event === 'stop')).toMatchObject({ iteration: 3, reason: 'callback' });
    expect(events.filter((e) => e.event === 'step').map((e) => e.iteration)).toEqual([1, 2, 3]);
  }, 150_000);

  it('refuses a batch that does not split over the ranks', async () => {
    const r = await runCli(['train', ...trainFlags(dir()), '--batch-size', '3', '-n', '2', '--port', port()], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('batch_size 3 does not split over 2 ranks');
    expect(r.stderr).toMatch(/E_DISTRIBUTED: rank \d \(localhost\) exited with code 1/);
  }, 90_000);
});

describe('a distributed sweep', () => {
  it('4 seeds over 2 ranks give the per-seed results of the same sweep in one process', async () => {
    const cfg = join(dir(), 'sweep.yaml');
    writeFileSync(cfg, `eval: {suite: ${TINY_SUITE}, every: 3, max_tokens: 12}\n`);
    const flags = (out: string) => ['sweep', '-c', cfg, '--model', TINY_CHAT, '--data', data, '--adapter-path', out, '--iters', '6', '--batch-size', '2', '--num-layers', '-1', '--learning-rate', '3e-3', '--steps-per-eval', '3', '--save-every', '3', '--val-batches', '1', '--seeds', '1,2,3,4', '--no-lint', '--json'];
    const one = dir();
    const two = dir();
    const a = await runCli(flags(one), { timeoutMs: 200_000 });
    expect(a.code, a.stderr).toBe(0);
    const b = await runCli([...flags(two), '-n', '2', '--port', port()], { timeoutMs: 200_000 });
    expect(b.code, b.stderr).toBe(0);
    const report = (d: string) => JSON.parse(readFileSync(join(d, 'sweep.json'), 'utf8'));
    const strip = (run: Record<string, unknown>) => {
      const { runDir, manifest, seconds, selected, ...rest } = run;
      const { adapterFile, ...sel } = (selected ?? {}) as Record<string, unknown>;
      return { ...rest, selected: sel };
    };
    const ra = report(one);
    const rb = report(two);
    expect(rb.runs.map((r: { seed: number }) => r.seed)).toEqual([1, 2, 3, 4]);
    expect(rb.runs.map(strip)).toEqual(ra.runs.map(strip));
    expect(rb.status).toBe('completed');
    expect(rb.distributed).toEqual({ ranks: 2, backend: 'ring' });
    // Each rank trained its own seeds (1 and 3 on rank 0, 2 and 4 on rank 1).
    expect(readdirSync(two).filter((f) => f.startsWith('seed-')).sort()).toEqual(readdirSync(one).filter((f) => f.startsWith('seed-')).sort());
  }, 420_000);
});

/** The pids of a process's children (Linux /proc). */
function children(pid: number): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((f) => /^\d+$/.test(f))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const rankOf = (pid: number) => /(?:^|\0)MLX_RANK=(\d+)/.exec(readFileSync(`/proc/${pid}/environ`, 'utf8'))?.[1];

describeOrSkip(process.platform === 'linux' ? undefined : 'Linux only: reads /proc to find the ranks', 'a rank that dies', () => {
  it.each(['1', '0'])('(rank %s) ends the launch non-zero within 10 s, naming the rank, with no process left', async (dead) => {
    const out = dir();
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'launch', '-n', '2', '--port', port(), '--', 'train', ...trainFlags(out), '--iters', '100000', '--steps-per-eval', '100000', '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on('close', (code) => resolve({ code, at: performance.now() })));
    // Wait until the ranks train (step events from rank 0).
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('"event":"step"') && resolve()));
    const ranks = children(child.pid!);
    expect(ranks).toHaveLength(2);
    const victim = ranks.find((p) => rankOf(p) === dead)!;
    const t0 = performance.now();
    process.kill(victim, 'SIGKILL');
    const { code, at } = await exited;
    const seconds = (at - t0) / 1000;
    console.log(`launcher exited ${seconds.toFixed(2)} s after rank ${dead} was killed`);
    expect(code).not.toBe(0);
    expect(seconds).toBeLessThan(10);
    expect(stderr).toContain(`rank ${dead} (localhost) was killed by SIGKILL`);
    expect(ranks.filter(alive)).toEqual([]);
  }, 120_000);
});

describe('a rank on another host', () => {
  it('is started over ssh with the ring host file written there (ssh stands in for a second machine)', async () => {
    // A stand-in `ssh` that runs the remote command here, as a real ssh would run it there.
    const bin = dir();
    writeFileSync(join(bin, 'ssh'), '#!/bin/sh\nwhile [ $# -gt 0 ]; do case "$1" in -o) shift 2;; -*) shift;; *) break;; esac; done\nshift\nexec bash -c "$*"\n');
    chmodSync(join(bin, 'ssh'), 0o755);
    const hosts = JSON.stringify([{ ssh: 'localhost', ips: ['127.0.0.1'] }, { ssh: 'other-mac.local', ips: ['127.0.0.1'] }]);
    const out = dir();
    const r = await runCli(['train', ...trainFlags(out), '--iters', '3', '--json', '--hosts', hosts, '--port', port()], { timeoutMs: 120_000, env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.code, r.stderr).toBe(0);
    const done = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.event === 'done');
    expect(done.distributed).toMatchObject({ ranks: 2, backend: 'ring' });
  }, 150_000);
});

describe('launch errors', () => {
  it('a port in use is named before any rank starts', async () => {
    const server = createServer();
    const p = Number(port());
    await new Promise<void>((resolve) => server.listen(p + 1, '127.0.0.1', resolve));
    try {
      const r = await runCli(['launch', '-n', '2', '--port', String(p), '--', 'train', ...trainFlags(dir())], { timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`E_DISTRIBUTED: port ${p + 1} on 127.0.0.1 (rank 1) is in use`);
    } finally {
      server.close();
    }
  });

  it('an unreachable host is named', async () => {
    const hosts = JSON.stringify([{ ssh: 'localhost', ips: ['127.0.0.1'] }, { ssh: 'no-such-host.invalid', ips: ['192.0.2.1'] }]);
    const r = await runCli(['launch', '--hosts', hosts, '--port', port(), '--', 'train', ...trainFlags(dir())], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('E_DISTRIBUTED: host no-such-host.invalid (rank 1) is unreachable over ssh');
  }, 90_000);

  it('ranks that never join are stopped after the join timeout, named', async () => {
    // Rank 1 blocks before it starts (so rank 0 waits for it in MLX's ring set-up).
    const hang = join(dir(), 'hang.cjs');
    writeFileSync(hang, "if (process.env.MLX_RANK === '1') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);\n");
    const hosts = join(dir(), 'hosts.json');
    writeFileSync(hosts, JSON.stringify({ backend: 'ring', envs: [`NODE_OPTIONS=--require ${hang}`], hosts: [{ ssh: 'localhost', ips: ['127.0.0.1'] }, { ssh: 'localhost', ips: ['127.0.0.1'] }] }));
    const t0 = performance.now();
    const r = await runCli(['launch', '--hosts', hosts, '--port', port(), '--join-timeout', '3', '--', 'train', ...trainFlags(dir())], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/E_DISTRIBUTED: rank 0 \(localhost\), rank 1 \(localhost\) did not join the group within 3 s/);
    expect((performance.now() - t0) / 1000).toBeLessThan(15);
  }, 90_000);
});
