/**
 * `signal`, `spectrum` and `spectrogram` served from a live receiver (docs/datasets.md "Live capture"). Same request types,
 * same arrays as the synthetic ones, but the samples come from the device: tuned, sampled and gained as
 * asked, converted to complex64, and annotated with what the hardware reported it did. A spectrum wider
 * than the usable band is swept in tuned segments (the plan of the synthetic sweep, `planSweep`), each
 * segment a capture of its own, and the per-segment spectra stitched.
 *
 * One capture uses the device at a time (`DeviceQueue`); a request that waits hears its place in line.
 */
import { randomUUID, createHash } from 'node:crypto';
import {
  iqNpzBytes,
  writeIqNpz,
  checkAborted,
  type IqDescription,
  type IqProducer,
} from '../datasets/iq-output.js';
import { npzArchiveBytes, writeNpzWithMeta } from '../datasets/npz-writer.js';
import {
  describeNumber,
  describeString,
  optionalEnum,
  optionalNumber,
  paramError,
  readParams,
  requireNumber,
  type NumberRule,
  type RawParams,
} from '../datasets/params.js';
import {
  buildSigmfMeta,
  OUTPUT_FORMATS,
  readNpzOnlyFormat,
  sigmfArchiveBytes,
  writeIqSigmf,
  type OutputFormat,
  type SigmfAnnotationInput,
  type SigmfCaptureInput,
} from '../datasets/sigmf-out.js';
import {
  checkSpectrogramLimits,
  spectrogramGlobal,
  spectrogramGrid,
  writeSpectrogram,
  DEFAULT_SPECTROGRAM_FFT_SIZE,
  DEFAULT_ROW_FFTS,
  type SpectrogramGrid,
} from '../datasets/spectrogram.js';
import { CALIBRATION_RULE } from '../datasets/units.js';
import {
  captureCenter,
  DEFAULT_AVERAGES,
  DEFAULT_FFT_SIZE,
  MAX_AVERAGES,
  MAX_FFT_SIZE,
  MIN_FFT_SIZE,
  planSweep,
  spectrumGlobal,
  sweepMeta,
  USABLE_FRACTION,
  type SweepPlan,
} from '../datasets/spectrum.js';
import {
  DatasetError,
  type Dataset,
  type DatasetRegistry,
  type GenerateOptions,
  type GenerateResult,
  type ParamDescription,
} from '../datasets/types.js';
import { toDb, WelchEstimator, welchSamples, WINDOWS, type WindowName } from '../datasets/welch.js';
import { CaptureError } from './errors.js';
import { ProcessCapture, type CaptureReport, type CaptureRequest } from './process-capture.js';
import { DeviceQueue } from './queue.js';
import { formatRanges, inRanges, type CaptureSource, type Range } from './sources.js';

/** How live captures run. */
export interface LiveOptions {
  source: CaptureSource;
  /** The device's line; one per source (default: a new one). */
  queue?: DeviceQueue;
  maxOutputBytes: number;
  maxFftPoints: number;
  /** Default gain (dB) when a request names none; undefined: automatic. */
  gain?: number;
  /** Frequency correction (ppm) passed to the tool. */
  ppm?: number;
  /** Requests naming a `recording` go to these datasets (the provider's `--recordings`). */
  files?: DatasetRegistry;
  /** The provider's calibration (dB added to dBFS to give dBm) for spectra and spectrograms. */
  calibrationDb?: number;
}

const MAX_DURATION = 3600;
/** Room kept in the size estimate for the metadata the hardware fills in. */
const META_ROOM = 16_384;

const GAIN_RULE: NumberRule = { min: -100, max: 200, unit: 'dB' };
const DURATION_RULE: NumberRule = { above: 0, cap: MAX_DURATION, unit: 'seconds' };
const FFT_RULE: NumberRule = { min: MIN_FFT_SIZE, max: MAX_FFT_SIZE, powerOfTwo: true };
const AVERAGES_RULE: NumberRule = { min: 1, max: MAX_AVERAGES, integer: true };
const TIME_RESOLUTION_RULE: NumberRule = { above: 0, cap: MAX_DURATION, unit: 'seconds' };

interface LiveCommon {
  source: 'live';
  /** Makes every capture's file and cache entry its own. */
  capture_id: string;
  gain: number | 'auto';
  allow_overrun: boolean;
}

/** A live `signal` request. */
export interface LiveSignalParams extends LiveCommon {
  frequency: number;
  sample_rate: number;
  duration: number;
  samples: number;
  format: OutputFormat;
}

/** A live `spectrum` request. */
export interface LiveSpectrumParams extends LiveCommon {
  frequency_start: number;
  frequency_end: number;
  sample_rate: number;
  fft_size: number;
  averages: number;
  window: WindowName;
  bins: number;
  plan: SweepPlan;
  calibration_db: number | null;
}

/** A live `spectrogram` request: one tuned capture of `rows × rowSamples` samples. */
export interface LiveSpectrogramParams extends LiveCommon, Omit<SpectrogramGrid, 'datetime'> {
  duration: number;
}

type Wrapped<P> = { kind: 'live'; p: P } | { kind: 'file'; dataset: Dataset; p: unknown };

const hull = (ranges: readonly Range[]): { min: number; max: number } => ({
  min: Math.min(...ranges.map((r) => r.min)),
  max: Math.max(...ranges.map((r) => r.max)),
});

function rangeError(
  source: CaptureSource,
  key: string,
  what: string,
  value: number,
  ranges: readonly Range[],
) {
  return new CaptureError(
    'ERR_DEVICE_RANGE',
    `parameters.${key}: ${value} Hz is outside the ${what} of ${source.device}: ${formatRanges(ranges, 'Hz')} (${source.ranges.origin})`,
  );
}

function readGain(p: RawParams, opts: LiveOptions): number | 'auto' {
  const g = optionalNumber(p, 'gain', GAIN_RULE);
  const gain = g ?? opts.gain;
  if (gain === undefined) return 'auto';
  const r = opts.source.ranges.gain;
  if (r !== undefined && (gain < r.min || gain > r.max)) {
    throw new CaptureError(
      'ERR_DEVICE_RANGE',
      `parameters.gain: ${gain} dB is outside the gain range of ${opts.source.device}: ${r.min} … ${r.max} dB`,
    );
  }
  return gain;
}

function readAllowOverrun(p: RawParams): boolean {
  const v = p['allow_overrun'];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') paramError('allow_overrun', `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function checkRate(source: CaptureSource, rate: number): void {
  if (!inRanges(rate, source.ranges.sampleRate)) {
    throw new CaptureError(
      'ERR_DEVICE_RANGE',
      `parameters.sample_rate: ${rate} Hz is outside the sample rates of ${source.device}: ${formatRanges(source.ranges.sampleRate, 'Hz')} (${source.ranges.origin})`,
    );
  }
}

function checkFrequency(source: CaptureSource, key: string, f: number): void {
  if (!inRanges(f, source.ranges.frequency))
    throw rangeError(source, key, 'tuning range', f, source.ranges.frequency);
}

function requestOf(
  opts: LiveOptions,
  gain: number | 'auto',
  frequency: number,
  rate: number,
  samples: number,
): CaptureRequest {
  const req: CaptureRequest = { frequency, sampleRate: rate, samples };
  if (gain !== 'auto') req.gain = gain;
  if (opts.ppm !== undefined) req.ppm = opts.ppm;
  return req;
}

/** Waits for the device, reporting the place in line; resolves with its release. */
async function takeDevice(queue: DeviceQueue, options: GenerateOptions): Promise<() => void> {
  return queue.acquire((pos) => options.onQueued?.(pos), options.signal);
}

/** One capture of `req.samples` samples, each block handed to `use`; returns what the hardware did. */
async function captureInto(
  source: CaptureSource,
  req: CaptureRequest,
  options: GenerateOptions,
  block: Float32Array,
  use: (block: Float32Array, count: number) => void | Promise<void>,
): Promise<CaptureReport> {
  const cap = new ProcessCapture(source.processSpec(req), req, options.signal);
  try {
    const per = block.length / 2;
    for (let done = 0; done < req.samples;) {
      checkAborted(options.signal);
      const n = Math.min(per, req.samples - done);
      await cap.read(block, n);
      await use(block, n);
      done += n;
    }
    return await cap.finish();
  } finally {
    cap.abort();
  }
}

function overrunCheck(r: CaptureReport, allow: boolean, where: string): void {
  if (r.overruns > 0 && !allow) {
    throw new CaptureError(
      'ERR_CAPTURE_OVERRUN',
      `the device dropped samples ${where} (${r.overruns} overrun report${r.overruns === 1 ? '' : 's'}` +
        `${r.dropped_samples > 0 ? `, ${r.dropped_samples} samples lost` : ''}); the capture is not contiguous. ` +
        'Retry, lower sample_rate, or pass allow_overrun=true to receive it with the gaps marked',
    );
  }
}

/** What the metadata says of the conversion. */
function conversionOf(source: CaptureSource): string {
  const format = source.processSpec({ frequency: 0, sampleRate: 1, samples: 1 }).format;
  return format === 'cu8' ? 'cu8 → complex64: (u − 127.5) / 127.5' : 'cf32 as delivered';
}

function captureMeta(
  source: CaptureSource,
  r: CaptureReport,
  requested: CaptureRequest,
): Record<string, unknown> {
  return {
    source: source.spec,
    tool: toolOf(source),
    device: r.device,
    requested: {
      frequency: requested.frequency,
      sample_rate: requested.sampleRate,
      gain: requested.gain ?? 'auto',
      ppm: requested.ppm ?? 0,
    },
    frequency: r.frequency,
    sample_rate: r.sample_rate,
    gain: r.gain,
    ppm: r.ppm,
    datetime: r.datetime,
    samples: r.samples,
    reported_by_device: r.reported,
    overruns: r.overruns,
    dropped_samples: r.dropped_samples,
    overrun_at: r.overrun_at,
  };
}

/** A SigMF capture segment of what the hardware did, from `sampleStart` on (a sample or, for spectra, a bin). */
function captureSegment(r: CaptureReport, req: CaptureRequest, sampleStart: number): SigmfCaptureInput {
  return {
    sampleStart,
    frequency: r.frequency,
    datetime: r.datetime,
    sdrlink: {
      requested_frequency: req.frequency,
      sample_rate: r.sample_rate,
      requested_sample_rate: req.sampleRate,
      gain_db: r.gain,
      ppm: r.ppm,
      device: r.device,
      samples: r.samples,
      overruns: r.overruns,
      dropped_samples: r.dropped_samples,
    },
  };
}

const OVERRUN_COMMENT = 'the device dropped samples here: the samples before and after are not contiguous';

/** Global `sdrlink:` keys of every live output: the source, the tool, the conversion, the overrun total. */
function liveGlobal(source: CaptureSource, reports: readonly CaptureReport[]): Record<string, unknown> {
  return {
    'sdrlink:capture_source': source.spec,
    'sdrlink:tool': toolOf(source),
    'sdrlink:conversion': conversionOf(source),
    'sdrlink:overruns': reports.reduce((n, r) => n + r.overruns, 0),
    'sdrlink:dropped_samples': reports.reduce((n, r) => n + r.dropped_samples, 0),
  };
}

function toolOf(source: CaptureSource): string {
  return source.kind === 'rtlsdr' ? 'rtl_sdr' : source.kind === 'soapy' ? 'SoapySDR' : 'command';
}

function shortId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 12);
}

/* ------------------------------------------------------------------ signal */

const SIGNAL_KEYS = ['frequency', 'sample_rate', 'duration', 'gain', 'allow_overrun', 'format'] as const;

function validateSignal(p: RawParams, opts: LiveOptions): LiveSignalParams {
  readParams(p, SIGNAL_KEYS);
  const frequency = requireNumber(p, 'frequency', { min: 0, cap: 1e12, unit: 'Hz' });
  const rate = requireNumber(p, 'sample_rate', { above: 0, cap: 1e11, unit: 'Hz' });
  const duration = requireNumber(p, 'duration', DURATION_RULE);
  checkFrequency(opts.source, 'frequency', frequency);
  checkRate(opts.source, rate);
  const gain = readGain(p, opts);
  const samples = Math.round(duration * rate);
  if (samples < 1)
    paramError('duration', `duration × sample_rate gives no sample (${duration} s × ${rate} Hz)`);
  const out: LiveSignalParams = {
    source: 'live',
    frequency,
    sample_rate: rate,
    duration,
    gain,
    allow_overrun: readAllowOverrun(p),
    capture_id: shortId(),
    samples,
    format: optionalEnum(p, 'format', OUTPUT_FORMATS) ?? 'npz',
  };
  const bytes = signalBytes(out);
  if (bytes > opts.maxOutputBytes) {
    throw new DatasetError(
      'ERR_TOO_LARGE',
      `signal of ${samples} samples would be ${bytes} bytes, over this provider's limit of ${opts.maxOutputBytes} bytes`,
    );
  }
  return out;
}

/** The estimate: the samples' exact size, room for the metadata the hardware fills in. */
function signalBytes(p: LiveSignalParams): number {
  if (p.format === 'sigmf') return sigmfArchiveBytes(p.samples * 8, META_ROOM);
  const desc: IqDescription = { sampleRate: 0, centerFrequency: 0, meta: () => ({}) };
  return iqNpzBytes(p.samples, desc) + META_ROOM;
}

function signalFileName(p: LiveSignalParams): string {
  return `signal_${Math.trunc(p.frequency)}_${Math.trunc(p.sample_rate)}_${p.duration.toFixed(2)}_live_${p.capture_id}.${p.format}`;
}

function signalMetaOf(
  p: LiveSignalParams,
  source: CaptureSource,
  req: CaptureRequest,
  r: CaptureReport,
  sha512: string,
): Record<string, unknown> {
  const annotations: SigmfAnnotationInput[] = r.overrun_at.map((at) => ({
    sampleStart: at,
    sampleCount: 0,
    label: 'overrun',
    comment: OVERRUN_COMMENT,
  }));
  const meta = buildSigmfMeta({
    datatype: 'cf32_le',
    sampleRate: r.sample_rate,
    sha512,
    hw: r.device,
    description: `live capture from ${r.device}: ${p.duration} s at ${r.sample_rate} S/s tuned to ${r.frequency} Hz, gain ${r.gain}`,
    captures: [captureSegment(r, req, 0)],
    annotations,
    sdrlink: {
      generator: 'signal/live',
      source: 'live',
      parameters: publicSignal(p),
      capture: { ...captureMeta(source, r, req), conversion: conversionOf(source) },
    },
  });
  Object.assign(meta.global, liveGlobal(source, [r]));
  return meta;
}

function publicSignal(p: LiveSignalParams): Record<string, unknown> {
  return {
    frequency: p.frequency,
    sample_rate: p.sample_rate,
    duration: p.duration,
    gain: p.gain,
    allow_overrun: p.allow_overrun,
    ...(p.format === 'npz' ? {} : { format: p.format }),
  };
}

async function generateSignal(
  p: LiveSignalParams,
  path: string,
  opts: LiveOptions,
  queue: DeviceQueue,
  options: GenerateOptions,
): Promise<GenerateResult> {
  checkAborted(options.signal);
  const release = await takeDevice(queue, options);
  try {
    const source = opts.source;
    const req = requestOf(opts, p.gain, p.frequency, p.sample_rate, p.samples);
    const cap = new ProcessCapture(source.processSpec(req), req, options.signal);
    let report: CaptureReport | undefined;
    const meta = (sha512: string) => signalMetaOf(p, source, req, report as CaptureReport, sha512);
    const producer: IqProducer = {
      samples: p.samples,
      async fill(out, start, count) {
        await cap.read(out, count);
        if (start + count === p.samples) {
          report = await cap.finish();
          overrunCheck(report, p.allow_overrun, 'during the capture');
        }
      },
    };
    try {
      if (p.format === 'sigmf') {
        // the archive's entries are dated when the capture starts (the headers precede the samples)
        const name = signalFileName(p).replace(/\.sigmf$/, '');
        return await writeIqSigmf(path, producer, { name, mtime: Date.now() / 1000, meta }, options);
      }
      const desc: IqDescription = {
        get sampleRate() {
          return report?.sample_rate ?? p.sample_rate;
        },
        get centerFrequency() {
          return report?.frequency ?? p.frequency;
        },
        meta,
      };
      return await writeIqNpz(path, producer, desc, options);
    } finally {
      cap.abort();
    }
  } finally {
    release();
  }
}

/* ---------------------------------------------------------------- spectrum */

const SPECTRUM_KEYS = [
  'frequency_start',
  'frequency_end',
  'sample_rate',
  'fft_size',
  'averages',
  'window',
  'gain',
  'allow_overrun',
  'calibration_db',
  'format',
] as const;

function readCalibration(p: RawParams, opts: LiveOptions): number | null {
  return optionalNumber(p, 'calibration_db', CALIBRATION_RULE) ?? opts.calibrationDb ?? null;
}

/** `frequency_start` < `frequency_end` and a sample rate the device takes (its default when absent). */
function readSpan(p: RawParams, source: LiveOptions['source']): { start: number; end: number; rate: number } {
  const start = requireNumber(p, 'frequency_start', { min: 0, cap: 1e12, unit: 'Hz' });
  const end = requireNumber(p, 'frequency_end', { min: 0, cap: 1e12, unit: 'Hz' });
  if (end <= start)
    paramError('frequency_end', `must be greater than frequency_start (${start}), got ${end}`);
  const rate =
    optionalNumber(p, 'sample_rate', { above: 0, cap: 1e11, unit: 'Hz' }) ?? source.defaultSampleRate;
  checkRate(source, rate);
  return { start, end, rate };
}

function validateSpectrum(p: RawParams, opts: LiveOptions): LiveSpectrumParams {
  readParams(p, SPECTRUM_KEYS);
  const source = opts.source;
  const { start, end, rate } = readSpan(p, source);
  const fftSize = optionalNumber(p, 'fft_size', FFT_RULE) ?? DEFAULT_FFT_SIZE;
  const averages = optionalNumber(p, 'averages', AVERAGES_RULE) ?? DEFAULT_AVERAGES;
  const window = optionalEnum(p, 'window', WINDOWS) ?? 'hann';
  const calibration = readCalibration(p, opts);
  readNpzOnlyFormat(p, 'spectrum');
  const plan = planSweep(start, end, rate, fftSize);
  // Every tuned segment must be a frequency the device tunes; the span's edges too.
  checkFrequency(source, 'frequency_start', start);
  checkFrequency(source, 'frequency_end', end);
  for (let k = 0; k < plan.captures; k++) {
    const c = captureCenter(plan, k);
    if (!inRanges(c, source.ranges.frequency)) {
      throw new CaptureError(
        'ERR_DEVICE_RANGE',
        `segment ${k + 1} of the sweep would tune to ${c} Hz, outside the tuning range of ${source.device}: ` +
          `${formatRanges(source.ranges.frequency, 'Hz')}; keep the span inside it by sample_rate/2`,
      );
    }
  }
  const out: LiveSpectrumParams = {
    source: 'live',
    frequency_start: start,
    frequency_end: end,
    sample_rate: rate,
    fft_size: fftSize,
    averages,
    window,
    gain: readGain(p, opts),
    allow_overrun: readAllowOverrun(p),
    capture_id: shortId(),
    bins: plan.bins,
    plan,
    calibration_db: calibration,
  };
  const points = plan.captures * averages * fftSize;
  if (points > opts.maxFftPoints) {
    throw new DatasetError(
      'ERR_TOO_LARGE',
      `spectrum needs ${points} FFT points (captures × averages × fft_size), over this provider's limit of ${opts.maxFftPoints}`,
    );
  }
  const bytes = spectrumBytes(out);
  if (bytes > opts.maxOutputBytes) {
    throw new DatasetError(
      'ERR_TOO_LARGE',
      `spectrum of ${out.bins} bins would be ${bytes} bytes, over this provider's limit of ${opts.maxOutputBytes} bytes`,
    );
  }
  return out;
}

function spectrumBytes(p: LiveSpectrumParams): number {
  return (
    npzArchiveBytes([
      ['frequencies', { descr: '<f8', shape: [p.bins] }],
      ['power_db', { descr: '<f4', shape: [p.bins] }],
      ['meta', { descr: '<U1', shape: [] }],
    ]) +
    4 * (META_ROOM + 1024 * p.plan.captures)
  );
}

function publicSpectrum(p: LiveSpectrumParams): Record<string, unknown> {
  return {
    frequency_start: p.frequency_start,
    frequency_end: p.frequency_end,
    sample_rate: p.sample_rate,
    fft_size: p.fft_size,
    averages: p.averages,
    window: p.window,
    gain: p.gain,
    allow_overrun: p.allow_overrun,
    ...(p.calibration_db === null ? {} : { calibration_db: p.calibration_db }),
  };
}

async function generateSpectrum(
  p: LiveSpectrumParams,
  path: string,
  opts: LiveOptions,
  queue: DeviceQueue,
  options: GenerateOptions,
): Promise<GenerateResult> {
  checkAborted(options.signal);
  const source = opts.source;
  const plan = p.plan;
  const dwell = welchSamples(p.averages, p.fft_size);
  const freqs = new Float64Array(p.bins);
  const power = new Float32Array(p.bins);
  const reports: CaptureReport[] = [];
  const captures: SigmfCaptureInput[] = [];
  const annotations: SigmfAnnotationInput[] = [];
  const block = new Float32Array(2 * Math.min(1 << 16, dwell));
  const estimate = spectrumBytes(p);
  const cal = p.calibration_db ?? 0;
  const release = await takeDevice(queue, options);
  try {
    for (let k = 0; k < plan.captures; k++) {
      checkAborted(options.signal);
      const center = captureCenter(plan, k);
      const req = requestOf(opts, p.gain, center, p.sample_rate, dwell);
      const welch = new WelchEstimator({ fftSize: p.fft_size, sampleRate: p.sample_rate, window: p.window });
      const r = await captureInto(source, req, options, block, (b, n) => welch.push(b, 0, n));
      overrunCheck(r, p.allow_overrun, `in sweep segment ${k + 1} (tuned to ${center} Hz)`);
      const psd = welch.density();
      const count = Math.min(plan.keep, plan.bins - k * plan.keep);
      // The bins as the hardware really tuned and sampled them.
      const binHz = r.sample_rate / p.fft_size;
      for (let i = 0; i < count; i++) {
        const j = k * plan.keep + i;
        const b = plan.left + i;
        // Welch scaled with the requested rate; the density per Hz follows the real one.
        power[j] = toDb(((psd[b] as number) * p.sample_rate) / r.sample_rate) + cal;
        freqs[j] = r.frequency + (b - p.fft_size / 2) * binHz;
      }
      // a "sample" of the power_db array is a bin: the segment starts at its first bin
      const seg = captureSegment(r, req, k * plan.keep);
      seg.sdrlink = { ...seg.sdrlink, segment: k, bins: count, first_frequency: freqs[k * plan.keep] };
      captures.push(seg);
      if (r.overruns > 0) {
        annotations.push({
          sampleStart: k * plan.keep,
          sampleCount: count,
          freqLowerEdge: freqs[k * plan.keep] as number,
          freqUpperEdge: freqs[k * plan.keep + count - 1] as number,
          label: 'overrun',
          comment: `${OVERRUN_COMMENT}; these bins average what was received`,
          sdrlink: { overruns: r.overruns, dropped_samples: r.dropped_samples },
        });
      }
      reports.push(r);
      options.onProgress?.(Math.floor((estimate * (k + 1)) / (plan.captures + 1)));
    }
  } finally {
    release();
  }
  const sha512 = createHash('sha512').update(new Uint8Array(power.buffer)).digest('hex');
  const built = buildSigmfMeta({ datatype: 'rf32_le', captures, annotations });
  const global = spectrumGlobal({ ...p, source: 'live', parameters: publicSpectrum(p) }, sha512);
  global['core:hw'] = (reports[0] as CaptureReport).device;
  global['sdrlink:sweep'] = sweepMeta(plan, dwell);
  Object.assign(global, liveGlobal(source, reports));
  const meta = { global, captures: built.captures, annotations: built.annotations };
  return writeNpzWithMeta(
    path,
    async (w) => {
      await w.writeArray('frequencies', { descr: '<f8', shape: [p.bins] }, freqs);
      await w.writeArray('power_db', { descr: '<f4', shape: [p.bins] }, power);
      return JSON.stringify(meta);
    },
    options.onProgress,
  );
}

/* ------------------------------------------------------------- spectrogram */

const SPECTROGRAM_KEYS = [
  'frequency_start',
  'frequency_end',
  'sample_rate',
  'duration',
  'fft_size',
  'time_resolution',
  'window',
  'gain',
  'allow_overrun',
  'calibration_db',
  'format',
] as const;

function validateSpectrogram(p: RawParams, opts: LiveOptions): LiveSpectrogramParams {
  readParams(p, SPECTROGRAM_KEYS);
  const source = opts.source;
  const { start, end, rate } = readSpan(p, source);
  const usable = USABLE_FRACTION * rate;
  if (end - start > usable) {
    paramError(
      'frequency_end',
      `a live spectrogram is one tuned capture: the span ${end - start} Hz must be at most the usable band ` +
        `${USABLE_FRACTION} × sample_rate = ${usable} Hz (the edges of the front end roll off); raise sample_rate ` +
        `(${formatRanges(source.ranges.sampleRate, 'Hz')}) or request a spectrum (swept) for a wider band`,
    );
  }
  checkFrequency(source, 'frequency_start', start);
  checkFrequency(source, 'frequency_end', end);
  const center = (start + end) / 2;
  if (!inRanges(center, source.ranges.frequency))
    throw rangeError(
      source,
      'frequency_start',
      'tuning range (center of the span)',
      center,
      source.ranges.frequency,
    );
  const duration = requireNumber(p, 'duration', DURATION_RULE);
  const window = optionalEnum(p, 'window', WINDOWS) ?? 'hann';
  const calibration = readCalibration(p, opts);
  readNpzOnlyFormat(p, 'spectrogram');
  const g = spectrogramGrid(
    p,
    rate,
    center,
    start,
    end,
    Math.round(duration * rate),
    `duration ${duration} s`,
  );
  const out: LiveSpectrogramParams = {
    source: 'live',
    frequency_start: start,
    frequency_end: end,
    sample_rate: rate,
    duration,
    window,
    calibration_db: calibration,
    centerFrequency: center,
    gain: readGain(p, opts),
    allow_overrun: readAllowOverrun(p),
    capture_id: shortId(),
    ...g,
  };
  checkSpectrogramLimits(out, spectrogramBytes(out), opts);
  return out;
}

function spectrogramBytes(p: LiveSpectrogramParams): number {
  return (
    npzArchiveBytes([
      ['frequencies', { descr: '<f8', shape: [p.bins] }],
      ['times', { descr: '<f8', shape: [p.rows] }],
      ['power_db', { descr: '<f4', shape: [p.rows, p.bins] }],
      ['meta', { descr: '<U1', shape: [] }],
    ]) +
    4 * META_ROOM
  );
}

function publicSpectrogram(p: LiveSpectrogramParams): Record<string, unknown> {
  return {
    frequency_start: p.frequency_start,
    frequency_end: p.frequency_end,
    sample_rate: p.sample_rate,
    duration: p.duration,
    fft_size: p.fft_size,
    time_resolution: p.time_resolution,
    window: p.window,
    gain: p.gain,
    allow_overrun: p.allow_overrun,
    calibration_db: p.calibration_db,
  };
}

async function generateSpectrogram(
  p: LiveSpectrogramParams,
  path: string,
  opts: LiveOptions,
  queue: DeviceQueue,
  options: GenerateOptions,
): Promise<GenerateResult> {
  checkAborted(options.signal);
  const source = opts.source;
  const total = p.rows * p.rowSamples;
  const release = await takeDevice(queue, options);
  try {
    const req = requestOf(opts, p.gain, p.centerFrequency, p.sample_rate, total);
    let report: CaptureReport | undefined;
    const meta = (sha512: string): string => {
      const r = report as CaptureReport;
      const global = spectrogramGlobal(p, publicSpectrogram(p), sha512);
      global['core:hw'] = r.device;
      Object.assign(global, liveGlobal(source, [r]));
      // an overrun lands in a row: the annotation covers that row's bins (a "sample" is one value)
      const rows = [...new Set(r.overrun_at.map((at) => Math.floor(at / p.rowSamples)))].filter(
        (row) => row < p.rows,
      );
      const built = buildSigmfMeta({
        datatype: 'rf32_le',
        captures: [captureSegment(r, req, 0)],
        annotations: rows.map((row) => ({
          sampleStart: row * p.bins,
          sampleCount: p.bins,
          label: 'overrun',
          comment: `${OVERRUN_COMMENT}; this row averages what was received`,
          sdrlink: { row },
        })),
      });
      return JSON.stringify({ global, captures: built.captures, annotations: built.annotations });
    };
    return await writeSpectrogram(
      p,
      path,
      options,
      async (consume) => {
        const r = await captureInto(
          source,
          req,
          options,
          new Float32Array(2 * Math.min(1 << 16, total)),
          (b, n) => consume(b, 0, n),
        );
        overrunCheck(r, p.allow_overrun, 'during the capture');
        report = r;
      },
      meta,
    );
  } finally {
    release();
  }
}

/* -------------------------------------------------------------- datasets */

type LiveType = 'signal' | 'spectrum' | 'spectrogram';

function describeLive(opts: LiveOptions, type: LiveType): ParamDescription[] {
  const s = opts.source;
  const f = hull(s.ranges.frequency);
  const r = hull(s.ranges.sampleRate);
  const freq = (name: string, required: boolean) =>
    describeNumber(
      name,
      { min: f.min, max: f.max, unit: 'Hz' },
      {
        required,
        description: `tuning range of ${s.device}: ${formatRanges(s.ranges.frequency, 'Hz')}`,
      },
    );
  // the lowest rate is itself refused when its range says so (librtlsdr: 225 kHz)
  const lowestExclusive = s.ranges.sampleRate.some((x) => x.min === r.min && x.minExclusive === true);
  const rateRule: NumberRule = lowestExclusive
    ? { above: r.min, max: r.max, unit: 'Hz' }
    : { min: r.min, max: r.max, unit: 'Hz' };
  const rate = (required: boolean) =>
    describeNumber('sample_rate', rateRule, {
      required,
      description: `sample rates of ${s.device}: ${formatRanges(s.ranges.sampleRate, 'Hz')}`,
      ...(required ? {} : { default: s.defaultSampleRate }),
    });
  const gainRange = s.ranges.gain;
  const gain = describeNumber(
    'gain',
    gainRange === undefined ? GAIN_RULE : { min: gainRange.min, max: gainRange.max, unit: 'dB' },
    { description: opts.gain === undefined ? 'default: automatic gain' : `default ${opts.gain} dB` },
  );
  const overrun = {
    name: 'allow_overrun',
    type: 'boolean' as const,
    required: false,
    default: false,
    description: 'serve a capture with dropped samples, the gaps marked, instead of refusing it',
  };
  const calibration = describeNumber('calibration_db', CALIBRATION_RULE, {
    description:
      opts.calibrationDb === undefined
        ? 'dB added to dBFS/Hz to give dBm/Hz (default: none, dBFS/Hz)'
        : `dB added to dBFS/Hz to give dBm/Hz (default: the provider's ${opts.calibrationDb} dB)`,
  });
  const npzOnly = describeString('format', ['npz'], {
    default: 'npz',
    description: 'npz only (SigMF is for samples)',
  });
  const own =
    type === 'signal'
      ? [
          freq('frequency', true),
          rate(true),
          describeNumber('duration', DURATION_RULE, { required: true }),
          gain,
          overrun,
          describeString('format', OUTPUT_FORMATS, {
            default: 'npz',
            description:
              'npz (NumPy archive) or sigmf (SigMF Archive: a tar of N/N.sigmf-meta + N/N.sigmf-data)',
          }),
        ]
      : type === 'spectrum'
        ? [
            freq('frequency_start', true),
            freq('frequency_end', true),
            rate(false),
            describeNumber('fft_size', FFT_RULE, { default: DEFAULT_FFT_SIZE }),
            describeNumber('averages', AVERAGES_RULE, { default: DEFAULT_AVERAGES }),
            describeString('window', WINDOWS, { default: 'hann' }),
            gain,
            overrun,
            calibration,
            npzOnly,
          ]
        : [
            freq('frequency_start', true),
            {
              ...freq('frequency_end', true),
              description: `one tuning: at most ${USABLE_FRACTION} × sample_rate above frequency_start`,
            },
            rate(false),
            describeNumber('duration', DURATION_RULE, { required: true }),
            describeNumber('fft_size', FFT_RULE, { default: DEFAULT_SPECTROGRAM_FFT_SIZE }),
            describeNumber('time_resolution', TIME_RESOLUTION_RULE, {
              description: `seconds per row (at least fft_size/sample_rate); default ${DEFAULT_ROW_FFTS}·fft_size/sample_rate`,
            }),
            describeString('window', WINDOWS, { default: 'hann' }),
            gain,
            overrun,
            calibration,
            npzOnly,
          ];
  const fromFiles = opts.files?.get(type)?.describe?.().parameters ?? [];
  const names = new Set(own.map((x) => x.name));
  return [
    ...own,
    ...fromFiles
      .filter((x) => !names.has(x.name))
      .map((x) => ({
        ...x,
        required: false,
        description: `recording only${x.description === undefined ? '' : `; ${x.description}`}`,
      })),
  ];
}

function liveDataset<P extends LiveSignalParams | LiveSpectrumParams | LiveSpectrogramParams>(
  type: LiveType,
  description: string,
  opts: LiveOptions,
  validate: (p: RawParams) => P,
  fileName: (p: P) => string,
  bytes: (p: P) => number,
  generate: (p: P, path: string, options: GenerateOptions) => Promise<GenerateResult>,
): Dataset<Wrapped<P>> {
  const files = opts.files?.get(type);
  return {
    type,
    description,
    describe() {
      return { type, description, parameters: describeLive(opts, type) };
    },
    validate(raw: unknown): Wrapped<P> {
      if (typeof raw === 'object' && raw !== null && 'recording' in raw) {
        if (files === undefined) paramError('recording', 'this provider serves no recordings');
        return { kind: 'file', dataset: files, p: files.validate(raw) };
      }
      return { kind: 'live', p: validate(raw as RawParams) };
    },
    isLive: (w) => w.kind === 'live',
    fileName: (w) => (w.kind === 'live' ? fileName(w.p) : w.dataset.fileName(w.p)),
    estimateBytes: (w) => (w.kind === 'live' ? bytes(w.p) : w.dataset.estimateBytes(w.p)),
    generate: (w, path, options = {}) =>
      w.kind === 'live' ? generate(w.p, path, options) : w.dataset.generate(w.p, path, options),
  };
}

/** The live `spectrum`, `signal` and `spectrogram` datasets of one source (in that order). */
export function createLiveDatasets(opts: LiveOptions): Dataset[] {
  const queue = opts.queue ?? new DeviceQueue();
  const dev = opts.source.device;
  return [
    liveDataset<LiveSpectrumParams>(
      'spectrum',
      `power spectral density (Welch) over [frequency_start, frequency_end] captured live from ${dev}, swept in tuned segments when wider than the sample rate; frequencies (Hz), power_db, meta`,
      opts,
      (p) => validateSpectrum(p, opts),
      (p) =>
        `spectrum_${Math.trunc(p.frequency_start)}_${Math.trunc(p.frequency_end)}_${Math.trunc(p.sample_rate)}_live_${p.capture_id}.npz`,
      spectrumBytes,
      (p, path, o) => generateSpectrum(p, path, opts, queue, o),
    ),
    liveDataset<LiveSignalParams>(
      'signal',
      `complex64 IQ samples (iq) captured live from ${dev}, with SigMF metadata of what the hardware did`,
      opts,
      (p) => validateSignal(p, opts),
      signalFileName,
      signalBytes,
      (p, path, o) => generateSignal(p, path, opts, queue, o),
    ),
    liveDataset<LiveSpectrogramParams>(
      'spectrogram',
      `power over time × frequency (a waterfall, Welch per row) captured live from ${dev} in one tuning; power_db [time, freq], times (s), frequencies (Hz), meta`,
      opts,
      (p) => validateSpectrogram(p, opts),
      (p) =>
        `spectrogram_${Math.trunc(p.frequency_start)}_${Math.trunc(p.frequency_end)}_${Math.trunc(p.sample_rate)}_${p.duration.toFixed(2)}_live_${p.capture_id}.npz`,
      spectrogramBytes,
      (p, path, o) => generateSpectrogram(p, path, opts, queue, o),
    ),
  ];
}
