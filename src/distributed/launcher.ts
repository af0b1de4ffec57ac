/**
 * `mlx-lab launch`: starts one mlx-lab process per rank with the environment MLX's ring back end
 * expects (MLX_RANK, MLX_HOSTFILE; mlx.launch's host-file format, see hosts.ts), here as child
 * processes or on other machines over ssh, and watches them:
 *
 * - before starting, the ports of local ranks must be free and remote hosts must answer ssh;
 * - every rank reports when it joined the group; one that has not within the join timeout (an
 *   unreachable address, a firewall) stops the launch with its name;
 * - when a rank dies (non-zero exit or a signal), the others are stopped (SIGTERM, then SIGKILL:
 *   a rank may be blocked in a collective forever) and the launch fails naming the dead rank;
 * - Ctrl-C is passed to every rank (they stop at the same step and save a checkpoint); a second
 *   Ctrl-C kills them.
 *
 * Each rank holds a pipe from the launcher as its stdin and ends itself when it closes, so no rank
 * outlives a launcher that was killed (group.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MlxLabError } from '../core/errors.js';
import { BACKEND_ENV, JOINED_MARKER, LAUNCHED_ENV } from './group.js';
import { DEFAULT_PORT, isLocal, ringAddresses, ringHostFile, type HostFile } from './hosts.js';

export interface LaunchOptions {
  hosts: HostFile;
  /** mlx-lab's arguments for every rank, e.g. ['train', '-c', 'lora.yaml']. */
  args: string[];
  /** The first ring port (one per rank from here). Default 32323, as mlx.launch. */
  port?: number;
  /** Seconds every rank has to join the group. Default 60. */
  joinTimeout?: number;
  /** Seconds between SIGTERM and SIGKILL when stopping ranks. Default 3. */
  killGrace?: number;
  /** The working directory of every rank (the same path on every host). Default: this one. */
  cwd?: string;
  /** Output of the ranks, line by line (default: rank 0's stdout as is, the rest prefixed on stderr). */
  onLine?: (rank: number, stream: 'stdout' | 'stderr', line: string) => void;
  /** Ctrl-C and SIGTERM go to the ranks (default true). */
  forwardSignals?: boolean;
}

export interface LaunchResult {
  /** 0 when every rank exited with 0. */
  code: number;
  /** The rank that failed first (died, or did not join in time). */
  failedRank?: number;
  message?: string;
  seconds: number;
}

interface Rank {
  index: number;
  host: string;
  local: boolean;
  child: ChildProcess;
  joined: boolean;
  /** The pid on its host (remote ranks report it when they join). */
  pid?: number;
  exited: boolean;
}

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

function describe(rank: Rank): string {
  return `rank ${rank.index} (${rank.host})`;
}

/** E_DISTRIBUTED when a local ring port is taken. */
async function checkPortFree(ip: string, port: number, rank: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new MlxLabError('E_DISTRIBUTED', `port ${port} on ${ip} (rank ${rank}) is ${err.code === 'EADDRINUSE' ? 'in use' : `not usable (${err.code})`}: choose other ports with --port`)),
    );
    server.listen(port, ip, () => server.close(() => resolve()));
  });
}

/** E_DISTRIBUTED when a remote host does not answer ssh within 10 s. */
function checkReachable(host: string, rank: number): void {
  const r = spawnSync('ssh', ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', host, 'true'], { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr || '').trim() || `ssh exited with ${r.status}`;
    throw new MlxLabError('E_DISTRIBUTED', `host ${host} (rank ${rank}) is unreachable over ssh: ${why}`);
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The environment a rank needs (besides MLX_HOSTFILE, which depends on where it runs). */
function rankEnv(hosts: HostFile, rank: number): Record<string, string> {
  const env: Record<string, string> = { MLX_RANK: String(rank), [BACKEND_ENV]: hosts.backend, [LAUNCHED_ENV]: '1' };
  for (const kv of hosts.envs) {
    const eq = kv.indexOf('=');
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return env;
}

function startLocal(_rank: number, env: Record<string, string>, hostFile: string, args: string[], cwd: string): ChildProcess {
  // Its own process group: a Ctrl-C in the terminal reaches the launcher, which passes it on once.
  return spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env, MLX_HOSTFILE: hostFile }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
}

/** A rank over ssh: the host file written to a temp file there, then node runs the same CLI path. */
function startRemote(host: string, env: Record<string, string>, ring: string, args: string[], cwd: string): ChildProcess {
  const exports = Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}; `).join('');
  const script =
    `cd ${shellQuote(cwd)} && ${exports}` +
    `f=$(mktemp) && printf '%s' ${shellQuote(ring)} > "$f" && export MLX_HOSTFILE="$f" && ` +
    `exec node ${shellQuote(CLI)} ${args.map(shellQuote).join(' ')}`;
  return spawn('ssh', ['-o', 'BatchMode=yes', host, script], { stdio: ['pipe', 'pipe', 'pipe'] });
}

/** How long an error exit waits for a peer's death by a signal to be named as the cause instead. */
const CAUSE_WINDOW_MS = 500;

/** Start every rank, wait for all of them; never leaves a rank running. */
export async function launch(options: LaunchOptions): Promise<LaunchResult> {
  const started = performance.now();
  const { hosts } = options;
  if (hosts.backend !== 'ring') {
    throw new MlxLabError('E_ARGUMENT', `the launcher starts the ring back end only (the host file asks for "${hosts.backend}"); start MPI/JACCL/NCCL ranks with their own launcher and set ${BACKEND_ENV}=${hosts.backend}`);
  }
  const cwd = options.cwd ?? process.cwd();
  const addresses = ringAddresses(hosts.hosts, options.port ?? DEFAULT_PORT);
  const counts = new Set(addresses.map((a) => a.length));
  if (counts.size > 1) throw new MlxLabError('E_ARGUMENT', `every host needs the same number of "ips" for the ring back end (got ${addresses.map((a) => a.length).join(', ')})`);
  for (const [i, h] of hosts.hosts.entries()) {
    if (isLocal(h.ssh)) for (const a of addresses[i]) await checkPortFree(a.ip, a.port, i);
    else checkReachable(h.ssh, i);
  }
  const ring = ringHostFile(addresses);
  const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-launch-'));
  const hostFile = join(tmp, 'hostfile.json');
  writeFileSync(hostFile, ring);

  const onLine = options.onLine ?? defaultOnLine;
  const ranks: Rank[] = hosts.hosts.map((h, index) => {
    const local = isLocal(h.ssh);
    const env = rankEnv(hosts, index);
    const child = local ? startLocal(index, env, hostFile, options.args, cwd) : startRemote(h.ssh, env, ring, options.args, cwd);
    return { index, host: h.ssh, local, child, joined: false, exited: false };
  });

  return new Promise<LaunchResult>((resolve) => {
    let failure: { rank: number; message: string } | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let interrupts = 0;
    const grace = (options.killGrace ?? 3) * 1000;

    const stopAll = (signal: NodeJS.Signals) => {
      for (const r of ranks) if (!r.exited) signalRank(r, signal);
    };
    const fail = (rank: number, message: string) => {
      if (failure) return;
      failure = { rank, message };
      stopAll('SIGTERM');
      killTimer = setTimeout(() => stopAll('SIGKILL'), grace);
    };
    // A rank that exits with an error code may only have lost a peer that died at the same
    // moment: wait briefly so that a rank killed by a signal, the cause, is the one named.
    let pending: { rank: number; message: string } | undefined;
    let pendingTimer: NodeJS.Timeout | undefined;
    const settlePending = () => {
      clearTimeout(pendingTimer);
      const p = pending;
      pending = undefined;
      if (p) fail(p.rank, p.message);
    };
    const failSoon = (rank: number, message: string) => {
      if (failure || pending) return;
      pending = { rank, message };
      pendingTimer = setTimeout(settlePending, CAUSE_WINDOW_MS);
    };
    const joinTimer = setTimeout(() => {
      // A rank waiting for a peer cannot join either: name every rank still out.
      const late = ranks.filter((r) => !r.joined && !r.exited);
      const where = late.flatMap((r) => addresses[r.index].map((a) => `${a.ip}:${a.port}`)).join(', ');
      if (late.length > 0) fail(late[0].index, `${late.map(describe).join(', ')} did not join the group within ${options.joinTimeout ?? 60} s (a rank stuck before joining, or ${where} not reachable from the other hosts: a firewall?)`);
    }, (options.joinTimeout ?? 60) * 1000);

    const onSignal = (signal: NodeJS.Signals) => {
      interrupts++;
      if (interrupts > 1) stopAll('SIGKILL');
      else stopAll(signal);
    };
    const forward = options.forwardSignals !== false;
    if (forward) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }

    const finish = () => {
      if (!ranks.every((r) => r.exited)) return;
      settlePending();
      clearTimeout(joinTimer);
      clearTimeout(killTimer);
      if (forward) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      rmSync(tmp, { recursive: true, force: true });
      const seconds = (performance.now() - started) / 1000;
      if (interrupts > 0) resolve({ code: 130, failedRank: failure?.rank, message: failure?.message ?? 'interrupted', seconds });
      else if (failure) resolve({ code: 1, failedRank: failure.rank, message: failure.message, seconds });
      else resolve({ code: 0, seconds });
    };

    for (const r of ranks) {
      createInterface({ input: r.child.stdout! }).on('line', (line) => onLine(r.index, 'stdout', line));
      createInterface({ input: r.child.stderr! }).on('line', (line) => {
        if (line.startsWith(JOINED_MARKER)) {
          r.joined = true;
          r.pid = Number(/pid (\d+)/.exec(line)?.[1]) || undefined;
          if (ranks.every((x) => x.joined)) clearTimeout(joinTimer);
          return;
        }
        onLine(r.index, 'stderr', line);
      });
      r.child.stdin!.on('error', () => undefined); // the rank may be gone
      r.child.on('error', (err) => fail(r.index, `${describe(r)} could not start: ${err.message}`));
      r.child.on('exit', (code, signal) => {
        r.exited = true;
        if (code !== 0 && !failure && interrupts === 0) {
          const message = `${describe(r)} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}; the other ranks were stopped`;
          if (signal) {
            clearTimeout(pendingTimer);
            pending = undefined;
            fail(r.index, message);
          } else failSoon(r.index, message);
        } else if (code !== 0 && !failure) {
          failure = { rank: r.index, message: `${describe(r)} interrupted (${signal ?? `code ${code}`})` };
        }
        r.child.stdin?.end();
        finish();
      });
    }
  });
}

/** A signal to a rank: the child itself here; over ssh, the rank's pid on its host (and the ssh client). */
function signalRank(rank: Rank, signal: NodeJS.Signals): void {
  if (!rank.local && rank.pid) spawn('ssh', ['-o', 'BatchMode=yes', rank.host, `kill -${signal.replace('SIG', '')} ${rank.pid}`], { stdio: 'ignore' });
  try {
    rank.child.kill(signal);
  } catch {
    // already gone
  }
}

function defaultOnLine(rank: number, stream: 'stdout' | 'stderr', line: string): void {
  if (rank === 0 && stream === 'stdout') process.stdout.write(line + '\n');
  else process.stderr.write(`[rank ${rank}] ${line}\n`);
}
