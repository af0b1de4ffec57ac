/** `mlx-lab ui [folder]`, and the `--ui` of train: the live page of a run or sweep folder. */
import { Command } from 'commander';
import { number } from './options.js';
import { DEFAULT_HOST, exposureWarning, startUiServer, type UiOptions, type UiServer } from '../ui/server.js';

/** Start the page and print its address (and the warning when it is exposed beyond this machine). */
export async function openUi(options: UiOptions, log: (text: string) => void = (t) => process.stderr.write(t)): Promise<UiServer> {
  const warning = exposureWarning(options.host ?? DEFAULT_HOST);
  if (warning) log(`${warning}\n`);
  const server = await startUiServer(options);
  log(`live page (${server.live ? 'live' : 'read-only'}): ${server.url}\n`);
  return server;
}

/** The page's host and port options, shared by ui, train and sweep. */
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
