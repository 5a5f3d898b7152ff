/**
 * The seeded generator behind every random draw of the core (initial weights, minibatches).
 *
 * xoshiro128** 1.0 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c) over four
 * 32-bit words, seeded by splitmix32. Its whole state is plain numbers, so a checkpoint can carry
 * it through JSON and a resumed job draws exactly what an uninterrupted one would have.
 */

/** Everything a generator needs to continue: the four xoshiro words and normal()'s spare. */
export interface RngState {
  /** xoshiro128** state, four unsigned 32-bit integers, not all zero. */
  s: [number, number, number, number];
  /** The second value of the last Box–Muller pair, not handed out yet. */
  spare: number | null;
}

const TWO_32 = 2 ** 32;
const TWO_53 = 2 ** 53;

/** One output of splitmix32 started from `state`: a bijection of the 32-bit state. */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function isUint32(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) < TWO_32;
}

function checkState(state: RngState): void {
  const { s, spare } = state ?? {};
  if (!Array.isArray(s) || s.length !== 4 || !s.every(isUint32) || s.every((w) => w === 0)) {
    throw new RangeError("rng state needs four unsigned 32-bit words, not all zero");
  }
  if (spare !== null && !Number.isFinite(spare)) {
    throw new RangeError("rng state spare must be a finite number or null");
  }
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  /**
   * Any safe integer seed (0, negative, up to 2^53). Its low and high 32-bit halves each seed two
   * words through splitmix32, so distinct seeds give distinct states, and never the all-zero one
   * (splitmix32 of two different inputs cannot both be 0).
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed))
      throw new RangeError(`rng seed must be a safe integer, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_32) >>> 0;
    this.s0 = splitmix32(lo);
    this.s1 = splitmix32(lo + 0x9e3779b9);
    this.s2 = splitmix32(hi ^ 0x6a09e667);
    this.s3 = splitmix32((hi ^ 0x6a09e667) + 0x9e3779b9);
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  getState(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3], spare: this.spare };
  }

  setState(state: RngState): void {
    checkState(state);
    [this.s0, this.s1, this.s2, this.s3] = state.s;
    this.spare = state.spare;
  }

  /** The next 32 random bits, as an unsigned integer. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    // Keep the words unsigned so the state reads back as it is written in RngState.
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) on the 2^53 grid of doubles: (a·2^26 + b) / 2^53 from 27 + 26 bits. */
  uniform(): number {
    const a = this.uint32() >>> 5;
    const b = this.uint32() >>> 6;
    return (a * 67108864 + b) / TWO_53;
  }

  /**
   * Standard normal by Box–Muller: z0 = √(-2 ln u1)·cos(2π u2), z1 = √(-2 ln u1)·sin(2π u2).
   * z1 is kept as the spare for the next call; u1 = 1 - uniform() lies in (0, 1], so ln is finite.
   */
  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Uniform integer in [0, n) for 1 ≤ n ≤ 2^32; rejection keeps it free of modulo bias. */
  int(n: number): number {
    return this.below(n, rejectionLimit(n));
  }

  /**
   * `out.length` indices in [0, n), drawn with replacement: the book's minibatch,
   * `np.random.choice(train_size, batch_size)`.
   */
  fillIndices(out: Int32Array, n: number): void {
    if (n > 2 ** 31) throw new RangeError(`an Int32Array cannot hold indices below ${n}`);
    const limit = rejectionLimit(n);
    for (let i = 0; i < out.length; i++) out[i] = this.below(n, limit);
  }

  private below(n: number, limit: number): number {
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return x % n;
  }
}

/** The largest multiple of n not above 2^32: draws at or past it would favour small results. */
function rejectionLimit(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
    throw new RangeError(`int(n) needs an integer n in [1, 2^32], got ${n}`);
  }
  return TWO_32 - (TWO_32 % n);
}
