/**
 * Eval suites: the file format, loading and validation.
 *
 * A suite is a YAML file (`.yaml`/`.yml`, JSON is accepted as YAML) or a JSONL file (`.jsonl`,
 * one case per line).
 *
 * YAML:
 * ```yaml
 * name: tool-format               # optional; defaults to the file name
 * description: …                  # optional
 * system: "You are …"             # optional default system prompt
 * tools: [ {type: function, function: {name, description, parameters}} ]   # optional default tools
 * max_tokens: 128                 # optional default generation budget
 * stop: ["<think>"]               # optional default stop strings
 * scorer: rubric                  # optional default scorer
 * scorers: {my_check: ./my-check.mjs}   # optional user scorer files (paths relative to the suite)
 * cases:
 *   - id: text-01                 # required, unique (a string; an integer is taken as its digits)
 *     category: text_tools        # optional, default "default"
 *     prompt: Create hello.py …   # a user message; or `messages:` (a chat ending with a user/tool message)
 *     system: …                   # optional, overrides the suite's
 *     tools: […]                  # optional, overrides the suite's
 *     expect: {tool: write_file, keywords: [hello.py]}
 *     scorer: rubric              # optional, overrides the suite's
 *     weight: 1                   # optional, > 0, default 1
 *     max_tokens: 64              # optional, overrides the suite's
 *     stop: ["<think>"]           # optional, replaces the suite's
 *     notes: …                    # optional free text
 * ```
 *
 * JSONL: each non-blank line is one case object (same fields). The first line may instead be
 * `{"suite": {…}}` holding the suite-level fields (everything above but `cases`).
 *
 * The expectation (`expect`), read by the scorers (see scorers.ts):
 * - `tool`: the tool name (or a list of names, all of which must be called);
 * - `keywords`: strings that must appear (case-sensitive) in the call's argument text;
 * - `wrapper`: the code-wrapper tool of the rubric scorer (default `execute_code`);
 * - `format`: `hermes` or `qwen3_xml`, the call syntax required;
 * - `arguments_schema`: a JSON schema the call's arguments must satisfy;
 * - `json_schema`: a JSON schema the whole reply (parsed as JSON) must satisfy;
 * - `regex` (+ `flags`): a pattern the reply must match (JavaScript RegExp, searched, not anchored);
 * - `exact`: the reply, trimmed, must equal this, trimmed;
 * - `only_call`: no prose allowed around the tool call(s) (default false: prose is ignored);
 * - `allow_think`: a thinking block before the answer is not a failure (default false);
 * - `data`: free-form data for user scorers.
 *
 * The scorer of a case is its `scorer`, else the suite's `scorer`, else inferred from the
 * expectation: exact → `exact`, regex → `regex`, json_schema → `json_schema`, wrapper → `rubric`,
 * format qwen3_xml → `qwen3_xml`, tool/format hermes/arguments_schema → `hermes`.
 *
 * Validation errors (MlxLabError code E_SUITE) name the file, the case (id, position and line)
 * and the field; all problems found are reported at once, one per line.
 */
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import { closest, distance } from 'fastest-levenshtein';
import { LineCounter, parseDocument, isSeq } from 'yaml';
import type { ChatMessage, ToolSchema } from '../model/chat.js';
import { MlxLabError } from '../core/errors.js';
import { parseJsonl } from '../data/jsonl.js';
import { isPlainObject } from './parse.js';
import { schemaProblem } from './json-schema.js';
import { BUILTIN_SCORERS, canonicalScorerName, hasScorer, loadScorerFile, scorerNames } from './scorers.js';
import { readRegularFile } from '../core/files.js';

export type { Expectation, EvalCase, EvalSuite, CasePrompt } from './suite-types.js';
import type { EvalCase, EvalSuite, CasePrompt, Expectation } from './suite-types.js';


const SUITE_FIELDS = ['name', 'description', 'system', 'tools', 'max_tokens', 'stop', 'scorer', 'scorers', 'cases'] as const;
const CASE_FIELDS = ['id', 'category', 'prompt', 'messages', 'system', 'tools', 'expect', 'scorer', 'weight', 'max_tokens', 'stop', 'notes'] as const;
export const EXPECT_FIELDS = [
  'tool',
  'keywords',
  'wrapper',
  'format',
  'arguments_schema',
  'json_schema',
  'regex',
  'flags',
  'exact',
  'only_call',
  'allow_think',
  'data',
] as const;
type ExpectField = (typeof EXPECT_FIELDS)[number];

/** Which expectation fields each built-in scorer reads, and which it needs. */
const BUILTIN_EXPECT: Record<string, { required: ExpectField[]; allowed: ExpectField[] }> = {
  rubric: { required: ['tool'], allowed: ['tool', 'keywords', 'wrapper', 'format', 'only_call', 'allow_think'] },
  hermes: { required: [], allowed: ['tool', 'keywords', 'format', 'arguments_schema', 'only_call', 'allow_think'] },
  qwen3_xml: { required: [], allowed: ['tool', 'keywords', 'format', 'arguments_schema', 'only_call', 'allow_think'] },
  json_schema: { required: ['json_schema'], allowed: ['json_schema', 'allow_think'] },
  regex: { required: ['regex'], allowed: ['regex', 'flags', 'allow_think'] },
  exact: { required: ['exact'], allowed: ['exact', 'allow_think'] },
};

/** The closest candidate to a misspelt word, if it is close enough to be a plausible typo. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word, candidates as string[]);
  return distance(word, best) <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function didYouMean(word: string, candidates: readonly string[]): string {
  const s = suggest(word, candidates);
  return s ? ` (did you mean "${s}"?)` : '';
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** Infer a scorer name from an expectation, or undefined when nothing tells. */
export function inferScorer(expect: Expectation): string | undefined {
  if (expect.exact !== undefined) return 'exact';
  if (expect.regex !== undefined) return 'regex';
  if (expect.json_schema !== undefined) return 'json_schema';
  if (expect.wrapper !== undefined) return 'rubric';
  if (expect.format === 'qwen3_xml') return 'qwen3_xml';
  if (expect.tool !== undefined || expect.format === 'hermes' || expect.arguments_schema !== undefined) return 'hermes';
  return undefined;
}

interface RawCase {
  value: unknown;
  line?: number;
}

interface SuiteHeader {
  value: Record<string, unknown>;
  cases: RawCase[];
  format: 'yaml' | 'jsonl';
  /** Lines of top-level keys (YAML), for suite-level errors. */
  lines: Record<string, number>;
}

/** Collects problems; throws them together. */
class Problems {
  readonly list: string[] = [];
  add(message: string): void {
    this.list.push(message);
  }
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const shown = this.list.slice(0, 25);
    if (this.list.length > 25) shown.push(`… and ${this.list.length - 25} more problems`);
    throw new MlxLabError('E_SUITE', shown.join('\n'));
  }
}

/**
 * Parse suite text. `source` names it in errors and, by its extension, picks the format
 * (.jsonl → JSONL, anything else → YAML); relative scorer file paths resolve against its folder.
 */
export function parseSuite(text: string, source: string, options: { format?: 'yaml' | 'jsonl' } = {}): EvalSuite {
  const format = options.format ?? (extname(source).toLowerCase() === '.jsonl' ? 'jsonl' : 'yaml');
  const header = format === 'jsonl' ? readJsonlSuite(text, source) : readYamlSuite(text, source);
  const problems = new Problems();
  const top = header.value;
  const at = (field: string) => (header.lines[field] ? `${source}:${header.lines[field]}: ${field}` : `${source}: ${field}`);

  for (const key of Object.keys(top)) {
    if (format === 'jsonl' && key === 'cases') {
      problems.add(`${source}: suite.cases: not allowed in a JSONL header (put one case per line)`);
      continue;
    }
    if (!(SUITE_FIELDS as readonly string[]).includes(key)) {
      problems.add(`${at(key)}: unknown field${didYouMean(key, SUITE_FIELDS)}`);
    }
  }

  const defaultName = basename(source, extname(source));
  const suite: EvalSuite = { name: defaultName, source, format, scorers: {}, cases: [] };
  if (top.name !== undefined) {
    if (typeof top.name === 'string' && top.name.trim() !== '') suite.name = top.name;
    else problems.add(`${at('name')}: must be a non-empty string (got ${kind(top.name)})`);
  }
  if (top.description !== undefined) {
    if (typeof top.description === 'string') suite.description = top.description;
    else problems.add(`${at('description')}: must be a string (got ${kind(top.description)})`);
  }
  const report = (field: string) => (message: string) => problems.add(`${at(field)}: ${message}`);
  suite.system = checkString(top.system, report('system'));
  suite.tools = checkTools(top.tools, 'tools', (f, m) => problems.add(`${at(f)}: ${m}`));
  suite.maxTokens = checkPositiveInt(top.max_tokens, report('max_tokens'));
  suite.stop = checkStop(top.stop, report('stop'));

  if (top.scorers !== undefined) {
    if (!isPlainObject(top.scorers)) {
      problems.add(`${at('scorers')}: must be a map of scorer name to file path (got ${kind(top.scorers)})`);
    } else {
      for (const [name, file] of Object.entries(top.scorers)) {
        if (BUILTIN_SCORERS.includes(canonicalScorerName(name))) {
          problems.add(`${at('scorers')}.${name}: "${name}" is a built-in scorer; give the file another name`);
        } else if (!/^[A-Za-z_][\w.-]*$/.test(name)) {
          problems.add(`${at('scorers')}.${name}: a scorer name must start with a letter or _ and hold only letters, digits, _ . -`);
        } else if (typeof file !== 'string' || file.trim() === '') {
          problems.add(`${at('scorers')}.${name}: must be a file path (got ${kind(file)})`);
        } else {
          suite.scorers[name] = isAbsolute(file) ? file : resolve(dirname(resolve(source)), file);
        }
      }
    }
  }
  const known = [...new Set([...scorerNames(), ...Object.keys(suite.scorers)])].sort();
  const scorerKnown = (name: string) => hasScorer(name) || name in suite.scorers;
  if (top.scorer !== undefined) {
    if (typeof top.scorer !== 'string' || top.scorer.trim() === '') {
      problems.add(`${at('scorer')}: must be a scorer name (got ${kind(top.scorer)})`);
    } else if (!scorerKnown(top.scorer)) {
      problems.add(`${at('scorer')}: unknown scorer "${top.scorer}"${didYouMean(top.scorer, known)} (known: ${known.join(', ')})`);
    } else {
      suite.scorer = canonicalScorerName(top.scorer);
    }
  }

  if (format === 'yaml') {
    if (top.cases === undefined) problems.add(`${source}: cases: missing (a list of cases)`);
    else if (!Array.isArray(top.cases)) problems.add(`${at('cases')}: must be a list of cases (got ${kind(top.cases)})`);
  }
  if (header.cases.length === 0 && (format === 'jsonl' || Array.isArray(top.cases))) {
    problems.add(`${source}: the suite has no cases`);
  }

  const seen = new Map<string, { index: number; line?: number }>();
  header.cases.forEach((raw, index) => {
    const c = parseCase(raw, index, suite, format, problems, scorerKnown, known);
    if (!c) return;
    const first = seen.get(c.id);
    if (first) {
      const firstAt = format === 'jsonl' ? `line ${first.line}` : `#${first.index + 1}${first.line ? `, line ${first.line}` : ''}`;
      problems.add(`${caseLocation(source, format, c.id, index, raw.line)}: id: duplicate id "${c.id}" (first used by the case at ${firstAt})`);
      return;
    }
    seen.set(c.id, { index, line: raw.line });
    suite.cases.push(c);
  });
  problems.throwIfAny();
  return suite;
}

/** Read, parse and validate a suite file, then load the user scorer files it names. */
export async function loadSuite(path: string): Promise<EvalSuite> {
  let text: string;
  try {
    text = readRegularFile(path, 'utf8');
  } catch (err) {
    if (err instanceof MlxLabError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'suite file not found' : code === 'EISDIR' ? 'is a folder, not a suite file' : `cannot read: ${(err as Error).message}`;
    throw new MlxLabError('E_SUITE', `${path}: ${why}`, { cause: err });
  }
  const suite = parseSuite(text, path);
  await loadSuiteScorers(suite);
  return suite;
}

/** Import and register the user scorer files a suite names (`scorers:`). */
export async function loadSuiteScorers(suite: EvalSuite): Promise<void> {
  for (const [name, file] of Object.entries(suite.scorers)) {
    try {
      await loadScorerFile(file, name);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new MlxLabError('E_SUITE', `${suite.source}: scorers.${name}: ${message}`, { cause: err });
    }
  }
}

/**
 * The final chat for a case: the system prompt in effect (unless the case's messages already
 * start with one) followed by the case's messages, or by its prompt as a user message; plus the
 * tools, max_tokens and stop strings in effect.
 */
export function suiteMessages(c: EvalCase, suite?: EvalSuite): CasePrompt {
  const system = c.system ?? suite?.system;
  const chat: ChatMessage[] = c.messages ? c.messages.map((m) => ({ ...m })) : [{ role: 'user', content: c.prompt ?? '' }];
  const messages = system !== undefined && chat[0]?.role !== 'system' ? [{ role: 'system', content: system }, ...chat] : chat;
  const out: CasePrompt = { messages };
  const tools = c.tools ?? suite?.tools;
  if (tools) out.tools = tools;
  const maxTokens = c.maxTokens ?? suite?.maxTokens;
  if (maxTokens !== undefined) out.maxTokens = maxTokens;
  const stop = c.stop ?? suite?.stop;
  if (stop) out.stop = stop;
  return out;
}

// ---------------------------------------------------------------------------------------------

function caseLocation(source: string, format: 'yaml' | 'jsonl', id: string | undefined, index: number, line?: number): string {
  const name = id !== undefined ? `case "${id}"` : `case #${index + 1}`;
  if (format === 'jsonl') return `${source}:${line}: ${name}`;
  const where = id !== undefined ? `#${index + 1}` : '';
  const parts = [where, line !== undefined ? `line ${line}` : ''].filter((p) => p !== '');
  return parts.length > 0 ? `${source}: ${name} (${parts.join(', ')})` : `${source}: ${name}`;
}

function parseCase(
  raw: RawCase,
  index: number,
  suite: EvalSuite,
  format: 'yaml' | 'jsonl',
  problems: Problems,
  scorerKnown: (name: string) => boolean,
  known: string[],
): EvalCase | undefined {
  const v = raw.value;
  let id: string | undefined;
  if (isPlainObject(v)) {
    if (typeof v.id === 'string' && v.id.trim() !== '') id = v.id.trim();
    else if (typeof v.id === 'number' && Number.isInteger(v.id)) id = String(v.id);
  }
  const loc = caseLocation(suite.source, format, id, index, raw.line);
  const before = problems.list.length;
  const bad = (field: string, message: string) => problems.add(`${loc}: ${field}: ${message}`);
  if (!isPlainObject(v)) {
    problems.add(`${loc}: a case must be an object (got ${kind(v)})`);
    return undefined;
  }
  for (const key of Object.keys(v)) {
    if (!(CASE_FIELDS as readonly string[]).includes(key)) {
      problems.add(`${loc}: ${key}: unknown field${didYouMean(key, CASE_FIELDS)}`);
    }
  }
  if (id === undefined) {
    bad('id', v.id === undefined ? 'missing (every case needs a unique id)' : `must be a non-empty string (got ${kind(v.id)})`);
  }
  let category = 'default';
  if (v.category !== undefined) {
    if (typeof v.category === 'string' && v.category.trim() !== '') category = v.category.trim();
    else bad('category', `must be a non-empty string (got ${kind(v.category)})`);
  }

  let prompt: string | undefined;
  let messages: ChatMessage[] | undefined;
  if (v.prompt !== undefined && v.messages !== undefined) {
    bad('prompt', 'give either "prompt" or "messages", not both');
  } else if (v.prompt !== undefined) {
    if (typeof v.prompt === 'string' && v.prompt.trim() !== '') prompt = v.prompt;
    else bad('prompt', `must be a non-empty string (got ${kind(v.prompt)})`);
  } else if (v.messages !== undefined) {
    messages = checkMessages(v.messages, (f, m) => bad(f, m));
  } else {
    bad('prompt', 'missing: give "prompt" (a string) or "messages" (a chat)');
  }

  const system = v.system !== undefined ? checkString(v.system, (m) => bad('system', m)) : suite.system;
  const tools = v.tools !== undefined ? checkTools(v.tools, 'tools', bad) : suite.tools;
  const maxTokens = v.max_tokens !== undefined ? checkPositiveInt(v.max_tokens, (m) => bad('max_tokens', m)) : suite.maxTokens;
  const stop = v.stop !== undefined ? checkStop(v.stop, (m) => bad('stop', m)) : suite.stop;
  let weight = 1;
  if (v.weight !== undefined) {
    if (typeof v.weight === 'number' && Number.isFinite(v.weight) && v.weight > 0) weight = v.weight;
    else bad('weight', `must be a number > 0 (got ${kind(v.weight)})`);
  }
  let notes: string | undefined;
  if (v.notes !== undefined) notes = checkString(v.notes, (m) => bad('notes', m));

  let caseScorer: string | undefined;
  if (v.scorer !== undefined) {
    if (typeof v.scorer !== 'string' || v.scorer.trim() === '') bad('scorer', `must be a scorer name (got ${kind(v.scorer)})`);
    else if (!scorerKnown(v.scorer)) bad('scorer', `unknown scorer "${v.scorer}"${didYouMean(v.scorer, known)} (known: ${known.join(', ')})`);
    else caseScorer = canonicalScorerName(v.scorer);
  }

  const expect = checkExpectation(v.expect, bad);
  let scorer = caseScorer ?? suite.scorer;
  if (expect && scorer === undefined) {
    scorer = inferScorer(expect);
    if (scorer === undefined) bad('scorer', 'cannot tell which scorer to use from the expectation: set "scorer" on the case or the suite');
  }
  if (expect && scorer !== undefined && scorer in BUILTIN_EXPECT) {
    const spec = BUILTIN_EXPECT[scorer];
    let unused = 0;
    for (const key of Object.keys(expect) as ExpectField[]) {
      if ((EXPECT_FIELDS as readonly string[]).includes(key) && !spec.allowed.includes(key)) {
        const hint = inferScorer({ [key]: (expect as Record<string, unknown>)[key] } as Expectation);
        bad(`expect.${key}`, `not used by the "${scorer}" scorer${hint && hint !== scorer ? ` (did you mean scorer: ${hint}?)` : ''}`);
        unused++;
      }
    }
    // A field for another scorer usually means the wrong scorer, not a missing field: say only that.
    for (const key of unused > 0 ? [] : spec.required) {
      if (expect[key] === undefined) bad(`expect.${key}`, `missing: the "${scorer}" scorer needs it`);
    }
    if ((scorer === 'hermes' || scorer === 'qwen3_xml') && expect.format !== undefined && expect.format !== scorer) {
      bad('expect.format', `is "${expect.format}" but the scorer is "${scorer}"`);
    }
  }

  if (problems.list.length > before || id === undefined || expect === undefined || scorer === undefined) return undefined;
  const c: EvalCase = { id, category, index, expect, scorer, weight };
  if (raw.line !== undefined) c.line = raw.line;
  if (prompt !== undefined) c.prompt = prompt;
  if (messages !== undefined) c.messages = messages;
  if (system !== undefined) c.system = system;
  if (tools !== undefined) c.tools = tools;
  if (maxTokens !== undefined) c.maxTokens = maxTokens;
  if (stop !== undefined) c.stop = stop;
  if (notes !== undefined) c.notes = notes;
  return c;
}

function checkExpectation(value: unknown, bad: (field: string, message: string) => void): Expectation | undefined {
  if (value === undefined || value === null) {
    bad('expect', 'missing: every case needs an expectation (e.g. {tool, keywords}, {regex}, {exact} or {json_schema})');
    return undefined;
  }
  if (!isPlainObject(value)) {
    bad('expect', `must be an object (got ${kind(value)})`);
    return undefined;
  }
  if (Object.keys(value).length === 0) {
    bad('expect', 'empty: every case needs an expectation (e.g. {tool, keywords}, {regex}, {exact} or {json_schema})');
    return undefined;
  }
  let ok = true;
  const fail = (field: string, message: string) => {
    ok = false;
    bad(`expect.${field}`, message);
  };
  const e: Expectation = {};
  for (const [key, v] of Object.entries(value)) {
    switch (key as ExpectField) {
      case 'tool':
        if (typeof v === 'string' && v.trim() !== '') e.tool = v.trim();
        else if (Array.isArray(v) && v.length > 0 && v.every((t) => typeof t === 'string' && t.trim() !== '')) e.tool = v.map((t: string) => t.trim());
        else fail(key, `must be a tool name or a non-empty list of tool names (got ${kind(v)})`);
        break;
      case 'keywords':
        if (Array.isArray(v) && v.every((k) => typeof k === 'string' && k !== '')) e.keywords = [...v];
        else if (Array.isArray(v) && v.every((k) => typeof k === 'string' || typeof k === 'number') && !v.includes('')) e.keywords = v.map(String);
        else fail(key, `must be a list of non-empty strings (got ${kind(v)})`);
        break;
      case 'wrapper':
        if (typeof v === 'string' && v.trim() !== '') e.wrapper = v.trim();
        else fail(key, `must be a tool name (got ${kind(v)})`);
        break;
      case 'format':
        if (v === 'hermes' || v === 'qwen3_xml') e.format = v;
        else fail(key, `must be "hermes" or "qwen3_xml" (got ${kind(v)})`);
        break;
      case 'arguments_schema': {
        const why = isPlainObject(v) ? schemaProblem(v) : 'must be a JSON schema (an object)';
        if (why) fail(key, why);
        else e.arguments_schema = v as Record<string, unknown>;
        break;
      }
      case 'json_schema': {
        const why = schemaProblem(v);
        if (why) fail(key, why);
        else e.json_schema = v as Record<string, unknown> | boolean;
        break;
      }
      case 'regex':
        if (typeof v === 'string') e.regex = v;
        else fail(key, `must be a string (got ${kind(v)})`);
        break;
      case 'flags':
        if (typeof v === 'string' && /^[dgimsuvy]*$/.test(v)) e.flags = v;
        else fail(key, `must be RegExp flags such as "i" or "ms" (got ${kind(v)})`);
        break;
      case 'exact':
        if (typeof v === 'string') e.exact = v;
        else fail(key, `must be a string (got ${kind(v)})`);
        break;
      case 'only_call':
      case 'allow_think':
        if (typeof v === 'boolean') e[key as 'only_call' | 'allow_think'] = v;
        else fail(key, `must be true or false (got ${kind(v)})`);
        break;
      case 'data':
        e.data = v;
        break;
      default:
        fail(key, `unknown field${didYouMean(key, EXPECT_FIELDS)}`);
    }
  }
  if (e.regex !== undefined) {
    try {
      new RegExp(e.regex, e.flags ?? '');
    } catch (err) {
      fail('regex', `is not a valid regular expression: ${(err as Error).message}`);
    }
  }
  if (e.flags !== undefined && e.regex === undefined && ok) fail('flags', 'given without "regex"');
  return ok ? e : undefined;
}

function checkString(v: unknown, bad: (message: string) => void): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  bad(`must be a string (got ${kind(v)})`);
  return undefined;
}

function checkPositiveInt(v: unknown, bad: (message: string) => void): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  bad(`must be a positive integer (got ${kind(v)})`);
  return undefined;
}

function checkStop(v: unknown, bad: (message: string) => void): string[] | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v) && v.every((s) => typeof s === 'string' && s !== '')) return [...v];
  bad(`must be a list of non-empty strings (got ${kind(v)})`);
  return undefined;
}

/** Tools: OpenAI style {type: "function", function: {name, description?, parameters?}}, or the short {name, description?, parameters?}. */
function checkTools(v: unknown, field: string, bad: (field: string, message: string) => void): ToolSchema[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) {
    bad(field, `must be a list of tool schemas (got ${kind(v)})`);
    return undefined;
  }
  const out: ToolSchema[] = [];
  let ok = true;
  v.forEach((tool, i) => {
    const f = `${field}[${i}]`;
    const fn = isPlainObject(tool) ? (isPlainObject(tool.function) ? tool.function : tool) : undefined;
    if (!fn || typeof fn.name !== 'string' || fn.name.trim() === '') {
      ok = false;
      bad(f, 'must be a tool schema {type: "function", function: {name, description, parameters}}');
      return;
    }
    if (fn.parameters !== undefined) {
      const why = isPlainObject(fn.parameters) ? schemaProblem(fn.parameters) : 'must be a JSON schema (an object)';
      if (why) {
        ok = false;
        bad(`${f}.function.parameters`, why);
        return;
      }
    }
    out.push(isPlainObject((tool as Record<string, unknown>).function) ? (tool as ToolSchema) : { type: 'function', function: fn });
  });
  return ok ? out : undefined;
}

const ROLES = ['system', 'user', 'assistant', 'tool'];

function checkMessages(v: unknown, bad: (field: string, message: string) => void): ChatMessage[] | undefined {
  if (!Array.isArray(v) || v.length === 0) {
    bad('messages', `must be a non-empty list of chat messages (got ${kind(v)})`);
    return undefined;
  }
  let ok = true;
  v.forEach((m, i) => {
    const f = `messages[${i}]`;
    if (!isPlainObject(m)) {
      ok = false;
      bad(f, `must be a message {role, content} (got ${kind(m)})`);
      return;
    }
    if (typeof m.role !== 'string' || !ROLES.includes(m.role)) {
      ok = false;
      bad(`${f}.role`, `must be one of ${ROLES.join(', ')} (got ${kind(m.role)})`);
    }
    const hasCalls = Array.isArray(m.tool_calls) && m.tool_calls.length > 0;
    if (typeof m.content !== 'string' && !(hasCalls && (m.content === undefined || m.content === null))) {
      ok = false;
      bad(`${f}.content`, `must be a string (got ${kind(m.content)})`);
    }
  });
  if (!ok) return undefined;
  const last = v[v.length - 1] as ChatMessage;
  if (last.role !== 'user' && last.role !== 'tool') {
    bad(`messages[${v.length - 1}].role`, `the last message must be from the user or a tool, so the model answers it (got "${last.role}")`);
    return undefined;
  }
  return v as ChatMessage[];
}

function readYamlSuite(text: string, source: string): SuiteHeader {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text.replace(/^\uFEFF/, ''), { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lineCounter.linePos(e.pos[0]);
    throw new MlxLabError('E_SUITE', `${source}:${pos.line}:${pos.col}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // An alias without its anchor, or too many aliases (a "billion laughs" file).
    throw new MlxLabError('E_SUITE', `${source}: cannot read the YAML: ${(err as Error).message}`, { cause: err });
  }
  if (!isPlainObject(value)) {
    throw new MlxLabError('E_SUITE', `${source}: a suite must be a YAML mapping with "cases" (got ${kind(value)})`);
  }
  const lines: Record<string, number> = {};
  const contents = doc.contents as { items?: Array<{ key?: { range?: [number, number, number] } & { value?: unknown } }> } | null;
  for (const item of contents?.items ?? []) {
    const key = item.key as { value?: unknown; range?: [number, number, number] } | undefined;
    if (key && typeof key.value === 'string' && key.range) lines[key.value] = lineCounter.linePos(key.range[0]).line;
  }
  const cases: RawCase[] = [];
  if (Array.isArray(value.cases)) {
    const node = doc.get('cases', true);
    const items = isSeq(node) ? node.items : [];
    value.cases.forEach((c, i) => {
      const item = items[i] as { range?: [number, number, number] } | undefined;
      cases.push({ value: c, line: item?.range ? lineCounter.linePos(item.range[0]).line : undefined });
    });
  }
  return { value, cases, format: 'yaml', lines };
}

function readJsonlSuite(text: string, source: string): SuiteHeader {
  const cases: RawCase[] = [];
  let header: Record<string, unknown> = {};
  let first = true;
  for (const { line, value } of parseJsonl(text, source, 'E_SUITE')) {
    if ('suite' in value) {
      if (!first) throw new MlxLabError('E_SUITE', `${source}:${line}: a {"suite": …} header is only allowed on the first line`);
      if (!isPlainObject(value.suite) || Object.keys(value).length !== 1) {
        throw new MlxLabError('E_SUITE', `${source}:${line}: the header line must be {"suite": {name, system, …}} and nothing else`);
      }
      header = value.suite;
    } else {
      cases.push({ value, line });
    }
    first = false;
  }
  return { value: header, cases, format: 'jsonl', lines: {} };
}
