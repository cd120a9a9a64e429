/**
 * The server's WebSocket relay as a protocol `Channel` in the page (docs/api.md §6), the browser's
 * counterpart of src/agents/channel/relay.ts: joins `/api/relay/{session_id}` with the token as the
 * `sdrlink-bearer` subprotocol, waits for `relay-ready`, then hands every message that is not a relay
 * control message (`parseRelayControl`, src/wire/relay.ts) to the protocol. The browser masks its frames
 * with a random key, as RFC 6455 wants; the server accepts that (and the agents' zero key).
 */
import type { Channel } from '../../protocol/channel.js';
import { WS_BEARER_PROTOCOL, parseCloseReason, parseRelayControl } from '../../wire/index.js';

/** Why joining the relay failed: the server's close code and reason (`ERR_…`), or a timeout. */
export class RelayError extends Error {
  override name = 'RelayError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Handler = ((ev: unknown) => void) | null;

/** A browser WebSocket as a {@link Channel}. */
class BrowserRelayChannel implements Channel {
  onopen: Handler = null;
  onerror: Handler = null;
  onbufferedamountlow: Handler = null;
  #onmessage: ((ev: { data: unknown }) => void) | null = null;
  #onclose: Handler = null;
  /** Messages (or the close) that came before a handler was attached: kept, in order. */
  readonly #pending: Array<{ data: unknown } | 'close'> = [];
  #threshold = 0;
  #watch: ReturnType<typeof setInterval> | undefined;

  constructor(readonly ws: WebSocket) {
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data === 'string' && parseRelayControl(ev.data) !== undefined) return;
      this.#deliver({ data: ev.data });
    };
    ws.onclose = () => {
      this.#stopWatch();
      this.#deliver('close');
    };
    ws.onerror = (ev) => this.onerror?.(ev);
  }

  #deliver(item: { data: unknown } | 'close'): void {
    if (item === 'close' ? this.#onclose === null : this.#onmessage === null) {
      this.#pending.push(item);
      return;
    }
    if (item === 'close') this.#onclose?.({});
    else this.#onmessage?.(item);
  }

  #flush(): void {
    while (this.#pending.length > 0) {
      const next = this.#pending[0] as { data: unknown } | 'close';
      if (next === 'close' ? this.#onclose === null : this.#onmessage === null) return;
      this.#pending.shift();
      if (next === 'close') this.#onclose?.({});
      else this.#onmessage?.(next);
    }
  }

  get onmessage() {
    return this.#onmessage;
  }
  set onmessage(h: ((ev: { data: unknown }) => void) | null) {
    this.#onmessage = h;
    if (h !== null) queueMicrotask(() => this.#flush());
  }
  get onclose() {
    return this.#onclose;
  }
  set onclose(h: Handler) {
    this.#onclose = h;
    if (h !== null) queueMicrotask(() => this.#flush());
  }

  get readyState(): Channel['readyState'] {
    return (['connecting', 'open', 'closing', 'closed'] as const)[this.ws.readyState] ?? 'closed';
  }
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
  get bufferedAmountLowThreshold(): number {
    return this.#threshold;
  }
  set bufferedAmountLowThreshold(v: number) {
    this.#threshold = v;
  }

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    // WebSocket.send copies what it is given before it returns, as the protocol needs (W3C)
    this.ws.send(data as string | ArrayBuffer | ArrayBufferView<ArrayBuffer>);
    // a browser WebSocket has no bufferedamountlow event: watch the amount while it is above the mark
    if (this.ws.bufferedAmount > this.#threshold && this.#watch === undefined) {
      this.#watch = setInterval(() => {
        if (this.ws.bufferedAmount <= this.#threshold) {
          this.#stopWatch();
          this.onbufferedamountlow?.({});
        }
      }, 5);
    }
  }

  #stopWatch(): void {
    if (this.#watch !== undefined) clearInterval(this.#watch);
    this.#watch = undefined;
  }

  close(): void {
    this.#stopWatch();
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN)
      this.ws.close(1000);
  }
}

/**
 * Joins the relay of `sessionId` and resolves with its channel once both sides are in (`relay-ready`).
 * Rejects with a {@link RelayError}: the server's close (`ERR_SESSION_STATE`, 4401 …) or `ERR_CONNECT_TIMEOUT`.
 */
export function openRelay(
  sessionId: string,
  token: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Channel> {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/relay/${encodeURIComponent(sessionId)}`;
  const ws = new WebSocket(url, [WS_BEARER_PROTOCOL, token]);
  ws.binaryType = 'arraybuffer';
  return new Promise<Channel>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.close(1000);
      reject(
        new RelayError('ERR_CONNECT_TIMEOUT', `relay: the provider did not join within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    const onAbort = () => {
      clearTimeout(timer);
      ws.close(1000);
      reject(new RelayError('ERR_ABORTED', 'relay: stopped'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string' || parseRelayControl(ev.data)?.type !== 'relay-ready') return;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(new BrowserRelayChannel(ws));
    };
    ws.onclose = (ev) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const why = parseCloseReason(ev.reason);
      reject(
        new RelayError(
          why?.code ?? 'ERR_CONNECT_TIMEOUT',
          `relay closed before the provider joined (${ev.code}${ev.reason === '' ? '' : `: ${ev.reason}`})`,
        ),
      );
    };
  });
}
