/**
 * The in-process event hub (docs/api.md §5). The signaling service publishes here after each committed
 * change, whether it came over REST or the push WebSocket, so polling and push see the same data in the
 * same order. Subscribers are push connections; each event is encoded once and handed to the sockets
 * of the users it concerns.
 */
import type { ClientType, SessionRecord, SignalRecord } from '../../storage/types.js';
import { encodePushMessage, type PushServerMessage } from '../../wire/push.js';
import { sessionToWire, signalToWire } from '../wire.js';

/** A live push connection. */
export interface HubSubscriber {
  readonly userId: number;
  readonly clientType: ClientType;
  /** Whether this (provider) subscriber may serve an open session; read at publish time. */
  mayServe(session: SessionRecord): boolean;
  /** Delivers one encoded message (text JSON). */
  send(text: string): void;
}

/** An event of the hub, as it crosses to the other instances. */
export type HubEvent =
  | { kind: 'created'; session: SessionRecord }
  | { kind: 'withdrawn'; before: SessionRecord; except: number | null }
  | { kind: 'signal'; signal: SignalRecord }
  | { kind: 'status'; session: SessionRecord }
  | { kind: 'user'; userId: number; message: PushServerMessage };

/** Where the hub sends each event it delivered locally (the cluster bus). */
export type HubRelay = (event: HubEvent) => void;

/** The providers with a push connection to another instance. */
export interface RemotePresence {
  connected(userId: number): boolean;
  providers(): Iterable<number>;
}

export class SignalingHub {
  readonly #byUser = new Map<number, Set<HubSubscriber>>();
  readonly #providers = new Set<HubSubscriber>();
  readonly #statusListeners: Array<(session: SessionRecord, local: boolean) => void> = [];
  readonly #presenceListeners: Array<() => void> = [];
  #relay: HubRelay | undefined;
  #remote: RemotePresence | undefined;

  /**
   * Calls `fn` on every session transition, after the participants were told (the relay listens); `local`
   * is false for a transition another instance made (delivered here through {@link deliver}).
   */
  onSessionStatus(fn: (session: SessionRecord, local: boolean) => void): void {
    this.#statusListeners.push(fn);
  }

  /** Calls `fn` when a provider's first push connection opens or its last one closes. */
  onProvidersChanged(fn: () => void): void {
    this.#presenceListeners.push(fn);
  }

  /** Joins a cluster: events go out through `relay`, and `remote` tells who is connected elsewhere. */
  join(relay: HubRelay, remote: RemotePresence): void {
    this.#relay = relay;
    this.#remote = remote;
  }

  /** The ids of the providers with a push connection to this instance. */
  localProviders(): number[] {
    return [...new Set([...this.#providers].map((s) => s.userId))];
  }

  /**
   * Delivers an event to this instance's sockets only, never publishing it: one another instance published,
   * or a re-send after the bus was lost.
   */
  deliver(event: HubEvent): void {
    switch (event.kind) {
      case 'created':
        this.#created(event.session);
        return;
      case 'withdrawn':
        this.#withdrawn(event.before, event.except);
        return;
      case 'signal':
        this.#signal(event.signal);
        return;
      case 'status':
        this.#status(event.session, false);
        return;
      case 'user':
        this.#toUser(event.userId, encodePushMessage(event.message));
        return;
    }
  }

  /** Registers a subscriber; returns the function that removes it. */
  subscribe(sub: HubSubscriber): () => void {
    let set = this.#byUser.get(sub.userId);
    if (set === undefined) this.#byUser.set(sub.userId, (set = new Set()));
    set.add(sub);
    const first = set.size === 1;
    if (sub.clientType === 1) this.#providers.add(sub);
    if (sub.clientType === 1 && first) for (const fn of this.#presenceListeners) fn();
    return () => {
      const s = this.#byUser.get(sub.userId);
      s?.delete(sub);
      const last = s !== undefined && s.size === 0;
      if (last) this.#byUser.delete(sub.userId);
      const was = this.#providers.delete(sub);
      if (was && last) for (const fn of this.#presenceListeners) fn();
    };
  }

  /** Push connections the user holds now. */
  countFor(userId: number): number {
    return this.#byUser.get(userId)?.size ?? 0;
  }

  /** Whether a user has a push connection open (to this instance or, in a cluster, to another). */
  connected(userId: number): boolean {
    return this.#byUser.has(userId) || (this.#remote?.connected(userId) ?? false);
  }

  /** Ids of the providers with a push connection open (to any instance). */
  connectedProviders(): number[] {
    const ids = new Set(this.localProviders());
    if (this.#remote !== undefined) for (const id of this.#remote.providers()) ids.add(id);
    return [...ids];
  }

  /** Number of live subscribers. */
  get size(): number {
    let n = 0;
    for (const s of this.#byUser.values()) n += s.size;
    return n;
  }

  #toUser(userId: number | null, text: string): void {
    if (userId === null) return;
    const set = this.#byUser.get(userId);
    if (set === undefined) return;
    for (const sub of set) sub.send(text);
  }

  /** A new pending session: to every connected provider that may serve it. */
  sessionCreated(session: SessionRecord): void {
    this.#created(session);
    this.#relay?.({ kind: 'created', session });
  }

  #created(session: SessionRecord): void {
    let text: string | undefined;
    for (const sub of this.#providers) {
      if (!sub.mayServe(session)) continue;
      text ??= encodePushMessage({ type: 'session', session: sessionToWire(session) });
      sub.send(text);
    }
  }

  /**
   * A session left the providers' lists (claimed, cancelled, expired): to every provider that could see it
   * while it was open (`before`, the pending record), except `exceptUserId` (the claimant).
   */
  sessionWithdrawn(before: SessionRecord, exceptUserId: number | null): void {
    this.#withdrawn(before, exceptUserId);
    this.#relay?.({ kind: 'withdrawn', before, except: exceptUserId });
  }

  #withdrawn(before: SessionRecord, exceptUserId: number | null): void {
    let text: string | undefined;
    for (const sub of this.#providers) {
      if (sub.userId === exceptUserId || !sub.mayServe(before)) continue;
      text ??= encodePushMessage({ type: 'session-claimed', session_id: before.sessionId });
      sub.send(text);
    }
  }

  /** A stored signal: to its addressee. */
  signal(signal: SignalRecord): void {
    this.#signal(signal);
    this.#relay?.({ kind: 'signal', signal });
  }

  #signal(signal: SignalRecord): void {
    if (!this.#byUser.has(signal.toUserId)) return;
    this.#toUser(signal.toUserId, encodePushMessage({ type: 'signal', signal: signalToWire(signal) }));
  }

  /** A session transition: to both participants. */
  sessionStatus(session: SessionRecord): void {
    this.#status(session, true);
    this.#relay?.({ kind: 'status', session });
  }

  #status(session: SessionRecord, local: boolean): void {
    const text = encodePushMessage({
      type: 'session-status',
      session_id: session.sessionId,
      status: session.status,
    });
    this.#toUser(session.initiatorUserId, text);
    if (session.targetUserId !== session.initiatorUserId) this.#toUser(session.targetUserId, text);
    for (const fn of this.#statusListeners) fn(session, local);
  }

  /** Sends a message to one user's connections (e.g. the open sessions after a change of request types). */
  toUser(userId: number, message: PushServerMessage): void {
    this.#toUser(userId, encodePushMessage(message));
    this.#relay?.({ kind: 'user', userId, message });
  }
}
