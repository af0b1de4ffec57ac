/**
 * What the training data holds, for the lint: system prompts, tool schema sets, the tools it
 * calls (structured, in <tool_call> blocks, inside code), user prompts and thinking replies,
 * each with how often and where first (file:line).
 */
import type { JsonlRecord } from '../../data/jsonl.js';
import { detectFormat, type FeatureKeys } from '../../data/formats.js';
import { normalizePrompt } from '../prompts.js';
import { parseReply, isPlainObject } from '../parse.js';
import type { TrainingRecords } from './types.js';

export interface Where {
  count: number;
  /** The first record (its line when known, else its 1-based position). */
  first: number;
}

export interface DataProfile {
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

export function schemaName(tool: unknown): string | undefined {
  if (!isPlainObject(tool)) return undefined;
  const fn = isPlainObject(tool.function) ? tool.function : tool;
  return typeof fn.name === 'string' && fn.name.trim() !== '' ? fn.name.trim() : undefined;
}

export function textOf(content: unknown): string | undefined {
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

export function profileData(data: TrainingRecords, features: FeatureKeys): DataProfile {
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
