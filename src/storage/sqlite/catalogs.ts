/**
 * `CatalogRepository` over SQLite: the `provider_catalogs` and `session_declines` tables (migration 004).
 */
import { sql, type Selectable } from 'kysely';
import type { CatalogRecord, CatalogRepository, DeclineRecord } from '../types.js';
import { param, prepare, type SqliteHandle } from './database.js';
import type { Database, ProviderCatalogsTable, SessionDeclinesTable } from '../schema.js';
import type { HotState } from './hot-state.js';
import type { QueuedDb } from './write-queue.js';

const n = (name: string) => param<number>(name);
const s = (name: string) => param<string>(name);

function buildQueries({ raw, kysely: k }: SqliteHandle<Database>) {
  const p = <R>(c: Parameters<typeof prepare<R>>[1]) => prepare<R>(raw, c);
  return {
    put: p(
      k
        .insertInto('provider_catalogs')
        .values({ user_id: n('user_id'), catalog: s('catalog'), updated_at: s('now') })
        .onConflict((oc) => oc.column('user_id').doUpdateSet({ catalog: s('catalog'), updated_at: s('now') }))
        .returningAll()
        .compile(),
    ),
    get: p(k.selectFrom('provider_catalogs').selectAll().where('user_id', '=', n('user_id')).compile()),
    list: p(k.selectFrom('provider_catalogs').selectAll().orderBy('user_id').compile()),
    decline: p(
      k
        .insertInto('session_declines')
        .values({
          session_id: s('session_id'),
          user_id: n('user_id'),
          code: s('code'),
          message: s('message'),
          at: s('at'),
        })
        .onConflict((oc) => oc.columns(['session_id', 'user_id']).doNothing())
        .compile(),
    ),
    declines: p(
      k
        .selectFrom('session_declines')
        .selectAll()
        .where('session_id', '=', s('session_id'))
        .orderBy('at')
        .orderBy('user_id')
        .compile(),
    ),
    pendingDeclines: p(
      sql<Selectable<SessionDeclinesTable>>`SELECT d.* FROM session_declines d
        JOIN ice_sessions x ON x.session_id = d.session_id WHERE x.status = 'pending'
        ORDER BY d.session_id, d.at`.compile(k),
    ),
  };
}

/** Provider catalogs and session declines. */
export class SqliteCatalogs implements CatalogRepository {
  readonly #db: QueuedDb;
  readonly #q: ReturnType<typeof buildQueries>;

  readonly #hot: HotState | undefined;

  /** @param hot the hot path, committed before declines are read (releases record declines there). */
  constructor(handle: SqliteHandle<Database>, db: QueuedDb, hot?: HotState) {
    this.#hot = hot;
    this.#db = db;
    this.#q = buildQueries(handle);
  }

  put(userId: number, catalog: string, now: string): Promise<CatalogRecord> {
    return this.#db.write(() => {
      const row = this.#q.put.get({ user_id: userId, catalog, now });
      if (row === undefined) throw new Error('insert into provider_catalogs returned no row');
      return toCatalog(row);
    });
  }

  async get(userId: number): Promise<CatalogRecord | undefined> {
    const row = this.#q.get.get({ user_id: userId });
    return row === undefined ? undefined : toCatalog(row);
  }

  async list(): Promise<CatalogRecord[]> {
    return this.#q.list.all().map(toCatalog);
  }

  decline(d: DeclineRecord): Promise<boolean> {
    return this.#db.write(
      () =>
        this.#q.decline.run({
          session_id: d.sessionId,
          user_id: d.userId,
          code: d.code,
          message: d.message,
          at: d.at,
        }).changes > 0,
    );
  }

  async declines(sessionId: string): Promise<DeclineRecord[]> {
    this.#hot?.sync();
    return this.#q.declines.all({ session_id: sessionId }).map(toDecline);
  }

  async pendingDeclines(): Promise<DeclineRecord[]> {
    this.#hot?.sync();
    return this.#q.pendingDeclines.all().map(toDecline);
  }
}

/** Row → record (shared with the PostgreSQL repositories). */
export function toCatalog(r: Selectable<ProviderCatalogsTable>): CatalogRecord {
  return { userId: r.user_id, catalog: r.catalog, updatedAt: r.updated_at };
}

/** Row → record (shared with the PostgreSQL repositories). */
export function toDecline(r: Selectable<SessionDeclinesTable>): DeclineRecord {
  return { sessionId: r.session_id, userId: r.user_id, code: r.code, message: r.message, at: r.at };
}
