/** Small statistics and unit helpers for the benchmark. */

/** The `p`-th percentile (0–100) of `xs` by linear interpolation; NaN for an empty list. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return a + (b - a) * (rank - lo);
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** Decimal megabytes per second (the unit DESIGN.md's ~125 MB/s is in). */
export function mbPerSec(bytes: number, ms: number): number {
  return ms > 0 ? bytes / 1e6 / (ms / 1000) : Number.NaN;
}

export const MiB = 1024 * 1024;

/** Rounds for reports: 3 significant digits, integers above 100. */
export function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  if (Math.abs(x) >= 100) return Math.round(x);
  return Number(x.toPrecision(3));
}

/**
 * A latency histogram with 10 µs buckets up to 10 s (linear, fine enough for p99 of a few ms), cheap to
 * record into from a hot loop and to merge across processes.
 */
export class Histogram {
  static readonly BUCKET_US = 10;
  static readonly BUCKETS = 1_000_000;
  counts = new Uint32Array(Histogram.BUCKETS + 1);
  n = 0;
  sumMs = 0;
  maxMs = 0;

  record(ms: number): void {
    const i = Math.min(Histogram.BUCKETS, Math.max(0, Math.floor((ms * 1000) / Histogram.BUCKET_US)));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.n++;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** The `p`-th percentile in ms (upper edge of its bucket). */
  percentile(p: number): number {
    if (this.n === 0) return Number.NaN;
    const want = Math.ceil((p / 100) * this.n);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= want) return ((i + 1) * Histogram.BUCKET_US) / 1000;
    }
    return this.maxMs;
  }
}
