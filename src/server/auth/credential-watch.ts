/**
 * Open WebSockets (push and relay) outlive the check made when they opened; this watch ends them when
 * their credential stops being valid, so no client keeps working on a credential it no longer has
 * (docs/api.md §5): revoking an API key closes its sockets at once, and a push socket is closed when its
 * token or key expires. Each close is `4401` with `ERR_KEY_REVOKED: …` or `ERR_TOKEN_EXPIRED: …`.
 */
import type { Credential } from './authenticate.js';

/** Longest single timer (setTimeout's limit is 2^31 - 1 ms, about 24.8 days); longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How a watched socket is closed: the error code and its message (the close reason is `code: message`). */
export type CloseSocket = (
  code: 'ERR_KEY_REVOKED' | 'ERR_TOKEN_EXPIRED' | 'ERR_USER_DISABLED',
  message: string,
) => void;

interface Watched {
  close: CloseSocket;
  timer: NodeJS.Timeout | undefined;
}

export class CredentialWatch {
  readonly #byKey = new Map<number, Set<Watched>>();
  readonly #byUser = new Map<number, Set<Watched>>();
  readonly #all = new Set<Watched>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Sockets watched now (tests). */
  get size(): number {
    return this.#all.size;
  }

  /**
   * Watches a socket's credential: `close` is called once if its key is revoked, and (with `expiry`) when
   * the credential expires. Returns the function that stops watching (call it when the socket closes).
   */
  watch(
    credential: Credential,
    close: CloseSocket,
    options: { expiry: boolean; userId: number },
  ): () => void {
    const w: Watched = { close, timer: undefined };
    this.#all.add(w);
    let mine = this.#byUser.get(options.userId);
    if (mine === undefined) this.#byUser.set(options.userId, (mine = new Set()));
    mine.add(w);
    if (credential.kind === 'key') {
      let set = this.#byKey.get(credential.keyId);
      if (set === undefined) this.#byKey.set(credential.keyId, (set = new Set()));
      set.add(w);
    }
    const unwatch = () => {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.timer = undefined;
      this.#all.delete(w);
      const users = this.#byUser.get(options.userId);
      users?.delete(w);
      if (users !== undefined && users.size === 0) this.#byUser.delete(options.userId);
      if (credential.kind === 'key') {
        const set = this.#byKey.get(credential.keyId);
        set?.delete(w);
        if (set !== undefined && set.size === 0) this.#byKey.delete(credential.keyId);
      }
    };
    const expiresAtMs = credential.expiresAtMs;
    if (options.expiry && expiresAtMs !== null) {
      const what = credential.kind === 'key' ? 'API key' : 'token';
      const arm = () => {
        const wait = expiresAtMs - this.#now();
        if (wait <= 0) {
          unwatch();
          close('ERR_TOKEN_EXPIRED', `${what} expired at ${new Date(expiresAtMs).toISOString()}`);
          return;
        }
        w.timer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS));
        w.timer.unref();
      };
      arm();
    }
    return unwatch;
  }

  /** Closes every socket opened with the key. */
  keyRevoked(keyId: number, prefix: string): void {
    const set = this.#byKey.get(keyId);
    if (set === undefined) return;
    for (const w of [...set]) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      this.#all.delete(w);
      w.close('ERR_KEY_REVOKED', `API key ${prefix}… was revoked`);
    }
    this.#byKey.delete(keyId);
  }

  /** Closes every socket of the user (an operator disabled it). */
  userDisabled(userId: number, username: string): void {
    const set = this.#byUser.get(userId);
    if (set === undefined) return;
    for (const w of [...set]) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      this.#all.delete(w);
      w.close('ERR_USER_DISABLED', `user ${username} is disabled by an operator`);
    }
    this.#byUser.delete(userId);
  }

  /** Stops every timer (server shutdown). */
  stop(): void {
    for (const w of this.#all) if (w.timer !== undefined) clearTimeout(w.timer);
    this.#all.clear();
    this.#byKey.clear();
    this.#byUser.clear();
  }
}
