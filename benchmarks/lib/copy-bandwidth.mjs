// Memory copy bandwidth, the denominator of the decode bound: bytes copied per second by
// Buffer.copy (memcpy) of a large buffer, on one thread and on several threads at once (each
// copying its share), since MLX's CPU kernels may read memory from more than one core.
import { Worker } from 'node:worker_threads';

/** One rate per copy of an `bytes`-byte buffer on this thread. */
export function copyRatesSingle(bytes, reps) {
  const src = Buffer.alloc(bytes, 1); // filled: its pages exist before timing
  const dst = Buffer.alloc(bytes, 2);
  const rates = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    src.copy(dst);
    rates.push(bytes / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return rates;
}

// A worker: its own src/dst of workerData bytes; on each message, one timed copy, replies ns.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const src = Buffer.alloc(workerData, 1);
const dst = Buffer.alloc(workerData, 2);
parentPort.on('message', (m) => {
  if (m === 'stop') return process.exit(0);
  const t0 = process.hrtime.bigint();
  src.copy(dst);
  parentPort.postMessage(Number(process.hrtime.bigint() - t0));
});
parentPort.postMessage(0);
`;

/** One rate per round in which `threads` workers each copy bytes/threads at the same time. */
export async function copyRatesParallel(bytes, reps, threads) {
  const share = Math.floor(bytes / threads);
  const workers = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true, workerData: share }));
  const next = (w) => new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  try {
    await Promise.all(workers.map(next)); // buffers allocated
    const rates = [];
    for (let i = 0; i < reps; i++) {
      const t0 = process.hrtime.bigint();
      const done = Promise.all(workers.map(next));
      for (const w of workers) w.postMessage('go');
      await done;
      rates.push((share * threads) / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
    return rates;
  } finally {
    for (const w of workers) w.postMessage('stop');
  }
}
