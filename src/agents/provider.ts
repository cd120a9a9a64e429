/**
 * The provider (the seed's Type1): registers what it serves, learns of sessions it may serve (push,
 * polling as fallback) and serves several consumers at once, each session on its own
 * (./provider-session.ts: check, produce, claim, connect, send, report). A bad request gets an `error`
 * signal back; the provider keeps running.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DatasetRegistry } from '../datasets/types.js';
import { DEFAULT_MAX_OUTPUT_BYTES } from '../datasets/limits.js';
import { buildCatalog } from './catalog.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { DatasetCache, type CacheEvent } from './dataset-cache.js';
import { AgentError } from './errors.js';
import { channelsWithFaults, createFaultHooks, NO_SEND_HOOKS, type ProviderFaults } from './faults.js';
import {
  ClaimReleasedAbort,
  Lingering,
  type ServeOutcome,
  serveSession,
  type ProviderContext,
} from './provider-session.js';
import { SignalRouter } from './session-signals.js';
import { tlsFailureOf, type ServerTrust } from './server-trust.js';
import { SignalingClient, type IceSession } from './signaling-client.js';
import type { ChannelFactory, FallbackReason, TransportChoice } from './transport.js';

export type { ProviderFaults } from './faults.js';

export interface ProviderOptions {
  server: string;
  token: string;
  /** How an `https://` server's certificate is trusted (`--ca`, `--pin`). */
  trust?: ServerTrust | undefined;
  datasets: DatasetRegistry;
  /** Where generated files are cached (under `cache/`). */
  dataDir: string;
  /** Bound of the cache in bytes, least recently used evicted first (default 10 GiB); 0: keep no file after serving it. */
  cacheMaxBytes?: number;
  transport?: TransportChoice;
  /** Sessions served at once; more wait in line (default 4). */
  maxConcurrent?: number;
  /** Largest file the provider will produce (default `DEFAULT_MAX_OUTPUT_BYTES`, 2 GiB). */
  maxOutputBytes?: number;
  /** Poll interval while the push channel is down (default 2 s). */
  pollIntervalMs?: number;
  /** Overrides the server's `relay_after_ms`. */
  connectTimeoutMs?: number;
  /**
   * A consumer that advertised keepalive and sends nothing for this long is gone: ERR_PEER_GONE, the
   * session is freed (docs/protocol.md §3.7; default 5 s).
   */
  peerTimeoutMs?: number;
  log?: (event: ProviderEvent) => void;
  /** Where session channels come from (default: WebRTC and the server's relay). */
  channels?: ChannelFactory;
  /** Test faults; `withholdCandidates` applies to the default channels only. */
  faults?: ProviderFaults;
  /** The SigMF recordings folder the datasets read: its recordings go in the catalog (docs/api.md §12). */
  recordingsDir?: string;
  /** How often the recordings folder is rescanned; the catalog is announced again when it changed (default 10 s). */
  catalogIntervalMs?: number;
}

export type ProviderEvent =
  | { event: 'ready'; user_id: string; types: string[]; push: boolean }
  | { event: 'session'; session_id: string; request_type: string }
  | { event: 'refused'; session_id: string; code: string; message: string }
  | { event: 'catalog'; types: string[]; recordings: number }
  | { event: 'claimed'; session_id: string }
  | { event: 'lost-claim'; session_id: string; message: string }
  /** The server released this provider's claim (no channel in time, docs/api.md §3): its connection dropped. */
  | { event: 'claim-released'; session_id: string; message: string }
  | {
      event: 'connected';
      session_id: string;
      transport: 'p2p' | 'relay';
      /** The selected ICE candidate pair (`srflx-host/udp`, `relay-relay/udp`, …) or `ws-relay`. */
      path?: string;
      /** Why the relay carries the session although `auto` would have taken a direct channel. */
      fallback?: FallbackReason;
    }
  | { event: 'progress'; session_id: string; sent: number; total: number }
  /** A live capture waits for the device: `position` in line (1: next), told to the consumer too. */
  | { event: 'queued'; session_id: string; position: number }
  /** The file is being produced: `bytes` written of about `total` (told to the consumer too). */
  | { event: 'preparing'; session_id: string; bytes: number; total: number }
  | {
      event: 'sent';
      session_id: string;
      bytes: number;
      sha256: string;
      transport: 'p2p' | 'relay';
      path?: string;
      duration_ms: number;
      acked: boolean;
      start_offset: number;
    }
  | { event: 'failed'; session_id: string; code: string; message: string }
  | { event: 'log'; session_id?: string; message: string }
  /** `--server A,B`: the instance `from` failed; the provider goes on with `to` (README "Several server instances"). */
  | { event: 'server-failover'; from: string; to: string; reason: string }
  /** The server refused the provider's credential (revoked, expired, unknown): it stopped. */
  | { event: 'stopped'; code: 'ERR_AUTH'; server_code: string; message: string }
  | CacheEvent;

export interface Provider {
  /** Sessions being served right now. */
  readonly active: number;
  /**
   * Resolves when the provider stopped on its own, with why: the server refused its credential (ERR_AUTH,
   * the server's code in `serverCode`: its API key revoked, its token or key expired, its user gone). A
   * refused credential does not come back, so the provider does not retry; it has closed itself by then.
   * Never resolves otherwise.
   */
  readonly stopped: Promise<AgentError>;
  /** Stops taking sessions, aborts those in progress, closes every connection (held ones too). */
  close(): Promise<void>;
}

/** Starts a provider and resolves once it is registered and listening for sessions. */
export async function startProvider(opts: ProviderOptions): Promise<Provider> {
  const emit = opts.log ?? (() => undefined);
  const client = new SignalingClient(opts.server, opts.token, { trust: opts.trust });
  // `--server A,B`: the instance in use died; the calls and the push channel go on at the next one
  client.onFailover((e) => emit({ event: 'server-failover', from: e.from, to: e.to, reason: e.reason }));
  let lock: DataDirLock | undefined;
  let cache: DatasetCache | undefined;
  try {
    // The lock comes first: opening the cache removes what looks like a crash's leftovers.
    lock = await lockDataDir(resolve(opts.dataDir));
    cache = await openCache(opts, emit);
    return await serve(opts, client, emit, cache, lock);
  } catch (err) {
    await cache?.close().catch(() => undefined);
    await lock?.release();
    client.close();
    throw err;
  }
}

async function serve(
  opts: ProviderOptions,
  client: SignalingClient,
  emit: (e: ProviderEvent) => void,
  cache: DatasetCache,
  lock: DataDirLock,
): Promise<Provider> {
  const pollIntervalMs = opts.pollIntervalMs ?? 2000;
  const me = await client.me();
  if (me.client_type !== 1) {
    throw new AgentError(
      'ERR_CONFIG',
      `user ${me.username} is a consumer (client_type ${me.client_type}); a provider needs a client_type 1 token`,
    );
  }
  const types = opts.datasets.types();
  await client.setRequestTypes(types);
  const catalog = await startCatalog(opts, client, emit);
  const config = await client.iceConfig();
  const router = new SignalRouter(client, pollIntervalMs);
  const lingering = new Lingering();
  const ctx: ProviderContext = {
    client,
    token: opts.token,
    router,
    datasets: opts.datasets,
    cache,
    maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    choice: opts.transport ?? 'auto',
    iceServers: config.ice_servers ?? [],
    connectTimeoutMs: opts.connectTimeoutMs ?? config.relay_after_ms ?? 5000,
    channels: opts.channels ?? channelsWithFaults(opts.faults),
    hooks: opts.faults === undefined ? NO_SEND_HOOKS : createFaultHooks(opts.faults),
    linger: (o, ms) => lingering.hold(o, ms),
    emit,
  };
  if (opts.peerTimeoutMs !== undefined) ctx.peerTimeoutMs = opts.peerTimeoutMs;
  const queue = new SessionQueue(opts.maxConcurrent ?? 4, (s, signal) =>
    serveSession(ctx, s, signal).catch((err: unknown) => {
      emit({ event: 'log', session_id: s.session_id, message: `unexpected: ${String(err)}` });
      return 'done' as const;
    }),
  );
  const intake = await listenForSessions(client, router, queue, pollIntervalMs, emit);
  emit({ event: 'ready', user_id: me.user_id, types, push: intake.push });

  let stoppedBy: (err: AgentError) => void = () => undefined;
  const stopped = new Promise<AgentError>((r) => (stoppedBy = r));
  const provider: Provider = {
    get active() {
      return queue.active;
    },
    stopped,
    async close() {
      if (queue.closed) return;
      intake.stop();
      catalog.stop();
      await queue.close();
      // Sessions that ended lately may still hold a seed consumer's connection: close them now, so that
      // every peer connection is closed before the caller frees the WebRTC library.
      lingering.closeAll();
      await cache.close();
      await lock.release();
      router.close();
      client.close();
    },
  };
  // Revoked, expired, unknown: asking again every poll would only be refused again.
  client.onAuthRefused((err) => {
    emit({
      event: 'stopped',
      code: 'ERR_AUTH',
      server_code: err.serverCode ?? 'ERR_AUTH',
      message: err.message,
    });
    void provider.close().then(
      () => stoppedBy(err),
      () => stoppedBy(err),
    );
  });
  return provider;
}

/**
 * Announces the catalog now, then rescans every `catalogIntervalMs` and announces again when it changed. A
 * server without catalogs (404) is told nothing more; it offers sessions by request type as before.
 */
async function startCatalog(
  opts: ProviderOptions,
  client: SignalingClient,
  emit: (e: ProviderEvent) => void,
): Promise<{ stop(): void }> {
  let last = '';
  let supported = true;
  let busy = false;
  const announce = async () => {
    if (!supported || busy) return;
    busy = true;
    try {
      const { catalog, notes } = await buildCatalog(opts.datasets, opts.recordingsDir);
      const text = JSON.stringify(catalog);
      if (text === last) return;
      for (const message of notes) emit({ event: 'log', message });
      await client.putCatalog(catalog);
      last = text;
      emit({
        event: 'catalog',
        types: catalog.types.map((t) => t.type),
        recordings: catalog.recordings.length,
      });
    } catch (err) {
      const e = err as AgentError;
      if (e.status === 404) {
        supported = false;
        emit({ event: 'log', message: 'the server takes no catalog; sessions are offered by request type' });
      } else {
        emit({ event: 'log', message: `catalog not announced: ${e.message}` });
      }
    } finally {
      busy = false;
    }
  };
  await announce();
  const timer = setInterval(() => void announce(), opts.catalogIntervalMs ?? 10_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** Opens the file cache; opening removes a crash's leftovers and evicts down to the bound. */
async function openCache(opts: ProviderOptions, emit: (e: ProviderEvent) => void): Promise<DatasetCache> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  return DatasetCache.open(dataDir, {
    ...(opts.cacheMaxBytes !== undefined ? { maxBytes: opts.cacheMaxBytes } : {}),
    onEvent: emit,
  });
}

/**
 * Takes sessions through the push channel and, while it is down, by polling; sessions listed at start are
 * taken too (push sends them as well: the queue keeps each once).
 */
async function listenForSessions(
  client: SignalingClient,
  router: SignalRouter,
  queue: SessionQueue,
  pollIntervalMs: number,
  emit: (e: ProviderEvent) => void,
): Promise<{ push: boolean; stop(): void }> {
  let push = false;
  try {
    await client.connectPush({
      onSession: (s) => queue.consider(s),
      onSignal: (sig) => router.deliver(sig),
      onClaimReleased: (id, _attempt, code, message) => queue.release(id, `${code}: ${message}`),
      // Subscribed again (another instance of the list, or after a drop): the sessions' signals missed
      // meanwhile are read back, and the open sessions listed (push sends them too after `hello`).
      onResubscribed: () => {
        void router.catchUp();
        void pollSessions(true);
      },
    });
    push = true;
  } catch (err) {
    // an untrusted certificate or a wrong pin: polling would meet the same refusal
    if (tlsFailureOf(err) !== undefined) throw err;
    emit({ event: 'log', message: `push channel unavailable, polling instead: ${(err as Error).message}` });
  }
  // Several instances (`--server A,B`): a consumer may initiate through an instance whose push does not
  // reach this provider's (unless the instances share it), so the list is polled with push up too.
  const pollSessions = async (evenWithPush = client.multiServer) => {
    if (queue.closed || (client.pushUp && !evenWithPush)) return;
    try {
      for (const s of await client.listSessions()) queue.consider(s);
    } catch (err) {
      emit({ event: 'log', message: `session poll failed: ${(err as Error).message}` });
    }
  };
  if (!push) await pollSessions();
  const pollTimer = setInterval(() => void pollSessions(), pollIntervalMs);
  return { push, stop: () => clearInterval(pollTimer) };
}

/**
 * Pending sessions in line, each taken once, served `maxConcurrent` at a time. A session lost to another
 * provider's claim may be taken again when the server offers it again (that claim released, docs/api.md §3).
 */
class SessionQueue {
  readonly #seen = new Set<string>();
  readonly #waiting: IceSession[] = [];
  readonly #controllers = new Set<AbortController>();
  readonly #bySession = new Map<string, AbortController>();
  readonly #running = new Set<Promise<void>>();
  #active = 0;
  #closed = false;

  constructor(
    private readonly maxConcurrent: number,
    private readonly serve: (s: IceSession, signal: AbortSignal) => Promise<ServeOutcome>,
  ) {}

  get active(): number {
    return this.#active;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues a session the provider may serve, unless it was seen before or is no longer pending. */
  consider(s: IceSession): void {
    if (this.#closed || this.#seen.has(s.session_id) || s.status !== 'pending') return;
    this.#seen.add(s.session_id);
    this.#waiting.push(s);
    this.#pump();
  }

  #pump(): void {
    while (!this.#closed && this.#active < this.maxConcurrent && this.#waiting.length > 0) {
      const s = this.#waiting.shift() as IceSession;
      this.#active++;
      const ac = new AbortController();
      this.#controllers.add(ac);
      this.#bySession.set(s.session_id, ac);
      const p = this.serve(s, ac.signal)
        .then((outcome) => {
          if (outcome === 'lost-claim') this.#seen.delete(s.session_id);
        })
        .finally(() => {
          this.#active--;
          this.#controllers.delete(ac);
          this.#bySession.delete(s.session_id);
          this.#running.delete(p);
          this.#pump();
        });
      this.#running.add(p);
    }
  }

  /** The server released our claim of a session: its serving stops, its connection is dropped. */
  release(sessionId: string, why: string): void {
    this.#bySession.get(sessionId)?.abort(new ClaimReleasedAbort(why));
  }

  /** Stops taking sessions, aborts those in progress and waits for them to end. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const ac of this.#controllers) ac.abort();
    await Promise.allSettled([...this.#running]);
  }
}
