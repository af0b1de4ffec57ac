/** Download progress events, and the process-wide listener the CLI sets for its progress bar. */

/**
 * One progress event of a resolution: `start` (what will be fetched), `bytes`, then `done`;
 * `wait` when another process is downloading the same file (once per file, before waiting).
 */
export type HubProgress =
  | { event: 'start'; repo: string; commit: string; files: number; totalBytes: number }
  | { event: 'wait'; repo: string; file: string; holder: string }
  | { event: 'bytes'; repo: string; file: string; bytes: number; totalBytes: number }
  | { event: 'done'; repo: string; commit: string; totalBytes: number };

/** Receives progress events. */
export type HubProgressListener = (e: HubProgress) => void;

let defaultListener: HubProgressListener | undefined;

/** Set (or clear) the listener used when a call passes none; the CLI sets its progress bar here. */
export function setDefaultHubProgress(listener: HubProgressListener | undefined): void {
  defaultListener = listener;
}

/** The listener of a call, else the default one. */
export function progressListener(listener?: HubProgressListener): HubProgressListener | undefined {
  return listener ?? defaultListener;
}
