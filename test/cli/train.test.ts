// `mlx-lab train` end to end on SmolLM2 (GGUF) with a tiny JSONL folder: mlx-lm's YAML with flags
// overriding it, JSON events, the files mlx-lm expects, Ctrl-C / SIGTERM with a checkpoint.
import { describe, expect, it, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { FIXTURES, ROOT } from '../helpers/paths.js';
import { SMOLLM2_GGUF, SMOLLM2_MISSING } from '../helpers/smollm2.js';
import { describeOrSkip } from '../helpers/skip.js';
import { tmpDir } from '../helpers/train.js';

const DATA = join(FIXTURES, 'data', 'folder');
const YAML = join(FIXTURES, 'configs', 'mlx-lm-example.yaml');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const dir = () => {
  const d = tmpDir('mlxlab-cli-');
  dirs.push(d);
  return d;
};

/** Start the CLI, call `onLine` for each stdout line, resolve with the exit. */
function runStreaming(args: string[], onLine: (line: string, child: ReturnType<typeof spawn>) => void) {
  return new Promise<{ code: number | null; stderr: string; lines: string[]; ms: number[] }>((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    const lines: string[] = [];
    const ms: number[] = [];
    const t0 = performance.now();
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        ms.push(performance.now() - t0);
        onLine(line, child);
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, lines, ms: [...ms, performance.now() - t0] });
    });
  });
}

describeOrSkip(SMOLLM2_MISSING, 'mlx-lab train', () => {
  it('accepts mlx-lm YAML as is, flags override it, writes mlx-lm files and JSON events', async () => {
    const out = dir();
    const r = await runCli(
      ['train', '-c', YAML, '--model', SMOLLM2_GGUF, '--data', DATA, '--iters', '6', '--batch-size', '2', '--num-layers', '2', '--steps-per-report', '2', '--steps-per-eval', '3', '--save-every', '3', '--adapter-path', out, '--test', '--json'],
      { timeoutMs: 170_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ event: 'start', iters: 6, trainExamples: 5, validExamples: 2, compute: 'kernels' }); // auto on the CPU for a 4-bit model
    expect(events.filter((e) => e.event === 'step')).toHaveLength(6);
    expect(events.filter((e) => e.event === 'val').map((e) => e.iteration)).toEqual([1, 3, 6]);
    expect(events.filter((e) => e.event === 'report').map((e) => e.iteration)).toEqual([2, 4, 6]);
    expect(events.find((e) => e.event === 'test')).toBeDefined();
    expect(events.at(-1).event).toBe('done');
    const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    // From the YAML: adamw, keys; from the flags: num_layers, iters.
    expect(cfg).toMatchObject({ optimizer: 'adamw', num_layers: 2, iters: 6, lora_parameters: { keys: ['self_attn.q_proj', 'self_attn.v_proj'], rank: 8 } });
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['adapters.safetensors', '0000003_adapters.safetensors', '0000006_state.safetensors']));
  });

  it('rejects an unknown config key with a suggestion', async () => {
    const r = await runCli(['train', '--model', SMOLLM2_GGUF, '--data', DATA, '--learning-rate', '-1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/E_CONFIG/);
    expect(r.stderr).toMatch(/learning_rate/);
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s stops at the next step boundary, saves a checkpoint and exits %i', async (signal, code) => {
    const out = dir();
    let sentAt = 0;
    const r = await runStreaming(
      ['train', '--model', SMOLLM2_GGUF, '--data', DATA, '--iters', '1000', '--batch-size', '1', '--num-layers', '2', '--save-every', '500', '--adapter-path', out, '--json'],
      (line, child) => {
        const e = JSON.parse(line);
        if (e.event === 'step' && e.iteration === 2 && !sentAt) {
          sentAt = performance.now();
          child.kill(signal);
        }
      },
    );
    const stopMs = performance.now() - sentAt;
    console.log(`train: ${signal} -> exit ${r.code} in ${stopMs.toFixed(0)} ms`);
    expect(r.code).toBe(code);
    // A bound in steps, not seconds: a step's time depends on the machine's load (18 s from the
    // signal to the exit once, on 2 cores shared with two C++ builds); whether the signal is
    // honoured does not. The run ends with the step it was in (no step event after the stop) and
    // within a few steps of step 2, where the signal was sent; ignoring it would train on to 1000.
    expect(r.stderr).toMatch(new RegExp(`${signal} received`));
    expect(r.stderr).toMatch(/interrupted at iteration \d+; checkpoint saved/);
    const stopped = r.lines.map((l) => JSON.parse(l)).find((e) => e.event === 'stop');
    expect(stopped).toMatchObject({ reason: 'aborted' });
    const it = stopped.iteration as number;
    const steps = r.lines.map((l) => JSON.parse(l)).filter((e) => e.event === 'step');
    expect(steps.at(-1).iteration).toBe(it);
    expect(it).toBeLessThan(10);
    expect(existsSync(join(out, `${String(it).padStart(7, '0')}_state.safetensors`))).toBe(true);
    expect(existsSync(join(out, 'adapters.safetensors'))).toBe(true);
  });
});
