#!/usr/bin/env node
// Prints the README's bad-input table from test/fixtures/bad/cases.yaml (the one source).
//   node scripts/bad-input-table.mjs > /tmp/table.md
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cases = parse(readFileSync(join(ROOT, 'test', 'fixtures', 'bad', 'cases.yaml'), 'utf8'));

/** What the case feeds in, in a few words. */
function inputOf(c) {
  if (c.call === 'cli') return `\`mlx-lab ${c.args.join(' ').replace('{input}', c.input ?? '')}\``;
  if (c.call === 'native') return `scenario \`${c.scenario}\``;
  if (c.make) {
    const { recipe, ...args } = c.make;
    const shown = Object.entries(args).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
    return `make \`${recipe}\`${shown ? ` (${shown.replaceAll('|', '\\|')})` : ''}`;
  }
  return `\`${c.input}\``;
}

/** The expected error: the exact message, or its required parts joined by "…" (<in> is the input's path). */
function errorOf(c) {
  const text = c.message ?? `…${c.contains.join('…')}…`;
  return `${c.code} \`${text.replaceAll('{input}', '<in>').replaceAll('|', '\\|').replaceAll('`', "'")}\``;
}

console.log('| case | input | entry point | error |');
console.log('|---|---|---|---|');
for (const c of cases) console.log(`| ${c.id} | ${inputOf(c)} | ${c.call} | ${errorOf(c)} |`);
