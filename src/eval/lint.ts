/**
 * Consistency lint: compare an eval suite with the training data BEFORE training, and warn where
 * the eval asks the model for something the training never showed it. The reference run lost
 * its eval to exactly this: the eval's system prompt named the tools `write_file_direct`,
 * `run_command_direct`, … while every training example called `write_file`, `run_command`.
 *
 * What is checked (each a warning with a code, a message and the case(s) concerned):
 * - `unknown_tool`: a tool name the suite expects (`expect.tool`, the rubric's wrapper) or gives in
 *   its tool schemas that never appears in the training data — neither as an assistant tool call
 *   (structured `tool_calls` or a `<tool_call>` block, Hermes or Qwen3 XML), nor as a function
 *   called inside a call's `code` argument, nor in a record's tool schemas. With a "did you mean"
 *   when a training tool name is close (same name with a suffix or prefix such as `_direct`,
 *   another case or separator, or a small edit distance).
 * - `system_prompt_mismatch`: a system prompt of the suite that equals no system prompt of the
 *   training data (the closest one is shown with the first difference and the words found in only
 *   one of them), a suite system prompt where the data has none, or none where the data has one.
 * - `tool_schema_mismatch`: the set of tool schema names the eval passes to the chat template
 *   differs from every set in the training records (or one side has schemas and the other none).
 * - `thinking_mismatch`: training replies that think (a `<think>` block or `reasoning_content`)
 *   while the eval counts thinking as a failure; or, given the chat template, an eval prompt that
 *   is not what training showed the model before its reply because training renders with another
 *   `enable_thinking` (mlx-lm: on when the vocabulary has think tokens) than the eval (off): e.g.
 *   a template whose generation prompt opens an empty think block only with thinking off.
 * - `template_mismatch`: the same, with equal `enable_thinking` (the template's generation
 *   prompt differs from how it renders an assistant turn).
 * - `prompt_leak`: a case whose user prompt appears in the training data verbatim (or equal up to
 *   case, punctuation and spacing; optionally a near-duplicate), so the eval measures recall.
 *
 * The lint reads the raw JSONL records (tokenizing is not needed): `readTrainingRecords(path)`
 * reads `train.jsonl` of a data folder (or a single JSONL file).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { distance } from 'fastest-levenshtein';
import type { ChatMessage, ChatTemplate } from '../model/chat.js';
import { readJsonl, type JsonlRecord } from '../data/jsonl.js';
import { DEFAULT_FEATURES, detectFormat, type FeatureKeys } from '../data/formats.js';
import { MlxLabError } from '../core/errors.js';
import { isNearDuplicate, normalizePrompt } from './prompts.js';
import { parseReply, isPlainObject } from './parse.js';
import { isLikelyTypo, nearest } from '../core/suggest.js';
import { suiteMessages, type EvalCase, type EvalSuite } from './suite.js';

export const LINT_CODES = ['unknown_tool', 'system_prompt_mismatch', 'tool_schema_mismatch', 'thinking_mismatch', 'template_mismatch', 'prompt_leak'] as const;
export type LintCode = (typeof LINT_CODES)[number];

export interface LintWarning {
  code: LintCode;
  /** One line (or a few) a person can act on. */
  message: string;
  /** The case concerned (the first one, when the warning covers several). */
  caseId?: string;
  /** Every case concerned, when the warning covers several. */
  caseIds?: string[];
  /** unknown_tool: the tool name. */
  tool?: string;
  /** unknown_tool: the training tool name it probably should be. */
  suggestion?: string;
}

/** The training records to compare with: raw JSONL objects (with line numbers when known). */
export interface TrainingRecords {
  /** A file path or name, for messages. */
  source: string;
  records: readonly (JsonlRecord | Record<string, unknown>)[];
}

export interface LintOptions {
  /** Record keys (the config's prompt_feature, completion_feature, chat_feature, text_feature). */
  features?: Partial<FeatureKeys>;
  /** The model's chat template: enables the rendering check of enable_thinking. */
  template?: ChatTemplate;
  /** enable_thinking of the training render (mlx-lm: whether the vocabulary has think tokens). */
  trainThinking?: boolean;
  /** enable_thinking of the eval render (runEval's default: false). */
  evalThinking?: boolean;
  /** Also report prompts that are near-duplicates of training prompts (edit distance), not only equal ones. */
  nearDuplicates?: boolean;
  /** At most this many prompt_leak warnings (the rest are summed up in the last one). Default 10. */
  maxLeakWarnings?: number;
}

/** Read the training records of a data folder (train.jsonl) or of one JSONL file. */
export function readTrainingRecords(dataPath: string): TrainingRecords {
  let file = dataPath;
  if (existsSync(dataPath) && statSync(dataPath).isDirectory()) {
    file = join(dataPath, 'train.jsonl');
    if (!existsSync(file)) throw new MlxLabError('E_DATA', `${dataPath}: no train.jsonl (a data folder holds train.jsonl, and optionally valid.jsonl and test.jsonl)`);
  }
  return { source: file, records: readJsonl(file) };
}

// ---------------------------------------------------------------------------------------------
// What the training data holds
// ---------------------------------------------------------------------------------------------

interface Where {
  count: number;
  /** The first record (its line when known, else its 1-based position). */
  first: number;
}

interface DataProfile {
  source: string;
  records: number;
  chatLike: number;
  textRecords: { text: string; at: number }[];
  /** System prompt text → where. */
  systems: Map<string, Where>;
  /** Chat/completions records without a system message. */
  withoutSystem: number;
  /** Sorted tool schema names (joined by \n) → names and where. */
  schemaSets: Map<string, { names: string[]; where: Where }>;
  /** Chat/completions records without tool schemas. */
  withoutSchemas: number;
  /** Tool name → where: assistant tool calls. */
  called: Map<string, Where>;
  /** Function name → where: called inside a tool call's `code`. */
  inCode: Map<string, Where>;
  /** Tool name → where: tool schemas. */
  inSchemas: Map<string, Where>;
  /** Function-like names `name(` in system prompts → where. */
  inSystem: Map<string, Where>;
  /** User prompts, exact (trimmed) → where; normalized → where. */
  prompts: Map<string, Where>;
  normalizedPrompts: Map<string, Where>;
  /** Assistant replies that think. */
  thinking: Where | undefined;
}

function note<K>(map: Map<K, Where>, key: K, at: number): void {
  const w = map.get(key);
  if (w) w.count++;
  else map.set(key, { count: 1, first: at });
}

function recordOf(r: JsonlRecord | Record<string, unknown>, i: number): { value: Record<string, unknown>; at: number } {
  if ('value' in r && 'line' in r && typeof r.line === 'number' && isPlainObject(r.value)) return { value: r.value, at: r.line };
  return { value: r as Record<string, unknown>, at: i + 1 };
}

const CALLED_NAME = /(?:^|[^A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)\s*\(/g;

/** Names written as calls, `name(`, in some text (code, a system prompt's function list). */
function calledNames(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(CALLED_NAME)) out.push(m[1]);
  return out;
}

function schemaName(tool: unknown): string | undefined {
  if (!isPlainObject(tool)) return undefined;
  const fn = isPlainObject(tool.function) ? tool.function : tool;
  return typeof fn.name === 'string' && fn.name.trim() !== '' ? fn.name.trim() : undefined;
}

function textOf(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    const parts = content.map((p) => (isPlainObject(p) && typeof p.text === 'string' ? p.text : '')).filter((t) => t !== '');
    return parts.length > 0 ? parts.join('\n') : undefined;
  }
  return undefined;
}

function noteCalls(profile: DataProfile, reply: string, at: number): void {
  const parsed = parseReply(reply);
  for (const call of parsed.calls) {
    note(profile.called, call.name, at);
    for (const v of Object.values(call.arguments)) {
      if (typeof v === 'string') for (const name of calledNames(v)) note(profile.inCode, name, at);
    }
  }
  if (parsed.think === 'content' || parsed.think === 'unterminated') {
    profile.thinking ??= { count: 0, first: at };
    profile.thinking.count++;
  }
}

function noteStructuredCalls(profile: DataProfile, calls: unknown, at: number): void {
  if (!Array.isArray(calls)) return;
  for (const c of calls) {
    if (!isPlainObject(c)) continue;
    const fn = isPlainObject(c.function) ? c.function : c;
    if (typeof fn.name !== 'string') continue;
    note(profile.called, fn.name, at);
    let args: unknown = fn.arguments;
    if (typeof args === 'string') {
      try {
        args = JSON.parse(args);
      } catch {
        args = { text: args };
      }
    }
    if (isPlainObject(args)) {
      for (const v of Object.values(args)) if (typeof v === 'string') for (const name of calledNames(v)) note(profile.inCode, name, at);
    }
  }
}

function profileData(data: TrainingRecords, features: FeatureKeys): DataProfile {
  const profile: DataProfile = {
    source: data.source,
    records: data.records.length,
    chatLike: 0,
    textRecords: [],
    systems: new Map(),
    withoutSystem: 0,
    schemaSets: new Map(),
    withoutSchemas: 0,
    called: new Map(),
    inCode: new Map(),
    inSchemas: new Map(),
    inSystem: new Map(),
    prompts: new Map(),
    normalizedPrompts: new Map(),
    thinking: undefined,
  };
  const notePrompt = (text: string, at: number) => {
    const t = text.trim();
    if (t === '') return;
    note(profile.prompts, t, at);
    note(profile.normalizedPrompts, normalizePrompt(t), at);
  };
  data.records.forEach((r, i) => {
    const { value, at } = recordOf(r, i);
    const format = detectFormat(value, features);
    if (format === 'text') {
      const text = value[features.text];
      if (typeof text === 'string') {
        profile.textRecords.push({ text, at });
        noteCalls(profile, text, at);
      }
      return;
    }
    if (format === undefined) return;
    profile.chatLike++;
    const tools = Array.isArray(value.tools) ? value.tools : [];
    const names = [...new Set(tools.map(schemaName).filter((n): n is string => n !== undefined))].sort();
    if (names.length === 0) profile.withoutSchemas++;
    else {
      for (const n of names) note(profile.inSchemas, n, at);
      const key = names.join('\n');
      const set = profile.schemaSets.get(key);
      if (set) set.where.count++;
      else profile.schemaSets.set(key, { names, where: { count: 1, first: at } });
    }
    if (format === 'completions') {
      profile.withoutSystem++;
      const prompt = value[features.prompt];
      const completion = value[features.completion];
      if (typeof prompt === 'string') notePrompt(prompt, at);
      if (typeof completion === 'string') noteCalls(profile, completion, at);
      return;
    }
    const messages = value[features.chat];
    if (!Array.isArray(messages)) return;
    let system: string | undefined;
    for (const m of messages) {
      if (!isPlainObject(m)) continue;
      const text = textOf(m.content);
      if (m.role === 'system' && text !== undefined && system === undefined) system = text;
      else if (m.role === 'user' && text !== undefined) notePrompt(text, at);
      else if (m.role === 'assistant') {
        if (text !== undefined) noteCalls(profile, text, at);
        noteStructuredCalls(profile, m.tool_calls, at);
        const reasoning = m.reasoning_content ?? m.thinking ?? m.reasoning;
        if (typeof reasoning === 'string' && reasoning.trim() !== '') {
          profile.thinking ??= { count: 0, first: at };
          profile.thinking.count++;
        }
      }
    }
    if (system === undefined) profile.withoutSystem++;
    else {
      note(profile.systems, system, at);
      if (profile.systems.get(system)!.count === 1) for (const name of calledNames(system)) note(profile.inSystem, name, at);
    }
  });
  return profile;
}

// ---------------------------------------------------------------------------------------------
// Helpers for messages
// ---------------------------------------------------------------------------------------------

function quote(text: string, max = 60): string {
  const t = text.replace(/\s+/g, ' ');
  return JSON.stringify(t.length > max ? `${t.slice(0, max)}…` : t);
}

function caseList(ids: readonly string[], max = 6): string {
  const shown = ids.slice(0, max).map((id) => `"${id}"`);
  const more = ids.length > max ? ` and ${ids.length - max} more` : '';
  return ids.length === 1 ? `case ${shown[0]}` : `cases ${shown.join(', ')}${more}`;
}

function plural(n: number, word: string): string {
  return `${n} ${n === 1 ? word : word.endsWith('y') && !/[aeiou]y$/.test(word) ? `${word.slice(0, -1)}ies` : `${word}s`}`;
}

function recordAt(profile: DataProfile, w: Where): string {
  return `${profile.source}:${w.first}`;
}

function canon(name: string): string {
  return name.toLowerCase().replace(/[-\s.]/g, '_');
}

/**
 * The training tool name an eval tool name probably meant: the same name in another case or with
 * other separators; the longest training name that the eval name extends by a suffix or prefix
 * (`write_file_direct` → `write_file`) or that extends it; else the closest by edit distance when
 * the distance is small (a third of the length, at least 2).
 */
export function suggestToolName(name: string, candidates: Iterable<string>): string | undefined {
  const list = [...new Set(candidates)].filter((c) => c !== name);
  if (list.length === 0) return undefined;
  const n = canon(name);
  const same = list.find((c) => canon(c) === n);
  if (same) return same;
  const affix = list
    .filter((c) => {
      const k = canon(c);
      return k.length >= 3 && (n.startsWith(`${k}_`) || n.endsWith(`_${k}`) || k.startsWith(`${n}_`) || k.endsWith(`_${n}`));
    })
    .sort((a, b) => Math.abs(a.length - name.length) - Math.abs(b.length - name.length) || a.localeCompare(b));
  if (affix.length > 0) return affix[0];
  // Sorted, so that of equally near names the first in alphabetical order wins.
  const best = nearest(name, [...list].sort(), canon);
  return best !== undefined && isLikelyTypo(best.distance, n, best.name) ? best.name : undefined;
}

/** Where two texts first differ, with a little context from each. */
export function firstDifference(a: string, b: string, context = 40): { index: number; line: number; column: number; a: string; b: string } {
  let i = 0;
  const n = Math.min(a.length, b.length);
  while (i < n && a[i] === b[i]) i++;
  const before = a.slice(0, i);
  const line = before.split('\n').length;
  const column = i - before.lastIndexOf('\n');
  const start = Math.max(0, i - 15);
  const clip = (s: string) => {
    const piece = s.slice(start, i + context);
    return `${start > 0 ? '…' : ''}${piece}${i + context < s.length ? '…' : ''}`;
  };
  return { index: i, line, column, a: clip(a), b: clip(b) };
}

const WORD = /[A-Za-z_][A-Za-z0-9_]*/g;

function words(text: string): Set<string> {
  return new Set(text.match(WORD) ?? []);
}

/** Words (identifiers) found in only one of two texts, in order of appearance. */
function wordDiff(a: string, b: string): { onlyA: string[]; onlyB: string[] } {
  const wa = words(a);
  const wb = words(b);
  return { onlyA: [...wa].filter((w) => !wb.has(w)), onlyB: [...wb].filter((w) => !wa.has(w)) };
}

function listWords(ws: string[], max = 8): string {
  return ws.slice(0, max).join(', ') + (ws.length > max ? `, … (${ws.length} in all)` : '');
}

function closestText(text: string, candidates: readonly string[]): string {
  let best = candidates[0];
  let bestD = Infinity;
  for (const c of candidates) {
    // Edit distance is quadratic: for long prompts, compare the shared prefix length instead.
    const d = text.length * c.length > 4e6 ? -firstDifference(text, c).index : distance(text, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function toolsOf(expect: EvalCase['expect']): string[] {
  return expect.tool === undefined ? [] : Array.isArray(expect.tool) ? expect.tool : [expect.tool];
}

/** The user prompt of a case: its last user message's text. */
function lastUserPrompt(messages: readonly ChatMessage[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return textOf(messages[i].content);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The lint
// ---------------------------------------------------------------------------------------------

/**
 * Compare a suite with the training data; returns the warnings (none when they agree). `data`
 * is a data folder or JSONL file path, or records already read.
 */
export function lintSuiteAgainstData(suite: EvalSuite, data: TrainingRecords | string, options: LintOptions = {}): LintWarning[] {
  const records = typeof data === 'string' ? readTrainingRecords(data) : data;
  const features: FeatureKeys = { ...DEFAULT_FEATURES, ...options.features };
  const profile = profileData(records, features);
  const warnings: LintWarning[] = [];
  const prompts = suite.cases.map((c) => ({ c, p: suiteMessages(c, suite) }));

  // --- Tool names -----------------------------------------------------------------------------
  const known = new Set([...profile.called.keys(), ...profile.inCode.keys(), ...profile.inSchemas.keys()]);
  const candidates = [...profile.called.keys(), ...profile.inSchemas.keys(), ...profile.inCode.keys()];
  type Role = 'expected' | 'wrapper' | 'schema';
  const referenced = new Map<string, { cases: string[]; roles: Map<Role, string[]> }>();
  const ref = (tool: string, caseId: string, role: Role) => {
    const r = referenced.get(tool) ?? { cases: [], roles: new Map<Role, string[]>() };
    if (!r.cases.includes(caseId)) r.cases.push(caseId);
    const ids = r.roles.get(role) ?? [];
    if (!ids.includes(caseId)) ids.push(caseId);
    r.roles.set(role, ids);
    referenced.set(tool, r);
  };
  for (const { c, p } of prompts) {
    for (const t of toolsOf(c.expect)) ref(t, c.id, 'expected');
    if (c.scorer === 'rubric') ref(c.expect.wrapper ?? 'execute_code', c.id, 'wrapper');
    for (const t of p.tools ?? []) {
      const name = schemaName(t);
      if (name) ref(name, c.id, 'schema');
    }
  }
  const roleText: Record<Role, string> = { expected: 'expected by', wrapper: 'the code wrapper of', schema: 'in the tool schemas of' };
  if (profile.records > 0) {
    for (const [tool, r] of referenced) {
      if (known.has(tool)) continue;
      const suggestion = suggestToolName(tool, candidates);
      const what = [...r.roles].map(([role, ids]) => `${roleText[role]} ${caseList(ids)}`).join('; ');
      let hint = '';
      if (suggestion) {
        const w = profile.called.get(suggestion) ?? profile.inCode.get(suggestion) ?? profile.inSchemas.get(suggestion)!;
        hint = `; did you mean "${suggestion}"? (the training data uses it ${plural(w.count, 'time')}, first at ${recordAt(profile, w)})`;
      }
      const mention = profile.inSystem.has(tool) ? ' (the training system prompt lists it, but no training reply calls it)' : '';
      warnings.push({
        code: 'unknown_tool',
        message: `the tool "${tool}" (${what}) never appears in the training data's tool calls, code or tool schemas${mention}${hint}`,
        caseId: r.cases[0],
        caseIds: r.cases,
        tool,
        suggestion,
      });
    }
  }

  // --- System prompts -------------------------------------------------------------------------
  if (profile.chatLike > 0) {
    const bySystem = new Map<string | undefined, string[]>();
    for (const { c, p } of prompts) {
      const first = p.messages[0];
      const system = first?.role === 'system' ? textOf(first.content) : undefined;
      bySystem.set(system, [...(bySystem.get(system) ?? []), c.id]);
    }
    const dataSystems = [...profile.systems.keys()];
    for (const [system, ids] of bySystem) {
      if (system === undefined) {
        if (profile.systems.size > 0 && profile.withoutSystem === 0) {
          warnings.push({
            code: 'system_prompt_mismatch',
            message: `${caseList(ids)} ${ids.length === 1 ? 'has' : 'have'} no system prompt, but every training record has one (${plural(profile.systems.size, 'distinct prompt')}, e.g. ${quote(dataSystems[0])}): the model was never trained without it`,
            caseId: ids[0],
            caseIds: ids,
          });
        }
        continue;
      }
      if (profile.systems.has(system)) continue;
      if (profile.systems.size === 0) {
        warnings.push({
          code: 'system_prompt_mismatch',
          message: `${caseList(ids)} ${ids.length === 1 ? 'gives' : 'give'} a system prompt (${quote(system)}), but no training record has one`,
          caseId: ids[0],
          caseIds: ids,
        });
        continue;
      }
      const closest = closestText(system, dataSystems);
      const d = firstDifference(system, closest);
      let detail: string;
      if (system.trim() === closest.trim() || system.replace(/\s+/g, ' ').trim() === closest.replace(/\s+/g, ' ').trim()) {
        detail = `it differs from the training prompt only in whitespace, first at line ${d.line}, column ${d.column} (eval ${JSON.stringify(d.a)}, training ${JSON.stringify(d.b)})`;
      } else {
        const wd = wordDiff(system, closest);
        const parts = [`first difference at line ${d.line}, column ${d.column}: eval ${JSON.stringify(d.a)} vs training ${JSON.stringify(d.b)}`];
        if (wd.onlyA.length > 0) parts.push(`only in the eval: ${listWords(wd.onlyA)}`);
        if (wd.onlyB.length > 0) parts.push(`only in the training data: ${listWords(wd.onlyB)}`);
        detail = parts.join('; ');
      }
      const count = profile.systems.get(closest)!.count;
      warnings.push({
        code: 'system_prompt_mismatch',
        message:
          `the system prompt of ${caseList(ids)} differs from every system prompt in the training data ` +
          `(${plural(profile.systems.size, 'distinct prompt')}; the closest is used by ${plural(count, 'record')}, first at ${recordAt(profile, profile.systems.get(closest)!)}): ${detail}`,
        caseId: ids[0],
        caseIds: ids,
      });
    }
  }

  // --- Tool schema sets -----------------------------------------------------------------------
  if (profile.chatLike > 0) {
    const bySet = new Map<string, { names: string[]; ids: string[] }>();
    for (const { c, p } of prompts) {
      const names = [...new Set((p.tools ?? []).map(schemaName).filter((n): n is string => n !== undefined))].sort();
      const key = names.join('\n');
      const entry = bySet.get(key) ?? { names, ids: [] };
      entry.ids.push(c.id);
      bySet.set(key, entry);
    }
    const dataSets = [...profile.schemaSets.values()];
    for (const [key, { names, ids }] of bySet) {
      if (names.length === 0) {
        if (dataSets.length > 0 && profile.withoutSchemas === 0) {
          const common = dataSets.sort((a, b) => b.where.count - a.where.count)[0];
          warnings.push({
            code: 'tool_schema_mismatch',
            message: `${caseList(ids)} pass${ids.length === 1 ? 'es' : ''} no tool schemas to the chat template, but every training record has them (e.g. ${listWords(common.names)}): the prompts differ from training`,
            caseId: ids[0],
            caseIds: ids,
          });
        }
        continue;
      }
      if (profile.schemaSets.has(key)) continue;
      if (dataSets.length === 0) {
        warnings.push({
          code: 'tool_schema_mismatch',
          message: `${caseList(ids)} pass${ids.length === 1 ? 'es' : ''} ${plural(names.length, 'tool schema')} (${listWords(names)}) to the chat template, but no training record has tool schemas: the prompts differ from training`,
          caseId: ids[0],
          caseIds: ids,
        });
        continue;
      }
      const set = new Set(names);
      const closest = [...dataSets].sort((a, b) => symDiff(set, a.names) - symDiff(set, b.names) || b.where.count - a.where.count)[0];
      const onlyEval = names.filter((n) => !closest.names.includes(n));
      const onlyData = closest.names.filter((n) => !set.has(n));
      const parts: string[] = [];
      if (onlyEval.length > 0) {
        parts.push(
          `only in the eval: ${onlyEval
            .slice(0, 8)
            .map((n) => {
              const s = suggestToolName(n, onlyData);
              return s ? `${n} (training: ${s}?)` : n;
            })
            .join(', ')}`,
        );
      }
      if (onlyData.length > 0) parts.push(`only in the training data: ${listWords(onlyData)}`);
      warnings.push({
        code: 'tool_schema_mismatch',
        message: `the tool schemas of ${caseList(ids)} differ from every set in the training data (${plural(dataSets.length, 'distinct set')}; closest used by ${plural(closest.where.count, 'record')}): ${parts.join('; ')}`,
        caseId: ids[0],
        caseIds: ids,
      });
    }
  }

  // --- Thinking -------------------------------------------------------------------------------
  if (profile.thinking) {
    const strict = suite.cases.filter((c) => !c.expect.allow_think).map((c) => c.id);
    if (strict.length > 0) {
      warnings.push({
        code: 'thinking_mismatch',
        message:
          `${plural(profile.thinking.count, 'training reply')} think (a <think> block or reasoning_content, first at ${recordAt(profile, profile.thinking)}), ` +
          `but the eval counts a thinking reply as a failure in ${caseList(strict)} (and stops at "<think>" when the template can think); train without thinking or set expect.allow_think`,
        caseId: strict[0],
        caseIds: strict,
      });
    }
  }
  if (options.template && prompts.length > 0) {
    const trainThinking = options.trainThinking;
    const evalThinking = options.evalThinking ?? false;
    // The eval prompt should be exactly what the model saw before a reply in training: a prefix
    // of the same conversation rendered as training renders it, with a reply appended.
    const { c, p } = prompts[0];
    try {
      const reply = '\u0000REPLY\u0000';
      const trained = options.template.render([...p.messages, { role: 'assistant', content: reply }], {
        tools: p.tools ?? null,
        addGenerationPrompt: false,
        enableThinking: trainThinking,
      });
      const evalPrompt = options.template.render(p.messages, { tools: p.tools ?? null, addGenerationPrompt: true, enableThinking: evalThinking });
      const before = trained.slice(0, Math.max(0, trained.indexOf(reply)));
      if (!trained.startsWith(evalPrompt)) {
        const d = firstDifference(evalPrompt, before);
        const flags = trainThinking !== undefined && trainThinking !== evalThinking;
        warnings.push({
          code: flags ? 'thinking_mismatch' : 'template_mismatch',
          message:
            `the eval prompt of case "${c.id}" is not what the model sees before a reply in training` +
            (flags ? ` (training renders with enable_thinking=${trainThinking}, the eval with enable_thinking=${evalThinking})` : '') +
            `: first difference at line ${d.line}, column ${d.column}: eval ${JSON.stringify(d.a)} vs training ${JSON.stringify(d.b)}`,
          caseId: c.id,
        });
      }
    } catch {
      // A template that cannot render the case is reported by the eval itself.
    }
  }

  // --- Leaks ----------------------------------------------------------------------------------
  const maxLeaks = options.maxLeakWarnings ?? 10;
  const leaks: LintWarning[] = [];
  const promptList = options.nearDuplicates ? [...profile.prompts.keys()] : [];
  for (const { c, p } of prompts) {
    const prompt = lastUserPrompt(p.messages)?.trim();
    if (!prompt) continue;
    let how: string | undefined;
    const normalized = normalizePrompt(prompt);
    const verbatim = profile.prompts.get(prompt);
    const loose = normalized !== '' ? profile.normalizedPrompts.get(normalized) : undefined;
    let where: Where | undefined;
    if (verbatim) {
      where = verbatim;
      how = 'verbatim';
    } else if (loose) {
      where = loose;
      how = 'up to case, punctuation and spacing';
    } else if (profile.textRecords.some((t) => t.text.includes(prompt))) {
      const hits = profile.textRecords.filter((t) => t.text.includes(prompt));
      how = 'verbatim (inside a text record)';
      where = { count: hits.length, first: hits[0].at };
    } else if (options.nearDuplicates) {
      const near = promptList.find((t) => isNearDuplicate(prompt, t));
      if (near) {
        how = `as a near-duplicate (${quote(near)})`;
        where = profile.prompts.get(near);
      }
    }
    if (!how) continue;
    leaks.push({
      code: 'prompt_leak',
      message: `case "${c.id}": its prompt ${quote(prompt)} appears in the training data ${how}${where ? ` (${recordAt(profile, where)}${where.count > 1 ? `, ${where.count} records` : ''})` : ''}: the eval measures recall, not the format`,
      caseId: c.id,
    });
  }
  if (leaks.length > maxLeaks) {
    const rest = leaks.slice(maxLeaks - 1);
    warnings.push(...leaks.slice(0, maxLeaks - 1), {
      code: 'prompt_leak',
      message: `${rest.length} more cases' prompts appear in the training data: ${rest.map((w) => `"${w.caseId}"`).join(', ')}`,
      caseId: rest[0].caseId,
      caseIds: rest.map((w) => w.caseId!),
    });
  } else {
    warnings.push(...leaks);
  }
  return warnings;
}

function symDiff(a: Set<string>, b: readonly string[]): number {
  let d = 0;
  for (const x of b) if (!a.has(x)) d++;
  const bs = new Set(b);
  for (const x of a) if (!bs.has(x)) d++;
  return d;
}

/** Warnings as text, one block per warning ("warning [code] message"). */
export function formatLintWarnings(warnings: readonly LintWarning[]): string {
  return warnings.map((w) => `warning [${w.code}] ${w.message}`).join('\n');
}
