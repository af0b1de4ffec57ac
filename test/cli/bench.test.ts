// `mlx-lab bench`: the harness end to end on its cheapest benchmark (matmul, ours only), into a
// temporary folder: the results JSON (with the commit, dirty state, CPU and BLAS kernel),
// RESULTS.md (labelled as a quick run) and results.html. Needs neither Python nor node-llama-cpp.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';

const out = mkdtempSync(join(tmpdir(), 'mlx-lab-bench-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('mlx-lab bench', () => {
  it('runs the chosen benchmarks and writes the JSON, RESULTS.md and results.html', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'bench', '--quick', '--only', 'matmul', '--skip-mlx-lm', '--out-dir', out], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('QUICK SMOKE RUN');
    expect(r.stdout).toMatch(/decode tokens\/s, ours \/ mlx_lm.generate .*not measured in this run/);
    const files = readdirSync(out);
    expect(files).toEqual(expect.arrayContaining(['RESULTS.md', 'results.html']));
    const json = JSON.parse(readFileSync(join(out, files.find((f) => f.endsWith('.json'))!), 'utf8'));
    expect(json.runs.map((x: { name: string; status: string }) => [x.name, x.status])).toEqual([['matmul', 'ok']]);
    expect(json.reports.matmul.results[0].gflops).toBeGreaterThan(0);
    // Traceable: the commit and whether the tree was dirty, the CPU and the BLAS with its kernel.
    expect(json.git.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(typeof json.git.dirty).toBe('boolean');
    expect(json.machine.cpu).toBeTruthy();
    expect(json.versions.ours.blas).toHaveProperty('library');
    expect(json.versions.ours.blas).toHaveProperty('corename');
    expect(json.timed).toEqual({});
    const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
    expect(md).toContain('QUICK SMOKE RUN');
    expect(md).toMatch(/\| CPU \| .+, \d+ cores \|/);
    expect(md).toContain(`| commit | ${json.git.sha}`);
    expect(md).toMatch(/\| BLAS \(ours\) \| \S+/);
    expect(md).toContain('| matmul | ok |');
    expect(readFileSync(join(out, 'results.html'), 'utf8')).toContain('new Chart(canvas');
  });

  it('refuses an unknown benchmark name', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'benchmarks', 'run.mjs'), '--only', 'nope'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--only: unknown benchmark "nope"');
  });
});
