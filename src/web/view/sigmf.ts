/**
 * A SigMF Archive reader (SigMF v1.2 "SigMF Archive": a POSIX ustar tar holding a recording's
 * `N.sigmf-meta` and `N.sigmf-data`), for the `signal` files providers write with `format: sigmf`
 * (src/datasets/sigmf-out.ts: `N/`, `N/N.sigmf-data`, `N/N.sigmf-meta`). One recording, one channel; the
 * data types `cf32_le` (what we write), `cf64_le`, `ci16_le` and `ci8` (scaled to ±1 full scale).
 *
 * The archive is untrusted: every header's checksum is checked and every size against the bytes at hand.
 */
import { ViewError } from './errors.js';
import type { DatasetMeta, SignalData } from './npz.js';

const BLOCK = 512;
/** Most members read from one archive (ours hold three). */
const MAX_MEMBERS = 64;

/** Whether `bytes` look like a tar archive (the `ustar` magic of the first header). */
export function isTar(bytes: Uint8Array): boolean {
  return bytes.length >= BLOCK && new TextDecoder('latin1').decode(bytes.subarray(257, 262)) === 'ustar';
}

const bad = (why: string): never => {
  throw new ViewError('ERR_VIEW_TAR', `not a readable SigMF archive (tar): ${why}`);
};
const wrong = (why: string): never => {
  throw new ViewError('ERR_VIEW_DATASET', `SigMF recording: ${why}`);
};

function field(h: Uint8Array, at: number, len: number): string {
  const f = h.subarray(at, at + len);
  const nul = f.indexOf(0);
  return new TextDecoder('utf-8').decode(nul === -1 ? f : f.subarray(0, nul));
}

/** The regular files of a ustar archive by path. */
export function readTar(bytes: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let members = 0;
  for (let pos = 0; ;) {
    if (pos + BLOCK > bytes.length) bad('truncated before the end-of-archive blocks');
    const h = bytes.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) break;
    if (++members > MAX_MEMBERS) bad(`more than ${MAX_MEMBERS} members`);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    if (parseInt(field(h, 148, 8).trim(), 8) !== sum) bad(`the header at byte ${pos} has a bad checksum`);
    if (field(h, 257, 6) !== 'ustar') bad(`the header at byte ${pos} is not ustar`);
    const prefix = field(h, 345, 155);
    const path = prefix === '' ? field(h, 0, 100) : `${prefix}/${field(h, 0, 100)}`;
    const sizeText = field(h, 124, 12).trim();
    const size = sizeText === '' ? 0 : parseInt(sizeText, 8);
    if (!/^[0-7]*$/.test(sizeText) || !Number.isSafeInteger(size)) bad(`${path}: a bad size`);
    const type = String.fromCharCode(h[156] as number);
    const start = pos + BLOCK;
    if (start + size > bytes.length) bad(`${path}: truncated`);
    if (type === '0' || type === '\0') files.set(path, bytes.subarray(start, start + size));
    pos = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}

interface SampleType {
  bytes: number;
  read: (data: Uint8Array) => Float32Array | Float64Array;
}

/** Copies bytes into a fresh, aligned buffer (little-endian host assumed for the float types). */
const copy = (data: Uint8Array): ArrayBuffer => data.slice().buffer;

const SAMPLE_TYPES: Record<string, SampleType> = {
  cf32_le: { bytes: 8, read: (d) => new Float32Array(copy(d)) },
  cf64_le: { bytes: 16, read: (d) => new Float64Array(copy(d)) },
  ci16_le: {
    bytes: 4,
    read: (d) => {
      const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
      const out = new Float32Array(d.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = v.getInt16(2 * i, true) / 32768;
      return out;
    },
  },
  ci8: {
    bytes: 2,
    read: (d) => Float32Array.from(new Int8Array(d.buffer, d.byteOffset, d.byteLength), (x) => x / 128),
  },
};
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Reads a SigMF Archive of one complex recording as a `signal`. Throws {@link ViewError}: `ERR_VIEW_TAR`
 * for a malformed tar, `ERR_VIEW_DTYPE` for a data type it does not read, `ERR_VIEW_DATASET` for an
 * archive that is not one recording with usable metadata.
 */
export function readSigmfArchive(bytes: Uint8Array): SignalData {
  const files = readTar(bytes);
  const metas = [...files.keys()].filter((p) => p.endsWith('.sigmf-meta'));
  if (metas.length !== 1) wrong(`the archive holds ${metas.length} .sigmf-meta files; one is expected`);
  const metaPath = metas[0] as string;
  const data = files.get(metaPath.replace(/\.sigmf-meta$/, '.sigmf-data'));
  if (data === undefined) return wrong(`no .sigmf-data beside ${metaPath}`);
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder('utf-8').decode(files.get(metaPath)));
  } catch {
    return wrong(`${metaPath} is not JSON`);
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
    return wrong('the metadata is not an object');
  const m = meta as DatasetMeta;
  const global = m['global'];
  if (global === null || typeof global !== 'object' || Array.isArray(global))
    return wrong('no global object');
  const g = global as Record<string, unknown>;
  const datatype = g['core:datatype'];
  const type = typeof datatype === 'string' ? SAMPLE_TYPES[datatype] : undefined;
  if (type === undefined || (!LITTLE_ENDIAN_HOST && datatype !== 'ci8')) {
    throw new ViewError(
      'ERR_VIEW_DTYPE',
      `SigMF core:datatype ${JSON.stringify(datatype)} is not supported (readable: ${Object.keys(SAMPLE_TYPES).join(', ')})`,
    );
  }
  const channels = g['core:num_channels'] ?? 1;
  if (channels !== 1) wrong(`core:num_channels is ${JSON.stringify(channels)}; one channel is expected`);
  const rate = g['core:sample_rate'];
  if (typeof rate !== 'number' || !(rate > 0) || !Number.isFinite(rate))
    wrong('core:sample_rate is not a positive number');
  if (data.length % type.bytes !== 0)
    wrong(`${data.length} data bytes are not whole ${String(datatype)} samples`);
  const captures = m['captures'];
  const first = Array.isArray(captures) ? (captures[0] as Record<string, unknown> | undefined) : undefined;
  const fc = first !== null && typeof first === 'object' ? first['core:frequency'] : undefined;
  return {
    kind: 'signal',
    iq: type.read(data),
    sampleRate: rate as number,
    centerFrequency: typeof fc === 'number' && Number.isFinite(fc) ? fc : 0,
    meta: m,
  };
}
