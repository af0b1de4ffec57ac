/**
 * One downloader per blob across processes: `<cache>/.locks/<repo folder>/<etag>.mlx-lab.lock`
 * (the folder huggingface_hub keeps its own locks in; a name of our own, since its locks are
 * flock()ed and ours are created exclusively). A process that finds the lock held by a live
 * process waits for it (and then uses the blob it wrote); a dead holder's lock is taken over.
 * Without it two processes append to the same `<blob>.incomplete` and both fail the etag check.
 */
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeHolder, releaseLockFile, tryLockFile } from '../core/lock.js';

/** How often a waiting process looks at the lock again. */
const POLL_MS = 250;

/** The lock file of a blob of the repo folder `folder`. */
export function blobLockPath(folder: string, etag: string): string {
  return join(dirname(folder), '.locks', basename(folder), `${etag}.mlx-lab.lock`);
}

/** Run `fn` holding the blob's lock; `onWait` is told once who holds it when it must wait. */
export async function withBlobLock<T>(folder: string, etag: string, onWait: (holder: string) => void, fn: () => Promise<T>): Promise<T> {
  const file = blobLockPath(folder, etag);
  mkdirSync(dirname(file), { recursive: true });
  let told = false;
  for (;;) {
    const holder = tryLockFile(file, 'download');
    if (holder === null) break;
    if (!told) onWait(describeHolder(holder));
    told = true;
    await sleep(POLL_MS);
  }
  try {
    return await fn();
  } finally {
    releaseLockFile(file);
  }
}
