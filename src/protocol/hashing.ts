/**
 * The incremental SHA-256 the protocol needs for the whole-file check (docs/protocol.md §3.4) and resume
 * prefixes (§3.2, §4). It is injected: Node passes node:crypto's (see {@link wrapDigestHash}); a browser
 * can use {@link createSha256}, a pure implementation (Web Crypto has no incremental digest).
 */

/** An incremental hash. */
export interface Hash {
  update(data: Uint8Array): void;
  /** The digest as lowercase hex. The hash must not be updated afterwards. */
  digest(): string;
  /** An independent copy of the current state. */
  copy(): Hash;
}

/** Makes a fresh SHA-256 {@link Hash}. */
export type HashFactory = () => Hash;

/** The shape of node:crypto's `Hash` that {@link wrapDigestHash} adapts (structural: no Node import). */
export interface DigestHashLike {
  update(data: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
  copy(): DigestHashLike;
}

/**
 * Adapts a node:crypto-style hash object to {@link Hash}.
 *
 * @example
 * import { createHash } from 'node:crypto';
 * const createSha256: HashFactory = () => wrapDigestHash(createHash('sha256'));
 */
export function wrapDigestHash(inner: DigestHashLike): Hash {
  return {
    update(data) {
      inner.update(data);
    },
    digest: () => inner.digest('hex'),
    copy: () => wrapDigestHash(inner.copy()),
  };
}

/** `true` when `s` is 64 lowercase hex digits (the form digests take on the wire, §3). */
export function isSha256Hex(s: string): boolean {
  return SHA256_HEX.test(s);
}
const SHA256_HEX = /^[0-9a-f]{64}$/;

// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
// FIPS 180-4 §5.3.3: the initial hash value.
const H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** A pure SHA-256 (FIPS 180-4), for runtimes without node:crypto. */
class Sha256 implements Hash {
  private readonly h: Uint32Array;
  private readonly block: Uint8Array;
  private readonly w = new Uint32Array(64);
  private blockLen: number;
  private total: number;
  private done = false;

  constructor(from?: Sha256) {
    this.h = from ? from.h.slice() : Uint32Array.from(H0);
    this.block = from ? from.block.slice() : new Uint8Array(64);
    this.blockLen = from ? from.blockLen : 0;
    this.total = from ? from.total : 0;
  }

  update(data: Uint8Array): void {
    if (this.done) throw new Error('sha256: update after digest');
    this.total += data.length;
    let i = 0;
    if (this.blockLen > 0) {
      const take = Math.min(64 - this.blockLen, data.length);
      this.block.set(data.subarray(0, take), this.blockLen);
      this.blockLen += take;
      i = take;
      if (this.blockLen < 64) return;
      this.compress(this.block, 0);
      this.blockLen = 0;
    }
    for (; i + 64 <= data.length; i += 64) this.compress(data, i);
    if (i < data.length) {
      this.block.set(data.subarray(i), 0);
      this.blockLen = data.length - i;
    }
  }

  digest(): string {
    if (this.done) throw new Error('sha256: digest called twice');
    this.done = true;
    const bits = this.total * 8;
    const b = this.block;
    b[this.blockLen] = 0x80;
    b.fill(0, this.blockLen + 1);
    if (this.blockLen + 1 > 56) {
      this.compress(b, 0);
      b.fill(0);
    }
    const hi = Math.floor(bits / 0x1_0000_0000);
    const lo = bits >>> 0;
    b[56] = hi >>> 24;
    b[57] = hi >>> 16;
    b[58] = hi >>> 8;
    b[59] = hi;
    b[60] = lo >>> 24;
    b[61] = lo >>> 16;
    b[62] = lo >>> 8;
    b[63] = lo;
    this.compress(b, 0);
    let out = '';
    for (const word of this.h) out += word.toString(16).padStart(8, '0');
    return out;
  }

  copy(): Hash {
    if (this.done) throw new Error('sha256: copy after digest');
    return new Sha256(this);
  }

  // FIPS 180-4 §6.2.2. Indices are in bounds by construction; `!` only satisfies noUncheckedIndexedAccess.
  private compress(d: Uint8Array, p: number): void {
    const w = this.w;
    for (let t = 0; t < 16; t++, p += 4) {
      w[t] = (d[p]! << 24) | (d[p + 1]! << 16) | (d[p + 2]! << 8) | d[p + 3]!;
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15]!;
      const y = w[t - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0;
    }
    const h = this.h;
    let a = h[0]!;
    let b = h[1]!;
    let c = h[2]!;
    let e = h[4]!;
    let dd = h[3]!;
    let f = h[5]!;
    let g = h[6]!;
    let hh = h[7]!;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[t]! + w[t]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (dd + t1) | 0;
      dd = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + b;
    h[2] = h[2]! + c;
    h[3] = h[3]! + dd;
    h[4] = h[4]! + e;
    h[5] = h[5]! + f;
    h[6] = h[6]! + g;
    h[7] = h[7]! + hh;
  }
}

/** A pure-JavaScript SHA-256 {@link HashFactory} (browser fallback; in Node prefer node:crypto). */
export const createSha256: HashFactory = () => new Sha256();
