/**
 * A client of the signaling server (docs/api.md): the REST calls, and the push WebSocket (§5) through which
 * sessions and signals arrive as they happen. When the push channel is down, callers poll the REST calls;
 * both paths see the same data.
 */
import WebSocket from 'ws';
import { AgentError } from './errors.js';

/** A session as the server returns it (docs/api.md §2). User ids are strings on the wire. */
export interface IceSession {
  session_id: string;
  initiator_user_id: string;
  target_user_id: string;
  request_type: string;
  parameters: string;
  status: string;
  capabilities?: string[];
  created_at?: string;
}

export type SignalType = 'offer' | 'answer' | 'candidate' | 'error';

/** A stored signal (docs/api.md §2). */
export interface IceSignal {
  id: number;
  session_id: string;
  signal_type: SignalType | string;
  signal_data: string;
  from_client_id: string;
  to_client_id: string;
}

export interface IceServerConfig {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface IceConfig {
  ice_servers: IceServerConfig[];
  relay_after_ms?: number;
}

/** What a participant reports about a transfer (docs/api.md §3). */
export interface TransferReport {
  status: 'connected' | 'transferring' | 'completed' | 'failed';
  file_name?: string;
  file_size?: number;
  bytes?: number;
  sha256?: string;
  transport?: 'p2p' | 'relay';
  duration_ms?: number;
  error?: string;
  verified?: boolean;
}

export interface InitiateRequest {
  request_type: string;
  parameters: Record<string, unknown>;
  target?: string;
  capabilities?: string[];
}

export interface PushHandlers {
  onSession?(session: IceSession): void;
  onSessionClaimed?(sessionId: string): void;
  onSignal?(signal: IceSignal): void;
  onSessionStatus?(sessionId: string, status: string): void;
  /** The push channel opened (true) or dropped (false); callers poll while it is down. */
  onConnectionChange?(up: boolean): void;
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

/** Normalises `http://host:port/` to `http://host:port`. */
export function normaliseServerUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new AgentError('ERR_CONFIG', `--server: not a URL: ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new AgentError('ERR_CONFIG', `--server: must be http:// or https://, got ${u.protocol}`);
  }
  return u.origin + u.pathname.replace(/\/+$/, '');
}

export class SignalingClient {
  readonly server: string;
  readonly #token: string;
  #ws: WebSocket | undefined;
  #wsUp = false;
  #closed = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #handlers: PushHandlers = {};
  #refSeq = 0;
  #pending = new Map<number, { resolve: (s: IceSignal) => void; reject: (e: Error) => void }>();

  constructor(server: string, token: string) {
    this.server = normaliseServerUrl(server);
    this.#token = token;
  }

  /** True while the push WebSocket is open. */
  get pushUp(): boolean {
    return this.#wsUp;
  }

  async #request<T>(method: string, path: string, body?: unknown, okStatus: number[] = [200]): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` };
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(15_000) };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(this.server + path, init);
    } catch (err) {
      throw new AgentError('ERR_SERVER_UNREACHABLE', `${method} ${path}: ${describeFetchError(err)}`, {
        cause: err,
      });
    }
    const text = await res.text();
    if (!okStatus.includes(res.status)) {
      let code = `HTTP_${res.status}`;
      let message = text.slice(0, 300);
      try {
        const parsed = JSON.parse(text) as ErrorBody;
        if (typeof parsed.error?.code === 'string') code = parsed.error.code;
        if (typeof parsed.error?.message === 'string') message = parsed.error.message;
      } catch {
        // not JSON: keep the raw text
      }
      throw new AgentError('ERR_SERVER', `${method} ${path} → ${res.status} ${code}: ${message}`, {
        status: res.status,
        serverCode: code,
      });
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  iceConfig(): Promise<IceConfig> {
    return this.#request<IceConfig>('GET', '/api/ice/config');
  }

  me(): Promise<{ user_id: string; username: string; client_type: number; request_types?: string[] }> {
    return this.#request('GET', '/api/me');
  }

  setRequestTypes(types: string[]): Promise<unknown> {
    return this.#request('PUT', '/api/me/request-types', { request_types: types });
  }

  initiate(req: InitiateRequest): Promise<IceSession> {
    const body: Record<string, unknown> = {
      request_type: req.request_type,
      parameters: JSON.stringify(req.parameters),
      file_name: `${req.request_type}_data`,
      file_size: 0,
      file_type: 'application/octet-stream',
    };
    if (req.target !== undefined) body['target'] = req.target;
    if (req.capabilities !== undefined) body['capabilities'] = req.capabilities;
    return this.#request<IceSession>('POST', '/api/ice/initiate', body, [201]);
  }

  listSessions(): Promise<IceSession[]> {
    return this.#request<IceSession[]>('GET', '/api/ice/sessions');
  }

  getSignals(sessionId: string, after = 0): Promise<IceSignal[]> {
    const q = after > 0 ? `?after=${after}` : '';
    return this.#request<IceSignal[]>('GET', `/api/ice/signals/${encodeURIComponent(sessionId)}${q}`);
  }

  /**
   * Posts a signal: over the push channel when it is up (one round trip less), else over REST.
   * Resolves with the stored signal; rejects with the server's error (e.g. ERR_SESSION_CLAIMED on 409).
   */
  async sendSignal(sessionId: string, type: SignalType, data: unknown): Promise<IceSignal> {
    const signalData = typeof data === 'string' ? data : JSON.stringify(data);
    const ws = this.#ws;
    if (this.#wsUp && ws !== undefined && ws.readyState === WebSocket.OPEN) {
      const ref = ++this.#refSeq;
      return new Promise<IceSignal>((resolve, reject) => {
        this.#pending.set(ref, { resolve, reject });
        ws.send(
          JSON.stringify({
            type: 'signal',
            ref,
            session_id: sessionId,
            signal_type: type,
            signal_data: signalData,
          }),
        );
      });
    }
    return this.#request<IceSignal>('POST', '/api/ice/signal', {
      session_id: sessionId,
      signal_type: type,
      signal_data: signalData,
    });
  }

  reportTransfer(sessionId: string, report: TransferReport): Promise<unknown> {
    return this.#request('POST', `/api/transfers/${encodeURIComponent(sessionId)}`, report);
  }

  cancel(sessionId: string): Promise<unknown> {
    return this.#request('POST', `/api/ice/sessions/${encodeURIComponent(sessionId)}/cancel`);
  }

  /**
   * Opens the push channel and keeps it open (reconnecting with backoff) until `close()`.
   * Resolves once it is open the first time, or rejects if that fails (callers then poll).
   */
  connectPush(handlers: PushHandlers): Promise<void> {
    this.#handlers = handlers;
    return new Promise<void>((resolve, reject) => {
      this.#openWs(resolve, reject, 0);
    });
  }

  #openWs(onFirstOpen: (() => void) | undefined, onFirstFail: ((e: Error) => void) | undefined, attempt: number) {
    if (this.#closed) return;
    const url = this.server.replace(/^http/, 'ws') + '/api/ws';
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${this.#token}` } });
    this.#ws = ws;
    let opened = false;
    ws.on('open', () => {
      opened = true;
      this.#wsUp = true;
      this.#handlers.onConnectionChange?.(true);
      onFirstOpen?.();
      onFirstOpen = undefined;
      onFirstFail = undefined;
    });
    ws.on('message', (raw, isBinary) => {
      if (isBinary) return;
      this.#onPush(raw.toString());
    });
    ws.on('error', () => {
      // 'close' follows and handles it
    });
    ws.on('close', (code, reason) => {
      const wasUp = this.#wsUp;
      this.#wsUp = false;
      if (this.#ws === ws) this.#ws = undefined;
      for (const p of this.#pending.values()) {
        p.reject(new AgentError('ERR_SERVER_UNREACHABLE', 'push channel closed before the server answered'));
      }
      this.#pending.clear();
      if (wasUp) this.#handlers.onConnectionChange?.(false);
      if (!opened && onFirstFail !== undefined) {
        onFirstFail(
          new AgentError('ERR_SERVER_UNREACHABLE', `push channel ${url}: closed ${code} ${reason.toString()}`),
        );
        onFirstFail = undefined;
        onFirstOpen = undefined;
      }
      if (this.#closed || code === 4401) return;
      const delay = Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
      this.#reconnectTimer = setTimeout(() => this.#openWs(undefined, undefined, opened ? 0 : attempt + 1), delay);
      this.#reconnectTimer.unref();
    });
  }

  #onPush(text: string) {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return; // a server that sends garbage is ignored, not trusted
    }
    const h = this.#handlers;
    switch (msg['type']) {
      case 'session':
        if (isSession(msg['session'])) h.onSession?.(msg['session']);
        break;
      case 'session-claimed':
        if (typeof msg['session_id'] === 'string') h.onSessionClaimed?.(msg['session_id']);
        break;
      case 'signal':
        if (isSignal(msg['signal'])) h.onSignal?.(msg['signal']);
        break;
      case 'session-status':
        if (typeof msg['session_id'] === 'string' && typeof msg['status'] === 'string') {
          h.onSessionStatus?.(msg['session_id'], msg['status']);
        }
        break;
      case 'result': {
        const ref = msg['ref'];
        if (typeof ref !== 'number') break;
        const p = this.#pending.get(ref);
        if (p === undefined) break;
        this.#pending.delete(ref);
        if (msg['ok'] === true && isSignal(msg['signal'])) p.resolve(msg['signal']);
        else {
          const e = (msg['error'] ?? {}) as { code?: unknown; message?: unknown };
          const code = typeof e.code === 'string' ? e.code : 'ERR_UNKNOWN';
          p.reject(
            new AgentError('ERR_SERVER', `signal refused: ${code}: ${String(e.message ?? '')}`, {
              serverCode: code,
            }),
          );
        }
        break;
      }
      default:
        break;
    }
  }

  /** Closes the push channel; REST calls keep working. */
  close(): void {
    this.#closed = true;
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#ws?.close(1000);
    this.#ws = undefined;
    this.#wsUp = false;
  }
}

function isSession(v: unknown): v is IceSession {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s['session_id'] === 'string' &&
    typeof s['request_type'] === 'string' &&
    typeof s['parameters'] === 'string'
  );
}

function isSignal(v: unknown): v is IceSignal {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s['id'] === 'number' &&
    typeof s['session_id'] === 'string' &&
    typeof s['signal_type'] === 'string' &&
    typeof s['signal_data'] === 'string'
  );
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) return `${err.message} (${cause.message})`;
    return err.message;
  }
  return String(err);
}
