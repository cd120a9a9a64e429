/**
 * Liveness of the peer during a transfer (docs/protocol.md §3.7). Both sides advertise `keepalive_ms` in
 * the handshake (`file-metadata` → `resume`); a side that saw the peer's advertisement sends `keepalive`
 * whenever it has sent nothing else for its interval, and declares the peer gone (ERR_PEER_GONE) once
 * nothing at all came from it for the peer timeout. A peer that advertised nothing (a seed peer, an older
 * sdrlink one) is never sent a `keepalive` and never timed out this way.
 *
 * Pure and clock-free: time is counted in ticks of {@link Keepalive.tickMs}, driven by whoever owns the
 * timer (the transfer session's `setInterval`, a test's loop). Counting ticks instead of reading a clock
 * makes a frozen event loop harmless: after a long block the interval fires once, not once per missed
 * tick, so a local stall is never taken for the peer's silence.
 */

/** Defaults of the sender's and receiver's keepalive options. */
export const KEEPALIVE_DEFAULTS = {
  /** Send a `keepalive` after this long without sending anything else. */
  intervalMs: 1000,
  /** Nothing from a peer that advertised keepalive for this long → ERR_PEER_GONE. */
  peerTimeoutMs: 5000,
} as const;

/** The largest `keepalive_ms` a peer may advertise (§3.1, §3.2). */
export const MAX_KEEPALIVE_MS = 60_000;

/**
 * The timeout applied to a peer that advertised `peerIntervalMs`: the configured one, but never less than
 * three of the peer's own intervals, so a peer that announced a slow beat is not cut for keeping it.
 */
export function peerTimeoutFor(timeoutMs: number, peerIntervalMs: number): number {
  return Math.max(timeoutMs, 3 * peerIntervalMs);
}

export interface KeepaliveOptions {
  /** This side's interval (what it advertises). */
  intervalMs: number;
  /** How long a silent peer is given (before {@link peerTimeoutFor}). */
  peerTimeoutMs: number;
  /** Sends one `keepalive` message. May throw (a closed channel): the throw is swallowed. */
  send(): void;
  /** The peer has been silent for `silentMs` (≥ the timeout). Called once. */
  dead(silentMs: number, timeoutMs: number): void;
}

/**
 * The keepalive state machine of one side of one transfer. The owner bumps {@link sent} for every message
 * it sends and {@link heard} for every message it receives, calls {@link tick} every {@link tickMs}, and
 * turns sending and watching on as the handshake tells it the peer takes part.
 */
export class Keepalive {
  /** Bumped by the owner for every message it sends (frames included). */
  sent = 0;
  /** Bumped by the owner for every message it receives (keepalives included). */
  heard = 0;
  /**
   * Set while this side does not read the channel (the relay paused under disk pressure): the peer's
   * messages wait in the transport, so its silence is not counted.
   */
  paused = false;
  /** Tick period: the interval, or a fifth of the peer timeout when that is shorter. */
  readonly tickMs: number;

  readonly #opts: KeepaliveOptions;
  #sending = false;
  #lastSent = 0;
  #quietTicks = 0;
  /** Ticks of silence that make the peer gone; 0 while not watching. */
  #limitTicks = 0;
  #timeoutMs = 0;
  #lastHeard = 0;
  #silentTicks = 0;
  #dead = false;

  constructor(opts: KeepaliveOptions) {
    if (!Number.isSafeInteger(opts.intervalMs) || opts.intervalMs < 1)
      throw new TypeError(`keepalive: intervalMs must be a positive integer, got ${opts.intervalMs}`);
    if (!Number.isSafeInteger(opts.peerTimeoutMs) || opts.peerTimeoutMs < 1)
      throw new TypeError(`keepalive: peerTimeoutMs must be a positive integer, got ${opts.peerTimeoutMs}`);
    this.#opts = opts;
    this.tickMs = Math.max(1, Math.min(opts.intervalMs, Math.floor(opts.peerTimeoutMs / 5)));
  }

  /** The peer understands `keepalive` (it advertised `keepalive_ms`): send them from now on. */
  startSending(): void {
    this.#sending = true;
    this.#lastSent = this.sent;
    this.#quietTicks = 0;
  }

  /** The peer promised a beat every `peerIntervalMs`: time it out after {@link peerTimeoutFor}. */
  watch(peerIntervalMs: number): void {
    this.#timeoutMs = peerTimeoutFor(this.#opts.peerTimeoutMs, peerIntervalMs);
    this.#limitTicks = Math.ceil(this.#timeoutMs / this.tickMs);
    this.#lastHeard = this.heard;
    this.#silentTicks = 0;
  }

  get sending(): boolean {
    return this.#sending;
  }

  get watching(): boolean {
    return this.#limitTicks > 0;
  }

  /** The timeout in force while watching (0 before). */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** One tick: sends a `keepalive` if this side was quiet for its interval; times the peer out. */
  tick(): void {
    if (this.#dead) return;
    if (this.#sending) {
      if (this.sent !== this.#lastSent) {
        this.#lastSent = this.sent;
        this.#quietTicks = 0;
      } else if (++this.#quietTicks * this.tickMs >= this.#opts.intervalMs) {
        this.#quietTicks = 0;
        try {
          this.#opts.send();
        } catch {
          // The channel is gone: its close (or the peer timeout) ends the transfer.
        }
        this.sent++;
        this.#lastSent = this.sent;
      }
    }
    if (this.#limitTicks > 0) {
      if (this.paused || this.heard !== this.#lastHeard) {
        this.#lastHeard = this.heard;
        this.#silentTicks = 0;
      } else if (++this.#silentTicks >= this.#limitTicks) {
        this.#dead = true;
        this.#opts.dead(this.#silentTicks * this.tickMs, this.#timeoutMs);
      }
    }
  }
}
