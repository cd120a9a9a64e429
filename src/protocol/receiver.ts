/**
 * The receiving side of a transfer (docs/protocol.md §3): reads `file-metadata`, then either
 *
 * - sdrlink/1 (`protocol` present): answers `resume` (§3.2), waits for `start` (§3.3), checks every frame's
 *   header, offset and CRC (§2), hashes and writes it; on `file-complete` checks size and SHA-256 (§3.4),
 *   commits (the caller renames into place) and only then sends `ack` (§3.5); or
 * - a seed sender (no `protocol`): appends raw binary messages until `size` bytes and commits the file
 *   unverified at once (the seed's Go sender sends nothing more; others wait for the receiver to close);
 *   only when told to wait (`seedCompleteWaitMs`) does a `file-complete` that follows get checked.
 *
 * Per frame: one CRC (injected), one hash update, one copy into a ~1 MiB write batch; no JSON, no
 * allocation beyond the transport's message and two views.
 */
import type { Channel } from './channel.js';
import { BatchWriter } from './batch-writer.js';
import { PROTOCOL_NAME, encodeControl, parseControl } from './codec.js';
import type { ControlMessage, FileCompleteMessage, FileMetadataMessage, StartMessage } from './codec.js';
import type { Crc32 } from './crc32.js';
import { TransferError, toTransferError } from './errors.js';
import { checkFileName } from './file-name.js';
import { FRAME_HEADER_BYTES, checkFrameHeader, frameCrcError, readFrameCrc } from './frames.js';
import type { Hash, HashFactory } from './hashing.js';
import { KEEPALIVE_DEFAULTS } from './keepalive.js';
import { TransferSession } from './session.js';

/** What the sender announced (§3.1), as handed to {@link ReceiveOptions.open}. */
export interface FileMetadata {
  /** Already checked against the §5 file-name rule (a plain base name). */
  filename: string;
  size: number;
  /** 'sdrlink' when the sender speaks sdrlink/1 (then `sha256` and `chunkSize` are set), else 'seed'. */
  mode: 'sdrlink' | 'seed';
  /** SHA-256 of the whole file (sdrlink only): match it against a partial file's sidecar to resume (§4). */
  sha256?: string;
  /** Payload bytes per frame (sdrlink only). */
  chunkSize?: number;
}

/** Where a received file goes: a temporary file the caller renames on `commit` (§3.5, §4). */
export interface ReceiveTarget {
  /** Verified bytes already held from an earlier attempt at the same file (0 = none), §4. */
  prefixLength: number;
  /** SHA-256 of those bytes (required when `prefixLength` > 0). */
  prefixSha256?: string;
  /** A hash already fed with exactly the prefix bytes (a fresh one when `prefixLength` is 0). */
  hash: Hash;
  /** Appends `data` at `offset` (always the current end). `data`'s memory is reused once this settles. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /**
   * Cuts the file to `length` bytes (the receiver calls it with 0 when the sender refused the prefix, or
   * in seed mode); the receiver then hashes from scratch with `createHash()`.
   */
  truncate(length: number): Promise<void>;
  /** All bytes written: make the file final (rename) when `verified`, and return its path. */
  commit(r: { size: number; sha256: string; verified: boolean }): Promise<string>;
  /**
   * The transfer failed. `keepPrefix`: every byte written so far is CRC-verified and worth keeping for a
   * resume (§4); otherwise discard the partial file.
   */
  abort(err: TransferError, keepPrefix: boolean): Promise<void>;
}

/** Progress of a receive: bytes of the file held so far (prefix included). */
export interface ReceiveProgress {
  received: number;
  total: number;
  startOffset: number;
}

export interface ReceiveOptions {
  crc32: Crc32;
  createHash: HashFactory;
  /**
   * Opens the target for the announced file. May throw `TransferError('ERR_FILENAME' | 'ERR_TOO_LARGE' |
   * 'ERR_IO', …)`: the receiver tells the sender and rejects with it.
   */
  open(meta: FileMetadata): Promise<ReceiveTarget>;
  /** Refuse larger files with ERR_TOO_LARGE (before `open`). */
  maxSize?: number;
  /** No message for this long → ERR_TIMEOUT; default 30 s; 0 disables. */
  idleTimeoutMs?: number;
  /**
   * Seed mode: how long to wait after the last byte for a `file-complete` (ours sends one in seed mode)
   * before committing unverified; default 0: commit at once.
   */
  seedCompleteWaitMs?: number;
  /** Bytes per write; default 1 MiB. */
  writeBatchBytes?: number;
  /** Bytes that may wait for the disk before the transfer fails with ERR_IO; default 64 MiB. */
  maxQueuedBytes?: number;
  /**
   * Keepalive interval (§3.7), advertised in `resume` to a sender that advertised one; default 1 s; 0: do
   * not take part.
   */
  keepaliveMs?: number;
  /** A sender that advertised keepalive and sends nothing for this long → ERR_PEER_GONE; default 5 s. */
  peerTimeoutMs?: number;
  signal?: AbortSignal;
  /** Called about every write batch and at the end. */
  onProgress?(p: ReceiveProgress): void;
}

export interface ReceiveResult {
  /** What `commit` returned. */
  path: string;
  size: number;
  /** SHA-256 of the received file, computed here. */
  sha256: string;
  /** True when the file matched a SHA-256 announced by the sender (always in sdrlink mode). */
  verified: boolean;
  /** Where this attempt started (the kept prefix, or 0). */
  startOffset: number;
  mode: 'sdrlink' | 'seed';
}

/** Defaults of {@link ReceiveOptions}. */
export const RECEIVE_DEFAULTS = {
  idleTimeoutMs: 30_000,
  seedCompleteWaitMs: 0,
  writeBatchBytes: 1024 * 1024,
  maxQueuedBytes: 64 * 1024 * 1024,
} as const;

type ReceiveState =
  'await-metadata' | 'opening' | 'await-start' | 'receiving' | 'seed' | 'seed-tail' | 'completing' | 'done';

type Inbound = ControlMessage | Uint8Array;

/**
 * Receives one file over `channel` and resolves once it is committed (and, in sdrlink mode, verified and
 * acknowledged). Rejects with a {@link TransferError}, after telling the sender (`error`, §3.6, best
 * effort) and calling `target.abort`: frame errors (ERR_FRAME_*), ERR_SIZE_MISMATCH, ERR_HASH_MISMATCH,
 * ERR_FILENAME / ERR_TOO_LARGE (before `open`), ERR_IO, ERR_PEER, ERR_CHANNEL_CLOSED, ERR_TIMEOUT,
 * ERR_ABORTED, ERR_MESSAGE_INVALID / ERR_MESSAGE_TYPE / ERR_UNEXPECTED, ERR_RESUME_OFFSET.
 * The channel is left open; close it when this settles.
 */
export async function receiveFile(channel: Channel, opts: ReceiveOptions): Promise<ReceiveResult> {
  const receiver = new Receiver(channel, opts);
  try {
    return await receiver.run();
  } catch (err) {
    const e = toTransferError(err, 'ERR_IO', 'receive');
    receiver.session.notifyPeer(e);
    await receiver.abortTarget(e);
    throw e;
  } finally {
    receiver.session.dispose();
  }
}

class Receiver {
  readonly session: TransferSession;
  private state: ReceiveState = 'await-metadata';
  /** Messages that arrived while the main loop was busy (before the data phase). */
  private readonly inbox: Inbound[] = [];
  private inboxBytes = 0;
  /** True in the data phase: messages are handled as they arrive, not queued. */
  private direct = false;
  private target: ReceiveTarget | null = null;
  private writer: BatchWriter | null = null;
  private hash: Hash | null = null;
  private meta: FileMetadataMessage | null = null;
  private sdrlink = false;
  private size = 0;
  private chunkSize = 0;
  /** Next expected file offset = bytes held. */
  private expected = 0;
  private startOffset = 0;
  private complete: FileCompleteMessage | null = null;
  private closed = false;
  private tailOver = false;
  private nextProgressAt = 0;
  private readonly crc32: Crc32;
  private readonly maxQueued: number;
  private readonly batchBytes: number;

  constructor(
    private readonly channel: Channel,
    private readonly opts: ReceiveOptions,
  ) {
    this.crc32 = opts.crc32;
    this.maxQueued = opts.maxQueuedBytes ?? RECEIVE_DEFAULTS.maxQueuedBytes;
    this.batchBytes = opts.writeBatchBytes ?? RECEIVE_DEFAULTS.writeBatchBytes;
    this.session = new TransferSession(
      channel,
      {
        idleTimeoutMs: opts.idleTimeoutMs ?? RECEIVE_DEFAULTS.idleTimeoutMs,
        signal: opts.signal,
        role: 'receive',
        keepalive: {
          intervalMs: opts.keepaliveMs ?? KEEPALIVE_DEFAULTS.intervalMs,
          peerTimeoutMs: opts.peerTimeoutMs ?? KEEPALIVE_DEFAULTS.peerTimeoutMs,
        },
      },
      { message: (data) => this.onMessage(data), close: () => this.onClose() },
    );
  }

  async run(): Promise<ReceiveResult> {
    const s = this.session;
    if (this.channel.readyState === 'closing' || this.channel.readyState === 'closed') {
      throw new TransferError('ERR_CHANNEL_CLOSED', `receive: channel is ${this.channel.readyState}`);
    }

    // §3.1
    const first = await this.next();
    if (first instanceof Uint8Array || first.type !== 'file-metadata') {
      throw new TransferError('ERR_UNEXPECTED', `receive: expected file-metadata, got ${describe(first)}`);
    }
    const meta = first;
    this.meta = meta;
    this.size = meta.size;
    this.sdrlink = meta.protocol === PROTOCOL_NAME;
    this.chunkSize = meta.chunk_size ?? 0;
    // §3.7: a sdrlink/1 sender that advertised keepalive is answered in kind from now on (opening the
    // target may take a while: the sender hears from us meanwhile) and timed out when it goes silent.
    if (this.sdrlink && meta.keepalive_ms !== undefined) s.peerKeepsAlive(meta.keepalive_ms);
    checkFileName(meta.filename);
    if (this.opts.maxSize !== undefined && meta.size > this.opts.maxSize) {
      throw new TransferError(
        'ERR_TOO_LARGE',
        `receive: ${meta.filename} is ${meta.size} bytes, more than the ${this.opts.maxSize} accepted`,
      );
    }
    this.state = 'opening';
    const info: FileMetadata = this.sdrlink
      ? {
          filename: meta.filename,
          size: meta.size,
          mode: 'sdrlink',
          sha256: meta.sha256 as string,
          chunkSize: this.chunkSize,
        }
      : { filename: meta.filename, size: meta.size, mode: 'seed' };
    // Not raced against failures: a target opened after the channel died must still get its abort().
    let target: ReceiveTarget;
    try {
      target = await this.opts.open(info);
    } catch (err) {
      throw toTransferError(err, 'ERR_IO', `receive: opening ${meta.filename}`);
    }
    this.target = target;
    s.check();
    return this.sdrlink ? this.runSdrlink(target) : this.runSeed(target);
  }

  private async runSdrlink(target: ReceiveTarget): Promise<ReceiveResult> {
    const s = this.session;
    const meta = this.meta as FileMetadataMessage;
    // §3.2: offer the prefix only when it is usable.
    const prefix = target.prefixLength;
    const offer = prefix > 0 && prefix <= this.size && target.prefixSha256 !== undefined ? prefix : 0;
    this.state = 'await-start';
    const beat =
      meta.keepalive_ms !== undefined && s.keepaliveMs !== undefined ? { keepalive_ms: s.keepaliveMs } : {};
    s.sendText(
      encodeControl(
        offer > 0
          ? { type: 'resume', offset: offer, prefix_sha256: target.prefixSha256 as string, ...beat }
          : { type: 'resume', offset: 0, ...beat },
      ),
    );
    const msg = await this.next();
    if (msg instanceof Uint8Array || msg.type !== 'start') {
      throw new TransferError('ERR_UNEXPECTED', `receive: expected start, got ${describe(msg)}`);
    }
    const start = (msg as StartMessage).offset;
    if (start !== 0 && start !== offer) {
      throw new TransferError(
        'ERR_RESUME_OFFSET',
        `receive: start offset ${start} is neither 0 nor the offered ${offer}`,
      );
    }
    await this.begin(target, start);

    // §2: frames, handled as they arrive, until file-complete (§3.4).
    this.state = 'receiving';
    this.goDirect();
    await s.until(() => this.complete !== null);
    const complete = this.complete as FileCompleteMessage | null;
    if (complete === null) throw new TransferError('ERR_UNEXPECTED', 'receive: no file-complete');
    this.state = 'completing';
    const writer = this.writer as BatchWriter;
    await s.race(writer.flush());
    if (this.expected !== this.size || complete.size !== this.size) {
      throw new TransferError(
        'ERR_SIZE_MISMATCH',
        `receive: ${this.expected} bytes received, metadata said ${this.size}, file-complete says ${complete.size}`,
      );
    }
    const sha256 = (this.hash as Hash).digest();
    if (sha256 !== complete.sha256 || sha256 !== meta.sha256) {
      throw new TransferError(
        'ERR_HASH_MISMATCH',
        `receive: sha256 of the received file is ${sha256}, file-complete says ${complete.sha256}, metadata said ${meta.sha256 ?? ''}`,
      );
    }
    const path = await this.commit(target, sha256, true);
    // §3.5: only now.
    if (this.channel.readyState === 'open') {
      try {
        this.channel.send(encodeControl({ type: 'ack', sha256, size: this.size }));
      } catch {
        // The file is final and verified; a sender that misses the ack retries and finds nothing to send.
      }
    }
    return { path, size: this.size, sha256, verified: true, startOffset: start, mode: 'sdrlink' };
  }

  /** Seed sender (§3.1): raw bytes until `size`, then maybe a file-complete. */
  private async runSeed(target: ReceiveTarget): Promise<ReceiveResult> {
    const s = this.session;
    await this.begin(target, 0);
    this.state = 'seed';
    this.goDirect();
    await s.until(() => this.expected === this.size || this.complete !== null);
    this.state = 'seed-tail';
    // The announced size is here: the file is saved at once (§3.1). Senders written like the seed's Type1
    // send nothing more, and those in browsers, aiortc or node-datachannel wait for the receiver to close,
    // so waiting for a `file-complete` would only delay the end (and the transfer's figures) by the wait.
    const waitMs = this.opts.seedCompleteWaitMs ?? RECEIVE_DEFAULTS.seedCompleteWaitMs;
    if (waitMs > 0 && this.complete === null && !this.closed) {
      const timer = setTimeout(() => {
        this.tailOver = true;
        s.poke();
      }, waitMs);
      try {
        await s.until(() => this.complete !== null || this.closed || this.tailOver);
      } finally {
        clearTimeout(timer);
      }
    }
    this.state = 'completing';
    await s.race((this.writer as BatchWriter).flush());
    const sha256 = (this.hash as Hash).digest();
    const complete = this.complete as FileCompleteMessage | null;
    if (complete !== null) {
      if (complete.size !== this.size || this.expected !== this.size) {
        throw new TransferError(
          'ERR_SIZE_MISMATCH',
          `receive: ${this.expected} bytes received, file-complete says ${complete.size}`,
        );
      }
      if (complete.sha256 !== sha256) {
        throw new TransferError(
          'ERR_HASH_MISMATCH',
          `receive: sha256 of the received file is ${sha256}, file-complete says ${complete.sha256}`,
        );
      }
    }
    const verified = complete !== null;
    const path = await this.commit(target, sha256, verified);
    return { path, size: this.size, sha256, verified, startOffset: 0, mode: 'seed' };
  }

  /** Sets up hashing and writing from `start`, dropping a refused prefix. */
  private async begin(target: ReceiveTarget, start: number): Promise<void> {
    if (start === 0 && target.prefixLength > 0) {
      try {
        await this.session.race(target.truncate(0));
      } catch (err) {
        throw toTransferError(err, 'ERR_IO', 'receive: dropping the old prefix');
      }
      this.hash = this.opts.createHash();
    } else {
      this.hash = target.hash;
    }
    this.startOffset = start;
    this.expected = start;
    this.nextProgressAt = start;
    const ch = this.channel;
    this.writer = new BatchWriter(
      target,
      start,
      this.batchBytes,
      this.maxQueued,
      (err) => this.session.fail(err),
      (high) => {
        if (ch.pauseReading === undefined) return;
        // Not reading: the peer's messages (its keepalives too) wait in the transport (§3.7).
        this.session.readingPaused(high);
        if (high) ch.pauseReading();
        else ch.resumeReading?.();
      },
    );
    this.report();
    // The first data byte is reported too, not only each batch: the consumer's first-byte time (and its
    // rate) comes from it, and a file smaller than a batch would otherwise report it only at the end.
    this.nextProgressAt = start + 1;
  }

  private async commit(target: ReceiveTarget, sha256: string, verified: boolean): Promise<string> {
    this.session.check();
    this.report();
    // Not raced against failures: once the whole file checked out, the rename runs to its end, and a late
    // peer error or abort cannot leave a committed file that abort() then tries to discard.
    let path: string;
    try {
      path = await target.commit({ size: this.size, sha256, verified });
    } catch (err) {
      throw toTransferError(err, 'ERR_IO', 'receive: committing the file');
    }
    this.state = 'done';
    return path;
  }

  /** After a failure: lets the pending write finish, keeps verified bytes when useful (§4), tells the target. */
  async abortTarget(err: TransferError): Promise<void> {
    const target = this.target;
    if (target === null || this.state === 'done') return;
    const keepPrefix =
      this.sdrlink &&
      err.code !== 'ERR_HASH_MISMATCH' &&
      err.code !== 'ERR_SIZE_MISMATCH' &&
      err.code !== 'ERR_IO';
    const writer = this.writer;
    if (writer !== null) {
      if (keepPrefix && writer.error === null) {
        // Only frames that passed their CRC are in the batches: write them so a resume can use them.
        try {
          await writer.flush();
        } catch {
          // The write error surfaces through abort's keepPrefix below being wrong only for the tail; the
          // target knows what it managed to write.
        }
      } else {
        await writer.settle();
      }
    }
    try {
      await target.abort(err, keepPrefix);
    } catch {
      // The transfer's own error is what the caller needs; a failing cleanup must not replace it.
    }
  }

  /** The next queued message (before the data phase). */
  private async next(): Promise<Inbound> {
    await this.session.until(() => this.inbox.length > 0);
    const item = this.inbox.shift() as Inbound;
    if (item instanceof Uint8Array) this.inboxBytes -= item.length;
    return item;
  }

  /** Enters the data phase: handles what queued up meanwhile, then every message as it arrives. */
  private goDirect(): void {
    while (this.inbox.length > 0) {
      const item = this.inbox.shift() as Inbound;
      if (item instanceof Uint8Array) this.handleBinary(item);
      else this.handleControl(item);
    }
    this.inboxBytes = 0;
    this.direct = true;
  }

  private onMessage(data: unknown): void {
    const s = this.session;
    if (typeof data === 'string') {
      let msg: ControlMessage;
      try {
        msg = parseControl(data);
      } catch (err) {
        s.progress++;
        throw err;
      }
      // A keepalive (§3.7) says the peer lives, not that the transfer moves: the idle watchdog ignores it.
      if (msg.type === 'keepalive') return;
      s.progress++;
      if (msg.type === 'error') {
        s.fail(
          new TransferError('ERR_PEER', `receive: peer error ${msg.code}: ${msg.message}`, {
            peerCode: msg.code,
            peerMessage: msg.message,
          }),
        );
        return;
      }
      if (this.direct) this.handleControl(msg);
      else {
        this.inbox.push(msg);
        s.poke();
      }
      return;
    }
    s.progress++;
    let bytes: Uint8Array;
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else
      throw new TransferError(
        'ERR_MESSAGE_INVALID',
        'receive: a message that is neither text nor binary (set binaryType to "arraybuffer")',
      );
    if (this.direct) {
      this.handleBinary(bytes);
      return;
    }
    this.inboxBytes += bytes.length;
    if (this.inboxBytes > this.maxQueued) {
      throw new TransferError(
        'ERR_IO',
        `receive: more than ${this.maxQueued} bytes arrived before the file was open`,
      );
    }
    this.inbox.push(bytes);
    s.poke();
  }

  /** The hot path: one data frame (§2), or one raw chunk from a seed sender. */
  private handleBinary(bytes: Uint8Array): void {
    const state = this.state;
    if (state === 'receiving') {
      const offset = checkFrameHeader(bytes);
      const length = bytes.length - FRAME_HEADER_BYTES;
      if (length > this.chunkSize) {
        throw new TransferError(
          'ERR_FRAME_SIZE',
          `frame at offset ${offset}: payload of ${length} bytes exceeds chunk_size ${this.chunkSize}`,
        );
      }
      if (offset !== this.expected) {
        throw new TransferError('ERR_FRAME_OFFSET', `frame at offset ${offset}, expected ${this.expected}`);
      }
      if (offset + length > this.size) {
        // More than announced: stopped at the first byte too many, and nothing kept (§3.4, §5).
        throw new TransferError(
          'ERR_SIZE_MISMATCH',
          `receive: frame at offset ${offset} of ${length} bytes runs past the announced size ${this.size}`,
        );
      }
      const payload = bytes.subarray(FRAME_HEADER_BYTES);
      const crc = this.crc32(payload) >>> 0;
      const announced = readFrameCrc(bytes);
      if (crc !== announced) throw frameCrcError(offset, crc, announced);
      this.accept(payload);
      return;
    }
    if (state === 'seed') {
      if (this.expected + bytes.length > this.size) {
        throw new TransferError(
          'ERR_SIZE_MISMATCH',
          `receive: ${this.expected + bytes.length} bytes received, metadata said ${this.size}`,
        );
      }
      this.accept(bytes);
      if (this.expected === this.size) this.session.poke();
      return;
    }
    if (state === 'seed-tail') {
      throw new TransferError('ERR_SIZE_MISMATCH', `receive: more than the ${this.size} bytes announced`);
    }
    throw new TransferError('ERR_UNEXPECTED', `receive: binary message while ${state}`);
  }

  private accept(payload: Uint8Array): void {
    (this.hash as Hash).update(payload);
    (this.writer as BatchWriter).append(payload);
    this.expected += payload.length;
    if (this.expected >= this.nextProgressAt) this.report();
  }

  private report(): void {
    this.nextProgressAt = this.expected + this.batchBytes;
    this.opts.onProgress?.({ received: this.expected, total: this.size, startOffset: this.startOffset });
  }

  private handleControl(msg: ControlMessage): void {
    if (
      msg.type === 'file-complete' &&
      (this.state === 'receiving' || this.state === 'seed' || this.state === 'seed-tail') &&
      this.complete === null
    ) {
      this.complete = msg;
      this.session.poke();
      return;
    }
    throw new TransferError('ERR_UNEXPECTED', `receive: unexpected ${msg.type} while ${this.state}`);
  }

  private onClose(): void {
    this.closed = true;
    const st = this.state;
    // Seed mode: the sender closing after the last byte is the normal end. After the whole file arrived
    // and matched, committing goes on even if the sender is gone.
    if (st === 'seed-tail' || st === 'completing' || st === 'done') {
      this.session.poke();
      return;
    }
    if (st === 'seed' && this.expected === this.size) {
      this.session.poke();
      return;
    }
    this.session.fail(
      new TransferError(
        'ERR_CHANNEL_CLOSED',
        `receive: channel closed while ${st} (${this.expected} of ${this.size} bytes)`,
      ),
    );
  }
}

function describe(m: Inbound): string {
  return m instanceof Uint8Array ? `a binary message of ${m.length} bytes` : m.type;
}
