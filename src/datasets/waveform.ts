/**
 * Complex baseband waveforms: a carrier at an offset from the tuned center, unmodulated or modulated
 * (AM, FM, BPSK). Used by the `signal` dataset and by the emitters of the synthetic spectrum scene.
 *
 * Speed and exactness: the carrier is a rotating phasor (one complex multiply per sample) re-anchored
 * from an exact phase every {@link ANCHOR_SAMPLES} samples, so the error never accumulates past ~1e-13.
 * Exact phases come from `phaseCycles`, which keeps `frac(r·n)` accurate to ~1e-11 cycles for n up to
 * 2^53. Deterministic: only IEEE arithmetic and V8's own `Math.sin`/`Math.cos` (fdlibm ports).
 */

/** Samples between two exact re-anchorings of a phasor. */
export const ANCHOR_SAMPLES = 1024;

/** Modulations a waveform can carry. */
export type Modulation = 'tone' | 'am' | 'fm' | 'bpsk';

/** The modulations, in the order documented. */
export const MODULATIONS: readonly Modulation[] = ['tone', 'am', 'fm', 'bpsk'];

/** A waveform's description, in Hz and linear units. */
export interface WaveformSpec {
  modulation: Modulation;
  /** Carrier offset from the tuned center (Hz), |offset| < sampleRate / 2. */
  offset: number;
  sampleRate: number;
  /** Peak envelope amplitude (full scale = 1). */
  amplitude: number;
  /** Initial carrier phase (radians). */
  phase?: number;
  /** AM and FM: the modulating tone (Hz). */
  modulationFrequency?: number;
  /** AM: depth in [0, 1]. */
  modulationIndex?: number;
  /** FM: peak frequency deviation (Hz). */
  deviation?: number;
  /** BPSK: symbols per second. */
  symbolRate?: number;
  /** BPSK: symbol bits come from this key (a hash of key and symbol index, so any range can be drawn). */
  symbolKey?: number;
}

/** Adds a waveform into interleaved complex buffers. */
export interface Waveform {
  /**
   * Adds samples with absolute indices `n0 … n0 + count − 1` into `out` from complex index `start`.
   * Independent calls may cover any ranges in any order.
   */
  add(out: Float32Array | Float64Array, start: number, count: number, n0: number): void;
}

/** `frac(r·n)` in cycles, accurate for large `n` (splits n so no product loses bits). */
export function phaseCycles(r: number, n: number): number {
  const hi = Math.floor(n / 65536);
  const lo = n - hi * 65536;
  const rHi = r * 65536; // exact: scaling by a power of two
  const a = rHi - Math.floor(rHi);
  let p = a * hi;
  p -= Math.floor(p);
  let q = r * lo;
  q -= Math.floor(q);
  const s = p + q;
  return s - Math.floor(s);
}

/** Mean power of the waveform (amplitude² for constant-envelope kinds). */
export function waveformPower(spec: WaveformSpec): number {
  const a2 = spec.amplitude * spec.amplitude;
  if (spec.modulation !== 'am') return a2;
  const m = spec.modulationIndex ?? 0;
  return (a2 * (1 + (m * m) / 2)) / ((1 + m) * (1 + m));
}

/** Occupied bandwidth (Hz): 0 for a tone, 2·fm for AM, Carson's 2(Δ+fm) for FM, the 2·Rs main lobe for BPSK. */
export function waveformBandwidth(spec: WaveformSpec): number {
  switch (spec.modulation) {
    case 'tone':
      return 0;
    case 'am':
      return 2 * (spec.modulationFrequency ?? 0);
    case 'fm':
      return 2 * ((spec.deviation ?? 0) + (spec.modulationFrequency ?? 0));
    case 'bpsk':
      return 2 * (spec.symbolRate ?? 0);
  }
}

/** A 32-bit integer hash (Chris Wellons' lowbias32) — counter-based randomness for BPSK symbols. */
function hash32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** +1 or −1 for symbol `k` of stream `key`. */
export function bpskSymbol(key: number, k: number): number {
  const h = hash32((hash32(key >>> 0) ^ hash32(k % 4294967296) ^ Math.floor(k / 4294967296)) >>> 0);
  return (h & 1) === 0 ? 1 : -1;
}

/** Builds the waveform adder for a spec. */
export function createWaveform(spec: WaveformSpec): Waveform {
  const r = spec.offset / spec.sampleRate;
  const phase0 = (spec.phase ?? 0) / (2 * Math.PI);
  const A = spec.amplitude;
  const wr = Math.cos(2 * Math.PI * r);
  const wi = Math.sin(2 * Math.PI * r);
  const rm = (spec.modulationFrequency ?? 0) / spec.sampleRate;
  const vr = Math.cos(2 * Math.PI * rm);
  const vi = Math.sin(2 * Math.PI * rm);
  const m = spec.modulationIndex ?? 0;
  const beta = rm > 0 ? (spec.deviation ?? 0) / (spec.modulationFrequency ?? 1) : 0;
  const symbolsPerSample = (spec.symbolRate ?? 0) / spec.sampleRate;
  const key = spec.symbolKey ?? 0;
  const modulation = spec.modulation;

  return {
    add(out, start, count, n0) {
      let i = start * 2;
      let done = 0;
      while (done < count) {
        const run = Math.min(ANCHOR_SAMPLES, count - done);
        const n = n0 + done;
        const c = 2 * Math.PI * (phaseCycles(r, n) + phase0);
        let zr = A * Math.cos(c);
        let zi = A * Math.sin(c);
        if (modulation === 'tone') {
          for (let k = 0; k < run; k++) {
            out[i] = (out[i] as number) + zr;
            out[i + 1] = (out[i + 1] as number) + zi;
            i += 2;
            const t = zr * wr - zi * wi;
            zi = zr * wi + zi * wr;
            zr = t;
          }
        } else if (modulation === 'am' || modulation === 'fm') {
          const d = 2 * Math.PI * phaseCycles(rm, n);
          let ur = Math.cos(d);
          let ui = Math.sin(d);
          if (modulation === 'am') {
            const g = 1 / (1 + m);
            for (let k = 0; k < run; k++) {
              const e = (1 + m * ur) * g;
              out[i] = (out[i] as number) + zr * e;
              out[i + 1] = (out[i + 1] as number) + zi * e;
              i += 2;
              const t = zr * wr - zi * wi;
              zi = zr * wi + zi * wr;
              zr = t;
              const s = ur * vr - ui * vi;
              ui = ur * vi + ui * vr;
              ur = s;
            }
          } else {
            for (let k = 0; k < run; k++) {
              const th = beta * ui; // β·sin(2π fm t)
              const cr = Math.cos(th);
              const ci = Math.sin(th);
              out[i] = (out[i] as number) + (zr * cr - zi * ci);
              out[i + 1] = (out[i + 1] as number) + (zr * ci + zi * cr);
              i += 2;
              const t = zr * wr - zi * wi;
              zi = zr * wi + zi * wr;
              zr = t;
              const s = ur * vr - ui * vi;
              ui = ur * vi + ui * vr;
              ur = s;
            }
          }
        } else {
          let sym = Math.floor(n * symbolsPerSample);
          let b = bpskSymbol(key, sym);
          for (let k = 0; k < run; k++) {
            const s = Math.floor((n + k) * symbolsPerSample);
            if (s !== sym) {
              sym = s;
              b = bpskSymbol(key, sym);
            }
            out[i] = (out[i] as number) + zr * b;
            out[i + 1] = (out[i + 1] as number) + zi * b;
            i += 2;
            const t = zr * wr - zi * wi;
            zi = zr * wi + zi * wr;
            zr = t;
          }
        }
        done += run;
      }
    },
  };
}
