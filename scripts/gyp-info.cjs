// Facts binding.gyp needs, printed for its <!@(...) expansions: the sources (native/ and
// bindings/, the same ones CMakeLists.txt globs) and the MLX SDK paths.
const { readdirSync, readFileSync, existsSync } = require('node:fs');
const { join, relative, resolve } = require('node:path');

const root = resolve(__dirname, '..');

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.cpp') ? [relative(root, p)] : [];
  });
}

function sdk() {
  if (process.env.MLX_DIR) return { includeDir: join(process.env.MLX_DIR, 'include'), libDir: join(process.env.MLX_DIR, 'lib') };
  const current = join(root, '.mlx', 'current.json');
  if (!existsSync(current)) throw new Error('no MLX SDK: run `npm run sdk` or set MLX_DIR');
  return JSON.parse(readFileSync(current, 'utf8'));
}

const what = process.argv[2];
if (what === 'sources') console.log([...sources(join(root, 'native')), ...sources(join(root, 'bindings'))].join(' '));
else if (what === 'include') console.log(sdk().includeDir);
else if (what === 'libdir') console.log(sdk().libDir);
else throw new Error(`unknown: ${what}`);
