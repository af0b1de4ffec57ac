/** The CLI's view of Hub downloads: a progress bar with bytes and ETA on a terminal, one line per download otherwise (stderr). */
import cliProgress from 'cli-progress';
import type { HubProgress, HubProgressListener } from '../hub/progress.js';

/** Bytes for people: 1.5 GB, 320.0 MB, 12.3 kB. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** The line written when a download starts or ends (also the non-terminal output). */
export function progressLine(e: HubProgress): string | undefined {
  if (e.event === 'start') return `Downloading ${e.repo}@${e.commit.slice(0, 8)}: ${e.files} file(s), ${formatBytes(e.totalBytes)}`;
  if (e.event === 'done') return `Downloaded ${e.repo}@${e.commit.slice(0, 8)} (${formatBytes(e.totalBytes)})`;
  if (e.event === 'wait') return `Waiting: ${e.file} of ${e.repo} is being downloaded by ${e.holder}`;
  return undefined;
}

/** A listener drawing a bar on `stream` when it is a terminal, else writing the start and end lines. */
export function hubProgressBar(stream: NodeJS.WriteStream = process.stderr): HubProgressListener {
  let bar: cliProgress.SingleBar | undefined;
  let done = 0;
  return (e) => {
    if (!stream.isTTY) {
      const line = progressLine(e);
      if (line) stream.write(`${line}\n`);
      return;
    }
    if (e.event === 'start') {
      done = 0;
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${e.repo} |{bar}| {done} / {size} | ETA {eta_formatted}`,
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(e.totalBytes, 0, { done: formatBytes(0), size: formatBytes(e.totalBytes) });
    } else if (e.event === 'wait') {
      stream.write(`${progressLine(e)}\n`);
    } else if (e.event === 'bytes') {
      done += e.bytes;
      bar?.update(done, { done: formatBytes(done) });
    } else {
      bar?.update(e.totalBytes, { done: formatBytes(e.totalBytes) });
      bar?.stop();
      bar = undefined;
      const line = progressLine(e);
      if (line) stream.write(`${line}\n`);
    }
  };
}
