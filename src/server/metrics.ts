/**
 * The server's Prometheus metrics (`GET /metrics`, docs/api.md §10), through prom-client with one registry
 * per server instance (never prom-client's global one), so servers built in one process do not share or
 * collide. Label values are bounded: routes are Fastify's route patterns (`/api/ice/signals/:session_id`),
 * never a raw URL; statuses, signal types, transports and outcomes are closed sets; database operations
 * are the repository methods' names.
 *
 * Cost on the hot path: one histogram observation per request (a label-key lookup and a bucket search over
 * a small fixed set of buckets), one per storage call, one counter increment per signal. Gauges (push
 * connections, relays) are read from the hub and the relay only when scraped.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { OPEN_STATUSES, type SessionStatus, type Storage } from '../storage/types.js';
import type { RelayStats } from './relay/relay-hub.js';

/** What the gauges read when scraped. */
export interface MetricSources {
  /** Push connections open now. */
  pushConnections: () => number;
  relay: () => RelayStats;
  /** Relays that may be open at once. */
  maxRelays: number;
  /** Sessions in each open status now (read from the database at each scrape). */
  openSessions: () => Promise<Partial<Record<SessionStatus, number>>>;
}

/** Request latency buckets, seconds: a small fixed set around the signaling target (p99 ≤ 25 ms). */
export const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];
/** Storage call buckets, seconds (a call includes its wait for the group commit, one event-loop turn). */
export const DB_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1];

const LINTED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The coarse path labels (a closed set, whatever a client reports). */
export type PathLabel = 'direct' | 'turn' | 'ws-relay' | 'unknown';

/**
 * A reported path as a bounded label: `ws-relay` (the server's relay; also a `relay` transport that named
 * no path), `turn` (a TURN relay candidate on either end), `direct` (any other candidate pair), else
 * `unknown`.
 */
export function pathLabel(path: string | null, transport: string | null): PathLabel {
  if (path === 'ws-relay' || (path === null && transport === 'relay')) return 'ws-relay';
  const m = /^(host|srflx|prflx|relay)-(host|srflx|prflx|relay)\/(udp|tcp)$/.exec(path ?? '');
  if (m === null) return 'unknown';
  return m[1] === 'relay' || m[2] === 'relay' ? 'turn' : 'direct';
}

/** Where a signal came in. */
export type SignalVia = 'rest' | 'push';

/** The server's instruments and their registry. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Histogram<'method' | 'route' | 'status_code'>;
  readonly #requestChildren = new Map<string, { observe(v: number): void }>();
  readonly #sessions: Counter<'status'>;
  readonly #signals: Counter<'signal_type' | 'via'>;
  readonly #transfers: Counter<'transport' | 'outcome' | 'path'>;
  readonly #transferBytes: Counter<'transport' | 'outcome' | 'path'>;
  readonly #db: Histogram<'operation'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // prom-client names these three gauges `…_total`, which `promtool check metrics` refuses (that suffix
    // is for counters); their counterparts without the suffix (`nodejs_active_handles`, …) stay.
    for (const name of LINTED_DEFAULTS) this.registry.removeSingleMetric(name);
    this.#requests = new Histogram({
      name: 'sdrlink_http_request_duration_seconds',
      help: 'HTTP request latency by route pattern, method and status code (WebSocket upgrades included).',
      labelNames: ['method', 'route', 'status_code'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.#sessions = new Counter({
      name: 'sdrlink_sessions_total',
      help: 'Sessions that entered each status since the server started (pending = created).',
      labelNames: ['status'],
      registers,
    });
    this.#signals = new Counter({
      name: 'sdrlink_signals_total',
      help: 'Signals stored, by signal type and by where they came in (rest or push).',
      labelNames: ['signal_type', 'via'],
      registers,
    });
    this.#transfers = new Counter({
      name: 'sdrlink_transfers_total',
      help: 'Transfers reported finished, by transport (p2p, relay, unknown), outcome (completed, failed) and path (direct, turn, ws-relay, unknown).',
      labelNames: ['transport', 'outcome', 'path'],
      registers,
    });
    this.#transferBytes = new Counter({
      name: 'sdrlink_transfer_bytes_total',
      help: 'Bytes of finished transfers as their participants reported them, by transport, outcome and path.',
      labelNames: ['transport', 'outcome', 'path'],
      registers,
    });
    this.#db = new Histogram({
      name: 'sdrlink_db_operation_duration_seconds',
      help: 'Storage calls by repository method, including the wait for the group commit of writes.',
      labelNames: ['operation'],
      buckets: DB_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'sdrlink_sessions',
      help: 'Sessions in each open status now (pending, offered, connected, transferring).',
      labelNames: ['status'],
      registers,
      async collect() {
        const counts = await sources.openSessions();
        for (const status of OPEN_STATUSES) this.set({ status }, counts[status] ?? 0);
      },
    });
    new Gauge({
      name: 'sdrlink_push_connections',
      help: 'Push WebSocket connections (/api/ws) open now.',
      registers,
      collect() {
        this.set(sources.pushConnections());
      },
    });
    let relayedSeen = 0;
    new Counter({
      name: 'sdrlink_relay_bytes_total',
      help: 'Bytes the WebSocket relay carried, both directions, since the server started.',
      registers,
      collect() {
        const total = sources.relay().totalBytes;
        if (total > relayedSeen) this.inc(total - relayedSeen);
        relayedSeen = total;
      },
    });
    new Gauge({
      name: 'sdrlink_relay_slots',
      help: 'Relays open now: active (both sides in) or waiting (for the second side).',
      labelNames: ['state'],
      registers,
      collect() {
        const s = sources.relay();
        this.set({ state: 'active' }, s.active);
        this.set({ state: 'waiting' }, s.waiting);
      },
    });
    new Gauge({
      name: 'sdrlink_relay_slots_limit',
      help: 'Relays that may be open at once (--max-relays).',
      registers,
      collect() {
        this.set(sources.maxRelays);
      },
    });
    new Gauge({
      name: 'sdrlink_relay_buffered_bytes',
      help: 'Bytes queued by the relay toward receivers now.',
      registers,
      collect() {
        this.set(sources.relay().bufferedBytes);
      },
    });
  }

  /** One finished HTTP request (`route` is the route pattern, or `unmatched`). */
  request(method: string, route: string, statusCode: number, seconds: number): void {
    // one labelled child per (method, route, status): bounded, and no label hashing per request
    const key = `${method} ${statusCode} ${route}`;
    let child = this.#requestChildren.get(key);
    if (child === undefined) {
      child = this.#requests.labels({ method, route, status_code: statusCode });
      this.#requestChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** A session entered `status` (`pending` when created). */
  session(status: string): void {
    this.#sessions.inc({ status });
  }

  /** A signal was stored. */
  signal(signalType: string, via: SignalVia): void {
    this.#signals.inc({ signal_type: signalType, via });
  }

  /**
   * A transfer was reported finished (the report that moved its session to `completed` or `failed`).
   * `path` is the reported one (`ws-relay`, `host-srflx/udp`, …), counted by {@link pathLabel}.
   */
  transfer(transport: string | null, outcome: string, bytes: number, path: string | null = null): void {
    const labels = { transport: transport ?? 'unknown', outcome, path: pathLabel(path, transport) };
    this.#transfers.inc(labels);
    if (bytes > 0) this.#transferBytes.inc(labels, bytes);
  }

  /** The exposition text and its content type. */
  async expose(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  /**
   * Wraps a storage so that every repository call is timed (`sdrlink_db_operation_duration_seconds`,
   * operation `sessions.get`, `signals.post`, …). Calls, results and errors pass through unchanged.
   */
  timedStorage(storage: Storage): Storage {
    const db = this.#db;
    const wrap = <R extends object>(name: string, repo: R): R => {
      const out: Record<string, unknown> = {};
      let proto: object | null = repo;
      while (proto !== null && proto !== Object.prototype) {
        for (const key of Object.getOwnPropertyNames(proto)) {
          const value = (repo as Record<string, unknown>)[key];
          if (key === 'constructor' || key in out || typeof value !== 'function') continue;
          const fn = value as (...args: unknown[]) => unknown;
          const timer = db.labels({ operation: `${name}.${key}` });
          out[key] = (...args: unknown[]) => {
            const start = performance.now();
            const done = () => timer.observe((performance.now() - start) / 1000);
            const result = fn.apply(repo, args);
            if (result instanceof Promise) return result.finally(done);
            done();
            return result;
          };
        }
        proto = Object.getPrototypeOf(proto) as object | null;
      }
      return out as R;
    };
    return {
      users: wrap('users', storage.users),
      sessions: wrap('sessions', storage.sessions),
      signals: wrap('signals', storage.signals),
      transfers: wrap('transfers', storage.transfers),
      apiKeys: wrap('apiKeys', storage.apiKeys),
      catalogs: wrap('catalogs', storage.catalogs),
      get location() {
        return storage.location;
      },
      kind: storage.kind,
      sync: () => storage.sync(),
      close: () => storage.close(),
    };
  }
}
