/**
 * Seeded randomness for datasets: xoshiro128** 1.1 (Blackman & Vigna, https://prng.di.unimi.it/) for
 * uniform 32-bit words, seeded through SplitMix64, and normal deviates by a 256-layer ziggurat
 * (Marsaglia & Tsang, "The Ziggurat Method for Generating Random Variables", J. Stat. Softw. 5(8), 2000),
 * in the variant of Rust's `rand_distr`: the layer index and the abscissa come from disjoint bits of one
 * output word, which avoids the correlation Doornik (2005) found in the original (same bits for both).
 *
 * Everything is integer arithmetic or IEEE-754 double operations plus `Math.exp`/`Math.log`/`Math.sqrt`,
 * so the same seed gives the same numbers on every machine running the same V8 (V8 computes `exp`/`log`
 * with its own fdlibm port, not the platform libm).
 *
 * Streams: `createRng(seed, ...stream)` mixes a list of small integers into the seeding, so independent
 * sequences (the noise of capture 17, the symbols of emitter 3) come from one user `seed` without
 * overlapping in practice.
 */

const MASK64 = (1n << 64n) - 1n;

function splitmix64(state: bigint): [next: bigint, out: bigint] {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [next, z ^ (z >> 31n)];
}

/** A xoshiro128** generator. */
export class Rng {
  /** State words (uint32 stored in int32 slots). */
  readonly s = new Int32Array(4);

  /** Seeds the state directly (all-zero is refused: it is a fixed point). */
  constructor(s0: number, s1: number, s2: number, s3: number) {
    this.s[0] = s0;
    this.s[1] = s1;
    this.s[2] = s2;
    this.s[3] = s3;
    if ((s0 | s1 | s2 | s3) === 0) throw new RangeError('xoshiro128**: the all-zero state is invalid');
  }

  /** Next uniform uint32. */
  nextU32(): number {
    const s = this.s;
    const s0 = s[0] as number;
    const s1 = s[1] as number;
    let s2 = s[2] as number;
    let s3 = s[3] as number;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s[1] = s1 ^ s2;
    s[0] = s0 ^ s3;
    s[2] = s2 ^ t;
    s[3] = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  /** Uniform in the open interval (0, 1), 32-bit resolution. */
  uniform(): number {
    return (this.nextU32() + 0.5) * 2.3283064365386963e-10;
  }

  /** Uniform integer in [0, n) for 1 ≤ n ≤ 2^32 (rejection sampling: no modulo bias). */
  below(n: number): number {
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /**
   * Adds `scale ×` standard complex Gaussian noise (independent N(0, 1) real and imaginary parts) to
   * `count` interleaved complex values of `out` from complex index `start`; with `replace`, writes instead
   * of adding. Ziggurat: one 32-bit word per deviate on the fast path (~99% of draws): 8 bits choose
   * the layer, the other 24 give the abscissa.
   */
  gaussianComplex(
    out: Float32Array | Float64Array,
    start: number,
    count: number,
    scale: number,
    replace = false,
  ): void {
    // The state lives in locals in the hot loop; written back at the end (and around the rare slow path).
    const st = this.s;
    let s0 = st[0] as number;
    let s1 = st[1] as number;
    let s2 = st[2] as number;
    let s3 = st[3] as number;
    const X = ZIG_X;
    let i = start * 2;
    const end = (start + count) * 2;
    while (i < end) {
      const m = Math.imul(s1, 5);
      const a = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const layer = a & 0xff;
      // u uniform in (−1, 1) from the other 24 bits of the word (disjoint from the layer bits, so
      // independent of them); 2^-23 resolution, as fine as the float32 samples it becomes.
      const u = ((a >>> 8) + 0.5) * 1.1920928955078125e-7 - 1;
      let x = u * (X[layer] as number);
      if (!(Math.abs(x) < (X[layer + 1] as number))) {
        st[0] = s0;
        st[1] = s1;
        st[2] = s2;
        st[3] = s3;
        const r = this.#zigguratSlow(layer, u, x);
        s0 = st[0] as number;
        s1 = st[1] as number;
        s2 = st[2] as number;
        s3 = st[3] as number;
        if (r === undefined) continue; // rejected: draw again
        x = r;
      }
      if (replace) out[i] = x * scale;
      else out[i] = (out[i] as number) + x * scale;
      i++;
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
  }

  /** The ziggurat's edge and tail cases; undefined means "rejected, draw again". */
  #zigguratSlow(layer: number, u: number, x: number): number | undefined {
    if (layer === 0) {
      // The tail beyond R (Marsaglia 1964): exponential proposals, accepted against the normal density.
      let tx: number;
      let ty: number;
      do {
        tx = Math.log(this.uniform()) / ZIG_R;
        ty = Math.log(this.uniform());
      } while (-2 * ty < tx * tx);
      return u < 0 ? tx - ZIG_R : ZIG_R - tx;
    }
    const f0 = ZIG_F[layer] as number;
    const f1 = ZIG_F[layer + 1] as number;
    return f1 + (f0 - f1) * this.uniform() < Math.exp(-0.5 * x * x) ? x : undefined;
  }
}

/** Ziggurat tables for the standard normal, 256 layers of area ZIG_V each (f(x) = exp(−x²/2)). */
const ZIG_R = 3.654152885361008796;
const ZIG_V = 0.00492867323399;
const ZIG_X = new Float64Array(257);
const ZIG_F = new Float64Array(257);
ZIG_X[0] = ZIG_V / Math.exp(-0.5 * ZIG_R * ZIG_R);
ZIG_X[1] = ZIG_R;
for (let k = 2; k < 256; k++) {
  const p = ZIG_X[k - 1] as number;
  ZIG_X[k] = Math.sqrt(-2 * Math.log(ZIG_V / p + Math.exp(-0.5 * p * p)));
}
ZIG_X[256] = 0;
for (let k = 0; k < 257; k++) ZIG_F[k] = Math.exp(-0.5 * (ZIG_X[k] as number) ** 2);

/**
 * A generator for `seed` (a safe non-negative integer) and an optional stream path of small non-negative
 * integers. Seeding: SplitMix64 over the seed, then once more per stream element mixed in, then two
 * outputs make the four state words.
 *
 * @example
 * const noise = createRng(params.seed, STREAM_NOISE, captureIndex);
 */
export function createRng(seed: number, ...stream: number[]): Rng {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`rng: seed must be a safe non-negative integer`);
  let [state, out] = splitmix64(BigInt(seed));
  for (const x of stream) {
    if (!Number.isSafeInteger(x) || x < 0) throw new RangeError('rng: stream ids are non-negative integers');
    [state, out] = splitmix64((state ^ out ^ (BigInt(x) * 0xd1b54a32d192ed03n)) & MASK64);
  }
  const [, a] = splitmix64(state ^ out);
  const [, b] = splitmix64((state + 0x632be59bd9b4e019n) & MASK64);
  const w = (v: bigint, shift: bigint): number => Number((v >> shift) & 0xffffffffn) | 0;
  const words = [w(a, 0n), w(a, 32n), w(b, 0n), w(b, 32n)] as const;
  if ((words[0] | words[1] | words[2] | words[3]) === 0) return new Rng(1, 0, 0, 0);
  return new Rng(...words);
}
