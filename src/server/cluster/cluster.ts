/**
 * One instance among several `sdrlink server` processes on one PostgreSQL database (docs/architecture.md
 * "Several instances"). It joins the instance's in-memory parts to the cluster bus (storage's
 * {@link ClusterBus}, LISTEN/NOTIFY on PostgreSQL):
 *
 * - the hub: every event delivered to this instance's sockets is published, and every event another
 *   instance published is delivered to this instance's sockets (never published again; this instance's
 *   own messages, which NOTIFY hands back too, are skipped);
 * - presence: a heartbeat every `heartbeatMs` (and at once when a provider's push connection opens or
 *   closes here) lists the providers connected to this instance and those heard from otherwise; an
 *   instance not heard from for {@link PEER_EXPIRY_BEATS} beats is gone, and its providers with it;
 * - the provider registry and the user directory: a catalog, a decline or a user changed here makes the
 *   others read it again from the database.
 *
 * Messages are applied one after the other, in the order they arrived (a message that needs a row read
 * holds the next ones back), so the order a client sees is the order the publishing instance committed.
 * When the bus's connection is lost and comes back, the messages in between are lost: the instance
 * re-reads catalogs and declines, sends its presence at once (the others' next heartbeat refreshes
 * theirs), and sends its providers' push sockets their open sessions again (as on connect: a session may
 * arrive twice); other clients catch up as they do after any gap (their reconnect and poll read the
 * database).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type {
  ClusterBus,
  ClusterStorage,
  RelayOwner,
  SessionRecord,
  SessionStatus,
  Storage,
} from '../../storage/types.js';
import { decodePushServerMessage } from '../../wire/push.js';
import { sessionToWire } from '../wire.js';
import type { UserDirectory } from '../signaling/directory.js';
import type { HubEvent, RemotePresence, SignalingHub } from '../signaling/hub.js';
import type { ProviderRegistry } from '../signaling/providers.js';
import {
  decodeClusterMessage,
  encodeClusterMessage,
  sessionOf,
  signalOf,
  type ClusterMessage,
} from './codec.js';

/** How long one received message may hold the next ones back. */
const APPLY_TIMEOUT_MS = 5000;

/** An instance missing this many heartbeats is gone (its providers are offline). */
export const PEER_EXPIRY_BEATS = 3;

/** A random instance id: 8 hex digits. */
export function newInstanceId(): string {
  return randomBytes(4).toString('hex');
}

interface Peer {
  url: string;
  at: number;
  providers: Set<number>;
}

/** What another instance told of itself, as this one keeps it. */
export interface PeerInfo {
  readonly instanceId: string;
  readonly url: string;
  readonly providers: number;
  readonly lastHeardMs: number;
}

export interface ClusterDeps {
  readonly bus: ClusterBus;
  readonly storage: Storage;
  /** Where a session's relay owner is recorded. */
  readonly owners: ClusterStorage;
  readonly hub: SignalingHub;
  readonly providers: ProviderRegistry;
  readonly directory: UserDirectory;
  readonly log: FastifyBaseLogger;
  readonly now: () => number;
  readonly instanceId: string;
  readonly heartbeatMs: number;
}

export class Cluster implements RemotePresence {
  readonly #d: ClusterDeps;
  readonly #peers = new Map<string, Peer>();
  #url = '';
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #lastBeat = 0;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #resyncs: Array<() => Promise<void>> = [];
  /** Messages dropped because they failed the check (a newer or broken peer). */
  dropped = 0;

  constructor(deps: ClusterDeps) {
    this.#d = deps;
  }

  get instanceId(): string {
    return this.#d.instanceId;
  }

  /** Where the other instances reach this one (set once the server listens). */
  get url(): string {
    return this.#url;
  }

  /** Sets the URL the other instances reach this one at (told with the next heartbeat). */
  setUrl(url: string): void {
    this.#url = url;
    this.#presenceSoon();
  }

  /** Joins the hub, the registry and the directory to the bus and starts the heartbeat. */
  start(url: string): void {
    this.#url = url;
    const { hub, providers, directory, bus } = this.#d;
    hub.join((e) => this.#publishEvent(e), this);
    providers.join({
      catalog: (u) => void this.#publish({ i: this.instanceId, t: 'catalog', u }),
      declines: (sid) => void this.#publish({ i: this.instanceId, t: 'declines', sid }),
    });
    directory.join((u) => void this.#publish({ i: this.instanceId, t: 'user-changed', u }));
    hub.onProvidersChanged(() => this.#presenceSoon());
    bus.onMessage((text) => this.#received(text));
    bus.onReconnect(() => {
      this.#d.log.warn({ instance: this.instanceId }, 'cluster bus reconnected: re-reading shared state');
      this.#enqueue(() => this.#resync());
    });
    void this.#beat();
    this.#timer = setInterval(() => void this.#beat(), this.#d.heartbeatMs);
    this.#timer.unref();
  }

  /** Calls `fn` after the bus came back from a loss (to re-send what this instance's clients may have missed). */
  onResync(fn: () => Promise<void>): void {
    this.#resyncs.push(fn);
  }

  /** Whether a provider has a push connection to another live instance. */
  connected(userId: number): boolean {
    const now = this.#d.now();
    for (const p of this.#peers.values()) if (this.#alive(p, now) && p.providers.has(userId)) return true;
    return false;
  }

  /** The providers with a push connection to another live instance. */
  providers(): Iterable<number> {
    const now = this.#d.now();
    const ids = new Set<number>();
    for (const p of this.#peers.values()) if (this.#alive(p, now)) for (const id of p.providers) ids.add(id);
    return ids;
  }

  /** The other instances alive now. */
  peers(): PeerInfo[] {
    const now = this.#d.now();
    return [...this.#peers]
      .filter(([, p]) => this.#alive(p, now))
      .map(([instanceId, p]) => ({
        instanceId,
        url: p.url,
        providers: p.providers.size,
        lastHeardMs: now - p.at,
      }));
  }

  /** Whether another instance is alive (heard from within its expiry); this one always is. */
  isAlive(instanceId: string): boolean {
    if (instanceId === this.instanceId) return true;
    const p = this.#peers.get(instanceId);
    return p !== undefined && this.#alive(p, this.#d.now());
  }

  /**
   * The instance that runs a session's relay: this one when it is the first to ask (recorded in one
   * conditional UPDATE, so two sides reaching two instances at once agree), else the one recorded.
   * Undefined: no such session.
   */
  relayOwner(sessionId: string): Promise<RelayOwner | undefined> {
    return this.#d.owners.claimRelayOwner(sessionId, { instanceId: this.instanceId, url: this.#url });
  }

  /**
   * Takes a session's relay over from `gone`, an owner that could not be reached and is not heard from
   * (missed heartbeats): returns the owner recorded now (this one, or another that took it over first), or
   * undefined when `gone` is still alive (it is only unreachable from here: nobody takes its relay).
   */
  async takeOverRelay(sessionId: string, gone: string): Promise<RelayOwner | undefined> {
    if (this.isAlive(gone)) return undefined;
    const me = { instanceId: this.instanceId, url: this.#url };
    return this.#d.owners.claimRelayOwner(sessionId, me, gone);
  }

  #alive(p: Peer, now: number): boolean {
    return now - p.at < this.#d.heartbeatMs * PEER_EXPIRY_BEATS;
  }

  #presenceSoon(): void {
    if (this.#soon !== undefined || this.#closed) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.#beat();
    }, 10);
    this.#soon.unref();
  }

  #beat(bye = false): Promise<void> {
    const now = this.#d.now();
    const local = new Set(this.#d.hub.localProviders());
    const seen = this.#d.providers
      .seenSince(this.#lastBeat - this.#d.heartbeatMs)
      .filter(([id]) => !local.has(id));
    this.#lastBeat = now;
    // instances gone for long are forgotten
    for (const [id, p] of this.#peers)
      if (now - p.at > 10 * this.#d.heartbeatMs * PEER_EXPIRY_BEATS) this.#peers.delete(id);
    return this.#publish({
      i: this.instanceId,
      t: 'presence',
      url: this.#url,
      p: bye ? [] : [...local],
      seen,
      ...(bye ? { bye: true } : {}),
    });
  }

  #publishEvent(e: HubEvent): void {
    const i = this.instanceId;
    switch (e.kind) {
      case 'created':
        void this.#publish({ i, t: 'created', s: e.session });
        return;
      case 'withdrawn':
        void this.#publish({ i, t: 'withdrawn', x: e.except, s: e.before });
        return;
      case 'status':
        void this.#publish({ i, t: 'status', s: e.session });
        return;
      case 'signal':
        void this.#publish({ i, t: 'signal', g: e.signal });
        return;
      case 'user': {
        const m = JSON.stringify(e.message);
        if (Buffer.byteLength(m) <= 7000) void this.#publish({ i, t: 'user', u: e.userId, m });
        else if (e.message.type === 'session')
          void this.#publish({ i, t: 'user', u: e.userId, session: e.message.session.session_id });
        else this.#d.log.warn({ type: e.message.type }, 'cluster: push message too large to forward');
        return;
      }
    }
  }

  #publish(msg: ClusterMessage): Promise<void> {
    if (this.#closed && !(msg.t === 'presence' && msg.bye === true)) return Promise.resolve();
    let text: string;
    try {
      text = encodeClusterMessage(msg);
    } catch (err) {
      this.#d.log.error({ err, t: msg.t }, 'cluster message not sent');
      return Promise.resolve();
    }
    return this.#d.bus
      .publish(text)
      .catch((err: unknown) => this.#d.log.warn({ err, t: msg.t }, 'cluster message not sent'));
  }

  #received(text: string): void {
    const decoded = decodeClusterMessage(text);
    if (!decoded.ok) {
      this.dropped++;
      this.#d.log.warn({ error: decoded.error }, 'cluster message dropped');
      return;
    }
    const msg = decoded.value;
    if (msg.i === this.instanceId) return;
    this.#d.log.trace({ from: msg.i, t: msg.t }, 'cluster message');
    if (msg.t === 'presence') {
      // applied at once (not behind rows being read): presence is a snapshot
      this.#presence(msg);
      return;
    }
    this.#enqueue(() => this.#apply(msg));
  }

  /**
   * Runs `fn` after the messages before it. One that takes longer than {@link APPLY_TIMEOUT_MS} (a row read
   * stuck on a database that went away) stops holding the next ones back: delivery goes on.
   */
  #enqueue(fn: () => Promise<void>): void {
    this.#queue = this.#queue.then(() => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.#d.log.warn({ timeoutMs: APPLY_TIMEOUT_MS }, 'cluster message still applying: moving on');
          resolve();
        }, APPLY_TIMEOUT_MS);
        timer.unref();
      });
      const run = fn()
        .catch((err: unknown) => this.#d.log.warn({ err }, 'cluster message not applied'))
        .finally(() => clearTimeout(timer));
      return Promise.race([run, late]);
    });
  }

  #presence(msg: Extract<ClusterMessage, { t: 'presence' }>): void {
    if (msg.bye === true) {
      this.#peers.delete(msg.i);
      return;
    }
    const known = this.#peers.has(msg.i);
    this.#peers.set(msg.i, { url: msg.url, at: this.#d.now(), providers: new Set(msg.p) });
    for (const [id, at] of msg.seen) this.#d.providers.seenAt(id, at);
    // a new instance learns who is here without waiting a full beat
    if (!known) this.#presenceSoon();
  }

  async #session(m: { s: unknown } | { ref: string; st: SessionStatus }): Promise<SessionRecord | undefined> {
    if ('s' in m) return sessionOf(m);
    const s = await this.#d.storage.sessions.get(m.ref);
    return s === undefined ? undefined : { ...s, status: m.st };
  }

  async #apply(msg: Exclude<ClusterMessage, { t: 'presence' }>): Promise<void> {
    const { hub, providers, directory, storage } = this.#d;
    switch (msg.t) {
      case 'created': {
        const s = await this.#session(msg);
        if (s !== undefined) hub.deliver({ kind: 'created', session: s });
        return;
      }
      case 'withdrawn': {
        const s = await this.#session(msg);
        if (s !== undefined)
          hub.deliver({ kind: 'withdrawn', before: { ...s, status: 'pending' }, except: msg.x });
        return;
      }
      case 'status': {
        const s = await this.#session(msg);
        if (s !== undefined) hub.deliver({ kind: 'status', session: s });
        return;
      }
      case 'signal': {
        if ('g' in msg) {
          hub.deliver({ kind: 'signal', signal: signalOf(msg) });
          return;
        }
        const [g] = await storage.signals.listFor(msg.sid, msg.to, msg.ref - 1, 1);
        if (g !== undefined && g.id === msg.ref) hub.deliver({ kind: 'signal', signal: g });
        return;
      }
      case 'user': {
        if ('m' in msg) {
          const d = decodePushServerMessage(msg.m);
          if (d.ok) hub.deliver({ kind: 'user', userId: msg.u, message: d.value });
          else this.#d.log.warn({ error: d.error }, 'cluster: push message dropped');
          return;
        }
        const s = await storage.sessions.get(msg.session);
        if (s !== undefined)
          hub.deliver({
            kind: 'user',
            userId: msg.u,
            message: { type: 'session', session: sessionToWire(s) },
          });
        return;
      }
      case 'declines':
        await providers.reloadDeclines(msg.sid);
        return;
      case 'catalog':
        await providers.reloadCatalog(msg.u);
        return;
      case 'user-changed':
        directory.forget(msg.u);
        return;
    }
  }

  /** After the bus was lost: catalogs and declines read again, presence told at once. */
  async #resync(): Promise<void> {
    void this.#beat();
    await this.#d.providers.load();
    for (const fn of this.#resyncs) await fn();
  }

  /** Tells the others this instance leaves (its providers go offline at once), and stops. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#soon !== undefined) clearTimeout(this.#soon);
    await this.#beat(true);
    await this.#d.bus.close();
  }
}
