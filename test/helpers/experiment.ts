/**
 * Helpers for the experiment integration test (test/native/experiment.test.ts) on the tiny-chat
 * fixture model and the tiny suite (test/fixtures/eval/tiny-suite.yaml):
 *
 * - `toolRecords(n, seed)`: chat training examples with the suite's system prompt, asking for one
 *   of the suite's three tools in generated phrasings (shared random fillers around a
 *   tool-specific noun phrase, so only the noun tells the tools apart), answered with the exact
 *   wrapped call the rubric wants. The suite's own prompts are never produced.
 * - `evalFromDisk(...)`: runs this file in a fresh Node process (through jiti, which runs the
 *   TypeScript sources as they are): it loads the base model, attaches an adapter file from disk,
 *   runs the suite and prints the result as JSON.
 *
 * Run directly: `node node_modules/jiti/lib/jiti-cli.mjs test/helpers/experiment.ts <model> <adapter> <suite> [maxTokens]`.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasetFromRecords, type DataSplits, type JsonlRecord } from '../../src/data/index.js';
import type { Tokenizer } from '../../src/model/tokenizer.js';
import { ROOT } from './paths.js';
import { rng } from './train.js';

export const TINY_CHAT = join(ROOT, 'test', 'fixtures', 'models', 'tiny-chat');
export const TINY_SUITE = join(ROOT, 'test', 'fixtures', 'eval', 'tiny-suite.yaml');
/** The suite's system prompt. */
export const SYSTEM = 'Use execute_code to call tools.';

/** The reply the rubric scores 1.0: a Hermes call of execute_code whose code calls the tool. */
export function wrappedCall(code: string): string {
  return `<tool_call>${JSON.stringify({ name: 'execute_code', arguments: { code } })}</tool_call>`;
}

/** Each tool: the code of its call, and the noun phrases that ask for it. */
export const TOOLS: { code: string; nouns: string[] }[] = [
  { code: 'git_status()', nouns: ['the git status', 'git status', 'the status of git'] },
  { code: "run_tests('tests')", nouns: ['the tests', 'all the tests', 'the test suite'] },
  { code: "read_file('README.md')", nouns: ['README.md', 'the README', 'the README file'] },
];

/** Fillers shared by every tool, so that only the noun phrase tells which tool is meant. */
const PREFIXES = ['', 'Please ', 'Can you ', 'Now '];
const VERBS = ['show', 'check', 'run', 'read'];
const SUFFIXES = ['', '.', '?', ' please.'];

/** `n` chat examples (tools in turn), deterministic for a seed; none equals a suite prompt in `exclude`. */
export function toolRecords(n: number, seed: number, exclude: readonly string[] = []): JsonlRecord[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const records: JsonlRecord[] = [];
  const skip = new Set(exclude.map((p) => p.trim().toLowerCase()));
  while (records.length < n) {
    const tool = TOOLS[records.length % TOOLS.length];
    let prompt = `${pick(PREFIXES)}${pick(VERBS)} ${pick(tool.nouns)}${pick(SUFFIXES)}`;
    prompt = prompt[0].toUpperCase() + prompt.slice(1);
    if (skip.has(prompt.trim().toLowerCase())) continue;
    records.push({
      line: records.length + 1,
      value: {
        messages: [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: prompt },
          { role: 'assistant', content: wrappedCall(tool.code) },
        ],
      },
    });
  }
  return records;
}

export interface DiskEval {
  score: number;
  cases: Record<string, number>;
  texts: Record<string, string>;
  adapter: string;
}

/** Evaluate `adapterFile` (with adapter_config.json next to it) on the base model, in a fresh process. */
export function evalFromDisk(model: string, adapterFile: string, suite: string, maxTokens: number): Promise<DiskEval> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'jiti', 'lib', 'jiti-cli.mjs'), script, model, adapterFile, suite, String(maxTokens)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`evalFromDisk exited with ${code}:\n${stderr}\n${stdout}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as DiskEval);
      } catch (err) {
        reject(new Error(`evalFromDisk printed no JSON (${(err as Error).message}):\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** The fresh process: base model + adapter from disk + suite → JSON on stdout. */
async function main(args: string[]): Promise<void> {
  const [modelDir, adapterFile, suitePath, maxTokens] = args;
  const { loadModel } = await import('../../src/model/model.js');
  const { attachAdapter } = await import('../../src/model/adapters.js');
  const { loadSuite } = await import('../../src/eval/index.js');
  const { runEval } = await import('../../src/eval/runner.js');
  const model = await loadModel(modelDir);
  const adapter = await attachAdapter(model, adapterFile);
  const suite = await loadSuite(suitePath);
  const r = await runEval(model, suite, { maxTokens: Number(maxTokens) });
  const out: DiskEval = {
    score: r.score,
    cases: Object.fromEntries(r.cases.map((c) => [c.id, c.score])),
    texts: Object.fromEntries(r.cases.map((c) => [c.id, c.text])),
    adapter: adapter.file,
  };
  await adapter.detach();
  model.dispose();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  });
}

/** Tool-call training and validation splits for the tiny chat model (prompts of the suite held out). */
export function tinyToolSplits(tokenizer: Tokenizer, heldOut: readonly string[], trainCount: number, validCount: number): DataSplits {
  return {
    path: 'tiny-tools',
    train: datasetFromRecords(toolRecords(trainCount, 1, heldOut), 'tiny-tools-train', tokenizer, { maskPrompt: true }),
    valid: datasetFromRecords(toolRecords(validCount, 2, heldOut), 'tiny-tools-valid', tokenizer, { maskPrompt: true }),
    test: null,
  };
}
