/**
 * Hosts, in the host-file format of `mlx.launch` (mlx/_distributed_utils/common.py):
 *
 *   [{"ssh": "mac1.local", "ips": ["192.168.1.10"]}, {"ssh": "mac2.local", "ips": ["192.168.1.11"]}]
 *
 * or an object {"backend": "ring", "envs": ["KEY=value"], "hosts": [...]}. One entry per rank.
 * For the ring back end each rank listens on `ip:port` for each of its IPs, ports counting up
 * from the starting port (as mlx.launch does with one connection per IP; MLX's ring needs the
 * same number of IPs on every rank); MLX reads that list from the file named by MLX_HOSTFILE:
 * [["ip0:port0"], ["ip1:port1"], ...].
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { MlxLabError } from '../core/errors.js';
import { readRegularFile } from '../core/files.js';
import { parseJson } from '../core/json.js';

export interface Host {
  /** Where to start the rank: "localhost" (or this machine's name) runs it here, else over ssh. */
  ssh: string;
  /** The addresses the ring back end listens on / connects to. */
  ips: string[];
}

export interface HostFile {
  backend: string;
  envs: string[];
  hosts: Host[];
}

/** mlx.launch's default first port for the ring back end. */
export const DEFAULT_PORT = 32323;

function bad(source: string, message: string): never {
  throw new MlxLabError('E_ARGUMENT', `${source}: ${message}`);
}

function parseHost(h: unknown, i: number, source: string): Host {
  if (typeof h !== 'object' || h === null || typeof (h as Host).ssh !== 'string' || (h as Host).ssh === '') {
    bad(source, `hosts[${i}] needs "ssh": a host name (as mlx.launch's host file)`);
  }
  const ips = (h as { ips?: unknown }).ips ?? [];
  if (!Array.isArray(ips) || ips.some((ip) => typeof ip !== 'string')) bad(source, `hosts[${i}].ips must be a list of addresses`);
  const ssh = (h as Host).ssh;
  return { ssh, ips: ips.length > 0 ? (ips as string[]) : isLocal(ssh) ? ['127.0.0.1'] : bad(source, `hosts[${i}] (${ssh}) needs "ips": the ring back end connects to IP addresses`) };
}

/** A host file as mlx.launch reads it. */
export function parseHostFile(text: string, source: string): HostFile {
  const data = parseJson(text, source, { code: 'E_ARGUMENT' });
  const obj = (Array.isArray(data) ? { hosts: data } : data) as Partial<HostFile> | null;
  if (!obj || !Array.isArray(obj.hosts) || obj.hosts.length === 0) bad(source, 'expected a list of hosts or {"hosts": [...]}');
  const envs = obj.envs ?? [];
  if (!Array.isArray(envs) || envs.some((e) => typeof e !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*=/.test(e))) bad(source, '"envs" must be a list of "KEY=value" strings');
  return { backend: obj.backend || 'ring', envs, hosts: obj.hosts.map((h, i) => parseHost(h, i, source)) };
}

/** --hosts: a host file, or a comma-separated list of IPs / host names (mlx.launch --hosts). */
export function readHosts(spec: string): HostFile {
  if (existsSync(spec)) return parseHostFile(readRegularFile(spec, 'utf8'), spec);
  if (spec.trim().startsWith('[') || spec.trim().startsWith('{')) return parseHostFile(spec, '--hosts');
  const names = spec.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) bad('--hosts', 'a host name is empty');
  return {
    backend: 'ring',
    envs: [],
    hosts: names.map((n, i) => parseHost({ ssh: n, ips: /^[\d.]+$|:/.test(n) ? [n] : [] }, i, '--hosts')),
  };
}

/** N ranks on this machine, over loopback. */
export function localHosts(n: number): HostFile {
  return { backend: 'ring', envs: [], hosts: Array.from({ length: n }, () => ({ ssh: 'localhost', ips: ['127.0.0.1'] })) };
}

/** This machine (the rank runs as a child process), else a host reached over ssh. */
export function isLocal(ssh: string): boolean {
  return ssh === 'localhost' || ssh === '127.0.0.1' || ssh === '::1' || ssh === hostname();
}

export interface Address {
  ip: string;
  port: number;
}

/**
 * The ring back end's addresses, as mlx.launch assigns them: per rank one "ip:port" for each of
 * its IPs (one connection each), ports counting up from `port` over all ranks and IPs.
 */
export function ringAddresses(hosts: Host[], port = DEFAULT_PORT): Address[][] {
  let next = port;
  return hosts.map((h) => h.ips.map((ip) => ({ ip, port: next++ })));
}

/** The MLX_HOSTFILE contents for the ring back end. */
export function ringHostFile(addresses: Address[][]): string {
  return JSON.stringify(addresses.map((rank) => rank.map((a) => `${a.ip}:${a.port}`)));
}
