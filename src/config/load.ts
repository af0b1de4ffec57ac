/**
 * Reading a config's YAML as mlx-lm does: YAML 1.1 scalars (PyYAML's SafeLoader: `yes`/`on` are
 * booleans, `1_000` is 1000) plus mlx-lm's float resolver (`1e-5` is a number, not a string).
 * Errors name the file, line and column: the schema's issue paths are mapped back to the YAML
 * nodes (the yaml package's LineCounter).
 */
import { dirname } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { MlxLabError } from '../core/errors.js';
import { readUserTextFile } from '../core/files.js';
import type { TrainConfig } from './schema.js';
import { validateTrainConfig, type ConfigLocator } from './validate.js';

/** Where each key and value of a parsed YAML document sits (1-based line and column). */
function yamlLocator(doc: Document, lines: LineCounter): ConfigLocator {
  return (path, part) => {
    let node: unknown = doc.contents;
    let keyNode: unknown;
    let best: unknown = node;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
        best = node ?? keyNode;
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        keyNode = undefined;
        node = node.items[seg];
        best = node;
      } else {
        break;
      }
    }
    const target = part === 'key' && keyNode ? keyNode : (best ?? keyNode);
    const range = (target as { range?: [number, number, number] } | undefined)?.range;
    if (!range) return undefined;
    const pos = lines.linePos(range[0]);
    return { line: pos.line, col: pos.col };
  };
}

/**
 * Parse a config's YAML text (mlx-lm's YAML dialect) and validate it. `source` names the text in
 * errors. YAML syntax errors give the line and column.
 */
export function parseTrainConfig(text: string, source: string): TrainConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
    const message = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new MlxLabError('E_CONFIG', `${source}:${pos.line}:${pos.col}: YAML syntax error: ${message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new MlxLabError('E_CONFIG', `${source}: cannot read the YAML: ${(err as Error).message}`, { cause: err });
  }
  return validateTrainConfig(raw, source, { locate: yamlLocator(doc, lines) });
}

/** Read and validate an mlx-lm `lora` YAML config file. Sets `config` to the path. */
export function loadTrainConfig(path: string): TrainConfig {
  const text = readUserTextFile(path, 'E_CONFIG', 'config file');
  const config = parseTrainConfig(text.replace(/^\uFEFF/, ''), path);
  return { ...config, config: path };
}

/** The folder of the config file, when the config came from one (for resolving relative paths). */
export function configDir(config: TrainConfig): string | null {
  return config.config ? dirname(config.config) : null;
}
