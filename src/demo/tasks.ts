/**
 * The task table of the demo's data generator: each task is a tool (or two) of the tool-format
 * suite with slot pools, phrasings (imperatives and questions) and the wrapped code its reply
 * holds. generate-data.ts draws examples from it. Deterministic for a seed (MT19937).
 */
import { Mt19937 } from '../data/random.js';
import { pythonCall } from './tool-format.js';

export type Slots = Record<string, string | number>;

export interface Task {
  category: string;
  tools: string[];
  /** Relative frequency. */
  weight: number;
  draw: (r: Rand) => Slots;
  /** Imperatives: may take a polite prefix ("Please ", "Can you "). */
  ask: string[];
  /** Questions and statements: used as they are. */
  say: string[];
  code: (s: Slots) => string;
  keywords: (s: Slots) => string[];
}

export class Rand {
  private readonly mt: Mt19937;
  constructor(seed: number) {
    this.mt = new Mt19937(seed);
  }
  int(n: number): number {
    return this.mt.randomInterval(n - 1);
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }
  chance(p: number): boolean {
    return this.mt.nextUint32() / 0x100000000 < p;
  }
}

// Slot pools. No value holds a quote, a backslash or a newline (see pythonCall).
const DIRS = ['src', 'app', 'lib', 'core', 'api', 'services', 'utils', 'models', 'workers', 'cli', 'db', 'auth', 'web', 'jobs', 'billing', 'search'];
const FILES = ['main', 'config', 'client', 'server', 'cache', 'views', 'tasks', 'helpers', 'parser', 'session', 'routes', 'storage', 'events', 'schema', 'handlers', 'forms'];
const WRITE_FILES = ['notes.txt', 'README.md', 'TODO.md', 'run.sh', 'config.ini', 'data.csv', 'CHANGELOG.md', 'version.txt', '.env.example', 'requirements.txt', 'Makefile', 'setup.cfg'];
const CONTENTS = ['print(42)', 'x = 1', 'import os', 'hello world', '# TODO: add tests', 'VERSION = 3', 'def main(): pass', 'name,count', 'echo ready', 'DEBUG = False', 'retry = 5', 'fixed the parser bug', 'requests==2.31.0', 'all: build'];
const COMMANDS = ['ls -la', 'make test', 'make build', 'pip list', 'python -V', 'du -sh .', 'df -h', 'git fetch', 'npm run build', 'pytest -q', 'cat setup.cfg', 'pwd', 'uname -a', 'echo done', 'tree -L 2', 'wc -l *.py', 'pip install -e .', 'docker ps'];
const CLASSES = ['UserService', 'CacheEntry', 'Session', 'TokenStore', 'RequestHandler', 'ConfigLoader', 'EventBus', 'JobQueue', 'PaymentClient', 'RateLimiter', 'ModelRegistry', 'Router', 'Settings', 'AuditLog'];
const FUNCS = ['parse_args', 'load_config', 'build_index', 'render_page', 'retry_request', 'flush_queue', 'connect_db', 'hash_password', 'send_email', 'validate_input', 'get_user', 'compute_stats', 'read_csv', 'sync_cache'];
const QUERIES = ['Handler', 'Config', 'cache', 'parse', 'Client', 'Error', 'Manager', 'test_', 'Base', 'serialize'];
const ROUTES = ['/api/items/{item_id}', '/login', '/users/<int:user_id>', '/orders/{order_id}/items', '/static/<path:filename>', '/health', '/v2/search', '/admin/{section}', '/blog/<slug>', '/api/{version}/status', '/teams/{team}/members/{member}', '/reports/<int:year>/<int:month>'];
const CONFIGS = ['config/app.yaml', 'settings.toml', 'deploy/prod.json', 'config/dev.yaml', 'app.ini', 'conf/logging.yaml', 'pyproject.toml', 'config/db.json', 'deploy/staging.yaml'];
const PATTERNS = ['print(...)', 'except:', 'assert ...', 'import *', 'eval(...)', 'time.sleep(...)', 'open(...)', 'global ...', 'lambda: None', 'os.system(...)'];
const MODULES = ['os', 'json', 'typing', 'pathlib', 'logging', 're', 'sys', 'time', 'collections', 'functools', 'itertools', 'asyncio', 'datetime', 'shutil'];
const RENAMES: ReadonlyArray<readonly [string, string]> = [
  ['UserService', 'AccountService'],
  ['parse_args', 'parse_cli_args'],
  ['CacheEntry', 'CacheItem'],
  ['load_config', 'read_config'],
  ['Session', 'DbSession'],
  ['build_index', 'make_index'],
  ['TokenStore', 'TokenCache'],
  ['render_page', 'render_view'],
  ['EventBus', 'MessageBus'],
  ['get_user', 'fetch_user'],
  ['JobQueue', 'TaskQueue'],
  ['send_email', 'send_mail'],
  ['RateLimiter', 'Throttle'],
  ['compute_stats', 'summarize'],
];

const pyFile = (r: Rand) => `${r.pick(DIRS)}/${r.pick(FILES)}.py`;
const testFile = (r: Rand) => (r.chance(0.5) ? `tests/test_${r.pick(FILES)}.py` : `tests/${r.pick(DIRS)}/test_${r.pick(FILES)}.py`);
const target = (r: Rand) => (r.chance(0.6) ? pyFile(r) : r.chance(0.5) ? r.pick(DIRS) : `${r.pick(DIRS)}/`);
const symbol = (r: Rand) => (r.chance(0.5) ? r.pick(CLASSES) : r.pick(FUNCS));
const s = (v: string | number) => String(v);

function one(tool: string, category: string, draw: (r: Rand) => Slots, ask: string[], say: string[], order: string[], weight = 1): Task {
  return {
    category,
    tools: [tool],
    weight,
    draw,
    ask,
    say,
    code: (v) =>
      pythonCall(
        tool,
        order.map((k) => [paramName(tool, k), v[k]] as const),
      ),
    keywords: (v) => order.map((k) => s(v[k])),
  };
}

/** Slot names are the parameter names except where a slot is shared (route → pattern). */
function paramName(tool: string, slot: string): string {
  if (tool === 'validate_route_pattern' && slot === 'route') return 'pattern';
  return slot;
}

export const TASKS: Task[] = [
  one(
    'write_file',
    'text_tools',
    (r) => ({ path: r.chance(0.5) ? r.pick(WRITE_FILES) : pyFile(r), content: r.pick(CONTENTS) }),
    ['Create {path} containing {content}.', 'Write {content} into {path}.', 'Save the text {content} as {path}.', 'Make a new file {path} with the content {content}.', 'Put {content} in {path}.', 'Overwrite {path} so it holds {content}.'],
    ['{path} should contain exactly: {content}', 'I need a file {path} whose content is {content}.', 'New file {path}, content: {content}'],
    ['path', 'content'],
    1.5,
  ),
  one(
    'read_file',
    'text_tools',
    (r) => ({ path: r.chance(0.3) ? r.pick(CONFIGS) : pyFile(r) }),
    ['Open {path}.', 'Show me the contents of {path}.', 'Read {path} for me.', 'Print {path}.'],
    ['What is in {path}?', 'I want to see {path}.'],
    ['path'],
  ),
  one(
    'run_command',
    'text_tools',
    (r) => ({ cmd: r.pick(COMMANDS) }),
    ['Run {cmd}.', 'Execute {cmd} in the shell.', 'Run the command {cmd} for me.', 'Launch {cmd} in the repository root.'],
    ['What does {cmd} print here?', 'I need the output of {cmd}.', 'Shell: {cmd}'],
    ['cmd'],
  ),
  one(
    'typecheck',
    'validation',
    (r) => ({ path: target(r) }),
    ['Type-check {path}.', 'Run the type checker on {path}.', 'Check the types in {path}.', 'Run mypy-style checks over {path}.'],
    ['Are there type errors in {path}?', 'Does {path} pass the type checker?', 'I changed {path}; are the types still right?'],
    ['path'],
  ),
  one(
    'ruff_check',
    'validation',
    (r) => ({ path: target(r) }),
    ['Lint {path}.', 'Run ruff on {path}.', 'Check {path} for lint errors.', 'Run the linter over {path}.'],
    ['Is {path} lint-clean?', 'Any ruff warnings in {path}?', 'Does ruff complain about {path}?'],
    ['path'],
  ),
  one(
    'pytest_run',
    'validation',
    (r) => ({ path: r.chance(0.7) ? testFile(r) : 'tests' }),
    ['Run the tests in {path}.', 'Run pytest on {path}.', 'Execute the test file {path}.', 'Run {path} with pytest.'],
    ['Do the tests in {path} pass?', 'Is {path} green?', 'I fixed the bug; does {path} pass now?'],
    ['path'],
  ),
  one(
    'goto_definition',
    'lsp',
    (r) => ({ symbol: symbol(r) }),
    ['Go to the definition of {symbol}.', 'Find where {symbol} is defined.', 'Jump to the definition of {symbol}.', 'Locate the definition of {symbol}.'],
    ['Where is {symbol} defined?', 'Which file defines {symbol}?', 'Before I refactor, where does {symbol} come from?', 'I need to understand {symbol}; where is it declared?'],
    ['symbol'],
  ),
  one(
    'find_references',
    'lsp',
    (r) => ({ symbol: symbol(r) }),
    ['Find all references to {symbol}.', 'List every use of {symbol}.', 'Show all the places that call {symbol}.', 'Find usages of {symbol} across the project.'],
    ['Who uses {symbol}?', 'Where is {symbol} used?', 'What would break if I changed {symbol}?', 'How many places reference {symbol}?'],
    ['symbol'],
  ),
  one(
    'workspace_symbols',
    'lsp',
    (r) => ({ query: r.chance(0.5) ? r.pick(QUERIES) : symbol(r) }),
    ['Search the workspace for symbols named {query}.', 'List symbols matching {query}.', 'Look up {query} in the symbol index.', 'Find symbols whose name contains {query}.'],
    ['Which symbols match {query}?', 'Is there anything called {query} in the project?', 'What symbols contain {query}?'],
    ['query'],
  ),
  one(
    'document_symbols',
    'lsp',
    (r) => ({ path: pyFile(r) }),
    ['List the symbols in {path}.', 'Outline {path}.', 'Show the classes and functions of {path}.', 'Give me the structure of {path}.'],
    ['What is defined in {path}?', 'Which functions does {path} have?', 'I need an overview of {path} before editing it.'],
    ['path'],
  ),
  one(
    'git_status',
    'git',
    () => ({}),
    ['Show the git status.', 'Check the working tree status.', 'Run git status.', 'List the modified files.', 'Show what is staged and what is not.'],
    ['What files have I changed?', 'Is the working tree clean?', 'Anything uncommitted?', 'Which files are modified right now?', 'Did I leave untracked files around?'],
    [],
  ),
  one(
    'git_diff',
    'git',
    (r) => ({ path: r.chance(0.8) ? pyFile(r) : r.pick(DIRS) }),
    ['Show the diff of {path}.', 'Show uncommitted changes in {path}.', 'Diff {path} against HEAD.', 'Print the git diff for {path}.'],
    ['What changed in {path}?', 'What did I modify in {path}?', 'Has {path} changed since the last commit?'],
    ['path'],
  ),
  one(
    'git_log',
    'git',
    (r) => ({ n: 1 + r.int(20) }),
    ['Show the last {n} commits.', 'List the {n} most recent commits.', 'Print the git log, {n} entries.', 'Show me {n} commits of history.'],
    ['What were the last {n} commits?', 'What happened in the last {n} commits?', 'Recent history please, {n} commits.'],
    ['n'],
  ),
  one(
    'cst_find_pattern',
    'cst',
    (r) => ({ pattern: r.pick(PATTERNS), path: r.chance(0.7) ? pyFile(r) : r.pick(DIRS) }),
    ['Find {pattern} in {path}.', 'Search {path} for the pattern {pattern}.', 'Locate every {pattern} in {path}.', 'Match the code pattern {pattern} across {path}.'],
    ['Where does {path} use {pattern}?', 'Does {path} contain {pattern}?', 'How many {pattern} are there in {path}?'],
    ['pattern', 'path'],
  ),
  {
    category: 'cst',
    tools: ['cst_rename'],
    weight: 1,
    draw: (r) => {
      const [old, neu] = r.pick(RENAMES);
      return { old, new: neu, path: r.chance(0.7) ? pyFile(r) : r.pick(DIRS) };
    },
    ask: ['Rename {old} to {new} in {path}.', 'In {path}, rename {old} to {new}.', 'Change the name {old} to {new} throughout {path}.', 'Refactor {path}: {old} becomes {new}.'],
    say: ['{old} should be called {new} in {path}.', 'I want {old} renamed to {new} in {path}.'],
    code: (v) =>
      pythonCall('cst_rename', [
        ['old', v.old],
        ['new', v.new],
        ['path', v.path],
      ]),
    keywords: (v) => [s(v.old), s(v.new), s(v.path)],
  },
  one(
    'cst_add_import',
    'cst',
    (r) => ({ module: r.pick(MODULES), path: pyFile(r) }),
    ['Add an import of {module} to {path}.', 'Import {module} in {path}.', 'Insert import {module} at the top of {path}.', 'Make {path} import {module}.'],
    ['{path} needs to import {module}.', '{path} is missing import {module}.'],
    ['module', 'path'],
  ),
  one(
    'validate_route_pattern',
    'domain',
    (r) => ({ route: r.pick(ROUTES) }),
    ['Validate the route {route}.', 'Check the route pattern {route}.', 'Verify that {route} is a well-formed route.', 'Validate this URL pattern: {route}'],
    ['Is {route} a valid route?', 'Will the router accept {route}?', 'Is the pattern {route} correct?'],
    ['route'],
  ),
  one(
    'check_circuit_breaker',
    'domain',
    (r) => ({ path: pyFile(r) }),
    ['Check the circuit breaker in {path}.', 'Verify the circuit breaker settings of {path}.', 'Audit the breaker thresholds in {path}.', 'Review the circuit breaker config in {path}.'],
    ['Is the circuit breaker in {path} set up right?', 'Does {path} trip its breaker too early?', 'Are the breaker timeouts in {path} sane?'],
    ['path'],
  ),
  one(
    'validate_registration',
    'domain',
    (r) => ({ path: r.chance(0.3) ? `${r.pick(DIRS)}/registry.py` : pyFile(r) }),
    ['Validate the handler registration in {path}.', 'Check that every handler in {path} is registered.', 'Verify the registrations in {path}.', 'Audit {path} for unregistered handlers.'],
    ['Are all handlers in {path} registered?', 'Did I forget to register something in {path}?', 'Is the registration in {path} complete?'],
    ['path'],
  ),
  one(
    'check_imports',
    'domain',
    (r) => ({ path: pyFile(r) }),
    ['Check the imports of {path}.', 'Look for import cycles in {path}.', 'Find unused imports in {path}.', 'Audit the imports in {path}.'],
    ['Does {path} have circular imports?', 'Are there unused imports in {path}?', 'Is anything wrong with the imports of {path}?'],
    ['path'],
  ),
  one(
    'check_html_escaping',
    'domain',
    (r) => ({ path: r.chance(0.5) ? `templates/${r.pick(FILES)}.py` : pyFile(r) }),
    ['Check the html() calls in {path}.', 'Verify that {path} escapes its html() input.', 'Audit {path} for unescaped html() calls.', 'Check {path} for XSS in html() calls.'],
    ['Does {path} escape what it passes to html()?', 'Is {path} safe from unescaped html()?', 'Are the html() calls in {path} escaped?'],
    ['path'],
  ),
  one(
    'validate_config',
    'domain',
    (r) => ({ path: r.pick(CONFIGS) }),
    ['Validate {path}.', 'Check the config file {path}.', 'Verify {path} against the config schema.', 'Lint the configuration in {path}.'],
    ['Is {path} a valid config?', 'Will the app accept {path}?', 'Is anything wrong in {path}?'],
    ['path'],
  ),
  // Two steps.
  {
    category: 'multi_tool',
    tools: ['goto_definition', 'find_references'],
    weight: 0.6,
    draw: (r) => ({ symbol: symbol(r) }),
    ask: ['Find the definition of {symbol} and then all its references.', 'Locate {symbol} and list everything that uses it.', 'Go to {symbol} and show its usages.'],
    say: ['Where is {symbol} defined, and who calls it?', 'I want both the definition and the references of {symbol}.'],
    code: (v) => `${pythonCall('goto_definition', [['symbol', v.symbol]])}; ${pythonCall('find_references', [['symbol', v.symbol]])}`,
    keywords: (v) => [s(v.symbol)],
  },
  {
    category: 'multi_tool',
    tools: ['ruff_check', 'typecheck'],
    weight: 0.4,
    draw: (r) => ({ path: target(r) }),
    ask: ['Lint and type-check {path}.', 'Run ruff and the type checker on {path}.'],
    say: ['Is {path} clean for both ruff and the type checker?'],
    code: (v) => `${pythonCall('ruff_check', [['path', v.path]])}; ${pythonCall('typecheck', [['path', v.path]])}`,
    keywords: (v) => [s(v.path)],
  },
  {
    category: 'multi_tool',
    tools: ['write_file', 'pytest_run'],
    weight: 0.4,
    draw: (r) => ({ path: testFile(r), content: r.pick(['def test_ok(): pass', 'def test_one(): assert 1', 'import pytest']) }),
    ask: ['Create {path} with {content} and run it.', 'Write {content} to {path}, then run pytest on it.'],
    say: ['I need {path} holding {content}, and then the test results.'],
    code: (v) =>
      `${pythonCall('write_file', [
        ['path', v.path],
        ['content', v.content],
      ])}; ${pythonCall('pytest_run', [['path', v.path]])}`,
    keywords: (v) => [s(v.path), s(v.content)],
  },
  {
    category: 'multi_tool',
    tools: ['git_status', 'git_diff'],
    weight: 0.3,
    draw: (r) => ({ path: pyFile(r) }),
    ask: ['Show the git status and the diff of {path}.'],
    say: ['What is modified, and what changed in {path}?'],
    code: (v) => `git_status(); ${pythonCall('git_diff', [['path', v.path]])}`,
    keywords: (v) => [s(v.path)],
  },
];
