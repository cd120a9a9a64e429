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

export class SignalingHub {
  readonly #byUser = new Map<number, Set<HubSubscriber>>();
  readonly #providers = new Set<HubSubscriber>();
  readonly #statusListeners: Array<(session: SessionRecord) => void> = [];

  /** Calls `fn` on every session transition, after the participants were told (the relay listens). */
  onSessionStatus(fn: (session: SessionRecord) => void): void {
    this.#statusListeners.push(fn);
  }

  /** Registers a subscriber; returns the function that removes it. */
  subscribe(sub: HubSubscriber): () => void {
    let set = this.#byUser.get(sub.userId);
    if (set === undefined) this.#byUser.set(sub.userId, (set = new Set()));
    set.add(sub);
    if (sub.clientType === 1) this.#providers.add(sub);
    return () => {
      const s = this.#byUser.get(sub.userId);
      s?.delete(sub);
      if (s !== undefined && s.size === 0) this.#byUser.delete(sub.userId);
      this.#providers.delete(sub);
    };
  }

  /** Push connections the user holds now. */
  countFor(userId: number): number {
    return this.#byUser.get(userId)?.size ?? 0;
  }

  /** Whether a user has a push connection open. */
  connected(userId: number): boolean {
    return this.#byUser.has(userId);
  }

  /** Ids of the providers with a push connection open. */
  connectedProviders(): number[] {
    return [...new Set([...this.#providers].map((s) => s.userId))];
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
    let text: string | undefined;
    for (const sub of this.#providers) {
      if (sub.userId === exceptUserId || !sub.mayServe(before)) continue;
      text ??= encodePushMessage({ type: 'session-claimed', session_id: before.sessionId });
      sub.send(text);
    }
  }

  /** A stored signal: to its addressee. */
  signal(signal: SignalRecord): void {
    if (!this.#byUser.has(signal.toUserId)) return;
    this.#toUser(signal.toUserId, encodePushMessage({ type: 'signal', signal: signalToWire(signal) }));
  }

  /** A session transition: to both participants. */
  sessionStatus(session: SessionRecord): void {
    const text = encodePushMessage({
      type: 'session-status',
      session_id: session.sessionId,
      status: session.status,
    });
    this.#toUser(session.initiatorUserId, text);
    if (session.targetUserId !== session.initiatorUserId) this.#toUser(session.targetUserId, text);
    for (const fn of this.#statusListeners) fn(session);
  }

  /** Sends a message to one user's connections (e.g. the open sessions after a change of request types). */
  toUser(userId: number, message: PushServerMessage): void {
    this.#toUser(userId, encodePushMessage(message));
  }
}
