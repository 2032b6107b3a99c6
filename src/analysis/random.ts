/**
 * Seeded pseudo-random numbers for every stochastic analysis step
 * (bootstraps, random neuron groups, permutation tests).
 *
 * Generator: xoshiro128** (Blackman & Vigna), 128-bit state, period 2^128 − 1,
 * seeded through splitmix32 so that nearby seeds give unrelated streams.
 * Everything here is deterministic: the same seed gives the same sequence on
 * every platform (only 32-bit integer arithmetic and IEEE doubles are used;
 * `normal()` relies on Math.log/sqrt/cos, which are correctly rounded enough
 * in V8 for reproducibility across runs of the same engine).
 */

/** splitmix32: a 32-bit state stepper used only to expand a seed into xoshiro state. */
function splitmix32(state: { a: number }): number {
  state.a = (state.a + 0x9e3779b9) | 0;
  let t = state.a ^ (state.a >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  t ^= t >>> 15;
  return t >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;
const TWO_POW_32 = 4294967296;

/** A seeded xoshiro128** generator. */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | null = null;

  /**
   * `seed`: any finite number; integers up to 2^53 use all their bits (the low
   * and high 32-bit halves are both mixed in). Non-integers are floored.
   */
  constructor(seed: number = 0) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    const s = Math.floor(Math.abs(seed));
    const lo = s % TWO_POW_32 >>> 0;
    const hi = Math.floor(s / TWO_POW_32) >>> 0;
    const st = { a: (lo ^ Math.imul(hi, 0x85ebca6b) ^ (seed < 0 ? 0x5bd1e995 : 0)) | 0 };
    this.s0 = splitmix32(st);
    this.s1 = splitmix32(st);
    this.s2 = splitmix32(st);
    this.s3 = splitmix32(st);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // all-zero state is a fixed point
  }

  /** Next raw 32-bit output as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * TWO_POW_26 + b) / TWO_POW_53;
  }

  /** Standard normal deviate (Box–Muller; the second value of each pair is cached). */
  normal(mean = 0, sd = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + sd * z;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return mean + sd * r * Math.cos(2 * Math.PI * u2);
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); n a positive safe integer. */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
    if (n <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      for (;;) {
        const r = this.nextUint32();
        if (r < limit) return r % n;
      }
    }
    return Math.floor(this.uniform() * n);
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T extends { length: number; [i: number]: any }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /**
   * k distinct integers from [0, n) without replacement, in random order
   * (every ordered k-subset equally likely). Partial Fisher–Yates when k is a
   * sizeable share of n, rejection with a Set otherwise.
   */
  sample(k: number, n: number): number[] {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Rng.sample: n must be a non-negative integer, got ${n}`);
    if (!Number.isSafeInteger(k) || k < 0 || k > n) {
      throw new Error(`Rng.sample: k must be an integer in [0, ${n}], got ${k}`);
    }
    if (k * 4 >= n) {
      const pool = new Int32Array(n);
      for (let i = 0; i < n; i++) pool[i] = i;
      const out: number[] = new Array(k);
      for (let i = 0; i < k; i++) {
        const j = i + this.int(n - i);
        const tmp = pool[i];
        pool[i] = pool[j];
        pool[j] = tmp;
        out[i] = pool[i];
      }
      return out;
    }
    const seen = new Set<number>();
    const out: number[] = [];
    while (out.length < k) {
      const v = this.int(n);
      if (!seen.has(v)) {
        seen.add(v);
        out.push(v);
      }
    }
    return out;
  }

  /** n draws from [0, m) with replacement (bootstrap indices); m defaults to n. */
  resample(n: number, m: number = n): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(m);
    return out;
  }
}

/** Convenience constructor. */
export function createRng(seed: number = 0): Rng {
  return new Rng(seed);
}
