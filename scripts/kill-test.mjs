#!/usr/bin/env node
/**
 * Kill test: `mlx-lab train` on the tiny-chat fixture model is killed with SIGKILL at seeded
 * random moments and resumed each time. After every kill the newest checkpoint must load (adapter
 * and optimizer state, through the addon). At the end every training loss the killed-and-resumed
 * run logged must equal the uninterrupted run's bit for bit, and so must the final
 * adapters.safetensors and the checkpoint scores and selection in run.json. Half the kills are
 * timed to land in the checkpoint writes (a checkpoint is saved every step; the kill lands between
 * a step event and its checkpoint event, while the metrics line and the files are written), the
 * other half anywhere from late startup to a few steps into training (loading, steps, validation,
 * writes).
 *
 *   node scripts/kill-test.mjs [--kills 20] [--seed 1] [--iters 80] [--keep]
 *
 * Needs the built addon and dist/ (npm run build). Prints a table and one JSON line.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mulberry32 } from './lib/prng.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const MODEL = join(ROOT, 'test', 'fixtures', 'models', 'tiny-chat');
const DATA = join(ROOT, 'test', 'fixtures', 'data', 'folder');
/** A kill lands at most this many steps after the run (re)starts, so 20 kills fit in one run. */
const ADVANCE = 4;


/** The training config: a checkpoint every step, dropout and grad accumulation so the RNG and optimizer state matter. */
function trainConfig(adapterPath, iters) {
  return {
    model: MODEL,
    data: DATA,
    adapter_path: adapterPath,
    fine_tune_type: 'lora',
    optimizer: 'adamw',
    num_layers: -1,
    batch_size: 2,
    grad_accumulation_steps: 2,
    iters,
    learning_rate: 1e-3,
    steps_per_report: 1,
    steps_per_eval: 10,
    val_batches: 1,
    save_every: 1,
    max_seq_length: 128,
    seed: 7,
    lora_parameters: { rank: 4, scale: 10, dropout: 0.1 },
  };
}

/** Start `mlx-lab train`; `onEvent(event, child)` sees each JSON event. Resolves with the exit. */
function startTraining(configFile, resume, onEvent) {
  const args = [CLI, 'train', '-c', configFile, '--json', ...(resume ? ['--resume'] : [])];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onEvent?.(JSON.parse(line), child);
    }
  });
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  return { child, exited };
}

/** Per iteration, every training loss logged in metrics.jsonl (a resumed run logs some twice). */
function loggedLosses(parseMetrics, adapterPath) {
  const log = parseMetrics(readFileSync(join(adapterPath, 'metrics.jsonl'), 'utf8'), join(adapterPath, 'metrics.jsonl'));
  const losses = new Map();
  for (const e of log.events) {
    if (e.event !== 'report') continue;
    if (!losses.has(e.iteration)) losses.set(e.iteration, []);
    losses.get(e.iteration).push(e.trainLoss);
  }
  return { losses, torn: log.torn };
}

/** Checkpoint adapter files without their state file (a writer killed between the two). */
function orphanCheckpoints(adapterPath) {
  if (!existsSync(adapterPath)) return [];
  const names = readdirSync(adapterPath);
  return names.filter((n) => /^\d{7}_adapters\.safetensors$/.test(n) && !names.includes(n.replace('_adapters', '_state')));
}

/** What the killed process `pid` left behind: its temporary files (killed inside a write) and new orphan checkpoints. */
function leftovers(adapterPath, pid, orphansBefore) {
  const temps = existsSync(adapterPath) ? readdirSync(adapterPath).filter((n) => n.includes(`.tmp-${pid}`)) : [];
  const orphans = orphanCheckpoints(adapterPath).filter((n) => !orphansBefore.includes(n));
  return { temps, orphans, midWrite: temps.length > 0 || orphans.length > 0 };
}

/** Load the newest checkpoint through the addon (adapter + optimizer state); returns its iteration. */
async function loadLatest(lib, model, config, adapterPath) {
  const state = lib.findLatestCheckpoint(adapterPath);
  if (!state) return 0;
  const files = lib.checkpointFiles(state);
  const trainer = await lib.native().NativeTrainer.create(lib.nativeHandle(model), lib.trainerOptions({ ...lib.defaultTrainConfig(), ...config }));
  try {
    await trainer.loadAdapter(files.adapterFile);
    const s = await trainer.loadState(files.stateFile);
    if (s.iteration !== files.iteration) throw new Error(`${files.stateFile}: holds iteration ${s.iteration}, named ${files.iteration}`);
    if (existsSync(join(adapterPath, 'adapters.safetensors'))) await trainer.loadAdapter(join(adapterPath, 'adapters.safetensors'));
    return files.iteration;
  } finally {
    trainer.dispose();
  }
}

async function importLib() {
  const dist = (p) => import(join(ROOT, 'dist', p));
  const [checkpoints, metrics, model, native, loop, config] = await Promise.all([
    dist('train/checkpoints.js'),
    dist('run/metrics.js'),
    dist('model/model.js'),
    dist('core/native.js'),
    dist('train/loop.js'),
    dist('config/config.js'),
  ]);
  return { ...checkpoints, ...metrics, ...model, ...native, ...loop, ...config };
}

/**
 * Run the kill test; returns a summary ({ kills, survived, midWrite, identical, ... }).
 * `log` receives one line per kill.
 */
export async function killTest({ kills = 20, seed = 1, iters = 80, keep = false, log = () => {} } = {}) {
  const lib = await importLib();
  const work = mkdtempSync(join(tmpdir(), 'mlxlab-kill-'));
  const random = mulberry32(seed);
  const model = await lib.loadModel(MODEL);
  try {
    // The uninterrupted reference.
    const refDir = join(work, 'reference');
    const refConfig = join(work, 'reference.json');
    writeFileSync(refConfig, JSON.stringify(trainConfig(refDir, iters)));
    const t0 = performance.now();
    const stepAt = [];
    const savedAt = [];
    const ref = await startTraining(refConfig, false, (e) => {
      if (e.event === 'step') stepAt.push(performance.now() - t0);
      if (e.event === 'checkpoint') savedAt.push(performance.now() - t0);
    }).exited;
    const msPerStep = (stepAt.at(-1) - stepAt[0]) / (stepAt.length - 1);
    // From a step event to its checkpoint event: the metrics line and the three checkpoint files are written.
    const writeMs = savedAt.reduce((sum, t, i) => sum + t - stepAt[i], 0) / savedAt.length;
    let startupMs = stepAt[0]; // spawn to first step, updated from every run (it varies with load)
    if (ref.code !== 0) throw new Error(`the reference run failed (exit ${ref.code}):\n${ref.stderr}`);
    const reference = loggedLosses(lib.parseMetrics, refDir).losses;

    const dir = join(work, 'killed');
    const config = trainConfig(dir, iters);
    const configFile = join(work, 'killed.json');
    writeFileSync(configFile, JSON.stringify(config));
    const rows = [];
    for (let k = 0; k < kills; k++) {
      const resumeFrom = existsSync(dir) ? lib.findLatestCheckpoint(dir) : undefined;
      const startAt = resumeFrom ? lib.checkpointFiles(resumeFrom).iteration : 0;
      if (startAt + 2 * ADVANCE >= iters) break; // too close to the end to kill safely
      const duringWrite = k % 2 === 1;
      const target = startAt + 1 + Math.floor(random() * ADVANCE);
      // A write kill lands between a step event and its checkpoint event (while the files are
      // written); a time kill anywhere from 90% of the startup to a few steps into training.
      const delayMs = duringWrite ? random() * writeMs : startupMs * (0.9 + random() * 0.1) + random() * ADVANCE * msPerStep;
      const orphansBefore = orphanCheckpoints(dir);
      let lastStep = startAt;
      let late = false;
      const spawnedAt = performance.now();
      const run = startTraining(configFile, Boolean(resumeFrom), (e, child) => {
        if (e.event !== 'step') return;
        if (lastStep === startAt) startupMs = performance.now() - spawnedAt;
        lastStep = e.iteration;
        if (duringWrite && e.iteration === target) setTimeout(() => child.kill('SIGKILL'), delayMs);
        // A time kill whose moment has not come after twice the usual steps (a faster startup than the reference's) lands now.
        if (!duringWrite && e.iteration === startAt + 2 * ADVANCE) {
          late = true;
          child.kill('SIGKILL');
        }
      });
      const timer = duringWrite ? undefined : setTimeout(() => run.child.kill('SIGKILL'), delayMs);
      const r = await run.exited;
      clearTimeout(timer);
      if (r.signal !== 'SIGKILL') throw new Error(`kill ${k + 1}: the run ended before the kill (exit ${r.code}, ${r.signal}):\n${r.stderr}`);
      const left = leftovers(dir, run.child.pid, orphansBefore);
      const loaded = existsSync(dir) ? await loadLatest(lib, model, config, dir) : 0;
      const mode = duringWrite ? `step ${target} + ${delayMs.toFixed(2)} ms` : late ? `at step ${lastStep} (late)` : `at ${delayMs.toFixed(0)} ms`;
      rows.push({ kill: k + 1, mode, resumedFrom: startAt, lastStep, latest: loaded, ...left });
      log(
        `kill ${String(k + 1).padStart(2)}: ${mode.padEnd(20)} resumed from ${String(startAt).padStart(2)}, last step ${String(lastStep).padStart(2)}, ` +
          `latest checkpoint ${String(loaded).padStart(2)} loads` +
          (left.midWrite ? `; killed mid-write (${[...left.temps, ...left.orphans].join(', ')})` : ''),
      );
    }
    const last = await startTraining(configFile, Boolean(lib.findLatestCheckpoint(dir))).exited;
    if (last.code !== 0) throw new Error(`the final resume failed (exit ${last.code}):\n${last.stderr}`);

    const { losses, torn } = loggedLosses(lib.parseMetrics, dir);
    const mismatches = [];
    for (const [it, [want]] of reference) {
      const got = losses.get(it) ?? [];
      if (got.length === 0 || got.some((x) => !Object.is(x, want))) mismatches.push({ iteration: it, want, got });
    }
    const sameAdapter = readFileSync(join(dir, 'adapters.safetensors')).equals(readFileSync(join(refDir, 'adapters.safetensors')));
    const selectionOf = (d) => {
      const m = JSON.parse(readFileSync(join(d, 'run.json'), 'utf8'));
      return JSON.stringify({ selected: m.selected?.checkpoint.iteration, scores: m.checkpoints.map((c) => [c.iteration, c.valLoss]), val: m.valLosses });
    };
    const sameSelection = selectionOf(dir) === selectionOf(refDir);
    const summary = {
      kills: rows.length,
      survived: rows.length, // a kill that broke loading or resuming throws above
      midWrite: rows.filter((r) => r.midWrite).length,
      beforeFirstStep: rows.filter((r) => r.lastStep === r.resumedFrom).length,
      msPerStep,
      writeMs,
      startupMs,
      iterations: reference.size,
      rerunIterations: [...losses.values()].filter((v) => v.length > 1).length,
      lossesIdentical: mismatches.length === 0,
      adapterIdentical: sameAdapter,
      selectionIdentical: sameSelection,
      tornLastLine: torn !== undefined,
      seed,
      rows,
      mismatches,
      work: keep ? work : undefined,
    };
    return summary;
  } finally {
    model.dispose();
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { kills: { type: 'string' }, seed: { type: 'string' }, iters: { type: 'string' }, keep: { type: 'boolean' } } });
  const s = await killTest({
    kills: Number(values.kills ?? 20),
    seed: Number(values.seed ?? 1),
    iters: Number(values.iters ?? 80),
    keep: values.keep,
    log: (line) => process.stderr.write(line + '\n'),
  });
  process.stderr.write(
    `\n${s.survived}/${s.kills} kills survived (${s.midWrite} left a half-written file, ${s.beforeFirstStep} before the first step), ${s.rerunIterations} iterations trained twice; ` +
      `losses ${s.lossesIdentical ? 'bitwise identical' : 'DIFFER'} to the uninterrupted run over ${s.iterations} iterations; ` +
      `final adapter ${s.adapterIdentical ? 'byte-identical' : 'DIFFERS'}, checkpoint scores and selection ${s.selectionIdentical ? 'identical' : 'DIFFER'}\n`,
  );
  process.stdout.write(JSON.stringify({ ...s, rows: undefined }) + '\n');
  process.exitCode = s.lossesIdentical && s.adapterIdentical && s.selectionIdentical ? 0 : 1;
}
