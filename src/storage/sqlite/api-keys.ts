/**
 * `ApiKeyRepository` over SQLite: the `api_keys` table (migration 005). The secret never reaches this
 * layer, only its SHA-256.
 */
import type { Selectable } from 'kysely';
import { StorageError, type ApiKeyRecord, type ApiKeyRepository, type NewApiKey } from '../types.js';
import { param, prepare, type SqliteHandle } from './database.js';
import type { ApiKeysTable, Database } from '../schema.js';
import type { QueuedDb } from './write-queue.js';

type ApiKeyRow = Selectable<ApiKeysTable>;

const n = (name: string) => param<number>(name);
const s = (name: string) => param<string>(name);

function buildQueries({ raw, kysely: k }: SqliteHandle<Database>) {
  const p = <R>(c: Parameters<typeof prepare<R>>[1]) => prepare<R>(raw, c);
  return {
    insert: p(
      k
        .insertInto('api_keys')
        .values({
          user_id: n('user_id'),
          name: s('name'),
          prefix: '',
          secret_sha256: s('secret_sha256'),
          created_at: s('now'),
          expires_at: param<string | null>('expires_at'),
        })
        .returning('id')
        .compile(),
    ),
    setPrefix: p(
      k
        .updateTable('api_keys')
        .set({ prefix: s('prefix') })
        .where('id', '=', n('id'))
        .compile(),
    ),
    byId: p(k.selectFrom('api_keys').selectAll().where('id', '=', n('id')).compile()),
    forUser: p(
      k
        .selectFrom('api_keys')
        .selectAll()
        .where('user_id', '=', n('user_id'))
        .orderBy('id', 'desc')
        .limit(n('limit'))
        .compile(),
    ),
    countActive: p(
      k
        .selectFrom('api_keys')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', n('user_id'))
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', s('now'))]))
        .compile(),
    ),
    revoke: p(
      k
        .updateTable('api_keys')
        .set({ revoked_at: s('now') })
        .where('id', '=', n('id'))
        .where('revoked_at', 'is', null)
        .compile(),
    ),
    touch: p(
      k
        .updateTable('api_keys')
        .set({ last_used_at: s('now') })
        .where('id', '=', n('id'))
        .compile(),
    ),
  };
}

/** API keys: created, listed, revoked; a use is recorded in `last_used_at`. */
export class SqliteApiKeys implements ApiKeyRepository {
  readonly #db: QueuedDb;
  readonly #q: ReturnType<typeof buildQueries>;

  constructor(handle: SqliteHandle<Database>, db: QueuedDb) {
    this.#db = db;
    this.#q = buildQueries(handle);
  }

  create(key: NewApiKey, now: string): Promise<ApiKeyRecord> {
    return this.#db.write(() => {
      const row = this.#q.insert.get({
        user_id: key.userId,
        name: key.name,
        secret_sha256: key.secretSha256,
        now,
        expires_at: key.expiresAt,
      }) as { id: number } | undefined;
      if (row === undefined) throw new StorageError('ERR_STORAGE', 'insert into api_keys returned no row');
      this.#q.setPrefix.run({ id: row.id, prefix: `sdrk_${row.id}_${key.secretHead}` });
      const stored = this.#q.byId.get({ id: row.id });
      if (stored === undefined) throw new StorageError('ERR_STORAGE', 'api key vanished after insert');
      return toKey(stored);
    });
  }

  async get(id: number): Promise<ApiKeyRecord | undefined> {
    const row = this.#q.byId.get({ id });
    return row === undefined ? undefined : toKey(row);
  }

  async listForUser(userId: number, limit: number): Promise<ApiKeyRecord[]> {
    return this.#q.forUser.all({ user_id: userId, limit }).map(toKey);
  }

  async countActiveForUser(userId: number, now: string): Promise<number> {
    const row = this.#q.countActive.get({ user_id: userId, now }) as { n: number } | undefined;
    return row?.n ?? 0;
  }

  revoke(id: number, now: string): Promise<ApiKeyRecord | undefined> {
    return this.#db.write(() => {
      this.#q.revoke.run({ id, now });
      const row = this.#q.byId.get({ id });
      return row === undefined ? undefined : toKey(row);
    });
  }

  async touch(id: number, now: string): Promise<void> {
    await this.#db.write(() => this.#q.touch.run({ id, now }));
  }
}

/** Row → record (shared with the PostgreSQL repositories). */
export function toKey(r: ApiKeyRow): ApiKeyRecord {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    prefix: r.prefix,
    secretSha256: r.secret_sha256,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
  };
}
