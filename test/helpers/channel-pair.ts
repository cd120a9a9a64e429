/**
 * Two connected in-memory {@link Channel}s for protocol tests (ws's duplex pair, pion's `signalPair`):
 * ordered delivery, each message dispatched as its own task, binary messages as fresh ArrayBuffer copies,
 * and a W3C-like `bufferedAmount` that rises on `send` and falls as a simulated network drains it, so
 * flow control is really exercised.
 *
 * Timing uses `setImmediate` only, so tests can mock `setTimeout`/`setInterval` (the protocol's poll and
 * idle timers) with node:test's `mock.timers` while the pair keeps moving.
 */
import { createHash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import type { Channel } from '../../src/protocol/channel.js';
import type { Crc32 } from '../../src/protocol/crc32.js';
import { wrapDigestHash } from '../../src/protocol/hashing.js';
import type { HashFactory } from '../../src/protocol/hashing.js';
import type { FileMetadata, ReceiveTarget } from '../../src/protocol/receiver.js';
import type { ByteSource } from '../../src/protocol/sender.js';

/** What a test hook sees: text as string, binary as a mutable copy. */
export type PairMessage = string | Uint8Array;

export interface ChannelPairOptions {
  /** `send` throws when `bufferedAmount` would exceed this (a sender that ignores flow control fails). */
  maxBuffered?: number;
  /** Bytes each side's buffer drains toward its peer per tick (one `setImmediate`); default unlimited. */
  drainBytesPerTick?: number;
  /** Never fire `bufferedamountlow` (measured in some WebRTC libraries; the pump must not hang). */
  lowEventBroken?: boolean;
  /**
   * Sees every message as it leaves the network, in order over both directions (`index` from 0).
   * Return it (possibly modified, or another message) to deliver it, or `undefined` to drop it.
   */
  corrupt?: (msg: PairMessage, index: number, from: 'a' | 'b') => PairMessage | undefined;
  /** After this many messages (both directions), every later message is silently lost; nothing closes. */
  dropAfterMessages?: number;
}

/** One end of the pair: a {@link Channel} plus counters for tests. */
export interface MemoryChannel extends Channel {
  /** Highest `bufferedAmount` seen on this side. */
  readonly maxBufferedSeen: number;
  /** Number of `bufferedamountlow` events fired on this side. */
  readonly lowEvents: number;
}

export interface ChannelPair {
  a: MemoryChannel;
  b: MemoryChannel;
  /** Kills the link now: undelivered messages are lost, both sides close (`onclose` on each). */
  cut(): void;
  /** Messages that left the network so far (both directions, including dropped ones). */
  readonly messages: number;
}

interface Queued {
  data: string | ArrayBuffer;
  size: number;
}

type ReadyState = Channel['readyState'];

const encoder = new TextEncoder();

class Side implements MemoryChannel {
  readyState: ReadyState = 'connecting';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onbufferedamountlow: ((ev: unknown) => void) | null = null;
  maxBufferedSeen = 0;
  lowEvents = 0;
  readonly outbox: Queued[] = [];
  outHead = 0;

  constructor(
    readonly name: 'a' | 'b',
    private readonly link: Link,
  ) {}

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.readyState !== 'open') {
      throw new Error(`InvalidStateError: send on a channel that is ${this.readyState}`);
    }
    let item: Queued;
    if (typeof data === 'string') {
      item = { data, size: encoder.encode(data).length };
    } else if (data instanceof ArrayBuffer) {
      item = { data: data.slice(0), size: data.byteLength };
    } else {
      const copy = new Uint8Array(data.byteLength);
      copy.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      item = { data: copy.buffer, size: data.byteLength };
    }
    const max = this.link.opts.maxBuffered;
    if (max !== undefined && this.bufferedAmount + item.size > max) {
      throw new Error(`OperationError: send buffer full (${this.bufferedAmount} + ${item.size} > ${max})`);
    }
    this.outbox.push(item);
    this.bufferedAmount += item.size;
    if (this.bufferedAmount > this.maxBufferedSeen) this.maxBufferedSeen = this.bufferedAmount;
    this.link.schedule();
  }

  close(): void {
    if (this.readyState === 'closing' || this.readyState === 'closed') return;
    this.readyState = 'closing';
    this.link.closeRequested = true;
    this.link.schedule();
  }
}

class Link {
  readonly a: Side;
  readonly b: Side;
  messages = 0;
  closeRequested = false;
  dead = false;
  private scheduled = false;

  constructor(readonly opts: ChannelPairOptions) {
    this.a = new Side('a', this);
    this.b = new Side('b', this);
    setImmediate(() => {
      if (this.dead) return;
      for (const s of [this.a, this.b]) {
        if (s.readyState !== 'connecting') continue;
        s.readyState = 'open';
        s.onopen?.({ type: 'open' });
      }
    });
  }

  schedule(): void {
    if (this.scheduled || this.dead) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.tick();
    });
  }

  private tick(): void {
    if (this.dead) return;
    const budget = this.opts.drainBytesPerTick ?? Infinity;
    this.drain(this.a, this.b, budget);
    this.drain(this.b, this.a, budget);
    if (this.a.outHead < this.a.outbox.length || this.b.outHead < this.b.outbox.length) {
      this.schedule();
    } else if (this.closeRequested) {
      // Both directions flushed: the close completes on both sides after the last delivery.
      this.finish();
    }
  }

  private drain(from: Side, to: Side, budget: number): void {
    let moved = 0;
    while (
      from.outHead < from.outbox.length &&
      (moved === 0 || moved + (from.outbox[from.outHead]?.size ?? 0) <= budget)
    ) {
      const item = from.outbox[from.outHead] as Queued;
      from.outbox[from.outHead] = undefined as unknown as Queued;
      from.outHead++;
      moved += item.size;
      const before = from.bufferedAmount;
      from.bufferedAmount -= item.size;
      if (
        !this.opts.lowEventBroken &&
        before > from.bufferedAmountLowThreshold &&
        from.bufferedAmount <= from.bufferedAmountLowThreshold
      ) {
        from.lowEvents++;
        from.onbufferedamountlow?.({ type: 'bufferedamountlow' });
      }
      this.deliver(item, from, to);
      if (moved >= budget) break;
    }
    if (from.outHead === from.outbox.length) {
      from.outbox.length = 0;
      from.outHead = 0;
    }
  }

  private deliver(item: Queued, from: Side, to: Side): void {
    const index = this.messages++;
    const drop = this.opts.dropAfterMessages;
    if (drop !== undefined && index >= drop) return;
    let data: string | ArrayBuffer | undefined = item.data;
    if (this.opts.corrupt) {
      const view: PairMessage = typeof item.data === 'string' ? item.data : new Uint8Array(item.data);
      const out = this.opts.corrupt(view, index, from.name);
      if (out === undefined) data = undefined;
      else if (typeof out === 'string') data = out;
      else if (
        out.byteOffset === 0 &&
        out.byteLength === out.buffer.byteLength &&
        out.buffer instanceof ArrayBuffer
      )
        data = out.buffer;
      else data = out.slice().buffer;
    }
    if (data === undefined || this.dead) return;
    const payload = data;
    setImmediate(() => {
      if (this.dead || to.readyState === 'closed') return;
      to.onmessage?.({ data: payload });
    });
  }

  private finish(): void {
    this.closeRequested = false;
    setImmediate(() => this.closeBoth());
  }

  closeBoth(): void {
    for (const s of [this.a, this.b]) {
      if (s.readyState === 'closed') continue;
      s.readyState = 'closed';
      setImmediate(() => s.onclose?.({ type: 'close' }));
    }
    this.dead = true;
  }

  cut(): void {
    if (this.dead) return;
    this.a.outbox.length = 0;
    this.a.outHead = 0;
    this.b.outbox.length = 0;
    this.b.outHead = 0;
    this.closeBoth();
  }
}

/**
 * Creates two connected in-memory channels. Both start `connecting` and open on the next tick.
 *
 * @example
 * const pair = createChannelPair({ drainBytesPerTick: 256 * 1024 });
 * await Promise.all([sendFile(pair.a, sendOpts), receiveFile(pair.b, recvOpts)]);
 */
export function createChannelPair(opts: ChannelPairOptions = {}): ChannelPair {
  const link = new Link(opts);
  return {
    a: link.a,
    b: link.b,
    cut: () => link.cut(),
    get messages() {
      return link.messages;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// In-memory files for protocol tests and the benchmark: a ByteSource over a Uint8Array and a "disk" that
// keeps a partial file + sidecar between attempts (docs/protocol.md §4), with Node's CRC-32 and SHA-256.

/** node:zlib's CRC-32 as the protocol's `Crc32`. */
export const nodeCrc32: Crc32 = (data) => zlibCrc32(data);

/** node:crypto's SHA-256 as the protocol's `HashFactory`. */
export const nodeSha256: HashFactory = () => wrapDigestHash(createHash('sha256'));

/** SHA-256 of `data` as lowercase hex. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A source over bytes in memory; `read` returns views (no copy). Counts reads. */
export function createMemorySource(data: Uint8Array): ByteSource & { reads: number } {
  const src = {
    size: data.length,
    reads: 0,
    read(offset: number, length: number): Promise<Uint8Array> {
      src.reads++;
      return Promise.resolve(data.subarray(offset, offset + length));
    },
  };
  return src;
}

/** `prefixSha256` for a source in memory. */
export function memoryPrefixSha256(data: Uint8Array): (length: number) => Promise<string> {
  return (length) => Promise.resolve(sha256Hex(data.subarray(0, length)));
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A receiver's disk in memory: one partial file with its sidecar (file sha256, verified bytes), and the
 * committed files by name. `open` offers the partial file as a resume prefix when the announced sha256
 * matches the sidecar, like the consumer does (§4).
 */
export class MemoryDisk {
  /** Partial file bytes (the first `partLength` bytes of `part`). */
  part: Uint8Array = new Uint8Array(0);
  partLength = 0;
  /** Sidecar: sha256 of the whole file the partial file belongs to. */
  partFileSha256: string | undefined;
  readonly files = new Map<string, Uint8Array>();
  readonly aborts: { code: string; keepPrefix: boolean }[] = [];
  readonly commits: { size: number; sha256: string; verified: boolean }[] = [];
  /** Every `write` call's length, to check batching. */
  readonly writes: number[] = [];
  truncates = 0;
  /** Test fault: the n-th write (from 0) rejects. */
  failWriteAt: number | undefined;

  readonly open = (meta: FileMetadata): Promise<ReceiveTarget> => {
    const resumable = meta.sha256 !== undefined && meta.sha256 === this.partFileSha256 && this.partLength > 0;
    if (!resumable) {
      this.partLength = 0;
    }
    this.partFileSha256 = meta.sha256;
    const hash = nodeSha256();
    const prefix = this.part.subarray(0, this.partLength);
    hash.update(prefix);
    const target: ReceiveTarget = {
      prefixLength: this.partLength,
      hash,
      write: (offset, data) => {
        const n = this.writes.length;
        this.writes.push(data.length);
        if (this.failWriteAt === n) return Promise.reject(new Error('disk full (test)'));
        if (offset !== this.partLength)
          return Promise.reject(new Error(`non-sequential write at ${offset}, length ${this.partLength}`));
        this.ensure(offset + data.length);
        this.part.set(data, offset);
        this.partLength = offset + data.length;
        return Promise.resolve();
      },
      truncate: (length) => {
        this.truncates++;
        this.partLength = Math.min(length, this.partLength);
        return Promise.resolve();
      },
      commit: (r) => {
        this.commits.push(r);
        this.files.set(meta.filename, this.part.slice(0, this.partLength));
        this.partLength = 0;
        this.partFileSha256 = undefined;
        return Promise.resolve(`/memory/${meta.filename}`);
      },
      abort: (err, keepPrefix) => {
        this.aborts.push({ code: err.code, keepPrefix });
        if (!keepPrefix) {
          this.partLength = 0;
          this.partFileSha256 = undefined;
        }
        return Promise.resolve();
      },
    };
    if (this.partLength > 0) target.prefixSha256 = sha256Hex(prefix);
    return Promise.resolve(target);
  };

  private ensure(n: number): void {
    if (n <= this.part.length) return;
    const next = new Uint8Array(Math.max(n, this.part.length * 2, 65536));
    next.set(this.part.subarray(0, this.partLength));
    this.part = next;
  }
}
