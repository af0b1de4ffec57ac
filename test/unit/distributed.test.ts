// The launcher's pure parts: mlx.launch host files, the ring's MLX_HOSTFILE, the argv a rank
// gets, and how a batch is split over ranks.
import { describe, expect, it } from 'vitest';
import { localHosts, parseHostFile, readHosts, ringAddresses, ringHostFile } from '../../src/distributed/hosts.js';
import { hostsFromOptions, withoutLaunchOptions } from '../../src/cli/launch.js';
import { shardBatch } from '../../src/distributed/shard.js';
import type { Batch } from '../../src/data/batches.js';

describe('host files', () => {
  it('reads mlx.launch host files: a list, or an object with backend and envs', () => {
    const list = parseHostFile('[{"ssh": "mac1", "ips": ["10.0.0.1"]}, {"ssh": "mac2", "ips": ["10.0.0.2", "10.0.1.2"]}]', 'h.json');
    expect(list).toEqual({ backend: 'ring', envs: [], hosts: [{ ssh: 'mac1', ips: ['10.0.0.1'] }, { ssh: 'mac2', ips: ['10.0.0.2', '10.0.1.2'] }] });
    const obj = parseHostFile('{"backend": "ring", "envs": ["A=1"], "hosts": [{"ssh": "localhost"}]}', 'h.json');
    expect(obj.hosts[0].ips).toEqual(['127.0.0.1']);
    expect(obj.envs).toEqual(['A=1']);
  });

  it('names what is wrong', () => {
    expect(() => parseHostFile('[{"ips": ["1.2.3.4"]}]', 'h.json')).toThrow('h.json: hosts[0] needs "ssh"');
    expect(() => parseHostFile('[{"ssh": "mac2"}]', 'h.json')).toThrow('hosts[0] (mac2) needs "ips"');
    expect(() => parseHostFile('{"hosts": []}', 'h.json')).toThrow('expected a list of hosts');
    expect(() => parseHostFile('{"envs": ["no equals"], "hosts": [{"ssh": "localhost"}]}', 'h.json')).toThrow('"envs" must be a list of "KEY=value"');
    expect(() => parseHostFile('[', 'h.json')).toThrow('h.json: invalid JSON');
  });

  it('takes a comma-separated list of IPs', () => {
    expect(readHosts('10.0.0.1,10.0.0.2').hosts).toEqual([{ ssh: '10.0.0.1', ips: ['10.0.0.1'] }, { ssh: '10.0.0.2', ips: ['10.0.0.2'] }]);
  });

  it("writes the ring back end's host file: one address per rank, ports counting up", () => {
    expect(ringHostFile(ringAddresses(localHosts(3).hosts, 5000))).toBe('[["127.0.0.1:5000"],["127.0.0.1:5001"],["127.0.0.1:5002"]]');
    // Two IPs per host: one connection each, ports counting over ranks and IPs (as mlx.launch).
    const two = parseHostFile('[{"ssh": "a", "ips": ["10.0.0.1", "10.0.1.1"]}, {"ssh": "b", "ips": ["10.0.0.2", "10.0.1.2"]}]', 'h.json');
    expect(ringHostFile(ringAddresses(two.hosts, 7000))).toBe('[["10.0.0.1:7000","10.0.1.1:7001"],["10.0.0.2:7002","10.0.1.2:7003"]]');
  });
});

describe('launch options', () => {
  it('are removed from the command the ranks run', () => {
    expect(withoutLaunchOptions(['train', '-c', 'a.yaml', '-n', '2', '--port=4000', '--hosts', 'h.json', '--iters', '5', '--join-timeout', '9'])).toEqual(['train', '-c', 'a.yaml', '--iters', '5']);
  });

  it('-n without --hosts means ranks on this machine; -n larger than the host file is an error', () => {
    expect(hostsFromOptions({ ranks: 2 })?.hosts).toHaveLength(2);
    expect(hostsFromOptions({})).toBeUndefined();
    expect(() => hostsFromOptions({ hosts: '10.0.0.1,10.0.0.2', ranks: 3 })).toThrow('--ranks 3 but --hosts lists 2 hosts');
  });
});

describe('batch shards', () => {
  const batch: Batch = {
    tokens: Int32Array.from({ length: 12 }, (_, i) => i),
    batch: 4,
    length: 3,
    lengths: Int32Array.from([3, 3, 2, 1]),
    offsets: Int32Array.from([1, 0, 0, 0]),
    indices: Int32Array.from([7, 8, 9, 10]),
  };

  it("gives each rank its rows at the batch's padded length; together they are the batch", () => {
    const a = shardBatch(batch, { rank: 0, size: 2 });
    const b = shardBatch(batch, { rank: 1, size: 2 });
    expect(a).toEqual({ tokens: Int32Array.from([0, 1, 2, 3, 4, 5]), batch: 2, length: 3, lengths: Int32Array.from([3, 3]), offsets: Int32Array.from([1, 0]), indices: Int32Array.from([7, 8]) });
    expect([...a.tokens, ...b.tokens]).toEqual([...batch.tokens]);
    expect([...b.indices]).toEqual([9, 10]);
    expect(shardBatch(batch, { rank: 0, size: 1 })).toBe(batch);
  });
});

describe('the back end a rank joins', () => {
  it('follows our launcher, else what mlx.launch or mpirun set; nothing for a lone process', async () => {
    const { requestedBackend } = await import('../../src/distributed/group.js');
    expect(requestedBackend({})).toBeUndefined();
    expect(requestedBackend({ MLX_LAB_DISTRIBUTED: 'ring' })).toBe('ring');
    expect(requestedBackend({ MLX_RANK: '1', MLX_HOSTFILE: '/tmp/h.json' })).toBe('ring');
    expect(requestedBackend({ MLX_RANK: '0', MLX_JACCL_COORDINATOR: '10.0.0.1:32323' })).toBe('jaccl');
    expect(requestedBackend({ MLX_RANK: '0', MLX_WORLD_SIZE: '2', NCCL_PORT: '12345' })).toBe('nccl');
    expect(requestedBackend({ OMPI_COMM_WORLD_SIZE: '2' })).toBe('mpi');
  });
});
