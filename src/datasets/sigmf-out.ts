/**
 * SigMF out: the `sdrlink` extension declaration every metadata object we write carries, and the SigMF
 * Archive (`.sigmf`) writer for IQ (docs/datasets.md, "SigMF out").
 *
 * Follows the SigMF specification v1.2.x (https://github.com/sigmf/SigMF, `sigmf-spec.md`):
 * - "SigMF Archives": a tar archive in the POSIX.1-2001 ustar format, extension `.sigmf`, holding for a
 *   recording named `N` a directory `N` and the files `N/N.sigmf-meta` and `N/N.sigmf-data`, and nothing
 *   else;
 * - "Dataset Format": the samples back to back, nothing else in the file (`cf32_le`: I then Q, IEEE-754
 *   binary32, little-endian);
 * - "Metadata Format": top-level `global`, `captures`, `annotations`; every key namespaced; the
 *   `core:extensions` array declares each non-core namespace as `{ name, version, optional }`;
 *   `core:sha512` is the SHA-512 of the dataset file.
 *
 * The tar is written here rather than with a package: a ustar header is 512 bytes with one checksum
 * (POSIX.1-2001 `pax` "ustar Interchange Format"), the layout is fixed (one directory, two files), and the
 * exact size must be known before any byte is written (the provider announces it), which a streaming
 * tar library does not offer.
 */
import { createHash } from 'node:crypto';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkAborted, IQ_BLOCK_SAMPLES, SHA512_PLACEHOLDER, type IqProducer } from './iq-output.js';
import { optionalEnum, paramError, type RawParams } from './params.js';
import { DatasetError, type GenerateOptions, type GenerateResult } from './types.js';

/** `core:recorder` of everything we write. */
const RECORDER = 'sdrlink 0.1.0';
/** SigMF version our metadata follows. */
export const SIGMF_VERSION = '1.2.0';
/** Version of the `sdrlink` SigMF extension namespace (docs/datasets.md, "The sdrlink extension"). */
export const SDRLINK_EXTENSION_VERSION = '1.0.0';
/** The `core:extensions` entry declaring our namespace; optional: a reader may ignore every `sdrlink:` key. */
export const SDRLINK_EXTENSION = Object.freeze({
  name: 'sdrlink',
  version: SDRLINK_EXTENSION_VERSION,
  optional: true,
});

/** `core:extensions` as written in every `global` object of ours. */
export function sdrlinkExtensions(): { name: string; version: string; optional: boolean }[] {
  return [{ ...SDRLINK_EXTENSION }];
}

/** One capture segment for {@link buildSigmfMeta}: a tuning from `sampleStart` on. */
export interface SigmfCaptureInput {
  sampleStart: number;
  /** Center frequency (Hz). */
  frequency: number;
  /** ISO 8601 UTC (`…Z`) time of sample `sampleStart`. */
  datetime?: string;
  /** More keys of the `sdrlink` namespace for this segment (without the prefix), e.g. `{ gain_db: 30 }`. */
  sdrlink?: Record<string, unknown>;
}

/** One annotation for {@link buildSigmfMeta}. */
export interface SigmfAnnotationInput {
  sampleStart: number;
  sampleCount: number;
  freqLowerEdge?: number;
  freqUpperEdge?: number;
  label?: string;
  comment?: string;
  sdrlink?: Record<string, unknown>;
}

/** What {@link buildSigmfMeta} describes. */
export interface SigmfMetaInput {
  /** SigMF dataset format, e.g. `cf32_le`. */
  datatype: string;
  sampleRate?: number;
  /** SHA-512 (hex) of the data file. */
  sha512?: string;
  description?: string;
  /** Hardware, as SigMF's `core:hw` (a device description). */
  hw?: string;
  /** In increasing `sampleStart` order (one per tuned segment of a sweep); the first at 0. */
  captures: SigmfCaptureInput[];
  annotations?: SigmfAnnotationInput[];
  /** Global keys of the `sdrlink` namespace, without the prefix. */
  sdrlink?: Record<string, unknown>;
}

const prefixed = (o: Record<string, unknown> | undefined): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [`sdrlink:${k}`, v]));

/**
 * SigMF metadata (global, captures, annotations) with every non-core key in the declared `sdrlink`
 * namespace, for IQ from any source (live capture included). Throws a RangeError on a programmer error
 * (captures out of order, not starting at 0).
 *
 * @example
 * buildSigmfMeta({ datatype: 'cf32_le', sampleRate: 2.4e6, sha512, captures: [
 *   { sampleStart: 0, frequency: 100e6, datetime: '2026-01-01T00:00:00.000Z', sdrlink: { gain_db: 30 } },
 *   { sampleStart: 240_000, frequency: 101.92e6, datetime: '2026-01-01T00:00:00.120Z' }] })
 */
export function buildSigmfMeta(input: SigmfMetaInput): {
  global: Record<string, unknown>;
  captures: Record<string, unknown>[];
  annotations: Record<string, unknown>[];
} {
  let last = -1;
  for (const c of input.captures) {
    if (!(c.sampleStart > last) || (last === -1 && c.sampleStart !== 0))
      throw new RangeError('sigmf: captures must start at sample 0 and increase');
    last = c.sampleStart;
  }
  const global: Record<string, unknown> = {
    'core:datatype': input.datatype,
    'core:version': SIGMF_VERSION,
    'core:num_channels': 1,
  };
  if (input.sampleRate !== undefined) global['core:sample_rate'] = input.sampleRate;
  if (input.sha512 !== undefined) global['core:sha512'] = input.sha512;
  global['core:recorder'] = RECORDER;
  if (input.description !== undefined) global['core:description'] = input.description;
  if (input.hw !== undefined) global['core:hw'] = input.hw;
  global['core:extensions'] = sdrlinkExtensions();
  Object.assign(global, prefixed(input.sdrlink));
  const captures = input.captures.map((c) => ({
    'core:sample_start': c.sampleStart,
    'core:frequency': c.frequency,
    ...(c.datetime === undefined ? {} : { 'core:datetime': c.datetime }),
    ...prefixed(c.sdrlink),
  }));
  const annotations = [...(input.annotations ?? [])]
    .sort((a, b) => a.sampleStart - b.sampleStart)
    .map((a) => ({
      'core:sample_start': a.sampleStart,
      'core:sample_count': a.sampleCount,
      ...(a.freqLowerEdge === undefined ? {} : { 'core:freq_lower_edge': a.freqLowerEdge }),
      ...(a.freqUpperEdge === undefined ? {} : { 'core:freq_upper_edge': a.freqUpperEdge }),
      ...(a.label === undefined ? {} : { 'core:label': a.label }),
      ...(a.comment === undefined ? {} : { 'core:comment': a.comment }),
      ...prefixed(a.sdrlink),
    }));
  return { global, captures, annotations };
}

/** The output formats of `signal`. */
export const OUTPUT_FORMATS = ['npz', 'sigmf'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * `format` of a request type served as npz only (spectrum, spectrogram): `npz` or absent passes; `sigmf`
 * is refused with the reason (SigMF describes sample recordings; power is derived from them).
 */
export function readNpzOnlyFormat(p: RawParams, type: string): void {
  if (p['format'] === 'sigmf') {
    paramError(
      'format',
      `sigmf is for sample recordings (IQ); a ${type} is derived power, served as npz only ` +
        '(its meta is SigMF metadata of the power_db array); request signal with format sigmf for the samples',
    );
  }
  optionalEnum(p, 'format', ['npz'] as const);
}

const BLOCK = 512;
/** ustar's size field: 11 octal digits. */
export const MAX_TAR_ENTRY_BYTES = 8 ** 11 - 1;

const pad512 = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

/** Exact size of the `.sigmf` archive for a data file of `dataBytes` and a meta file of `metaBytes`. */
export function sigmfArchiveBytes(dataBytes: number, metaBytes: number): number {
  // directory header, data header + data, meta header + meta, two zero blocks
  return BLOCK + BLOCK + pad512(dataBytes) + BLOCK + pad512(metaBytes) + 2 * BLOCK;
}

function writeField(h: Uint8Array, at: number, len: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > len) throw new RangeError(`tar: field "${text}" longer than ${len} bytes`);
  h.set(bytes, at);
}

function octal(n: number, digits: number): string {
  return n.toString(8).padStart(digits, '0');
}

/**
 * One ustar header block (POSIX.1-2001, pax "ustar Interchange Format"): name[100] mode[8] uid[8] gid[8]
 * size[12] mtime[12] chksum[8] typeflag[1] linkname[100] magic "ustar\0" version "00" uname[32] gname[32]
 * devmajor[8] devminor[8] prefix[155]. A path over 100 bytes is split at a `/` into prefix and name.
 */
export function ustarHeader(path: string, size: number, type: 'file' | 'dir', mtime: number): Uint8Array {
  if (size > MAX_TAR_ENTRY_BYTES) throw new RangeError(`tar: entry of ${size} bytes over ustar's limit`);
  const h = new Uint8Array(BLOCK);
  let name = path;
  let prefix = '';
  if (Buffer.byteLength(path) > 100) {
    const cut = path.lastIndexOf('/', path.length - 2);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
  }
  writeField(h, 0, 100, name);
  writeField(h, 100, 8, `${octal(type === 'dir' ? 0o755 : 0o644, 7)}\0`);
  writeField(h, 108, 8, `${octal(0, 7)}\0`);
  writeField(h, 116, 8, `${octal(0, 7)}\0`);
  writeField(h, 124, 12, `${octal(size, 11)}\0`);
  writeField(h, 136, 12, `${octal(Math.max(0, Math.floor(mtime)), 11)}\0`);
  h.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  writeField(h, 156, 1, type === 'dir' ? '5' : '0');
  writeField(h, 257, 6, 'ustar\0');
  writeField(h, 263, 2, '00');
  writeField(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  writeField(h, 148, 8, `${octal(sum, 6)}\0 `);
  return h;
}

/** What goes around the samples of a `.sigmf` archive. */
export interface SigmfIqDescription {
  /** The recording name `N` (archive holds `N/`, `N/N.sigmf-meta`, `N/N.sigmf-data`). */
  name: string;
  /** Seconds since the epoch for the tar entries' mtime (deterministic: from the capture's datetime). */
  mtime: number;
  /** Builds the `.sigmf-meta` JSON value from the SHA-512 (hex) of the data file. */
  meta(sha512: string): unknown;
}

function metaBytes(desc: SigmfIqDescription, sha512: string): Buffer {
  return Buffer.from(`${JSON.stringify(desc.meta(sha512), null, 2)}\n`, 'utf8');
}

/** Exact size of the `.sigmf` archive that {@link writeIqSigmf} writes for `samples` cf32_le samples. */
export function iqSigmfBytes(samples: number, desc: SigmfIqDescription): number {
  return sigmfArchiveBytes(samples * 8, metaBytes(desc, SHA512_PLACEHOLDER).length);
}

/**
 * Streams IQ as a SigMF Archive: the directory, the `cf32_le` data (hashed with SHA-512 as it goes), then
 * the metadata holding that hash. Memory: two blocks of IQ_BLOCK_SAMPLES. The partial file is removed on
 * any failure.
 */
export async function writeIqSigmf(
  path: string,
  producer: IqProducer,
  desc: SigmfIqDescription,
  options: GenerateOptions = {},
): Promise<GenerateResult> {
  checkAborted(options.signal);
  const dataBytes = producer.samples * 8;
  if (dataBytes > MAX_TAR_ENTRY_BYTES) {
    throw new DatasetError('ERR_TOO_LARGE', `SigMF archive data of ${dataBytes} bytes is over ustar's 8 GiB`);
  }
  const fh = await open(path, 'w');
  let written = 0;
  const put = async (bytes: Uint8Array): Promise<void> => {
    await fh.write(bytes, 0, bytes.length, written);
    written += bytes.length;
  };
  const padTo512 = async (): Promise<void> => {
    const rest = pad512(written) - written;
    if (rest > 0) await put(new Uint8Array(rest));
  };
  try {
    const n = desc.name;
    await put(ustarHeader(`${n}/`, 0, 'dir', desc.mtime));
    await put(ustarHeader(`${n}/${n}.sigmf-data`, dataBytes, 'file', desc.mtime));
    const hash = createHash('sha512');
    const blocks = [new Float32Array(2 * IQ_BLOCK_SAMPLES), new Float32Array(2 * IQ_BLOCK_SAMPLES)];
    let turn = 0;
    for (let start = 0; start < producer.samples; start += IQ_BLOCK_SAMPLES) {
      checkAborted(options.signal);
      const count = Math.min(IQ_BLOCK_SAMPLES, producer.samples - start);
      const block = (blocks[turn] as Float32Array).subarray(0, 2 * count);
      turn ^= 1;
      await producer.fill(block, start, count);
      const bytes = new Uint8Array(block.buffer, block.byteOffset, block.byteLength);
      hash.update(bytes);
      await put(bytes);
      options.onProgress?.(written);
    }
    await padTo512();
    const meta = metaBytes(desc, hash.digest('hex'));
    await put(ustarHeader(`${n}/${n}.sigmf-meta`, meta.length, 'file', desc.mtime));
    await put(meta);
    await padTo512();
    await put(new Uint8Array(2 * BLOCK));
    await fh.close();
    options.onProgress?.(written);
    return { bytes: written };
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(path, { force: true });
    throw err;
  }
}

/** What {@link extractSigmfArchive} wrote. */
export interface ExtractedPair {
  /** The recording name `N`. */
  name: string;
  metaPath: string;
  dataPath: string;
}

const SAFE_RECORDING_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;

function headerText(h: Buffer, at: number, len: number): string {
  const field = h.subarray(at, at + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

/**
 * Writes the `.sigmf-meta` / `.sigmf-data` pair of a SigMF Archive of one recording (the form
 * {@link writeIqSigmf} writes) into `destDir` as `N.sigmf-meta` and `N.sigmf-data`. The archive is
 * untrusted (it came from a peer): every header's checksum is checked, the layout must be exactly `N/`,
 * `N/N.sigmf-data`, `N/N.sigmf-meta` with a plain name `N` (no path of its own), the meta must be JSON,
 * and its `core:sha512`, when present, must be the data's. Each file is written under a temporary name and
 * renamed into place; on any failure nothing is left. Fails with `ERR_SOURCE`.
 */
export async function extractSigmfArchive(archivePath: string, destDir: string): Promise<ExtractedPair> {
  const bad = (why: string): never => {
    throw new DatasetError('ERR_SOURCE', `${archivePath}: not a SigMF Archive of one recording: ${why}`);
  };
  const fh = await open(archivePath, 'r');
  const temps: string[] = [];
  try {
    const size = (await fh.stat()).size;
    const entries: { path: string; type: string; size: number; at: number }[] = [];
    const h = Buffer.alloc(BLOCK);
    for (let pos = 0; ;) {
      if (pos + BLOCK > size) bad('truncated before the end-of-archive blocks');
      await fh.read(h, 0, BLOCK, pos);
      if (h.every((b) => b === 0)) break;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
      if (parseInt(headerText(h, 148, 8).trim(), 8) !== sum) bad(`header at byte ${pos}: bad checksum`);
      if (headerText(h, 257, 6) !== 'ustar') bad(`header at byte ${pos}: not ustar`);
      const prefix = headerText(h, 345, 155);
      const path = prefix === '' ? headerText(h, 0, 100) : `${prefix}/${headerText(h, 0, 100)}`;
      const entrySize = parseInt(headerText(h, 124, 12).trim() || '0', 8);
      if (!Number.isSafeInteger(entrySize) || entrySize < 0) bad(`${path}: bad size`);
      const type = String.fromCharCode(h[156] as number);
      entries.push({ path, type, size: entrySize, at: pos + BLOCK });
      if (entries.length > 3) bad('more than a directory and two files');
      pos += BLOCK + pad512(entrySize);
      if (pos > size) bad(`${path}: truncated`);
    }
    const dir = entries.find((e) => e.type === '5');
    const name = dir?.path.replace(/\/$/, '') ?? '';
    if (!SAFE_RECORDING_NAME.test(name))
      bad(`recording name ${JSON.stringify(name)} is not a plain file name`);
    const file = (ext: string) => {
      const e = entries.find(
        (x) => x.path === `${name}/${name}.${ext}` && (x.type === '0' || x.type === '\0'),
      );
      return e ?? bad(`no ${name}/${name}.${ext}`);
    };
    const data = file('sigmf-data');
    const metaEntry = file('sigmf-meta');
    if (metaEntry.size > 64 * 1024 * 1024) bad('metadata over 64 MiB');
    const metaBytes = Buffer.alloc(metaEntry.size);
    await fh.read(metaBytes, 0, metaEntry.size, metaEntry.at);
    let meta: unknown;
    try {
      meta = JSON.parse(metaBytes.toString('utf8'));
    } catch {
      bad(`${name}.sigmf-meta is not JSON`);
    }
    const dataPath = join(destDir, `${name}.sigmf-data`);
    const metaPath = join(destDir, `${name}.sigmf-meta`);
    const dataTmp = `${dataPath}.${process.pid}.part`;
    const metaTmp = `${metaPath}.${process.pid}.part`;
    temps.push(dataTmp, metaTmp);
    const hash = createHash('sha512');
    const out = await open(dataTmp, 'wx');
    try {
      const buf = Buffer.alloc(1 << 20);
      for (let done = 0; done < data.size;) {
        const n = Math.min(buf.length, data.size - done);
        const { bytesRead } = await fh.read(buf, 0, n, data.at + done);
        if (bytesRead !== n) bad(`${name}.sigmf-data: truncated`);
        hash.update(buf.subarray(0, n));
        await out.write(buf, 0, n);
        done += n;
      }
    } finally {
      await out.close();
    }
    const declared =
      typeof meta === 'object' && meta !== null
        ? (meta as { global?: Record<string, unknown> }).global
        : undefined;
    const sha = declared?.['core:sha512'];
    if (sha !== undefined && sha !== hash.digest('hex')) bad('core:sha512 is not the SHA-512 of the data');
    await writeFile(metaTmp, metaBytes, { flag: 'wx' });
    await rename(dataTmp, dataPath);
    await rename(metaTmp, metaPath);
    temps.length = 0;
    return { name, metaPath, dataPath };
  } finally {
    await fh.close();
    for (const t of temps) await rm(t, { force: true });
  }
}
