// The run folder's names (src/core/run-files.ts) and RunDir (src/run/run-dir.ts): the names stay
// those earlier versions wrote, checkpoint names round-trip, and run.json is written with its run
// files relative to the folder and read back absolute inside whatever folder it is read from.
import { describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_FILES, RunDir, sweepFile } from '../../src/run/run-dir.js';
import { checkpointFileName, parseCheckpointFileName } from '../../src/core/run-files.js';
import { checkpointFiles, listCheckpoints } from '../../src/train/checkpoints.js';
import type { RunManifest } from '../../src/run/manifest.js';
import { expectError } from '../helpers/errors.js';

function withTmp(f: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'mlxlab-rundir-'));
  try {
    f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('run folder names', () => {
  it('are the names earlier versions wrote', () => {
    expect(RUN_FILES).toEqual({
      adapter: 'adapters.safetensors',
      adapterConfig: 'adapter_config.json',
      metrics: 'metrics.jsonl',
      manifest: 'run.json',
      report: 'report.html',
      tensorboard: 'tb',
      lock: '.mlx-lab.lock',
      sweep: 'sweep.json',
    });
    const run = new RunDir('/runs/a');
    expect([run.adapter, run.adapterConfig, run.metrics, run.manifest, run.report, run.lock]).toEqual(
      ['adapters.safetensors', 'adapter_config.json', 'metrics.jsonl', 'run.json', 'report.html', '.mlx-lab.lock'].map((n) => join('/runs/a', n)),
    );
    expect(sweepFile('/runs')).toBe(join('/runs', 'sweep.json'));
  });

  it('checkpoint names: seven digits, mlx-lm adapters plus our state, parsed back', () => {
    expect(checkpointFileName(100, 'adapters')).toBe('0000100_adapters.safetensors');
    expect(checkpointFileName(100, 'state')).toBe('0000100_state.safetensors');
    expect(parseCheckpointFileName('0000100_state.safetensors')).toEqual({ iteration: 100, kind: 'state' });
    expect(parseCheckpointFileName('0000007_adapters.safetensors')).toEqual({ iteration: 7, kind: 'adapters' });
    for (const bad of ['100_state.safetensors', '0000100_state.safetensors.tmp-1', 'adapters.safetensors', '0000100_optimizer.safetensors']) {
      expect(parseCheckpointFileName(bad)).toBeUndefined();
    }
    expect(new RunDir('/r').checkpoint(2500)).toEqual({ iteration: 2500, adapterFile: join('/r', '0002500_adapters.safetensors'), stateFile: join('/r', '0002500_state.safetensors') });
    expect(checkpointFiles('/r/0000300_state.safetensors')).toEqual({ iteration: 300, adapterFile: join('/r', '0000300_adapters.safetensors'), stateFile: '/r/0000300_state.safetensors' });
    expectError(() => checkpointFiles('/r/0000300_adapters.safetensors'), 'E_ARGUMENT', '/r/0000300_adapters.safetensors: not a checkpoint state file (NNNNNNN_state.safetensors)');
  });

  it('lists complete checkpoints only, oldest first', () => {
    withTmp((dir) => {
      for (const n of ['0000200_state.safetensors', '0000200_adapters.safetensors', '0000100_state.safetensors', '0000100_adapters.safetensors', '0000300_adapters.safetensors', '0000400_state.safetensors']) {
        writeFileSync(join(dir, n), '');
      }
      const run = new RunDir(dir);
      expect(run.checkpoints().map((c) => c.iteration)).toEqual([100, 200]);
      expect(listCheckpoints(dir)).toEqual(run.checkpoints());
      expect(run.checkpoints()[1]).toEqual(run.checkpoint(200));
    });
  });
});

describe('RunDir', () => {
  const manifest = (dir: string): RunManifest =>
    ({
      version: 1,
      seed: 1,
      checkpoints: [{ iteration: 100, adapterFile: join(dir, '0000100_adapters.safetensors'), formatScore: 0.5 }],
      selected: { checkpoint: { iteration: 100, adapterFile: join(dir, '0000100_adapters.safetensors'), formatScore: 0.5 }, metric: 'format_score', rule: 'best', reason: 'r', adapterFile: join(dir, '0000100_adapters.safetensors') },
    }) as unknown as RunManifest;

  it('writes run.json with run files relative, and reads them back inside the folder it is read from', () => {
    withTmp((dir) => {
      const a = join(dir, 'a');
      const run = new RunDir(a);
      mkdirSync(a);
      run.writeManifest(manifest(a));
      const onDisk = JSON.parse(readFileSync(join(a, 'run.json'), 'utf8'));
      expect(onDisk.checkpoints[0].adapterFile).toBe('0000100_adapters.safetensors');
      expect(onDisk.selected.adapterFile).toBe('0000100_adapters.safetensors');
      expect(readFileSync(join(a, 'run.json'), 'utf8')).toBe(JSON.stringify(onDisk, null, 2) + '\n');
      cpSync(a, join(dir, 'b'), { recursive: true });
      const moved = new RunDir(join(dir, 'b')).readManifest();
      expect(moved.checkpoints[0].adapterFile).toBe(join(dir, 'b', '0000100_adapters.safetensors'));
      expect(moved.selected?.checkpoint.adapterFile).toBe(join(dir, 'b', '0000100_adapters.safetensors'));
    });
  });

  it('names the folder or file when run.json is missing or not a manifest', () => {
    withTmp((dir) => {
      const run = new RunDir(dir);
      expect(run.hasManifest()).toBe(false);
      expectError(() => run.readManifest(), 'E_ARGUMENT', `${dir}: no run.json (is this an mlx-lab run folder?)`);
      writeFileSync(run.manifest, '{"version": 1,');
      expectError(() => run.readManifest(), 'E_ARGUMENT', `${run.manifest}: invalid JSON`);
      writeFileSync(run.manifest, '{"version": 1}');
      expectError(() => run.readManifest(), 'E_ARGUMENT', `${run.manifest}: not an mlx-lab run manifest (no "checkpoints" list)`);
    });
  });

  it('links to a run report from the sweep folder', () => {
    expect(new RunDir(join('/s', 'seed 1')).reportLink('/s')).toBe('seed%201/report.html');
    expect(new RunDir(join('/s', 'g', 'seed-2')).reportLink('/s')).toBe('g/seed-2/report.html');
  });
});
