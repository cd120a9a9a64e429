/**
 * Server configuration: defaults, environment variables and command-line flags, in that order of
 * precedence (flag > env > default). This is the only module that reads `process.env` for the server.
 */
import { resolve } from 'node:path';
import { parseDurationS, parseTurnUrls, turnSecretProblem, type TurnOptions } from './turn.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** One entry of RTCConfiguration.iceServers (docs/api.md §4). */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface RelayOptions {
  /** Bytes the server queues toward one side before it stops reading the other (docs/api.md §6). */
  windowBytes: number;
  /** Largest relayed message. */
  maxMessageBytes: number;
  /** Relays open at once (waiting or running). */
  maxRelays: number;
  /** Relays one user may take part in at once (either side). */
  maxRelaysPerUser: number;
  /** Bytes one relay may carry (both directions). */
  maxBytesPerRelay: number;
  /** Bytes a user's relays may carry per `userWindowMs`. */
  maxBytesPerUser: number;
  userWindowMs: number;
  /** How long the first side waits for the other before 4408. */
  joinTimeoutMs: number;
}

export interface LoginLimitOptions {
  /** Failed logins per username+IP within `windowMs` before 429 (an IP alone gets 5× as many). */
  maxFailures: number;
  windowMs: number;
  /** Registrations per IP within `windowMs`. */
  maxRegistrations: number;
}

export interface ServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** SQLite file path, `:memory:`, or a PostgreSQL URL `postgres://USER:PASSWORD@HOST:PORT/DB`. */
  db: string;
  /**
   * HS256 secret (≥ 32 characters). When absent, read from or created at `<db>.jwt-secret` (SQLite); on
   * PostgreSQL it must be given (SDRLINK_JWT_SECRET), the same to every server on the database.
   */
  jwtSecret: string | undefined;
  tokenTtlS: number;
  logLevel: LogLevel;
  iceServers: IceServer[];
  /** Hint to agents: how long to try a direct connection before falling back to the relay. */
  relayAfterMs: number;
  /** A session not final and untouched this long becomes `expired`. */
  sessionTtlMs: number;
  sweepIntervalMs: number;
  /**
   * A claimed (`offered`) session of an sdrlink consumer that no participant reports `connected` within
   * this long is released and offered to the other providers (docs/api.md §3). 0 = never.
   */
  claimTimeoutMs: number;
  /** Request types accepted even when no provider declares them. */
  requestTypes: string[];
  /** Whether `POST /api/auth/register` is open (default closed: operators create users, docs/security.md). */
  registration: boolean;
  /** Largest request body in bytes. */
  bodyLimit: number;
  /** Largest `signal_data` in bytes. */
  signalMaxBytes: number;
  /** Sessions a consumer may have open (not final) at once. */
  maxOpenSessionsPerUser: number;
  /** Sessions a user may create per minute (`POST /api/ice/initiate`); 429 beyond. */
  sessionsPerMinute: number;
  /** Push WebSockets (`/api/ws`) one user may hold open at once. */
  maxPushPerUser: number;
  /**
   * Final sessions older than this (by their last change) lose their signals, candidates, status history
   * and declines; their session and transfer rows stay (history). 0 = keep everything.
   */
  retentionMs: number;
  /** How often the retention pass runs. */
  retentionIntervalMs: number;
  /** How often the server re-reads which users are disabled (`sdrlink user disable` writes the database). */
  userPollMs: number;
  login: LoginLimitOptions;
  relay: RelayOptions;
  /** Trust X-Forwarded-For (behind a reverse proxy) for client addresses. */
  trustProxy: boolean;
  /**
   * Browser origins (`scheme://host[:port]`, normalized) allowed to call the API (CORS) and to open its
   * WebSockets besides the server's own; `['*']` allows any. Empty: same-origin pages only.
   */
  corsOrigins: string[];
  /** When set, `GET /metrics` requires `Authorization: Bearer <metricsToken>`; when absent it is open. */
  metricsToken: string | undefined;
  /** TURN servers sharing a secret with this server: `GET /api/ice/config` hands out per-user credentials. */
  turn: TurnOptions | undefined;
  /**
   * The UDP port of the built-in STUN responder (src/server/stun/): `'http'` = the HTTP port's number
   * (or any free port when that one is taken), 0 = any free port, `'off'` = none.
   */
  stunPort: number | 'http' | 'off';
  /**
   * HTTPS and WSS on the listening port (docs/security.md "Transport"): `self-signed` = a certificate made at
   * first start and kept beside the database (`<db>.cert.pem`, `<db>.key.pem`), or the operator's own files.
   * Absent: plain HTTP.
   */
  tls: ServerTlsConfig | undefined;
  /**
   * This instance's id among the servers on one PostgreSQL database (docs/architecture.md "Several
   * instances"); undefined: a random short id made at start.
   */
  instanceId: string | undefined;
  /**
   * The URL the other instances reach this one at (relays are forwarded to it); undefined: the listening
   * URL.
   */
  advertiseUrl: string | undefined;
  /** How often an instance tells the others it is alive (its providers drop off after three missed). */
  clusterHeartbeatMs: number;
}

/** An instance id: letters, digits, `_`, `.`, `-`, 1 to 64 characters. */
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** `--tls` (self-signed) or `--tls-cert FILE --tls-key FILE`. */
export type ServerTlsConfig = { kind: 'self-signed' } | { kind: 'files'; certFile: string; keyFile: string };

export const DEFAULT_REQUEST_TYPES = ['spectrum', 'signal', 'spectrogram', 'battery-report'];
export const REQUEST_TYPE_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const DAY_MS = 24 * 3600_000;

/** The defaults, for a server on 127.0.0.1:8080 with its database in `./.sdrlink/`. */
export function defaultOptions(): ServerOptions {
  return {
    host: '127.0.0.1',
    port: 8080,
    db: resolve('.sdrlink', 'sdrlink.sqlite'),
    jwtSecret: undefined,
    tokenTtlS: 24 * 3600,
    logLevel: 'info',
    iceServers: [],
    relayAfterMs: 5000,
    sessionTtlMs: 10 * 60_000,
    sweepIntervalMs: 30_000,
    claimTimeoutMs: 15_000,
    requestTypes: [...DEFAULT_REQUEST_TYPES],
    registration: false,
    bodyLimit: 256 * KiB,
    signalMaxBytes: 64 * KiB,
    maxOpenSessionsPerUser: 100,
    sessionsPerMinute: 120,
    maxPushPerUser: 20,
    retentionMs: 30 * DAY_MS,
    retentionIntervalMs: 3600_000,
    userPollMs: 1000,
    login: { maxFailures: 10, windowMs: 5 * 60_000, maxRegistrations: 100 },
    relay: {
      windowBytes: 4 * MiB,
      maxMessageBytes: 1 * MiB,
      maxRelays: 100,
      maxRelaysPerUser: 10,
      maxBytesPerRelay: 8 * GiB,
      maxBytesPerUser: 64 * GiB,
      userWindowMs: 24 * 3600_000,
      joinTimeoutMs: 30_000,
    },
    trustProxy: false,
    corsOrigins: [],
    metricsToken: undefined,
    turn: undefined,
    stunPort: 'http',
    tls: undefined,
    instanceId: undefined,
    advertiseUrl: undefined,
    clusterHeartbeatMs: 2000,
  };
}

/** Raw values from the command line (strings as typed; absent = not given). */
export interface ConfigFlags {
  host?: string;
  port?: string;
  db?: string;
  logLevel?: string;
  iceServers?: string;
  sessionTtl?: string;
  sweepInterval?: string;
  claimTimeout?: string;
  requestTypes?: string;
  tokenTtl?: string;
  registration?: string;
  /** `--open-registration` (a switch). */
  openRegistration?: boolean | string;
  sessionsPerMinute?: string;
  maxPushPerUser?: string;
  maxRelaysPerUser?: string;
  retention?: string;
  relayWindow?: string;
  relayJoinTimeout?: string;
  maxRelays?: string;
  corsOrigin?: string;
  metricsToken?: string;
  turnUrl?: string;
  turnSecret?: string;
  turnTtl?: string;
  stunPort?: string;
  /** `--tls` (a switch). */
  tls?: boolean | string;
  tlsCert?: string;
  tlsKey?: string;
  instanceId?: string;
  advertiseUrl?: string;
}

/** A configuration value that cannot be used; the message names the flag or variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'ERR_CONFIG';
}

/** HTTPS could not be set up: a certificate or key file unreadable, damaged or mismatched; openssl missing. */
export class ServerTlsError extends Error {
  override name = 'ServerTlsError';
  readonly code = 'ERR_TLS';
}

type Source = { name: string; value: string };

function pick(
  flag: string | undefined,
  flagName: string,
  env: NodeJS.ProcessEnv,
  envName: string,
): Source | undefined {
  if (flag !== undefined) return { name: flagName, value: flag };
  const v = env[envName];
  if (v !== undefined && v !== '') return { name: envName, value: v };
  return undefined;
}

function int(src: Source, min: number, max: number): number {
  if (!/^\d+$/.test(src.value.trim()))
    throw new ConfigError(`${src.name}: must be a non-negative integer, got ${JSON.stringify(src.value)}`);
  const n = Number(src.value.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new ConfigError(`${src.name}: must be between ${min} and ${max}, got ${n}`);
  return n;
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parses and checks an ICE server list (JSON array of RTCIceServer). */
export function parseIceServers(text: string, name: string): IceServer[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${name}: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(v)) throw new ConfigError(`${name}: must be a JSON array of {"urls": …}`);
  return v.map((entry: unknown, i): IceServer => {
    if (typeof entry !== 'object' || entry === null)
      throw new ConfigError(`${name}[${i}]: must be an object`);
    const e = entry as Record<string, unknown>;
    const urls = e['urls'];
    const list = typeof urls === 'string' ? [urls] : Array.isArray(urls) ? urls : undefined;
    if (list === undefined || list.length === 0)
      throw new ConfigError(`${name}[${i}].urls: must be a string or a non-empty array of strings`);
    for (const u of list) {
      if (typeof u !== 'string' || !/^(stun|stuns|turn|turns):[^\s]+$/.test(u)) {
        throw new ConfigError(
          `${name}[${i}].urls: ${JSON.stringify(u)} is not a stun:, stuns:, turn: or turns: URL`,
        );
      }
    }
    const out: IceServer = { urls: typeof urls === 'string' ? urls : (list as string[]) };
    for (const k of ['username', 'credential'] as const) {
      const x = e[k];
      if (x === undefined) continue;
      if (typeof x !== 'string') throw new ConfigError(`${name}[${i}].${k}: must be a string`);
      out[k] = x;
    }
    return out;
  });
}

const DURATION = /^(\d+)\s*(ms|s|m|h|d|w)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: DAY_MS, w: 7 * DAY_MS };

/**
 * Parses an age or interval: `30d`, `12h`, `90m`, `45s`, `500ms`, `2w`, or a bare number of seconds;
 * `off` or `0` is 0.
 *
 * @example parseDurationMs('30d', '--retention') // 2592000000
 */
export function parseDurationMs(text: string, name: string): number {
  const t = text.trim().toLowerCase();
  if (t === 'off' || t === 'never') return 0;
  const m = DURATION.exec(t);
  if (m === null)
    throw new ConfigError(
      `${name}: ${JSON.stringify(text)} is not a duration (e.g. 30d, 12h, 90m, 45s, off)`,
    );
  const ms = Number(m[1]) * (UNIT_MS[m[2] ?? 's'] as number);
  if (!Number.isSafeInteger(ms) || ms > 100 * 365 * DAY_MS)
    throw new ConfigError(`${name}: ${JSON.stringify(text)} is longer than 100 years`);
  return ms;
}

/** Shape of a metrics token: 16 to 256 visible ASCII characters (what `Bearer <token>` can carry). */
const METRICS_TOKEN = /^[\x21-\x7e]{16,256}$/;

/** Checks a `--metrics-token` value. */
export function parseMetricsToken(text: string, name: string): string {
  if (!METRICS_TOKEN.test(text))
    throw new ConfigError(`${name}: must be 16 to 256 visible ASCII characters (no spaces)`);
  return text;
}

/** Parses a comma-separated list of request types. */
export function parseRequestTypes(text: string, name: string): string[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const t of list) {
    if (!REQUEST_TYPE_PATTERN.test(t)) {
      throw new ConfigError(
        `${name}: ${JSON.stringify(t)} is not a request type (lowercase letters, digits, '-'; starts with a letter; ≤ 64)`,
      );
    }
  }
  return [...new Set(list)];
}

const ORIGIN_SHAPE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#@\s]+)$/;

/**
 * Parses a comma-separated list of browser origins (`--cors-origin`): each `http(s)://host[:port]` with
 * no path, query, fragment or user info, normalized as a browser serializes its `Origin` header (lower
 * case, default port dropped); or `*` alone, for any origin.
 *
 * @example parseCorsOrigins('https://App.example, http://127.0.0.1:5173', '--cors-origin')
 * // ['https://app.example', 'http://127.0.0.1:5173']
 */
export function parseCorsOrigins(text: string, name: string): string[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw new ConfigError(`${name}: must name at least one origin, or *`);
  if (list.includes('*')) {
    if (list.length > 1)
      throw new ConfigError(`${name}: * allows any origin and must stand alone, got ${JSON.stringify(text)}`);
    return ['*'];
  }
  const out: string[] = [];
  for (const item of list) {
    const m = ORIGIN_SHAPE.exec(item);
    const shape = 'scheme://host[:port] expected, with no path, query, fragment or user info';
    if (m === null) {
      const why = item.toLowerCase() === 'null' ? ' (the opaque origin "null" is never allowed)' : '';
      throw new ConfigError(`${name}: ${JSON.stringify(item)} is not an origin: ${shape}${why}`);
    }
    const scheme = (m[1] as string).toLowerCase();
    if (scheme !== 'http' && scheme !== 'https')
      throw new ConfigError(`${name}: ${JSON.stringify(item)}: an origin's scheme is http or https`);
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw new ConfigError(`${name}: ${JSON.stringify(item)} is not an origin: a bad host or port`);
    }
    if (!out.includes(url.origin)) out.push(url.origin);
  }
  return out;
}

/**
 * True when `--db` names a database by URL (`postgres://…`) rather than a SQLite file: such a value is
 * never resolved as a path (an unsupported scheme is refused when the storage opens it).
 */
export function isDatabaseUrl(db: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(db.trim());
}

/**
 * Builds the options from flags, then environment, then defaults:
 * SDRLINK_HOST, SDRLINK_PORT, SDRLINK_DATABASE_URL (a postgres:// URL; before SDRLINK_DB), SDRLINK_DB,
 * SDRLINK_JWT_SECRET, SDRLINK_TOKEN_TTL_S, SDRLINK_LOG_LEVEL,
 * SDRLINK_ICE_SERVERS (JSON), SDRLINK_RELAY_AFTER_MS, SDRLINK_SESSION_TTL_MS, SDRLINK_SWEEP_INTERVAL_MS,
 * SDRLINK_REQUEST_TYPES (comma list), SDRLINK_REGISTRATION (open|closed; default closed), SDRLINK_BODY_LIMIT,
 * SDRLINK_SESSIONS_PER_MINUTE, SDRLINK_MAX_PUSH_PER_USER, SDRLINK_MAX_RELAYS_PER_USER, SDRLINK_RETENTION
 * (30d, 12h, off), SDRLINK_RETENTION_INTERVAL_MS, SDRLINK_USER_POLL_MS,
 * SDRLINK_MAX_OPEN_SESSIONS, SDRLINK_LOGIN_MAX_FAILURES, SDRLINK_LOGIN_WINDOW_MS, SDRLINK_REGISTER_MAX,
 * SDRLINK_RELAY_WINDOW_BYTES, SDRLINK_RELAY_MAX, SDRLINK_RELAY_MAX_BYTES, SDRLINK_RELAY_USER_MAX_BYTES,
 * SDRLINK_RELAY_JOIN_TIMEOUT_MS, SDRLINK_TRUST_PROXY (1|0), SDRLINK_CORS_ORIGIN (comma list, or *),
 * SDRLINK_METRICS_TOKEN, SDRLINK_TURN_URL (comma list), SDRLINK_TURN_SECRET, SDRLINK_TURN_TTL,
 * SDRLINK_STUN_PORT (a port, or off), SDRLINK_TLS (1|0), SDRLINK_TLS_CERT, SDRLINK_TLS_KEY,
 * SDRLINK_INSTANCE_ID, SDRLINK_ADVERTISE_URL, SDRLINK_CLUSTER_HEARTBEAT_MS.
 *
 * @throws ConfigError naming the flag or variable at fault.
 */
export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): ServerOptions {
  const o = defaultOptions();
  let s: Source | undefined;
  if ((s = pick(flags.host, '--host', env, 'SDRLINK_HOST'))) o.host = s.value;
  if ((s = pick(flags.port, '--port', env, 'SDRLINK_PORT'))) o.port = int(s, 0, 65535);
  if ((s = pick(flags.db, '--db', env, 'SDRLINK_DATABASE_URL') ?? pick(undefined, '', env, 'SDRLINK_DB')))
    o.db = s.value === ':memory:' || isDatabaseUrl(s.value) ? s.value.trim() : resolve(s.value);
  if ((s = pick(undefined, '', env, 'SDRLINK_JWT_SECRET'))) {
    if (s.value.length < 32) throw new ConfigError('SDRLINK_JWT_SECRET: must be at least 32 characters');
    o.jwtSecret = s.value;
  }
  if ((s = pick(flags.tokenTtl, '--token-ttl', env, 'SDRLINK_TOKEN_TTL_S')))
    o.tokenTtlS = int(s, 1, 365 * 24 * 3600);
  if ((s = pick(flags.logLevel, '--log-level', env, 'SDRLINK_LOG_LEVEL'))) {
    if (!LOG_LEVELS.includes(s.value as LogLevel))
      throw new ConfigError(`${s.name}: must be one of ${LOG_LEVELS.join(', ')}`);
    o.logLevel = s.value as LogLevel;
  }
  if ((s = pick(flags.iceServers, '--ice-servers', env, 'SDRLINK_ICE_SERVERS')))
    o.iceServers = parseIceServers(s.value, s.name);
  if ((s = pick(undefined, '', env, 'SDRLINK_RELAY_AFTER_MS'))) o.relayAfterMs = int(s, 0, 600_000);
  let ttlGiven = false;
  if ((s = pick(flags.sessionTtl, '--session-ttl', env, 'SDRLINK_SESSION_TTL_MS'))) {
    o.sessionTtlMs = int(s, 10, 30 * 24 * 3600_000);
    ttlGiven = true;
  }
  if ((s = pick(flags.sweepInterval, '--sweep-interval', env, 'SDRLINK_SWEEP_INTERVAL_MS'))) {
    o.sweepIntervalMs = int(s, 10, 3600_000);
  } else if (ttlGiven) {
    o.sweepIntervalMs = Math.min(30_000, Math.max(10, Math.floor(o.sessionTtlMs / 4)));
  }
  if ((s = pick(flags.claimTimeout, '--claim-timeout', env, 'SDRLINK_CLAIM_TIMEOUT'))) {
    o.claimTimeoutMs = parseDurationMs(s.value, s.name);
    if (o.claimTimeoutMs !== 0 && o.claimTimeoutMs < 100)
      throw new ConfigError(`${s.name}: must be at least 100ms (or off)`);
  }
  if ((s = pick(flags.requestTypes, '--request-types', env, 'SDRLINK_REQUEST_TYPES')))
    o.requestTypes = parseRequestTypes(s.value, s.name);
  if ((s = pick(flags.registration, '--registration', env, 'SDRLINK_REGISTRATION'))) {
    if (s.value !== 'open' && s.value !== 'closed')
      throw new ConfigError(`${s.name}: must be open or closed`);
    o.registration = s.value === 'open';
  }
  if (flags.openRegistration === true || flags.openRegistration === 'true') o.registration = true;
  if ((s = pick(flags.sessionsPerMinute, '--sessions-per-minute', env, 'SDRLINK_SESSIONS_PER_MINUTE')))
    o.sessionsPerMinute = int(s, 1, 1_000_000);
  if ((s = pick(flags.maxPushPerUser, '--max-push-per-user', env, 'SDRLINK_MAX_PUSH_PER_USER')))
    o.maxPushPerUser = int(s, 1, 1_000_000);
  if ((s = pick(flags.maxRelaysPerUser, '--max-relays-per-user', env, 'SDRLINK_MAX_RELAYS_PER_USER')))
    o.relay.maxRelaysPerUser = int(s, 1, 1_000_000);
  if ((s = pick(flags.retention, '--retention', env, 'SDRLINK_RETENTION')))
    o.retentionMs = parseDurationMs(s.value, s.name);
  if ((s = pick(undefined, '', env, 'SDRLINK_RETENTION_INTERVAL_MS')))
    o.retentionIntervalMs = int(s, 10, 30 * DAY_MS);
  if ((s = pick(undefined, '', env, 'SDRLINK_USER_POLL_MS'))) o.userPollMs = int(s, 10, 3600_000);
  if ((s = pick(undefined, '', env, 'SDRLINK_BODY_LIMIT'))) o.bodyLimit = int(s, 1024, 64 * MiB);
  if ((s = pick(undefined, '', env, 'SDRLINK_MAX_OPEN_SESSIONS')))
    o.maxOpenSessionsPerUser = int(s, 1, 1_000_000);
  if ((s = pick(undefined, '', env, 'SDRLINK_LOGIN_MAX_FAILURES')))
    o.login.maxFailures = int(s, 1, 1_000_000);
  if ((s = pick(undefined, '', env, 'SDRLINK_LOGIN_WINDOW_MS'))) o.login.windowMs = int(s, 1, 24 * 3600_000);
  if ((s = pick(undefined, '', env, 'SDRLINK_REGISTER_MAX')))
    o.login.maxRegistrations = int(s, 1, 1_000_000_000);
  if ((s = pick(flags.relayWindow, '--relay-window', env, 'SDRLINK_RELAY_WINDOW_BYTES')))
    o.relay.windowBytes = int(s, 64 * KiB, 1 * GiB);
  if ((s = pick(flags.maxRelays, '--max-relays', env, 'SDRLINK_RELAY_MAX')))
    o.relay.maxRelays = int(s, 0, 1_000_000);
  if ((s = pick(undefined, '', env, 'SDRLINK_RELAY_MAX_BYTES')))
    o.relay.maxBytesPerRelay = int(s, 1, Number.MAX_SAFE_INTEGER);
  if ((s = pick(undefined, '', env, 'SDRLINK_RELAY_USER_MAX_BYTES')))
    o.relay.maxBytesPerUser = int(s, 1, Number.MAX_SAFE_INTEGER);
  if ((s = pick(flags.relayJoinTimeout, '--relay-join-timeout', env, 'SDRLINK_RELAY_JOIN_TIMEOUT_MS'))) {
    o.relay.joinTimeoutMs = int(s, 10, 3600_000);
  }
  if ((s = pick(undefined, '', env, 'SDRLINK_TRUST_PROXY')))
    o.trustProxy = s.value === '1' || s.value === 'true';
  if ((s = pick(flags.corsOrigin, '--cors-origin', env, 'SDRLINK_CORS_ORIGIN')))
    o.corsOrigins = parseCorsOrigins(s.value, s.name);
  if ((s = pick(flags.metricsToken, '--metrics-token', env, 'SDRLINK_METRICS_TOKEN')))
    o.metricsToken = parseMetricsToken(s.value, s.name);
  o.turn = loadTurn(flags, env);
  if ((s = pick(flags.stunPort, '--stun-port', env, 'SDRLINK_STUN_PORT')))
    o.stunPort = s.value.trim() === 'off' ? 'off' : int(s, 0, 65535);
  o.tls = loadTls(flags, env, o.db);
  if ((s = pick(flags.instanceId, '--instance-id', env, 'SDRLINK_INSTANCE_ID'))) {
    if (!INSTANCE_ID_PATTERN.test(s.value))
      throw new ConfigError(`${s.name}: letters, digits, _ . - only, 1 to 64 characters`);
    o.instanceId = s.value;
  }
  if ((s = pick(flags.advertiseUrl, '--advertise-url', env, 'SDRLINK_ADVERTISE_URL'))) {
    let u: URL;
    try {
      u = new URL(s.value);
    } catch {
      throw new ConfigError(`${s.name}: not a URL (http://HOST:PORT)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new ConfigError(`${s.name}: must be an http:// or https:// URL`);
    o.advertiseUrl = u.origin;
  }
  if ((s = pick(undefined, '', env, 'SDRLINK_CLUSTER_HEARTBEAT_MS')))
    o.clusterHeartbeatMs = int(s, 50, 60_000);
  return o;
}

/** `--tls`, or `--tls-cert` with `--tls-key` (both or neither); SDRLINK_TLS (1|0), SDRLINK_TLS_CERT, SDRLINK_TLS_KEY. */
function loadTls(flags: ConfigFlags, env: NodeJS.ProcessEnv, db: string): ServerTlsConfig | undefined {
  const cert = pick(flags.tlsCert, '--tls-cert', env, 'SDRLINK_TLS_CERT');
  const key = pick(flags.tlsKey, '--tls-key', env, 'SDRLINK_TLS_KEY');
  let selfSigned = flags.tls === true || flags.tls === 'true';
  const sw = flags.tls === undefined ? pick(undefined, '', env, 'SDRLINK_TLS') : undefined;
  if (sw !== undefined) {
    const v = sw.value.trim().toLowerCase();
    if (!['1', '0', 'true', 'false', 'on', 'off'].includes(v))
      throw new ConfigError(`SDRLINK_TLS: must be 1 or 0, got ${JSON.stringify(sw.value)}`);
    selfSigned = v === '1' || v === 'true' || v === 'on';
  }
  if (cert !== undefined || key !== undefined) {
    if (cert === undefined)
      throw new ConfigError(`${(key as Source).name}: given without --tls-cert (SDRLINK_TLS_CERT)`);
    if (key === undefined) throw new ConfigError(`${cert.name}: given without --tls-key (SDRLINK_TLS_KEY)`);
    return { kind: 'files', certFile: resolve(cert.value), keyFile: resolve(key.value) };
  }
  if (!selfSigned) return undefined;
  if (db === ':memory:' || isDatabaseUrl(db))
    throw new ConfigError(
      `--tls: the self-signed certificate is kept beside the database, and --db is ${db === ':memory:' ? ':memory:' : 'a database URL'}; give a database file, or --tls-cert and --tls-key`,
    );
  return { kind: 'self-signed' };
}

/** Default lifetime of a TURN credential. */
export const DEFAULT_TURN_TTL_S = 3600;

/** `--turn-url` / `--turn-secret` / `--turn-ttl`: both or neither of the first two. */
function loadTurn(flags: ConfigFlags, env: NodeJS.ProcessEnv): TurnOptions | undefined {
  const url = pick(flags.turnUrl, '--turn-url', env, 'SDRLINK_TURN_URL');
  const secret = pick(flags.turnSecret, '--turn-secret', env, 'SDRLINK_TURN_SECRET');
  const ttl = pick(flags.turnTtl, '--turn-ttl', env, 'SDRLINK_TURN_TTL');
  if (url === undefined) {
    if (secret !== undefined)
      throw new ConfigError(`${secret.name}: given without --turn-url (SDRLINK_TURN_URL)`);
    if (ttl !== undefined) throw new ConfigError(`${ttl.name}: given without --turn-url (SDRLINK_TURN_URL)`);
    return undefined;
  }
  let urls: string[];
  try {
    urls = parseTurnUrls(url.value);
  } catch (err) {
    throw new ConfigError(`${url.name}: ${(err as Error).message}`);
  }
  if (secret === undefined) {
    throw new ConfigError(
      `${url.name}: needs the secret shared with the TURN server (--turn-secret or SDRLINK_TURN_SECRET; coturn's static-auth-secret)`,
    );
  }
  const problem = turnSecretProblem(secret.value);
  if (problem !== undefined) throw new ConfigError(`${secret.name}: ${problem}`);
  let ttlS = DEFAULT_TURN_TTL_S;
  if (ttl !== undefined) {
    const v = parseDurationS(ttl.value);
    if (v === undefined)
      throw new ConfigError(
        `${ttl.name}: must be a duration such as 3600, 90s, 30m, 1h or 1d, got ${JSON.stringify(ttl.value)}`,
      );
    if (v < 60 || v > 7 * 86400)
      throw new ConfigError(`${ttl.name}: must be between 1 minute and 7 days, got ${v} s`);
    ttlS = v;
  }
  return { urls, secret: secret.value, ttlS };
}
