/**
 * Several signaling server instances of one cluster (one PostgreSQL behind them; README "Several server instances", docs/api.md §5): the URL
 * list `--server A,B,…` is parsed into a {@link ServerPool}, which says which instance the client uses now
 * and moves to the next one (round robin) when that one fails, with a short backoff that grows after each
 * full round, so a client never spins on instances that are all down. The clock is injected for the tests.
 */
import { AgentError } from './errors.js';

/** Normalises `http://host:port/` to `http://host:port`. */
export function normaliseServerUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new AgentError('ERR_CONFIG', `--server: not a URL: ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new AgentError('ERR_CONFIG', `--server: must be http:// or https://, got ${u.protocol}`);
  }
  return u.origin + u.pathname.replace(/\/+$/, '');
}

/**
 * `--server` (or `SDRLINK_SERVER`): one URL, or several separated by commas, all instances of one cluster.
 * Each is checked as a single one is (same errors); an empty entry is refused; a URL given twice is kept
 * once. A single URL gives a list of one, exactly as before.
 */
export function parseServerList(text: string): string[] {
  if (!text.includes(',')) return [normaliseServerUrl(text)];
  const out: string[] = [];
  for (const part of text.split(',')) {
    const t = part.trim();
    if (t === '')
      throw new AgentError('ERR_CONFIG', `--server: an empty entry in the list ${JSON.stringify(text)}`);
    const u = normaliseServerUrl(t);
    if (!out.includes(u)) out.push(u);
  }
  return out;
}

/** Time, injectable: the tests drive the backoff with a fake one. */
export interface Clock {
  sleep(ms: number): Promise<void>;
}

/** Real time; the wait holds the process open (a call is waiting on it). */
export const REAL_CLOCK: Clock = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface FailoverEvent {
  from: string;
  to: string;
  /** Why `from` was left (the failure's message). */
  reason: string;
}

export interface ServerPoolOptions {
  clock?: Clock;
  /** Delay before trying the next instance in the first round (default 250 ms); doubles each round. */
  baseDelayMs?: number;
  /** The longest delay between two attempts (default 5 s). */
  maxDelayMs?: number;
  /** Full rounds over the list one call may take before it gives up (default 3). */
  rounds?: number;
}

/** What a failed attempt means for the call that made it. */
export type FailureKind =
  /** Nothing reached the instance (refused, unreachable, 503): any call may go to the next one. */
  | 'not-sent'
  /** It may have been processed (reset, timeout, 502/504): only a call safe to repeat goes on. */
  | 'maybe-sent'
  /** Not an instance failure (a refusal, a TLS trust error): thrown as it is. */
  | 'fatal';

/** The instances of one cluster and which one is in use; see the file's comment. */
export class ServerPool {
  readonly urls: readonly string[];
  readonly #clock: Clock;
  readonly #base: number;
  readonly #max: number;
  readonly #rounds: number;
  #index = 0;
  /** Failures since the last success, across every call: the backoff grows with each full round. */
  #consecutive = 0;
  readonly #listeners = new Set<(e: FailoverEvent) => void>();

  constructor(urls: readonly string[], opts: ServerPoolOptions = {}) {
    if (urls.length === 0) throw new AgentError('ERR_CONFIG', '--server: no URL');
    this.urls = [...urls];
    this.#clock = opts.clock ?? REAL_CLOCK;
    this.#base = opts.baseDelayMs ?? 250;
    this.#max = opts.maxDelayMs ?? 5000;
    this.#rounds = opts.rounds ?? 3;
  }

  /** True with more than one instance: only then does anything fail over. */
  get multi(): boolean {
    return this.urls.length > 1;
  }

  /** The instance in use. */
  get current(): string {
    return this.urls[this.#index] as string;
  }

  /** Failures since the last success. */
  get consecutiveFailures(): number {
    return this.#consecutive;
  }

  /** Calls `fn` on each move to another instance; returns the function that unsubscribes. */
  onFailover(fn: (e: FailoverEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** `url` answered: the backoff starts over. */
  succeeded(url: string): void {
    if (url === this.current) this.#consecutive = 0;
  }

  /**
   * `url` failed: when it is still the one in use, moves to the next (telling the listeners). Another
   * caller may have moved already: then nothing more moves, so concurrent failures of one instance skip
   * only that one.
   */
  failed(url: string, reason: string): void {
    if (url !== this.current || !this.multi) {
      if (!this.multi) this.#consecutive++;
      return;
    }
    this.#consecutive++;
    const from = this.current;
    this.#index = (this.#index + 1) % this.urls.length;
    const e: FailoverEvent = { from, to: this.current, reason };
    for (const fn of [...this.#listeners]) fn(e);
  }

  /**
   * The wait before the next attempt: none while nothing failed, then `base` for the first round over
   * the list, doubling each round, at most `max`.
   */
  delayMs(): number {
    if (this.#consecutive === 0) return 0;
    const round = Math.floor((this.#consecutive - 1) / this.urls.length);
    return Math.min(this.#max, this.#base * 2 ** Math.min(round, 20));
  }

  /** Waits {@link delayMs}. */
  async backoff(): Promise<void> {
    const ms = this.delayMs();
    if (ms > 0) await this.#clock.sleep(ms);
  }

  /**
   * Runs `attempt` on the instance in use, moving on to the next one (after the backoff) when `classify`
   * says the failure is the instance's and the call may be repeated (`safe`: true for a call that may be
   * repeated even when it may have been processed). Gives up after `rounds` full rounds with
   * `ERR_SERVER_UNREACHABLE`, naming each instance's last failure; a call that may not be repeated throws
   * its own failure at once (the next call goes to the next instance).
   */
  async run<T>(
    attempt: (url: string) => Promise<T>,
    classify: (err: unknown) => FailureKind,
    safe: boolean,
  ): Promise<T> {
    const budget = this.urls.length * this.#rounds;
    const last = new Map<string, string>();
    for (let n = 0; ; n++) {
      const url = this.current;
      try {
        const value = await attempt(url);
        this.succeeded(url);
        return value;
      } catch (err) {
        const kind = classify(err);
        if (kind === 'fatal') throw err;
        const message = (err as Error).message;
        last.set(url, message);
        this.failed(url, message);
        if (!this.multi || (kind === 'maybe-sent' && !safe)) throw err;
        if (n + 1 >= budget) {
          const each = this.urls.map((u) => `${u}: ${last.get(u) ?? 'not tried'}`).join('; ');
          throw new AgentError(
            'ERR_SERVER_UNREACHABLE',
            `no server of the list answered (${budget} attempts over ${this.urls.length} instances): ${each}`,
            { cause: err },
          );
        }
        await this.backoff();
      }
    }
  }
}
