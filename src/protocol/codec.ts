/**
 * Control messages (docs/protocol.md §3): text JSON objects with a `type`, field names in snake_case as
 * on the wire. {@link parseControl} validates every field's type and range; {@link encodeControl} writes
 * only the fields the spec defines.
 */
import { TransferError } from './errors.js';
import { MAX_CHUNK_BYTES, MAX_CONTROL_BYTES } from './frames.js';
import { MAX_KEEPALIVE_MS } from './keepalive.js';

/** The protocol name a sender puts in `file-metadata` (§3.1). */
export const PROTOCOL_NAME = 'sdrlink/1';

/** §3.1. Seed senders send only `type`, `filename`, `size`; ours add the three sdrlink/1 fields. */
export interface FileMetadataMessage {
  type: 'file-metadata';
  filename: string;
  size: number;
  /** Present (and then with `sha256` and `chunk_size`) when the sender speaks sdrlink/1. */
  protocol?: typeof PROTOCOL_NAME;
  sha256?: string;
  chunk_size?: number;
  /**
   * §3.7, sdrlink/1 only: the sender takes part in keepalive and sends something at least this often
   * (ms, 1 … 60000). Absent: an older sender, never sent a `keepalive` nor timed out by silence.
   */
  keepalive_ms?: number;
}

/** §3.2. `prefix_sha256` is present exactly when `offset` > 0. */
export interface ResumeMessage {
  type: 'resume';
  offset: number;
  prefix_sha256?: string;
  /** §3.7: the receiver's keepalive interval, when it takes part (and the sender advertised it). */
  keepalive_ms?: number;
}

/** §3.3. */
export interface StartMessage {
  type: 'start';
  offset: number;
}

/** §3.4. `frames` is the number of frames (or raw chunks, toward seed peers) of this attempt. */
export interface FileCompleteMessage {
  type: 'file-complete';
  size: number;
  sha256: string;
  frames: number;
}

/** §3.5. */
export interface AckMessage {
  type: 'ack';
  sha256: string;
  size: number;
}

/** §3.6. `code` is a §5 code when the peer is ours; any short string is accepted from the wire. */
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

/** §3.7: "still here", sent only to a peer that advertised `keepalive_ms`. */
export interface KeepaliveMessage {
  type: 'keepalive';
}

/** Every control message of §3, discriminated on `type`. */
export type ControlMessage =
  | FileMetadataMessage
  | ResumeMessage
  | StartMessage
  | FileCompleteMessage
  | AckMessage
  | ErrorMessage
  | KeepaliveMessage;

/** The `type` values of §3. */
export type ControlType = ControlMessage['type'];

/** One handler per control message type; a missing one is a compile error (exhaustiveness). */
export type ControlHandlers<R> = { [K in ControlType]: (msg: Extract<ControlMessage, { type: K }>) => R };

/**
 * Calls the handler for `msg.type`.
 *
 * @example
 * dispatchControl(msg, { 'file-metadata': onMeta, resume: unexpected, start: onStart, ... });
 */
export function dispatchControl<R>(msg: ControlMessage, handlers: ControlHandlers<R>): R {
  return (handlers[msg.type] as (m: ControlMessage) => R)(msg);
}

/** The longest `code` accepted in an `error` message. */
const MAX_ERROR_CODE_CHARS = 64;
/** `error` messages this side writes are cut to this many characters of `message`. */
const MAX_ERROR_MESSAGE_CHARS = 2000;

type Fields = Record<string, unknown>;

function invalid(type: string, detail: string): TransferError {
  return new TransferError('ERR_MESSAGE_INVALID', `${type} message: ${detail}`);
}

function str(o: Fields, type: string, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw invalid(type, `field "${key}" must be a string, got ${describe(v)}`);
  return v;
}

/** A byte count or offset: an integer in [0, 2^53). */
function count(o: Fields, type: string, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(type, `field "${key}" must be an integer ≥ 0 below 2^53, got ${describe(v)}`);
  }
  return v;
}

/** A SHA-256 as 64 hex digits; upper case is accepted and normalised to lower case. */
function sha(o: Fields, type: string, key: string): string {
  const v = str(o, type, key);
  if (!/^[0-9a-fA-F]{64}$/.test(v))
    throw invalid(type, `field "${key}" must be 64 hex digits, got ${describe(v)}`);
  return v.toLowerCase();
}

/** §3.7: an optional `keepalive_ms`, an integer in [1, MAX_KEEPALIVE_MS]; undefined when absent. */
function keepaliveMs(o: Fields, type: string): number | undefined {
  const v = o['keepalive_ms'];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_KEEPALIVE_MS) {
    throw invalid(
      type,
      `field "keepalive_ms" must be an integer from 1 to ${MAX_KEEPALIVE_MS}, got ${describe(v)}`,
    );
  }
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

// One validator per type (§3.1–§3.7); the mapped type makes a missing one a compile error.
const parsers: { [K in ControlType]: (o: Fields) => Extract<ControlMessage, { type: K }> } = {
  'file-metadata'(o) {
    const t = 'file-metadata';
    const msg: FileMetadataMessage = { type: t, filename: str(o, t, 'filename'), size: count(o, t, 'size') };
    if (o['protocol'] === undefined) return msg;
    const protocol = str(o, t, 'protocol');
    if (protocol !== PROTOCOL_NAME)
      throw invalid(t, `unsupported protocol ${describe(protocol)} (this side speaks ${PROTOCOL_NAME})`);
    const chunkSize = count(o, t, 'chunk_size');
    if (chunkSize < 1 || chunkSize > MAX_CHUNK_BYTES) {
      throw invalid(t, `field "chunk_size" must be between 1 and ${MAX_CHUNK_BYTES}, got ${chunkSize}`);
    }
    const full: FileMetadataMessage = {
      ...msg,
      protocol,
      sha256: sha(o, t, 'sha256'),
      chunk_size: chunkSize,
    };
    const beat = keepaliveMs(o, t);
    if (beat !== undefined) full.keepalive_ms = beat;
    return full;
  },
  resume(o) {
    const offset = count(o, 'resume', 'offset');
    const msg: ResumeMessage =
      offset === 0
        ? { type: 'resume', offset }
        : { type: 'resume', offset, prefix_sha256: sha(o, 'resume', 'prefix_sha256') };
    const beat = keepaliveMs(o, 'resume');
    if (beat !== undefined) msg.keepalive_ms = beat;
    return msg;
  },
  start: (o) => ({ type: 'start', offset: count(o, 'start', 'offset') }),
  'file-complete': (o) => ({
    type: 'file-complete',
    size: count(o, 'file-complete', 'size'),
    sha256: sha(o, 'file-complete', 'sha256'),
    frames: count(o, 'file-complete', 'frames'),
  }),
  ack: (o) => ({ type: 'ack', sha256: sha(o, 'ack', 'sha256'), size: count(o, 'ack', 'size') }),
  error(o) {
    const code = str(o, 'error', 'code');
    if (code.length === 0 || code.length > MAX_ERROR_CODE_CHARS) {
      throw invalid(
        'error',
        `field "code" must be 1 to ${MAX_ERROR_CODE_CHARS} characters, got ${describe(code)}`,
      );
    }
    return { type: 'error', code, message: str(o, 'error', 'message') };
  },
  keepalive: () => ({ type: 'keepalive' }),
};

/** UTF-8 length of a string, without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * Parses and validates one text message (§3). Unknown fields are ignored (and dropped).
 *
 * @throws TransferError ERR_MESSAGE_INVALID (too large, not JSON, not an object, a field missing or of the
 *   wrong type or range) | ERR_MESSAGE_TYPE (unknown `type`)
 */
export function parseControl(text: string): ControlMessage {
  if (
    text.length > MAX_CONTROL_BYTES ||
    (text.length * 3 > MAX_CONTROL_BYTES && utf8Length(text) > MAX_CONTROL_BYTES)
  ) {
    throw new TransferError('ERR_MESSAGE_INVALID', `control message larger than ${MAX_CONTROL_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TransferError('ERR_MESSAGE_INVALID', `control message is not valid JSON: ${describe(text)}`, {
      cause: err,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TransferError(
      'ERR_MESSAGE_INVALID',
      `control message must be a JSON object, got ${describe(value)}`,
    );
  }
  const o = value as Fields;
  const type = o['type'];
  if (typeof type !== 'string') {
    throw new TransferError(
      'ERR_MESSAGE_INVALID',
      `control message field "type" must be a string, got ${describe(type)}`,
    );
  }
  if (!Object.hasOwn(parsers, type)) {
    throw new TransferError('ERR_MESSAGE_TYPE', `unknown control message type ${describe(type)}`);
  }
  return parsers[type as ControlType](o);
}

/**
 * Writes a control message as JSON text, with only the fields §3 defines, in a fixed order.
 * An `error` message's text is cut to 2000 characters so the message stays far below MAX_CONTROL_BYTES.
 */
export function encodeControl(msg: ControlMessage): string {
  return dispatchControl<string>(msg, {
    'file-metadata': (m) =>
      JSON.stringify(
        m.protocol === undefined
          ? { type: m.type, filename: m.filename, size: m.size }
          : {
              type: m.type,
              filename: m.filename,
              size: m.size,
              protocol: m.protocol,
              sha256: m.sha256,
              chunk_size: m.chunk_size,
              ...(m.keepalive_ms === undefined ? {} : { keepalive_ms: m.keepalive_ms }),
            },
      ),
    resume: (m) =>
      JSON.stringify({
        ...(m.prefix_sha256 === undefined || m.offset === 0
          ? { type: m.type, offset: m.offset }
          : { type: m.type, offset: m.offset, prefix_sha256: m.prefix_sha256 }),
        ...(m.keepalive_ms === undefined ? {} : { keepalive_ms: m.keepalive_ms }),
      }),
    start: (m) => JSON.stringify({ type: m.type, offset: m.offset }),
    'file-complete': (m) =>
      JSON.stringify({ type: m.type, size: m.size, sha256: m.sha256, frames: m.frames }),
    ack: (m) => JSON.stringify({ type: m.type, sha256: m.sha256, size: m.size }),
    error: (m) =>
      JSON.stringify({
        type: m.type,
        code: m.code,
        message:
          m.message.length > MAX_ERROR_MESSAGE_CHARS
            ? `${m.message.slice(0, MAX_ERROR_MESSAGE_CHARS)}…`
            : m.message,
      }),
    keepalive: () => '{"type":"keepalive"}',
  });
}
