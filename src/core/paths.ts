/**
 * "Would this output replace an input?", the one place for it. Paths are compared as the file
 * system sees them: symlinks resolved (realpath) and files compared by device and inode, so a
 * model folder of symlinks into the real base (a Hugging Face cache snapshot), a symlinked GGUF
 * or a hard link cannot smuggle an input under an output that is about to be replaced.
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { MlxLabError } from './errors.js';

/** `child` is `parent` or lies below it (both as given; pass real paths). */
export function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The real path of `p`; for a path that does not exist yet, its nearest existing ancestor's real path joined with the rest. */
export function realPathOf(p: string): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(realPathOf(parent), basename(abs));
  }
}

/** Device and inode of `p` (symlinks followed), or undefined when it does not exist. */
function identity(p: string): string | undefined {
  try {
    const st = statSync(p);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Whether two paths are the same file or folder (device and inode, symlinks followed). */
export function sameFile(a: string, b: string): boolean {
  const x = identity(a);
  return x !== undefined && x === identity(b);
}

/** An input and, for a folder, the entries in it (a folder of symlinks counts by what they point to). */
function inputPaths(input: string): string[] {
  const out = [input];
  try {
    if (statSync(input).isDirectory()) for (const name of readdirSync(input)) out.push(join(input, name));
  } catch {
    // a missing input is its reader's error to report
  }
  return out;
}

/**
 * E_ARGUMENT when writing `output` (a file, or a folder that will be replaced as a whole) would
 * replace or delete one of `inputs`: the same file, or an input (or, for an input folder, a file
 * in it, through symlinks) that lies inside the output.
 */
export function assertNotAnInput(output: string, inputs: readonly string[], what = 'the output'): void {
  const out = realPathOf(output);
  for (const input of inputs) {
    for (const p of inputPaths(input)) {
      const real = realPathOf(p);
      if (isInside(real, out) || sameFile(p, output)) {
        const via = real === resolve(p) ? '' : ` (through ${resolve(p)})`;
        throw new MlxLabError('E_ARGUMENT', `${resolve(output)}: ${what} would replace an input: ${real}${via}; choose another path`);
      }
    }
  }
}
