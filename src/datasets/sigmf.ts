/**
 * SigMF recordings in a folder: `<name>.sigmf-meta` (JSON) next to `<name>.sigmf-data` (samples), per the
 * SigMF specification v1.x (https://sigmf.org, "SigMF Specification": §Global, §Captures, §Dataset
 * format).
 *
 * Supported: one channel (`core:num_channels` absent or 1); datatypes `c`/`r` × `f32`, `f64`, `i32`,
 * `i16`, `i8`, `u32`, `u16`, `u8`, little or big endian (e.g. cf32_le, ci16_le, cu8, ci8, cf64_le);
 * `core:header_bytes` in captures; `core:trailing_bytes`; `core:dataset` (a data file of another name in
 * the same folder). Samples are converted to complex float32: floats as they are, signed integers divided
 * by 2^(bits−1), unsigned integers offset by 2^(bits−1) then divided by it (cu8: `(u − 128) / 128`), real
 * types with a zero imaginary part.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from './types.js';

/** A capture segment (SigMF §Captures): from `sampleStart`, tuned to `frequency`. */
export interface RecordingCapture {
  sampleStart: number;
  /** Center frequency (Hz); the global default when the capture has none. */
  frequency: number;
  datetime?: string;
  /** Bytes of non-sample header before this capture's samples. */
  headerBytes: number;
}

/** What a recording holds. */
export interface RecordingInfo {
  /** The base name: `<name>.sigmf-meta`. */
  name: string;
  datatype: string;
  sampleRate: number;
  /** Center frequency of the first capture (Hz). */
  centerFrequency: number;
  /** Complex (or real) samples in the data file. */
  samples: number;
  /** samples / sampleRate (s). */
  duration: number;
  /** Size of the data file (bytes). */
  dataBytes: number;
  /**
   * Latest modification time of the two files (ms since the epoch). Part of validated parameters, so a
   * cache keyed on them (the provider's) sees a recording rewritten in place as a different request.
   */
  modifiedMs: number;
  datetime?: string;
  description?: string;
  captures: RecordingCapture[];
  metaPath: string;
  dataPath: string;
  /** Parsed datatype. */
  format: SampleFormat;
}

/** A parsed SigMF datatype. */
export interface SampleFormat {
  complex: boolean;
  kind: 'f' | 'i' | 'u';
  bits: 8 | 16 | 32 | 64;
  littleEndian: boolean;
  /** Bytes per (complex or real) sample. */
  bytesPerSample: number;
}

const DATATYPE = /^([cr])(f32|f64|i32|i16|u32|u16)_(le|be)$|^([cr])(i8|u8)$/;
/** Names we accept for recordings: no path separators, no control characters, not hidden. */
const RECORDING_NAME = /^[^/\\\u0000-\u001f.][^/\\\u0000-\u001f]{0,199}$/;
const META_SUFFIX = '.sigmf-meta';
const DATA_SUFFIX = '.sigmf-data';

/** Parses a SigMF `core:datatype`; undefined if unsupported. */
export function parseDatatype(datatype: string): SampleFormat | undefined {
  const m = DATATYPE.exec(datatype);
  if (m === null) return undefined;
  const complex = (m[1] ?? m[4]) === 'c';
  const t = (m[2] ?? m[5]) as string;
  const kind = t[0] as 'f' | 'i' | 'u';
  const bits = Number(t.slice(1)) as 8 | 16 | 32 | 64;
  return {
    complex,
    kind,
    bits,
    littleEndian: m[3] !== 'be',
    bytesPerSample: ((complex ? 2 : 1) * bits) / 8,
  };
}

/** Whether `name` is acceptable as a recording name (and so safe to join to the folder). */
export function isRecordingName(name: string): boolean {
  return RECORDING_NAME.test(name) && !name.includes('..');
}

function source(message: string): DatasetError {
  return new DatasetError('ERR_SOURCE', message);
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function finiteNumber(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Interprets a `.sigmf-meta` document and the data file's size. Throws `ERR_SOURCE` on anything invalid. */
export function interpretMeta(
  name: string,
  dir: string,
  metaText: string,
  statData: (file: string) => { size: number; mtimeMs: number },
  metaModifiedMs = 0,
): RecordingInfo {
  let doc: unknown;
  try {
    doc = JSON.parse(metaText);
  } catch (err) {
    throw new DatasetError('ERR_SOURCE', `recording ${name}: ${META_SUFFIX} is not JSON`, { cause: err });
  }
  const global = obj(obj(doc)?.['global']);
  if (global === undefined) throw source(`recording ${name}: no "global" object in ${META_SUFFIX}`);
  const datatype = global['core:datatype'];
  if (typeof datatype !== 'string') throw source(`recording ${name}: global core:datatype is missing`);
  const format = parseDatatype(datatype);
  if (format === undefined)
    throw source(`recording ${name}: datatype ${JSON.stringify(datatype)} is not supported`);
  const sampleRate = finiteNumber(global['core:sample_rate']);
  if (sampleRate === undefined || sampleRate <= 0) {
    throw source(`recording ${name}: global core:sample_rate must be a positive number`);
  }
  const channels = global['core:num_channels'];
  if (channels !== undefined && channels !== 1) {
    throw source(
      // JSON.stringify, not String(): a parsed object may hold a `toString` key that String() would call
      `recording ${name}: ${JSON.stringify(channels).slice(0, 40)} channels; only single-channel recordings are served`,
    );
  }
  if (global['core:metadata_only'] === true) throw source(`recording ${name}: metadata only, no samples`);
  let dataFile = `${name}${DATA_SUFFIX}`;
  const dataset = global['core:dataset'];
  if (dataset !== undefined) {
    if (typeof dataset !== 'string' || !isRecordingName(dataset)) {
      throw source(`recording ${name}: core:dataset must be a file name in the same folder`);
    }
    dataFile = dataset;
  }
  const rawCaptures = obj(doc)?.['captures'];
  if (!Array.isArray(rawCaptures) || rawCaptures.length === 0) {
    throw source(`recording ${name}: "captures" must be a non-empty array`);
  }
  const globalFrequency = finiteNumber(global['core:frequency']);
  const captures: RecordingCapture[] = rawCaptures.map((c: unknown, i: number) => {
    const cap = obj(c);
    const start = finiteNumber(cap?.['core:sample_start']);
    if (cap === undefined || start === undefined || !Number.isSafeInteger(start) || start < 0) {
      throw source(`recording ${name}: captures[${i}].core:sample_start must be a non-negative integer`);
    }
    const frequency = finiteNumber(cap['core:frequency']) ?? globalFrequency;
    if (frequency === undefined) throw source(`recording ${name}: captures[${i}] has no core:frequency`);
    const header = cap['core:header_bytes'] ?? 0;
    if (typeof header !== 'number' || !Number.isSafeInteger(header) || header < 0) {
      throw source(`recording ${name}: captures[${i}].core:header_bytes must be a non-negative integer`);
    }
    const capture: RecordingCapture = { sampleStart: start, frequency, headerBytes: header };
    const dt = cap['core:datetime'];
    if (typeof dt === 'string' && Number.isFinite(Date.parse(dt))) capture.datetime = dt;
    return capture;
  });
  for (let i = 1; i < captures.length; i++) {
    if ((captures[i] as RecordingCapture).sampleStart <= (captures[i - 1] as RecordingCapture).sampleStart) {
      throw source(`recording ${name}: captures must be in increasing core:sample_start order`);
    }
  }
  const dataPath = join(dir, dataFile);
  let dataBytes: number;
  let dataModifiedMs: number;
  try {
    ({ size: dataBytes, mtimeMs: dataModifiedMs } = statData(dataPath));
  } catch (err) {
    throw new DatasetError('ERR_SOURCE', `recording ${name}: data file ${dataFile} is missing`, {
      cause: err,
    });
  }
  const trailing = global['core:trailing_bytes'] ?? 0;
  if (typeof trailing !== 'number' || !Number.isSafeInteger(trailing) || trailing < 0) {
    throw source(`recording ${name}: core:trailing_bytes must be a non-negative integer`);
  }
  const headers = captures.reduce((s, c) => s + c.headerBytes, 0);
  const payload = dataBytes - headers - trailing;
  if (payload < 0) throw source(`recording ${name}: data file is shorter than its declared headers`);
  const samples = Math.floor(payload / format.bytesPerSample);
  if (samples === 0) throw source(`recording ${name}: no samples`);
  if ((captures[captures.length - 1] as RecordingCapture).sampleStart >= samples) {
    throw source(`recording ${name}: a capture starts after the last sample`);
  }
  const first = captures[0] as RecordingCapture;
  if (first.sampleStart !== 0) throw source(`recording ${name}: the first capture must start at sample 0`);
  const info: RecordingInfo = {
    name,
    datatype,
    sampleRate,
    centerFrequency: first.frequency,
    samples,
    duration: samples / sampleRate,
    dataBytes,
    modifiedMs: Math.max(dataModifiedMs, metaModifiedMs),
    captures,
    metaPath: join(dir, `${name}${META_SUFFIX}`),
    dataPath,
    format,
  };
  if (first.datetime !== undefined) info.datetime = first.datetime;
  const description = global['core:description'];
  if (typeof description === 'string') info.description = description;
  return info;
}

/**
 * Reads one recording's metadata synchronously (small files; used while validating parameters).
 * Throws `ERR_PARAMS` for an unknown or unsafe name, `ERR_SOURCE` for an unusable recording.
 */
export function readRecordingSync(dir: string, name: string): RecordingInfo {
  if (!isRecordingName(name)) {
    throw new DatasetError(
      'ERR_PARAMS',
      `parameters.recording: ${JSON.stringify(name)} is not a recording name`,
    );
  }
  let text: string;
  let metaModifiedMs: number;
  try {
    const metaPath = join(dir, `${name}${META_SUFFIX}`);
    text = readFileSync(metaPath, 'utf8');
    metaModifiedMs = statSync(metaPath).mtimeMs;
  } catch (err) {
    const have = scanNamesSync(dir);
    throw new DatasetError(
      'ERR_PARAMS',
      `parameters.recording: no recording named ${JSON.stringify(name)}` +
        (have.length > 0
          ? ` (available: ${have.slice(0, 20).join(', ')}${have.length > 20 ? ', …' : ''})`
          : ' (none available)'),
      { cause: err },
    );
  }
  return interpretMeta(name, dir, text, (p) => statSync(p), metaModifiedMs);
}

function scanNamesSync(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(META_SUFFIX))
      .map((f) => f.slice(0, -META_SUFFIX.length))
      .filter(isRecordingName)
      .sort();
  } catch {
    return [];
  }
}

/** The result of scanning a folder: usable recordings and the reasons others are not. */
export interface RecordingScan {
  recordings: RecordingInfo[];
  invalid: Array<{ name: string; reason: string }>;
}

/** Reads every `*.sigmf-meta` in `dir` (sorted by name). Throws `ERR_SOURCE` if the folder is unreadable. */
export async function scanRecordings(dir: string): Promise<RecordingScan> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (err) {
    throw new DatasetError('ERR_SOURCE', `recordings folder ${dir} is unreadable`, { cause: err });
  }
  const scan: RecordingScan = { recordings: [], invalid: [] };
  for (const f of files.filter((x) => x.endsWith(META_SUFFIX)).sort()) {
    const name = f.slice(0, -META_SUFFIX.length);
    if (!isRecordingName(name)) {
      scan.invalid.push({ name, reason: 'unsupported file name' });
      continue;
    }
    try {
      scan.recordings.push(readRecordingSync(dir, name));
    } catch (err) {
      scan.invalid.push({ name, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return scan;
}

/** The usable recordings in `dir`, sorted by name. */
export async function listRecordings(dir: string): Promise<RecordingInfo[]> {
  return (await scanRecordings(dir)).recordings;
}

/** The capture segment that holds sample `n`. */
export function captureAt(info: RecordingInfo, n: number): RecordingCapture {
  let found = info.captures[0] as RecordingCapture;
  for (const c of info.captures) {
    if (c.sampleStart <= n) found = c;
    else break;
  }
  return found;
}

/** Byte offset of sample `n` in the data file (header bytes of every capture up to n's included). */
function byteOffset(info: RecordingInfo, n: number): number {
  let headers = 0;
  for (const c of info.captures) {
    if (c.sampleStart <= n) headers += c.headerBytes;
    else break;
  }
  return headers + n * info.format.bytesPerSample;
}

/**
 * Reads samples of a recording as interleaved complex float32. Indices outside the recording read as
 * zeros (filters need margins). One open file handle; close it when done.
 */
export class RecordingReader {
  readonly info: RecordingInfo;
  #fh: FileHandle;
  #buf: Buffer = Buffer.alloc(0);

  private constructor(info: RecordingInfo, fh: FileHandle) {
    this.info = info;
    this.#fh = fh;
  }

  static async open(info: RecordingInfo): Promise<RecordingReader> {
    try {
      return new RecordingReader(info, await open(info.dataPath, 'r'));
    } catch (err) {
      throw new DatasetError('ERR_SOURCE', `recording ${info.name}: cannot open its data file`, {
        cause: err,
      });
    }
  }

  /** Fills `out[2·outStart …]` with samples `n0 … n0 + count − 1`. */
  async read(out: Float32Array, n0: number, count: number, outStart = 0): Promise<void> {
    const info = this.info;
    let n = n0;
    let o = outStart;
    const end = n0 + count;
    // Before the recording: zeros.
    while (n < end && n < 0) {
      out[2 * o] = 0;
      out[2 * o + 1] = 0;
      n++;
      o++;
    }
    while (n < end && n < info.samples) {
      // Do not cross a capture boundary in one read (header bytes may sit between).
      let stop = Math.min(end, info.samples);
      for (const c of info.captures) {
        if (c.sampleStart > n) {
          stop = Math.min(stop, c.sampleStart);
          break;
        }
      }
      const run = stop - n;
      const bytes = run * info.format.bytesPerSample;
      if (this.#buf.length < bytes) this.#buf = Buffer.alloc(Math.max(bytes, 1 << 16));
      const buf = this.#buf;
      const position = byteOffset(info, n);
      let got = 0;
      while (got < bytes) {
        const { bytesRead } = await this.#fh.read(buf, got, bytes - got, position + got);
        if (bytesRead === 0) throw source(`recording ${info.name}: data file ended early (truncated?)`);
        got += bytesRead;
      }
      convertSamples(info.format, buf, run, out, o);
      n += run;
      o += run;
    }
    // After the recording: zeros.
    for (; n < end; n++, o++) {
      out[2 * o] = 0;
      out[2 * o + 1] = 0;
    }
  }

  async close(): Promise<void> {
    await this.#fh.close();
  }
}

/** Converts `count` samples in `src` (format `f`) to interleaved complex float32 at `out[2·outStart]`. */
export function convertSamples(
  f: SampleFormat,
  src: Buffer,
  count: number,
  out: Float32Array,
  outStart: number,
): void {
  const values = count * (f.complex ? 2 : 1);
  const o = outStart * 2;
  const stride = f.complex ? 1 : 2; // real samples: every other slot, imaginary parts zero
  // Fast paths for the usual little-endian SDR formats on a little-endian host.
  if (f.littleEndian && f.complex && f.kind === 'f' && f.bits === 32 && src.byteOffset % 4 === 0) {
    out.set(new Float32Array(src.buffer, src.byteOffset, values), o);
    return;
  }
  if (f.littleEndian && f.kind === 'i' && f.bits === 16 && src.byteOffset % 2 === 0) {
    const v = new Int16Array(src.buffer, src.byteOffset, values);
    for (let k = 0; k < values; k++) out[o + k * stride] = (v[k] as number) / 32768;
  } else if (f.bits === 8) {
    if (f.kind === 'u')
      for (let k = 0; k < values; k++) out[o + k * stride] = ((src[k] as number) - 128) / 128;
    else for (let k = 0; k < values; k++) out[o + k * stride] = src.readInt8(k) / 128;
  } else {
    const dv = new DataView(src.buffer, src.byteOffset, values * (f.bits / 8));
    const le = f.littleEndian;
    const step = f.bits / 8;
    for (let k = 0; k < values; k++) {
      const at = k * step;
      let x: number;
      if (f.kind === 'f') x = f.bits === 32 ? dv.getFloat32(at, le) : dv.getFloat64(at, le);
      else if (f.kind === 'i')
        x = f.bits === 16 ? dv.getInt16(at, le) / 32768 : dv.getInt32(at, le) / 2147483648;
      else
        x =
          f.bits === 16
            ? (dv.getUint16(at, le) - 32768) / 32768
            : (dv.getUint32(at, le) - 2147483648) / 2147483648;
      out[o + k * stride] = x;
    }
  }
  if (!f.complex) for (let k = 0; k < count; k++) out[o + 2 * k + 1] = 0;
}
