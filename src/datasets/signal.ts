/**
 * The `signal` request type: complex64 IQ samples in an `.npz` (see docs/datasets.md, "signal").
 *
 * Two sources behind one request type:
 * - synthetic: a carrier at `frequency`, seen by a receiver tuned to `center_frequency`, sampled at
 *   `sample_rate` for `duration` seconds, modulated (tone | am | fm | bpsk), with Gaussian noise at
 *   `snr_db`, reproducible from `seed`;
 * - a SigMF recording (`recording` parameter): a time slice (`offset`, `duration`), optionally shifted so
 *   that `frequency` lands at 0 Hz, and optionally low-pass filtered and decimated to `sample_rate`.
 */
import { createHash } from 'node:crypto';
import {
  IQ_BLOCK_SAMPLES,
  iqNpzBytes,
  writeIqNpz,
  type IqDescription,
  type IqProducer,
} from './iq-output.js';
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
import { createRng } from './prng.js';
import {
  iqSigmfBytes,
  OUTPUT_FORMATS,
  SIGMF_VERSION,
  sdrlinkExtensions,
  writeIqSigmf,
  type OutputFormat,
  type SigmfIqDescription,
} from './sigmf-out.js';
import { captureAt, readRecordingSync, RecordingReader, type RecordingInfo } from './sigmf.js';
import {
  DatasetError,
  type Dataset,
  type GenerateOptions,
  type GenerateResult,
  type ParamDescription,
} from './types.js';
import {
  createWaveform,
  MODULATIONS,
  waveformBandwidth,
  waveformPower,
  type Modulation,
  type WaveformSpec,
} from './waveform.js';
import { makeWindow } from './welch.js';

/** Generator name and version written into metadata. */
export const GENERATOR = 'sdrlink 0.1.0';
export { SIGMF_VERSION } from './sigmf-out.js';
/** PRNG stream ids (see prng.ts): one per purpose, so changing one never shifts another. */
export const STREAM_SIGNAL_NOISE = 1;
export const STREAM_SIGNAL_SYMBOLS = 2;
/** Largest decimation factor for recordings. */
export const MAX_DECIMATION = 256;
/** FIR taps per unit of decimation (the low-pass filter has `FIR_TAPS_PER_FACTOR·D + 1` taps). */
export const FIR_TAPS_PER_FACTOR = 32;

const MAX_FREQUENCY = 1e12;
const MAX_SAMPLE_RATE = 1e11;
const MAX_DURATION = 1e7;

/** Validated parameters of a synthetic signal. */
export interface SyntheticSignalParams {
  source: 'synthetic';
  frequency: number;
  sample_rate: number;
  duration: number;
  center_frequency: number;
  amplitude: number;
  /** null: no noise. */
  snr_db: number | null;
  modulation: Modulation;
  modulation_frequency?: number;
  modulation_index?: number;
  deviation?: number;
  symbol_rate?: number;
  seed: number;
  datetime: string;
  /** `npz` (default) or `sigmf` (a SigMF Archive). */
  format: OutputFormat;
  /** Derived: number of complex samples. */
  samples: number;
}

/** Validated parameters of a signal cut from a recording. */
export interface RecordingSignalParams {
  source: 'recording';
  recording: string;
  /** Seconds from the start of the recording (rounded to a sample). */
  offset: number;
  duration: number;
  /** Output center frequency (Hz). */
  frequency: number;
  /** Output sample rate (Hz). */
  sample_rate: number;
  datetime: string;
  format: OutputFormat;
  /** Derived. */
  startSample: number;
  inputSamples: number;
  samples: number;
  decimation: number;
  info: RecordingInfo;
}

/** Validated `signal` parameters. */
export type SignalParams = SyntheticSignalParams | RecordingSignalParams;

/** Options of the `signal` dataset. */
export interface SignalDatasetOptions {
  /** Folder of SigMF recordings; without it, `recording` requests are refused. */
  recordingsDir?: string;
  /** Largest output file (bytes); larger requests fail validation with `ERR_TOO_LARGE`. */
  maxOutputBytes: number;
}

const SYNTHETIC_KEYS = [
  'frequency',
  'sample_rate',
  'duration',
  'center_frequency',
  'amplitude',
  'snr_db',
  'modulation',
  'modulation_frequency',
  'modulation_index',
  'deviation',
  'symbol_rate',
  'seed',
  'datetime',
  'recording',
  'format',
] as const;
const RECORDING_KEYS = [
  'recording',
  'offset',
  'duration',
  'frequency',
  'sample_rate',
  'datetime',
  'format',
] as const;
const RECORDING_NAME_PARAM = /^[^/\\\u0000-\u001f]{1,200}$/;

/** The numeric rules `validate` applies; `describe` reports the same objects (docs/api.md §12). */
const RULES = {
  frequency: { min: 0, cap: MAX_FREQUENCY, unit: 'Hz' },
  sample_rate: { above: 0, cap: MAX_SAMPLE_RATE, unit: 'Hz' },
  duration: { above: 0, cap: MAX_DURATION, unit: 'seconds' },
  offset: { min: 0, cap: MAX_DURATION, unit: 'seconds' },
  amplitude: { above: 0, cap: 1000, unit: 'full scale' },
  snr_db: { min: -50, max: 200, unit: 'dB' },
  modulation_index: { min: 0, max: 1 },
} as const satisfies Record<string, NumberRule>;

/** A rule whose cap is the Nyquist frequency of the request (described without a fixed maximum). */
const belowNyquist = (nyquist: number, unit: string): NumberRule => ({ above: 0, cap: nyquist, unit });

/** The parameters of `signal`, for the provider's catalog. */
export function describeSignalParams(): ParamDescription[] {
  const nyq = 'at most sample_rate/2';
  return [
    describeNumber('frequency', RULES.frequency, { description: 'required without recording' }),
    describeNumber('sample_rate', RULES.sample_rate, {
      description: 'required without recording; with one, its rate divided by 1 to 256',
    }),
    describeNumber('duration', RULES.duration, { description: 'required without recording' }),
    describeNumber('center_frequency', RULES.frequency, { description: 'default frequency - sample_rate/4' }),
    describeNumber('amplitude', RULES.amplitude, { default: 1 }),
    describeNumber('snr_db', RULES.snr_db, { description: 'default: no noise' }),
    describeString('modulation', MODULATIONS, { default: 'tone' }),
    describeNumber('modulation_frequency', { above: 0, unit: 'Hz' }, { description: `am, fm; ${nyq}` }),
    describeNumber('modulation_index', RULES.modulation_index, { default: 0.5, description: 'am' }),
    describeNumber('deviation', { above: 0, unit: 'Hz' }, { description: `fm; ${nyq}` }),
    describeNumber('symbol_rate', { above: 0, unit: 'symbols/s' }, { description: `bpsk; ${nyq}` }),
    describeNumber('seed', SEED_RULE, { default: 0 }),
    describeString('datetime', undefined, { description: 'ISO 8601 date-time with a time zone' }),
    describeString('recording', undefined, {
      description: 'a recording of this provider (catalog recordings)',
    }),
    describeNumber('offset', RULES.offset, { default: 0, description: 'recording only' }),
    describeString('format', OUTPUT_FORMATS, {
      default: 'npz',
      description: 'npz (NumPy archive) or sigmf (SigMF Archive: a tar of N/N.sigmf-meta + N/N.sigmf-data)',
    }),
  ];
}

const hz = (v: number): string => `${v} Hz`;

function waveformSpecOf(p: SyntheticSignalParams): WaveformSpec {
  const spec: WaveformSpec = {
    modulation: p.modulation,
    offset: p.frequency - p.center_frequency,
    sampleRate: p.sample_rate,
    amplitude: p.amplitude,
    symbolKey: createRng(p.seed, STREAM_SIGNAL_SYMBOLS).nextU32(),
  };
  if (p.modulation_frequency !== undefined) spec.modulationFrequency = p.modulation_frequency;
  if (p.modulation_index !== undefined) spec.modulationIndex = p.modulation_index;
  if (p.deviation !== undefined) spec.deviation = p.deviation;
  if (p.symbol_rate !== undefined) spec.symbolRate = p.symbol_rate;
  return spec;
}

function validateSynthetic(p: RawParams): SyntheticSignalParams {
  readParams(p, SYNTHETIC_KEYS);
  const frequency = requireNumber(p, 'frequency', RULES.frequency);
  const sampleRate = requireNumber(p, 'sample_rate', RULES.sample_rate);
  const duration = requireNumber(p, 'duration', RULES.duration);
  const center =
    optionalNumber(p, 'center_frequency', RULES.frequency) ?? Math.max(0, frequency - sampleRate / 4);
  const amplitude = optionalNumber(p, 'amplitude', RULES.amplitude) ?? 1;
  const snr = optionalNumber(p, 'snr_db', RULES.snr_db);
  const modulation = optionalEnum(p, 'modulation', MODULATIONS) ?? 'tone';
  const samples = Math.round(duration * sampleRate);
  if (samples < 1)
    paramError('duration', `duration × sample_rate gives no sample (${duration} s × ${sampleRate} Hz)`);

  const out: SyntheticSignalParams = {
    source: 'synthetic',
    frequency,
    sample_rate: sampleRate,
    duration,
    center_frequency: center,
    amplitude,
    snr_db: snr ?? null,
    modulation,
    seed: readSeed(p),
    datetime: optionalDatetime(p, 'datetime') ?? DEFAULT_DATETIME,
    format: optionalEnum(p, 'format', OUTPUT_FORMATS) ?? 'npz',
    samples,
  };
  const nyquist = sampleRate / 2;
  const onlyFor = (key: string, kinds: Modulation[]): void => {
    if (p[key] !== undefined && !kinds.includes(modulation)) {
      paramError(key, `only applies to modulation ${kinds.join(' or ')} (modulation is ${modulation})`);
    }
  };
  onlyFor('modulation_frequency', ['am', 'fm']);
  onlyFor('modulation_index', ['am']);
  onlyFor('deviation', ['fm']);
  onlyFor('symbol_rate', ['bpsk']);
  if (modulation === 'am' || modulation === 'fm') {
    out.modulation_frequency =
      optionalNumber(p, 'modulation_frequency', belowNyquist(nyquist, 'Hz')) ??
      Math.min(1000, sampleRate / 20);
  }
  if (modulation === 'am') {
    out.modulation_index = optionalNumber(p, 'modulation_index', RULES.modulation_index) ?? 0.5;
  }
  if (modulation === 'fm') {
    out.deviation =
      optionalNumber(p, 'deviation', belowNyquist(nyquist, 'Hz')) ?? 5 * (out.modulation_frequency as number);
  }
  if (modulation === 'bpsk') {
    out.symbol_rate =
      optionalNumber(p, 'symbol_rate', belowNyquist(nyquist, 'symbols/s')) ??
      Math.min(10_000, sampleRate / 10);
  }
  const bandwidth = waveformBandwidth(waveformSpecOf(out));
  const lo = center - nyquist;
  const hi = center + nyquist;
  const fits =
    bandwidth === 0
      ? frequency > lo && frequency < hi
      : frequency - bandwidth / 2 >= lo && frequency + bandwidth / 2 <= hi;
  if (!fits) {
    paramError(
      'frequency',
      `the signal (${bandwidth === 0 ? hz(frequency) : `${hz(frequency)} ± ${hz(bandwidth / 2)}`}) must lie ` +
        `within center_frequency ± sample_rate/2 = ${hz(lo)} … ${hz(hi)}`,
    );
  }
  return out;
}

function validateRecording(p: RawParams, dir: string | undefined): RecordingSignalParams {
  readParams(p, RECORDING_KEYS);
  const name = optionalString(p, 'recording', RECORDING_NAME_PARAM, 'a recording name') as string;
  if (dir === undefined) paramError('recording', 'this provider serves no recordings');
  const info = readRecordingSync(dir, name);
  const fsIn = info.sampleRate;
  const offset = optionalNumber(p, 'offset', RULES.offset) ?? 0;
  const startSample = Math.round(offset * fsIn);
  if (startSample >= info.samples) {
    paramError('offset', `${offset} s is past the end of recording ${name} (${info.duration} s)`);
  }
  const durationGiven = optionalNumber(p, 'duration', RULES.duration);
  const inputSamples =
    durationGiven === undefined ? info.samples - startSample : Math.round(durationGiven * fsIn);
  if (inputSamples < 1)
    paramError('duration', `${String(durationGiven)} s is less than one sample of ${name}`);
  if (startSample + inputSamples > info.samples) {
    paramError(
      'duration',
      `offset + duration (${offset} + ${String(durationGiven)} s) runs past the end of recording ${name} (${info.duration} s)`,
    );
  }
  const capture = captureAt(info, startSample);
  const lastCapture = captureAt(info, startSample + inputSamples - 1);
  if (lastCapture.frequency !== capture.frequency) {
    paramError(
      'duration',
      `the slice crosses a retune of recording ${name} (${hz(capture.frequency)} → ${hz(lastCapture.frequency)} ` +
        `at sample ${lastCapture.sampleStart}); request a slice within one capture`,
    );
  }
  const outRate = optionalNumber(p, 'sample_rate', RULES.sample_rate) ?? fsIn;
  const ratio = fsIn / outRate;
  const decimation = Math.round(ratio);
  if (decimation < 1 || Math.abs(ratio - decimation) > 1e-9 * ratio || decimation > MAX_DECIMATION) {
    paramError(
      'sample_rate',
      `must be the recording's rate ${hz(fsIn)} divided by a whole number from 1 to ${MAX_DECIMATION} ` +
        `(e.g. ${[1, 2, 4, 10].map((d) => fsIn / d).join(', ')}), got ${outRate}`,
    );
  }
  const lo = capture.frequency - fsIn / 2;
  const hi = capture.frequency + fsIn / 2;
  const frequency = optionalNumber(p, 'frequency', RULES.frequency) ?? capture.frequency;
  const half = decimation > 1 ? fsIn / decimation / 2 : 0;
  if (frequency - half < lo || frequency + half > hi) {
    paramError(
      'frequency',
      decimation > 1
        ? `the output band ${hz(frequency)} ± ${hz(half)} must lie within the captured band ${hz(lo)} … ${hz(hi)}`
        : `must lie within the captured band ${hz(lo)} … ${hz(hi)} of recording ${name}`,
    );
  }
  let datetime = optionalDatetime(p, 'datetime');
  if (datetime === undefined) {
    datetime =
      capture.datetime !== undefined
        ? new Date(
            Date.parse(capture.datetime) + ((startSample - capture.sampleStart) / fsIn) * 1000,
          ).toISOString()
        : DEFAULT_DATETIME;
  }
  return {
    source: 'recording',
    recording: name,
    offset: startSample / fsIn,
    duration: inputSamples / fsIn,
    frequency,
    sample_rate: fsIn / decimation,
    datetime,
    format: optionalEnum(p, 'format', OUTPUT_FORMATS) ?? 'npz',
    startSample,
    inputSamples,
    samples: Math.floor(inputSamples / decimation),
    decimation,
    info,
  };
}

/** The request-level parameters as echoed in metadata (no derived values). */
function publicParams(p: SignalParams): Record<string, unknown> {
  if (p.source === 'recording') {
    const { recording, offset, duration, frequency, sample_rate, datetime, format } = p;
    const pub: Record<string, unknown> = { recording, offset, duration, frequency, sample_rate, datetime };
    // `format` is echoed only when not the default, so npz files keep their bytes (and names) of before.
    if (format !== 'npz') pub['format'] = format;
    return pub;
  }
  const { source: _s, samples: _n, format, ...rest } = p;
  return format === 'npz' ? rest : { ...rest, format };
}

function describe(p: SignalParams): string {
  if (p.source === 'recording') {
    return `${p.duration} s of recording ${p.recording} from ${p.offset} s, centered on ${hz(p.frequency)} at ${p.sample_rate} S/s`;
  }
  const noise = p.snr_db === null ? 'no noise' : `SNR ${p.snr_db} dB`;
  return `${p.modulation} at ${hz(p.frequency)}, ${p.duration} s at ${p.sample_rate} S/s, ${noise}`;
}

/** The SigMF metadata of a signal (see docs/datasets.md, "meta"): the same for `.npz` and `.sigmf`. */
export function signalMeta(p: SignalParams, sha512: string): Record<string, unknown> {
  const centerFrequency = p.source === 'synthetic' ? p.center_frequency : p.frequency;
  const global: Record<string, unknown> = {
    'core:datatype': 'cf32_le',
    'core:sample_rate': p.sample_rate,
    'core:version': SIGMF_VERSION,
    'core:num_channels': 1,
    'core:sha512': sha512,
    'core:recorder': GENERATOR,
    'core:description': describe(p),
    'core:extensions': sdrlinkExtensions(),
    'sdrlink:generator': `signal/${p.source}`,
    'sdrlink:parameters': publicParams(p),
  };
  if (p.source === 'recording') {
    global['sdrlink:source'] = {
      recording: p.recording,
      datatype: p.info.datatype,
      sample_rate: p.info.sampleRate,
      center_frequency: captureAt(p.info, p.startSample).frequency,
      sample_start: p.startSample,
      sample_count: p.inputSamples,
      decimation: p.decimation,
      ...(p.decimation > 1
        ? { filter: `windowed-sinc low-pass, Blackman, ${FIR_TAPS_PER_FACTOR * p.decimation + 1} taps` }
        : {}),
    };
  }
  const meta: Record<string, unknown> = {
    global,
    captures: [{ 'core:sample_start': 0, 'core:frequency': centerFrequency, 'core:datetime': p.datetime }],
    annotations: [] as unknown[],
  };
  if (p.source === 'synthetic') {
    const bw = waveformBandwidth(waveformSpecOf(p));
    meta['annotations'] = [
      {
        'core:sample_start': 0,
        'core:sample_count': p.samples,
        'core:freq_lower_edge': p.frequency - bw / 2,
        'core:freq_upper_edge': p.frequency + bw / 2,
        'core:label': p.modulation,
      },
    ];
  }
  return meta;
}

function description(p: SignalParams): IqDescription {
  return {
    sampleRate: p.sample_rate,
    centerFrequency: p.source === 'synthetic' ? p.center_frequency : p.frequency,
    meta: (sha512) => signalMeta(p, sha512),
  };
}

/** The SigMF Archive description: recording name = the file name without `.sigmf`. */
function sigmfDescription(p: SignalParams, fileName: string): SigmfIqDescription {
  return {
    name: fileName.replace(/\.sigmf$/, ''),
    mtime: Math.floor(Date.parse(p.datetime) / 1000),
    meta: (sha512) => signalMeta(p, sha512),
  };
}

function shortHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 8);
}

/** The synthetic producer: waveform, then noise, per block. */
function syntheticProducer(p: SyntheticSignalParams): IqProducer {
  const spec = waveformSpecOf(p);
  const wave = createWaveform(spec);
  const noise = createRng(p.seed, STREAM_SIGNAL_NOISE);
  const sigma = p.snr_db === null ? 0 : Math.sqrt(waveformPower(spec) / 10 ** (p.snr_db / 10) / 2); // per component
  return {
    samples: p.samples,
    fill(out, start, count) {
      if (sigma > 0) noise.gaussianComplex(out, 0, count, sigma, true);
      else out.fill(0, 0, 2 * count);
      wave.add(out, 0, count, start);
    },
  };
}

/** Low-pass FIR for decimation by `d`: windowed sinc, cutoff at the output Nyquist, unit DC gain. */
export function decimationFilter(d: number): Float64Array {
  const taps = FIR_TAPS_PER_FACTOR * d + 1;
  const half = (taps - 1) / 2;
  // The symmetric Blackman window of `taps` points = the periodic one of taps−1 points, plus the end point.
  const w = makeWindow('blackman', taps - 1);
  const h = new Float64Array(taps);
  const fc = 0.5 / d;
  let sum = 0;
  for (let t = 0; t < taps; t++) {
    const x = t - half;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const v = sinc * (t === taps - 1 ? (w[0] as number) : (w[t] as number));
    h[t] = v;
    sum += v;
  }
  for (let t = 0; t < taps; t++) h[t] = (h[t] as number) / sum;
  return h;
}

/** Multiplies complex `data` (from complex index 0, `count` samples) by e^{-2πi·shift·(n0+k)/fs}. */
function mix(
  data: Float32Array,
  count: number,
  shift: number,
  fs: number,
  n0: number,
  scratch: Float64Array,
): void {
  scratch.fill(0, 0, 2 * count);
  createWaveform({ modulation: 'tone', offset: -shift, sampleRate: fs, amplitude: 1 }).add(
    scratch,
    0,
    count,
    n0,
  );
  for (let k = 0; k < count; k++) {
    const xr = data[2 * k] as number;
    const xi = data[2 * k + 1] as number;
    const cr = scratch[2 * k] as number;
    const ci = scratch[2 * k + 1] as number;
    data[2 * k] = xr * cr - xi * ci;
    data[2 * k + 1] = xr * ci + xi * cr;
  }
}

/** The recording producer; `reader` is opened by the caller and closed after writing. */
function recordingProducer(p: RecordingSignalParams, reader: RecordingReader): IqProducer {
  const fsIn = p.info.sampleRate;
  const shift = p.frequency - captureAt(p.info, p.startSample).frequency;
  const d = p.decimation;
  const h = d > 1 ? decimationFilter(d) : new Float64Array(0);
  const half = (h.length - 1) / 2;
  // Input per sub-block bounded so that memory stays ~IQ_BLOCK_SAMPLES complex samples.
  const outPerChunk = d > 1 ? Math.max(1, Math.floor((IQ_BLOCK_SAMPLES - 2 * half) / d)) : IQ_BLOCK_SAMPLES;
  const inCap = d > 1 ? outPerChunk * d + 2 * half : IQ_BLOCK_SAMPLES;
  const input = new Float32Array(2 * inCap);
  const scratch = new Float64Array(shift !== 0 ? 2 * inCap : 0);
  return {
    samples: p.samples,
    async fill(out, start, count) {
      if (d === 1) {
        await reader.read(out, p.startSample + start, count);
        if (shift !== 0) mix(out, count, shift, fsIn, start, scratch);
        return;
      }
      for (let done = 0; done < count; done += outPerChunk) {
        const m0 = start + done;
        const outs = Math.min(outPerChunk, count - done);
        const first = m0 * d - half; // input index relative to the slice start
        const n = (outs - 1) * d + 2 * half + 1;
        await reader.read(input, p.startSample + first, n);
        if (shift !== 0) mix(input, n, shift, fsIn, first, scratch);
        for (let j = 0; j < outs; j++) {
          let re = 0;
          let im = 0;
          const base = 2 * j * d;
          for (let t = 0; t < h.length; t++) {
            const c = h[t] as number;
            re += c * (input[base + 2 * t] as number);
            im += c * (input[base + 2 * t + 1] as number);
          }
          out[2 * (done + j)] = re;
          out[2 * (done + j) + 1] = im;
        }
      }
    },
  };
}

/** Creates the `signal` dataset module. */
export function createSignalDataset(opts: SignalDatasetOptions): Dataset<SignalParams> {
  return {
    type: 'signal',
    description:
      'complex64 IQ samples (iq) with SigMF metadata: a synthetic tone/AM/FM/BPSK carrier with noise, or a slice of a SigMF recording',
    describe() {
      return { type: this.type, description: this.description, parameters: describeSignalParams() };
    },
    validate(raw: unknown): SignalParams {
      const p = readParams(raw, [...new Set<string>([...SYNTHETIC_KEYS, ...RECORDING_KEYS])]);
      const params =
        p['recording'] !== undefined ? validateRecording(p, opts.recordingsDir) : validateSynthetic(p);
      const bytes = outputBytes(params);
      if (bytes > opts.maxOutputBytes) {
        throw new DatasetError(
          'ERR_TOO_LARGE',
          `signal of ${params.samples} samples would be ${bytes} bytes, over this provider's limit of ${opts.maxOutputBytes} bytes`,
        );
      }
      return params;
    },
    fileName: signalFileName,
    estimateBytes: outputBytes,
    async generate(p: SignalParams, path: string, options?: GenerateOptions): Promise<GenerateResult> {
      const write = (producer: IqProducer): Promise<GenerateResult> =>
        p.format === 'sigmf'
          ? writeIqSigmf(path, producer, sigmfDescription(p, signalFileName(p)), options)
          : writeIqNpz(path, producer, description(p), options);
      if (p.source === 'synthetic') return write(syntheticProducer(p));
      const reader = await RecordingReader.open(p.info);
      try {
        return await write(recordingProducer(p, reader));
      } finally {
        await reader.close();
      }
    },
  };
}

/** Exact size of the signal's file in its format. */
function outputBytes(p: SignalParams): number {
  return p.format === 'sigmf'
    ? iqSigmfBytes(p.samples, sigmfDescription(p, signalFileName(p)))
    : iqNpzBytes(p.samples, description(p));
}

/** The seed-style name (`.npz`, or `.sigmf` for a SigMF Archive). */
function signalFileName(p: SignalParams): string {
  return `${signalBaseName(p)}.${p.format}`;
}

function signalBaseName(p: SignalParams): string {
  if (p.source === 'recording') {
    const safe = p.recording.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 60);
    return `signal_${safe}_${shortHash(publicParams(p))}`;
  }
  const base = `signal_${Math.trunc(p.frequency)}_${Math.trunc(p.sample_rate)}_${p.duration.toFixed(2)}`;
  const pub = publicParams(p);
  const seedOnly = Object.keys(pub).every(
    (k) => ['frequency', 'sample_rate', 'duration'].includes(k) || isDefault(p, k),
  );
  return seedOnly ? base : `${base}_${shortHash(pub)}`;
}

/** Whether a synthetic parameter holds its default (so the seed-style file name suffices). */
function isDefault(p: SyntheticSignalParams, key: string): boolean {
  switch (key) {
    case 'center_frequency':
      return p.center_frequency === Math.max(0, p.frequency - p.sample_rate / 4);
    case 'amplitude':
      return p.amplitude === 1;
    case 'snr_db':
      return p.snr_db === null;
    case 'modulation':
      return p.modulation === 'tone';
    case 'seed':
      return p.seed === 0;
    case 'datetime':
      return p.datetime === DEFAULT_DATETIME;
    case 'format':
      return true; // the extension tells the format apart
    default:
      return false;
  }
}
