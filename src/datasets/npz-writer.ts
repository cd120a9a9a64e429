/**
 * A streaming `.npz` writer: a ZIP archive (PKWARE APPNOTE.TXT 6.3.x) of `.npy` entries, STORED (no
 * compression), the layout `np.savez` produces through CPython's `zipfile`:
 *
 * - every local file header carries a ZIP64 extra field (numpy forces it, gh-10776) with the real sizes,
 *   its 32-bit size fields set to 0xFFFFFFFF and "version needed" 4.5 (APPNOTE §4.3.7, §4.5.3);
 * - the central directory (APPNOTE §4.3.12) gets a ZIP64 extra only for values above CPython's
 *   `ZIP64_LIMIT` (2^31 − 1), in the order uncompressed size, compressed size, local header offset;
 * - a ZIP64 end of central directory record and locator (APPNOTE §4.3.14, §4.3.15) precede the classic
 *   end record when the central directory starts beyond that limit or there are more than 65,535 entries;
 * - timestamps are the DOS epoch 1980-01-01 00:00:00 (what `zipfile.ZipInfo` defaults to), permissions
 *   `?rw-------`, "made by" Unix.
 *
 * So for the same arrays the archive is byte-for-byte what NumPy writes (checked against a fixture).
 *
 * Bounded memory: an entry's size is known from its dtype and shape before any data arrives, so the local
 * header is written first with its sizes and only the CRC-32 is patched in place afterwards (positional
 * writes on one file handle; no data descriptor). Data is written chunk by chunk as it is produced.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { encodeUnicodeArray, npyDataBytes, npyHeader, type NpyArraySpec } from './npy-header.js';

/** CPython `zipfile.ZIP64_LIMIT`: values above it go into ZIP64 fields. */
export const ZIP64_LIMIT = 2 ** 31 - 1;
const ZIP_FILECOUNT_LIMIT = 0xffff;
const VERSION_ZIP64 = 45; // APPNOTE §4.4.3.2: 4.5 = ZIP64 format extensions
const MADE_BY_UNIX = 3;
const DOS_TIME = 0; // 00:00:00
const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
const EXTERNAL_ATTR = 0o600 << 16; // ?rw-------
const LOCAL_HEADER_BYTES = 30;
const LOCAL_ZIP64_EXTRA_BYTES = 20;
const CENTRAL_HEADER_BYTES = 46;
const EOCD_BYTES = 22;
const EOCD64_BYTES = 56;
const EOCD64_LOCATOR_BYTES = 20;
const ENTRY_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;
const ZERO_BLOCK = new Uint8Array(1 << 20);

interface EntryRecord {
  fileName: Uint8Array;
  size: number;
  crc: number;
  headerOffset: number;
}

/** Size in bytes of one `.npy` entry's data in the archive (npy header + array data). */
export function npyEntryBytes(spec: NpyArraySpec): number {
  return npyHeader(spec).length + npyDataBytes(spec);
}

/**
 * Exact size of an `.npz` archive holding these entries (name without `.npy`, spec), as written by
 * {@link NpzWriter}. Cheap: no data is touched.
 */
export function npzArchiveBytes(entries: ReadonlyArray<readonly [name: string, spec: NpyArraySpec]>): number {
  let offset = 0;
  let central = 0;
  for (const [name, spec] of entries) {
    const nameBytes = name.length + 4;
    const size = npyEntryBytes(spec);
    const headerOffset = offset;
    offset += LOCAL_HEADER_BYTES + nameBytes + LOCAL_ZIP64_EXTRA_BYTES + size;
    let extra = 0;
    if (size > ZIP64_LIMIT) extra += 16;
    if (headerOffset > ZIP64_LIMIT) extra += 8;
    central += CENTRAL_HEADER_BYTES + nameBytes + (extra > 0 ? 4 + extra : 0);
  }
  const needs64 = entries.length > ZIP_FILECOUNT_LIMIT || offset > ZIP64_LIMIT || central > ZIP64_LIMIT;
  return offset + central + (needs64 ? EOCD64_BYTES + EOCD64_LOCATOR_BYTES : 0) + EOCD_BYTES;
}

/**
 * Writes one array's data into the archive. Obtained from {@link NpzWriter.beginArray}.
 *
 * Chunks are written in order; together they must be exactly the array's data size. `write` resolves
 * once at most one write (the chunk just given) is still in flight: the caller may refill any buffer but
 * the last one it passed, so two alternating buffers keep generation and disk I/O overlapped.
 */
export class NpzEntryWriter {
  #crc = 0;
  #written = 0;
  #ended = false;

  /** @internal */
  constructor(
    private readonly owner: NpzWriter,
    private readonly record: EntryRecord,
    /** Bytes of array data this entry expects. */
    readonly dataBytes: number,
  ) {}

  /** Bytes of array data still expected. */
  get remaining(): number {
    return this.dataBytes - this.#written;
  }

  /** @internal header bytes go through the same CRC as the data */
  async writeRaw(chunk: Uint8Array): Promise<void> {
    this.#crc = crc32(chunk, this.#crc);
    await this.owner.submit(chunk);
  }

  /** Appends array data (any typed array; its bytes as laid out in memory, i.e. little-endian here). */
  async write(chunk: ArrayBufferView): Promise<void> {
    if (this.#ended) throw new Error('npz: write after end');
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (bytes.length > this.remaining) {
      throw new RangeError(
        `npz: ${bytes.length} bytes given but only ${this.remaining} remain in this array`,
      );
    }
    if (bytes.length === 0) return;
    this.#written += bytes.length;
    await this.writeRaw(bytes);
  }

  /**
   * Appends `count` zero bytes without writing them: the file gets a hole (sparse on file systems that
   * support it) and the CRC-32 is still computed. For large all-zero arrays.
   */
  async zeros(count: number): Promise<void> {
    if (this.#ended) throw new Error('npz: write after end');
    if (!Number.isSafeInteger(count) || count < 0 || count > this.remaining) {
      throw new RangeError(`npz: cannot add ${count} zero bytes, ${this.remaining} remain in this array`);
    }
    for (let left = count; left > 0;) {
      const n = Math.min(left, ZERO_BLOCK.length);
      this.#crc = crc32(n === ZERO_BLOCK.length ? ZERO_BLOCK : ZERO_BLOCK.subarray(0, n), this.#crc);
      left -= n;
    }
    this.#written += count;
    this.owner.skip(count);
  }

  /** Finishes the entry: all data must have been written. Patches the CRC-32 into the local header. */
  async end(): Promise<void> {
    if (this.#ended) throw new Error('npz: entry already ended');
    if (this.remaining !== 0) {
      throw new RangeError(`npz: array ended with ${this.remaining} of ${this.dataBytes} bytes missing`);
    }
    this.#ended = true;
    this.record.crc = this.#crc >>> 0;
    await this.owner.finishEntry(this.record);
  }
}

/**
 * Streams NumPy arrays into an `.npz` file.
 *
 * @example
 * const w = await NpzWriter.create('/tmp/x.npz');
 * await w.writeArray('freq', { descr: '<f8', shape: [3] }, Float64Array.of(1, 2, 3));
 * const iq = await w.beginArray('iq', { descr: '<c8', shape: [n] });
 * for (const block of blocks) await iq.write(block);
 * await iq.end();
 * await w.close();
 */
export class NpzWriter {
  #fh: FileHandle;
  #path: string;
  #pos = 0;
  #entries: EntryRecord[] = [];
  #names = new Set<string>();
  #open: NpzEntryWriter | undefined;
  #inflight: Promise<void> | undefined;
  #failure: unknown;
  #closed = false;

  private constructor(fh: FileHandle, path: string) {
    this.#fh = fh;
    this.#path = path;
  }

  /** Creates (or truncates) the file at `path`. */
  static async create(path: string): Promise<NpzWriter> {
    return new NpzWriter(await open(path, 'w'), path);
  }

  /** Bytes of the archive written (or reserved, for holes) so far. */
  get bytesWritten(): number {
    return this.#pos;
  }

  /**
   * Starts an array entry `name.npy` and writes its local header and `.npy` header. Only one entry may be
   * open at a time; end it before starting the next.
   */
  async beginArray(name: string, spec: NpyArraySpec): Promise<NpzEntryWriter> {
    this.#checkUsable();
    if (this.#open !== undefined) throw new Error('npz: the previous array has not ended');
    if (!ENTRY_NAME.test(name)) throw new RangeError(`npz: invalid array name ${JSON.stringify(name)}`);
    if (this.#names.has(name)) throw new RangeError(`npz: duplicate array name ${name}`);
    const header = npyHeader(spec);
    const dataBytes = npyDataBytes(spec);
    const size = header.length + dataBytes;
    const fileName = new TextEncoder().encode(`${name}.npy`);
    const record: EntryRecord = { fileName, size, crc: 0, headerOffset: this.#pos };

    // APPNOTE §4.3.7 local file header + §4.5.3 ZIP64 extended information (both sizes).
    const local = new Uint8Array(LOCAL_HEADER_BYTES + fileName.length + LOCAL_ZIP64_EXTRA_BYTES);
    const v = new DataView(local.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(4, VERSION_ZIP64, true);
    v.setUint16(6, 0, true); // flags
    v.setUint16(8, 0, true); // STORED
    v.setUint16(10, DOS_TIME, true);
    v.setUint16(12, DOS_DATE, true);
    v.setUint32(14, 0, true); // CRC-32, patched by finishEntry
    v.setUint32(18, 0xffffffff, true);
    v.setUint32(22, 0xffffffff, true);
    v.setUint16(26, fileName.length, true);
    v.setUint16(28, LOCAL_ZIP64_EXTRA_BYTES, true);
    local.set(fileName, LOCAL_HEADER_BYTES);
    const x = LOCAL_HEADER_BYTES + fileName.length;
    v.setUint16(x, 0x0001, true);
    v.setUint16(x + 2, 16, true);
    v.setBigUint64(x + 4, BigInt(size), true);
    v.setBigUint64(x + 12, BigInt(size), true);

    this.#names.add(name);
    await this.submit(local);
    const entry = new NpzEntryWriter(this, record, dataBytes);
    this.#open = entry;
    await entry.writeRaw(header);
    return entry;
  }

  /** Writes a whole (small) array at once. */
  async writeArray(name: string, spec: NpyArraySpec, data: ArrayBufferView): Promise<void> {
    const entry = await this.beginArray(name, spec);
    await entry.write(data);
    await entry.end();
  }

  /** Writes the central directory and end records and closes the file. Returns the archive size. */
  async close(): Promise<{ bytes: number }> {
    this.#checkUsable();
    if (this.#open !== undefined) throw new Error('npz: an array is still open');
    const cdOffset = this.#pos;
    const parts: Uint8Array[] = [];
    let cdSize = 0;
    for (const e of this.#entries) {
      // APPNOTE §4.3.12 central directory header; ZIP64 extra holds only the overflowing values.
      const extraValues: number[] = [];
      if (e.size > ZIP64_LIMIT) extraValues.push(e.size, e.size);
      if (e.headerOffset > ZIP64_LIMIT) extraValues.push(e.headerOffset);
      const extraBytes = extraValues.length > 0 ? 4 + 8 * extraValues.length : 0;
      const rec = new Uint8Array(CENTRAL_HEADER_BYTES + e.fileName.length + extraBytes);
      const v = new DataView(rec.buffer);
      const size32 = e.size > ZIP64_LIMIT ? 0xffffffff : e.size;
      v.setUint32(0, 0x02014b50, true);
      v.setUint8(4, VERSION_ZIP64);
      v.setUint8(5, MADE_BY_UNIX);
      v.setUint16(6, VERSION_ZIP64, true);
      v.setUint16(8, 0, true);
      v.setUint16(10, 0, true);
      v.setUint16(12, DOS_TIME, true);
      v.setUint16(14, DOS_DATE, true);
      v.setUint32(16, e.crc, true);
      v.setUint32(20, size32, true);
      v.setUint32(24, size32, true);
      v.setUint16(28, e.fileName.length, true);
      v.setUint16(30, extraBytes, true);
      v.setUint16(32, 0, true); // comment length
      v.setUint16(34, 0, true); // disk number start
      v.setUint16(36, 0, true); // internal attributes
      v.setUint32(38, EXTERNAL_ATTR, true);
      v.setUint32(42, e.headerOffset > ZIP64_LIMIT ? 0xffffffff : e.headerOffset, true);
      rec.set(e.fileName, CENTRAL_HEADER_BYTES);
      if (extraBytes > 0) {
        const x = CENTRAL_HEADER_BYTES + e.fileName.length;
        v.setUint16(x, 0x0001, true);
        v.setUint16(x + 2, 8 * extraValues.length, true);
        extraValues.forEach((val, i) => v.setBigUint64(x + 4 + 8 * i, BigInt(val), true));
      }
      parts.push(rec);
      cdSize += rec.length;
    }
    const cdEnd = cdOffset + cdSize;
    const count = this.#entries.length;
    if (count > ZIP_FILECOUNT_LIMIT || cdOffset > ZIP64_LIMIT || cdSize > ZIP64_LIMIT) {
      // APPNOTE §4.3.14 ZIP64 end of central directory record, §4.3.15 its locator.
      const rec = new Uint8Array(EOCD64_BYTES + EOCD64_LOCATOR_BYTES);
      const v = new DataView(rec.buffer);
      v.setUint32(0, 0x06064b50, true);
      v.setBigUint64(4, BigInt(EOCD64_BYTES - 12), true);
      v.setUint16(12, VERSION_ZIP64, true);
      v.setUint16(14, VERSION_ZIP64, true);
      v.setUint32(16, 0, true);
      v.setUint32(20, 0, true);
      v.setBigUint64(24, BigInt(count), true);
      v.setBigUint64(32, BigInt(count), true);
      v.setBigUint64(40, BigInt(cdSize), true);
      v.setBigUint64(48, BigInt(cdOffset), true);
      v.setUint32(56, 0x07064b50, true);
      v.setUint32(60, 0, true);
      v.setBigUint64(64, BigInt(cdEnd), true);
      v.setUint32(72, 1, true);
      parts.push(rec);
    }
    // APPNOTE §4.3.16 end of central directory record (CPython clamps rather than always writing 0xFF…).
    const end = new Uint8Array(EOCD_BYTES);
    const v = new DataView(end.buffer);
    v.setUint32(0, 0x06054b50, true);
    v.setUint16(8, Math.min(count, 0xffff), true);
    v.setUint16(10, Math.min(count, 0xffff), true);
    v.setUint32(12, Math.min(cdSize, 0xffffffff), true);
    v.setUint32(16, Math.min(cdOffset, 0xffffffff), true);
    parts.push(end);
    await this.submit(Buffer.concat(parts));
    await this.#drain();
    this.#closed = true;
    await this.#fh.close();
    return { bytes: this.#pos };
  }

  /** Closes the file and removes it (after a failure or an abort). Never throws. */
  async discard(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#inflight;
      await this.#fh.close().catch(() => undefined);
    }
    await rm(this.#path, { force: true }).catch(() => undefined);
  }

  /** @internal positional write; resolves when at most this write is still in flight */
  async submit(bytes: Uint8Array): Promise<void> {
    const position = this.#pos;
    this.#pos += bytes.length;
    const previous = this.#inflight;
    // The rejection is captured at once (never left unhandled) and rethrown at the next step.
    this.#inflight = writeFully(this.#fh, bytes, position).catch((err: unknown) => {
      this.#failure ??= err;
    });
    await previous;
    this.#throwIfFailed();
  }

  /** @internal leaves a hole of `count` bytes */
  skip(count: number): void {
    this.#pos += count;
  }

  /** @internal */
  async finishEntry(record: EntryRecord): Promise<void> {
    await this.#drain();
    const crc = new Uint8Array(4);
    new DataView(crc.buffer).setUint32(0, record.crc, true);
    await writeFully(this.#fh, crc, record.headerOffset + 14);
    this.#entries.push(record);
    this.#open = undefined;
  }

  async #drain(): Promise<void> {
    await this.#inflight;
    this.#inflight = undefined;
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  #checkUsable(): void {
    if (this.#closed) throw new Error('npz: writer is closed');
    this.#throwIfFailed();
  }
}

async function writeFully(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('npz: write made no progress');
    done += bytesWritten;
  }
}

/**
 * Writes a dataset's `.npz` at `path`: `fill` writes its arrays and returns the `meta` JSON text, stored last
 * as a 0-d unicode array; then the file is closed and `onProgress` told its final size. On any failure the
 * partial file is removed and the error rethrown.
 */
export async function writeNpzWithMeta(
  path: string,
  fill: (w: NpzWriter) => Promise<string>,
  onProgress?: (bytes: number) => void,
): Promise<{ bytes: number }> {
  const w = await NpzWriter.create(path);
  try {
    const meta = encodeUnicodeArray([await fill(w)]);
    await w.writeArray('meta', { descr: meta.descr, shape: [] }, meta.data);
    const { bytes } = await w.close();
    onProgress?.(bytes);
    return { bytes };
  } catch (err) {
    await w.discard();
    throw err;
  }
}
