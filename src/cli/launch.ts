/**
 * `mlx-lab launch --hosts hosts.json -- train …` / `-n 2 -- sweep …`: runs an mlx-lab command as
 * the ranks of one MLX distributed group (src/distributed/launcher.ts). `train` and `sweep` take
 * the same --hosts / -n options themselves and then launch themselves.
 */
import { Command } from 'commander';
import { MlxLabError } from '../core/errors.js';
import { requestedBackend } from '../distributed/group.js';
import { localHosts, readHosts, type HostFile } from '../distributed/hosts.js';
import { launch } from '../distributed/launcher.js';
import { positiveInteger } from './options.js';

/** The commands that join a distributed group. */
const RANK_COMMANDS = ['train', 'sweep'];

/** The options of a launch, on `launch` itself and on `train` / `sweep`. */
export function addLaunchOptions(cmd: Command): Command {
  return cmd
    .option('--hosts <file|list>', 'run as ranks of an MLX distributed group on these hosts: an mlx.launch host file (JSON) or a comma-separated list of IPs')
    .option('-n, --ranks <n>', 'ranks to start (on this machine over loopback without --hosts)', positiveInteger('--ranks'))
    .option('--port <port>', 'the first ring port, one per rank from here (default 32323)', positiveInteger('--port'))
    .option('--join-timeout <seconds>', 'seconds every rank has to join the group (default 60)', positiveInteger('--join-timeout'));
}

/** The hosts of a launch: --hosts, or -n local ranks; undefined when neither was given. */
export function hostsFromOptions(opts: Record<string, unknown>): HostFile | undefined {
  const spec = opts.hosts as string | undefined;
  const n = opts.ranks as number | undefined;
  if (!spec) return n !== undefined ? localHosts(n) : undefined;
  const hosts = readHosts(spec);
  if (n !== undefined && n !== hosts.hosts.length) {
    if (n < hosts.hosts.length) hosts.hosts = hosts.hosts.slice(0, n);
    else throw new MlxLabError('E_ARGUMENT', `--ranks ${n} but --hosts lists ${hosts.hosts.length} hosts (one rank per host entry; repeat a host to run two ranks on it)`);
  }
  return hosts;
}

/** argv without the launch options, for the ranks (which must not launch again). */
export function withoutLaunchOptions(argv: string[]): string[] {
  const flags = new Set(['--hosts', '-n', '--ranks', '--port', '--join-timeout']);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0 && flags.has(a.slice(0, eq))) continue;
    if (flags.has(a)) {
      i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** Run `args` as ranks and set the exit code; prints the dead rank's name on failure. */
export async function launchRanks(hosts: HostFile, args: string[], opts: Record<string, unknown>): Promise<void> {
  if (requestedBackend()) throw new MlxLabError('E_ARGUMENT', 'already a rank of a distributed group: a rank cannot launch others');
  const result = await launch({ hosts, args, port: opts.port as number | undefined, joinTimeout: opts.joinTimeout as number | undefined });
  if (result.code === 130) process.stderr.write('mlx-lab: interrupted; the ranks stopped together (rank 0 saved a checkpoint when training)\n');
  else if (result.code !== 0) process.stderr.write(`mlx-lab: error E_DISTRIBUTED: ${result.message}\n`);
  process.exitCode = result.code;
}

/**
 * When a train / sweep command was given --hosts or -n and this process is not a rank yet:
 * launch the same command as ranks and return true (the caller then does nothing else).
 */
export async function relaunchAsRanks(opts: Record<string, unknown>): Promise<boolean> {
  const hosts = hostsFromOptions(opts);
  if (!hosts || requestedBackend()) return false;
  await launchRanks(hosts, withoutLaunchOptions(process.argv.slice(2)), opts);
  return true;
}

export function launchCommand(): Command {
  const cmd = new Command('launch')
    .description('run an mlx-lab command (train, sweep) as the ranks of an MLX distributed group (ring back end), here over loopback or on other hosts over ssh')
    .argument('<command...>', 'the mlx-lab command and its options, after --')
    .passThroughOptions()
    .addHelpText('after', '\nExamples:\n  mlx-lab launch -n 2 -- train -c lora.yaml\n  mlx-lab launch --hosts hosts.json -- sweep -c lora.yaml --seeds 1,2,3,4\n\nhosts.json (as mlx.launch): [{"ssh": "mac1.local", "ips": ["10.0.0.1"]}, {"ssh": "mac2.local", "ips": ["10.0.0.2"]}]');
  addLaunchOptions(cmd).action(async (command: string[], opts: Record<string, unknown>) => {
    const hosts = hostsFromOptions(opts);
    if (!hosts) throw new MlxLabError('E_ARGUMENT', 'launch needs --hosts <file|list> or -n <ranks>');
    if (!RANK_COMMANDS.includes(command[0])) {
      throw new MlxLabError('E_ARGUMENT', `launch runs ${RANK_COMMANDS.join(' or ')} as ranks, not "${command[0]}" (other commands do not join a group)`);
    }
    await launchRanks(hosts, command, opts);
  });
  return cmd;
}
