/**
 * Sliding-window limits on authentication: failed logins per username+IP (and, five times looser, per IP
 * alone, against password spraying) and registrations per IP. In memory: a restart forgets, which is
 * acceptable for throttling. While a key is limited even a correct password is refused, with the
 * seconds until the oldest failure leaves the window (Retry-After).
 */
export interface LimiterOptions {
  maxFailures: number;
  windowMs: number;
  maxRegistrations: number;
}

const MAX_KEYS = 100_000;

/** Hits per key within a sliding window (also the per-user session rate, signaling/handlers.ts). */
export class SlidingWindow {
  readonly #hits = new Map<string, number[]>();
  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {}

  #live(key: string, now: number): number[] {
    const list = this.#hits.get(key);
    if (list === undefined) return [];
    const cutoff = now - this.windowMs;
    let i = 0;
    while (i < list.length && (list[i] ?? 0) <= cutoff) i++;
    if (i > 0) list.splice(0, i);
    if (list.length === 0) this.#hits.delete(key);
    return list;
  }

  /** Seconds to wait when `key` is at its limit, else 0. */
  retryAfterS(key: string, now: number): number {
    const list = this.#live(key, now);
    if (list.length < this.max) return 0;
    const oldest = list[0] ?? now;
    return Math.max(1, Math.ceil((oldest + this.windowMs - now) / 1000));
  }

  hit(key: string, now: number): void {
    const list = this.#live(key, now);
    if (list.length === 0) {
      if (this.#hits.size >= MAX_KEYS) this.prune(now);
      this.#hits.set(key, list);
    }
    list.push(now);
    if (list.length > this.max) list.splice(0, list.length - this.max);
  }

  clear(key: string): void {
    this.#hits.delete(key);
  }

  prune(now: number): void {
    for (const key of [...this.#hits.keys()]) this.#live(key, now);
    if (this.#hits.size >= MAX_KEYS) this.#hits.clear();
  }
}

export class LoginLimiter {
  readonly #user: SlidingWindow;
  readonly #ip: SlidingWindow;
  readonly #register: SlidingWindow;
  readonly #now: () => number;

  constructor(opts: LimiterOptions, now: () => number = Date.now) {
    this.#user = new SlidingWindow(opts.maxFailures, opts.windowMs);
    this.#ip = new SlidingWindow(opts.maxFailures * 5, opts.windowMs);
    this.#register = new SlidingWindow(opts.maxRegistrations, opts.windowMs);
    this.#now = now;
  }

  /** Seconds a login for `username` from `ip` must wait, or 0 when it may proceed. */
  loginRetryAfterS(username: string, ip: string): number {
    const now = this.#now();
    return Math.max(this.#user.retryAfterS(`${username}\n${ip}`, now), this.#ip.retryAfterS(ip, now));
  }

  loginFailed(username: string, ip: string): void {
    const now = this.#now();
    this.#user.hit(`${username}\n${ip}`, now);
    this.#ip.hit(ip, now);
  }

  loginSucceeded(username: string, ip: string): void {
    this.#user.clear(`${username}\n${ip}`);
  }

  /** Seconds a registration from `ip` must wait, or 0; counts the attempt when it may proceed. */
  registerAttempt(ip: string): number {
    const now = this.#now();
    const wait = this.#register.retryAfterS(ip, now);
    if (wait === 0) this.#register.hit(ip, now);
    return wait;
  }

  /** Drops keys whose window has passed (called by the server's periodic sweep). */
  prune(): void {
    const now = this.#now();
    this.#user.prune(now);
    this.#ip.prune(now);
    this.#register.prune(now);
  }
}
