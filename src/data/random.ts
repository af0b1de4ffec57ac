/**
 * The PRNG of the batch order: a 32-bit Mersenne Twister (MT19937) seeded and used exactly as
 * numpy's legacy global generator is by mlx-lm (`np.random.seed(seed)` then
 * `np.random.permutation(n)` once per epoch), so for the same seed the first epoch's batch order
 * equals mlx-lm's (see BatchIterator for when later epochs also do).
 *
 * - seed(s): numpy's `RandomState.seed(int)` → `mt19937_seed` (Knuth's init_genrand: key[0] = s,
 *   key[i] = 1812433253 · (key[i-1] ^ (key[i-1] >>> 30)) + i, mod 2^32).
 * - permutation(n): numpy's legacy shuffle of arange(n): for i = n-1 … 1, swap i with
 *   j = randomInterval(i), where randomInterval draws 32-bit words masked to the smallest
 *   all-ones mask ≥ i and rejects values > i.
 *
 * The state (624 words and a position) is plain JSON, so a checkpoint can store it and a resumed
 * run continues the same sequence.
 */
import { MlxLabError } from '../core/errors.js';

const N = 624;
const M = 397;

/** A serializable MT19937 state. */
export interface Mt19937State {
  key: number[];
  pos: number;
}

export class Mt19937 {
  private readonly mt = new Uint32Array(N);
  private pos = N;

  constructor(seed: number = 0) {
    this.seed(seed);
  }

  /** Re-seed, as numpy's `np.random.seed(seed)` for an integer seed in [0, 2^32). */
  seed(seed: number): void {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new MlxLabError('E_ARGUMENT', `seed must be an integer in [0, 2^32 - 1] (got ${seed})`);
    }
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.pos = N;
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < N; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % N] & 0x7fffffff);
      mt[i] = mt[(i + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.pos = 0;
  }

  /** The next 32-bit word, as an unsigned integer. */
  nextUint32(): number {
    if (this.pos >= N) this.twist();
    let y = this.mt[this.pos++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform integer in [0, max] (max < 2^32), by masked rejection as numpy's random_interval. */
  randomInterval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let value: number;
    do {
      value = (this.nextUint32() & mask) >>> 0;
    } while (value > max);
    return value;
  }

  /** A random permutation of 0..n-1, as numpy's legacy `permutation(n)`. */
  permutation(n: number): number[] {
    const out = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i >= 1; i--) {
      const j = this.randomInterval(i);
      const t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    return out;
  }

  state(): Mt19937State {
    return { key: Array.from(this.mt), pos: this.pos };
  }

  static fromState(state: Mt19937State): Mt19937 {
    if (
      !state ||
      !Array.isArray(state.key) ||
      state.key.length !== N ||
      !Number.isInteger(state.pos) ||
      state.pos < 0 ||
      state.pos > N ||
      state.key.some((k) => !Number.isInteger(k) || k < 0 || k > 0xffffffff)
    ) {
      throw new MlxLabError('E_ARGUMENT', 'invalid MT19937 state (expected {key: 624 unsigned 32-bit words, pos: 0..624})');
    }
    const rng = new Mt19937(0);
    rng.mt.set(state.key);
    rng.pos = state.pos;
    return rng;
  }
}
