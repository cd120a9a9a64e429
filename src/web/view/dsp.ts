/**
 * The numbers behind the plots, kept apart from the DOM so Node tests can check them: a signal's spectrum
 * (Welch, Hann window, fft.js — the FFT package the datasets use), decimation for plots of many points,
 * a robust dB range and the waterfall's colours.
 */
import FFT from 'fft.js';

/** Largest FFT the viewer computes for a signal's spectrum. */
export const MAX_VIEW_FFT = 4096;
/** Most segments averaged: enough to smooth the noise, few enough to stay quick on long signals. */
export const MAX_VIEW_SEGMENTS = 64;

/** A spectrum as the viewer plots it: absolute frequencies (Hz, ascending) and power (dB). */
export interface ViewSpectrum {
  frequencies: Float64Array;
  powerDb: Float64Array;
}

/** The largest power of two ≤ `n` (and ≥ 2). */
function pow2AtMost(n: number): number {
  let p = 2;
  while (p * 2 <= n) p *= 2;
  return p;
}

/**
 * Power spectrum of complex samples `iq` (interleaved): up to {@link MAX_VIEW_SEGMENTS} Hann-windowed
 * segments of `fftSize` (default: the largest power of two ≤ min(samples, 4096)) spread over the whole
 * signal, averaged, fft-shifted, in dB relative to full scale (a full-scale tone reads 0 dB).
 */
export function signalSpectrum(
  iq: Float32Array | Float64Array,
  sampleRate: number,
  centerFrequency: number,
  fftSize?: number,
): ViewSpectrum {
  const samples = Math.floor(iq.length / 2);
  const n = fftSize ?? pow2AtMost(Math.max(2, Math.min(samples, MAX_VIEW_FFT)));
  const fft = new FFT(n);
  const window = new Float64Array(n);
  let wsum = 0;
  for (let k = 0; k < n; k++) {
    window[k] = 0.5 - 0.5 * Math.cos((2 * Math.PI * k) / n);
    wsum += window[k] as number;
  }
  const segments = Math.max(1, Math.min(MAX_VIEW_SEGMENTS, Math.floor(samples / n)));
  const hop = segments > 1 ? Math.floor((samples - n) / (segments - 1)) : 0;
  const input = new Float64Array(2 * n);
  const out = new Float64Array(2 * n);
  const acc = new Float64Array(n);
  for (let s = 0; s < segments; s++) {
    const start = s * hop;
    input.fill(0);
    for (let k = 0; k < n && start + k < samples; k++) {
      const w = window[k] as number;
      input[2 * k] = (iq[2 * (start + k)] as number) * w;
      input[2 * k + 1] = (iq[2 * (start + k) + 1] as number) * w;
    }
    fft.transform(out, input);
    for (let k = 0; k < n; k++)
      acc[k] = (acc[k] as number) + (out[2 * k] as number) ** 2 + (out[2 * k + 1] as number) ** 2;
  }
  const frequencies = new Float64Array(n);
  const powerDb = new Float64Array(n);
  const scale = 1 / (segments * wsum * wsum);
  for (let j = 0; j < n; j++) {
    const k = (j + n / 2) % n; // fft shift: bin n/2 (−fs/2) first
    frequencies[j] = centerFrequency + ((j - n / 2) * sampleRate) / n;
    powerDb[j] = 10 * Math.log10(Math.max((acc[k] as number) * scale, 1e-30));
  }
  return { frequencies, powerDb };
}

/** Indices of at most `max` points spread evenly over `0 … length-1` (all of them when they fit). */
export function evenIndices(length: number, max: number): Uint32Array {
  const count = Math.min(length, Math.max(0, Math.floor(max)));
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = count === length ? i : Math.floor((i * length) / count);
  return out;
}

/** Index of the largest finite value (−1 when there is none). */
export function argMax(values: ArrayLike<number>): number {
  let best = -1;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v > max && Number.isFinite(v)) {
      max = v;
      best = i;
    }
  }
  return best;
}

/**
 * The dB range a waterfall's colours span: from the 2nd percentile (the noise floor shows as the darkest
 * colour without one deep null stretching the scale) to the largest value. Non-finite values are ignored;
 * a flat input gets a 1 dB range.
 */
export function dbRange(values: ArrayLike<number>): { lo: number; hi: number } {
  const step = Math.max(1, Math.floor(values.length / 65536));
  const sample: number[] = [];
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    if (v > hi) hi = v;
    if (i % step === 0) sample.push(v);
  }
  if (sample.length === 0) return { lo: 0, hi: 1 };
  sample.sort((a, b) => a - b);
  const lo = sample[Math.floor(0.02 * (sample.length - 1))] as number;
  return hi - lo < 1 ? { lo, hi: lo + 1 } : { lo, hi };
}

/** Colour stops of the waterfall (dark blue → teal → green → yellow, perceptually ordered like viridis). */
const STOPS: ReadonlyArray<readonly [number, number, number]> = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** RGB of `t` ∈ [0, 1] on the waterfall's colour scale (clamped). */
export function colorAt(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS[i] as readonly [number, number, number];
  const b = STOPS[i + 1] as readonly [number, number, number];
  return [0, 1, 2].map((c) => Math.round((a[c] as number) + f * ((b[c] as number) - (a[c] as number)))) as [
    number,
    number,
    number,
  ];
}

/**
 * The RGBA pixels of a waterfall `width` × `height` from `powerDb` [rows, bins] (row 0 = first time, drawn
 * at the top): each pixel takes the maximum of the cells it covers, so a narrow strong line never
 * disappears when the image is smaller than the data.
 */
export function waterfallPixels(
  powerDb: ArrayLike<number>,
  rows: number,
  bins: number,
  width: number,
  height: number,
  range: { lo: number; hi: number },
): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * height * 4);
  const lut = Array.from({ length: 256 }, (_, i) => colorAt(i / 255));
  for (let y = 0; y < height; y++) {
    const r0 = Math.floor((y * rows) / height);
    const r1 = Math.max(r0 + 1, Math.floor(((y + 1) * rows) / height));
    for (let x = 0; x < width; x++) {
      const b0 = Math.floor((x * bins) / width);
      const b1 = Math.max(b0 + 1, Math.floor(((x + 1) * bins) / width));
      let v = -Infinity;
      for (let r = r0; r < r1; r++) {
        for (let b = b0; b < b1; b++) {
          const d = powerDb[r * bins + b] as number;
          if (d > v) v = d;
        }
      }
      const [red, green, blue] = lut[Math.round(((v - range.lo) / (range.hi - range.lo)) * 255)] ??
        lut[v > range.hi ? 255 : 0] ?? [0, 0, 0];
      const p = (y * width + x) * 4;
      out[p] = red;
      out[p + 1] = green;
      out[p + 2] = blue;
      out[p + 3] = 255;
    }
  }
  return out;
}
