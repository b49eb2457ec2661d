// The simulator's seeded random numbers: xoshiro128** seeded through splitmix32, deterministic per seed.
//
// The FGD artifact draws everything from Go's math/rand (an additive lagged Fibonacci generator)
// in one fixed order: pod shuffle, clone sampling, node-name permutation, then Random's picks.
// We keep that order but not the generator: a bit-exact port of Go's seeding table buys nothing,
// because the paper reports statistics over seeds (mean ± sd of 10 runs), and those are what we
// compare. xoshiro128** is small, fast on 32-bit integer arithmetic, and passes BigCrush; the same
// seed gives the same stream on every platform.

/** A deterministic pseudo-random stream. */
export class Random {
  private a: number
  private b: number
  private c: number
  private d: number

  /** A stream for an integer seed (any safe integer; negative and large seeds are fine). */
  constructor(seed: number) {
    // splitmix32 spreads the seed over the 128-bit state (never all zero).
    let s = (seed | 0) ^ Math.floor(seed / 2 ** 32)
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return result
  }

  /** A uniform number in [0, 1), in steps of 2^-32. */
  float(): number {
    return this.nextUint32() / 2 ** 32
  }

  /** A uniform integer in [0, n), without modulo bias (rejection sampling); n from 1 to 2^32. */
  int(n: number): number {
    if (!(n >= 1 && n <= 2 ** 32) || !Number.isInteger(n)) throw new RangeError(`Random.int: n must be an integer from 1 to 2^32, got ${n}`)
    const limit = 2 ** 32 - (2 ** 32 % n)
    for (;;) {
      const x = this.nextUint32()
      if (x < limit) return x % n
    }
  }

  /** Shuffles `items` in place (Fisher–Yates from the end, the order of Go's rand.Shuffle). */
  shuffle<T>(items: T[] | Int32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = items[i]
      items[i] = items[j]
      items[j] = t
    }
  }

  /** A uniformly random permutation of 0..n-1 (what Go's rand.Perm returns). */
  perm(n: number): Int32Array {
    const out = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const j = this.int(i + 1)
      out[i] = out[j]
      out[j] = i
    }
    return out
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
