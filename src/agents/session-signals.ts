/**
 * Routes signals to the session they belong to. Signals reach an agent through the push channel and, while
 * it is down, through polling; both may deliver the same signal, so each is taken once (by id).
 */
import type { IceSignal, SignalingClient } from './signaling-client.js';

type Listener = (signal: IceSignal) => void;

export class SignalRouter {
  readonly #client: SignalingClient;
  readonly #listeners = new Map<string, Listener>();
  readonly #seen = new Map<string, Set<number>>();
  readonly #lastId = new Map<string, number>();
  #pollTimer: NodeJS.Timeout | undefined;

  constructor(client: SignalingClient, pollIntervalMs: number) {
    this.#client = client;
    this.#pollTimer = setInterval(() => void this.#pollAll(), pollIntervalMs);
    this.#pollTimer.unref();
  }

  /** Delivers the session's signals to `listener` from now on, then polls once to catch up. */
  subscribe(sessionId: string, listener: Listener): () => void {
    this.#listeners.set(sessionId, listener);
    this.#seen.set(sessionId, new Set());
    void this.#poll(sessionId);
    return () => {
      this.#listeners.delete(sessionId);
      this.#seen.delete(sessionId);
      this.#lastId.delete(sessionId);
    };
  }

  /** Feeds a signal that arrived through push. */
  deliver(signal: IceSignal): void {
    const listener = this.#listeners.get(signal.session_id);
    const seen = this.#seen.get(signal.session_id);
    if (listener === undefined || seen === undefined || seen.has(signal.id)) return;
    seen.add(signal.id);
    const last = this.#lastId.get(signal.session_id) ?? 0;
    if (signal.id > last) this.#lastId.set(signal.session_id, signal.id);
    listener(signal);
  }

  /** Polls now (used when the push channel is down, and to catch up after subscribing). */
  async #poll(sessionId: string): Promise<void> {
    try {
      const signals = await this.#client.getSignals(sessionId, this.#lastId.get(sessionId) ?? 0);
      for (const s of signals.sort((a, b) => a.id - b.id)) this.deliver(s);
    } catch {
      // the next poll or a push delivers it
    }
  }

  async #pollAll(): Promise<void> {
    if (this.#client.pushUp) return;
    await Promise.all([...this.#listeners.keys()].map((id) => this.#poll(id)));
  }

  close(): void {
    if (this.#pollTimer !== undefined) clearInterval(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#listeners.clear();
  }
}
