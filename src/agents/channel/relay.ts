/**
 * The WebSocket relay as a `Channel` (docs/api.md §6): when no direct path exists, both participants join
 * `/api/relay/{session_id}` and the server pipes their messages. The same sdrlink/1 framing runs over it.
 * The relay's own control messages (`relay-*`) are consumed here and never reach the protocol.
 */
import WebSocket from 'ws';
import type { Channel } from '../../protocol/channel.js';

export interface RelayOptions {
  server: string;
  token: string;
  sessionId: string;
  /** How long to wait for the other participant. */
  timeoutMs: number;
  signal?: AbortSignal;
}

type Handler = ((ev: unknown) => void) | null;

class RelayChannel implements Channel {
  readonly #ws: WebSocket;
  #state: Channel['readyState'] = 'open';
  #lowThreshold = 0;
  #wasAbove = false;
  onopen: Handler = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: Handler = null;
  onerror: Handler = null;
  onbufferedamountlow: Handler = null;

  constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        const text = data.toString('utf8');
        if (text.startsWith('{"type":"relay-')) {
          if (text.startsWith('{"type":"relay-peer-left"')) this.close();
          return;
        }
        this.onmessage?.({ data: text });
        return;
      }
      // A view, not a copy: the protocol reads a message before its handler returns (or keeps the view,
      // and ws never reuses a delivered buffer's memory).
      this.onmessage?.({ data });
    });
    ws.on('close', () => {
      this.#state = 'closed';
      this.onclose?.({});
    });
    ws.on('error', (err) => this.onerror?.({ error: err }));
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
    this.#ws.pause();
  }

  resumeReading(): void {
    this.#ws.resume();
  }

  close(): void {
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

/** Joins the session's relay and resolves once the other participant is there too. */
export function openRelayChannel(opts: RelayOptions): Promise<Channel> {
  const url = `${opts.server.replace(/^http/, 'ws')}/api/relay/${encodeURIComponent(opts.sessionId)}`;
  return new Promise<Channel>((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${opts.token}` },
      perMessageDeflate: false,
      maxPayload: 1 << 20,
      generateMask: zeroMask,
    });
    let settled = false;
    const timer = setTimeout(
      () => fail(new Error(`relay: peer did not join within ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    const onAbort = () => fail(new Error('relay: aborted'));
    opts.signal?.addEventListener('abort', onAbort);
    function fail(err: Error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      ws.terminate();
      reject(err);
    }
    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (isBinary || settled) return;
      const text = data.toString('utf8');
      if (!text.startsWith('{"type":"relay-ready"')) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      ws.off('message', onMessage);
      resolve(new RelayChannel(ws));
    };
    ws.on('message', onMessage);
    ws.on('error', (err) => fail(new Error(`relay: ${err.message}`)));
    ws.on('close', (code, reason) => fail(new Error(`relay: closed ${code} ${reason.toString()}`.trim())));
  });
}
