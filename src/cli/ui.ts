/** `mlx-lab ui [folder]`, and the `--ui` of train: the live page of a run or sweep folder. */
import { mkdirSync, rmSync } from 'node:fs';
import { Command } from 'commander';
import { number } from './options.js';
import type { TrainEvent } from '../train/loop.js';
import type { Feed, PushFeed } from '../ui/feed.js';
import { DEFAULT_HOST, exposureWarning, startUiServer, type UiOptions, type UiServer } from '../ui/server.js';

/** Start the page and print its address (and the warning when it is exposed beyond this machine). */
export async function openUi(options: UiOptions, log: (text: string) => void = (t) => process.stderr.write(t)): Promise<UiServer> {
  const warning = exposureWarning(options.host ?? DEFAULT_HOST);
  if (warning) log(`${warning}\n`);
  const server = await startUiServer(options);
  log(`live page (${server.live ? 'live' : 'read-only'}): ${server.url}\n`);
  return server;
}

/** --ui, --ui-host and --ui-port of train and sweep (`what`: the page's subject, for the help). */
export function addLiveUiOptions(cmd: Command, what: string): Command {
  return cmd
    .option('--ui', `serve the live ${what} page on this machine while it runs (the URL, with its token, is printed)`)
    .option('--ui-host <address>', 'where the --ui page listens (default 127.0.0.1; another address exposes it, the URL token the only protection)')
    .option('--ui-port <n>', 'the --ui page port (default: a free one)', number('--ui-port', { int: true, min: 0, max: 65535 }));
}

/** The live page of a run or sweep folder about to be written (created first, and removed again when the page cannot start), from the --ui options. */
export async function openLivePage(folder: string, kind: 'run' | 'sweep', opts: { uiHost?: string; uiPort?: number }, feed?: Feed): Promise<UiServer> {
  const created = mkdirSync(folder, { recursive: true });
  try {
    return await openUi({ target: folder, kind, live: true, feed, host: opts.uiHost, port: opts.uiPort });
  } catch (err) {
    if (created) rmSync(created, { recursive: true, force: true }); // only folders made just now, still empty
    throw err;
  }
}

/** Pass a training event of the run in this process to its live page (every event of metrics.jsonl; not the per-step ones, which the log does not keep either). */
export function pushTrainEvent(feed: PushFeed | undefined, e: TrainEvent): void {
  if (feed && e.event !== 'step') feed.push({ run: '', event: { ...e, time: Date.now() } });
}

/** After a finished run or sweep the page stays up, read-only, until Ctrl-C. */
export async function keepOpenUntilInterrupt(ui: UiServer): Promise<void> {
  ui.finish();
  process.stderr.write(`the run ended; the page stays open read-only at ${ui.url} until Ctrl-C\n`);
  await new Promise<void>((done) => process.once('SIGINT', () => done()));
  await ui.close();
}

/** The page's host and port options of `mlx-lab ui`. */
export function addUiServerOptions(cmd: Command): Command {
  return cmd
    .option('--host <address>', `where the page listens (default ${DEFAULT_HOST}; another address exposes it, with the URL token as the only protection)`)
    .option('--port <n>', 'the port (default: a free one)', number('--port', { int: true, min: 0, max: 65535 }));
}

export function uiCommand(): Command {
  const cmd = new Command('ui').description('serve the live report page of a run or sweep folder on this machine (read-only for a finished run)').argument('[folder]', 'a run folder or a sweep folder', 'runs');
  return addUiServerOptions(cmd).action(async (folder: string, opts: { host?: string; port?: number }) => {
    const server = await openUi({ target: folder, host: opts.host, port: opts.port });
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        void server.close().then(done);
      };
      process.on('SIGINT', stop);
    });
  });
}
