/**
 * Power spectral density by Welch's method (P. Welch, IEEE Trans. Audio Electroacoust. 15(2), 1967):
 * segments of `fftSize` complex samples overlapping by half, each multiplied by a window, transformed,
 * `|X|²` averaged over segments, scaled to a density.
 *
 * Matches `scipy.signal.welch(x, fs, window=<name>, nperseg=N, noverlap=N/2, detrend=False,
 * return_onesided=False, scaling='density')` followed by `fftshift`: windows are periodic ("DFT-even",
 * as `scipy.signal.get_window` makes them), the scale is `1 / (fs · Σw²)`, the mean over segments.
 * No detrending: a DC component is part of a radio spectrum.
 */
import { createFft, type Fft } from './fft.js';

/** Windows offered for spectra. */
export type WindowName = 'hann' | 'hamming' | 'blackman' | 'rect';

/** The window names, in the order documented. */
export const WINDOWS: readonly WindowName[] = ['hann', 'hamming', 'blackman', 'rect'];

/** A periodic window of `n` points (generalised cosine windows; `rect` is all ones). */
export function makeWindow(name: WindowName, n: number): Float64Array {
  const coeffs: Record<WindowName, readonly number[]> = {
    hann: [0.5, 0.5],
    hamming: [0.54, 0.46],
    blackman: [0.42, 0.5, 0.08],
    rect: [1],
  };
  const a = coeffs[name];
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let k = 0; k < a.length; k++)
      v += (k % 2 === 0 ? 1 : -1) * (a[k] as number) * Math.cos((2 * Math.PI * k * i) / n);
    w[i] = v;
  }
  return w;
}

/** Equivalent noise bandwidth of a window, in bins: `N·Σw² / (Σw)²` (1 for rect, 1.5 for hann). */
export function windowEnbwBins(w: Float64Array): number {
  let s1 = 0;
  let s2 = 0;
  for (const v of w) {
    s1 += v;
    s2 += v * v;
  }
  return (w.length * s2) / (s1 * s1);
}

/** Floor applied before taking dB, so silence gives a finite −300 dB. */
export const PSD_FLOOR = 1e-30;

/**
 * A streaming Welch estimator: push complex samples in any amounts; every complete segment (hop
 * `fftSize/2`) is windowed, transformed and accumulated. Memory is O(fftSize).
 */
export class WelchEstimator {
  readonly fftSize: number;
  readonly sampleRate: number;
  readonly window: Float64Array;
  /** Segments accumulated so far. */
  segments = 0;
  readonly #fft: Fft;
  readonly #seg: Float64Array;
  readonly #tmp: Float64Array;
  readonly #spec: Float64Array;
  readonly #acc: Float64Array;
  readonly #maxSegments: number;
  #fill = 0;
  readonly #sumW2: number;

  constructor(opts: { fftSize: number; sampleRate: number; window: WindowName; maxSegments?: number }) {
    this.fftSize = opts.fftSize;
    this.sampleRate = opts.sampleRate;
    this.window = makeWindow(opts.window, opts.fftSize);
    this.#fft = createFft(opts.fftSize);
    this.#seg = new Float64Array(2 * opts.fftSize);
    this.#tmp = new Float64Array(2 * opts.fftSize);
    this.#spec = new Float64Array(2 * opts.fftSize);
    this.#acc = new Float64Array(opts.fftSize);
    this.#maxSegments = opts.maxSegments ?? Infinity;
    let s2 = 0;
    for (const v of this.window) s2 += v * v;
    this.#sumW2 = s2;
  }

  /** True once `maxSegments` segments are in: further input is ignored. */
  get full(): boolean {
    return this.segments >= this.#maxSegments;
  }

  /** Feeds `count` complex samples of interleaved `data` from complex index `start`. */
  push(data: Float32Array | Float64Array, start = 0, count = data.length / 2 - start): void {
    const n = this.fftSize;
    const hop = n / 2;
    const seg = this.#seg;
    let src = start * 2;
    let left = count;
    while (left > 0 && !this.full) {
      if (this.#fill === 0 && left >= n) {
        // Whole segments inside the input: window them in place, no copy (the common case).
        this.#segment(data, src);
        src += n; // hop: N/2 complex samples = N numbers
        left -= hop;
        if (left < n) {
          // Keep the overlap half for the next push.
          for (let k = 0; k < n; k++) seg[k] = data[src + k] as number;
          src += n;
          left -= hop;
          this.#fill = hop;
        }
        continue;
      }
      const take = Math.min(left, n - this.#fill);
      const dst = this.#fill * 2;
      for (let k = 0; k < take * 2; k++) seg[dst + k] = data[src + k] as number;
      src += take * 2;
      left -= take;
      this.#fill += take;
      if (this.#fill === n) {
        this.#segment(seg, 0);
        seg.copyWithin(0, n, 2 * n); // keep the second half: 50% overlap
        this.#fill = hop;
      }
    }
  }

  #segment(data: Float32Array | Float64Array, at: number): void {
    const n = this.fftSize;
    const w = this.window;
    const tmp = this.#tmp;
    for (let i = 0; i < n; i++) {
      const wv = w[i] as number;
      tmp[2 * i] = (data[at + 2 * i] as number) * wv;
      tmp[2 * i + 1] = (data[at + 2 * i + 1] as number) * wv;
    }
    this.#fft.forward(tmp, this.#spec);
    const spec = this.#spec;
    const acc = this.#acc;
    for (let k = 0; k < n; k++) {
      const re = spec[2 * k] as number;
      const im = spec[2 * k + 1] as number;
      acc[k] = (acc[k] as number) + re * re + im * im;
    }
    this.segments++;
  }

  /**
   * The density (linear, full scale²/Hz), fft-shifted: index `i` is frequency `(i − N/2)·fs/N` from the
   * tuned center. Throws if no segment was complete.
   */
  density(): Float64Array {
    if (this.segments === 0) throw new RangeError('welch: fewer samples than one segment');
    const n = this.fftSize;
    const scale = 1 / (this.segments * this.sampleRate * this.#sumW2);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.#acc[(i + n / 2) % n] as number) * scale;
    return out;
  }

  /** Resets to no segments, ready for another capture. */
  reset(): void {
    this.#acc.fill(0);
    this.#fill = 0;
    this.segments = 0;
  }
}

/** Number of Welch segments (hop N/2) in `samples` samples. */
export function welchSegments(samples: number, fftSize: number): number {
  return samples < fftSize ? 0 : Math.floor((samples - fftSize) / (fftSize / 2)) + 1;
}

/** Samples needed for `segments` segments of `fftSize` with 50% overlap. */
export function welchSamples(segments: number, fftSize: number): number {
  return fftSize + (segments - 1) * (fftSize / 2);
}

/** `10·log10(max(psd, PSD_FLOOR))`. */
export function toDb(psd: number): number {
  return 10 * Math.log10(psd > PSD_FLOOR ? psd : PSD_FLOOR);
}
