/**
 * The binary data frame of docs/protocol.md §2, and the protocol's size constants (§6).
 *
 * ```
 * offset  size  field
 * 0       1     kind      0x01 = DATA
 * 1       3     reserved  0x00 0x00 0x00
 * 4       8     offset    u64 big-endian, < 2^53
 * 12      4     crc32     u32 big-endian, CRC-32 of the payload
 * 16      n     payload   1 ≤ n ≤ chunk_size
 * ```
 *
 * The hot paths avoid allocation: a sender builds each frame in one preallocated buffer (read the payload
 * into `buf.subarray(FRAME_HEADER_BYTES)`, then {@link writeFrameHeader}); a receiver checks a frame in
 * place with {@link checkFrameHeader} and {@link readFrameCrc}. {@link encodeFrame} and {@link decodeFrame}
 * are the convenient allocating forms.
 */
import type { Crc32 } from './crc32.js';
import { TransferError } from './errors.js';

/** Bytes of the §2 header before the payload. */
export const FRAME_HEADER_BYTES = 16;
/** The only frame kind (§2). */
export const FRAME_KIND_DATA = 0x01;
/**
 * Payload bytes per frame by default (§6): 64 KiB − 64, so a whole frame (65,488 bytes) stays below
 * 65,536 — an older pion closes the channel on a message of exactly 65,536 bytes — and every frame carries
 * whole SHA-256 blocks.
 */
export const DEFAULT_CHUNK_BYTES = 65536 - 64;
/** The largest `chunk_size` a receiver accepts in `file-metadata` (§3.1). */
export const MAX_CHUNK_BYTES = 1024 * 1024;
/** Raw chunk size toward seed peers (§3.1, §6): no header, 16 KiB like the seed's Go sender. */
export const SEED_CHUNK_BYTES = 16384;
/** The largest text (control) message, in UTF-8 bytes (§3). */
export const MAX_CONTROL_BYTES = 65536;
/** The sender keeps `bufferedAmount` under this (§6). */
export const HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** The `bufferedAmountLowThreshold` the sender sets (§6). */
export const LOW_WATER_BYTES = 1024 * 1024;
/** Frame offsets are below 2^53 (§2) so they are exact JavaScript numbers. */
export const MAX_FRAME_OFFSET = Number.MAX_SAFE_INTEGER;

const TWO_POW_32 = 0x1_0000_0000;

/** A decoded data frame. `payload` is a view into the message, not a copy. */
export interface DataFrame {
  /** Byte offset of the payload in the file. */
  offset: number;
  /** The CRC-32 the sender computed over the payload. */
  crc32: number;
  payload: Uint8Array;
}

/**
 * Writes the §2 header into `buf[at .. at+16)`: kind DATA, zero reserved bytes, `offset`, `crc`.
 * The payload is expected at `buf[at+16 ..)`, already in place.
 *
 * @example
 * const frame = new Uint8Array(FRAME_HEADER_BYTES + DEFAULT_CHUNK_BYTES);
 * const payload = frame.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + n); // fill it
 * writeFrameHeader(frame, fileOffset, crc32(payload));
 * channel.send(frame.subarray(0, FRAME_HEADER_BYTES + n));
 */
export function writeFrameHeader(buf: Uint8Array, offset: number, crc: number, at = 0): void {
  const hi = Math.floor(offset / TWO_POW_32);
  const lo = offset >>> 0;
  buf[at] = FRAME_KIND_DATA;
  buf[at + 1] = 0;
  buf[at + 2] = 0;
  buf[at + 3] = 0;
  buf[at + 4] = hi >>> 24;
  buf[at + 5] = (hi >>> 16) & 0xff;
  buf[at + 6] = (hi >>> 8) & 0xff;
  buf[at + 7] = hi & 0xff;
  buf[at + 8] = lo >>> 24;
  buf[at + 9] = (lo >>> 16) & 0xff;
  buf[at + 10] = (lo >>> 8) & 0xff;
  buf[at + 11] = lo & 0xff;
  buf[at + 12] = crc >>> 24;
  buf[at + 13] = (crc >>> 16) & 0xff;
  buf[at + 14] = (crc >>> 8) & 0xff;
  buf[at + 15] = crc & 0xff;
}

/**
 * Checks a frame's header in place (§2: length, kind, reserved bytes, offset range) and returns its
 * offset. Does not check the CRC or the offset against any expectation.
 *
 * @throws TransferError ERR_FRAME_SHORT | ERR_FRAME_KIND | ERR_FRAME_RESERVED | ERR_FRAME_OFFSET
 */
export function checkFrameHeader(bytes: Uint8Array): number {
  if (bytes.length < FRAME_HEADER_BYTES + 1) {
    throw new TransferError(
      'ERR_FRAME_SHORT',
      `binary message of ${bytes.length} bytes is shorter than a frame (${FRAME_HEADER_BYTES + 1} bytes at least)`,
    );
  }
  if (bytes[0] !== FRAME_KIND_DATA) {
    throw new TransferError('ERR_FRAME_KIND', `unknown frame kind 0x${hex2(bytes[0] ?? 0)}`);
  }
  if (bytes[1] !== 0 || bytes[2] !== 0 || bytes[3] !== 0) {
    throw new TransferError(
      'ERR_FRAME_RESERVED',
      `reserved frame bytes are ${hex2(bytes[1] ?? 0)}${hex2(bytes[2] ?? 0)}${hex2(bytes[3] ?? 0)}, not zero`,
    );
  }
  const hi = ((bytes[4] ?? 0) << 24) | ((bytes[5] ?? 0) << 16) | ((bytes[6] ?? 0) << 8) | (bytes[7] ?? 0);
  const lo = ((bytes[8] ?? 0) << 24) | ((bytes[9] ?? 0) << 16) | ((bytes[10] ?? 0) << 8) | (bytes[11] ?? 0);
  // hi >>> 0 ≥ 2^21 means offset ≥ 2^53 (§2).
  if (hi >>> 21 !== 0) {
    throw new TransferError(
      'ERR_FRAME_OFFSET',
      `frame offset 0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, '0')} is not below 2^53`,
    );
  }
  return (hi >>> 0) * TWO_POW_32 + (lo >>> 0);
}

/** The CRC-32 field of a frame whose header {@link checkFrameHeader} accepted. */
export function readFrameCrc(bytes: Uint8Array): number {
  return (
    (((bytes[12] ?? 0) << 24) | ((bytes[13] ?? 0) << 16) | ((bytes[14] ?? 0) << 8) | (bytes[15] ?? 0)) >>> 0
  );
}

/**
 * Builds one frame (a new buffer: header + a copy of `payload`).
 *
 * @throws Error (programmer error) when the payload is empty or the offset is not a safe integer ≥ 0.
 */
export function encodeFrame(offset: number, payload: Uint8Array, crc32: Crc32): Uint8Array {
  if (payload.length === 0) throw new Error('encodeFrame: empty payload (§2 requires 1 byte at least)');
  if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`encodeFrame: bad offset ${offset}`);
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  writeFrameHeader(frame, offset, crc32(payload));
  return frame;
}

/**
 * Decodes one binary message as a §2 frame. With `crc32`, also verifies the payload's CRC; with
 * `maxPayload`, its size.
 *
 * @throws TransferError ERR_FRAME_SHORT | ERR_FRAME_KIND | ERR_FRAME_RESERVED | ERR_FRAME_OFFSET |
 *   ERR_FRAME_SIZE | ERR_FRAME_CRC
 */
export function decodeFrame(bytes: Uint8Array, crc32?: Crc32, maxPayload?: number): DataFrame {
  const offset = checkFrameHeader(bytes);
  const payload = bytes.subarray(FRAME_HEADER_BYTES);
  if (maxPayload !== undefined && payload.length > maxPayload) {
    throw new TransferError(
      'ERR_FRAME_SIZE',
      `frame at offset ${offset}: payload of ${payload.length} bytes exceeds chunk_size ${maxPayload}`,
    );
  }
  const crc = readFrameCrc(bytes);
  if (crc32 !== undefined) {
    const actual = crc32(payload) >>> 0;
    if (actual !== crc) throw frameCrcError(offset, actual, crc);
  }
  return { offset, crc32: crc, payload };
}

/** The ERR_FRAME_CRC error, worded as in docs/protocol.md §3.6. */
export function frameCrcError(offset: number, actual: number, announced: number): TransferError {
  return new TransferError(
    'ERR_FRAME_CRC',
    `frame at offset ${offset}: crc32 0x${hex8(actual)} != 0x${hex8(announced)}`,
  );
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
