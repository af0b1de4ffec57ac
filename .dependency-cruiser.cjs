// The layer rule of src/ (npm run lint:layers, and a test): a folder imports only folders at
// its own level or below, in the order the data flows. Nothing imports cli/ or demo/ except cli/;
// src/index.ts (the library API) sits above every layer and below cli/.
const LAYERS = ['core', 'config', 'hub', 'model', 'data', 'distributed', 'train', 'eval', 'select', 'rl', 'run', 'sweep', 'report', 'ui', 'convert', 'demo', 'cli'];

/** One rule per layer: it may not import any layer above it. */
const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer}`,
  comment: `src/${layer}/ is below ${LAYERS.slice(i + 1).join(', ')}: it must not import them`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-library-to-cli',
      comment: 'only cli/ imports cli/ and demo/ (the library API exports neither)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|demo)/' },
      to: { path: '^src/(cli|demo)/' },
    },
    {
      name: 'no-import-of-index',
      comment: 'src/index.ts is the public surface: code inside src/ imports the module it needs',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'no-root-files',
      comment: 'every module lives in a layer folder; only index.ts stays at the root',
      severity: 'error',
      from: { path: '^src/[^/]+\\.ts$', pathNot: '^src/index\\.ts$' },
      to: {},
    },
    {
      name: 'no-circular',
      comment: 'import cycles hide the order of the layers',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
