// `mlx-lab generate --json-schema / --regex / --lark` end to end on the tiny chat model: the
// reply fits, and a bad grammar is E_GRAMMAR naming the flag before the model loads.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { modelDir } from '../helpers/paths.js';

const MODEL = modelDir('tiny-chat');

describe('mlx-lab generate with a grammar', () => {
  it('--regex and --json-schema (a file) constrain the reply printed by --json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-gen-grammar-'));
    const schema = join(dir, 'schema.json');
    writeFileSync(schema, JSON.stringify({ type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false }));
    try {
      const re = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--regex', '[0-9]{3}x', '--temp', '1', '--seed', '4', '--json']);
      expect(re.code).toBe(0);
      expect(JSON.parse(re.stdout).text).toMatch(/^[0-9]{3}x$/);
      const tools = join(dir, 'tools.json');
      writeFileSync(tools, JSON.stringify([{ type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {}, additionalProperties: false } } }]));
      const calls = await runCli(['generate', '-m', MODEL, '-p', 'time?', '--tools', tools, '--tool-calls', 'required', '--max-tokens', '60', '--json']);
      expect(calls.code).toBe(0);
      expect(JSON.parse(calls.stdout).toolCalls[0]).toMatchObject({ name: 'now', arguments: {} });
      const js = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--json-schema', schema, '--max-tokens', '40', '--json']);
      expect(js.code).toBe(0);
      expect(typeof JSON.parse(JSON.parse(js.stdout).text).ok).toBe('boolean');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bad regex, schema or flag mix is E_GRAMMAR / E_ARGUMENT naming the flag', async () => {
    const bad = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--regex', '(']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/E_GRAMMAR/);
    expect(bad.stderr).toMatch(/--regex: .*unclosed group/s);
    expect(bad.stdout).toBe('');
    const missing = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--json-schema', '/no/such/schema.json']);
    expect(missing.stderr).toMatch(/--json-schema: "\/no\/such\/schema.json" is neither inline text nor a readable file/);
    const inline = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--json-schema', '{"type": ']);
    expect(inline.stderr).toMatch(/--json-schema\.jsonSchema: is not valid JSON/);
    const noTools = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--tool-calls', 'required']);
    expect(noTools.stderr).toMatch(/--tool-calls needs --tools/);
    const mode = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--tool-calls', 'always']);
    expect(mode.stderr).toMatch(/--tool-calls must be auto or required, got "always"/);
    const two = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--regex', 'a', '--lark', 'start: "a"']);
    expect(two.stderr).toMatch(/give one of --json-schema, --regex, --lark, --tool-calls/);
  });

  it('without the engine a grammar is E_GRAMMAR saying how to install it, and plain generation still works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-gen-noengine-'));
    const broken = join(dir, 'llguidance.json');
    writeFileSync(broken, JSON.stringify({ version: '0', lib: join(dir, 'missing.so'), stub: join(dir, 'missing-stub.so') }));
    try {
      const none = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--regex', 'a'], { env: { MLX_LAB_LLGUIDANCE: join(dir, 'absent.json') } });
      expect(none.code).not.toBe(0);
      expect(none.stderr).toMatch(/E_GRAMMAR.*grammar engine \(llguidance\), which is not installed.*npm install/s);
      const bad = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--regex', 'a'], { env: { MLX_LAB_LLGUIDANCE: broken } });
      expect(bad.stderr).toMatch(/E_GRAMMAR.*cannot load .*missing-stub\.so/s);
      const free = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--max-tokens', '4', '--json'], { env: { MLX_LAB_LLGUIDANCE: broken } });
      expect(free.code).toBe(0);
      expect(JSON.parse(free.stdout).generationTokens).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
