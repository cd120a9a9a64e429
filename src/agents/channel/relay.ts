/**
 * The WebSocket relay as a `Channel` (docs/api.md §6): when no direct path exists, both participants join
 * `/api/relay/{session_id}` and the server pipes their messages. The same sdrlink/1 framing runs over it.
 * The relay's own control messages (`relay-*`, src/wire/relay.ts) are consumed here and never reach the
 * protocol; every other message, text or binary, is the peer's.
 */
import type { Agent } from 'node:http';
import WebSocket from 'ws';
import type { Channel } from '../../protocol/channel.js';
import { WS_CLOSE, parseCloseReason } from '../../wire/errors.js';
import { parseRelayControl } from '../../wire/relay.js';
import { AgentError, type AgentErrorCode } from '../errors.js';
import { tlsFailureOf } from '../server-trust.js';

export interface RelayOptions {
  server: string;
  token: string;
  sessionId: string;
  /** How long to wait for the other participant. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The socket's liveness check (default {@link RELAY_PING_MS}, {@link RELAY_DEAD_MS}). */
  liveness?: RelayLiveness;
  /** For an `https://` server: the agent holding its trust (`--ca`, `--pin`; SignalingClient.wsAgent). */
  agent?: Agent | undefined;
}

type Handler = ((ev: unknown) => void) | null;

/** What arrived before anyone listened: the peer's messages, in order, then maybe the close. */
type Pending = { kind: 'message'; data: unknown } | { kind: 'close' };

/** Bytes held for a handler not yet attached before the socket is paused (ws's `maxPayload` each). */
const PENDING_PAUSE_BYTES = 4 << 20;

/**
 * Liveness of the socket to the server (docs/api.md §6): after {@link RELAY_PING_MS} without a frame from
 * the server a ping goes out (the server's `ws` answers each with a pong); after {@link RELAY_DEAD_MS}
 * without any frame (message or pong) the socket is dropped and the channel closes. A half-open TCP
 * connection (a path gone without a FIN) then ends in seconds, not at the kernel's timeouts. Generous
 * beside the protocol's own keepalive (5 s end to end, docs/protocol.md §3.7): a ping waits behind what
 * this side already queued, and the server may stop reading this side while the other one drains.
 */
export const RELAY_PING_MS = 2000;
export const RELAY_DEAD_MS = 15_000;

/** Test seam: the ping period and the silence that drops the socket. */
export interface RelayLiveness {
  pingMs: number;
  deadMs: number;
}

class RelayChannel implements Channel {
  readonly #ws: WebSocket;
  #state: Channel['readyState'] = 'open';
  #lowThreshold = 0;
  #wasAbove = false;
  #onmessage: ((ev: { data: unknown }) => void) | null = null;
  #onclose: Handler = null;
  /**
   * Trap: a prompt peer's first messages can arrive in the same socket read as `relay-ready`; ws emits
   * them in that same tick, before `openRelayChannel`'s promise has resolved and its caller attached
   * `onmessage`. They wait here (with a close that follows them) until a handler is there: nothing is
   * dropped, and the order is kept.
   */
  readonly #pending: Pending[] = [];
  #pendingBytes = 0;
  #paused = false;
  #flushScheduled = false;
  /** Frames (messages, pongs) from the server: bumped on each, compared on each liveness tick. */
  #heard = 0;
  #readingPaused = false;
  #liveness: ReturnType<typeof setInterval> | undefined;
  onopen: Handler = null;
  onerror: Handler = null;
  onbufferedamountlow: Handler = null;

  constructor(ws: WebSocket, liveness: RelayLiveness = { pingMs: RELAY_PING_MS, deadMs: RELAY_DEAD_MS }) {
    this.#ws = ws;
    ws.on('pong', () => this.#heard++);
    let lastHeard = -1;
    let silentMs = 0;
    this.#liveness = setInterval(() => {
      if (this.#heard !== lastHeard || this.#readingPaused || this.#paused) {
        lastHeard = this.#heard;
        silentMs = 0;
        return;
      }
      silentMs += liveness.pingMs;
      if (silentMs >= liveness.deadMs) {
        this.#stopLiveness();
        ws.terminate(); // 'close' follows: the channel closes
        return;
      }
      try {
        ws.ping();
      } catch {
        // not open any more: its close is on its way
      }
    }, liveness.pingMs);
    this.#liveness.unref(); // the socket keeps the process alive while it is open, not this timer
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.#heard++;
      if (!isBinary) {
        const text = data.toString('utf8');
        const control = parseRelayControl(text);
        if (control !== undefined) {
          // the server closes this side right after; closing first spares waiting for it
          if (control.type === 'relay-peer-left') this.close();
          return;
        }
        this.#deliver({ kind: 'message', data: text });
        return;
      }
      // A view, not a copy: the protocol reads a message before its handler returns (or keeps the view,
      // and ws never reuses a delivered buffer's memory).
      this.#deliver({ kind: 'message', data });
    });
    ws.on('close', () => {
      this.#stopLiveness();
      this.#state = 'closed';
      this.#deliver({ kind: 'close' });
    });
    ws.on('error', (err) => this.onerror?.({ error: err }));
  }

  get onmessage(): ((ev: { data: unknown }) => void) | null {
    return this.#onmessage;
  }

  set onmessage(h: ((ev: { data: unknown }) => void) | null) {
    this.#onmessage = h;
    this.#scheduleFlush();
  }

  get onclose(): Handler {
    return this.#onclose;
  }

  set onclose(h: Handler) {
    this.#onclose = h;
    this.#scheduleFlush();
  }

  /** Hands `ev` to its handler now, or keeps it (behind anything kept before) until there is one. */
  #deliver(ev: Pending): void {
    if (this.#pending.length === 0 && this.#dispatch(ev)) return;
    this.#pending.push(ev);
    if (ev.kind === 'message') {
      this.#pendingBytes += typeof ev.data === 'string' ? ev.data.length : (ev.data as Buffer).byteLength;
      if (this.#pendingBytes > PENDING_PAUSE_BYTES && !this.#paused) {
        this.#paused = true;
        this.#ws.pause();
      }
    }
  }

  /** False when nobody listens for `ev` yet. */
  #dispatch(ev: Pending): boolean {
    if (ev.kind === 'message') {
      const h = this.#onmessage;
      if (h === null) return false;
      h({ data: ev.data });
      return true;
    }
    const h = this.#onclose;
    if (h === null) return false;
    h({});
    return true;
  }

  /**
   * Delivers what waits, a tick after a handler is attached: never from inside the setter, whose caller
   * (e.g. a transfer session being built) may not be ready for a message yet.
   */
  #scheduleFlush(): void {
    if (this.#pending.length === 0 || this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      while (this.#pending.length > 0) {
        const ev = this.#pending[0] as Pending;
        if (!this.#dispatch(ev)) break;
        this.#pending.shift();
        if (ev.kind === 'message')
          this.#pendingBytes -= typeof ev.data === 'string' ? ev.data.length : (ev.data as Buffer).byteLength;
      }
      if (this.#paused && this.#pendingBytes <= PENDING_PAUSE_BYTES) {
        this.#paused = false;
        this.#ws.resume();
      }
    });
  }

  get readyState(): Channel['readyState'] {
    if (this.#state === 'open' && this.#ws.readyState !== WebSocket.OPEN) return 'closed';
    return this.#state;
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  get bufferedAmountLowThreshold(): number {
    return this.#lowThreshold;
  }

  set bufferedAmountLowThreshold(v: number) {
    this.#lowThreshold = v;
  }

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.readyState !== 'open') throw new Error('relay channel is not open');
    const binary = typeof data !== 'string';
    // The protocol reuses its frame buffer once send() returns (W3C channels copy); ws may keep a reference
    // until the socket flushes, so binary data is copied here.
    const payload = binary ? copyBytes(data) : data;
    this.#ws.send(payload, { binary }, () => {
      // ws calls back once the frame is handed to the socket: emulate RTCDataChannel's bufferedamountlow.
      const amount = this.#ws.bufferedAmount;
      if (amount > this.#lowThreshold) this.#wasAbove = true;
      else if (this.#wasAbove) {
        this.#wasAbove = false;
        this.onbufferedamountlow?.({});
      }
    });
    if (this.#ws.bufferedAmount > this.#lowThreshold) this.#wasAbove = true;
  }

  pauseReading(): void {
    this.#readingPaused = true;
    this.#ws.pause();
  }

  resumeReading(): void {
    this.#readingPaused = false;
    this.#ws.resume();
  }

  #stopLiveness(): void {
    if (this.#liveness !== undefined) clearInterval(this.#liveness);
    this.#liveness = undefined;
  }

  close(): void {
    this.#stopLiveness();
    if (this.#state === 'closed' || this.#state === 'closing') return;
    this.#state = 'closing';
    this.#ws.close(1000);
  }
}

function copyBytes(data: ArrayBuffer | ArrayBufferView): Buffer {
  if (data instanceof ArrayBuffer) return Buffer.from(data.slice(0));
  return Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/**
 * The client-to-server masking key of every frame: all zeros, so neither side XORs the payload (ws skips
 * the work on both ends for a zero key; websockets/ws#1990). RFC 6455 §5.3 allows any key; masking guards
 * proxies against *browser scripts* choosing the bytes on the wire, and this client runs no foreign script.
 * Masking in JavaScript (no `bufferutil`) was the provider's top cost over the relay (bench/README.md).
 */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/**
 * The relay closed this side before the other one joined: refused (a 4xxx close whose reason is the
 * server's `ERR_…: detail`, docs/errors.md) or dropped. Callers switch on `code` and `serverCode`, never on
 * the message.
 *
 * | close | `code` | `serverCode` |
 * | --- | --- | --- |
 * | 4401 | `ERR_AUTH` | the token code (`ERR_TOKEN_EXPIRED`, …) |
 * | 4409 `ERR_SESSION_STATE: <status>` | `ERR_SESSION_ENDED` | `ERR_SESSION_STATE` (`detail`: the status) |
 * | 4408 | `ERR_CONNECT_TIMEOUT` | `ERR_RELAY_TIMEOUT` |
 * | other 4xxx | `ERR_SERVER` | the reason's code (`ERR_SESSION_CLAIMED`, `ERR_RELAY_LIMIT`, …) |
 * | anything else | `ERR_SERVER_UNREACHABLE` | undefined |
 */
export class RelayClosedError extends AgentError {
  override name = 'RelayClosedError';
  /** The WebSocket close code (`4409`). */
  readonly closeCode: number;
  /** What follows the server's code in the close reason (`completed`), when the reason has a code. */
  readonly detail: string | undefined;

  constructor(closeCode: number, reason: string) {
    const server = closeCode >= 4000 && closeCode < 5000 ? parseCloseReason(reason) : undefined;
    super(relayCloseCode(closeCode, server?.code), `relay: closed ${closeCode} ${reason}`.trim(), {
      ...(server === undefined ? {} : { serverCode: server.code }),
    });
    this.closeCode = closeCode;
    this.detail = server?.detail;
  }
}

function relayCloseCode(closeCode: number, serverCode: string | undefined): AgentErrorCode {
  if (closeCode === WS_CLOSE.UNAUTHENTICATED) return 'ERR_AUTH';
  if (serverCode === 'ERR_SESSION_STATE') return 'ERR_SESSION_ENDED';
  if (closeCode === WS_CLOSE.JOIN_TIMEOUT) return 'ERR_CONNECT_TIMEOUT';
  if (closeCode >= 4000 && closeCode < 5000) return 'ERR_SERVER';
  return 'ERR_SERVER_UNREACHABLE';
}

/**
 * Joins the session's relay and resolves once the other participant is there too.
 * @throws RelayClosedError when the server closes the socket first (refused, session over); AgentError
 *   `ERR_CONNECT_TIMEOUT` when the other side does not come within `timeoutMs`, `ERR_TRANSFER` on abort,
 *   `ERR_SERVER_UNREACHABLE` when the socket fails.
 */
export function openRelayChannel(opts: RelayOptions): Promise<Channel> {
  const url = `${opts.server.replace(/^http/, 'ws')}/api/relay/${encodeURIComponent(opts.sessionId)}`;
  return new Promise<Channel>((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${opts.token}` },
      perMessageDeflate: false,
      maxPayload: 1 << 20,
      generateMask: zeroMask,
      ...(opts.agent === undefined ? {} : { agent: opts.agent }),
    });
    let settled = false;
    const timer = setTimeout(
      () =>
        fail(new AgentError('ERR_CONNECT_TIMEOUT', `relay: peer did not join within ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    const onAbort = () => fail(new AgentError('ERR_TRANSFER', 'relay: aborted'));
    opts.signal?.addEventListener('abort', onAbort);
    function fail(err: AgentError) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      ws.terminate();
      reject(err);
    }
    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (isBinary || settled) return;
      // before relay-ready only the server speaks: relay-waiting, then relay-ready
      if (parseRelayControl(data.toString('utf8'))?.type !== 'relay-ready') return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      ws.off('message', onMessage);
      resolve(new RelayChannel(ws, opts.liveness));
    };
    ws.on('message', onMessage);
    ws.on('error', (err) => {
      const tls = tlsFailureOf(err);
      fail(
        tls !== undefined
          ? new AgentError(tls.code, `relay: ${tls.message}`, { cause: tls })
          : new AgentError('ERR_SERVER_UNREACHABLE', `relay: ${err.message}`, { cause: err }),
      );
    });
    ws.on('close', (code, reason) => fail(new RelayClosedError(code, reason.toString())));
  });
}
