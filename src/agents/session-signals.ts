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
  /**
   * Per session, the signals taken by their content (type, claim attempt, data): a signal posted again
   * because its instance died before answering (stored twice, two ids) is taken once.
   */
  readonly #seenContent = new Map<string, Set<string>>();
  readonly #lastId = new Map<string, number>();
  readonly #statusListeners = new Map<string, (status: string) => void>();
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
    this.#seenContent.set(sessionId, new Set());
    void this.#poll(sessionId);
    return () => {
      this.#listeners.delete(sessionId);
      this.#seen.delete(sessionId);
      this.#seenContent.delete(sessionId);
      this.#lastId.delete(sessionId);
    };
  }

  /** Delivers the session's status changes (push `session-status`) to `fn` from now on. */
  onStatus(sessionId: string, fn: (status: string) => void): () => void {
    this.#statusListeners.set(sessionId, fn);
    return () => {
      if (this.#statusListeners.get(sessionId) === fn) this.#statusListeners.delete(sessionId);
    };
  }

  /** Feeds a status change that arrived through push. */
  deliverStatus(sessionId: string, status: string): void {
    this.#statusListeners.get(sessionId)?.(status);
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
    const content = this.#seenContent.get(signal.session_id);
    const key = `${signal.signal_type}\n${signal.attempt ?? 0}\n${signal.signal_data}`;
    if (content !== undefined) {
      if (content.has(key)) return;
      content.add(key);
    }
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

  /**
   * Reads back every subscribed session's signals after the last id seen, and (with `statuses`) their
   * statuses: after the push channel was subscribed again, maybe on another instance, what was pushed
   * meanwhile is taken now (each signal once, as always).
   */
  async catchUp(statuses?: () => Promise<Array<{ session_id: string; status: string }>>): Promise<void> {
    await Promise.all([...this.#listeners.keys()].map((id) => this.#poll(id)));
    if (statuses === undefined || this.#statusListeners.size === 0) return;
    try {
      for (const s of await statuses()) this.deliverStatus(s.session_id, s.status);
    } catch {
      // the next push or catch-up tells it
    }
  }

  async #pollAll(): Promise<void> {
    // Several instances (`--server A,B`): the other participant may post through another instance, whose
    // push does not reach ours (unless the instances share it), so polling goes on with push up too.
    if (this.#client.pushUp && !this.#client.multiServer) return;
    await Promise.all([...this.#listeners.keys()].map((id) => this.#poll(id)));
  }

  close(): void {
    if (this.#pollTimer !== undefined) clearInterval(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#listeners.clear();
    this.#statusListeners.clear();
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
 * The claim whose offer the consumer took was released by the server (docs/api.md §3 "Claim timeout"): the
 * session is pending again, or a newer claim's offer came. Not a failure: the consumer drops that attempt's
 * connection and connects to the next offer.
 */
export class ClaimSupersededError extends Error {
  override name = 'ClaimSupersededError';
  constructor(
    readonly attempt: number,
    readonly why: 'released' | 'new-offer',
  ) {
    super(
      why === 'released'
        ? `the server released claim ${attempt} (no channel in time); waiting for the next offer`
        : `a newer claim's offer replaced claim ${attempt}`,
    );
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (v: T) => void = () => undefined;
  let reject: (e: Error) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * One session's incoming signals, sorted by kind: the offer and the answer as promises, candidates to
 * whichever peer is current, and the peer's `error` signal as a rejection of `failed`.
 *
 * On the consumer's side (the peer is the provider) signals carry the session's claim `attempt`
 * (docs/api.md §3 "Claim timeout"): once an offer is taken, the session going back to `pending` or an
 * offer or candidate of a newer attempt rejects {@link superseded} and starts the wait for the next offer;
 * offers and candidates of an older attempt are dropped, so a released claim's late candidates never reach
 * the next peer.
 */
export class SessionSignals {
  readonly answer: Promise<IceSignal>;
  /**
   * Rejects with ERR_PROVIDER/ERR_TRANSFER when the other side posts an `error` signal, and with ERR_AUTH
   * when the server refuses our credential (no signal can come any more); never resolves.
   */
  readonly failed: Promise<never>;
  /** The provider's `progress` signals (docs/api.md §2): it is still producing the file. */
  onProgress:
    | ((p: { phase: 'preparing' | 'queued'; bytes: number; total: number; position?: number }) => void)
    | undefined;
  /** Called with each dropped signal of a released claim (for the log). */
  onStale: ((sig: IceSignal) => void) | undefined;
  readonly #unsubscribe: () => void;
  readonly #offStatus: () => void;
  readonly #offAuth: () => void;
  readonly #peerRole: 'provider' | 'consumer';
  #offer = deferred<IceSignal>();
  #superseded = deferred<never>();
  /** The newest claim attempt seen; older ones' offers and candidates are dropped. */
  #current = 0;
  /** The attempt whose offer was taken (delivered), if any. */
  #taken: number | undefined;
  #onCandidate: ((sig: IceSignal) => void) | undefined;
  /** Candidates that came while no peer took them (between two attempts), for the next one. */
  #early: IceSignal[] = [];

  constructor(router: SignalRouter, sessionId: string, peerRole: 'provider' | 'consumer') {
    this.#peerRole = peerRole;
    let gotAnswer: (s: IceSignal) => void = () => undefined;
    let fail: (e: Error) => void = () => undefined;
    this.answer = new Promise((r) => (gotAnswer = r));
    this.failed = new Promise<never>((_, rej) => (fail = rej));
    this.failed.catch(() => undefined); // observed by whoever races it
    this.#superseded.promise.catch(() => undefined);
    this.#offAuth = router.onAuthRefused((err) => fail(err));
    this.#offStatus =
      peerRole === 'provider'
        ? router.onStatus(sessionId, (status) => {
            // back to pending after an offer was taken: the server released that claim
            if (status === 'pending' && this.#taken !== undefined)
              this.#supersede('released', this.#taken + 1);
          })
        : () => undefined;
    this.#unsubscribe = router.subscribe(sessionId, (sig) => {
      switch (sig.signal_type) {
        case 'candidate':
          if (this.#stale(sig)) break;
          if (this.#onCandidate !== undefined) this.#onCandidate(sig);
          else this.#early.push(sig);
          break;
        case 'offer':
          if (this.#stale(sig)) break;
          this.#taken ??= sig.attempt ?? 0;
          this.#offer.resolve(sig);
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

  /** The current claim's offer (a new promise after each release, docs/api.md §3 "Claim timeout"). */
  get offer(): Promise<IceSignal> {
    return this.#offer.promise;
  }

  /** Rejects with {@link ClaimSupersededError} once the claim whose offer was taken is released. */
  get superseded(): Promise<never> {
    return this.#superseded.promise;
  }

  /** Candidates go to the current peer; setting one hands it those of its attempt that came before it. */
  get onCandidate(): ((sig: IceSignal) => void) | undefined {
    return this.#onCandidate;
  }

  set onCandidate(fn: ((sig: IceSignal) => void) | undefined) {
    this.#onCandidate = fn;
    if (fn === undefined) return;
    const early = this.#early.filter((c) => (c.attempt ?? 0) === this.#current);
    this.#early = [];
    for (const c of early) fn(c);
  }

  /**
   * True for a provider's signal of an older claim attempt (dropped); a newer attempt's signal, once an
   * offer was taken, first supersedes the claim it replaces. The consumer's signals (provider side) carry
   * no claim of ours to check.
   */
  #stale(sig: IceSignal): boolean {
    if (this.#peerRole !== 'provider') return false;
    const a = sig.attempt ?? 0;
    if (a < this.#current) {
      this.onStale?.(sig);
      return true;
    }
    if (a > this.#current) {
      if (this.#taken !== undefined) this.#supersede('new-offer', a);
      else this.#current = a;
    }
    return false;
  }

  #supersede(why: 'released' | 'new-offer', next: number): void {
    const taken = this.#taken ?? this.#current;
    this.#current = Math.max(this.#current, next);
    this.#taken = undefined;
    this.#onCandidate = undefined; // the old peer takes none of the next attempt's candidates
    this.#early = this.#early.filter((c) => (c.attempt ?? 0) === this.#current);
    this.#offer = deferred<IceSignal>();
    const old = this.#superseded;
    this.#superseded = deferred<never>();
    this.#superseded.promise.catch(() => undefined);
    old.reject(new ClaimSupersededError(taken, why));
  }

  close(): void {
    this.#unsubscribe();
    this.#offStatus();
    this.#offAuth();
  }
}
