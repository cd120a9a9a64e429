/**
 * The spectrogram core: complex64 IQ blocks in, spectrogram rows out (docs/datasets.md, "spectrogram",
 * "The spectrogram core"). Shared by the `spectrogram` request type (synthetic scenes, recordings) and by
 * live capture, which pushes the IQ it captured.
 *
 * A row covers `rowSamples` consecutive samples (rows do not overlap); its value is the Welch density of
 * those samples (welch.ts: `fftSize`-point segments overlapping by half, periodic window, `|X|²`
 * averaged, scaled by `1/(fs·Σw²)`, fft-shifted), cut to the bins `firstBin … firstBin + bins − 1`,
 * in dB (`10·log10(max(psd, 1e-30))`) plus `calibrationDb`. Samples after the last complete row are
 * dropped.
 *
 * @example
 * const sg = new SpectrogramBuilder({ sampleRate: 2.4e6, fftSize: 1024, window: 'hann', rowSamples: 24_000 });
 * for await (const block of capture) for (const row of sg.push(block)) await sink(row);
 */
import { toDb, welchSegments, WelchEstimator, type WindowName } from './welch.js';

/** How rows are made. */
export interface SpectrogramConfig {
  /** Complex samples per second of the IQ pushed. */
  sampleRate: number;
  /** FFT points per segment (a power of two). */
  fftSize: number;
  window: WindowName;
  /** Samples per row (≥ fftSize): the time resolution is rowSamples / sampleRate. */
  rowSamples: number;
  /** First fft-shifted bin kept (default 0). */
  firstBin?: number;
  /** Bins kept per row (default fftSize − firstBin). */
  bins?: number;
  /** Added to every dB value (a receiver's calibration: dBFS → dBm). Default 0. */
  calibrationDb?: number;
}

/** One finished row. */
export interface SpectrogramRow {
  /** Row number from 0. */
  index: number;
  /** `bins` values in dB (dBFS/Hz, or dBm/Hz with a calibration), increasing frequency. */
  power: Float32Array;
}

/**
 * Turns IQ pushed in any block sizes into rows. Memory: O(fftSize) plus the rows returned.
 */
export class SpectrogramBuilder {
  readonly config: Required<SpectrogramConfig>;
  /** Welch segments averaged into each row. */
  readonly segmentsPerRow: number;
  readonly #welch: WelchEstimator;
  #inRow = 0;
  #rows = 0;

  constructor(config: SpectrogramConfig) {
    const firstBin = config.firstBin ?? 0;
    const bins = config.bins ?? config.fftSize - firstBin;
    if (!(config.rowSamples >= config.fftSize))
      throw new RangeError('spectrogram: rowSamples must be at least fftSize');
    if (firstBin < 0 || bins < 1 || firstBin + bins > config.fftSize)
      throw new RangeError('spectrogram: bins out of the FFT');
    this.config = { ...config, firstBin, bins, calibrationDb: config.calibrationDb ?? 0 };
    this.segmentsPerRow = welchSegments(config.rowSamples, config.fftSize);
    this.#welch = new WelchEstimator({
      fftSize: config.fftSize,
      sampleRate: config.sampleRate,
      window: config.window,
      maxSegments: this.segmentsPerRow,
    });
  }

  /** Rows finished so far. */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Pushes `count` complex samples of interleaved `iq` (re, im, …) from complex index `start`; returns the
   * rows they complete (often none, maybe several).
   */
  push(iq: Float32Array | Float64Array, start = 0, count = iq.length / 2 - start): SpectrogramRow[] {
    const out: SpectrogramRow[] = [];
    const { rowSamples } = this.config;
    let at = start;
    let left = count;
    while (left > 0) {
      const n = Math.min(left, rowSamples - this.#inRow);
      this.#welch.push(iq, at, n);
      this.#inRow += n;
      at += n;
      left -= n;
      if (this.#inRow === rowSamples) out.push(this.#finishRow());
    }
    return out;
  }

  #finishRow(): SpectrogramRow {
    const { firstBin, bins, calibrationDb } = this.config;
    const psd = this.#welch.density();
    const power = new Float32Array(bins);
    for (let k = 0; k < bins; k++) power[k] = toDb(psd[firstBin + k] as number) + calibrationDb;
    this.#welch.reset();
    this.#inRow = 0;
    return { index: this.#rows++, power };
  }
}

/**
 * Rows from a stream of complex64 blocks (interleaved Float32Array, any sizes): the async form of
 * {@link SpectrogramBuilder} for a capture loop.
 */
export async function* spectrogramRows(
  blocks: AsyncIterable<Float32Array> | Iterable<Float32Array>,
  config: SpectrogramConfig,
): AsyncGenerator<SpectrogramRow> {
  const sg = new SpectrogramBuilder(config);
  for await (const block of blocks) yield* sg.push(block);
}
