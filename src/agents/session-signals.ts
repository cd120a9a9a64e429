/**
 * A session's incoming signals: {@link SignalRouter} routes them to the session they belong to (through
 * the push channel and, while it is down, polling; both may deliver the same signal, so each is taken once,
 * by id), and {@link SessionSignals} sorts one session's signals by kind.
 */
import { ProgressSignalData, createChecker } from '../wire/index.js';
import { AgentError } from './errors.js';
import type { IceSignal, SignalingClient } from './signaling-client.js';

type Listener = (signal: IceSignal) => void;

/** Routes signals to the session they belong to, each signal once. */
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

  /** Calls `fn` once the server refuses the client's credential (see SignalingClient.onAuthRefused). */
  onAuthRefused(fn: (err: AgentError) => void): () => void {
    return this.#client.onAuthRefused(fn);
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

/** Parses an `error` signal's data: `{"code","message"}` as a JSON string. */
export function parseErrorSignal(data: string): { code: string; message: string } {
  try {
    const v = JSON.parse(data) as Record<string, unknown>;
    return {
      code: typeof v['code'] === 'string' ? v['code'] : 'ERR_PEER',
      message: typeof v['message'] === 'string' ? v['message'] : data.slice(0, 200),
    };
  } catch {
    return { code: 'ERR_PEER', message: data.slice(0, 200) };
  }
}

const progressCheck = createChecker(ProgressSignalData);

/** A `progress` signal's data, or undefined when it is not of the wire contract (then it is ignored). */
export function parseProgressSignal(
  data: string,
): { phase: 'preparing' | 'queued'; bytes: number; total: number; position?: number } | undefined {
  try {
    const v: unknown = JSON.parse(data);
    if (!progressCheck.check(v)) return undefined;
    return {
      phase: v.phase,
      bytes: v.bytes,
      total: v.total,
      ...(v.position !== undefined ? { position: v.position } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * One session's incoming signals, sorted by kind: the offer and the answer as promises, candidates to
 * whichever peer is current, and the peer's `error` signal as a rejection of `failed`.
 */
export class SessionSignals {
  readonly offer: Promise<IceSignal>;
  readonly answer: Promise<IceSignal>;
  /**
   * Rejects with ERR_PROVIDER/ERR_TRANSFER when the other side posts an `error` signal, and with ERR_AUTH
   * when the server refuses our credential (no signal can come any more); never resolves.
   */
  readonly failed: Promise<never>;
  onCandidate: ((sig: IceSignal) => void) | undefined;
  /** The provider's `progress` signals (docs/api.md §2): it is still producing the file. */
  onProgress:
    | ((p: { phase: 'preparing' | 'queued'; bytes: number; total: number; position?: number }) => void)
    | undefined;
  readonly #unsubscribe: () => void;
  readonly #offAuth: () => void;

  constructor(router: SignalRouter, sessionId: string, peerRole: 'provider' | 'consumer') {
    let gotOffer: (s: IceSignal) => void = () => undefined;
    let gotAnswer: (s: IceSignal) => void = () => undefined;
    let fail: (e: Error) => void = () => undefined;
    this.offer = new Promise((r) => (gotOffer = r));
    this.answer = new Promise((r) => (gotAnswer = r));
    this.failed = new Promise<never>((_, rej) => (fail = rej));
    this.failed.catch(() => undefined); // observed by whoever races it
    this.#offAuth = router.onAuthRefused((err) => fail(err));
    this.#unsubscribe = router.subscribe(sessionId, (sig) => {
      switch (sig.signal_type) {
        case 'candidate':
          this.onCandidate?.(sig);
          break;
        case 'offer':
          gotOffer(sig);
          break;
        case 'answer':
          gotAnswer(sig);
          break;
        case 'error': {
          const e = parseErrorSignal(sig.signal_data);
          if (peerRole === 'provider' && e.code === 'ERR_NO_PROVIDER') {
            // the server's word (docs/api.md §12): every provider online declined or cannot serve it
            fail(new AgentError('ERR_NO_PROVIDER', e.message, { serverCode: e.code }));
            break;
          }
          fail(
            new AgentError(
              peerRole === 'provider' ? 'ERR_PROVIDER' : 'ERR_TRANSFER',
              `${peerRole} refused: ${e.code}: ${e.message}`,
              { serverCode: e.code },
            ),
          );
          break;
        }
        case 'progress': {
          const p = parseProgressSignal(sig.signal_data);
          if (p !== undefined) this.onProgress?.(p);
          break;
        }
        default:
          break;
      }
    });
  }

  close(): void {
    this.#unsubscribe();
    this.#offAuth();
  }
}
