/**
 * Who is online and what each provider offers (docs/api.md §12): the catalogs providers announce, when
 * each was last heard from, and which sessions each has declined. The signaling service asks it which
 * providers a session is offered to ({@link ProviderRegistry.mayOffer}); the push hub asks the same, so
 * push and polling offer a session to the same providers.
 *
 * Catalogs and declines are stored (migration 004) and mirrored here, so the checks on the hot path
 * (every push fan-out) are synchronous. Presence is in memory only: a push connection open now, or a
 * call within {@link ONLINE_WINDOW_MS}.
 *
 * Several instances (src/server/cluster/): a change made here (a catalog, a decline) is announced through
 * {@link ProviderChanges}, and the other instances read it again from storage ({@link reloadCatalog},
 * {@link reloadDeclines}); the providers heard from on another instance come with its heartbeat
 * ({@link seenAt}).
 */
import type {
  CatalogRecord,
  DeclineRecord,
  SessionRecord,
  Storage,
  UserRecord,
} from '../../storage/types.js';
import { matchCatalog, type Catalog, type ProviderWire } from '../../wire/index.js';
import { UserDirectory } from './directory.js';

/** A provider heard from within this long (a poll, an announcement) counts as online. */
export const ONLINE_WINDOW_MS = 30_000;

/** What the other instances must read again after a change made on this one. */
export interface ProviderChanges {
  catalog(userId: number): void;
  declines(sessionId: string): void;
}

interface StoredCatalog {
  catalog: Catalog;
  updatedAt: string;
}

export class ProviderRegistry {
  readonly #storage: Storage;
  readonly #directory: UserDirectory;
  readonly #connected: (userId: number) => boolean;
  readonly #now: () => number;
  readonly #catalogs = new Map<number, StoredCatalog>();
  readonly #seen = new Map<number, number>();
  readonly #declines = new Map<string, Map<number, DeclineRecord>>();
  #changes: ProviderChanges | undefined;

  constructor(
    storage: Storage,
    directory: UserDirectory,
    connected: (userId: number) => boolean,
    now: () => number,
  ) {
    this.#storage = storage;
    this.#directory = directory;
    this.#connected = connected;
    this.#now = now;
  }

  /** Announces this instance's changes to the others. */
  join(changes: ProviderChanges): void {
    this.#changes = changes;
  }

  /** Reads the stored catalogs and the declines of pending sessions (once, at start-up). */
  async load(): Promise<void> {
    for (const r of await this.#storage.catalogs.list()) this.#remember(r);
    for (const d of await this.#storage.catalogs.pendingDeclines()) this.#addDecline(d);
  }

  #remember(r: CatalogRecord): void {
    this.#catalogs.set(r.userId, { catalog: JSON.parse(r.catalog) as Catalog, updatedAt: r.updatedAt });
  }

  #addDecline(d: DeclineRecord): void {
    let m = this.#declines.get(d.sessionId);
    if (m === undefined) this.#declines.set(d.sessionId, (m = new Map()));
    m.set(d.userId, d);
  }

  /** Stores a provider's catalog. */
  async setCatalog(userId: number, catalog: Catalog): Promise<void> {
    const r = await this.#storage.catalogs.put(
      userId,
      JSON.stringify(catalog),
      new Date(this.#now()).toISOString(),
    );
    this.#remember(r);
    this.seen(userId);
    this.#changes?.catalog(userId);
  }

  /** Reads a provider's catalog again (another instance stored it). */
  async reloadCatalog(userId: number): Promise<void> {
    const r = await this.#storage.catalogs.get(userId);
    if (r === undefined) this.#catalogs.delete(userId);
    else this.#remember(r);
  }

  /** Reads a session's declines again (another instance recorded one). */
  async reloadDeclines(sessionId: string): Promise<void> {
    for (const d of await this.#storage.catalogs.declines(sessionId)) this.#addDecline(d);
  }

  /** Notes that a provider was heard from at `at` (ms) by another instance. */
  seenAt(userId: number, at: number): void {
    if ((this.#seen.get(userId) ?? -Infinity) < at) this.#seen.set(userId, at);
  }

  /** The providers heard from since `since` (ms) and when, for the other instances. */
  seenSince(since: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const [id, at] of this.#seen) if (at >= since) out.push([id, at]);
    return out;
  }

  /** The catalog a provider announced, if any. */
  catalog(userId: number): Catalog | undefined {
    return this.#catalogs.get(userId)?.catalog;
  }

  /** Notes that a provider was heard from now. */
  seen(userId: number): void {
    this.#seen.set(userId, this.#now());
  }

  /** Online: its push channel is open, or it was heard from within {@link ONLINE_WINDOW_MS}. */
  online(userId: number): boolean {
    if (this.#connected(userId)) return true;
    const at = this.#seen.get(userId);
    return at !== undefined && this.#now() - at < ONLINE_WINDOW_MS;
  }

  /** Records a decline (stored and mirrored). Returns whether it was new. */
  async decline(d: DeclineRecord): Promise<boolean> {
    const fresh = await this.#storage.catalogs.decline(d);
    this.#addDecline(d);
    this.#changes?.declines(d.sessionId);
    return fresh;
  }

  /**
   * Reads a session's declines again from storage: a claim drops them here ({@link forget}), and a session
   * whose claim the server released is pending again, offered to those that did not decline it.
   */
  async reload(sessionId: string): Promise<void> {
    await this.reloadDeclines(sessionId);
    this.#changes?.declines(sessionId);
  }

  /** A provider's decline of a session, if it declined it (kept while the session is pending). */
  declineOf(sessionId: string, userId: number): DeclineRecord | undefined {
    return this.#declines.get(sessionId)?.get(userId);
  }

  declined(sessionId: string, userId: number): boolean {
    return this.#declines.get(sessionId)?.has(userId) ?? false;
  }

  /** The declines of a session, oldest first. */
  declinesOf(sessionId: string): DeclineRecord[] {
    return [...(this.#declines.get(sessionId)?.values() ?? [])].sort((a, b) => a.at.localeCompare(b.at));
  }

  /** Drops what was kept about a session that is no longer pending. */
  forget(sessionId: string): void {
    this.#declines.delete(sessionId);
  }

  /**
   * Why this provider cannot serve an open session (null: it can). A provider that announced a catalog is
   * matched against it (type, parameters, recording); one that announced none (a seed Type1) by its request
   * types only, as before catalogs existed.
   */
  mismatch(user: UserRecord, session: SessionRecord): string | null {
    if (!UserDirectory.serves(user, session.requestType))
      return `does not serve ${JSON.stringify(session.requestType)}`;
    const c = this.#catalogs.get(user.id);
    if (c === undefined) return null;
    return matchCatalog(c.catalog, session.requestType, parseParams(session.parameters));
  }

  /**
   * Whether a pending session is offered to this provider (push and `GET /api/ice/sessions`): one named for
   * it always; an open one when its catalog can serve it and it has not declined it.
   */
  mayOffer(user: UserRecord, session: SessionRecord): boolean {
    if (!UserDirectory.mayServe(user, session)) return false;
    if (session.targetUserId !== null) return true;
    return !this.declined(session.sessionId, user.id) && this.mismatch(user, session) === null;
  }

  /** Ids of the providers online now (push connected or heard from lately). */
  #onlineIds(): number[] {
    const ids = new Set<number>(this.#seen.keys());
    for (const id of this.#catalogs.keys()) ids.add(id);
    return [...ids].filter((id) => this.online(id));
  }

  /** The providers online now to which this pending session is offered. */
  async able(session: SessionRecord, connectedIds: Iterable<number>): Promise<UserRecord[]> {
    const ids = new Set([...this.#onlineIds(), ...connectedIds]);
    const out: UserRecord[] = [];
    for (const id of ids) {
      const u = await this.#directory.get(id);
      if (u !== undefined && this.online(id) && this.mayOffer(u, session)) out.push(u);
    }
    return out;
  }

  /**
   * `GET /api/providers`: the providers online, and those with a catalog that are not, by name.
   * @param connectedIds providers with an open push channel.
   */
  async list(connectedIds: Iterable<number>): Promise<ProviderWire[]> {
    const ids = new Set([...this.#seen.keys(), ...this.#catalogs.keys(), ...connectedIds]);
    const out: ProviderWire[] = [];
    for (const id of ids) {
      const u = await this.#directory.get(id);
      if (u === undefined || u.clientType !== 1) continue;
      const online = this.online(id);
      const seenAt = online && this.#connected(id) ? this.#now() : this.#seen.get(id);
      const c = this.#catalogs.get(id);
      out.push({
        user_id: String(id),
        username: u.username,
        online,
        last_seen: seenAt === undefined ? '' : new Date(seenAt).toISOString(),
        request_types: u.requestTypes,
        catalog: c?.catalog ?? null,
        catalog_updated_at: c?.updatedAt ?? '',
      });
    }
    return out.sort((a, b) => Number(b.online) - Number(a.online) || a.username.localeCompare(b.username));
  }
}

/** A session's parameters as an object (the server stored them checked: a JSON-encoded object). */
function parseParams(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text === '' ? '{}' : text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
