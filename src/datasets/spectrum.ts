/**
 * The `spectrum` request type: power spectral density (dB) over [frequency_start, frequency_end] by
 * Welch's method, as `frequencies` (Hz, float64), `power_db` (float32) and `meta` (JSON) in an `.npz`
 * (docs/datasets.md, "spectrum").
 *
 * Synthetic source: the scene of scene.ts, observed the way an SDR sweep does it — tuned captures of
 * `sample_rate` bandwidth, each analysed with `averages` Welch segments, keeping the middle
 * {@link USABLE_FRACTION} of each capture's bins (the edges of a real front end roll off), stitched on
 * one uniform grid `frequency_start + j·sample_rate/fft_size`.
 * Recording source: Welch over a time slice of one SigMF capture, cut to the requested span, which must
 * lie within the captured band.
 */
import { createHash } from 'node:crypto';
import { checkAborted } from './iq-output.js';
import { npzArchiveBytes, writeNpzWithMeta } from './npz-writer.js';
import {
  DEFAULT_DATETIME,
  describeNumber,
  describeString,
  optionalDatetime,
  optionalEnum,
  optionalNumber,
  optionalString,
  paramError,
  readParams,
  readSeed,
  requireNumber,
  SEED_RULE,
  type NumberRule,
  type RawParams,
} from './params.js';
import { emitterKeys, NOISE_DENSITY_DB, placeEmitters, SceneCapture, type Emitter } from './scene.js';
import { captureAt, readRecordingSync, RecordingReader, type RecordingInfo } from './sigmf.js';
import { GENERATOR } from './signal.js';
import { readNpzOnlyFormat, SIGMF_VERSION, sdrlinkExtensions } from './sigmf-out.js';
import { CALIBRATION_RULE, unitsOf } from './units.js';
import {
  DatasetError,
  type Dataset,
  type GenerateOptions,
  type GenerateResult,
  type ParamDescription,
} from './types.js';
import {
  makeWindow,
  PSD_FLOOR,
  toDb,
  WelchEstimator,
  welchSamples,
  welchSegments,
  windowEnbwBins,
  WINDOWS,
  type WindowName,
} from './welch.js';

/** Share of each sweep capture's bandwidth that is kept (the middle). */
export const USABLE_FRACTION = 0.8;
/** fft_size bounds (powers of two). */
export const MIN_FFT_SIZE = 16;
export const MAX_FFT_SIZE = 1 << 20;
export const DEFAULT_FFT_SIZE = 1024;
export const DEFAULT_AVERAGES = 16;
export const MAX_AVERAGES = 100_000;
export const DEFAULT_EMITTERS = 4;
export const MAX_EMITTERS = 64;

const MAX_FREQUENCY = 1e12;
const MAX_SAMPLE_RATE = 1e11;
const CHUNK_SAMPLES = 1 << 16;
const OUT_BLOCK = 1 << 16;

/** How a span is swept: a uniform grid of `bins` bins of `binHz`, from `captures` tuned captures. */
export interface SweepPlan {
  binHz: number;
  /** Bins in the output (J). */
  bins: number;
  /** Tuned captures (K). */
  captures: number;
  /** Bins kept per capture (M), except possibly the last. */
  keep: number;
  /** Index (fft-shifted) of the first kept bin in a capture (L). */
  left: number;
  fftSize: number;
  start: number;
}

/** Plans the sweep of [start, end] at `sampleRate` with `fftSize`-point FFTs. */
export function planSweep(start: number, end: number, sampleRate: number, fftSize: number): SweepPlan {
  const binHz = sampleRate / fftSize;
  const bins = Math.floor((end - start) / binHz + 1e-9) + 1;
  const keep = Math.floor(USABLE_FRACTION * fftSize);
  const captures = Math.ceil(bins / keep);
  const left = captures === 1 ? Math.floor((fftSize - bins) / 2) : Math.floor((fftSize - keep) / 2);
  return { binHz, bins, captures, keep, left, fftSize, start };
}

/** Tuned center of capture `k`: its fft-shifted bin `left` lands on output bin `k·keep`. */
export function captureCenter(plan: SweepPlan, k: number): number {
  return plan.start + (k * plan.keep - plan.left + plan.fftSize / 2) * plan.binHz;
}

interface CommonSpectrumParams {
  frequency_start: number;
  frequency_end: number;
  sample_rate: number;
  fft_size: number;
  window: WindowName;
  datetime: string;
  /** dB from dBFS to dBm (request or provider); null: uncalibrated, dBFS/Hz. */
  calibration_db: number | null;
  /** Derived: output bins. */
  bins: number;
  /** Derived: FFT points computed in total. */
  fftPoints: number;
}

/** Validated parameters of a synthetic spectrum. */
export interface SyntheticSpectrumParams extends CommonSpectrumParams {
  source: 'synthetic';
  averages: number;
  emitters: number;
  seed: number;
  plan: SweepPlan;
}

/** Validated parameters of a spectrum of a recording. */
export interface RecordingSpectrumParams extends CommonSpectrumParams {
  source: 'recording';
  recording: string;
  offset: number;
  duration: number;
  /** Segments averaged (all in the slice unless `averages` capped them). */
  averages: number;
  info: RecordingInfo;
  startSample: number;
  inputSamples: number;
  centerFrequency: number;
  /** First fft-shifted bin kept. */
  firstBin: number;
}

/** Validated `spectrum` parameters. */
export type SpectrumParams = SyntheticSpectrumParams | RecordingSpectrumParams;

/** Options of the `spectrum` dataset. */
export interface SpectrumDatasetOptions {
  recordingsDir?: string;
  maxOutputBytes: number;
  /** Most FFT points one request may compute (captures × averages × fft_size). */
  maxFftPoints: number;
  /** The provider's calibration, used when a request gives no `calibration_db`. */
  calibrationDb?: number;
}

const SYNTHETIC_KEYS = [
  'frequency_start',
  'frequency_end',
  'sample_rate',
  'fft_size',
  'averages',
  'window',
  'emitters',
  'seed',
  'datetime',
  'recording',
  'calibration_db',
  'format',
] as const;
const RECORDING_KEYS = [
  'recording',
  'frequency_start',
  'frequency_end',
  'sample_rate',
  'fft_size',
  'averages',
  'window',
  'offset',
  'duration',
  'datetime',
  'calibration_db',
  'format',
] as const;
const RECORDING_NAME_PARAM = /^[^/\\\u0000-\u001f]{1,200}$/;

/** The numeric rules `validate` applies; `describe` reports the same objects (docs/api.md §12). */
const RULES = {
  frequency: { min: 0, cap: MAX_FREQUENCY, unit: 'Hz' },
  sample_rate: { above: 0, cap: MAX_SAMPLE_RATE, unit: 'Hz' },
  fft_size: { min: MIN_FFT_SIZE, max: MAX_FFT_SIZE, powerOfTwo: true },
  averages: { min: 1, max: MAX_AVERAGES, integer: true },
  emitters: { min: 0, max: MAX_EMITTERS, integer: true },
  offset: { min: 0, cap: 1e7, unit: 'seconds' },
  duration: { above: 0, cap: 1e7, unit: 'seconds' },
} as const satisfies Record<string, NumberRule>;

/** The parameters of `spectrum`, for the provider's catalog. */
export function describeSpectrumParams(): ParamDescription[] {
  return [
    describeNumber('frequency_start', RULES.frequency, { required: true }),
    describeNumber('frequency_end', RULES.frequency, {
      required: true,
      description: 'above frequency_start',
    }),
    describeNumber('sample_rate', RULES.sample_rate, {
      description: "required without recording; with one, the recording's rate",
    }),
    describeNumber('fft_size', RULES.fft_size, { default: DEFAULT_FFT_SIZE }),
    describeNumber('averages', RULES.averages, { default: DEFAULT_AVERAGES }),
    describeString('window', WINDOWS, { default: 'hann' }),
    describeNumber('emitters', RULES.emitters, { default: DEFAULT_EMITTERS, description: 'synthetic only' }),
    describeNumber('seed', SEED_RULE, { default: 0, description: 'synthetic only' }),
    describeString('datetime', undefined, { description: 'ISO 8601 date-time with a time zone' }),
    describeString('recording', undefined, {
      description: 'a recording of this provider (catalog recordings)',
    }),
    describeNumber('offset', RULES.offset, { default: 0, description: 'recording only' }),
    describeNumber('duration', RULES.duration, { description: 'recording only; default: to its end' }),
    describeNumber('calibration_db', CALIBRATION_RULE, {
      description: "dB added to dBFS/Hz to give dBm/Hz (default: the provider's, else none: dBFS/Hz)",
    }),
    describeString('format', ['npz'], { default: 'npz', description: 'npz only (SigMF is for samples)' }),
  ];
}

const hz = (v: number): string => `${v} Hz`;

function readSpan(p: RawParams): { start: number; end: number } {
  const start = requireNumber(p, 'frequency_start', RULES.frequency);
  const end = requireNumber(p, 'frequency_end', RULES.frequency);
  if (end <= start)
    paramError('frequency_end', `must be greater than frequency_start (${start}), got ${end}`);
  return { start, end };
}

function readFftSize(p: RawParams): number {
  return optionalNumber(p, 'fft_size', RULES.fft_size) ?? DEFAULT_FFT_SIZE;
}

function validateSynthetic(p: RawParams, opts: SpectrumDatasetOptions): SyntheticSpectrumParams {
  readParams(p, SYNTHETIC_KEYS);
  const { start, end } = readSpan(p);
  const sampleRate = requireNumber(p, 'sample_rate', RULES.sample_rate);
  const fftSize = readFftSize(p);
  const averages = optionalNumber(p, 'averages', RULES.averages) ?? DEFAULT_AVERAGES;
  const window = optionalEnum(p, 'window', WINDOWS) ?? 'hann';
  const emitters = optionalNumber(p, 'emitters', RULES.emitters) ?? DEFAULT_EMITTERS;
  const seed = readSeed(p);
  const datetime = optionalDatetime(p, 'datetime') ?? DEFAULT_DATETIME;
  const calibration = optionalNumber(p, 'calibration_db', CALIBRATION_RULE) ?? opts.calibrationDb ?? null;
  readNpzOnlyFormat(p, 'spectrum');
  const plan = planSweep(start, end, sampleRate, fftSize);
  const out: SyntheticSpectrumParams = {
    source: 'synthetic',
    frequency_start: start,
    frequency_end: end,
    sample_rate: sampleRate,
    fft_size: fftSize,
    averages,
    window,
    emitters,
    seed,
    datetime,
    calibration_db: calibration,
    bins: plan.bins,
    fftPoints: plan.captures * averages * fftSize,
    plan,
  };
  checkLimits(out, opts);
  return out;
}

function validateRecording(p: RawParams, opts: SpectrumDatasetOptions): RecordingSpectrumParams {
  readParams(p, RECORDING_KEYS);
  const name = optionalString(p, 'recording', RECORDING_NAME_PARAM, 'a recording name') as string;
  if (opts.recordingsDir === undefined) paramError('recording', 'this provider serves no recordings');
  const info = readRecordingSync(opts.recordingsDir, name);
  const fs = info.sampleRate;
  const { start, end } = readSpan(p);
  const rate = optionalNumber(p, 'sample_rate', RULES.sample_rate);
  if (rate !== undefined && Math.abs(rate - fs) > 1e-9 * fs) {
    paramError(
      'sample_rate',
      `recording ${name} was captured at ${fs} Hz; omit sample_rate or give that value, got ${rate}`,
    );
  }
  const fftSize = readFftSize(p);
  const maxAverages = optionalNumber(p, 'averages', RULES.averages);
  const window = optionalEnum(p, 'window', WINDOWS) ?? 'hann';
  const offset = optionalNumber(p, 'offset', RULES.offset) ?? 0;
  const startSample = Math.round(offset * fs);
  if (startSample >= info.samples)
    paramError('offset', `${offset} s is past the end of recording ${name} (${info.duration} s)`);
  const durationGiven = optionalNumber(p, 'duration', RULES.duration);
  const inputSamples =
    durationGiven === undefined ? info.samples - startSample : Math.round(durationGiven * fs);
  if (startSample + inputSamples > info.samples) {
    paramError('duration', `offset + duration runs past the end of recording ${name} (${info.duration} s)`);
  }
  const capture = captureAt(info, startSample);
  const last = captureAt(info, startSample + Math.max(0, inputSamples - 1));
  if (last.frequency !== capture.frequency) {
    paramError(
      'duration',
      `the slice crosses a retune of recording ${name}; request a slice within one capture`,
    );
  }
  const available = welchSegments(inputSamples, fftSize);
  if (available === 0) {
    paramError('fft_size', `the slice holds ${inputSamples} samples, fewer than fft_size ${fftSize}`);
  }
  const averages = Math.min(available, maxAverages ?? available);
  const calibration = optionalNumber(p, 'calibration_db', CALIBRATION_RULE) ?? opts.calibrationDb ?? null;
  readNpzOnlyFormat(p, 'spectrum');
  const fc = capture.frequency;
  const lo = fc - fs / 2;
  const hi = fc + fs / 2;
  if (start < lo || end > hi) {
    paramError(
      start < lo ? 'frequency_start' : 'frequency_end',
      `the span ${hz(start)} … ${hz(end)} must lie within the captured band ${hz(lo)} … ${hz(hi)} of recording ${name}`,
    );
  }
  const binHz = fs / fftSize;
  const firstBin = Math.max(0, Math.ceil((start - fc) / binHz + fftSize / 2 - 1e-9));
  const lastBin = Math.min(fftSize - 1, Math.floor((end - fc) / binHz + fftSize / 2 + 1e-9));
  if (lastBin < firstBin) {
    paramError(
      'fft_size',
      `no FFT bin (spacing ${binHz} Hz) falls between frequency_start and frequency_end; raise fft_size`,
    );
  }
  let datetime = optionalDatetime(p, 'datetime');
  if (datetime === undefined) {
    datetime =
      capture.datetime !== undefined
        ? new Date(
            Date.parse(capture.datetime) + ((startSample - capture.sampleStart) / fs) * 1000,
          ).toISOString()
        : DEFAULT_DATETIME;
  }
  const out: RecordingSpectrumParams = {
    source: 'recording',
    recording: name,
    frequency_start: start,
    frequency_end: end,
    sample_rate: fs,
    fft_size: fftSize,
    averages,
    window,
    offset: startSample / fs,
    duration: inputSamples / fs,
    datetime,
    calibration_db: calibration,
    bins: lastBin - firstBin + 1,
    fftPoints: averages * fftSize,
    info,
    startSample,
    inputSamples: Math.min(inputSamples, welchSamples(averages, fftSize)),
    centerFrequency: fc,
    firstBin,
  };
  checkLimits(out, opts);
  return out;
}

function checkLimits(p: SpectrumParams, opts: SpectrumDatasetOptions): void {
  if (p.fftPoints > opts.maxFftPoints) {
    throw new DatasetError(
      'ERR_TOO_LARGE',
      `spectrum needs ${p.fftPoints} FFT points (captures × averages × fft_size), over this provider's limit of ` +
        `${opts.maxFftPoints}; lower averages or fft_size, narrow the span or raise sample_rate`,
    );
  }
  const bytes = spectrumNpzBytes(p);
  if (bytes > opts.maxOutputBytes) {
    throw new DatasetError(
      'ERR_TOO_LARGE',
      `spectrum of ${p.bins} bins would be ${bytes} bytes, over this provider's limit of ${opts.maxOutputBytes} bytes`,
    );
  }
}

function publicParams(p: SpectrumParams): Record<string, unknown> {
  const common = {
    frequency_start: p.frequency_start,
    frequency_end: p.frequency_end,
    sample_rate: p.sample_rate,
    fft_size: p.fft_size,
    averages: p.averages,
    window: p.window,
    datetime: p.datetime,
    // echoed only when set, so uncalibrated requests keep their bytes and names of before
    ...(p.calibration_db === null ? {} : { calibration_db: p.calibration_db }),
  };
  if (p.source === 'synthetic') return { ...common, emitters: p.emitters, seed: p.seed };
  return { recording: p.recording, ...common, offset: p.offset, duration: p.duration };
}

/** The `sdrlink:sweep` object of a swept spectrum's meta. */
export function sweepMeta(plan: SweepPlan, samplesPerCapture: number): Record<string, unknown> {
  return {
    captures: plan.captures,
    first_center_frequency: captureCenter(plan, 0),
    step_hz: plan.keep * plan.binHz,
    bins_per_capture: Math.min(plan.keep, plan.bins),
    usable_fraction: USABLE_FRACTION,
    samples_per_capture: samplesPerCapture,
  };
}

/** What the `global` of a spectrum's meta says; shared by every source (live capture included). */
export interface SpectrumGlobalInput {
  source: string;
  parameters: Record<string, unknown>;
  frequency_start: number;
  frequency_end: number;
  sample_rate: number;
  fft_size: number;
  averages: number;
  window: WindowName;
  calibration_db: number | null;
  bins: number;
}

/**
 * The `global` object of a spectrum's SigMF metadata (the `power_db` array as `rf32_le`, a "sample" per
 * bin), with the `sdrlink` extension declared; the caller adds its source's keys, captures, annotations.
 */
export function spectrumGlobal(p: SpectrumGlobalInput, powerSha512: string): Record<string, unknown> {
  const window = makeWindow(p.window, p.fft_size);
  const binHz = p.sample_rate / p.fft_size;
  const units = unitsOf(p.calibration_db);
  return {
    'core:datatype': 'rf32_le',
    'core:version': SIGMF_VERSION,
    'core:num_channels': 1,
    'core:sha512': powerSha512,
    'core:recorder': GENERATOR,
    'core:description': `spectrum ${p.frequency_start} Hz … ${p.frequency_end} Hz, ${p.bins} bins, ${units}`,
    'core:extensions': sdrlinkExtensions(),
    'sdrlink:type': 'spectrum',
    'sdrlink:source': p.source,
    'sdrlink:parameters': p.parameters,
    'sdrlink:shape': [p.bins],
    'sdrlink:axes': ['frequency'],
    'sdrlink:units': units,
    'sdrlink:calibration_db': p.calibration_db,
    'sdrlink:method': 'welch',
    'sdrlink:sample_rate': p.sample_rate,
    'sdrlink:fft_size': p.fft_size,
    'sdrlink:overlap': 0.5,
    'sdrlink:window': p.window,
    'sdrlink:averages': p.averages,
    'sdrlink:bin_hz': binHz,
    'sdrlink:enbw_hz': windowEnbwBins(window) * binHz,
    'sdrlink:floor_db': toDb(PSD_FLOOR) + (p.calibration_db ?? 0),
    'sdrlink:bins': p.bins,
  };
}

/**
 * The spectrum's `meta`: SigMF metadata of the `power_db` array (`rf32_le`, one value per bin: a "sample"
 * is a bin), with the `sdrlink` extension declared (see docs/datasets.md, "spectrum").
 */
export function spectrumMeta(p: SpectrumParams, powerSha512: string): Record<string, unknown> {
  const global = spectrumGlobal({ ...p, parameters: publicParams(p) }, powerSha512);
  const captures: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  if (p.source === 'synthetic') {
    const plan = p.plan;
    const dwell = welchSamples(p.averages, p.fft_size);
    global['sdrlink:sweep'] = sweepMeta(plan, dwell);
    const emitters = sceneEmitters(p);
    global['sdrlink:scene'] = { noise_density_db: NOISE_DENSITY_DB, emitters };
    const t0 = Date.parse(p.datetime);
    // One capture segment per tuned capture: its first output bin, its tuning, when it started.
    for (let k = 0; k < plan.captures; k++) {
      captures.push({
        'core:sample_start': k * plan.keep,
        'core:frequency': captureCenter(plan, k),
        'core:datetime': new Date(t0 + ((k * dwell) / p.sample_rate) * 1000).toISOString(),
      });
    }
    for (const e of emitters) {
      const lo = e.frequency - e.bandwidth_hz / 2;
      const hi = e.frequency + e.bandwidth_hz / 2;
      const j0 = Math.max(0, Math.ceil((lo - plan.start) / plan.binHz - 1e-9));
      const j1 = Math.min(plan.bins - 1, Math.floor((hi - plan.start) / plan.binHz + 1e-9));
      annotations.push({
        'core:sample_start': j0,
        'core:sample_count': Math.max(0, j1 - j0 + 1),
        'core:freq_lower_edge': lo,
        'core:freq_upper_edge': hi,
        'core:label': e.kind,
        'sdrlink:power_db': e.power_db,
      });
    }
  } else {
    global['sdrlink:recording'] = {
      name: p.recording,
      datatype: p.info.datatype,
      center_frequency: p.centerFrequency,
      sample_start: p.startSample,
      sample_count: p.inputSamples,
    };
    captures.push({
      'core:sample_start': 0,
      'core:frequency': p.centerFrequency,
      'core:datetime': p.datetime,
    });
  }
  return { global, captures, annotations };
}

function sceneEmitters(p: SyntheticSpectrumParams): Emitter[] {
  return placeEmitters(p.seed, p.frequency_start, p.frequency_end, p.emitters, p.sample_rate);
}

function metaText(p: SpectrumParams, sha: string): string {
  return JSON.stringify(spectrumMeta(p, sha));
}

/** Exact size of the spectrum `.npz`. */
export function spectrumNpzBytes(p: SpectrumParams): number {
  const metaLen = Math.max(1, [...metaText(p, '0'.repeat(128))].length);
  return npzArchiveBytes([
    ['frequencies', { descr: '<f8', shape: [p.bins] }],
    ['power_db', { descr: '<f4', shape: [p.bins] }],
    ['meta', { descr: `<U${metaLen}`, shape: [] }],
  ]);
}

/** Buffers float32 output and writes it in blocks of OUT_BLOCK values, alternating two buffers. */
class Float32Sink {
  readonly #bufs = [new Float32Array(OUT_BLOCK), new Float32Array(OUT_BLOCK)];
  #turn = 0;
  #fill = 0;
  constructor(
    private readonly write: (chunk: Float32Array) => Promise<void>,
    private readonly hash: ReturnType<typeof createHash>,
    private readonly calibrationDb: number,
  ) {}
  async push(values: ArrayLike<number>, from: number, count: number): Promise<void> {
    for (let i = 0; i < count;) {
      const buf = this.#bufs[this.#turn] as Float32Array;
      const n = Math.min(count - i, OUT_BLOCK - this.#fill);
      for (let k = 0; k < n; k++)
        buf[this.#fill + k] = toDb(values[from + i + k] as number) + this.calibrationDb;
      this.#fill += n;
      i += n;
      if (this.#fill === OUT_BLOCK) await this.flush();
    }
  }
  async flush(): Promise<void> {
    if (this.#fill === 0) return;
    const chunk = (this.#bufs[this.#turn] as Float32Array).subarray(0, this.#fill);
    this.hash.update(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#turn ^= 1;
    this.#fill = 0;
    await this.write(chunk);
  }
}

async function writeSpectrum(
  p: SpectrumParams,
  path: string,
  options: GenerateOptions,
  densities: (emit: (psd: Float64Array, from: number, count: number) => Promise<void>) => Promise<void>,
  frequencyOf: (j: number) => number,
): Promise<GenerateResult> {
  checkAborted(options.signal);
  return writeNpzWithMeta(
    path,
    async (w) => {
      const freqs = await w.beginArray('frequencies', { descr: '<f8', shape: [p.bins] });
      // Two alternating buffers: the writer may still hold the previous one (NpzEntryWriter.write).
      const blocks = [
        new Float64Array(Math.min(OUT_BLOCK, p.bins)),
        new Float64Array(Math.min(OUT_BLOCK, p.bins)),
      ];
      for (let j0 = 0, turn = 0; j0 < p.bins; j0 += OUT_BLOCK, turn ^= 1) {
        const n = Math.min(OUT_BLOCK, p.bins - j0);
        const block = blocks[turn] as Float64Array;
        for (let k = 0; k < n; k++) block[k] = frequencyOf(j0 + k);
        await freqs.write(block.subarray(0, n));
      }
      await freqs.end();
      const power = await w.beginArray('power_db', { descr: '<f4', shape: [p.bins] });
      const hash = createHash('sha512');
      const sink = new Float32Sink((chunk) => power.write(chunk), hash, p.calibration_db ?? 0);
      await densities(async (psd, from, count) => {
        checkAborted(options.signal);
        await sink.push(psd, from, count);
        options.onProgress?.(w.bytesWritten);
      });
      await sink.flush();
      await power.end();
      return metaText(p, hash.digest('hex'));
    },
    options.onProgress,
  );
}

async function generateSynthetic(
  p: SyntheticSpectrumParams,
  path: string,
  options: GenerateOptions,
): Promise<GenerateResult> {
  const plan = p.plan;
  const emitters = sceneEmitters(p);
  const keys = emitterKeys(p.seed, emitters.length);
  const dwell = welchSamples(p.averages, p.fft_size);
  const chunk = new Float64Array(2 * Math.min(CHUNK_SAMPLES, dwell));
  const welch = new WelchEstimator({ fftSize: p.fft_size, sampleRate: p.sample_rate, window: p.window });
  return writeSpectrum(
    p,
    path,
    options,
    async (emit) => {
      for (let k = 0; k < plan.captures; k++) {
        const scene = new SceneCapture(p.seed, emitters, captureCenter(plan, k), p.sample_rate, k, keys);
        welch.reset();
        for (let done = 0; done < dwell;) {
          const n = Math.min(CHUNK_SAMPLES, dwell - done);
          scene.fill(chunk, n, k * dwell + done);
          welch.push(chunk, 0, n);
          done += n;
        }
        const psd = welch.density();
        const count = Math.min(plan.keep, plan.bins - k * plan.keep);
        await emit(psd, plan.left, count);
      }
    },
    (j) => plan.start + j * plan.binHz,
  );
}

async function generateRecording(
  p: RecordingSpectrumParams,
  path: string,
  options: GenerateOptions,
): Promise<GenerateResult> {
  const binHz = p.sample_rate / p.fft_size;
  const reader = await RecordingReader.open(p.info);
  try {
    return await writeSpectrum(
      p,
      path,
      options,
      async (emit) => {
        const welch = new WelchEstimator({
          fftSize: p.fft_size,
          sampleRate: p.sample_rate,
          window: p.window,
          maxSegments: p.averages,
        });
        const buf = new Float32Array(2 * CHUNK_SAMPLES);
        for (let done = 0; done < p.inputSamples && !welch.full;) {
          checkAborted(options.signal);
          const n = Math.min(CHUNK_SAMPLES, p.inputSamples - done);
          await reader.read(buf, p.startSample + done, n);
          welch.push(buf, 0, n);
          done += n;
        }
        await emit(welch.density(), p.firstBin, p.bins);
      },
      (j) => p.centerFrequency + (p.firstBin + j - p.fft_size / 2) * binHz,
    );
  } finally {
    await reader.close();
  }
}

function shortHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 8);
}

/** Creates the `spectrum` dataset module. */
export function createSpectrumDataset(opts: SpectrumDatasetOptions): Dataset<SpectrumParams> {
  return {
    type: 'spectrum',
    description:
      'power spectral density (Welch) over [frequency_start, frequency_end]: frequencies (Hz), power_db, meta; from a synthetic radio scene swept like an SDR, or from a SigMF recording',
    describe() {
      return { type: this.type, description: this.description, parameters: describeSpectrumParams() };
    },
    validate(raw: unknown): SpectrumParams {
      const p = readParams(raw, [...new Set<string>([...SYNTHETIC_KEYS, ...RECORDING_KEYS])]);
      return p['recording'] !== undefined ? validateRecording(p, opts) : validateSynthetic(p, opts);
    },
    fileName(p: SpectrumParams): string {
      const base = `spectrum_${Math.trunc(p.frequency_start)}_${Math.trunc(p.frequency_end)}_${Math.trunc(p.sample_rate)}`;
      const pub = publicParams(p);
      const defaults =
        p.source === 'synthetic' &&
        p.fft_size === DEFAULT_FFT_SIZE &&
        p.averages === DEFAULT_AVERAGES &&
        p.window === 'hann' &&
        p.emitters === DEFAULT_EMITTERS &&
        p.seed === 0 &&
        p.datetime === DEFAULT_DATETIME &&
        p.calibration_db === null;
      return defaults ? `${base}.npz` : `${base}_${shortHash(pub)}.npz`;
    },
    estimateBytes: spectrumNpzBytes,
    generate(p: SpectrumParams, path: string, options: GenerateOptions = {}): Promise<GenerateResult> {
      return p.source === 'synthetic'
        ? generateSynthetic(p, path, options)
        : generateRecording(p, path, options);
    },
  };
}
