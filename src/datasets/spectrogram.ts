/**
 * The `spectrogram` request type: power over time × frequency (a waterfall) as `power_db` (float32,
 * `[time, freq]`), `times` (s, float64), `frequencies` (Hz, float64) and `meta` (SigMF metadata of the
 * `power_db` array) in an `.npz` (docs/datasets.md, "spectrogram").
 *
 * One tuned capture (no sweep): the span must fit in `sample_rate`. Sources: a synthetic scene whose
 * emitters come and go (scene.ts `placeTimedEmitters`), or a time slice of a SigMF recording. Rows are
 * made by spectrogram-core.ts, which live capture calls with its own IQ.
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
import { emitterKeys, NOISE_DENSITY_DB, placeTimedEmitters, SceneCapture, type Emitter } from './scene.js';
import { captureAt, readRecordingSync, RecordingReader, type RecordingInfo } from './sigmf.js';
import { GENERATOR } from './signal.js';
import { readNpzOnlyFormat, SIGMF_VERSION, sdrlinkExtensions } from './sigmf-out.js';
import { SpectrogramBuilder, type SpectrogramRow } from './spectrogram-core.js';
import {
  DatasetError,
  type Dataset,
  type GenerateOptions,
  type GenerateResult,
  type ParamDescription,
} from './types.js';
import { unitsOf, CALIBRATION_RULE } from './units.js';
import {
  makeWindow,
  PSD_FLOOR,
  toDb,
  welchSegments,
  windowEnbwBins,
  WINDOWS,
  type WindowName,
} from './welch.js';

export const DEFAULT_SPECTROGRAM_FFT_SIZE = 1024;
/** Default row length, in FFT segments' worth of samples: 8·fft_size samples = 15 half-overlapped segments. */
export const DEFAULT_ROW_FFTS = 8;
export const DEFAULT_SPECTROGRAM_EMITTERS = 4;

const CHUNK_SAMPLES = 1 << 16;
/** Output rows buffered per write. */
const ROWS_BLOCK_VALUES = 1 << 16;

/** The time × frequency grid and analysis of a spectrogram, whatever its source (live capture too). */
export interface SpectrogramGrid {
  frequency_start: number;
  frequency_end: number;
  sample_rate: number;
  fft_size: number;
  window: WindowName;
  datetime: string;
  /** Seconds per row (rounded to whole samples: rowSamples / sample_rate). */
  time_resolution: number;
  calibration_db: number | null;
  /** Derived. */
  centerFrequency: number;
  rowSamples: number;
  rows: number;
  firstBin: number;
  bins: number;
  fftPoints: number;
}

export interface SyntheticSpectrogramParams extends SpectrogramGrid {
  source: 'synthetic';
  duration: number;
  emitters: number;
  seed: number;
}

export interface RecordingSpectrogramParams extends SpectrogramGrid {
  source: 'recording';
  recording: string;
  offset: number;
  duration: number;
  info: RecordingInfo;
  startSample: number;
}

/** Validated `spectrogram` parameters. */
export type SpectrogramParams = SyntheticSpectrogramParams | RecordingSpectrogramParams;

/** Options of the `spectrogram` dataset. */
export interface SpectrogramDatasetOptions {
  recordingsDir?: string;
  maxOutputBytes: number;
  /** Most FFT points one request may compute (rows × segments per row × fft_size). */
  maxFftPoints: number;
  /** The provider's calibration (dB added to dBFS to give dBm), used when a request gives none. */
  calibrationDb?: number;
}

const SYNTHETIC_KEYS = [
  'frequency_start',
  'frequency_end',
  'sample_rate',
  'duration',
  'fft_size',
  'time_resolution',
  'window',
  'emitters',
  'seed',
  'datetime',
  'calibration_db',
  'format',
  'recording',
] as const;
const RECORDING_KEYS = [
  'recording',
  'frequency_start',
  'frequency_end',
  'sample_rate',
  'offset',
  'duration',
  'fft_size',
  'time_resolution',
  'window',
  'datetime',
  'calibration_db',
  'format',
] as const;
const RECORDING_NAME_PARAM = /^[^/\\\u0000-\u001f]{1,200}$/;

const RULES = {
  frequency: { min: 0, cap: 1e12, unit: 'Hz' },
  sample_rate: { above: 0, cap: 1e11, unit: 'Hz' },
  duration: { above: 0, cap: 1e7, unit: 'seconds' },
  offset: { min: 0, cap: 1e7, unit: 'seconds' },
  fft_size: { min: 16, max: 1 << 20, powerOfTwo: true },
  time_resolution: { above: 0, cap: 1e7, unit: 'seconds' },
  emitters: { min: 0, max: 64, integer: true },
} as const satisfies Record<string, NumberRule>;

/** The parameters of `spectrogram`, for the provider's catalog. */
export function describeSpectrogramParams(): ParamDescription[] {
  return [
    describeNumber('frequency_start', RULES.frequency, { required: true }),
    describeNumber('frequency_end', RULES.frequency, {
      required: true,
      description: 'above frequency_start; the span fits in one tuned capture (at most sample_rate)',
    }),
    describeNumber('sample_rate', RULES.sample_rate, {
      description: "required without recording; with one, the recording's rate",
    }),
    describeNumber('duration', RULES.duration, {
      description: 'required without recording; with one, default: to its end',
    }),
    describeNumber('fft_size', RULES.fft_size, { default: DEFAULT_SPECTROGRAM_FFT_SIZE }),
    describeNumber('time_resolution', RULES.time_resolution, {
      description: `seconds per row (at least fft_size/sample_rate); default ${DEFAULT_ROW_FFTS}·fft_size/sample_rate`,
    }),
    describeString('window', WINDOWS, { default: 'hann' }),
    describeNumber('emitters', RULES.emitters, {
      default: DEFAULT_SPECTROGRAM_EMITTERS,
      description: 'synthetic only; each on during one interval',
    }),
    describeNumber('seed', SEED_RULE, { default: 0, description: 'synthetic only' }),
    describeString('datetime', undefined, { description: 'ISO 8601 date-time with a time zone' }),
    describeNumber('calibration_db', CALIBRATION_RULE, {
      description: "dB added to dBFS/Hz to give dBm/Hz (default: the provider's, else none: dBFS/Hz)",
    }),
    describeString('format', ['npz'], { default: 'npz', description: 'npz only (SigMF is for samples)' }),
    describeString('recording', undefined, {
      description: 'a recording of this provider (catalog recordings)',
    }),
    describeNumber('offset', RULES.offset, { default: 0, description: 'recording only' }),
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

function readCalibration(p: RawParams, opts: SpectrogramDatasetOptions): number | null {
  return optionalNumber(p, 'calibration_db', CALIBRATION_RULE) ?? opts.calibrationDb ?? null;
}

/** Time grid and bins shared by every source (reads fft_size, time_resolution). */
export function spectrogramGrid(
  p: RawParams,
  fs: number,
  center: number,
  start: number,
  end: number,
  samples: number,
  where: string,
): Pick<
  SpectrogramGrid,
  'fft_size' | 'rowSamples' | 'rows' | 'firstBin' | 'bins' | 'time_resolution' | 'fftPoints'
> {
  const fftSize = optionalNumber(p, 'fft_size', RULES.fft_size) ?? DEFAULT_SPECTROGRAM_FFT_SIZE;
  const tr = optionalNumber(p, 'time_resolution', RULES.time_resolution);
  const rowSamples = tr === undefined ? DEFAULT_ROW_FFTS * fftSize : Math.round(tr * fs);
  if (rowSamples < fftSize) {
    paramError(
      'time_resolution',
      `must be at least fft_size / sample_rate = ${fftSize / fs} s (one FFT segment), got ${String(tr)}`,
    );
  }
  const rows = Math.floor(samples / rowSamples);
  if (rows < 1) {
    paramError(
      'duration',
      `${where} holds ${samples} samples, fewer than one row of ${rowSamples} (time_resolution × sample_rate)`,
    );
  }
  const binHz = fs / fftSize;
  const firstBin = Math.max(0, Math.ceil((start - center) / binHz + fftSize / 2 - 1e-9));
  const lastBin = Math.min(fftSize - 1, Math.floor((end - center) / binHz + fftSize / 2 + 1e-9));
  if (lastBin < firstBin) {
    paramError(
      'fft_size',
      `no FFT bin (spacing ${binHz} Hz) falls between frequency_start and frequency_end; raise fft_size`,
    );
  }
  return {
    fft_size: fftSize,
    rowSamples,
    rows,
    firstBin,
    bins: lastBin - firstBin + 1,
    time_resolution: rowSamples / fs,
    fftPoints: rows * welchSegments(rowSamples, fftSize) * fftSize,
  };
}

function validateSynthetic(p: RawParams, opts: SpectrogramDatasetOptions): SyntheticSpectrogramParams {
  readParams(p, SYNTHETIC_KEYS);
  const { start, end } = readSpan(p);
  const fs = requireNumber(p, 'sample_rate', RULES.sample_rate);
  if (end - start > fs) {
    paramError(
      'frequency_end',
      `a spectrogram is one tuned capture: the span ${hz(end - start)} must be at most sample_rate (${hz(fs)}); ` +
        'raise sample_rate or request a spectrum (swept) for a wider band',
    );
  }
  const duration = requireNumber(p, 'duration', RULES.duration);
  const window = optionalEnum(p, 'window', WINDOWS) ?? 'hann';
  const emitters = optionalNumber(p, 'emitters', RULES.emitters) ?? DEFAULT_SPECTROGRAM_EMITTERS;
  const seed = readSeed(p);
  const datetime = optionalDatetime(p, 'datetime') ?? DEFAULT_DATETIME;
  const calibration = readCalibration(p, opts);
  readNpzOnlyFormat(p, 'spectrogram');
  const center = (start + end) / 2;
  const g = spectrogramGrid(p, fs, center, start, end, Math.round(duration * fs), `duration ${duration} s`);
  const out: SyntheticSpectrogramParams = {
    source: 'synthetic',
    frequency_start: start,
    frequency_end: end,
    sample_rate: fs,
    duration,
    window,
    emitters,
    seed,
    datetime,
    calibration_db: calibration,
    centerFrequency: center,
    ...g,
  };
  checkLimits(out, opts);
  return out;
}

function validateRecording(p: RawParams, opts: SpectrogramDatasetOptions): RecordingSpectrogramParams {
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
  const fc = capture.frequency;
  const lo = fc - fs / 2;
  const hi = fc + fs / 2;
  if (start < lo || end > hi) {
    paramError(
      start < lo ? 'frequency_start' : 'frequency_end',
      `the span ${hz(start)} … ${hz(end)} must lie within the captured band ${hz(lo)} … ${hz(hi)} of recording ${name}`,
    );
  }
  const calibration = readCalibration(p, opts);
  readNpzOnlyFormat(p, 'spectrogram');
  let datetime = optionalDatetime(p, 'datetime');
  if (datetime === undefined) {
    datetime =
      capture.datetime !== undefined
        ? new Date(
            Date.parse(capture.datetime) + ((startSample - capture.sampleStart) / fs) * 1000,
          ).toISOString()
        : DEFAULT_DATETIME;
  }
  const g = spectrogramGrid(p, fs, fc, start, end, inputSamples, `the slice of recording ${name}`);
  const out: RecordingSpectrogramParams = {
    source: 'recording',
    recording: name,
    frequency_start: start,
    frequency_end: end,
    sample_rate: fs,
    offset: startSample / fs,
    duration: inputSamples / fs,
    window,
    datetime,
    calibration_db: calibration,
    centerFrequency: fc,
    info,
    startSample,
    ...g,
  };
  checkLimits(out, opts);
  return out;
}

function checkLimits(p: SpectrogramParams, opts: SpectrogramDatasetOptions): void {
  checkSpectrogramLimits(p, spectrogramNpzBytes(p), opts);
}

/**
 * The provider's limits on one spectrogram (live capture's too): its FFT work and its file's size.
 * @throws DatasetError ERR_TOO_LARGE, saying what to change
 */
export function checkSpectrogramLimits(
  p: { fftPoints: number; rows: number; bins: number },
  bytes: number,
  limits: { maxFftPoints: number; maxOutputBytes: number },
): void {
  if (p.fftPoints > limits.maxFftPoints) {
    throw new DatasetError(
      'ERR_TOO_LARGE',
      `spectrogram needs ${p.fftPoints} FFT points (rows × segments per row × fft_size), over this provider's ` +
        `limit of ${limits.maxFftPoints}; shorten duration or lower fft_size`,
    );
  }
  if (bytes > limits.maxOutputBytes) {
    throw new DatasetError(
      'ERR_TOO_LARGE',
      `spectrogram of ${p.rows} rows × ${p.bins} bins would be ${bytes} bytes, over this provider's limit of ` +
        `${limits.maxOutputBytes} bytes; raise time_resolution, narrow the span or shorten duration`,
    );
  }
}

function publicParams(p: SpectrogramParams): Record<string, unknown> {
  const common = {
    frequency_start: p.frequency_start,
    frequency_end: p.frequency_end,
    sample_rate: p.sample_rate,
    duration: p.duration,
    fft_size: p.fft_size,
    time_resolution: p.time_resolution,
    window: p.window,
    datetime: p.datetime,
    calibration_db: p.calibration_db,
  };
  if (p.source === 'synthetic') return { ...common, emitters: p.emitters, seed: p.seed };
  return { recording: p.recording, ...common, offset: p.offset };
}

function sceneEmitters(p: SyntheticSpectrogramParams): Emitter[] {
  return placeTimedEmitters(
    p.seed,
    p.frequency_start,
    p.frequency_end,
    p.emitters,
    p.sample_rate,
    (p.rows * p.rowSamples) / p.sample_rate,
  );
}

/**
 * The `global` object of a spectrogram's SigMF metadata (`power_db` as `rf32_le`, row-major), with the
 * `sdrlink` extension declared; the caller adds its source's keys, captures, annotations.
 */
export function spectrogramGlobal(
  p: Omit<SpectrogramGrid, 'datetime'> & { source: string },
  parameters: Record<string, unknown>,
  sha512: string,
): Record<string, unknown> {
  const binHz = p.sample_rate / p.fft_size;
  const units = unitsOf(p.calibration_db);
  return {
    'core:datatype': 'rf32_le',
    'core:version': SIGMF_VERSION,
    'core:num_channels': 1,
    'core:sha512': sha512,
    'core:recorder': GENERATOR,
    'core:description': `spectrogram ${hz(p.frequency_start)} … ${hz(p.frequency_end)}, ${p.rows} rows of ${p.time_resolution} s, ${units}`,
    'core:extensions': sdrlinkExtensions(),
    'sdrlink:type': 'spectrogram',
    'sdrlink:source': p.source,
    'sdrlink:parameters': parameters,
    'sdrlink:shape': [p.rows, p.bins],
    'sdrlink:axes': ['time', 'frequency'],
    'sdrlink:units': units,
    'sdrlink:calibration_db': p.calibration_db,
    'sdrlink:method': 'welch',
    'sdrlink:sample_rate': p.sample_rate,
    'sdrlink:center_frequency': p.centerFrequency,
    'sdrlink:fft_size': p.fft_size,
    'sdrlink:window': p.window,
    'sdrlink:overlap': 0.5,
    'sdrlink:row_samples': p.rowSamples,
    'sdrlink:time_resolution': p.time_resolution,
    'sdrlink:segments_per_row': welchSegments(p.rowSamples, p.fft_size),
    'sdrlink:bin_hz': binHz,
    'sdrlink:enbw_hz': windowEnbwBins(makeWindow(p.window, p.fft_size)) * binHz,
    'sdrlink:floor_db': toDb(PSD_FLOOR) + (p.calibration_db ?? 0),
  };
}

/** The spectrogram's `meta`: SigMF metadata of `power_db` (see docs/datasets.md, "spectrogram"). */
export function spectrogramMeta(p: SpectrogramParams, sha512: string): Record<string, unknown> {
  const global = spectrogramGlobal(p, publicParams(p), sha512);
  const annotations: Record<string, unknown>[] = [];
  if (p.source === 'synthetic') {
    const emitters = sceneEmitters(p);
    global['sdrlink:scene'] = { noise_density_db: NOISE_DENSITY_DB, emitters };
    for (const e of emitters) {
      const from = Math.ceil((e.start_time ?? 0) * p.sample_rate);
      const to = Math.ceil((e.stop_time ?? Infinity) * p.sample_rate);
      const r0 = Math.floor(from / p.rowSamples);
      const r1 = Math.min(p.rows, Math.ceil(to / p.rowSamples));
      if (r1 <= r0) continue;
      annotations.push({
        'core:sample_start': r0 * p.bins,
        'core:sample_count': (r1 - r0) * p.bins,
        'core:freq_lower_edge': e.frequency - e.bandwidth_hz / 2,
        'core:freq_upper_edge': e.frequency + e.bandwidth_hz / 2,
        'core:label': e.kind,
        'sdrlink:time_start': e.start_time,
        'sdrlink:time_stop': e.stop_time,
        'sdrlink:power_db': e.power_db,
      });
    }
    annotations.sort((a, b) => (a['core:sample_start'] as number) - (b['core:sample_start'] as number));
  } else {
    global['sdrlink:recording'] = {
      name: p.recording,
      datatype: p.info.datatype,
      center_frequency: p.centerFrequency,
      sample_start: p.startSample,
      sample_count: p.rows * p.rowSamples,
    };
  }
  return {
    global,
    captures: [{ 'core:sample_start': 0, 'core:frequency': p.centerFrequency, 'core:datetime': p.datetime }],
    annotations,
  };
}

function metaText(p: SpectrogramParams, sha512: string): string {
  return JSON.stringify(spectrogramMeta(p, sha512));
}

/** Exact size of the spectrogram `.npz`. */
export function spectrogramNpzBytes(p: SpectrogramParams): number {
  const metaLen = Math.max(1, [...metaText(p, '0'.repeat(128))].length);
  return npzArchiveBytes([
    ['frequencies', { descr: '<f8', shape: [p.bins] }],
    ['times', { descr: '<f8', shape: [p.rows] }],
    ['power_db', { descr: '<f4', shape: [p.rows, p.bins] }],
    ['meta', { descr: `<U${metaLen}`, shape: [] }],
  ]);
}

/**
 * Writes a spectrogram `.npz` (frequencies, times, power_db, meta) from the IQ `iq` feeds to `consume`;
 * `meta` builds the metadata JSON text from the SHA-512 of `power_db` once the rows are written.
 */
export async function writeSpectrogram(
  p: Omit<SpectrogramGrid, 'datetime'>,
  path: string,
  options: GenerateOptions,
  iq: (consume: (out: Float32Array, n0: number, count: number) => Promise<void>) => Promise<void>,
  meta: (sha512: string) => string,
): Promise<GenerateResult> {
  checkAborted(options.signal);
  return writeNpzWithMeta(
    path,
    async (w) => {
      const binHz = p.sample_rate / p.fft_size;
      const freqs = new Float64Array(p.bins);
      for (let k = 0; k < p.bins; k++)
        freqs[k] = p.centerFrequency + (p.firstBin + k - p.fft_size / 2) * binHz;
      await w.writeArray('frequencies', { descr: '<f8', shape: [p.bins] }, freqs);
      const times = new Float64Array(p.rows);
      for (let r = 0; r < p.rows; r++) times[r] = ((r + 0.5) * p.rowSamples) / p.sample_rate;
      await w.writeArray('times', { descr: '<f8', shape: [p.rows] }, times);
      const power = await w.beginArray('power_db', { descr: '<f4', shape: [p.rows, p.bins] });
      const hash = createHash('sha512');
      const builder = new SpectrogramBuilder({
        sampleRate: p.sample_rate,
        fftSize: p.fft_size,
        window: p.window,
        rowSamples: p.rowSamples,
        firstBin: p.firstBin,
        bins: p.bins,
        calibrationDb: p.calibration_db ?? 0,
      });
      const rowsPerBlock = Math.max(1, Math.floor(ROWS_BLOCK_VALUES / p.bins));
      let pending: SpectrogramRow[] = [];
      const flush = async (): Promise<void> => {
        if (pending.length === 0) return;
        const block = new Float32Array(pending.length * p.bins);
        pending.forEach((row, i) => block.set(row.power, i * p.bins));
        pending = [];
        hash.update(new Uint8Array(block.buffer));
        await power.write(block);
        options.onProgress?.(w.bytesWritten);
      };
      await iq(async (out, _n0, count) => {
        checkAborted(options.signal);
        pending.push(...builder.push(out, 0, count));
        if (pending.length >= rowsPerBlock) await flush();
      });
      await flush();
      await power.end();
      return meta(hash.digest('hex'));
    },
    options.onProgress,
  );
}

/** Feeds `total` samples in chunks: `produce(buf, n0, count)` fills, `consume` takes them. */
async function chunked(
  total: number,
  produce: (buf: Float32Array, n0: number, count: number) => void | Promise<void>,
  consume: (buf: Float32Array, n0: number, count: number) => Promise<void>,
): Promise<void> {
  const buf = new Float32Array(2 * CHUNK_SAMPLES);
  for (let n0 = 0; n0 < total; n0 += CHUNK_SAMPLES) {
    const count = Math.min(CHUNK_SAMPLES, total - n0);
    await produce(buf, n0, count);
    await consume(buf, n0, count);
  }
}

function shortHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 8);
}

/** Creates the `spectrogram` dataset module. */
export function createSpectrogramDataset(opts: SpectrogramDatasetOptions): Dataset<SpectrogramParams> {
  return {
    type: 'spectrogram',
    description:
      'power over time × frequency (a waterfall, Welch per row): power_db [time, freq] float32, times (s), frequencies (Hz), meta; from a synthetic scene whose emitters come and go, or from a SigMF recording',
    describe() {
      return { type: this.type, description: this.description, parameters: describeSpectrogramParams() };
    },
    validate(raw: unknown): SpectrogramParams {
      const p = readParams(raw, [...new Set<string>([...SYNTHETIC_KEYS, ...RECORDING_KEYS])]);
      return p['recording'] !== undefined ? validateRecording(p, opts) : validateSynthetic(p, opts);
    },
    fileName(p: SpectrogramParams): string {
      if (p.source === 'recording') {
        const safe = p.recording.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 60);
        return `spectrogram_${safe}_${shortHash(publicParams(p))}.npz`;
      }
      const base = `spectrogram_${Math.trunc(p.frequency_start)}_${Math.trunc(p.frequency_end)}_${Math.trunc(p.sample_rate)}_${p.duration.toFixed(2)}`;
      return `${base}_${shortHash(publicParams(p))}.npz`;
    },
    estimateBytes: spectrogramNpzBytes,
    async generate(
      p: SpectrogramParams,
      path: string,
      options: GenerateOptions = {},
    ): Promise<GenerateResult> {
      const total = p.rows * p.rowSamples;
      if (p.source === 'synthetic') {
        const emitters = sceneEmitters(p);
        const scene = new SceneCapture(
          p.seed,
          emitters,
          p.centerFrequency,
          p.sample_rate,
          0,
          emitterKeys(p.seed, emitters.length),
        );
        return writeSpectrogram(
          p,
          path,
          options,
          (consume) => chunked(total, (buf, n0, count) => scene.fill(buf, count, n0), consume),
          (sha) => metaText(p, sha),
        );
      }
      const reader = await RecordingReader.open(p.info);
      try {
        return await writeSpectrogram(
          p,
          path,
          options,
          (consume) =>
            chunked(total, (buf, n0, count) => reader.read(buf, p.startSample + n0, count), consume),
          (sha) => metaText(p, sha),
        );
      } finally {
        await reader.close();
      }
    },
  };
}
