/**
 * Which files of a fused model folder or an adapter (run) folder `upload` sends, decided on disk
 * before any request: never a file outside the folder (a symlink out of it is an error), never a
 * secret-looking file (.env, keys, *token*, a file holding an hf_ token) unless asked, never a
 * hidden file, a run's checkpoints or its logs.
 */
import { existsSync, lstatSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import { isInside } from '../core/paths.js';
import { RUN_FILES } from '../core/run-files.js';
import type { UploadKind } from './model-card.js';

/** A file to upload: its path in the repo, the real file on disk and its size. */
export interface LocalFile {
  path: string;
  source: string;
  size: number;
}

/** A file left out, and why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

export interface CollectedFiles {
  kind: UploadKind;
  files: LocalFile[];
  skipped: SkippedFile[];
}

/** Names that look like credentials (tokenizer files are not: see TOKENIZER_NAMES). */
const SECRET_NAMES = [
  /^\.env(?:\..*)?$/i,
  /^\.netrc$/i,
  /^\.git-credentials$/i,
  /^id_(?:rsa|dsa|ecdsa|ed25519)/i,
  /\.(?:pem|key|p12|pfx)$/i,
  /(?:^|[^a-z])(?:token|secret|credential|password|passwd|api[-_]?key)s?(?:[^a-z]|$)/i,
];
const TOKENIZER_NAMES = /^(?:tokenizer|tokenizer_config|special_tokens_map|added_tokens)\.json$/;
/** A Hugging Face access token inside a file. */
const HF_TOKEN_TEXT = /hf_[A-Za-z0-9]{30,}/;
/** Whether a file or folder name can be held by the repo as it is (no control characters, no backslash). */
function safeName(name: string): boolean {
  return [...name].every((c) => c.charCodeAt(0) >= 0x20 && c !== '\x7f' && c !== '\\');
}
/** Files read for an embedded token: small ones that are not weights. */
const SCAN_LIMIT = 4 * 1024 * 1024;

/** Why a file looks like a secret, or undefined. */
export function secretReason(name: string, file?: string, size = 0): string | undefined {
  const base = name.split('/').at(-1) ?? name;
  if (!TOKENIZER_NAMES.test(base) && SECRET_NAMES.some((re) => re.test(base))) return 'its name looks like a secret';
  if (file && size <= SCAN_LIMIT && !base.endsWith('.safetensors') && HF_TOKEN_TEXT.test(readFileSync(file, 'latin1'))) {
    return 'it holds what looks like a Hugging Face token';
  }
  return undefined;
}

/** The kind of folder at `root`: an adapter (adapter_config.json) or a fused model (config.json). */
export function folderKind(root: string): UploadKind {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(root);
  } catch {
    throw new MlxLabError('E_ARGUMENT', `--path ${root}: no such folder`);
  }
  if (!st.isDirectory()) throw new MlxLabError('E_ARGUMENT', `--path ${root}: not a folder`);
  const has = (n: string) => {
    try {
      return lstatSync(join(root, n)) !== undefined;
    } catch {
      return false;
    }
  };
  if (has(RUN_FILES.adapterConfig) && !has('config.json')) {
    if (!has(RUN_FILES.adapter)) throw new MlxLabError('E_ARGUMENT', `--path ${root}: has ${RUN_FILES.adapterConfig} but no ${RUN_FILES.adapter}`);
    return 'adapter';
  }
  if (has('config.json')) return 'fused';
  throw new MlxLabError('E_ARGUMENT', `--path ${root}: neither a model folder (config.json and weights) nor an adapter folder (${RUN_FILES.adapterConfig} and ${RUN_FILES.adapter})`);
}

/** The real file behind `file`, refused when it lies outside `realRoot` (E_ARGUMENT naming both). */
function insideRoot(file: string, realRoot: string, root: string): string {
  const real = realpathSync(file);
  if (!isInside(real, realRoot)) {
    throw new MlxLabError('E_ARGUMENT', `${file}: a symlink to ${real}, outside --path ${root}; refusing to upload files from outside the folder (copy them in)`);
  }
  return real;
}

/** Every entry below `dir` (relative, '/'-separated), symlinks checked, folders entered once. */
function walk(root: string, realRoot: string, includeSecrets: boolean, out: CollectedFiles, dir = root, relDir = ''): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const abs = join(dir, entry.name);
    const rel = relDir + entry.name;
    const skip = (reason: string) => out.skipped.push({ path: rel, reason });
    if (!safeName(entry.name)) {
      skip('a name the Hub cannot hold (control characters or backslashes)');
      continue;
    }
    const named = secretReason(rel);
    if (named && !includeSecrets) {
      skip(`${named} (pass --include-secrets to upload it)`);
      continue;
    }
    if (entry.name.startsWith('.') && !named) {
      skip('hidden');
      continue;
    }
    if (entry.isSymbolicLink() && !existsSync(abs)) {
      skip('a broken symlink');
      continue;
    }
    const real = insideRoot(abs, realRoot, root);
    const st = statSync(real);
    const held = st.isFile() && !named ? secretReason(rel, real, st.size) : undefined;
    if (held && !includeSecrets) skip(`${held} (pass --include-secrets to upload it)`);
    else if (st.isDirectory() && entry.isSymbolicLink()) skip('a symlinked folder');
    else if (st.isDirectory()) walk(root, realRoot, includeSecrets, out, abs, `${rel}/`);
    else if (!st.isFile()) skip('not a regular file');
    else if (rel === 'README.md') skip('replaced by the generated model card');
    else out.files.push({ path: rel, source: real, size: st.size });
  }
}

/** The adapter and its config from a run folder; the rest of the folder is listed as skipped. */
function adapterFiles(root: string, realRoot: string, out: CollectedFiles): void {
  const wanted: string[] = [RUN_FILES.adapter, RUN_FILES.adapterConfig];
  for (const name of wanted) {
    const real = insideRoot(join(root, name), realRoot, root);
    const st = statSync(real);
    if (!st.isFile()) throw new MlxLabError('E_ARGUMENT', `${join(root, name)}: not a regular file`);
    const secret = secretReason(name, real, st.size);
    if (secret) throw new MlxLabError('E_ARGUMENT', `${join(root, name)}: ${secret}; refusing to upload it`);
    out.files.push({ path: name, source: real, size: st.size });
  }
  for (const name of readdirSync(root).sort()) {
    if (!wanted.includes(name)) out.skipped.push({ path: name, reason: 'a run file, not part of the adapter' });
  }
}

/** The files to upload from `path` (see the module comment); throws before any request. */
export function collectFiles(path: string, options: { includeSecrets?: boolean } = {}): CollectedFiles {
  const root = resolve(path);
  const kind = folderKind(root);
  const realRoot = realpathSync(root);
  const out: CollectedFiles = { kind, files: [], skipped: [] };
  if (kind === 'adapter') adapterFiles(root, realRoot, out);
  else walk(root, realRoot, Boolean(options.includeSecrets), out);
  if (kind === 'fused' && !out.files.some((f) => f.path.endsWith('.safetensors'))) {
    throw new MlxLabError('E_ARGUMENT', `--path ${root}: a model folder without .safetensors weights`);
  }
  return out;
}
