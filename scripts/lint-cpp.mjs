#!/usr/bin/env node
// `npm run lint:cpp`: checks (never rewrites) that the C++ of native/, bindings/ and
// test/native/cpp/ is formatted as .clang-format says. `--fix` formats them in place.
// CLANG_FORMAT names the binary (default: clang-format on PATH); without one it fails loudly.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIRS = ['native', 'bindings', join('test', 'native', 'cpp')];
const binary = process.env.CLANG_FORMAT || 'clang-format';

// Every .cpp and .h below dir.
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(cpp|h)$/.test(e.name) ? [relative(ROOT, p)] : [];
  });
}

const version = spawnSync(binary, ['--version'], { encoding: 'utf8' });
if (version.error || version.status !== 0) {
  process.stderr.write(
    `lint:cpp: cannot run "${binary}" (${version.error?.message ?? `exit ${version.status}`}).\n` +
      'Install clang-format (Debian/Ubuntu: apt-get install -y clang-format; macOS: brew install clang-format)\n' +
      'or set CLANG_FORMAT to its path. The C++ format was NOT checked.\n',
  );
  process.exit(2);
}

const files = DIRS.flatMap((d) => sources(join(ROOT, d))).sort();
const fix = process.argv.includes('--fix');
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const run = spawnSync(binary, args, { cwd: ROOT, stdio: 'inherit' });
if (run.status !== 0) {
  if (!fix) process.stderr.write(`lint:cpp: files differ from .clang-format; \`npm run lint:cpp -- --fix\` formats them\n`);
  process.exit(run.status ?? 1);
}
process.stdout.write(`lint:cpp: ${files.length} files ${fix ? 'formatted' : 'formatted as .clang-format says'} (${version.stdout.trim()})\n`);
