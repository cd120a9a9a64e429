/**
 * Live capture sources (`sdrlink provide --source …`): the real driver stacks through their own tools.
 *
 * - `rtlsdr[:INDEX]`: osmocom's `rtl_sdr` (Debian package rtl-sdr), `rtl_sdr -d INDEX -f FREQ -s RATE
 *   [-g GAIN] [-p PPM] -n N -`, cu8 on stdout; what it did is read from its stderr (`Tuned to … Hz.`,
 *   `Sampling at … S/s.`, librtlsdr's `Exact sample rate is: … Hz`, `Tuner gain set to …`).
 * - `soapy[:ARGS]`: our small Python program over SoapySDR (python3-soapysdr), see soapy-program.ts.
 * - `command:CMD`: any program that follows the contract of docs/datasets.md "Live capture".
 */
import { spawn } from 'node:child_process';
import { CaptureError } from './errors.js';
import type { CaptureRequest, ProcessSpec, SampleFormat, StderrEvent } from './process-capture.js';
import { SOAPY_PROGRAM } from './soapy-program.js';

/** A closed or half-open interval of values a device accepts. */
export interface Range {
  min: number;
  max: number;
  /** `min` itself is refused (librtlsdr refuses exactly 225 kHz and 900 kHz). */
  minExclusive?: boolean;
}

/** What a source can do, for validation and for the catalog. */
export interface SourceRanges {
  frequency: Range[];
  sampleRate: Range[];
  gain?: Range;
  /** Where the ranges come from, for the catalog and messages. */
  origin: string;
}

/** A configured live source. */
export interface CaptureSource {
  kind: 'rtlsdr' | 'soapy' | 'command';
  /** The `--source` text. */
  spec: string;
  /** Human name of the device (refined by what the tool reports). */
  device: string;
  ranges: SourceRanges;
  /** The sample rate a spectrum uses when the request names none. */
  defaultSampleRate: number;
  /** Largest usable sample rate. */
  maxSampleRate: number;
  /** How to run one capture. */
  processSpec(req: CaptureRequest): ProcessSpec;
}

/** Options next to `--source`. */
export interface SourceOptions {
  /** Python interpreter for the SoapySDR program (default `python3`, env SDRLINK_SOAPY_PYTHON). */
  python?: string;
  /** Sample format of a `command:` source (default cf32). */
  commandFormat?: SampleFormat;
}

/** R820T/R820T2 (the common RTL-SDR tuner) and librtlsdr's accepted rates. */
export const RTLSDR_RANGES: SourceRanges = {
  frequency: [{ min: 24e6, max: 1766e6 }],
  sampleRate: [
    { min: 225_000, max: 300_000, minExclusive: true },
    { min: 900_000, max: 3_200_000, minExclusive: true },
  ],
  gain: { min: 0, max: 49.6 },
  origin: 'R820T tuner range and librtlsdr sample rates',
};

/** Formats ranges for messages: `24000000 … 1766000000 Hz`, `(225000 … 300000] or (900000 … 3200000] Hz`. */
export function formatRanges(ranges: readonly Range[], unit: string): string {
  return (
    ranges
      .map((r) => (r.minExclusive === true ? `(${r.min} … ${r.max}]` : `${r.min} … ${r.max}`))
      .join(' or ') + ` ${unit}`
  );
}

/** Whether `v` lies in one of `ranges`. */
export function inRanges(v: number, ranges: readonly Range[]): boolean {
  return ranges.some((r) => (r.minExclusive === true ? v > r.min : v >= r.min) && v <= r.max);
}

/** Reads `--source`. Throws ERR_SOURCE_CONFIG on a malformed one. */
export async function createSource(spec: string, opts: SourceOptions = {}): Promise<CaptureSource> {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? '' : spec.slice(colon + 1);
  switch (kind) {
    case 'rtlsdr':
      if (!/^[^\s-][^\s]{0,63}$/.test(arg) && arg !== '') {
        throw new CaptureError(
          'ERR_SOURCE_CONFIG',
          `--source rtlsdr:INDEX: bad device index or serial ${JSON.stringify(arg)}`,
        );
      }
      return rtlsdrSource(spec, arg === '' ? '0' : arg);
    case 'soapy':
      return soapySource(spec, arg, opts.python ?? process.env['SDRLINK_SOAPY_PYTHON'] ?? 'python3');
    case 'command':
      if (arg.trim() === '')
        throw new CaptureError('ERR_SOURCE_CONFIG', '--source command:CMD needs a command');
      return commandSource(spec, arg, opts.commandFormat ?? 'cf32');
    default:
      throw new CaptureError(
        'ERR_SOURCE_CONFIG',
        `--source: unknown kind ${JSON.stringify(kind)}; expected rtlsdr[:INDEX], soapy[:ARGS] or command:CMD`,
      );
  }
}

function rtlsdrSource(spec: string, index: string): CaptureSource {
  return {
    kind: 'rtlsdr',
    spec,
    device: `rtlsdr:${index}`,
    ranges: RTLSDR_RANGES,
    defaultSampleRate: 2_400_000,
    maxSampleRate: 3_200_000,
    processSpec(req) {
      const args = [
        '-d',
        index,
        '-f',
        String(Math.round(req.frequency)),
        '-s',
        String(Math.round(req.sampleRate)),
      ];
      if (req.gain !== undefined) args.push('-g', String(req.gain));
      if (req.ppm !== undefined && req.ppm !== 0) args.push('-p', String(Math.round(req.ppm)));
      args.push('-n', String(req.samples), '-');
      return {
        command: 'rtl_sdr',
        args,
        format: 'cu8',
        parseLine: parseRtlSdrLine,
        device: `rtlsdr:${index}`,
      };
    },
  };
}

/** One stderr line of `rtl_sdr` (osmocom rtl-sdr 0.6, its convenience.c and librtlsdr). */
export function parseRtlSdrLine(line: string): StderrEvent | undefined {
  let m: RegExpExecArray | null;
  if (/No supported devices found|No matching devices found/.test(line))
    return { kind: 'error', code: 'ERR_DEVICE_MISSING', message: `rtl_sdr: ${line.trim()}` };
  if (/usb_claim_interface error/.test(line))
    return {
      kind: 'error',
      code: 'ERR_DEVICE_BUSY',
      message: `rtl_sdr: the device is in use by another program (${line.trim()})`,
    };
  if (/Failed to open rtlsdr device/.test(line))
    return { kind: 'error', code: 'ERR_DEVICE_MISSING', message: `rtl_sdr: ${line.trim()}` };
  if ((m = /WARNING: Failed to (.*?)\.?$/.exec(line)) !== null)
    return {
      kind: 'error',
      code: 'ERR_DEVICE_SETTING',
      message: `rtl_sdr refused a setting: failed to ${m[1]}`,
    };
  if ((m = /lost at least (\d+) bytes/.exec(line)) !== null)
    return { kind: 'overrun', droppedSamples: Math.floor(Number(m[1]) / 2) };
  if (/samples lost/.test(line)) return { kind: 'overrun' };
  if ((m = /^Using device \d+: (.+)$/.exec(line.trim())) !== null)
    return { kind: 'setting', key: 'device', value: m[1] as string };
  if ((m = /Exact sample rate is: ([\d.]+) Hz/.exec(line)) !== null)
    return { kind: 'setting', key: 'sample_rate', value: Number(m[1]) };
  // Printed after librtlsdr's exact rate, rounded: it counts only when no exact rate was told.
  if ((m = /Sampling at (\d+) S\/s/.exec(line)) !== null)
    return { kind: 'setting', key: 'nominal_sample_rate', value: Number(m[1]) };
  if ((m = /Tuned to (\d+) Hz/.exec(line)) !== null)
    return { kind: 'setting', key: 'frequency', value: Number(m[1]) };
  if (/Tuner gain set to automatic/.test(line)) return { kind: 'setting', key: 'gain', value: 'auto' };
  if ((m = /Tuner gain set to (-?[\d.]+) dB/.exec(line)) !== null)
    return { kind: 'setting', key: 'gain', value: Number(m[1]) };
  if ((m = /Tuner error set to (-?\d+) ppm/.exec(line)) !== null)
    return { kind: 'setting', key: 'ppm', value: Number(m[1]) };
  return undefined;
}

/**
 * A JSON line of our SoapySDR program or of a `command:` source: `{"event":"settings",…}`,
 * `{"event":"overflow","at":N,"dropped"?:N}`, `{"event":"error","code":"ERR_DEVICE_SETTING","message"}`.
 * Anything else is a log line.
 */
export function parseJsonLine(line: string): StderrEvent | StderrEvent[] | undefined {
  if (!line.startsWith('{')) return undefined;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (v['event'] === 'overflow') {
    const e: StderrEvent = { kind: 'overrun' };
    if (typeof v['at'] === 'number') e.at = v['at'];
    if (typeof v['dropped'] === 'number') e.droppedSamples = v['dropped'];
    return e;
  }
  if (v['event'] === 'error') {
    const codes = [
      'ERR_DEVICE_MISSING',
      'ERR_DEVICE_BUSY',
      'ERR_DEVICE_SETTING',
      'ERR_DEVICE_RANGE',
    ] as const;
    const code = codes.find((c) => c === v['code']) ?? 'ERR_CAPTURE_FAILED';
    return { kind: 'error', code, message: String(v['message'] ?? 'capture failed').slice(0, 1000) };
  }
  if (v['event'] === 'settings') {
    const out: StderrEvent[] = [];
    for (const key of ['frequency', 'sample_rate', 'gain', 'ppm'] as const) {
      if (typeof v[key] === 'number') out.push({ kind: 'setting', key, value: v[key] });
    }
    if (typeof v['device'] === 'string')
      out.push({ kind: 'setting', key: 'device', value: v['device'].slice(0, 200) });
    return out;
  }
  return undefined;
}

function soapySource(spec: string, args: string, python: string): CaptureSource {
  const source: CaptureSource = {
    kind: 'soapy',
    spec,
    device: `soapy:${args}`,
    ranges: {
      frequency: [{ min: 0, max: 1e12 }],
      sampleRate: [{ min: 0, max: 1e11, minExclusive: true }],
      origin: 'unknown (device not probed)',
    },
    defaultSampleRate: 2_048_000,
    maxSampleRate: 1e11,
    processSpec(req) {
      const a = [
        '-c',
        SOAPY_PROGRAM,
        'capture',
        args,
        String(req.frequency),
        String(req.sampleRate),
        String(req.samples),
        req.gain === undefined ? 'auto' : String(req.gain),
        String(req.ppm ?? 0),
      ];
      return { command: python, args: a, format: 'cf32', parseLine: parseJsonLine, device: source.device };
    },
  };
  return source;
}

/** Asks the SoapySDR program for the device's ranges; undefined when it cannot open the device. */
export async function probeSoapy(
  source: CaptureSource,
  python: string,
): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
  const args = source.spec.slice('soapy'.length + 1);
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(python, ['-c', SOAPY_PROGRAM, 'probe', args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.once('error', (err) => resolve({ code: -1, stdout, stderr: err.message }));
    p.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  for (const line of out.stderr.split('\n')) {
    const e = parseJsonLine(line.trim());
    if (e !== undefined && !Array.isArray(e) && e.kind === 'error')
      return { ok: false, code: e.code, message: e.message };
  }
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(out.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
  } catch {
    return {
      ok: false,
      code: 'ERR_CAPTURE_FAILED',
      message: `SoapySDR probe failed: ${out.stderr.trim().slice(-300)}`,
    };
  }
  const ranges = (x: unknown): Range[] =>
    Array.isArray(x)
      ? x
          .filter(
            (r): r is [number, number] =>
              Array.isArray(r) && typeof r[0] === 'number' && typeof r[1] === 'number',
          )
          .map(([min, max]) => ({ min, max }))
      : [];
  const freq = ranges(v['frequency']);
  const rate = ranges(v['sample_rate']);
  const gain = ranges(v['gain'])[0];
  if (freq.length > 0) source.ranges.frequency = freq;
  if (rate.length > 0) {
    source.ranges.sampleRate = rate;
    source.maxSampleRate = Math.max(...rate.map((r) => r.max));
    const def = rate.find((r) => 2_048_000 >= r.min && 2_048_000 <= r.max);
    source.defaultSampleRate = def !== undefined ? 2_048_000 : (rate[0] as Range).max;
  }
  if (gain !== undefined) source.ranges.gain = gain;
  source.ranges.origin = 'SoapySDR getFrequencyRange / getSampleRateRange / getGainRange';
  if (typeof v['device'] === 'string') source.device = v['device'].slice(0, 200);
  return { ok: true };
}

function commandSource(spec: string, cmd: string, format: SampleFormat): CaptureSource {
  return {
    kind: 'command',
    spec,
    device: `command:${cmd.slice(0, 100)}`,
    ranges: {
      frequency: [{ min: 0, max: 1e12 }],
      sampleRate: [{ min: 0, max: 1e11, minExclusive: true }],
      origin: 'not known (command source)',
    },
    defaultSampleRate: 2_048_000,
    maxSampleRate: 1e11,
    processSpec(req) {
      return {
        command: '/bin/sh',
        args: ['-c', cmd],
        env: {
          SDRLINK_FREQUENCY: String(req.frequency),
          SDRLINK_SAMPLE_RATE: String(req.sampleRate),
          SDRLINK_SAMPLES: String(req.samples),
          SDRLINK_GAIN: req.gain === undefined ? 'auto' : String(req.gain),
          SDRLINK_PPM: String(req.ppm ?? 0),
          SDRLINK_FORMAT: format,
        },
        format,
        parseLine: parseJsonLine,
        device: `command:${cmd.slice(0, 100)}`,
      };
    },
  };
}
