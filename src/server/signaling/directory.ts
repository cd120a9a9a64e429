/**
 * Users and request types as the request path needs them: a cache of user records by id (every
 * authenticated call needs one; users change rarely) and the set of known request types — the configured
 * list plus every type some provider declared (docs/api.md §2). A cache miss reads the database, so users
 * created by another process (`sdrlink user add` beside a running server) are found.
 */
import { REQUEST_TYPE_PATTERN } from '../config.js';
import { usernameKey, type SessionRecord, type Storage, type UserRecord } from '../../storage/types.js';

const USER_CACHE_MAX = 100_000;
const TYPES_REFRESH_MS = 1000;

export class UserDirectory {
  readonly #storage: Storage;
  readonly #configured: ReadonlySet<string>;
  readonly #users = new Map<number, UserRecord>();
  readonly #idByName = new Map<string, number>();
  #disabled: ReadonlySet<number> = new Set();
  #served = new Set<string>();
  #servedAt = -Infinity;
  readonly #now: () => number;
  #changed: ((userId: number) => void) | undefined;

  constructor(storage: Storage, configuredTypes: readonly string[], now: () => number = Date.now) {
    this.#storage = storage;
    this.#configured = new Set(configuredTypes);
    this.#now = now;
  }

  /** A user by id, from the cache or the database. */
  async get(id: number): Promise<UserRecord | undefined> {
    const hit = this.#users.get(id);
    if (hit !== undefined) return hit;
    const u = await this.#storage.users.byId(id);
    if (u !== undefined) this.remember(u);
    return u;
  }

  /**
   * Whether an operator disabled the user: its record says so, or the last read of the disabled list
   * (`refreshDisabled`, every `userPollMs`) does — `sdrlink user disable` writes the database from
   * another process.
   */
  isDisabled(user: UserRecord): boolean {
    return user.disabledAt !== null || this.#disabled.has(user.id);
  }

  /**
   * Re-reads which users are disabled; returns those newly disabled since the last read. Users whose
   * state changed are dropped from the cache, so their next look-up reads the database.
   */
  async refreshDisabled(): Promise<Array<{ id: number; username: string }>> {
    const now = new Set(await this.#storage.users.disabledIds());
    const before = this.#disabled;
    const added: Array<{ id: number; username: string }> = [];
    for (const id of now) {
      if (before.has(id)) continue;
      const name = this.#users.get(id)?.username ?? (await this.#storage.users.byId(id))?.username;
      added.push({ id, username: name ?? `#${id}` });
      this.#users.delete(id);
    }
    for (const id of before) if (!now.has(id)) this.#users.delete(id);
    this.#disabled = now;
    return added;
  }

  /** A user from the cache only (synchronous; for event fan-out). */
  cached(id: number): UserRecord | undefined {
    return this.#users.get(id);
  }

  /**
   * A user by name (a consumer naming its provider, at each initiate): the name's id is cached (names
   * never change hands: users are never deleted), the record comes through {@link get}. `fresh` reads
   * the database (a login checks the password as stored now).
   */
  async byName(username: string, fresh = false): Promise<UserRecord | undefined> {
    const key = usernameKey(username);
    const id = fresh ? undefined : this.#idByName.get(key);
    if (id !== undefined) return this.get(id);
    const u = await this.#storage.users.byName(username);
    if (u !== undefined) {
      this.remember(u);
      if (this.#idByName.size >= USER_CACHE_MAX) this.#idByName.clear();
      this.#idByName.set(key, u.id);
    }
    return u;
  }

  /** Announces to the other instances that a user's record changed ({@link changed}). */
  join(changed: (userId: number) => void): void {
    this.#changed = changed;
  }

  /** A user's record was updated here: cached fresh, and the other instances drop their copy. */
  changed(u: UserRecord): void {
    this.remember(u);
    this.#changed?.(u.id);
  }

  /** Drops a user from the cache (another instance changed it): the next look-up reads the database. */
  forget(id: number): void {
    this.#users.delete(id);
  }

  /** Puts a fresh record in the cache (after create or update), and learns its request types. */
  remember(u: UserRecord): void {
    if (this.#users.size >= USER_CACHE_MAX) this.#users.clear();
    this.#users.set(u.id, u);
    if (u.clientType === 1) for (const t of u.requestTypes) this.#served.add(t);
  }

  /** Whether `type` may be requested: well-formed, and configured or served by some provider. */
  async isKnownType(type: string): Promise<boolean> {
    if (!REQUEST_TYPE_PATTERN.test(type)) return false;
    if (this.#configured.has(type) || this.#served.has(type)) return true;
    const now = this.#now();
    if (now - this.#servedAt < TYPES_REFRESH_MS) return false;
    this.#servedAt = now;
    this.#served = new Set(await this.#storage.users.servedRequestTypes());
    return this.#served.has(type);
  }

  /** Every known request type, sorted. */
  async knownTypes(): Promise<string[]> {
    this.#served = new Set(await this.#storage.users.servedRequestTypes());
    this.#servedAt = this.#now();
    return [...new Set([...this.#configured, ...this.#served])].sort();
  }

  /** Whether a provider serves a request type (an empty list serves every known type). */
  static serves(user: UserRecord, requestType: string): boolean {
    return (
      user.clientType === 1 && (user.requestTypes.length === 0 || user.requestTypes.includes(requestType))
    );
  }

  /** Whether a provider may take a pending session: named for it, or open and of a type it serves. */
  static mayServe(user: UserRecord, session: SessionRecord): boolean {
    if (user.clientType !== 1 || session.status !== 'pending') return false;
    if (session.targetUserId !== null) return session.targetUserId === user.id;
    return UserDirectory.serves(user, session.requestType);
  }
}
