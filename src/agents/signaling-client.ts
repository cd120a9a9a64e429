/**
 * A client of the signaling server (docs/api.md): the REST calls, and the push WebSocket (§5) through which
 * sessions and signals arrive as they happen. When the push channel is down, callers poll the REST calls;
 * both paths see the same data. Given several instances of one cluster (`--server A,B`, ./server-list.ts),
 * it moves to the next when the one in use fails, and says so (`onFailover`); given one, nothing changes.
 */
import { Type } from '@sinclair/typebox';
import { request as httpsRequest } from 'node:https';
import WebSocket from 'ws';
import {
  AUTH_ERROR_CODES,
  ApiKeyWire,
  DeclineWire,
  ErrorWire,
  InitiateWire,
  ProviderWire,
  IceConfigWire,
  LoginWire,
  NewApiKeyWire,
  SessionWire,
  SignalWire,
  TransferWire,
  UserWire,
  WS_CLOSE,
  createChecker,
  decodePushServerMessage,
  parseCloseReason,
  type CancelBody,
  type Checker,
  type CreateKeyBody,
  type Catalog,
  type IceServerWire,
  type InitiateBody,
  type LoginBody,
  type PushClientMessage,
  type RequestTypesBody,
  type SignalBody,
  type SignalType as WireSignalType,
  type TransferBody,
} from '../wire/index.js';
import { AgentError, type AgentErrorCode } from './errors.js';
import { TrustAgent, tlsFailureOf, type ServerTrust } from './server-trust.js';
import { ServerPool, parseServerList, type FailoverEvent, type FailureKind } from './server-list.js';

/** A session as the server returns it (docs/api.md §2; src/wire/sessions.ts). User ids are strings. */
export type IceSession = SessionWire;

export type SignalType = WireSignalType;

/** A stored signal (docs/api.md §2). Its `signal_type` is any string: unknown types are ignored. */
export type IceSignal = SignalWire;

/** One entry of the ICE configuration's `ice_servers` (RTCIceServer). */
export type IceServerConfig = IceServerWire;

/** `GET /api/ice/config` (docs/api.md §4). */
export type IceConfig = IceConfigWire;

/** What a participant reports about a transfer (docs/api.md §3). */
export type TransferReport = TransferBody;

/** The user the token belongs to (`GET /api/me`). */
export type Me = UserWire;

export interface InitiateRequest {
  request_type: string;
  /** Sent JSON-encoded, as the seed does (`parameters` is a string on the wire). */
  parameters: Record<string, unknown>;
  target?: string;
  capabilities?: string[];
}

export interface PushHandlers {
  onSession?(session: IceSession): void;
  onSessionClaimed?(sessionId: string): void;
  onSignal?(signal: IceSignal): void;
  onSessionStatus?(sessionId: string, status: string): void;
  /** To a provider: the server released its claim `attempt` of the session (docs/api.md §3 "Claim timeout"). */
  onClaimReleased?(sessionId: string, attempt: number, code: string, message: string): void;
  /**
   * The push channel opened again after a drop (maybe on another instance of the list): what was pushed
   * meanwhile is lost, so callers read it back (their sessions' signals after the last id seen, statuses,
   * a provider's open sessions).
   */
  onResubscribed?(): void;
  /** The push channel opened (true) or dropped (false); callers poll while it is down. */
  onConnectionChange?(up: boolean): void;
  /** A push message that is not of the wire contract (ignored; `reason` says why), for logging. */
  onInvalidMessage?(reason: string): void;
}

// Every answer is checked against the wire contract before anyone reads it (compiled on first use).
const sessionCheck = createChecker(SessionWire);
const initiateCheck = createChecker(InitiateWire);
const providerCheck = createChecker(ProviderWire);
const providerListCheck = createChecker(Type.Array(ProviderWire));
const declineCheck = createChecker(DeclineWire);
const sessionListCheck = createChecker(Type.Array(SessionWire));
const signalCheck = createChecker(SignalWire);
const signalListCheck = createChecker(Type.Array(SignalWire));
const iceConfigCheck = createChecker(IceConfigWire);
const userCheck = createChecker(UserWire);
const transferCheck = createChecker(TransferWire);
const transferListCheck = createChecker(Type.Array(TransferWire));
const errorCheck = createChecker(ErrorWire);
const loginCheck = createChecker(LoginWire);
const newKeyCheck = createChecker(NewApiKeyWire);
const keyCheck = createChecker(ApiKeyWire);
const keyListCheck = createChecker(Type.Array(ApiKeyWire));

const AUTH_CODES: ReadonlySet<string> = new Set(AUTH_ERROR_CODES);

/**
 * The agent code for a server refusal: authentication failures (401, or an auth code on a WebSocket)
 * get their own, so a user with a bad or expired token is told so rather than "the server refused".
 */
function refusalCode(status: number | undefined, serverCode: string): AgentErrorCode {
  return status === 401 || AUTH_CODES.has(serverCode) ? 'ERR_AUTH' : 'ERR_SERVER';
}

export { normaliseServerUrl, parseServerList } from './server-list.js';

/** How a failed REST attempt counts for the failover (./server-list.ts); absent: not the instance's fault. */
const failureKinds = new WeakMap<Error, FailureKind>();

/** Network errors where the request never reached a server: any call may go to the next instance. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/** The system error code behind a failed fetch or https request (fetch puts it on `cause`). */
function networkCodeOf(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e !== undefined && e !== null && i < 4; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A push `signal` rejected because the push channel closed before the server answered (unknown outcome). */
const pushClosedErrors = new WeakSet<Error>();

/** Options of {@link SignalingClient}. */
export interface SignalingClientOptions {
  /** How an `https://` server's certificate is trusted (`--ca`, `--pin`); the system's CAs when absent. */
  trust?: ServerTrust | undefined;
}

export class SignalingClient {
  /** The instances of the cluster (`--server A,B`), and which one is in use (./server-list.ts). */
  readonly pool: ServerPool;
  readonly #token: string;
  /** For an `https://` server: the agent every REST call and WebSocket (push, relay) goes through. */
  readonly agent: TrustAgent | undefined;
  /** The same trust, without keep-alive: for WebSockets (ws takes the socket over). */
  readonly wsAgent: TrustAgent | undefined;
  #ws: WebSocket | undefined;
  #wsUp = false;
  #closed = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #handlers: PushHandlers = {};
  #refSeq = 0;
  /** The push channel opened once already: a later open is a resubscription (catch-up). */
  #pushOpened = false;
  #pending = new Map<number, { resolve: (s: IceSignal) => void; reject: (e: Error) => void }>();
  #authRefused: AgentError | undefined;
  readonly #authListeners = new Set<(err: AgentError) => void>();

  readonly #offFailover = new Set<() => void>();

  /**
   * @param server a URL, several separated by commas (one cluster's instances), or a pool shared with
   *   other clients (a request's retries keep to the instance that answered).
   * @param token a JWT or an API key; '' for the calls that need none (`login`).
   */
  constructor(server: string | ServerPool, token: string, options: SignalingClientOptions = {}) {
    this.pool = typeof server === 'string' ? new ServerPool(parseServerList(server)) : server;
    this.#token = token;
    if (this.pool.urls.some((u) => u.startsWith('https:'))) {
      const trust = options.trust ?? {};
      this.agent = new TrustAgent(trust, { keepAlive: true, maxSockets: 8 });
      this.wsAgent = new TrustAgent(trust);
    }
  }

  /** The server instance in use (the first of the list until one fails). */
  get server(): string {
    return this.pool.current;
  }

  /**
   * Calls `fn` each time the client moves to another instance of the list (`--server A,B`); returns the
   * function that unsubscribes. `close()` unsubscribes them all.
   */
  onFailover(fn: (e: FailoverEvent) => void): () => void {
    const off = this.pool.onFailover(fn);
    this.#offFailover.add(off);
    return () => {
      off();
      this.#offFailover.delete(off);
    };
  }

  /** True when given several instances (`--server A,B`). */
  get multiServer(): boolean {
    return this.pool.multi;
  }

  /** True while the push WebSocket is open. */
  get pushUp(): boolean {
    return this.#wsUp;
  }

  /** The server's refusal of this client's credential, once it happened (a 401, or a push close 4401). */
  get authRefused(): AgentError | undefined {
    return this.#authRefused;
  }

  /**
   * Calls `fn` once when the server refuses this client's credential (HTTP 401 on any call, or the push
   * channel closed with 4401: revoked, expired, unknown), or at once if it already has. A refused credential
   * does not come back: whoever waits on the server should stop. Returns the function that unsubscribes.
   */
  onAuthRefused(fn: (err: AgentError) => void): () => void {
    if (this.#authRefused !== undefined) {
      fn(this.#authRefused);
      return () => undefined;
    }
    this.#authListeners.add(fn);
    return () => this.#authListeners.delete(fn);
  }

  #refuseAuth(err: AgentError): void {
    if (this.#authRefused !== undefined || this.#token === '') return;
    this.#authRefused = err;
    for (const fn of [...this.#authListeners]) fn(err);
    this.#authListeners.clear();
  }

  /**
   * One REST call. A refusal (any status but `okStatus`) is an AgentError carrying the server's status and
   * code; an answer that is not JSON of the expected shape is `ERR_SERVER_RESPONSE`, never handed on.
   */
  async #request<T>(
    method: string,
    path: string,
    checker: Checker<T>,
    body?: unknown,
    okStatus: number[] = [200],
    safe: boolean = method !== 'POST',
  ): Promise<T> {
    if (!this.pool.multi) return this.#requestAt(this.pool.current, method, path, checker, body, okStatus);
    // Several instances: the call goes to the one in use, and on to the next when that one is down
    // (refused, reset, timed out, 502/503/504) — a call that may have been processed only when it is safe
    // to repeat (`safe`); a refusal or a TLS trust error is the answer, not a failover.
    return this.pool.run(
      (url) => this.#requestAt(url, method, path, checker, body, okStatus),
      (err) => failureKinds.get(err as Error) ?? 'fatal',
      safe,
    );
  }

  async #requestAt<T>(
    server: string,
    method: string,
    path: string,
    checker: Checker<T>,
    body: unknown,
    okStatus: number[],
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.#token !== '') headers['authorization'] = `Bearer ${this.#token}`;
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(15_000) };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res: { status: number; text: string };
    try {
      if (this.agent !== undefined) {
        res = await httpsCall(server + path, method, headers, init.body as string | undefined, this.agent);
      } else {
        const r = await fetch(server + path, init);
        res = { status: r.status, text: await r.text() };
      }
    } catch (err) {
      const tls = tlsFailureOf(err);
      if (tls !== undefined)
        throw new AgentError(tls.code, `${method} ${path}: ${tls.message}`, { cause: tls });
      const unreachable = new AgentError(
        'ERR_SERVER_UNREACHABLE',
        `${method} ${path}: ${describeFetchError(err)}`,
        { cause: err },
      );
      failureKinds.set(unreachable, NOT_SENT_CODES.has(networkCodeOf(err) ?? '') ? 'not-sent' : 'maybe-sent');
      throw unreachable;
    }
    const text = res.text;
    if (!okStatus.includes(res.status)) {
      let code = `HTTP_${res.status}`;
      let message = text.slice(0, 300);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (a proxy's page): keep the raw text
      }
      if (errorCheck.check(parsed)) {
        code = parsed.error.code;
        message = parsed.error.message;
      }
      const refusal = new AgentError(
        refusalCode(res.status, code),
        `${method} ${path} → ${res.status} ${code}: ${message}`,
        {
          status: res.status,
          serverCode: code,
        },
      );
      if (res.status === 401) this.#refuseAuth(refusal);
      // an instance (or the proxy before it) that cannot serve now: another may
      if (res.status === 503) failureKinds.set(refusal, 'not-sent');
      else if (res.status === 502 || res.status === 504) failureKinds.set(refusal, 'maybe-sent');
      throw refusal;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new AgentError(
        'ERR_SERVER_RESPONSE',
        `${method} ${path} → ${res.status}: the answer is not JSON (${(err as Error).message})`,
        { status: res.status, cause: err },
      );
    }
    if (!checker.check(value)) {
      throw new AgentError(
        'ERR_SERVER_RESPONSE',
        `${method} ${path} → ${res.status}: the answer is not of the wire contract: ${checker.explain(value)}`,
        { status: res.status },
      );
    }
    return value;
  }

  iceConfig(): Promise<IceConfig> {
    return this.#request('GET', '/api/ice/config', iceConfigCheck);
  }

  me(): Promise<Me> {
    return this.#request('GET', '/api/me', userCheck);
  }

  setRequestTypes(types: string[]): Promise<Me> {
    const body: RequestTypesBody = { request_types: types };
    return this.#request('PUT', '/api/me/request-types', userCheck, body);
  }

  /** Announces the provider's catalog (docs/api.md §12). */
  putCatalog(catalog: Catalog): Promise<ProviderWire> {
    return this.#request('PUT', '/api/providers/me/catalog', providerCheck, catalog);
  }

  /** The providers online and what each offers (docs/api.md §12). */
  listProviders(): Promise<ProviderWire[]> {
    return this.#request('GET', '/api/providers', providerListCheck);
  }

  /** A provider will not serve a pending session: the server offers it to the others (docs/api.md §12). */
  decline(sessionId: string, code: string, message: string): Promise<DeclineWire> {
    // repeated after an instance died mid-call: a second decline of the same session changes nothing
    return this.#request(
      'POST',
      `/api/ice/sessions/${encodeURIComponent(sessionId)}/decline`,
      declineCheck,
      { code, message: message.slice(0, 2000) },
      [200],
      true,
    );
  }

  initiate(req: InitiateRequest): Promise<InitiateWire> {
    const body: InitiateBody = {
      request_type: req.request_type,
      parameters: JSON.stringify(req.parameters),
      file_name: `${req.request_type}_data`,
      file_size: 0,
      file_type: 'application/octet-stream',
    };
    if (req.target !== undefined) body.target = req.target;
    if (req.capabilities !== undefined) body.capabilities = req.capabilities;
    return this.#request('POST', '/api/ice/initiate', initiateCheck, body, [201]);
  }

  listSessions(): Promise<IceSession[]> {
    return this.#request('GET', '/api/ice/sessions', sessionListCheck);
  }

  getSignals(sessionId: string, after = 0): Promise<IceSignal[]> {
    const q = after > 0 ? `?after=${after}` : '';
    return this.#request('GET', `/api/ice/signals/${encodeURIComponent(sessionId)}${q}`, signalListCheck);
  }

  /**
   * Posts a signal: over the push channel when it is up (one round trip less), else over REST.
   * Resolves with the stored signal; rejects with the server's error (e.g. ERR_SESSION_CLAIMED on 409).
   */
  async sendSignal(sessionId: string, type: SignalType, data: unknown): Promise<IceSignal> {
    const signalData = typeof data === 'string' ? data : JSON.stringify(data);
    const body: SignalBody = { session_id: sessionId, signal_type: type, signal_data: signalData };
    const ws = this.#ws;
    if (this.#wsUp && ws !== undefined && ws.readyState === WebSocket.OPEN) {
      const ref = ++this.#refSeq;
      const overPush = new Promise<IceSignal>((resolve, reject) => {
        this.#pending.set(ref, { resolve, reject });
        const message: PushClientMessage = {
          type: 'signal',
          ref,
          session_id: sessionId,
          signal_type: type,
          signal_data: signalData,
        };
        ws.send(JSON.stringify(message));
      });
      if (!this.pool.multi) return overPush;
      // Several instances: the push channel closing before the answer (its instance died) leaves the
      // signal stored or not; it is posted again over REST, which goes to the next instance.
      return overPush.catch((err: unknown) => {
        if (!pushClosedErrors.has(err as Error)) throw err;
        return this.#request('POST', '/api/ice/signal', signalCheck, body, [200], true);
      });
    }
    // Repeated on the next instance even when the first may have stored it: the receiving agent takes a
    // signal of the same type, attempt and data once (SignalRouter), so a duplicate changes nothing.
    return this.#request('POST', '/api/ice/signal', signalCheck, body, [200], true);
  }

  reportTransfer(sessionId: string, report: TransferReport): Promise<TransferWire> {
    // a report stored twice is refused the second time (or records the same outcome): safe to repeat
    return this.#request(
      'POST',
      `/api/transfers/${encodeURIComponent(sessionId)}`,
      transferCheck,
      report,
      [200],
      true,
    );
  }

  /**
   * `GET /api/transfers`: the caller's transfers, newest first, with the participants' names, filtered
   * (docs/api.md §3): `status`, `type`, `provider` (a user name), `since`/`until` (ISO 8601), `limit`.
   */
  listTransfers(
    filter: Partial<Record<'status' | 'type' | 'provider' | 'since' | 'until' | 'limit', string>> = {},
  ) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, v);
    const qs = q.toString();
    return this.#request('GET', `/api/transfers${qs === '' ? '' : `?${qs}`}`, transferListCheck);
  }

  /** Cancels the session; `reason` is recorded as its outcome (docs/api.md §3 "Outcome"). */
  cancel(sessionId: string, reason?: CancelBody): Promise<IceSession> {
    return this.#request(
      'POST',
      `/api/ice/sessions/${encodeURIComponent(sessionId)}/cancel`,
      sessionCheck,
      reason,
      [200],
      true,
    );
  }

  /** `POST /api/auth/login` (needs no token): a JWT for the user. */
  login(username: string, password: string): Promise<LoginWire> {
    const body: LoginBody = { username, password };
    return this.#request('POST', '/api/auth/login', loginCheck, body, [200], true);
  }

  /** `POST /api/keys`: a new API key of the caller, its secret shown this once (docs/api.md §1.1). */
  createKey(name: string, expiresInS?: number): Promise<NewApiKeyWire> {
    const body: CreateKeyBody = { name, ...(expiresInS === undefined ? {} : { expires_in: expiresInS }) };
    return this.#request('POST', '/api/keys', newKeyCheck, body, [201]);
  }

  /** `GET /api/keys`: the caller's keys, newest first, without secrets. */
  listKeys(): Promise<ApiKeyWire[]> {
    return this.#request('GET', '/api/keys', keyListCheck);
  }

  /** `DELETE /api/keys/{id}`: revokes one of the caller's keys. */
  revokeKey(id: string): Promise<ApiKeyWire> {
    return this.#request('DELETE', `/api/keys/${encodeURIComponent(id)}`, keyCheck);
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

  #openWs(
    onFirstOpen: (() => void) | undefined,
    onFirstFail: ((e: Error) => void) | undefined,
    attempt: number,
  ) {
    if (this.#closed) return;
    const base = this.server;
    const url = base.replace(/^http/, 'ws') + '/api/ws';
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.#token}` },
      ...(this.wsAgent === undefined ? {} : { agent: this.wsAgent }),
    });
    this.#ws = ws;
    let opened = false;
    ws.on('open', () => {
      opened = true;
      this.#wsUp = true;
      const again = this.#pushOpened;
      this.#pushOpened = true;
      if (this.pool.multi) this.pool.succeeded(base);
      this.#handlers.onConnectionChange?.(true);
      // subscribed again (after a drop, or on another instance): what came meanwhile is read back
      if (again) this.#handlers.onResubscribed?.();
      onFirstOpen?.();
      onFirstOpen = undefined;
      onFirstFail = undefined;
    });
    ws.on('message', (raw, isBinary) => {
      if (isBinary) return;
      this.#onPush(raw.toString());
    });
    let tlsFailure: AgentError | undefined;
    ws.on('error', (err) => {
      // 'close' follows and handles it
      tlsFailure ??= tlsFailureOf(err);
    });
    ws.on('close', (code, reason) => {
      const wasUp = this.#wsUp;
      this.#wsUp = false;
      if (this.#ws === ws) this.#ws = undefined;
      for (const p of this.#pending.values()) {
        const e = new AgentError('ERR_SERVER_UNREACHABLE', 'push channel closed before the server answered');
        pushClosedErrors.add(e);
        p.reject(e);
      }
      this.#pending.clear();
      if (wasUp) this.#handlers.onConnectionChange?.(false);
      if (!opened && onFirstFail !== undefined) {
        onFirstFail(
          tlsFailure !== undefined
            ? new AgentError(tlsFailure.code, `push channel ${url}: ${tlsFailure.message}`, {
                cause: tlsFailure,
              })
            : new AgentError(
                'ERR_SERVER_UNREACHABLE',
                `push channel ${url}: closed ${code} ${reason.toString()}`,
              ),
        );
        onFirstFail = undefined;
        onFirstOpen = undefined;
      }
      // A refused credential (the server accepts the upgrade, then closes 4401: at once for a bad one, later
      // when its key is revoked or it expires) is not retried: it will not come back.
      if (code === WS_CLOSE.UNAUTHENTICATED) {
        const text = reason.toString();
        const serverCode = parseCloseReason(text)?.code ?? 'ERR_TOKEN_INVALID';
        this.#refuseAuth(new AgentError('ERR_AUTH', `push channel closed 4401: ${text}`, { serverCode }));
        return;
      }
      if (this.#closed) return;
      if (this.pool.multi && code !== 1000 && tlsFailure === undefined) {
        // Its instance went away (killed: 1006, shut down: 1001) or refused us: on to the next one, with
        // the pool's backoff (it grows each full round, so instances all down are not hammered).
        this.pool.failed(
          base,
          `push channel closed ${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}`,
        );
        this.#reconnectTimer = setTimeout(() => this.#openWs(undefined, undefined, 0), this.pool.delayMs());
        this.#reconnectTimer.unref();
        return;
      }
      const delay = Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
      this.#reconnectTimer = setTimeout(
        () => this.#openWs(undefined, undefined, opened ? 0 : attempt + 1),
        delay,
      );
      this.#reconnectTimer.unref();
    });
  }

  #onPush(text: string) {
    const h = this.#handlers;
    const decoded = decodePushServerMessage(text);
    if (!decoded.ok) {
      // A server that sends garbage is ignored, not trusted; but a `result` answering one of our signals
      // still settles it, so its sender gets an error rather than waiting forever.
      const parsed = decoded.parsed as { type?: unknown; ref?: unknown } | null | undefined;
      const ref = parsed?.ref;
      const p = parsed?.type === 'result' && typeof ref === 'number' ? this.#pending.get(ref) : undefined;
      if (p !== undefined) {
        this.#pending.delete(ref as number);
        p.reject(
          new AgentError(
            'ERR_SERVER_RESPONSE',
            `push: the signal's result is not of the wire contract: ${decoded.error}`,
          ),
        );
      }
      h.onInvalidMessage?.(decoded.error);
      return;
    }
    const msg = decoded.value;
    switch (msg.type) {
      case 'session':
        h.onSession?.(msg.session);
        break;
      case 'session-claimed':
        h.onSessionClaimed?.(msg.session_id);
        break;
      case 'signal':
        h.onSignal?.(msg.signal);
        break;
      case 'session-status':
        h.onSessionStatus?.(msg.session_id, msg.status);
        break;
      case 'claim-released':
        h.onClaimReleased?.(msg.session_id, msg.attempt, msg.code, msg.message);
        break;
      case 'result': {
        const ref = msg.ref;
        if (typeof ref !== 'number') break;
        const p = this.#pending.get(ref);
        if (p === undefined) break;
        this.#pending.delete(ref);
        if (msg.ok) p.resolve(msg.signal);
        else {
          const { code, message } = msg.error;
          p.reject(
            new AgentError(refusalCode(undefined, code), `signal refused: ${code}: ${message}`, {
              serverCode: code,
            }),
          );
        }
        break;
      }
      case 'hello':
      case 'pong':
        break;
    }
  }

  /** Closes the push channel; REST calls keep working. */
  close(): void {
    this.#closed = true;
    for (const off of this.#offFailover) off();
    this.#offFailover.clear();
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#ws?.close(1000);
    this.#ws = undefined;
    this.#wsUp = false;
    this.agent?.destroy();
  }
}

/** Largest answer body read from the server. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** One REST call over node:https through `agent` (fetch cannot take a CA or a pin without undici). */
function httpsCall(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  agent: TrustAgent,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (body !== undefined) h['content-length'] = String(Buffer.byteLength(body));
    const req = httpsRequest(
      url,
      { method, headers: h, agent, signal: AbortSignal.timeout(15_000) },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) {
            req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) return `${err.message} (${cause.message})`;
    return err.message;
  }
  return String(err);
}
