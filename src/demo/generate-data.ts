/**
 * A training set for the tool-format suite (examples/tool-format/suite.yaml): chat examples whose
 * system prompt and tool names are the suite's, whose user turns ask for the suite's tools in
 * many phrasings and with other files, symbols, commands…, and whose assistant turns are the exact
 * wrapper format (tool-format.ts). The suite's own prompts are held out: no generated user
 * message equals or nearly equals one of them (see isNearDuplicate), and no two generated user
 * messages are equal. Deterministic for a seed (MT19937, as the batch order).
 */
import { join } from 'node:path';
import type { ChatMessage } from '../model/chat.js';
import { MlxLabError } from '../core/errors.js';
import { Rand, TASKS, type Slots, type Task } from './tasks.js';
import { writeFileAtomic } from '../core/atomic.js';
import type { EvalSuite } from '../eval/suite.js';
import { isNearDuplicate, normalizePrompt, suitePrompts } from '../eval/prompts.js';
import { TOOL_FORMAT_SYSTEM, TOOL_FORMAT_WRAPPER, TOOL_NAMES, wrappedCallReply } from './tool-format.js';

export interface GeneratedExample {
  messages: ChatMessage[];
  /** The tools the reply calls (inside the wrapper), in order. */
  tools: string[];
  /** Values of the request that the reply's code repeats (what a rubric case would check). */
  keywords: string[];
  category: string;
}

export interface GenerateOptions {
  /** How many examples. */
  n: number;
  seed: number;
  /** The suite whose prompts must not be trained on; its system prompt is used when it has one. */
  heldOut: EvalSuite;
}

const PREFIXES = ['Please ', 'Can you ', 'Could you ', 'Hey, ', 'Quick one: ', 'I need you to ', 'Next, ', 'Now '];
const SUFFIXES = [' Thanks.', ' Thanks!', ' Please.', ' Quickly.'];

function fill(template: string, slots: Slots): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in slots ? String(slots[k]) : m));
}

function phrase(task: Task, slots: Slots, r: Rand): string {
  const useAsk = task.say.length === 0 || r.chance(0.6);
  let text = fill(useAsk ? r.pick(task.ask) : r.pick(task.say), slots);
  if (useAsk && r.chance(0.4)) {
    const prefix = r.pick(PREFIXES);
    const body = text[0].toLowerCase() + text.slice(1);
    text = prefix + body;
    if (/^(Can|Could) you /.test(prefix) && text.endsWith('.')) text = `${text.slice(0, -1)}?`;
  }
  if (r.chance(0.15)) text += r.pick(SUFFIXES);
  return text;
}

/** Check that a suite asks for tools this generator knows, in the wrapper it writes. */
function checkSuite(suite: EvalSuite): void {
  for (const c of suite.cases) {
    const tools = c.expect.tool === undefined ? [] : Array.isArray(c.expect.tool) ? c.expect.tool : [c.expect.tool];
    for (const t of tools) {
      if (!TOOL_NAMES.includes(t)) {
        throw new MlxLabError('E_ARGUMENT', `${suite.source}: case "${c.id}" expects the tool "${t}", which the tool-format generator does not know (${TOOL_NAMES.join(', ')})`);
      }
    }
    if (c.expect.wrapper !== undefined && c.expect.wrapper !== TOOL_FORMAT_WRAPPER) {
      throw new MlxLabError('E_ARGUMENT', `${suite.source}: case "${c.id}" expects the wrapper "${c.expect.wrapper}"; the generator writes ${TOOL_FORMAT_WRAPPER}`);
    }
  }
}

/**
 * Generate `n` examples for the tool-format task, deterministically for `seed`, holding out the
 * prompts of `heldOut`. The system prompt is the suite's (else TOOL_FORMAT_SYSTEM).
 */
export function generateToolFormatData(options: GenerateOptions): GeneratedExample[] {
  const { n, seed, heldOut } = options;
  if (!Number.isInteger(n) || n < 0) throw new MlxLabError('E_ARGUMENT', `n must be a non-negative integer (got ${n})`);
  if (!heldOut || !Array.isArray(heldOut.cases)) throw new MlxLabError('E_ARGUMENT', 'heldOut must be an EvalSuite (the suite whose prompts are held out)');
  checkSuite(heldOut);
  const system = heldOut.system ?? TOOL_FORMAT_SYSTEM;
  const held = suitePrompts(heldOut);
  const r = new Rand(seed);
  const totalWeight = TASKS.reduce((a, t) => a + t.weight, 0);
  const seen = new Set<string>();
  const out: GeneratedExample[] = [];
  let misses = 0;
  while (out.length < n) {
    let x = (r.int(1_000_000) / 1_000_000) * totalWeight;
    let task = TASKS[TASKS.length - 1];
    for (const t of TASKS) {
      if (x < t.weight) {
        task = t;
        break;
      }
      x -= t.weight;
    }
    const slots = task.draw(r);
    const user = phrase(task, slots, r);
    const key = normalizePrompt(user);
    if (seen.has(key) || held.some((h) => isNearDuplicate(user, h))) {
      if (++misses > 50 * (n + 100)) {
        throw new MlxLabError('E_ARGUMENT', `could not generate ${n} distinct examples (got ${out.length}); ask for fewer`);
      }
      continue;
    }
    seen.add(key);
    out.push({
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: user },
        { role: 'assistant', content: wrappedCallReply(task.code(slots)) },
      ],
      tools: [...task.tools],
      keywords: task.keywords(slots),
      category: task.category,
    });
  }
  return out;
}

export interface WriteOptions extends GenerateOptions {
  /** The folder to write train.jsonl and valid.jsonl into (created if needed). */
  dir: string;
  /** Validation examples, besides the n training ones (default: 10% of n, at least 1). */
  valid?: number;
}

/**
 * Write `train.jsonl` (n examples) and `valid.jsonl` into a folder, each file atomically (a
 * reader sees the old file or the new one). The two sets share no user message. Lines are
 * `{"messages": [...]}`, the chat format of mlx-lm and of our data loader.
 */
export function writeToolFormatData(options: WriteOptions): { train: string; valid: string; trainCount: number; validCount: number } {
  const validCount = options.valid ?? Math.max(1, Math.round(options.n * 0.1));
  if (!Number.isInteger(validCount) || validCount < 0) throw new MlxLabError('E_ARGUMENT', `valid must be a non-negative integer (got ${validCount})`);
  const all = generateToolFormatData({ n: options.n + validCount, seed: options.seed, heldOut: options.heldOut });
  const lines = (xs: GeneratedExample[]) => xs.map((x) => JSON.stringify({ messages: x.messages }) + '\n').join('');
  const train = join(options.dir, 'train.jsonl');
  const valid = join(options.dir, 'valid.jsonl');
  writeFileAtomic(valid, lines(all.slice(options.n)));
  writeFileAtomic(train, lines(all.slice(0, options.n)));
  return { train, valid, trainCount: options.n, validCount };
}

/**
 * Write a prompt set for GRPO on the rubric (`<dir>/prompts.jsonl`, a suite in JSONL: a
 * `{"suite": …}` header with the held-out suite's name, system prompt and scorer, then one case
 * per line with the tools and keywords the rubric expects), from the same generator as the
 * training set, the held-out suite's prompts excluded. Written atomically; returns the path.
 */
export function writeToolFormatPrompts(options: GenerateOptions & { dir: string }): string {
  const examples = generateToolFormatData(options);
  const header = { suite: { name: `${options.heldOut.name}-rl-prompts`, system: options.heldOut.system ?? TOOL_FORMAT_SYSTEM, scorer: 'rubric' } };
  const cases = examples.map((x, i) => ({
    id: `rl-${i + 1}`,
    category: x.category,
    prompt: x.messages[1].content,
    expect: { tool: x.tools.length === 1 ? x.tools[0] : x.tools, keywords: x.keywords },
  }));
  const file = join(options.dir, 'prompts.jsonl');
  writeFileAtomic(file, [header, ...cases].map((line) => JSON.stringify(line) + '\n').join(''));
  return file;
}
