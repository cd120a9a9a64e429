/**
 * `signal` and `spectrum` served from a live receiver (docs/datasets.md "Live capture"). Same request types,
 * same arrays as the synthetic ones, but the samples come from the device: tuned, sampled and gained as
 * asked, converted to complex64, and annotated with what the hardware reported it did. A spectrum wider
 * than the usable band is swept in tuned segments (the plan of the synthetic sweep, `planSweep`), each
 * segment a capture of its own, and the per-segment spectra stitched.
 *
 * One capture uses the device at a time (`DeviceQueue`); a request that waits hears its place in line.
 */
import { randomUUID, createHash } from 'node:crypto';
import { iqNpzBytes, writeIqNpz, checkAborted, type IqDescription } from '../datasets/iq-output.js';
import { encodeUnicodeArray } from '../datasets/npy-header.js';
import { npzArchiveBytes, NpzWriter } from '../datasets/npz-writer.js';
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
import { GENERATOR, SIGMF_VERSION } from '../datasets/signal.js';
import {
  captureCenter,
  DEFAULT_AVERAGES,
  DEFAULT_FFT_SIZE,
  MAX_AVERAGES,
  MAX_FFT_SIZE,
  MIN_FFT_SIZE,
  planSweep,
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
import {
  makeWindow,
  PSD_FLOOR,
  toDb,
  WelchEstimator,
  welchSamples,
  windowEnbwBins,
  WINDOWS,
  type WindowName,
} from '../datasets/welch.js';
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
}

const MAX_DURATION = 3600;
/** Room kept in the size estimate for the metadata the hardware fills in. */
const META_ROOM = 16_384;

const GAIN_RULE: NumberRule = { min: -100, max: 200, unit: 'dB' };
const DURATION_RULE: NumberRule = { above: 0, cap: MAX_DURATION, unit: 'seconds' };
const FFT_RULE: NumberRule = { min: MIN_FFT_SIZE, max: MAX_FFT_SIZE, powerOfTwo: true };
const AVERAGES_RULE: NumberRule = { min: 1, max: MAX_AVERAGES, integer: true };

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
    tool: source.kind === 'rtlsdr' ? 'rtl_sdr' : source.kind === 'soapy' ? 'SoapySDR' : 'command',
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

function shortId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 12);
}

/* ------------------------------------------------------------------ signal */

const SIGNAL_KEYS = ['frequency', 'sample_rate', 'duration', 'gain', 'allow_overrun'] as const;

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

function signalBytes(p: LiveSignalParams): number {
  const desc: IqDescription = { sampleRate: 0, centerFrequency: 0, meta: () => ({}) };
  return iqNpzBytes(p.samples, desc) + META_ROOM;
}

function signalMetaOf(
  p: LiveSignalParams,
  source: CaptureSource,
  req: CaptureRequest,
  r: CaptureReport,
  sha512: string,
): Record<string, unknown> {
  const annotations = r.overrun_at.map((at) => ({
    'core:sample_start': at,
    'core:sample_count': 0,
    'core:label': 'overrun',
    'core:comment': 'the device dropped samples here: the samples before and after are not contiguous',
  }));
  return {
    global: {
      'core:datatype': 'cf32_le',
      'core:sample_rate': r.sample_rate,
      'core:version': SIGMF_VERSION,
      'core:num_channels': 1,
      'core:sha512': sha512,
      'core:recorder': GENERATOR,
      'core:hw': r.device,
      'core:description': `live capture from ${r.device}: ${p.duration} s at ${r.sample_rate} S/s tuned to ${r.frequency} Hz, gain ${r.gain}`,
      'sdrlink:generator': 'signal/live',
      'sdrlink:parameters': publicSignal(p),
      'sdrlink:capture': { ...captureMeta(source, r, req), conversion: conversionOf(source) },
    },
    captures: [{ 'core:sample_start': 0, 'core:frequency': r.frequency, 'core:datetime': r.datetime }],
    annotations,
  };
}

function publicSignal(p: LiveSignalParams): Record<string, unknown> {
  return {
    frequency: p.frequency,
    sample_rate: p.sample_rate,
    duration: p.duration,
    gain: p.gain,
    allow_overrun: p.allow_overrun,
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
    const desc: IqDescription = {
      get sampleRate() {
        return report?.sample_rate ?? p.sample_rate;
      },
      get centerFrequency() {
        return report?.frequency ?? p.frequency;
      },
      meta: (sha512) => signalMetaOf(p, source, req, report as CaptureReport, sha512),
    };
    try {
      return await writeIqNpz(
        path,
        {
          samples: p.samples,
          async fill(out, start, count) {
            await cap.read(out, count);
            if (start + count === p.samples) {
              report = await cap.finish();
              overrunCheck(report, p.allow_overrun, 'during the capture');
            }
          },
        },
        desc,
        options,
      );
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
] as const;

function validateSpectrum(p: RawParams, opts: LiveOptions): LiveSpectrumParams {
  readParams(p, SPECTRUM_KEYS);
  const source = opts.source;
  const start = requireNumber(p, 'frequency_start', { min: 0, cap: 1e12, unit: 'Hz' });
  const end = requireNumber(p, 'frequency_end', { min: 0, cap: 1e12, unit: 'Hz' });
  if (end <= start)
    paramError('frequency_end', `must be greater than frequency_start (${start}), got ${end}`);
  const rate =
    optionalNumber(p, 'sample_rate', { above: 0, cap: 1e11, unit: 'Hz' }) ?? source.defaultSampleRate;
  checkRate(source, rate);
  const fftSize = optionalNumber(p, 'fft_size', FFT_RULE) ?? DEFAULT_FFT_SIZE;
  const averages = optionalNumber(p, 'averages', AVERAGES_RULE) ?? DEFAULT_AVERAGES;
  const window = optionalEnum(p, 'window', WINDOWS) ?? 'hann';
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
  const segments: Record<string, unknown>[] = [];
  const block = new Float32Array(2 * Math.min(1 << 16, dwell));
  const estimate = spectrumBytes(p);
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
        power[j] = toDb(((psd[b] as number) * p.sample_rate) / r.sample_rate);
        freqs[j] = r.frequency + (b - p.fft_size / 2) * binHz;
      }
      segments.push({
        segment: k,
        requested_frequency: center,
        ...captureMeta(source, r, req),
        first_bin: k * plan.keep,
        bins: count,
      });
      options.onProgress?.(Math.floor((estimate * (k + 1)) / (plan.captures + 1)));
    }
  } finally {
    release();
  }
  const first = segments[0] as { datetime: string; device: string };
  const window = makeWindow(p.window, p.fft_size);
  const hash = createHash('sha256').update(new Uint8Array(power.buffer)).digest('hex');
  const meta = {
    'sdrlink:type': 'spectrum',
    generator: GENERATOR,
    source: 'live',
    parameters: publicSpectrum(p),
    datetime: first.datetime,
    method: 'welch',
    sample_rate: p.sample_rate,
    fft_size: p.fft_size,
    overlap: 0.5,
    window: p.window,
    averages: p.averages,
    bin_hz: p.sample_rate / p.fft_size,
    enbw_hz: (windowEnbwBins(window) * p.sample_rate) / p.fft_size,
    units: {
      frequencies: 'Hz',
      power_db: 'dB relative to full scale^2 per Hz (10*log10 of the Welch density)',
    },
    floor_db: toDb(PSD_FLOOR),
    bins: p.bins,
    power_db_sha256: hash,
    sweep: {
      captures: plan.captures,
      first_center_frequency: captureCenter(plan, 0),
      step_hz: plan.keep * plan.binHz,
      bins_per_capture: Math.min(plan.keep, plan.bins),
      usable_fraction: USABLE_FRACTION,
      samples_per_capture: dwell,
    },
    capture: { source: source.spec, device: first.device, conversion: conversionOf(source) },
    captures: segments,
  };
  const w = await NpzWriter.create(path);
  try {
    await w.writeArray('frequencies', { descr: '<f8', shape: [p.bins] }, freqs);
    await w.writeArray('power_db', { descr: '<f4', shape: [p.bins] }, power);
    const m = encodeUnicodeArray([JSON.stringify(meta)]);
    await w.writeArray('meta', { descr: m.descr, shape: [] }, m.data);
    const { bytes } = await w.close();
    options.onProgress?.(bytes);
    return { bytes };
  } catch (err) {
    await w.discard();
    throw err;
  }
}

/* -------------------------------------------------------------- datasets */

function describeLive(opts: LiveOptions, type: 'signal' | 'spectrum'): ParamDescription[] {
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
  const own =
    type === 'signal'
      ? [
          freq('frequency', true),
          rate(true),
          describeNumber('duration', DURATION_RULE, { required: true }),
          gain,
          overrun,
        ]
      : [
          freq('frequency_start', true),
          freq('frequency_end', true),
          rate(false),
          describeNumber('fft_size', FFT_RULE, { default: DEFAULT_FFT_SIZE }),
          describeNumber('averages', AVERAGES_RULE, { default: DEFAULT_AVERAGES }),
          describeString('window', WINDOWS, { default: 'hann' }),
          gain,
          overrun,
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

function liveDataset<P extends LiveSignalParams | LiveSpectrumParams>(
  type: 'signal' | 'spectrum',
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

/** The live `signal` and `spectrum` datasets of one source. */
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
      (p) =>
        `signal_${Math.trunc(p.frequency)}_${Math.trunc(p.sample_rate)}_${p.duration.toFixed(2)}_live_${p.capture_id}.npz`,
      signalBytes,
      (p, path, o) => generateSignal(p, path, opts, queue, o),
    ),
  ];
}
