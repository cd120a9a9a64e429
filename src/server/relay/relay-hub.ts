/**
 * The WebSocket relay (docs/api.md §6): pairs a session's consumer and provider and pipes every message
 * between them as is (text stays text, binary stays binary), keeping no content.
 *
 * Backpressure: bytes handed to one side's socket and not yet flushed to the kernel are that side's
 * `pending`. When it reaches `pauseAt` the server stops reading the other side (ws `pause()`: TCP flow
 * control then slows the sender), and resumes at half of that. After `pause()` ws may still deliver
 * messages already parsed from the last socket read (≤ 64 KiB), so pausing at `window − 64 KiB` keeps
 * `pending` ≤ window + one message.
 */
import type { WebSocket, RawData } from 'ws';
import type { RelayOptions } from '../config.js';
import { WS_CLOSE } from '../errors.js';
import { relayControlText } from '../../wire/relay.js';

/** Bytes Node reads from a socket at once (libuv's read buffer): what ws may still emit after pause(). */
const SOCKET_READ_BYTES = 64 * 1024;

export type RelaySide = 'consumer' | 'provider';

interface Peer {
  readonly ws: WebSocket;
  readonly userId: number;
  /** Bytes sent toward this peer and not yet flushed. */
  pending: number;
  /** This peer's reading is paused because the other peer is backed up. */
  paused: boolean;
}

interface Room {
  readonly sessionId: string;
  consumer: Peer | undefined;
  provider: Peer | undefined;
  ready: boolean;
  ended: boolean;
  timer: NodeJS.Timeout | undefined;
  bytes: number;
  startedAt: number;
}

export interface RelayStats {
  /** Relays with both sides in. */
  active: number;
  /** Relays waiting for their second side. */
  waiting: number;
  /** Bytes queued toward receivers right now. */
  bufferedBytes: number;
  /** Sides whose reading is paused because their peer is backed up. */
  pausedSides: number;
  /** Most bytes ever queued toward one receiver (the backpressure bound). */
  maxPendingBytes: number;
  /** Bytes carried since start. */
  totalBytes: number;
}

export interface RelayHooks {
  now: () => number;
  /** A relay that ran ended (record bytes, log). */
  onEnd: (sessionId: string, bytes: number, durationMs: number, reason: string) => void;
}

function other(side: RelaySide): RelaySide {
  return side === 'consumer' ? 'provider' : 'consumer';
}

function size(data: RawData): number {
  if (Buffer.isBuffer(data)) return data.length;
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

export class RelayHub {
  readonly #opts: RelayOptions;
  readonly #hooks: RelayHooks;
  readonly #rooms = new Map<string, Room>();
  readonly #usage = new Map<number, { since: number; bytes: number }>();
  readonly #pauseAt: number;
  #maxPending = 0;
  #total = 0;

  constructor(opts: RelayOptions, hooks: RelayHooks) {
    this.#opts = opts;
    this.#hooks = hooks;
    this.#pauseAt = Math.max(1, opts.windowBytes - SOCKET_READ_BYTES);
  }

  /** Relays (waiting or running) the user takes part in, on either side. */
  relaysOf(userId: number): number {
    let n = 0;
    for (const room of this.#rooms.values()) {
      if (!room.ended && (room.consumer?.userId === userId || room.provider?.userId === userId)) n++;
    }
    return n;
  }

  /** Adds an admitted participant's socket to its session's relay; refuses by closing it. */
  join(sessionId: string, side: RelaySide, userId: number, ws: WebSocket): void {
    let room = this.#rooms.get(sessionId);
    if (room === undefined) {
      if (this.#rooms.size >= this.#opts.maxRelays) {
        if (ws.isPaused) ws.resume();
        ws.close(WS_CLOSE.LIMIT, 'ERR_RELAY_LIMIT: too many relays open');
        return;
      }
      // one account may not take every relay slot: count the relays it is already in (either side)
      const mine = this.relaysOf(userId);
      if (mine >= this.#opts.maxRelaysPerUser) {
        if (ws.isPaused) ws.resume();
        ws.close(
          WS_CLOSE.LIMIT,
          `ERR_RELAY_LIMIT: this user is in ${mine} relays (limit ${this.#opts.maxRelaysPerUser} per user)`,
        );
        return;
      }
      const created: Room = {
        sessionId,
        consumer: undefined,
        provider: undefined,
        ready: false,
        ended: false,
        timer: undefined,
        bytes: 0,
        startedAt: this.#hooks.now(),
      };
      created.timer = setTimeout(() => this.#joinTimeout(created), this.#opts.joinTimeoutMs);
      created.timer.unref();
      this.#rooms.set(sessionId, created);
      room = created;
    }
    if (room[side] !== undefined) {
      if (ws.isPaused) ws.resume();
      ws.close(WS_CLOSE.CONFLICT, `ERR_RELAY_JOINED: the ${side} is already connected`);
      return;
    }
    const peer: Peer = { ws, userId, pending: 0, paused: false };
    room[side] = peer;
    const r = room;
    ws.on('message', (data, isBinary) => this.#forward(r, side, peer, data, isBinary));
    ws.on('close', () => this.#left(r, side, peer));
    ws.on('error', () => ws.terminate());
    if (room.consumer !== undefined && room.provider !== undefined) {
      room.ready = true;
      room.startedAt = this.#hooks.now();
      if (room.timer !== undefined) clearTimeout(room.timer);
      room.timer = undefined;
      const ready = relayControlText('relay-ready');
      room.consumer.ws.send(ready);
      room.provider.ws.send(ready);
    } else {
      ws.send(relayControlText('relay-waiting'));
    }
  }

  #forward(room: Room, side: RelaySide, from: Peer, data: RawData, isBinary: boolean): void {
    if (room.ended || room[side] !== from) return;
    if (!room.ready) {
      from.ws.close(WS_CLOSE.POLICY, 'ERR_RELAY_NOT_READY: wait for relay-ready before sending');
      return;
    }
    const to = room[other(side)];
    if (to === undefined || to.ws.readyState !== to.ws.OPEN) return;
    const len = size(data);
    room.bytes += len;
    if (room.bytes > this.#opts.maxBytesPerRelay) {
      this.#end(room, WS_CLOSE.LIMIT, `ERR_RELAY_LIMIT: relay exceeded ${this.#opts.maxBytesPerRelay} bytes`);
      return;
    }
    if (!this.#charge(from.userId, len) || !this.#charge(to.userId, len)) {
      this.#end(room, WS_CLOSE.LIMIT, 'ERR_RELAY_LIMIT: relay quota of a participant exhausted');
      return;
    }
    this.#total += len;
    to.pending += len;
    if (to.pending > this.#maxPending) this.#maxPending = to.pending;
    to.ws.send(data, { binary: isBinary }, () => {
      to.pending -= len;
      if (from.paused && to.pending <= this.#pauseAt / 2) {
        from.paused = false;
        if (from.ws.readyState === from.ws.OPEN) from.ws.resume();
      }
    });
    if (!from.paused && to.pending >= this.#pauseAt) {
      from.paused = true;
      from.ws.pause();
    }
  }

  /** Counts bytes against a user's quota window; false when it would exceed it. */
  #charge(userId: number, len: number): boolean {
    const now = this.#hooks.now();
    let u = this.#usage.get(userId);
    if (u === undefined || now - u.since >= this.#opts.userWindowMs) {
      u = { since: now, bytes: 0 };
      this.#usage.set(userId, u);
    }
    if (u.bytes + len > this.#opts.maxBytesPerUser) return false;
    u.bytes += len;
    return true;
  }

  #left(room: Room, side: RelaySide, peer: Peer): void {
    if (room.ended || room[side] !== peer) return;
    room[side] = undefined;
    if (!room.ready) {
      if (room.consumer === undefined && room.provider === undefined) this.#drop(room);
      return;
    }
    this.#end(room, 1000, `${side} left`);
  }

  #joinTimeout(room: Room): void {
    if (room.ready || room.ended) return;
    for (const peer of [room.consumer, room.provider]) {
      if (peer?.ws.isPaused === true) peer.ws.resume();
      peer?.ws.close(
        WS_CLOSE.JOIN_TIMEOUT,
        `ERR_RELAY_TIMEOUT: the peer did not join within ${this.#opts.joinTimeoutMs} ms`,
      );
    }
    this.#drop(room);
  }

  #drop(room: Room): void {
    room.ended = true;
    if (room.timer !== undefined) clearTimeout(room.timer);
    if (this.#rooms.get(room.sessionId) === room) this.#rooms.delete(room.sessionId);
  }

  /** Ends a running relay: a normal end tells the remaining side `relay-peer-left`; a limit closes both. */
  #end(room: Room, code: number, reason: string): void {
    if (room.ended) return;
    this.#drop(room);
    for (const peer of [room.consumer, room.provider]) {
      if (peer === undefined || peer.ws.readyState !== peer.ws.OPEN) continue;
      if (peer.paused) peer.ws.resume();
      if (code === 1000) {
        peer.ws.send(relayControlText('relay-peer-left'));
        peer.ws.close(1000, 'peer left');
      } else {
        peer.ws.close(code, reason.slice(0, 120));
      }
    }
    if (room.ready) this.#hooks.onEnd(room.sessionId, room.bytes, this.#hooks.now() - room.startedAt, reason);
  }

  /**
   * The session went final (failed, cancelled, expired — or completed) while one side waits at its relay
   * for the other: nobody is coming, so the waiting side is closed at once with the session's state
   * (4409 `ERR_SESSION_STATE: failed`) instead of at the join timeout. A running relay is left alone: its
   * two sides finish their exchange (the final acknowledgement may still be in flight) and leave.
   */
  sessionEnded(sessionId: string, status: string): void {
    const room = this.#rooms.get(sessionId);
    if (room === undefined || room.ready || room.ended) return;
    for (const peer of [room.consumer, room.provider]) {
      if (peer === undefined) continue;
      if (peer.ws.isPaused) peer.ws.resume();
      peer.ws.close(WS_CLOSE.CONFLICT, `ERR_SESSION_STATE: ${status}`);
    }
    this.#drop(room);
  }

  /** Session ids with a relay open (waiting or running): their sessions must not expire. */
  activeSessionIds(): string[] {
    return [...this.#rooms.keys()];
  }

  stats(): RelayStats {
    let active = 0;
    let waiting = 0;
    let buffered = 0;
    let paused = 0;
    for (const room of this.#rooms.values()) {
      if (room.ready) active++;
      else waiting++;
      for (const peer of [room.consumer, room.provider]) {
        buffered += peer?.pending ?? 0;
        if (peer?.paused === true) paused++;
      }
    }
    return {
      active,
      waiting,
      bufferedBytes: buffered,
      pausedSides: paused,
      maxPendingBytes: this.#maxPending,
      totalBytes: this.#total,
    };
  }

  /** Closes every relay (server shutdown). */
  closeAll(): void {
    for (const room of [...this.#rooms.values()])
      this.#end(room, WS_CLOSE.GOING_AWAY, 'server shutting down');
  }

  /** Forgets quota windows that have passed (called by the periodic sweep). */
  prune(): void {
    const now = this.#hooks.now();
    for (const [id, u] of this.#usage) if (now - u.since >= this.#opts.userWindowMs) this.#usage.delete(id);
  }
}
