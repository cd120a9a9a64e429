/**
 * Complex forward FFTs of power-of-two sizes on interleaved `[re0, im0, re1, im1, …]` Float64Arrays.
 *
 * Two implementations behind one shape: `fft.js` (radix-4, the installed package) and a plain iterative
 * radix-2 of ours. `createFft` returns the faster one as measured by `benchDatasets` on this project's
 * machines (see docs/datasets.md, "FFT"); both are kept so the measurement can be repeated.
 */
import FFTJS from 'fft.js';

/** A forward DFT of fixed size: `out[k] = Σ in[n]·e^{-2πi·kn/N}` (no scaling). */
export interface Fft {
  readonly size: number;
  /** `input` and `out` hold `2·size` numbers and must be different arrays. */
  forward(input: Float64Array, out: Float64Array): void;
}

/** Which implementation: `fftjs` (indutny/fft.js, radix-4) or `radix2` (ours). */
export type FftImpl = 'fftjs' | 'radix2';

/** The implementation `createFft` uses by default (the faster one measured). */
export const DEFAULT_FFT_IMPL: FftImpl = 'fftjs';

function checkSize(n: number): void {
  if (!Number.isSafeInteger(n) || n < 2 || (n & (n - 1)) !== 0) {
    throw new RangeError(`fft: size must be a power of two ≥ 2, got ${n}`);
  }
}

/** An FFT of `size` points. */
export function createFft(size: number, impl: FftImpl = DEFAULT_FFT_IMPL): Fft {
  checkSize(size);
  return impl === 'fftjs' ? createFftJs(size) : createRadix2(size);
}

function createFftJs(size: number): Fft {
  const f = new FFTJS(size);
  return {
    size,
    forward(input, out) {
      f.transform(out, input);
    },
  };
}

/** Iterative decimation-in-time radix-2: bit-reversal copy, then log2(N) butterfly passes. */
function createRadix2(size: number): Fft {
  const bits = Math.log2(size);
  const rev = new Uint32Array(size);
  for (let i = 0; i < size; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >>> b) & 1) << (bits - 1 - b);
    rev[i] = r;
  }
  const cos = new Float64Array(size / 2);
  const sin = new Float64Array(size / 2);
  for (let k = 0; k < size / 2; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / size);
    sin[k] = -Math.sin((2 * Math.PI * k) / size);
  }
  return {
    size,
    forward(input, out) {
      for (let i = 0; i < size; i++) {
        const j = (rev[i] as number) << 1;
        out[2 * i] = input[j] as number;
        out[2 * i + 1] = input[j + 1] as number;
      }
      for (let half = 1, step = size >>> 1; half < size; half <<= 1, step >>>= 1) {
        const span = half << 1;
        for (let start = 0; start < size; start += span) {
          for (let k = 0, t = 0; k < half; k++, t += step) {
            const wr = cos[t] as number;
            const wi = sin[t] as number;
            const a = (start + k) << 1;
            const b = (start + k + half) << 1;
            const br = out[b] as number;
            const bi = out[b + 1] as number;
            const xr = br * wr - bi * wi;
            const xi = br * wi + bi * wr;
            const ar = out[a] as number;
            const ai = out[a + 1] as number;
            out[a] = ar + xr;
            out[a + 1] = ai + xi;
            out[b] = ar - xr;
            out[b + 1] = ai - xi;
          }
        }
      }
    },
  };
}
