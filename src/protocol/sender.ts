/**
 * The sending side of a transfer (docs/protocol.md §3): `file-metadata` → `resume` → `start` → data
 * frames (§2) under flow control (§6) → `file-complete` → `ack`. Toward a seed peer (`mode: 'seed'`):
 * `file-metadata` with the seed's fields, raw 16 KiB chunks, `file-complete`, and no waiting (§3.1).
 *
 * Per frame the sender does one copy (file block → frame buffer), one CRC and one `send`, in a frame buffer
 * allocated once. The file is read in blocks of about 1 MiB, one block ahead, so memory stays at two
 * blocks + one frame + the channel's high-water mark whatever the file size.
 */
import type { Channel } from './channel.js';
import { PROTOCOL_NAME, dispatchControl, encodeControl, parseControl } from './codec.js';
import type { AckMessage, ControlMessage, ResumeMessage } from './codec.js';
import type { Crc32 } from './crc32.js';
import { TransferError, toTransferError } from './errors.js';
import {
  DEFAULT_CHUNK_BYTES,
  FRAME_HEADER_BYTES,
  HIGH_WATER_BYTES,
  LOW_WATER_BYTES,
  MAX_CHUNK_BYTES,
  SEED_CHUNK_BYTES,
  writeFrameHeader,
} from './frames.js';
import { isSha256Hex } from './hashing.js';
import { KEEPALIVE_DEFAULTS } from './keepalive.js';
import { TransferSession } from './session.js';

/** Random access to the bytes being sent (a file, a buffer, a Blob). */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Returns exactly `length` bytes starting at `offset` (fewer is an error: ERR_IO). When `into` is given
   * (at least `length` bytes long) the source may fill it and return `into.subarray(0, length)`, or return
   * any other array it owns (a memory source returns a view without copying). The sender is done with the
   * returned bytes before it passes the same `into` again.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
}

/** Progress of a send: payload bytes handed to the channel, counted from the start of the file. */
export interface SendProgress {
  /** Bytes of the file handed to the channel so far (start offset included). */
  sent: number;
  total: number;
  /** Where this attempt started (§3.3). */
  startOffset: number;
}

export interface SendOptions {
  /** Name announced in `file-metadata` (the receiver checks it, §5 ERR_FILENAME). */
  filename: string;
  source: ByteSource;
  /** SHA-256 of the whole file, lowercase hex, known before sending (§3.1). */
  sha256: string;
  /** 'sdrlink': the full protocol. 'seed': toward a peer that did not declare sdrlink/1 (§3.1). */
  mode: 'sdrlink' | 'seed';
  crc32: Crc32;
  /** SHA-256 (lowercase hex) of the source's first `length` bytes, to check a resume prefix (§3.3). */
  prefixSha256(length: number): Promise<string>;
  /** Payload bytes per frame; default DEFAULT_CHUNK_BYTES (sdrlink) or SEED_CHUNK_BYTES (seed). */
  chunkSize?: number;
  /** Stop sending while `bufferedAmount` is above this; default HIGH_WATER_BYTES (§6). */
  highWater?: number;
  /** `bufferedAmountLowThreshold` while sending; default LOW_WATER_BYTES (§6). */
  lowWater?: number;
  /** While blocked on flow control, re-check this often even without `bufferedamountlow`; default 20 ms. */
  pollMs?: number;
  /** No progress (no message, no drain) for this long → ERR_TIMEOUT; default 30 s; 0 disables. */
  idleTimeoutMs?: number;
  /** Bytes per file read, rounded down to whole chunks; default 1 MiB. */
  readBlockBytes?: number;
  /**
   * Keepalive interval advertised in `file-metadata` (§3.7); default 1 s; 0: do not take part (sdrlink
   * mode only; never toward a seed peer).
   */
  keepaliveMs?: number;
  /** A receiver that advertised keepalive and sends nothing for this long → ERR_PEER_GONE; default 5 s. */
  peerTimeoutMs?: number;
  signal?: AbortSignal;
  /** Called after each block and at the end. */
  onProgress?(p: SendProgress): void;
}

export interface SendResult {
  /** Where this attempt started (the receiver's verified prefix, or 0). */
  startOffset: number;
  /** Payload bytes sent in this attempt. */
  bytesSent: number;
  /** Frames (or raw chunks in seed mode) sent in this attempt. */
  frames: number;
  /** True when the receiver acknowledged the verified, renamed file (§3.5); always false in seed mode. */
  acked: boolean;
}

/** Defaults of {@link SendOptions}. */
export const SEND_DEFAULTS = {
  pollMs: 20,
  idleTimeoutMs: 30_000,
  readBlockBytes: 1024 * 1024,
} as const;

type SendState = 'opening' | 'await-resume' | 'sending' | 'await-ack' | 'seed-drain' | 'done';

/**
 * Sends one file over `channel` and resolves when the receiver acknowledged it (sdrlink mode) or when the
 * last byte left this side's buffer (seed mode). Rejects with a {@link TransferError}: ERR_PEER (the
 * peer's `error`, with its code and message), ERR_CHANNEL_CLOSED, ERR_TIMEOUT, ERR_ABORTED (after telling
 * the peer, best effort), ERR_IO (the source failed), ERR_RESUME_OFFSET, ERR_HASH_MISMATCH /
 * ERR_SIZE_MISMATCH (the `ack` does not match), ERR_MESSAGE_INVALID / ERR_MESSAGE_TYPE / ERR_UNEXPECTED.
 * On a local failure the peer is sent an `error` (§3.6), best effort. The channel is left open.
 *
 * @example
 * const result = await sendFile(channel, {
 *   filename: 'spectrum.npz', source, sha256, mode: 'sdrlink',
 *   crc32: (d) => zlib.crc32(d), prefixSha256: (n) => hashPrefix(path, n),
 * });
 */
export async function sendFile(channel: Channel, opts: SendOptions): Promise<SendResult> {
  const sender = new Sender(channel, opts);
  try {
    return await sender.run();
  } catch (err) {
    const e = toTransferError(err, 'ERR_IO', 'send');
    sender.session.notifyPeer(e);
    throw e;
  } finally {
    sender.session.dispose();
  }
}

class Sender {
  readonly session: TransferSession;
  private state: SendState = 'opening';
  private resume: ResumeMessage | null = null;
  private ack: AckMessage | null = null;
  private lowFired = false;
  private readonly size: number;
  private readonly chunk: number;
  private readonly high: number;
  private readonly low: number;
  private readonly pollMs: number;

  constructor(
    private readonly channel: Channel,
    private readonly opts: SendOptions,
  ) {
    const size = opts.source.size;
    if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`sendFile: bad source size ${size}`);
    if (!isSha256Hex(opts.sha256)) throw new TypeError('sendFile: sha256 must be 64 lowercase hex digits');
    const chunk = opts.chunkSize ?? (opts.mode === 'seed' ? SEED_CHUNK_BYTES : DEFAULT_CHUNK_BYTES);
    if (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > MAX_CHUNK_BYTES) {
      throw new TypeError(`sendFile: chunkSize must be 1..${MAX_CHUNK_BYTES}, got ${chunk}`);
    }
    this.size = size;
    this.chunk = chunk;
    this.high = opts.highWater ?? HIGH_WATER_BYTES;
    this.low = Math.min(opts.lowWater ?? LOW_WATER_BYTES, this.high);
    this.pollMs = opts.pollMs ?? SEND_DEFAULTS.pollMs;
    this.session = new TransferSession(
      channel,
      {
        idleTimeoutMs: opts.idleTimeoutMs ?? SEND_DEFAULTS.idleTimeoutMs,
        signal: opts.signal,
        role: 'send',
        keepalive:
          opts.mode === 'seed'
            ? undefined
            : {
                intervalMs: opts.keepaliveMs ?? KEEPALIVE_DEFAULTS.intervalMs,
                peerTimeoutMs: opts.peerTimeoutMs ?? KEEPALIVE_DEFAULTS.peerTimeoutMs,
              },
      },
      {
        message: (data) => this.onMessage(data),
        close: () => this.onClose(),
        lowWater: () => {
          this.lowFired = true;
          this.session.poke();
        },
      },
    );
  }

  async run(): Promise<SendResult> {
    const s = this.session;
    const ch = this.channel;
    if (ch.readyState === 'closing' || ch.readyState === 'closed') {
      throw new TransferError('ERR_CHANNEL_CLOSED', `send: channel is ${ch.readyState}`);
    }
    await s.until(() => ch.readyState === 'open');
    ch.bufferedAmountLowThreshold = this.low;
    if (this.opts.mode === 'seed') return this.runSeed();

    // §3.1 → §3.2
    this.state = 'await-resume';
    const keepaliveMs = s.keepaliveMs;
    s.sendText(
      encodeControl({
        type: 'file-metadata',
        filename: this.opts.filename,
        size: this.size,
        protocol: PROTOCOL_NAME,
        sha256: this.opts.sha256,
        chunk_size: this.chunk,
        ...(keepaliveMs === undefined ? {} : { keepalive_ms: keepaliveMs }),
      }),
    );
    await s.until(() => this.resume !== null);
    const start = await this.checkResume(this.resume as ResumeMessage);

    // §3.3 → §2
    this.state = 'sending';
    s.sendText(encodeControl({ type: 'start', offset: start }));
    const frames = await this.pump(start, true);

    // §3.4 → §3.5
    this.state = 'await-ack';
    s.sendText(encodeControl({ type: 'file-complete', size: this.size, sha256: this.opts.sha256, frames }));
    await s.until(() => this.ack !== null);
    const ack = this.ack as AckMessage | null;
    if (ack === null) throw new TransferError('ERR_UNEXPECTED', 'send: no ack');
    if (ack.size !== this.size) {
      throw new TransferError('ERR_SIZE_MISMATCH', `send: ack for ${ack.size} bytes, sent ${this.size}`);
    }
    if (ack.sha256 !== this.opts.sha256) {
      throw new TransferError('ERR_HASH_MISMATCH', `send: ack sha256 ${ack.sha256} != ${this.opts.sha256}`);
    }
    this.state = 'done';
    return { startOffset: start, bytesSent: this.size - start, frames, acked: true };
  }

  /** §3.1 toward a seed peer: seed fields, raw chunks, file-complete, then wait for the buffer to empty. */
  private async runSeed(): Promise<SendResult> {
    const s = this.session;
    this.state = 'sending';
    s.sendText(encodeControl({ type: 'file-metadata', filename: this.opts.filename, size: this.size }));
    const frames = await this.pump(0, false);
    s.sendText(encodeControl({ type: 'file-complete', size: this.size, sha256: this.opts.sha256, frames }));
    // The peer closes first (DESIGN.md: a pion sender's last fragment); we only wait for our buffer to empty.
    this.state = 'seed-drain';
    this.channel.bufferedAmountLowThreshold = 0;
    await s.until(() => this.channel.bufferedAmount === 0, this.pollMs);
    this.state = 'done';
    return { startOffset: 0, bytesSent: this.size, frames, acked: false };
  }

  /** §3.3: the start offset for the receiver's `resume`. */
  private async checkResume(resume: ResumeMessage): Promise<number> {
    if (resume.offset > this.size) {
      throw new TransferError(
        'ERR_RESUME_OFFSET',
        `send: resume offset ${resume.offset} is beyond the file size ${this.size}`,
      );
    }
    if (resume.offset === 0 || resume.prefix_sha256 === undefined) return 0;
    // Hashing a long prefix is local work, not a stall: the idle watchdog waits for it.
    this.session.idlePaused = true;
    let prefix: string;
    try {
      prefix = await this.session.race(this.opts.prefixSha256(resume.offset));
    } catch (err) {
      throw toTransferError(err, 'ERR_IO', `send: hashing the first ${resume.offset} bytes`);
    } finally {
      this.session.idlePaused = false;
    }
    return prefix === resume.prefix_sha256 ? resume.offset : 0;
  }

  /**
   * Sends the file from `start`: framed (§2) or raw (seed), keeping `bufferedAmount` near `highWater`.
   * Returns the number of messages sent.
   */
  private async pump(start: number, framed: boolean): Promise<number> {
    const s = this.session;
    const ch = this.channel;
    const { source, crc32 } = this.opts;
    const size = this.size;
    const chunk = this.chunk;
    const high = this.high;
    const total = size - start;
    const blockBytes = Math.max(
      chunk,
      Math.floor((this.opts.readBlockBytes ?? SEND_DEFAULTS.readBlockBytes) / chunk) * chunk,
    );
    const buffers = [
      new Uint8Array(Math.min(blockBytes, total)),
      new Uint8Array(Math.min(blockBytes, Math.max(0, total - blockBytes))),
    ];
    const frame = framed ? new Uint8Array(FRAME_HEADER_BYTES + chunk) : new Uint8Array(0);
    const fullPayload = frame.subarray(FRAME_HEADER_BYTES);
    let frames = 0;
    let pos = start;
    let readPos = start;
    let which = 0;

    const readNext = (): Promise<Uint8Array> | null => {
      if (readPos >= size) return null;
      const length = Math.min(blockBytes, size - readPos);
      const at = readPos;
      readPos += length;
      const into = buffers[which] as Uint8Array;
      which ^= 1;
      return source.read(at, length, into).then(
        (bytes) => {
          if (bytes.length !== length) {
            throw new TransferError(
              'ERR_IO',
              `send: read ${bytes.length} bytes at offset ${at}, expected ${length}`,
            );
          }
          return bytes;
        },
        (err: unknown) => {
          throw toTransferError(err, 'ERR_IO', `send: reading ${length} bytes at offset ${at}`);
        },
      );
    };

    const ka = s.keepalive;
    let next = readNext();
    // The read-ahead may reject while a drain wait is pending; it is always awaited or raced later.
    next?.catch(() => undefined);
    this.progress(pos, start);
    while (next !== null) {
      const block = await s.race(next);
      next = readNext();
      next?.catch(() => undefined);
      let i = 0;
      const n = block.length;
      while (i < n) {
        if (ch.bufferedAmount > high) {
          this.lowFired = false;
          await s.until(() => this.lowFired || ch.bufferedAmount <= high, this.pollMs);
          continue;
        }
        s.check();
        const len = n - i < chunk ? n - i : chunk;
        try {
          if (!framed) {
            ch.send(block.subarray(i, i + len));
          } else if (len === chunk) {
            frame.set(block.subarray(i, i + len), FRAME_HEADER_BYTES);
            writeFrameHeader(frame, pos, crc32(fullPayload));
            ch.send(frame);
          } else {
            const payload = frame.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + len);
            payload.set(block.subarray(i, i + len));
            writeFrameHeader(frame, pos, crc32(payload));
            ch.send(frame.subarray(0, FRAME_HEADER_BYTES + len));
          }
        } catch (err) {
          throw toTransferError(err, 'ERR_CHANNEL_CLOSED', `send: sending at offset ${pos}`);
        }
        if (ka !== null) ka.sent++;
        i += len;
        pos += len;
        frames++;
      }
      s.progress++;
      this.progress(pos, start);
    }
    return frames;
  }

  private progress(sent: number, startOffset: number): void {
    this.opts.onProgress?.({ sent, total: this.size, startOffset });
  }

  private onMessage(data: unknown): void {
    const s = this.session;
    if (typeof data !== 'string') {
      s.progress++;
      // A seed peer sends nothing we need to read; toward ours, binary from the receiver is a protocol error.
      if (this.opts.mode === 'seed') return;
      this.unexpected('a binary message');
      return;
    }
    let msg: ControlMessage;
    try {
      msg = parseControl(data);
    } catch (err) {
      s.progress++;
      if (this.opts.mode === 'seed') return;
      s.fail(toTransferError(err, 'ERR_MESSAGE_INVALID', 'send'));
      return;
    }
    // A keepalive (§3.7) says the peer lives, not that the transfer moves: the idle watchdog ignores it.
    if (msg.type !== 'keepalive') s.progress++;
    if (this.opts.mode === 'seed' && msg.type !== 'error') return;
    dispatchControl<void>(msg, {
      error: (m) =>
        s.fail(
          new TransferError('ERR_PEER', `send: peer error ${m.code}: ${m.message}`, {
            peerCode: m.code,
            peerMessage: m.message,
          }),
        ),
      resume: (m) => {
        if (this.state !== 'await-resume' || this.resume !== null) return this.unexpected('resume');
        this.resume = m;
        if (m.keepalive_ms !== undefined) s.peerKeepsAlive(m.keepalive_ms);
        s.poke();
      },
      ack: (m) => {
        if (this.state !== 'await-ack') return this.unexpected('ack');
        this.ack = m;
        s.poke();
      },
      'file-metadata': () => this.unexpected('file-metadata'),
      start: () => this.unexpected('start'),
      'file-complete': () => this.unexpected('file-complete'),
      keepalive: () => undefined,
    });
  }

  private unexpected(what: string): void {
    this.session.fail(new TransferError('ERR_UNEXPECTED', `send: unexpected ${what} while ${this.state}`));
  }

  private onClose(): void {
    const s = this.session;
    // Toward a seed peer, the peer closing after our buffer emptied is the normal end (§3.1).
    if (this.state === 'seed-drain' && this.channel.bufferedAmount === 0) {
      s.poke();
      return;
    }
    if (this.state === 'done') return;
    s.fail(new TransferError('ERR_CHANNEL_CLOSED', `send: channel closed while ${this.state}`));
  }
}
