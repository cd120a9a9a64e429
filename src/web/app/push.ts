/**
 * The push channel in the page (docs/api.md §5): one WebSocket to `/api/ws`, the token offered as the
 * subprotocol pair `sdrlink-bearer, <token>` (a page cannot set headers; the URL stays clean). Every
 * message is checked against `src/wire` (`decodePushServerMessage`); what fails is ignored, as the agents
 * do. Signals and status changes are routed to the session that listens for them; those that come before
 * anyone listens (a provider's offer racing the page's `initiate` answer) wait in a per-session queue.
 */
import {
  WS_BEARER_PROTOCOL,
  decodePushServerMessage,
  parseCloseReason,
  type SignalWire,
} from '../../wire/index.js';

export interface SessionListener {
  signal(sig: SignalWire): void;
  status(status: string): void;
}

/** Signals kept for a session nobody listens to yet, at most this many. */
const MAX_EARLY = 256;

export class PushClient {
  #ws: WebSocket | undefined;
  readonly #listeners = new Map<string, SessionListener>();
  readonly #early = new Map<string, Array<{ sig?: SignalWire; status?: string }>>();
  /** Why the socket closed, when the server said (`ERR_…: …`). */
  closedWith: { code: string; message: string } | undefined;

  /** Opens the socket; resolves on the server's `hello`, rejects on a refusal (4401 …) or a failure. */
  connect(token: string): Promise<{ user_id: string; client_type: number }> {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws`;
    const ws = new WebSocket(url, [WS_BEARER_PROTOCOL, token]);
    this.#ws = ws;
    return new Promise((resolve, reject) => {
      let hello = false;
      ws.onmessage = (ev) => {
        if (typeof ev.data !== 'string') return;
        const d = decodePushServerMessage(ev.data);
        if (!d.ok) return;
        const m = d.value;
        if (m.type === 'hello') {
          hello = true;
          resolve({ user_id: m.user_id, client_type: m.client_type });
        } else if (m.type === 'signal') this.#route(m.signal.session_id, { sig: m.signal });
        else if (m.type === 'session-status') this.#route(m.session_id, { status: m.status });
      };
      ws.onclose = (ev) => {
        const why = parseCloseReason(ev.reason);
        this.closedWith =
          why !== undefined
            ? { code: why.code, message: why.detail }
            : { code: 'ERR_PUSH_CLOSED', message: `push channel closed (${ev.code})` };
        if (!hello) reject(Object.assign(new Error(this.closedWith.message), { code: this.closedWith.code }));
        for (const l of this.#listeners.values()) l.status('push-closed');
      };
    });
  }

  get open(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** Routes the session's signals and status changes to `l` (those that came already first). */
  listen(sessionId: string, l: SessionListener): () => void {
    this.#listeners.set(sessionId, l);
    const early = this.#early.get(sessionId) ?? [];
    this.#early.delete(sessionId);
    for (const e of early) {
      if (e.sig !== undefined) l.signal(e.sig);
      if (e.status !== undefined) l.status(e.status);
    }
    return () => {
      if (this.#listeners.get(sessionId) === l) this.#listeners.delete(sessionId);
    };
  }

  #route(sessionId: string, e: { sig?: SignalWire; status?: string }): void {
    const l = this.#listeners.get(sessionId);
    if (l !== undefined) {
      if (e.sig !== undefined) l.signal(e.sig);
      if (e.status !== undefined) l.status(e.status);
      return;
    }
    const q = this.#early.get(sessionId) ?? [];
    if (q.length < MAX_EARLY) q.push(e);
    this.#early.set(sessionId, q);
    if (this.#early.size > 64) this.#early.delete(this.#early.keys().next().value as string);
  }

  close(): void {
    this.#ws?.close(1000);
    this.#ws = undefined;
    this.#listeners.clear();
    this.#early.clear();
  }
}
