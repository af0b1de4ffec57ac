/**
 * Scorers: turn a model reply for an eval case into a score in [0, 1] and a failure class.
 *
 * Built-ins (expectation fields in suite.ts):
 * - `rubric` (alias `execute_code`), the rubric of our reference case:
 *     1.0 — the reply calls the wrapper tool (`expect.wrapper`, default `execute_code`) and the
 *           wrapper's code (its `code` argument; else its string arguments) calls the expected
 *           tool — `write_file(` as a whole word — and contains every expected keyword
 *           (case-sensitive substring). With a list of tools, the code must call each of them.
 *     0.5 — no wrapper call, but the expected tool(s) called directly (failure `no_wrapper`;
 *           keywords are not checked).
 *     0.0 — prose (no call), a thinking reply, a wrong tool (directly or inside the wrapper), a
 *           wrapper whose code lacks a keyword (`missing_keyword`), a call that does not parse
 *           (`invalid_json` / `invalid_xml`), a call cut off by the token budget (`truncated`),
 *           an empty reply.
 *   Calls may be Hermes JSON or Qwen3-Coder XML (`expect.format` restricts to one). Prose around
 *   a call is ignored unless `expect.only_call` is set.
 * - `hermes`, `qwen3_xml`: the reply holds well-formed tool call(s) in that syntax; with
 *   `expect.tool`, the named tool(s) are called; with `arguments_schema`, each call of the
 *   expected tool(s) (or every call) has arguments valid against it; with `keywords`, they occur
 *   in those calls' arguments. 1 or 0.
 * - `json_schema`: the reply (trimmed) is JSON valid against `expect.json_schema`. 1 or 0.
 * - `regex`: `new RegExp(expect.regex, expect.flags)` matches somewhere in the reply. 1 or 0.
 * - `exact`: the reply, trimmed, equals `expect.exact`, trimmed. 1 or 0.
 *
 * Common rules: an empty reply is `empty`; a thinking block with text, or a `<think>` opener
 * never closed (or the generation stopped on a `<think>` stop string) is `think` unless
 * `expect.allow_think`; an empty `<think></think>` block is ignored. A reply cut by max tokens
 * (`finishReason` "length") inside a tool call is `truncated`; for the other scorers a failing
 * reply that ran out of tokens is `truncated` too.
 *
 * User scorers: `registerScorer(name, fn)` or `loadScorerFile(path)`; a scorer gets a
 * ScorerInput and returns a ScoreResult, a number in [0, 1], or a promise of either.
 * `scoreCase` never throws: a scorer that throws or returns nonsense gives score 0 with failure
 * `scorer_error` and the message in `detail`.
 */
import { existsSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import { checkRegularFile } from '../core/files.js';
import { ScorerSandbox, type SandboxLimits } from './sandbox.js';
import type { EvalCase, Expectation } from './suite-types.js';
import { isPlainObject } from '../core/suggest.js';
import {
  argumentText,
  codeCallsTool,
  endsInPartialCallTag,
  parameterSchemasOf,
  parseReply,
  splitThinking,
  type CallError,
  type CallFormat,
  type ParsedCall,
  type ParsedReply,
  type ParameterSchemas,
} from './parse.js';
import { validateAgainst } from './json-schema.js';

export const FAILURE_CLASSES = [
  'prose',
  'think',
  'wrong_tool',
  'no_wrapper',
  'invalid_json',
  'invalid_xml',
  'truncated',
  'empty',
  'missing_keyword',
  'schema',
  'mismatch',
  'scorer_error',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

export interface ScoreResult {
  /** In [0, 1]. */
  score: number;
  /** Why the score is below 1 (null when it is 1). `no_wrapper` comes with 0.5 under the rubric. */
  failure: FailureClass | null;
  /** The tool calls found (null when none, or for scorers that do not parse calls). */
  parsed: ParsedCall[] | null;
  detail: string;
}

export interface ScorerInput {
  /** The generated text (without the stop string that ended it). */
  reply: string;
  /** Why generation ended: "length" (max tokens), "eos", "stop" (a stop string)… */
  finishReason?: string;
  /** The stop string that ended the text, when finishReason is "stop". */
  stopString?: string;
  expect: Expectation;
  case: EvalCase;
}

export type ScorerOutput = ScoreResult | number;
export type Scorer = (input: ScorerInput) => ScorerOutput | Promise<ScorerOutput>;

export const BUILTIN_SCORERS: readonly string[] = ['rubric', 'hermes', 'qwen3_xml', 'json_schema', 'regex', 'exact'];
const ALIASES: Record<string, string> = { execute_code: 'rubric' };

const registry = new Map<string, Scorer>();

/** The registry name for a scorer name (resolves aliases such as `execute_code` → `rubric`). */
export function canonicalScorerName(name: string): string {
  return ALIASES[name] ?? name;
}

/** Register a scorer. Built-in names cannot be replaced; another existing name only with {replace: true}. */
export function registerScorer(name: string, fn: Scorer, options: { replace?: boolean } = {}): void {
  if (typeof name !== 'string' || !/^[A-Za-z_][\w.-]*$/.test(name)) {
    throw new MlxLabError('E_SCORER', `invalid scorer name ${JSON.stringify(name)}: use letters, digits, _ . - (starting with a letter or _)`);
  }
  if (typeof fn !== 'function') throw new MlxLabError('E_SCORER', `scorer "${name}" must be a function`);
  const key = canonicalScorerName(name);
  if (BUILTIN_SCORERS.includes(key) && registry.has(key)) {
    throw new MlxLabError('E_SCORER', `"${name}" is a built-in scorer and cannot be replaced; register yours under another name`);
  }
  if (registry.has(key) && !options.replace) {
    throw new MlxLabError('E_SCORER', `a scorer named "${name}" is already registered (pass {replace: true} to replace it)`);
  }
  registry.set(key, fn);
}

/** Remove a user scorer; returns whether one was removed. Built-ins stay. */
export function unregisterScorer(name: string): boolean {
  const key = canonicalScorerName(name);
  if (BUILTIN_SCORERS.includes(key)) return false;
  void sandboxes.get(key)?.dispose();
  sandboxes.delete(key);
  return registry.delete(key);
}

export function getScorer(name: string): Scorer | undefined {
  return registry.get(canonicalScorerName(name));
}

export function hasScorer(name: string): boolean {
  return registry.has(canonicalScorerName(name));
}

/** Registered scorer names (aliases included), sorted. */
export function scorerNames(): string[] {
  return [...registry.keys(), ...Object.keys(ALIASES)].sort();
}

const TS_EXTENSIONS = ['.ts', '.mts', '.cts'];
const JS_EXTENSIONS = ['.js', '.mjs', '.cjs'];

const sandboxes = new Map<string, ScorerSandbox>();

/**
 * Load a user scorer module and register it under `name` (default: the file name without its
 * extension), replacing an earlier user scorer of that name. The module exports the scorer as
 * its default export or as `score`.
 *
 * The module runs in a worker thread (see sandbox.ts): a scorer that loops, hangs or exhausts
 * its heap gets E_SCORER_TIMEOUT / E_SCORER_MEMORY for that case (score 0, error recorded) and
 * cannot block or crash the process. .js/.mjs/.cjs files are imported natively; Node 20 cannot
 * import TypeScript, so .ts/.mts/.cts files go through jiti: a small, dependency-free, widely
 * used (Nuxt, ESLint, Tailwind) loader that strips types — no build step for the user and no
 * native binary for us. Inputs and results cross the thread as structured clones.
 */
export async function loadScorerFile(path: string, name?: string, limits: SandboxLimits = {}): Promise<Scorer> {
  const abs = resolve(path);
  const ext = extname(abs).toLowerCase();
  if (!TS_EXTENSIONS.includes(ext) && !JS_EXTENSIONS.includes(ext)) {
    throw new MlxLabError('E_SCORER', `${abs}: a scorer file must be JavaScript (.js, .mjs, .cjs) or TypeScript (.ts, .mts, .cts), not "${ext || 'no extension'}"`);
  }
  if (!existsSync(abs)) throw new MlxLabError('E_SCORER', `${abs}: scorer file not found`);
  checkRegularFile(abs);
  const scorerName = name ?? basename(abs, extname(abs));
  if (BUILTIN_SCORERS.includes(canonicalScorerName(scorerName))) {
    throw new MlxLabError('E_SCORER', `${abs}: "${scorerName}" is a built-in scorer name; register the file under another name`);
  }
  const sandbox = new ScorerSandbox(abs, scorerName, limits);
  await sandbox.load();
  const fn: Scorer = (input) => sandbox.call(input) as Promise<ScorerOutput>;
  registerScorer(scorerName, fn, { replace: true });
  const key = canonicalScorerName(scorerName);
  void sandboxes.get(key)?.dispose();
  sandboxes.set(key, sandbox);
  return fn;
}

/**
 * Score a reply for a case with the case's scorer. Never throws: a missing scorer, a scorer that
 * throws or returns something that is not a score gives 0 with failure `scorer_error`.
 */
export async function scoreCase(
  c: EvalCase,
  reply: string,
  finishReason?: string,
  options: { stopString?: string } = {},
): Promise<ScoreResult> {
  const name = c.scorer;
  const fn = getScorer(name);
  if (!fn) return scorerError(`no scorer named "${name}" is registered`);
  try {
    const out = await fn({ reply: typeof reply === 'string' ? reply : String(reply ?? ''), finishReason, stopString: options.stopString, expect: c.expect, case: c });
    return normalizeResult(out);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return scorerError(`scorer "${name}" failed: ${err instanceof MlxLabError ? `${err.code}: ` : ''}${message}`);
  }
}

function scorerError(detail: string): ScoreResult {
  return { score: 0, failure: 'scorer_error', parsed: null, detail };
}

function normalizeResult(out: unknown): ScoreResult {
  const checkScore = (s: unknown): number => {
    if (typeof s !== 'number' || !Number.isFinite(s) || s < 0 || s > 1) {
      throw new Error(`returned the score ${JSON.stringify(s)}, not a number in [0, 1]`);
    }
    return s;
  };
  if (typeof out === 'number') {
    const score = checkScore(out);
    return { score, failure: score >= 1 ? null : 'mismatch', parsed: null, detail: '' };
  }
  if (!isPlainObject(out)) throw new Error(`returned ${out === undefined ? 'undefined' : JSON.stringify(out)}, not a score or {score, failure, parsed, detail}`);
  const score = checkScore(out.score);
  let failure: FailureClass | null;
  if (out.failure === undefined) failure = score >= 1 ? null : 'mismatch';
  else if (out.failure === null || (FAILURE_CLASSES as readonly unknown[]).includes(out.failure)) failure = out.failure as FailureClass | null;
  else throw new Error(`returned the failure class ${JSON.stringify(out.failure)}, not one of ${FAILURE_CLASSES.join(', ')} or null`);
  const parsed = Array.isArray(out.parsed) ? (out.parsed as ParsedCall[]) : null;
  const detail = out.detail === undefined ? '' : String(out.detail);
  return { score, failure, parsed, detail };
}

// ---------------------------------------------------------------------------------------------
// Built-ins

const FORMAT_LABEL: Record<CallFormat, string> = { hermes: 'Hermes JSON', qwen3_xml: 'Qwen3 XML', llama3_json: 'Llama 3 JSON', mistral: 'Mistral', pythonic: 'pythonic' };

function result(score: number, failure: FailureClass | null, parsed: ParsedCall[] | null, detail: string): ScoreResult {
  return { score, failure, parsed, detail };
}

function clip(s: string, n = 80): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n)}…` : one;
}

function toolList(tool: string | string[] | undefined): string[] {
  return tool === undefined ? [] : Array.isArray(tool) ? tool : [tool];
}

/** The reply as it was generated: a `<think>` stop string counts as part of it (an opener). */
function effectiveReply(input: ScorerInput): string {
  return input.stopString?.includes('<think>') ? input.reply + input.stopString : input.reply;
}

function thinkFailure(input: ScorerInput, state: string, thinking: string, parsed: ParsedCall[] | null): ScoreResult {
  const finishReason = input.finishReason;
  const stoppedOnThink = input.stopString?.includes('<think>');
  const why = stoppedOnThink
    ? `the model started a <think> block (generation stopped on the stop string ${JSON.stringify(input.stopString)})`
    : state === 'unterminated'
      ? `the reply opens a <think> block that never closes${finishReason === 'length' ? ' (ran out of tokens)' : ''}`
      : `the reply thinks before answering: "${clip(thinking, 60)}"`;
  return result(0, 'think', parsed, why);
}

function schemasFor(input: ScorerInput): ParameterSchemas {
  const schemas = parameterSchemasOf(input.case?.tools);
  const tools = toolList(input.expect.tool);
  if (input.expect.arguments_schema) for (const t of tools) schemas[t] = input.expect.arguments_schema;
  return schemas;
}

/** Common first steps of the call scorers: empty, thinking, parse errors, no call. */
function parseForCalls(input: ScorerInput, expected?: CallFormat): ParsedReply | ScoreResult {
  const text = effectiveReply(input);
  if (text.trim() === '') return result(0, 'empty', null, 'the reply is empty');
  const parsed = parseReply(text, schemasFor(input));
  const calls = parsed.calls.length > 0 ? parsed.calls : null;
  if ((parsed.think === 'content' && !input.expect.allow_think) || parsed.think === 'unterminated') {
    return thinkFailure(input, parsed.think, parsed.thinking, calls);
  }
  if (parsed.body === '') return result(0, 'empty', null, 'the reply holds only an empty <think></think> block');
  if (parsed.errors.length > 0) {
    const e = parsed.errors[0];
    return result(0, callErrorClass(e, input.finishReason, expected), calls, callErrorDetail(e, input.finishReason));
  }
  if (expected) {
    const other = parsed.calls.find((c) => c.format !== expected);
    if (other) {
      return result(0, expected === 'qwen3_xml' ? 'invalid_xml' : 'invalid_json', calls, `expected ${FORMAT_LABEL[expected]} tool calls, got ${FORMAT_LABEL[other.format]} (${other.name})`);
    }
  }
  if (parsed.calls.length === 0) {
    if (input.finishReason === 'length' && endsInPartialCallTag(parsed.body)) {
      return result(0, 'truncated', null, 'ran out of tokens while opening <tool_call>');
    }
    const bare = bareJsonCall(parsed.body);
    if (bare) return result(0, 'prose', null, `a JSON call of "${bare}" without <tool_call> tags`);
    return result(0, 'prose', null, `no tool call: "${clip(parsed.body)}"`);
  }
  if (input.expect.only_call && parsed.outside !== '') {
    return result(0, 'prose', parsed.calls, `text around the tool call: "${clip(parsed.outside)}"`);
  }
  return parsed;
}

function callErrorClass(e: CallError, finishReason: string | undefined, expected?: CallFormat): FailureClass {
  if (e.kind === 'unterminated') {
    if (finishReason === 'length') return 'truncated';
    return (e.format ?? expected) === 'qwen3_xml' ? 'invalid_xml' : 'invalid_json';
  }
  if (e.kind === 'unknown') return expected === 'qwen3_xml' ? 'invalid_xml' : 'invalid_json';
  // The scorers read only <tool_call> blocks (JSON or XML); a Python error cannot come from them.
  return e.kind === 'invalid_python' ? 'invalid_json' : e.kind;
}

function callErrorDetail(e: CallError, finishReason: string | undefined): string {
  if (e.kind === 'unterminated' && finishReason === 'length') return `ran out of tokens inside a tool call: "${clip(e.raw)}"`;
  return e.message;
}

function bareJsonCall(body: string): string | undefined {
  if (!body.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(body);
    return isPlainObject(v) && typeof v.name === 'string' ? v.name : undefined;
  } catch {
    return undefined;
  }
}

/** The reference rubric: 1 wrapped call naming tool + keywords, 0.5 direct call of the tool, else 0. */
export function rubricScorer(input: ScorerInput): ScoreResult {
  const parsed = parseForCalls(input, input.expect.format);
  if (!('calls' in parsed)) return parsed;
  const calls = parsed.calls;
  const wrapper = input.expect.wrapper ?? 'execute_code';
  const tools = toolList(input.expect.tool);
  const keywords = input.expect.keywords ?? [];
  const wrapped = calls.filter((c) => c.name === wrapper);
  if (wrapped.length > 0) {
    let problem: ScoreResult | undefined;
    for (const call of wrapped) {
      const code = argumentText(call);
      const missingTools = tools.filter((t) => !codeCallsTool(code, t));
      const missingKeywords = keywords.filter((k) => !code.includes(k));
      if (missingTools.length === 0 && missingKeywords.length === 0) {
        const kw = keywords.length > 0 ? ` with ${keywords.map((k) => JSON.stringify(k)).join(', ')}` : '';
        return result(1, null, calls, `${wrapper} calls ${tools.join(', ')}${kw}`);
      }
      problem ??=
        missingTools.length > 0
          ? result(0, 'wrong_tool', calls, `${wrapper} code does not call ${missingTools.join(', ')}: "${clip(code)}"`)
          : result(0, 'missing_keyword', calls, `${wrapper} code calls ${tools.join(', ')} but lacks ${missingKeywords.map((k) => JSON.stringify(k)).join(', ')}`);
    }
    return problem!;
  }
  const names = calls.map((c) => c.name);
  const missing = tools.filter((t) => !names.includes(t));
  if (missing.length === 0) {
    return result(0.5, 'no_wrapper', calls, `direct call of ${tools.join(', ')} without the ${wrapper} wrapper`);
  }
  return result(0, 'wrong_tool', calls, `called ${names.join(', ')}; expected ${tools.join(', ')} inside ${wrapper}`);
}

/** The Hermes JSON / Qwen3 XML tool-call scorers. */
export function formatScorer(format: CallFormat): (input: ScorerInput) => ScoreResult {
  return (input) => {
    const parsed = parseForCalls(input, format);
    if (!('calls' in parsed)) return parsed;
    const calls = parsed.calls;
    const tools = toolList(input.expect.tool);
    let targets = calls;
    if (tools.length > 0) {
      const names = calls.map((c) => c.name);
      const missing = tools.filter((t) => !names.includes(t));
      if (missing.length > 0) return result(0, 'wrong_tool', calls, `called ${names.join(', ')}; expected ${tools.join(', ')}`);
      targets = calls.filter((c) => tools.includes(c.name));
    }
    if (input.expect.arguments_schema) {
      for (const call of targets) {
        const why = validateAgainst(input.expect.arguments_schema, call.arguments);
        if (why) return result(0, 'schema', calls, `${call.name} arguments do not match the schema: ${why}`);
      }
    }
    const keywords = input.expect.keywords ?? [];
    if (keywords.length > 0) {
      const text = targets.map((c) => `${argumentText(c)}\n${JSON.stringify(c.arguments)}`).join('\n');
      const missing = keywords.filter((k) => !text.includes(k));
      if (missing.length > 0) return result(0, 'missing_keyword', calls, `the call arguments lack ${missing.map((k) => JSON.stringify(k)).join(', ')}`);
    }
    return result(1, null, calls, `${FORMAT_LABEL[format]} call of ${targets.map((c) => c.name).join(', ')}`);
  };
}

/** Text scorers' first step: empty and thinking checks; the reply body (empty think removed). */
function textBody(input: ScorerInput): { body: string } | ScoreResult {
  const text = effectiveReply(input);
  const split = splitThinking(text);
  if ((split.think === 'content' && !input.expect.allow_think) || split.think === 'unterminated') {
    return thinkFailure(input, split.think, split.thinking, null);
  }
  return { body: split.body };
}

function textFailure(body: string, finishReason: string | undefined, detail: string): ScoreResult {
  if (body === '') return result(0, 'empty', null, 'the reply is empty');
  if (finishReason === 'length') return result(0, 'truncated', null, `ran out of tokens: ${detail}`);
  return result(0, 'mismatch', null, detail);
}

export function jsonSchemaScorer(input: ScorerInput): ScoreResult {
  const t = textBody(input);
  if ('score' in t) return t;
  if (t.body === '') return result(0, 'empty', null, 'the reply is empty');
  let value: unknown;
  try {
    value = JSON.parse(t.body);
  } catch (err) {
    if (input.finishReason === 'length') return result(0, 'truncated', null, `ran out of tokens inside the JSON: ${(err as Error).message}`);
    return result(0, 'invalid_json', null, `the reply is not JSON: ${(err as Error).message}`);
  }
  const why = validateAgainst(input.expect.json_schema ?? true, value);
  if (why) return result(0, 'schema', null, `the JSON does not match the schema: ${why}`);
  return result(1, null, null, 'valid JSON matching the schema');
}

export function regexScorer(input: ScorerInput): ScoreResult {
  const t = textBody(input);
  if ('score' in t) return t;
  const re = new RegExp(input.expect.regex ?? '', (input.expect.flags ?? '').replace(/[gy]/g, ''));
  if (re.test(t.body)) return result(1, null, null, `matches /${re.source}/${re.flags}`);
  return textFailure(t.body, input.finishReason, `does not match /${re.source}/${re.flags}: "${clip(t.body)}"`);
}

export function exactScorer(input: ScorerInput): ScoreResult {
  const t = textBody(input);
  if ('score' in t) return t;
  const want = (input.expect.exact ?? '').trim();
  if (t.body === want) return result(1, null, null, 'exact match');
  return textFailure(t.body, input.finishReason, `expected "${clip(want)}", got "${clip(t.body)}"`);
}

registry.set('rubric', rubricScorer);
registry.set('hermes', formatScorer('hermes'));
registry.set('qwen3_xml', formatScorer('qwen3_xml'));
registry.set('json_schema', jsonSchemaScorer);
registry.set('regex', regexScorer);
registry.set('exact', exactScorer);
