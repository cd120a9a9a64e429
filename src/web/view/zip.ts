/**
 * A ZIP reader for `.npz` archives held in memory (PKWARE APPNOTE.TXT 6.3.x): the end of central directory
 * record (§4.3.16), its ZIP64 form and locator (§4.3.14, §4.3.15), the central directory (§4.3.12) with
 * ZIP64 extended information (§4.5.3), local file headers (§4.3.7). Entries STORED (method 0, what our
 * writer and `np.savez` produce) or DEFLATED (method 8, `np.savez_compressed`), inflated with fflate; every
 * entry's CRC-32 is checked. Encrypted entries, split archives and other methods are refused.
 *
 * The archive is untrusted: every offset and size is checked against the bytes at hand before use, and an
 * entry may not inflate beyond the size its header declares.
 */
import { inflateSync } from 'fflate';
import { crc32 } from '../../protocol/crc32.js';
import { ViewError } from './errors.js';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const EOCD_BYTES = 22;
const EOCD64_LOCATOR_BYTES = 20;
const CENTRAL_HEADER_BYTES = 46;
const LOCAL_HEADER_BYTES = 30;
const MAX_COMMENT = 0xffff;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
const MAX_DEFLATE_RATIO = 1032;
/** Most entries read from one archive (ours hold four). */
export const MAX_ZIP_ENTRIES = 1024;

/** One file of the archive, its bytes checked against the CRC-32 of its header. */
export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

const bad = (why: string): never => {
  throw new ViewError('ERR_VIEW_ZIP', `not a readable .npz (ZIP) archive: ${why}`);
};

function u64(v: DataView, at: number): number {
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) bad(`a 64-bit size or offset (${n}) is too large`);
  return Number(n);
}

/** Finds the end of central directory record: the last signature whose comment length fits the file. */
function findEocd(bytes: Uint8Array, v: DataView): number {
  const lowest = Math.max(0, bytes.length - EOCD_BYTES - MAX_COMMENT);
  for (let at = bytes.length - EOCD_BYTES; at >= lowest; at--) {
    if (v.getUint32(at, true) === SIG_EOCD && at + EOCD_BYTES + v.getUint16(at + 20, true) === bytes.length) {
      return at;
    }
  }
  return bad(
    bytes.length < EOCD_BYTES ? `only ${bytes.length} bytes` : 'no end of central directory (truncated?)',
  );
}

/**
 * Reads every entry of a ZIP archive. Throws {@link ViewError} `ERR_VIEW_ZIP` on anything malformed,
 * truncated, encrypted, compressed with another method than deflate, or failing its CRC-32.
 */
export function readZip(bytes: Uint8Array): ZipEntry[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = findEocd(bytes, v);
  if (v.getUint16(eocd + 4, true) !== 0 || v.getUint16(eocd + 6, true) !== 0)
    bad('a split (multi-disk) archive');
  let count = v.getUint16(eocd + 10, true);
  let cdSize = v.getUint32(eocd + 12, true);
  let cdOffset = v.getUint32(eocd + 16, true);
  const loc = eocd - EOCD64_LOCATOR_BYTES;
  if (loc >= 0 && v.getUint32(loc, true) === SIG_EOCD64_LOCATOR) {
    const at = u64(v, loc + 8);
    if (at + 56 > loc || v.getUint32(at, true) !== SIG_EOCD64) bad('a broken ZIP64 end of central directory');
    count = u64(v, at + 32);
    cdSize = u64(v, at + 40);
    cdOffset = u64(v, at + 48);
  }
  if (count > MAX_ZIP_ENTRIES) bad(`${count} entries, more than ${MAX_ZIP_ENTRIES}`);
  if (cdOffset + cdSize > bytes.length)
    bad('the central directory lies beyond the end of the file (truncated?)');

  const out: ZipEntry[] = [];
  const names = new Set<string>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_HEADER_BYTES > cdOffset + cdSize || v.getUint32(p, true) !== SIG_CENTRAL) {
      bad(`central directory entry ${i} is missing or malformed`);
    }
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    const crc = v.getUint32(p + 16, true);
    let compressed = v.getUint32(p + 20, true);
    let size = v.getUint32(p + 24, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    let offset = v.getUint32(p + 42, true);
    const next = p + CENTRAL_HEADER_BYTES + nameLen + extraLen + commentLen;
    if (next > cdOffset + cdSize) bad(`central directory entry ${i} runs past the directory`);
    const name = new TextDecoder('utf-8', { fatal: false }).decode(
      bytes.subarray(p + CENTRAL_HEADER_BYTES, p + CENTRAL_HEADER_BYTES + nameLen),
    );
    // §4.5.3: the ZIP64 extra holds, in this order, only the fields whose 32-bit value is 0xFFFFFFFF.
    for (
      let x = p + CENTRAL_HEADER_BYTES + nameLen;
      x + 4 <= p + CENTRAL_HEADER_BYTES + nameLen + extraLen;
    ) {
      const id = v.getUint16(x, true);
      const len = v.getUint16(x + 2, true);
      if (x + 4 + len > p + CENTRAL_HEADER_BYTES + nameLen + extraLen) bad(`${name}: a broken extra field`);
      if (id === 0x0001) {
        let q = x + 4;
        const take = (): number => {
          if (q + 8 > x + 4 + len) bad(`${name}: a short ZIP64 extra field`);
          const n = u64(v, q);
          q += 8;
          return n;
        };
        if (size === 0xffffffff) size = take();
        if (compressed === 0xffffffff) compressed = take();
        if (offset === 0xffffffff) offset = take();
      }
      x += 4 + len;
    }
    if ((flags & 0x1) !== 0) bad(`${name}: encrypted`);
    if (method !== METHOD_STORED && method !== METHOD_DEFLATED) bad(`${name}: compression method ${method}`);
    if (names.has(name)) bad(`duplicate entry ${JSON.stringify(name)}`);
    names.add(name);

    if (offset + LOCAL_HEADER_BYTES > bytes.length || v.getUint32(offset, true) !== SIG_LOCAL) {
      bad(`${name}: no local header at byte ${offset}`);
    }
    const start =
      offset + LOCAL_HEADER_BYTES + v.getUint16(offset + 26, true) + v.getUint16(offset + 28, true);
    if (start + compressed > bytes.length)
      bad(`${name}: its data runs past the end of the file (truncated?)`);
    const raw = bytes.subarray(start, start + compressed);
    let data: Uint8Array;
    if (method === METHOD_STORED) {
      if (compressed !== size) bad(`${name}: stored with two different sizes`);
      data = raw;
    } else {
      // Deflate cannot expand more than 1032:1; a larger declared size is a lie, not a buffer to allocate.
      if (size > compressed * MAX_DEFLATE_RATIO + 1024)
        bad(`${name}: declares ${size} bytes from ${compressed}`);
      data = new Uint8Array(size);
      let inflated: Uint8Array;
      try {
        inflated = inflateSync(raw, { out: data });
      } catch (err) {
        return bad(`${name}: deflate data is corrupt (${err instanceof Error ? err.message : String(err)})`);
      }
      // fflate returns a shorter view when the stream ends early, and stops at the end of `out` when the
      // stream would run past it (the CRC-32 below then fails).
      if (inflated.length !== size) bad(`${name}: inflates to ${inflated.length} bytes, header says ${size}`);
      data = inflated;
    }
    if (crc32(data) !== crc) bad(`${name}: CRC-32 mismatch (the entry is corrupt)`);
    out.push({ name, data });
    p = next;
  }
  return out;
}
