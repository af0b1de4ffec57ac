/**
 * The distributed group this process belongs to, through MLX's own distributed layer (the ring
 * back end over TCP, MPI, JACCL or NCCL: native/distributed.h). A process started by
 * `mlx-lab launch` (or by `mlx.launch`) finds MLX_RANK and MLX_HOSTFILE in its environment; any
 * other process is a group of one, where every collective is the identity.
 */
import { MlxLabError } from '../core/errors.js';
import { native } from '../core/native.js';

/** Set by the launcher: the MLX back end to join ("ring", "mpi", "jaccl", "nccl", "any"). */
export const BACKEND_ENV = 'MLX_LAB_DISTRIBUTED';
/** Set by the launcher: stdin is the launcher's pipe; its end means the launcher is gone. */
export const LAUNCHED_ENV = 'MLX_LAB_LAUNCHED';
/** The line each rank prints to stderr once it has joined (the launcher waits for it). */
export const JOINED_MARKER = 'mlx-lab: joined rank';

export interface Group {
  rank: number;
  size: number;
  backend: string;
  /** Rank 0: writes files, runs the format evals and decides early stopping. */
  leader: boolean;
  /** Element-wise sums over all ranks (float32: exact for integers below 2^24). */
  allSum(values: number[]): Promise<number[]>;
  /** Every rank's text, in rank order. */
  allGather(text: string): Promise<string[]>;
  /** Bytes this rank has sent through collectives (ring algorithm estimate). */
  bytesSent(): Promise<number>;
}

/** The group of one process alone. */
export const SINGLE: Group = {
  rank: 0,
  size: 1,
  backend: 'none',
  leader: true,
  allSum: async (values) => values,
  allGather: async (text) => [text],
  bytesSent: async () => 0,
};

/**
 * The back end the environment asks for, or undefined for a process on its own: ours, else what
 * `mlx.launch` (ring, jaccl, nccl) or mpirun set for MLX.
 */
export function requestedBackend(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env[BACKEND_ENV]) return env[BACKEND_ENV];
  if (env.MLX_RANK !== undefined && env.MLX_HOSTFILE) return 'ring';
  if (env.MLX_RANK !== undefined && env.MLX_JACCL_COORDINATOR) return 'jaccl';
  if (env.MLX_RANK !== undefined && env.MLX_WORLD_SIZE && env.NCCL_PORT) return 'nccl';
  if (env.OMPI_COMM_WORLD_SIZE || env.PMI_SIZE) return 'mpi';
  return undefined;
}

let joined: Promise<Group> | undefined;

/** Join the group the environment describes (once per process); SINGLE when there is none. */
export function joinGroup(env: NodeJS.ProcessEnv = process.env): Promise<Group> {
  joined ??= join(env);
  return joined;
}

async function join(env: NodeJS.ProcessEnv): Promise<Group> {
  const backend = requestedBackend(env);
  if (!backend) return SINGLE;
  if (env[LAUNCHED_ENV]) exitWithLauncher();
  const addon = native();
  const g = await addon.distributedInit(backend);
  process.stderr.write(`${JOINED_MARKER} ${g.rank} of ${g.size} (${g.backend}, pid ${process.pid})\n`);
  if (g.size <= 1) return SINGLE;
  return {
    rank: g.rank,
    size: g.size,
    backend: g.backend,
    leader: g.rank === 0,
    allSum: (values) => addon.distributedAllSum(values),
    allGather: (text) => addon.distributedAllGather(text),
    bytesSent: () => addon.distributedBytesSent(),
  };
}

/**
 * A rank must not outlive its launcher: a peer that is gone leaves MLX waiting in a collective
 * forever. The launcher holds our stdin open; when it closes (the launcher died, or ssh dropped),
 * this process ends at once (SIGKILL: the engine thread may be blocked in a collective).
 */
function exitWithLauncher(): void {
  process.stdin.on('end', () => process.kill(process.pid, 'SIGKILL'));
  process.stdin.on('error', () => process.kill(process.pid, 'SIGKILL'));
  process.stdin.resume();
  process.stdin.unref?.();
}

/** True on every rank when any rank passes true (a decision all ranks must share). */
export async function anyRank(group: Group, flag: boolean): Promise<boolean> {
  if (group.size === 1) return flag;
  const [sum] = await group.allSum([flag ? 1 : 0]);
  return sum > 0;
}

/** The first value in rank order that is not undefined, shared with every rank. */
export async function firstDefined<T>(group: Group, value: T | undefined): Promise<T | undefined> {
  if (group.size === 1) return value;
  const all = await group.allGather(JSON.stringify(value ?? null));
  for (const text of all) {
    const v = JSON.parse(text) as T | null;
    if (v !== null) return v;
  }
  return undefined;
}

/** E_CONFIG unless every rank gets the same share of a batch. */
export function checkBatchSize(batchSize: number, group: Group): void {
  if (batchSize % group.size !== 0) {
    throw new MlxLabError('E_CONFIG', `batch_size ${batchSize} does not split over ${group.size} ranks: use a multiple of ${group.size}`);
  }
}
