/**
 * Hugging Face Hub model ids as arguments: `org/name` or `org/name@revision`. A path that exists
 * on disk always wins over an id (see resolveModelPath).
 */

/** A parsed Hub id: the repo (`org/name`) and the revision asked for (undefined: the default branch). */
export interface HubId {
  repo: string;
  revision: string | undefined;
}

/** One part of a repo id as the Hub allows it: letters, digits, `-`, `_`, `.`; no `--` or `..`; no leading or trailing `-` or `.`. */
const PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;

/** A branch, tag, `refs/pr/N` or commit: safe characters, no empty, `.` or `..` segment. */
const REVISION = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

/** A 40-hex commit id. */
export const COMMIT = /^[0-9a-f]{40}$/;

/** The Hub id in `arg`, or undefined when `arg` does not have an id's shape (then it is a path). */
export function parseHubId(arg: string): HubId | undefined {
  const at = arg.indexOf('@');
  const repo = at < 0 ? arg : arg.slice(0, at);
  const revision = at < 0 ? undefined : arg.slice(at + 1);
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every((p) => PART.test(p) && !p.includes('--') && !p.includes('..'))) return undefined;
  if (repo.endsWith('.gguf') || repo.endsWith('.safetensors')) return undefined;
  if (revision !== undefined && !isSafeRevision(revision)) return undefined;
  return { repo, revision };
}

/** Whether a revision can name a file under refs/ without leaving it. */
export function isSafeRevision(revision: string): boolean {
  return REVISION.test(revision) && !revision.split('/').some((s) => s === '.' || s === '..');
}

/** `org/name` or `org/name@revision`, for messages. */
export function formatHubId(id: HubId): string {
  return id.revision === undefined ? id.repo : `${id.repo}@${id.revision}`;
}
