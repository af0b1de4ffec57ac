/**
 * Run folders are relocatable: run.json names the files inside its folder (checkpoints, the
 * selected adapter) relative to the folder, and reading resolves them against the folder it is
 * read from. An older run.json with absolute paths is read the same way: a run's checkpoints
 * always live in its own folder, so only the file name counts, never the folder it was written
 * in (a copied folder must not reach back into the original; a moved one must find its files).
 */
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import type { CheckpointScores, Selection } from '../select/selection.js';

interface WithRunFiles {
  checkpoints: CheckpointScores[];
  selected?: Selection & { adapterFile: string };
}

/** `file` as run.json stores it: relative when it lies in `runDir`. */
export function toRunPath(file: string, runDir: string): string {
  const rel = relative(runDir, file);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel) ? rel : file;
}

/** A run.json path as a file of the folder it is read from (absolute ones: by their name). */
export function fromRunPath(stored: string, runDir: string): string {
  return isAbsolute(stored) ? join(runDir, basename(stored)) : join(runDir, stored);
}

function mapRunFiles<T extends WithRunFiles>(m: T, map: (file: string) => string): T {
  const ckpt = (c: CheckpointScores): CheckpointScores => ({ ...c, adapterFile: map(c.adapterFile) });
  return {
    ...m,
    checkpoints: Array.isArray(m.checkpoints) ? m.checkpoints.map((c) => (typeof c?.adapterFile === 'string' ? ckpt(c) : c)) : m.checkpoints,
    selected:
      m.selected && typeof m.selected.adapterFile === 'string' && typeof m.selected.checkpoint?.adapterFile === 'string'
        ? { ...m.selected, adapterFile: map(m.selected.adapterFile), checkpoint: ckpt(m.selected.checkpoint) }
        : m.selected,
  };
}

/** The manifest as written to `runDir`/run.json (run files relative). */
export function manifestToDisk<T extends WithRunFiles>(m: T, runDir: string): T {
  return mapRunFiles(m, (f) => toRunPath(f, runDir));
}

/** The manifest as read from `runDir`/run.json (run files absolute, in `runDir`). */
export function manifestFromDisk<T extends WithRunFiles>(m: T, runDir: string): T {
  return mapRunFiles(m, (f) => fromRunPath(f, runDir));
}
