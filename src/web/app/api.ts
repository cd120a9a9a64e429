/**
 * The page's REST client (docs/api.md): JSON in and out, the token in an `Authorization` header (never in
 * a URL), every answer checked against its `src/wire` schema before the page uses it, and every refusal
 * turned into an {@link ApiError} carrying the server's own code and message.
 */
import {
  ErrorWire,
  IceConfigWire,
  InitiateWire,
  LoginWire,
  ProviderWire,
  TransferWire,
  UserWire,
  createChecker,
  type Checker,
  type InitiateBody,
  type TransferBody,
} from '../../wire/index.js';
import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** A refusal: the server's `{"error":{code,message}}`, or the page's own code when the server gave none. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const errorCheck = createChecker(ErrorWire);
const checkers = new Map<TSchema, Checker<unknown>>();
function checkerOf<S extends TSchema>(schema: S): Checker<Static<S>> {
  let c = checkers.get(schema);
  if (c === undefined) checkers.set(schema, (c = createChecker(schema)));
  return c as Checker<Static<S>>;
}

const ProviderList = Type.Array(ProviderWire);
const TransferList = Type.Array(TransferWire);
const AppConfig = Type.Object({ registration: Type.Union([Type.Literal('open'), Type.Literal('closed')]) });

export class Api {
  /** The credential (a JWT from login), kept in memory; the caller also keeps it in sessionStorage. */
  token: string | undefined;

  constructor(private readonly base = '') {}

  /** Calls `method path` and checks the answer against `schema`. */
  async call<S extends TSchema>(method: string, path: string, schema: S, body?: unknown): Promise<Static<S>> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (err) {
      throw new ApiError(
        'ERR_NETWORK',
        `${method} ${path}: the server cannot be reached (${String(err)})`,
        0,
      );
    }
    let parsed: unknown;
    try {
      parsed = await res.json();
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      if (errorCheck.check(parsed)) throw new ApiError(parsed.error.code, parsed.error.message, res.status);
      throw new ApiError('ERR_SERVER_RESPONSE', `${method} ${path}: HTTP ${res.status}`, res.status);
    }
    const check = checkerOf(schema);
    if (!check.check(parsed)) {
      throw new ApiError(
        'ERR_SERVER_RESPONSE',
        `${method} ${path}: an answer off the contract (${check.explain(parsed)})`,
        res.status,
      );
    }
    return parsed;
  }

  appConfig() {
    return this.call('GET', '/app-config.json', AppConfig);
  }
  login(username: string, password: string) {
    return this.call('POST', '/api/auth/login', LoginWire, { username, password });
  }
  register(username: string, password: string, clientType: 1 | 2) {
    return this.call('POST', '/api/auth/register', UserWire, {
      username,
      password,
      client_type: clientType,
    });
  }
  me() {
    return this.call('GET', '/api/me', UserWire);
  }
  providers() {
    return this.call('GET', '/api/providers', ProviderList);
  }
  iceConfig() {
    return this.call('GET', '/api/ice/config', IceConfigWire);
  }
  initiate(body: InitiateBody) {
    return this.call('POST', '/api/ice/initiate', InitiateWire, body);
  }
  signal(sessionId: string, type: 'answer' | 'candidate' | 'error', data: unknown) {
    return this.call('POST', '/api/ice/signal', Type.Object({ id: Type.Integer() }), {
      session_id: sessionId,
      signal_type: type,
      signal_data: JSON.stringify(data),
    });
  }
  report(sessionId: string, body: TransferBody) {
    return this.call('POST', `/api/transfers/${encodeURIComponent(sessionId)}`, Type.Unknown(), body);
  }
  cancel(sessionId: string, code: string, message: string) {
    return this.call('POST', `/api/ice/sessions/${encodeURIComponent(sessionId)}/cancel`, Type.Unknown(), {
      code,
      message: message.slice(0, 1024),
    });
  }
  transfers(limit = 50) {
    return this.call('GET', `/api/transfers?limit=${limit}`, TransferList);
  }
}
