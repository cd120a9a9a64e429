/**
 * The small part of STUN (RFC 5389, RFC 8489) a Binding responder needs: check a request, write the
 * success response with XOR-MAPPED-ADDRESS, or the 420 error naming unknown comprehension-required
 * attributes. Anything malformed decodes to `undefined` and is ignored (RFC 8489 §6.3: a message that is
 * not well-formed STUN is discarded).
 *
 * Why not a package: the npm STUN codecs (`stun`, `@msimerson/stun`) carry a full client/server with
 * their own sockets and dependencies for what is ~150 lines here, tested byte for byte in codec.test.ts.
 */
import { crc32 } from 'node:zlib';

export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_BYTES = 20;
export const BINDING_REQUEST = 0x0001;
export const BINDING_SUCCESS = 0x0101;
export const BINDING_ERROR = 0x0111;

export const ATTR = {
  MAPPED_ADDRESS: 0x0001,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  PASSWORD_ALGORITHM: 0x001d,
  USERHASH: 0x001e,
  XOR_MAPPED_ADDRESS: 0x0020,
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  SOFTWARE: 0x8022,
  FINGERPRINT: 0x8028,
} as const;

/** Comprehension-required attributes (< 0x8000) a Binding request may carry that we understand or may ignore. */
const KNOWN_REQUIRED: ReadonlySet<number> = new Set([
  ATTR.MAPPED_ADDRESS,
  ATTR.USERNAME,
  ATTR.MESSAGE_INTEGRITY,
  ATTR.ERROR_CODE,
  ATTR.UNKNOWN_ATTRIBUTES,
  ATTR.REALM,
  ATTR.NONCE,
  ATTR.MESSAGE_INTEGRITY_SHA256,
  ATTR.PASSWORD_ALGORITHM,
  ATTR.USERHASH,
  ATTR.XOR_MAPPED_ADDRESS,
  ATTR.PRIORITY,
  ATTR.USE_CANDIDATE,
]);

const FINGERPRINT_XOR = 0x5354554e;

export interface BindingRequest {
  transactionId: Buffer;
  /** Comprehension-required attribute types we do not know (answered with 420). */
  unknown: number[];
}

/**
 * Decodes a Binding request; `undefined` for anything else: too short, top bits set, wrong cookie, a
 * length that disagrees with the datagram, a truncated attribute, another method or class, or a
 * FINGERPRINT that does not match.
 */
export function decodeBindingRequest(msg: Buffer): BindingRequest | undefined {
  if (msg.length < HEADER_BYTES) return undefined;
  const type = msg.readUInt16BE(0);
  const length = msg.readUInt16BE(2);
  if ((type & 0xc000) !== 0 || type !== BINDING_REQUEST) return undefined;
  if (msg.readUInt32BE(4) !== MAGIC_COOKIE) return undefined;
  if (length % 4 !== 0 || HEADER_BYTES + length !== msg.length) return undefined;
  const unknown: number[] = [];
  let off = HEADER_BYTES;
  while (off < msg.length) {
    if (off + 4 > msg.length) return undefined;
    const at = msg.readUInt16BE(off);
    const len = msg.readUInt16BE(off + 2);
    const end = off + 4 + len;
    if (end > msg.length) return undefined;
    if (at === ATTR.FINGERPRINT) {
      // The last attribute: CRC-32 of everything before it (with the header's length covering it), XOR'd.
      if (len !== 4 || end !== msg.length) return undefined;
      const expected = (crc32(msg.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0;
      if (msg.readUInt32BE(off + 4) !== expected) return undefined;
    } else if (at < 0x8000 && !KNOWN_REQUIRED.has(at) && !unknown.includes(at)) {
      unknown.push(at);
    }
    off = end + ((4 - (len % 4)) % 4);
  }
  if (off !== msg.length) return undefined;
  return { transactionId: Buffer.from(msg.subarray(8, 20)), unknown };
}

function header(type: number, length: number, transactionId: Buffer): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(length, 2);
  h.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(h, 8);
  return h;
}

function attribute(type: number, value: Buffer): Buffer {
  const pad = (4 - (value.length % 4)) % 4;
  const a = Buffer.alloc(4 + value.length + pad);
  a.writeUInt16BE(type, 0);
  a.writeUInt16BE(value.length, 2);
  value.copy(a, 4);
  return a;
}

/** A message of `type` with `attrs`, ending with a FINGERPRINT. */
function message(type: number, transactionId: Buffer, attrs: Buffer[]): Buffer {
  const body = Buffer.concat(attrs);
  const h = header(type, body.length + 8, transactionId);
  const withoutFp = Buffer.concat([h, body]);
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE((crc32(withoutFp) ^ FINGERPRINT_XOR) >>> 0, 0);
  return Buffer.concat([withoutFp, attribute(ATTR.FINGERPRINT, fp)]);
}

/** XOR-MAPPED-ADDRESS's value (RFC 8489 §14.2) for `address:port` (IPv4 or IPv6). */
export function xorMappedAddress(address: string, port: number, transactionId: Buffer): Buffer {
  const v6 = address.includes(':');
  const v = Buffer.alloc(v6 ? 20 : 8);
  v.writeUInt8(v6 ? 0x02 : 0x01, 1);
  v.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 2);
  const key = Buffer.concat([header(0, 0, transactionId).subarray(4, 8), transactionId]);
  const raw = v6 ? ipv6Bytes(address) : Buffer.from(address.split('.').map(Number));
  for (let i = 0; i < raw.length; i++) v[4 + i] = (raw[i] as number) ^ (key[i] as number);
  return v;
}

function ipv6Bytes(address: string): Buffer {
  const mapped = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  let text = address;
  if (mapped !== null) {
    const [a, b, c, d] = (mapped[2] as string).split('.').map(Number) as [number, number, number, number];
    text = `${mapped[1] as string}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The Binding success response telling the client it was seen at `address:port`. */
export function encodeBindingSuccess(transactionId: Buffer, address: string, port: number): Buffer {
  return message(BINDING_SUCCESS, transactionId, [
    attribute(ATTR.XOR_MAPPED_ADDRESS, xorMappedAddress(address, port, transactionId)),
  ]);
}

/** 420 Unknown Attribute (RFC 8489 §14.8, §14.13) listing `unknown`. */
export function encodeUnknownAttributes(transactionId: Buffer, unknown: number[]): Buffer {
  const reason = Buffer.from('Unknown Attribute', 'utf8');
  const code = Buffer.concat([Buffer.from([0, 0, 4, 20]), reason]);
  const list = Buffer.alloc(unknown.length * 2);
  unknown.forEach((t, i) => list.writeUInt16BE(t, i * 2));
  return message(BINDING_ERROR, transactionId, [
    attribute(ATTR.ERROR_CODE, code),
    attribute(ATTR.UNKNOWN_ATTRIBUTES, list),
  ]);
}

/** The reply to datagram `msg` from `address:port`, or `undefined` to ignore it. */
export function answerBinding(msg: Buffer, address: string, port: number): Buffer | undefined {
  const req = decodeBindingRequest(msg);
  if (req === undefined) return undefined;
  if (req.unknown.length > 0) return encodeUnknownAttributes(req.transactionId, req.unknown);
  return encodeBindingSuccess(req.transactionId, address, port);
}
