// The TensorBoard writer (src/run/tracking): CRC32C and its TFRecord mask on known vectors, the
// record framing and Event encoding byte for byte against a file written by the tensorboard
// package's own writer (scripts/fixtures/make_tensorboard_fixture.py), and the sink's file in a
// run folder, read back record by record with every CRC checked.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '@aws-crypto/crc32c';
import { fileVersionEvent, maskedCrc32c, scalarRecords, tfRecord } from '../../src/run/tracking/tfrecord.js';
import { eventFileName, TensorBoardSink } from '../../src/run/tracking/tensorboard.js';
import { decodeEvent, readRecords, scalarsOf } from '../helpers/tfevents.js';

const root = mkdtempSync(join(tmpdir(), 'mlx-lab-tb-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const fixture = join(import.meta.dirname, '../fixtures/tensorboard/known.tfevents');

describe('TFRecord framing', () => {
  it('computes CRC32C (Castagnoli) and the TFRecord mask on known vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283); // the CRC-32C check value
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    // mask(c) = ((c >>> 15) | (c << 17)) + 0xa282ead8 (mod 2^32), worked by hand for 0xe3069283
    expect(maskedCrc32c(Buffer.from('123456789'))).toBe((0x2507c60d + 0xa282ead8) >>> 0);
  });

  it('frames a record as length, masked length CRC, data, masked data CRC', () => {
    const rec = tfRecord(Buffer.from('abc'));
    expect(rec.length).toBe(8 + 4 + 3 + 4);
    expect(rec.readBigUInt64LE(0)).toBe(3n);
    expect(rec.readUInt32LE(8)).toBe(maskedCrc32c(rec.subarray(0, 8)));
    expect(rec.subarray(12, 15).toString()).toBe('abc');
    expect(rec.readUInt32LE(15)).toBe(maskedCrc32c(Buffer.from('abc')));
  });

  it('writes the same bytes as the tensorboard package for the same events', () => {
    const ours = Buffer.concat([
      tfRecord(fileVersionEvent(1700000000000)),
      scalarRecords([
        { tag: 'format/score', value: 0.25, step: 0, time: 1700000000000 },
        { tag: 'format/low', value: 0.0625, step: 0, time: 1700000000000 },
        { tag: 'train/loss', value: 2.5, step: 10, time: 1700000001500 },
        { tag: 'train/learning_rate', value: 1e-5, step: 10, time: 1700000001500 },
        { tag: 'val/loss', value: 1.875, step: 300000, time: 1700000002250 },
        { tag: 'format/category/json tool', value: 1, step: 300000, time: 1700000002250 },
      ]),
    ]);
    const theirs = readFileSync(fixture);
    expect(readRecords(theirs)).toHaveLength(4);
    expect(ours.toString('hex')).toBe(theirs.toString('hex'));
    expect(decodeEvent(readRecords(theirs)[0])).toEqual({ wallTime: 1700000000, step: 0, fileVersion: 'brain.Event:2', values: [] });
    expect(scalarsOf(theirs)['val/loss']).toEqual([[300000, 1.875]]);
  });

  it('detects a flipped byte with the reader the other tests use (the check can fail)', () => {
    const bad = Buffer.from(readFileSync(fixture));
    bad[70] ^= 0xff;
    expect(() => readRecords(bad)).toThrow(/bad data CRC/);
  });
});

describe('TensorBoardSink', () => {
  it('writes events.out.tfevents.<seconds>.<host>.<pid> under tb/, the file version first', async () => {
    const run = join(root, 'run');
    const sink = new TensorBoardSink(run);
    await sink.open();
    await sink.write([{ tag: 'train/loss', value: 1.5, step: 1, time: 1700000000000 }]);
    await sink.write([{ tag: 'val/loss', value: 1.25, step: 2, time: 1700000000100 }]);
    await sink.close({ status: 'finished', artifacts: [] });
    const [name, ...more] = readdirSync(join(run, 'tb'));
    expect(more).toEqual([]);
    expect(name).toMatch(/^events\.out\.tfevents\.\d{10}\.[A-Za-z0-9._-]+\.\d+$/);
    const records = readRecords(readFileSync(join(run, 'tb', name)));
    expect(records).toHaveLength(3);
    expect(decodeEvent(records[0]).fileVersion).toBe('brain.Event:2');
    expect(records.slice(1).map(decodeEvent)).toEqual([
      { wallTime: 1700000000, step: 1, values: [{ tag: 'train/loss', value: 1.5 }] },
      { wallTime: 1700000000.1, step: 2, values: [{ tag: 'val/loss', value: 1.25 }] },
    ]);
  });

  it('keeps odd host names out of the file name', () => {
    expect(eventFileName(1700000000999, 'evil/../host name', 42)).toBe('events.out.tfevents.1700000000.evil_.._host_name.42');
  });

  it('fails with an error naming the path when the run folder is a file', async () => {
    const file = join(root, 'not-a-folder');
    writeFileSync(file, 'x');
    await expect(new TensorBoardSink(file).open()).rejects.toThrow(/not-a-folder.*cannot write the TensorBoard event file/);
  });
});
