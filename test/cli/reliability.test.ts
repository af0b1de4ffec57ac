// Issue 21: one writer per run folder (two writers; a writer with readers), relocatable run
// folders (copied, moved, old absolute run.json), output-vs-input guards through symlinks,
// FIFOs refused, and the drain guard: no command exits 0 with its work unfinished.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { FIXTURES, ROOT, modelDir } from '../helpers/paths.js';
import { tmpDir } from '../helpers/train.js';
import { LOCK_FILE, lockRunFolder } from '../../src/core/lock.js';
import { MlxLabError, ioError } from '../../src/core/errors.js';
import { loadData } from '../../src/data/index.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { expectError } from '../helpers/errors.js';

const DATA = join(FIXTURES, 'data', 'folder');
const MODEL = modelDir('tiny-chat');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const dir = () => {
  const d = tmpDir('mlxlab-rel-');
  dirs.push(d);
  return d;
};
const trainArgs = (out: string, iters: number, extra: string[] = []) => [
  'train', '--model', MODEL, '--data', DATA, '--iters', String(iters), '--batch-size', '2', '--save-every', '2', '--steps-per-eval', '2', '--num-layers', '-1', '--adapter-path', out, ...extra,
];
const errorLine = (stderr: string) => /^mlx-lab: error (E_[A-Z_]+): (.*)$/m.exec(stderr);

/** Start the CLI; resolves once a stdout line matches, with the child and its exit promise. */
function startCli(args: string[], until: RegExp): Promise<{ child: ChildProcess; exit: Promise<{ code: number | null; stderr: string }> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let started = false;
    const exit = new Promise<{ code: number | null; stderr: string }>((done) => child.on('close', (code) => done({ code, stderr })));
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d) => {
      out += d;
      if (!started && until.test(out)) {
        started = true;
        resolve({ child, exit });
      }
    });
    void exit.then(({ code }) => started || reject(new Error(`exited ${code} before ${until}: ${stderr}`)));
  });
}

/** A short finished run of tiny-chat (checkpoints at 2 and 4). */
async function finishedRun(): Promise<string> {
  const out = dir();
  const r = await runCli(trainArgs(out, 4), { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  return out;
}

describe('one writer per run folder', () => {
  it('a lock held by a live process refuses, naming it; once that process is killed the lock is stale and taken over', async () => {
    const out = dir();
    const holder = spawn(process.execPath, ['-e', `import(${JSON.stringify(join(ROOT, 'dist', 'core', 'lock.js'))}).then((m) => { m.lockRunFolder(${JSON.stringify(out)}, 'test holder'); console.log('locked'); setInterval(() => {}, 1000); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
    const e = expectError(() => lockRunFolder(out, 'second'), 'E_LOCKED', `${out}: the run folder is locked by \`test holder\` (pid ${holder.pid} on`, 'one writer at a time');
    expect(e.message).toContain(join(out, LOCK_FILE));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('close', r));
    const lock = lockRunFolder(out, 'after the kill'); // stale: taken over
    expect(JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, command: 'after the kill' });
    lock.release();
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it('two writers: a second train, resume or select on a training folder is refused; readers (report) run', async () => {
    const out = dir();
    const first = await startCli(trainArgs(out, 100000, ['--json']), /"event":"step"/);
    try {
      const holder = new RegExp(`locked by \`train\` \\(pid ${first.child.pid} on `);
      for (const args of [trainArgs(out, 4), trainArgs(out, 4, ['--resume']), ['select', out]]) {
        const r = await runCli(args, { timeoutMs: 60_000 });
        expect(r.code, r.stderr).toBe(1);
        expect(errorLine(r.stderr)?.[1]).toBe('E_LOCKED');
        expect(errorLine(r.stderr)?.[2]).toMatch(holder);
      }
      // A reader needs no lock: the report of the running run is written.
      const report = await runCli(['report', out, '--out', join(out, 'live.html')], { timeoutMs: 60_000 });
      expect(report.code, report.stderr).toBe(0);
      expect(statSync(join(out, 'live.html')).size).toBeGreaterThan(1000);
    } finally {
      first.child.kill('SIGINT');
    }
    const end = await first.exit;
    expect(end.code).toBe(130);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false); // released on the way out
    // The log is one run's: every step iteration once, in order.
    const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'step').map((e) => e.iteration);
    expect(steps).toEqual(steps.map((_, i) => i + 1));
  });
});

describe('relocatable run folders', () => {
  it('run.json names its files relative to the folder; select works in a copy (not touching the original) and in a moved folder', async () => {
    const run = await finishedRun();
    const manifest = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'));
    expect(manifest.checkpoints.map((c: { adapterFile: string }) => c.adapterFile)).toEqual(['0000002_adapters.safetensors', '0000004_adapters.safetensors']);

    const copy = dir();
    cpSync(run, copy, { recursive: true });
    const before = readFileSync(join(run, 'adapters.safetensors'));
    const s = await runCli(['select', copy, '--metric', 'val_loss', '--rule', 'last', '--json'], { timeoutMs: 60_000 });
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).checkpoint.adapterFile).toBe(join(copy, '0000004_adapters.safetensors'));
    expect(readFileSync(join(copy, 'adapters.safetensors'))).toEqual(readFileSync(join(copy, '0000004_adapters.safetensors')));
    expect(readFileSync(join(run, 'adapters.safetensors'))).toEqual(before);

    const moved = join(dir(), 'moved');
    renameSync(run, moved);
    const m = await runCli(['select', moved, '--metric', 'val_loss', '--rule', 'last', '--json'], { timeoutMs: 60_000 });
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout).checkpoint.adapterFile).toBe(join(moved, '0000004_adapters.safetensors'));
  });

  it('an older run.json with absolute paths falls back to the folder it is read from', async () => {
    const run = await finishedRun();
    const manifest = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'));
    const abs = (f: string) => join('/nonexistent/original', f);
    manifest.checkpoints = manifest.checkpoints.map((c: { adapterFile: string }) => ({ ...c, adapterFile: abs(c.adapterFile) }));
    manifest.selected.adapterFile = abs(manifest.selected.adapterFile);
    manifest.selected.checkpoint.adapterFile = abs(manifest.selected.checkpoint.adapterFile);
    writeFileSync(join(run, 'run.json'), JSON.stringify(manifest));
    const s = await runCli(['select', run, '--metric', 'val_loss', '--rule', 'last', '--json'], { timeoutMs: 60_000 });
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).checkpoint.adapterFile).toBe(join(run, '0000004_adapters.safetensors'));
    expect(JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).selected.adapterFile).toBe('0000004_adapters.safetensors');
  });
});

describe('outputs never replace inputs (real paths)', () => {
  it('report --out at a run file, through a symlink, or at a folder is refused; the files stay', async () => {
    const run = await finishedRun();
    const runJson = readFileSync(join(run, 'run.json'));
    const elsewhere = dir();
    symlinkSync(join(run, 'adapters.safetensors'), join(elsewhere, 'link.html'));
    for (const [out, code, part] of [
      [join(run, 'run.json'), 'E_ARGUMENT', `${join(run, 'run.json')}: the report would replace an input`],
      [join(run, 'adapters.safetensors'), 'E_ARGUMENT', 'the report would replace an input'],
      [join(elsewhere, 'link.html'), 'E_ARGUMENT', `would replace an input: ${join(run, 'adapters.safetensors')}`],
      [elsewhere, 'E_IS_FOLDER', `${elsewhere}: --out is a folder`],
    ]) {
      const r = await runCli(['report', run, '--out', out], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(1);
      expect(errorLine(r.stderr)?.[1]).toBe(code);
      expect(errorLine(r.stderr)?.[2]).toContain(part);
    }
    expect(readFileSync(join(run, 'run.json'))).toEqual(runJson);
  });

  it('fuse --force through a model folder of symlinks into the base does not replace the base', async () => {
    const run = await finishedRun();
    const base = join(dir(), 'base');
    cpSync(MODEL, base, { recursive: true });
    const snapshot = join(dir(), 'snapshot'); // like a Hugging Face cache snapshot
    mkdirSync(snapshot);
    for (const f of readdirSync(base)) symlinkSync(join(base, f), join(snapshot, f));
    const r = await runCli(['fuse', '--model', snapshot, '--adapter-path', run, '--save-path', base, '--force'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(errorLine(r.stderr)?.[1]).toBe('E_ARGUMENT');
    expect(errorLine(r.stderr)?.[2]).toMatch(new RegExp(`^${base}: the output folder would replace an input: ${base}/(\\S+) \\(through ${snapshot}/\\1\\); choose another path$`));
    expect(readdirSync(base).sort()).toEqual(readdirSync(MODEL).sort());
  });

  it('convert --force through a symlinked GGUF inside the output folder does not delete it', async () => {
    const out = join(dir(), 'out');
    mkdirSync(out);
    const gguf = join(out, 'real.gguf');
    writeFileSync(gguf, 'GGUF not really');
    const link = join(dir(), 'model.gguf');
    symlinkSync(gguf, link);
    const r = await runCli(['convert', '--model', link, '--mlx-path', out, '--force'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(errorLine(r.stderr)?.[2]).toContain(`the output folder would replace an input: ${gguf} (through ${link})`);
    expect(readFileSync(gguf, 'utf8')).toBe('GGUF not really');
  });
});

describe('nothing blocks, nothing exits 0 unfinished, no stack traces', () => {
  it('a FIFO as a data file is refused at once (it would block the event loop)', () => {
    const d = dir();
    const fifo = join(d, 'train.jsonl');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const t0 = performance.now();
    expectError(() => loadData(fifo, Tokenizer.fromFolder(MODEL)), 'E_NOT_A_FILE', `${fifo}: is a FIFO (named pipe); mlx-lab reads only regular files`);
    expectError(() => loadData(d, Tokenizer.fromFolder(MODEL)), 'E_NOT_A_FILE', `${fifo}: is a FIFO`);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('eval with a looping and a never-settling scorer finishes: those cases score 0 with E_SCORER_TIMEOUT, exit 0', async () => {
    const suite = join(FIXTURES, 'eval', 'hostile', 'loop-suite.yaml');
    const r = await runCli(['eval', '-m', MODEL, '-s', suite, '--max-tokens', '4', '--json'], { env: { MLX_LAB_SCORER_TIMEOUT_MS: '500' }, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    const byId = Object.fromEntries(result.cases.map((c: { id: string }) => [c.id, c]));
    for (const id of ['loops', 'never']) {
      expect(byId[id]).toMatchObject({ score: 0, failure: 'scorer_error' });
      expect(byId[id].detail).toContain('E_SCORER_TIMEOUT');
    }
  });

  it('SIGINT during a scorer that loops forever stops eval at once (the main thread is free)', async () => {
    const suite = join(FIXTURES, 'eval', 'hostile', 'loop-suite.yaml');
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'eval', '-m', MODEL, '-s', suite, '--max-tokens', '4'], {
      env: { ...process.env, MLX_LAB_SCORER_TIMEOUT_MS: '60000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exit = new Promise<string>((r) => child.on('close', (code, signal) => r(signal ?? String(code))));
    await new Promise((r) => setTimeout(r, 4000)); // loaded, generating or scoring the looping case
    const t0 = performance.now();
    child.kill('SIGINT');
    // 130, or the signal itself when the 4 s deadline quits (the shell sees 130 either way).
    expect(['130', 'SIGINT']).toContain(await exit);
    expect(performance.now() - t0).toBeLessThan(5000); // the graceful deadline; the scorer budget is 60 s
  });

  it('the drain guard: a command whose promise never settles exits 1 with E_UNFINISHED', () => {
    const script = `import(${JSON.stringify(join(ROOT, 'dist', 'cli', 'drain.js'))}).then((m) => m.guardDrain(new Promise(() => {}), 'mlx-lab test'))`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('mlx-lab: error E_UNFINISHED: mlx-lab test ended with work still pending');
    const ok = spawnSync(process.execPath, ['-e', script.replace('new Promise(() => {})', 'Promise.resolve()')], { encoding: 'utf8', timeout: 30_000 });
    expect([ok.status, ok.stderr]).toEqual([0, '']);
  });

  it('an adapter path that is a file, and a read-only-like failure, are coded errors without a stack', async () => {
    const d = dir();
    const file = join(d, 'a-file');
    writeFileSync(file, 'x');
    const r = await runCli(trainArgs(file, 2), { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)?.slice(1)).toEqual(['E_EXISTS', `${file}: adapter_path must be a folder, but a file is in the way`]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('I/O errors map to their own codes, naming the path (Node and native)', () => {
    const cases: [string, string][] = [['ENOSPC', 'E_NO_SPACE'], ['EFBIG', 'E_FILE_TOO_LARGE'], ['EROFS', 'E_READ_ONLY'], ['EACCES', 'E_PERMISSION'], ['EEXIST', 'E_EXISTS'], ['EISDIR', 'E_IS_FOLDER'], ['EIO', 'E_IO']];
    for (const [errno, code] of cases) {
      const e = ioError(Object.assign(new Error(errno), { code: errno }), '/some/file', 'cannot write') as MlxLabError;
      expect([e.code, e.message.startsWith('/some/file: cannot write: '), e.message.endsWith(`(${errno})`)]).toEqual([code, true, true]);
      expect(new MlxLabError('E_IO', `/x.safetensors: write failed: whatever (${errno})`).code).toBe(code);
    }
    // A real one: a write to /dev/full is ENOSPC.
    const r = spawnSync('node', ['-e', `import(${JSON.stringify(join(ROOT, 'dist', 'core/errors.js'))}).then((m) => { try { require('node:fs').writeFileSync('/dev/full', 'x'); } catch (e) { const c = m.ioError(e, '/dev/full', 'cannot write'); console.log(c.code + ' ' + c.message); } })`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('E_NO_SPACE /dev/full: cannot write: no space left on the device (ENOSPC)');
  });
});
