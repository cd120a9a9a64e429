/**
 * What `sendFile` and `receiveFile` share: ownership of a channel's handlers for the duration of one
 * transfer, a single wake-up slot the event handlers poke, the failure state, the idle watchdog and the
 * abort signal. The transfer's main loop is plain async code that waits with {@link TransferSession.until}
 * and is woken by events; every event handler only updates state and pokes, and never throws (a throw
 * inside a node-datachannel callback aborts the whole process — DESIGN.md "Known traps in the libraries").
 */
import type { Channel } from './channel.js';
import { encodeControl } from './codec.js';
import { TransferError, toTransferError } from './errors.js';
import { Keepalive } from './keepalive.js';

type Handler = ((ev: unknown) => void) | null;

/**
 * How long a channel's close waits for a message still in flight (the peer's `error`, §3.6) before it
 * fails the transfer with ERR_CHANNEL_CLOSED.
 */
export const CLOSE_SETTLE_MS = 100;

/** Options common to both directions. */
export interface SessionOptions {
  /** No progress for this long → ERR_TIMEOUT. 0 disables. */
  idleTimeoutMs: number;
  signal: AbortSignal | undefined;
  /** Prefix of error messages ("send", "receive"). */
  role: string;
  /**
   * Keepalive (§3.7): this side's interval (advertised in the handshake) and the peer timeout; absent
   * or an interval of 0: this side does not take part (advertises nothing, sends and times out nothing).
   */
  keepalive?: { intervalMs: number; peerTimeoutMs: number } | undefined;
}

/** The handlers a session installs; each is called inside a try/catch that turns a throw into a failure. */
export interface SessionHandlers {
  message(data: unknown): void;
  close(): void;
  lowWater?(): void;
}

export class TransferSession {
  /** The first failure; once set, every wait throws it. */
  failure: TransferError | null = null;
  /** Bumped by whatever counts as progress; the idle watchdog compares it across ticks. */
  progress = 0;
  /** True once the transfer is over (success or failure): late events are ignored. */
  finished = false;
  /** Set to pause the idle watchdog while this side does long local work (e.g. hashing a prefix). */
  idlePaused = false;

  private wake: (() => void) | null = null;
  private readonly saved: {
    onopen: Handler;
    onclose: Handler;
    onerror: Handler;
    onmessage: ((ev: { data: unknown }) => void) | null;
    onbufferedamountlow: Handler;
    threshold: number;
  };
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private idleTicks = 0;
  private lastProgress = -1;
  private lastBuffered = -1;
  private readonly onAbort: () => void;
  private raceReject: ((err: TransferError) => void) | null = null;
  /** The keepalive state (§3.7), when this side takes part; the owner bumps its `sent` for every send. */
  readonly keepalive: Keepalive | null;
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly channel: Channel,
    private readonly opts: SessionOptions,
    handlers: SessionHandlers,
  ) {
    const ch = channel;
    this.saved = {
      onopen: ch.onopen,
      onclose: ch.onclose,
      onerror: ch.onerror,
      onmessage: ch.onmessage,
      onbufferedamountlow: ch.onbufferedamountlow,
      threshold: ch.bufferedAmountLowThreshold,
    };
    const saved = this.saved;
    const ka = opts.keepalive;
    this.keepalive =
      ka === undefined || ka.intervalMs <= 0
        ? null
        : new Keepalive({
            intervalMs: ka.intervalMs,
            peerTimeoutMs: ka.peerTimeoutMs,
            send: () => {
              if (ch.readyState === 'open') ch.send(KEEPALIVE_TEXT);
            },
            dead: (silentMs, timeoutMs) =>
              this.fail(
                new TransferError(
                  'ERR_PEER_GONE',
                  `${opts.role}: nothing from the peer for ${silentMs} ms (it advertised keepalive; peer timeout ${timeoutMs} ms)`,
                ),
              ),
          });
    const keepalive = this.keepalive;
    ch.onmessage = (ev) => {
      if (keepalive !== null) keepalive.heard++;
      if (this.finished || this.failure !== null) return;
      try {
        handlers.message(ev.data);
      } catch (err) {
        this.fail(toTransferError(err, 'ERR_IO', `${opts.role}: message handler`));
      }
    };
    ch.onopen = (ev) => {
      this.poke();
      saved.onopen?.call(ch, ev);
    };
    ch.onclose = (ev) => {
      if (!this.finished && this.closeTimer === undefined) {
        // A peer that fails sends `error` (§3.6) and closes. Transports may deliver the close before that
        // last message (node-datachannel raises them through separate queues), so the close counts only
        // if nothing settles the transfer within CLOSE_SETTLE_MS: the peer's reason wins over "closed".
        this.closeTimer = setTimeout(() => {
          if (this.finished || this.failure !== null) return;
          try {
            handlers.close();
          } catch (err) {
            this.fail(toTransferError(err, 'ERR_IO', `${opts.role}: close handler`));
          }
        }, CLOSE_SETTLE_MS);
      }
      saved.onclose?.call(ch, ev);
    };
    ch.onerror = (ev) => {
      if (!this.finished) {
        this.fail(
          new TransferError('ERR_CHANNEL_CLOSED', `${opts.role}: channel error: ${describeEvent(ev)}`),
        );
      }
      saved.onerror?.call(ch, ev);
    };
    const low = handlers.lowWater;
    ch.onbufferedamountlow = low
      ? () => {
          if (this.finished) return;
          try {
            low();
          } catch (err) {
            this.fail(toTransferError(err, 'ERR_IO', `${opts.role}: bufferedamountlow handler`));
          }
        }
      : null;

    this.onAbort = () => {
      const reason: unknown = opts.signal?.reason;
      this.fail(
        new TransferError(
          'ERR_ABORTED',
          `${opts.role}: aborted`,
          reason === undefined ? undefined : { cause: reason },
        ),
      );
    };
    if (opts.signal) {
      if (opts.signal.aborted) this.onAbort();
      else opts.signal.addEventListener('abort', this.onAbort, { once: true });
    }
    if (opts.idleTimeoutMs > 0) {
      // Four ticks per timeout: a stall is detected between 1× and 1.25× the timeout after the last
      // progress. Counting progress instead of reading a clock costs nothing per frame.
      const tickMs = Math.max(1, Math.floor(opts.idleTimeoutMs / 4));
      this.watchdog = setInterval(() => this.checkIdle(), tickMs);
    }
  }

  /** This side's advertised keepalive interval (§3.7), or undefined when it does not take part. */
  get keepaliveMs(): number | undefined {
    const ka = this.opts.keepalive;
    return this.keepalive === null || ka === undefined ? undefined : ka.intervalMs;
  }

  /**
   * The peer advertised `keepalive_ms` (§3.7): from now on send `keepalive` when quiet, and fail with
   * ERR_PEER_GONE when the peer stays silent past the timeout. No-op when this side does not take part.
   */
  peerKeepsAlive(peerIntervalMs: number): void {
    const ka = this.keepalive;
    if (ka === null || this.finished) return;
    ka.startSending();
    ka.watch(peerIntervalMs);
    if (this.keepaliveTimer === undefined) this.keepaliveTimer = setInterval(() => ka.tick(), ka.tickMs);
  }

  /** This side stopped / resumed reading the channel (disk pressure): the peer's silence is not counted. */
  readingPaused(paused: boolean): void {
    if (this.keepalive !== null) this.keepalive.paused = paused;
  }

  /** Records the first failure and wakes the main loop. */
  fail(err: TransferError): void {
    if (this.failure !== null || this.finished) return;
    this.failure = err;
    const reject = this.raceReject;
    this.raceReject = null;
    reject?.(err);
    this.poke();
  }

  /** Wakes the main loop so it re-checks its condition. */
  poke(): void {
    const w = this.wake;
    if (w !== null) {
      this.wake = null;
      w();
    }
  }

  /** Throws the failure, if any. */
  check(): void {
    if (this.failure !== null) throw this.failure;
  }

  /**
   * Waits until `cond()` holds, re-checking after every poke; throws the failure as soon as there is one.
   * With `pollMs`, also re-checks that often (the guard for a `bufferedamountlow` that never comes, §6).
   */
  async until(cond: () => boolean, pollMs?: number): Promise<void> {
    for (;;) {
      this.check();
      if (cond()) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        if (pollMs !== undefined) {
          this.pollTimer = setTimeout(() => {
            this.pollTimer = undefined;
            this.poke();
          }, pollMs);
        }
      });
      if (this.pollTimer !== undefined) {
        clearTimeout(this.pollTimer);
        this.pollTimer = undefined;
      }
    }
  }

  /**
   * Awaits `p`, but throws as soon as the transfer fails (abort, close, timeout, peer error). One race at
   * a time (the main loop is sequential); unlike `Promise.race` with a long-lived failure promise, nothing
   * accumulates per call on a long transfer.
   */
  race<T>(p: Promise<T>): Promise<T> {
    this.check();
    return new Promise<T>((resolve, reject) => {
      this.raceReject = reject;
      p.then(
        (v) => {
          this.raceReject = null;
          resolve(v);
        },
        (err: unknown) => {
          this.raceReject = null;
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** Sends a control message; a transport that throws means the channel is gone. */
  sendText(text: string): void {
    if (this.keepalive !== null) this.keepalive.sent++;
    try {
      this.channel.send(text);
    } catch (err) {
      throw toTransferError(err, 'ERR_CHANNEL_CLOSED', `${this.opts.role}: send failed`);
    }
  }

  /** Best effort: tells the peer why this side stops (§3.6), unless it is the peer's own error or the channel is gone. */
  notifyPeer(err: TransferError): void {
    if (err.code === 'ERR_PEER' || err.code === 'ERR_CHANNEL_CLOSED') return;
    if (this.channel.readyState !== 'open') return;
    try {
      this.channel.send(encodeControl({ type: 'error', code: err.code, message: err.message }));
    } catch {
      // Best effort by design (§3.6): the transfer has failed already and the reason is being reported locally.
    }
  }

  /** Ends the session: stops timers, removes the abort listener, restores the channel's handlers. */
  dispose(): void {
    this.finished = true;
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
    if (this.pollTimer !== undefined) clearTimeout(this.pollTimer);
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.watchdog = undefined;
    this.pollTimer = undefined;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    const ch = this.channel;
    ch.onopen = this.saved.onopen;
    ch.onclose = this.saved.onclose;
    ch.onerror = this.saved.onerror;
    ch.onmessage = this.saved.onmessage;
    ch.onbufferedamountlow = this.saved.onbufferedamountlow;
    try {
      ch.bufferedAmountLowThreshold = this.saved.threshold;
    } catch {
      // a channel already torn down may refuse it (node-datachannel: "called on destroyed channel")
    }
    this.wake = null;
    this.raceReject = null;
  }

  private checkIdle(): void {
    const buffered = this.channel.bufferedAmount;
    if (this.idlePaused || this.progress !== this.lastProgress || buffered !== this.lastBuffered) {
      this.lastProgress = this.progress;
      this.lastBuffered = buffered;
      this.idleTicks = 0;
      return;
    }
    if (++this.idleTicks >= 4) {
      this.fail(
        new TransferError('ERR_TIMEOUT', `${this.opts.role}: no progress for ${this.opts.idleTimeoutMs} ms`),
      );
    }
  }
}

/** The one §3.7 message, as `encodeControl` writes it. */
const KEEPALIVE_TEXT = '{"type":"keepalive"}';

function describeEvent(ev: unknown): string {
  if (typeof ev === 'object' && ev !== null) {
    const e = ev as { error?: unknown; message?: unknown };
    if (e.error instanceof Error) return e.error.message;
    if (typeof e.message === 'string') return e.message;
  }
  return 'unknown error';
}
