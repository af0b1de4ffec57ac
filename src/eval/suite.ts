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
import { LineCounter, parseDocument, isSeq } from 'yaml';
import type { ChatMessage } from '../model/chat.js';
import { MlxLabError } from '../core/errors.js';
import { parseFields, type IssuePath, type Problem } from '../core/issues.js';
import { isPlainObject, suggest } from '../core/suggest.js';
import { parseJsonl } from '../data/jsonl.js';
import { CASE, EXPECTATION, EXPECT_FIELDS, kind, SUITE } from './suite-schema.js';
import { BUILTIN_SCORERS, canonicalScorerName, hasScorer, loadScorerFile, scorerNames } from './scorers.js';
import { readUserTextFile } from '../core/files.js';

export type { Expectation, EvalCase, EvalSuite, CasePrompt } from './suite-types.js';
import type { EvalCase, EvalSuite, CasePrompt, Expectation } from './suite-types.js';

export { EXPECT_FIELDS } from './suite-schema.js';
type ExpectField = (typeof EXPECT_FIELDS)[number];

const SUITE_FIELDS = Object.keys(SUITE);
const CASE_FIELDS = Object.keys(CASE);

/** Which expectation fields each built-in scorer reads, and which it needs. */
const BUILTIN_EXPECT: Record<string, { required: ExpectField[]; allowed: ExpectField[] }> = {
  rubric: { required: ['tool'], allowed: ['tool', 'keywords', 'wrapper', 'format', 'only_call', 'allow_think'] },
  hermes: { required: [], allowed: ['tool', 'keywords', 'format', 'arguments_schema', 'only_call', 'allow_think'] },
  qwen3_xml: { required: [], allowed: ['tool', 'keywords', 'format', 'arguments_schema', 'only_call', 'allow_think'] },
  json_schema: { required: ['json_schema'], allowed: ['json_schema', 'allow_think'] },
  regex: { required: ['regex'], allowed: ['regex', 'flags', 'allow_think'] },
  exact: { required: ['exact'], allowed: ['exact', 'allow_think'] },
};

function didYouMean(word: string, candidates: readonly string[]): string {
  const s = suggest(word, candidates);
  return s ? ` (did you mean "${s}"?)` : '';
}

function formatPath(path: IssuePath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
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

/** Throw the problems found (at most 25 shown), one per line. */
function throwIfAny(problems: string[]): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, 25);
  if (problems.length > 25) shown.push(`… and ${problems.length - 25} more problems`);
  throw new MlxLabError('E_SUITE', shown.join('\n'));
}

/** Schema problems as messages: `at(field)` is where the field is; unknown keys are listed one by one. */
function messages(problems: Problem[], at: (field: string) => string, known: readonly string[], prefix = ''): string[] {
  const out: string[] = [];
  for (const p of problems) {
    const field = `${prefix}${formatPath(p.path)}`;
    if (p.kind === 'unknown-key') for (const key of p.keys ?? []) out.push(`${at(`${field}${key}`)}: unknown field${didYouMean(key, known)}`);
    else out.push(`${at(field)}: ${p.message}`);
  }
  return out;
}

/**
 * Parse suite text. `source` names it in errors and, by its extension, picks the format
 * (.jsonl → JSONL, anything else → YAML); relative scorer file paths resolve against its folder.
 */
export function parseSuite(text: string, source: string, options: { format?: 'yaml' | 'jsonl' } = {}): EvalSuite {
  const format = options.format ?? (extname(source).toLowerCase() === '.jsonl' ? 'jsonl' : 'yaml');
  const header = format === 'jsonl' ? readJsonlSuite(text, source) : readYamlSuite(text, source);
  const problems: string[] = [];
  const at = (field: string) => (header.lines[field] ? `${source}:${header.lines[field]}: ${field}` : `${source}: ${field}`);
  const top = { ...header.value };
  if (format === 'jsonl' && 'cases' in top) {
    problems.push(`${source}: suite.cases: not allowed in a JSONL header (put one case per line)`);
    delete top.cases;
  }
  const { value: fields, problems: found } = parseFields(SUITE, top);
  problems.push(...messages(found, at, SUITE_FIELDS));

  const suite: EvalSuite = { name: fields.name ?? basename(source, extname(source)), source, format, scorers: {}, cases: [] };
  if (fields.description !== undefined) suite.description = fields.description;
  suite.system = fields.system;
  suite.tools = fields.tools;
  suite.maxTokens = fields.max_tokens;
  suite.stop = fields.stop;
  for (const [name, file] of Object.entries(fields.scorers ?? {})) {
    if (BUILTIN_SCORERS.includes(canonicalScorerName(name))) {
      problems.push(`${at('scorers')}.${name}: "${name}" is a built-in scorer; give the file another name`);
    } else if (!/^[A-Za-z_][\w.-]*$/.test(name)) {
      problems.push(`${at('scorers')}.${name}: a scorer name must start with a letter or _ and hold only letters, digits, _ . -`);
    } else if (typeof file !== 'string' || file.trim() === '') {
      problems.push(`${at('scorers')}.${name}: must be a file path (got ${kind(file)})`);
    } else {
      suite.scorers[name] = isAbsolute(file) ? file : resolve(dirname(resolve(source)), file);
    }
  }
  const scorers = new SuiteScorers(suite);
  if (fields.scorer !== undefined) {
    const why = scorers.problem(fields.scorer);
    if (why) problems.push(`${at('scorer')}: ${why}`);
    else suite.scorer = canonicalScorerName(fields.scorer);
  }

  if (format === 'yaml' && top.cases === undefined) problems.push(`${source}: cases: missing (a list of cases)`);
  if (header.cases.length === 0 && (format === 'jsonl' || Array.isArray(top.cases))) problems.push(`${source}: the suite has no cases`);

  const seen = new Map<string, { index: number; line?: number }>();
  header.cases.forEach((raw, index) => {
    const c = parseCase(raw, index, suite, scorers, problems);
    if (!c) return;
    const first = seen.get(c.id);
    if (first) {
      const firstAt = format === 'jsonl' ? `line ${first.line}` : `#${first.index + 1}${first.line ? `, line ${first.line}` : ''}`;
      problems.push(`${caseLocation(source, format, c.id, index, raw.line)}: id: duplicate id "${c.id}" (first used by the case at ${firstAt})`);
      return;
    }
    seen.set(c.id, { index, line: raw.line });
    suite.cases.push(c);
  });
  throwIfAny(problems);
  return suite;
}

/** Read, parse and validate a suite file, then load the user scorer files it names. */
export async function loadSuite(path: string): Promise<EvalSuite> {
  const text = readUserTextFile(path, 'E_SUITE', 'suite file');
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

/** The scorers a suite may name: the registered ones and the suite's own files. */
class SuiteScorers {
  readonly known: string[];
  constructor(private readonly suite: EvalSuite) {
    this.known = [...new Set([...scorerNames(), ...Object.keys(suite.scorers)])].sort();
  }

  /** Why `name` is not a scorer of the suite (undefined when it is). */
  problem(name: string): string | undefined {
    if (hasScorer(name) || name in this.suite.scorers) return undefined;
    return `unknown scorer "${name}"${didYouMean(name, this.known)} (known: ${this.known.join(', ')})`;
  }
}

function caseLocation(source: string, format: 'yaml' | 'jsonl', id: string | undefined, index: number, line?: number): string {
  const name = id !== undefined ? `case "${id}"` : `case #${index + 1}`;
  if (format === 'jsonl') return `${source}:${line}: ${name}`;
  const where = id !== undefined ? `#${index + 1}` : '';
  const parts = [where, line !== undefined ? `line ${line}` : ''].filter((p) => p !== '');
  return parts.length > 0 ? `${source}: ${name} (${parts.join(', ')})` : `${source}: ${name}`;
}

/** The order of a case's problems: unknown keys, then by the case's keys. */
function byField(a: { field: string }, b: { field: string }): number {
  const rank = (f: string) => (f === '' ? -1 : CASE_FIELDS.indexOf(f.split(/[.[]/)[0]));
  return rank(a.field) - rank(b.field);
}

function parseCase(raw: RawCase, index: number, suite: EvalSuite, scorers: SuiteScorers, problems: string[]): EvalCase | undefined {
  const v = raw.value;
  const rawId = isPlainObject(v) ? CASE.id.safeParse(v.id) : undefined;
  const id = rawId?.success ? rawId.data : undefined;
  const loc = caseLocation(suite.source, suite.format, id, index, raw.line);
  if (!isPlainObject(v)) {
    problems.push(`${loc}: a case must be an object (got ${kind(v)})`);
    return undefined;
  }
  const found: { field: string; message: string }[] = [];
  const bad = (field: string, message: string) => found.push({ field, message });
  const input = { ...v };
  if (input.prompt !== undefined && input.messages !== undefined) {
    bad('prompt', 'give either "prompt" or "messages", not both');
    delete input.prompt;
    delete input.messages;
  } else if (input.prompt === undefined && input.messages === undefined) {
    bad('prompt', 'missing: give "prompt" (a string) or "messages" (a chat)');
  }
  if (input.id === undefined) bad('id', 'missing (every case needs a unique id)');
  if (input.expect === null) delete input.expect;
  const { value: f, problems: fieldProblems } = parseFields(CASE, input);
  for (const p of fieldProblems) {
    if (p.kind === 'unknown-key') for (const key of p.keys ?? []) bad('', `${key}: unknown field${didYouMean(key, CASE_FIELDS)}`);
    else bad(formatPath(p.path), p.message);
  }
  let caseScorer: string | undefined;
  if (f.scorer !== undefined) {
    const why = scorers.problem(f.scorer);
    if (why) bad('scorer', why);
    else caseScorer = canonicalScorerName(f.scorer);
  }
  const expect = f.expect === undefined ? missingExpectation(input.expect, bad) : checkExpectation(f.expect, bad);
  const scorer = checkScorer(expect, caseScorer ?? suite.scorer, bad);
  found.sort(byField);
  problems.push(...found.map(({ field, message }) => (field ? `${loc}: ${field}: ${message}` : `${loc}: ${message}`)));
  if (found.length > 0 || id === undefined || expect === undefined || scorer === undefined) return undefined;
  const c: EvalCase = { id, category: f.category ?? 'default', index, expect, scorer, weight: f.weight ?? 1 };
  if (raw.line !== undefined) c.line = raw.line;
  if (f.prompt !== undefined) c.prompt = f.prompt;
  if (f.messages !== undefined) c.messages = f.messages as ChatMessage[];
  const system = f.system ?? suite.system;
  if (system !== undefined) c.system = system;
  const tools = f.tools ?? suite.tools;
  if (tools !== undefined) c.tools = tools;
  const maxTokens = f.max_tokens ?? suite.maxTokens;
  if (maxTokens !== undefined) c.maxTokens = maxTokens;
  const stop = f.stop ?? suite.stop;
  if (stop !== undefined) c.stop = stop;
  if (f.notes !== undefined) c.notes = f.notes;
  return c;
}

const NEED_EXPECTATION = 'every case needs an expectation (e.g. {tool, keywords}, {regex}, {exact} or {json_schema})';

/** The problem of a case without a usable `expect` (missing, or not an object: reported by the schema). */
function missingExpectation(value: unknown, bad: (field: string, message: string) => void): undefined {
  if (value === undefined) bad('expect', `missing: ${NEED_EXPECTATION}`);
  return undefined;
}

/** The expectation's fields, each by its schema, then the rules across them. */
function checkExpectation(value: Record<string, unknown>, bad: (field: string, message: string) => void): Expectation | undefined {
  if (Object.keys(value).length === 0) {
    bad('expect', `empty: ${NEED_EXPECTATION}`);
    return undefined;
  }
  const { value: e, problems } = parseFields(EXPECTATION, value, { inputOrder: true });
  for (const p of problems) {
    if (p.kind === 'unknown-key') for (const key of p.keys ?? []) bad(`expect.${key}`, `unknown field${didYouMean(key, EXPECT_FIELDS)}`);
    else bad(`expect.${formatPath(p.path)}`, p.message);
  }
  let ok = problems.length === 0;
  if (e.regex !== undefined) {
    try {
      new RegExp(e.regex, e.flags ?? '');
    } catch (err) {
      ok = false;
      bad('expect.regex', `is not a valid regular expression: ${(err as Error).message}`);
    }
  }
  if (e.flags !== undefined && e.regex === undefined && ok) {
    ok = false;
    bad('expect.flags', 'given without "regex"');
  }
  return ok ? (e as Expectation) : undefined;
}

/** The scorer in effect (given, else inferred from the expectation), and the expectation fields it reads. */
function checkScorer(expect: Expectation | undefined, given: string | undefined, bad: (field: string, message: string) => void): string | undefined {
  if (!expect) return given;
  const scorer = given ?? inferScorer(expect);
  if (scorer === undefined) {
    bad('scorer', 'cannot tell which scorer to use from the expectation: set "scorer" on the case or the suite');
    return undefined;
  }
  const spec = BUILTIN_EXPECT[scorer];
  if (!spec) return scorer;
  let unused = 0;
  for (const key of Object.keys(expect) as ExpectField[]) {
    if (!spec.allowed.includes(key)) {
      const hint = inferScorer({ [key]: expect[key] } as Expectation);
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
  return scorer;
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
