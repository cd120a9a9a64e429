/**
 * `UserRepository`, `ApiKeyRepository` and `CatalogRepository` over PostgreSQL: the `users`, `api_keys`,
 * `provider_catalogs` and `session_declines` tables (small, off the hot path, so kept together).
 */
import { sql } from 'kysely';
import {
  StorageError,
  usernameKey,
  type ApiKeyRecord,
  type ApiKeyRepository,
  type CatalogRecord,
  type CatalogRepository,
  type DeclineRecord,
  type NewApiKey,
  type NewUser,
  type UserRecord,
  type UserRepository,
} from '../types.js';
import { toKey } from '../sqlite/api-keys.js';
import { toCatalog, toDecline } from '../sqlite/catalogs.js';
import { toUser } from '../sqlite/users.js';
import { isPgUniqueViolation } from './database.js';
import type { Db } from './session-rows.js';

/** Users: registration, look-ups, and the request types providers declare. */
export class PostgresUsers implements UserRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async create(user: NewUser, now: string): Promise<UserRecord> {
    try {
      const row = await this.#db
        .insertInto('users')
        .values({
          username: user.username,
          password_hash: user.passwordHash,
          client_type: user.clientType,
          request_types: JSON.stringify(user.requestTypes),
          created_at: now,
          username_key: usernameKey(user.username),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toUser(row);
    } catch (err) {
      if (isPgUniqueViolation(err))
        throw new StorageError('ERR_CONFLICT', `username ${JSON.stringify(user.username)} is taken`, {
          cause: err,
        });
      throw err;
    }
  }

  async byId(id: number): Promise<UserRecord | undefined> {
    // ids are INTEGER: a larger number names no user (and must not reach SQL as an out-of-range value)
    if (!Number.isInteger(id) || id < -2147483648 || id > 2147483647) return undefined;
    const row = await this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toUser(row);
  }

  async byName(username: string): Promise<UserRecord | undefined> {
    const row = await this.#db
      .selectFrom('users')
      .selectAll()
      .where('username_key', '=', usernameKey(username))
      .executeTakeFirst();
    return row === undefined ? undefined : toUser(row);
  }

  async setDisabled(id: number, disabledAt: string | null): Promise<UserRecord | undefined> {
    const row = await this.#db
      .updateTable('users')
      .set({ disabled_at: disabledAt })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? undefined : toUser(row);
  }

  async disabledIds(): Promise<number[]> {
    const rows = await this.#db
      .selectFrom('users')
      .select('id')
      .where('disabled_at', 'is not', null)
      .orderBy('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async setRequestTypes(id: number, requestTypes: string[]): Promise<void> {
    await this.#db
      .updateTable('users')
      .set({ request_types: JSON.stringify(requestTypes) })
      .where('id', '=', id)
      .execute();
  }

  async servedRequestTypes(): Promise<string[]> {
    const r = await sql<{ value: string }>`SELECT DISTINCT j.value COLLATE "C" AS value
      FROM users, jsonb_array_elements_text(users.request_types::jsonb) AS j(value)
      WHERE users.client_type = 1 ORDER BY 1`.execute(this.#db);
    return r.rows.map((x) => x.value);
  }

  async list(): Promise<UserRecord[]> {
    return (await this.#db.selectFrom('users').selectAll().orderBy('id').execute()).map(toUser);
  }
}

/** API keys: created, listed, revoked; a use is recorded in `last_used_at`. */
export class PostgresApiKeys implements ApiKeyRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  create(key: NewApiKey, now: string): Promise<ApiKeyRecord> {
    return this.#db.transaction().execute(async (trx) => {
      const { id } = await trx
        .insertInto('api_keys')
        .values({
          user_id: key.userId,
          name: key.name,
          prefix: '',
          secret_sha256: key.secretSha256,
          created_at: now,
          expires_at: key.expiresAt,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const row = await trx
        .updateTable('api_keys')
        .set({ prefix: `sdrk_${id}_${key.secretHead}` })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toKey(row);
    });
  }

  async get(id: number): Promise<ApiKeyRecord | undefined> {
    if (!Number.isInteger(id) || id < -2147483648 || id > 2147483647) return undefined;
    const row = await this.#db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toKey(row);
  }

  async listForUser(userId: number, limit: number): Promise<ApiKeyRecord[]> {
    const rows = await this.#db
      .selectFrom('api_keys')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toKey);
  }

  async countActiveForUser(userId: number, now: string): Promise<number> {
    const r = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM api_keys
      WHERE user_id = ${userId} AND revoked_at IS NULL
        AND (expires_at IS NULL OR expires_at COLLATE "C" > ${now})`.execute(this.#db);
    return Number(r.rows[0]?.n ?? 0);
  }

  async revoke(id: number, now: string): Promise<ApiKeyRecord | undefined> {
    if (!Number.isInteger(id) || id < -2147483648 || id > 2147483647) return undefined;
    await this.#db
      .updateTable('api_keys')
      .set({ revoked_at: now })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
    return this.get(id);
  }

  async touch(id: number, now: string): Promise<void> {
    await this.#db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', id).execute();
  }
}

/** Provider catalogs and session declines. */
export class PostgresCatalogs implements CatalogRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async put(userId: number, catalog: string, now: string): Promise<CatalogRecord> {
    const row = await this.#db
      .insertInto('provider_catalogs')
      .values({ user_id: userId, catalog, updated_at: now })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ catalog, updated_at: now }))
      .returningAll()
      .executeTakeFirstOrThrow();
    return toCatalog(row);
  }

  async get(userId: number): Promise<CatalogRecord | undefined> {
    const row = await this.#db
      .selectFrom('provider_catalogs')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row === undefined ? undefined : toCatalog(row);
  }

  async list(): Promise<CatalogRecord[]> {
    return (await this.#db.selectFrom('provider_catalogs').selectAll().orderBy('user_id').execute()).map(
      toCatalog,
    );
  }

  async decline(d: DeclineRecord): Promise<boolean> {
    const row = await this.#db
      .insertInto('session_declines')
      .values({ session_id: d.sessionId, user_id: d.userId, code: d.code, message: d.message, at: d.at })
      .onConflict((oc) => oc.columns(['session_id', 'user_id']).doNothing())
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async declines(sessionId: string): Promise<DeclineRecord[]> {
    const r = await sql<DeclineRow>`SELECT * FROM session_declines WHERE session_id = ${sessionId}
      ORDER BY at COLLATE "C", user_id`.execute(this.#db);
    return r.rows.map(toDecline);
  }

  async pendingDeclines(): Promise<DeclineRecord[]> {
    const r = await sql<DeclineRow>`SELECT d.* FROM session_declines d
      JOIN ice_sessions x ON x.session_id = d.session_id WHERE x.status = 'pending'
      ORDER BY d.session_id COLLATE "C", d.at COLLATE "C"`.execute(this.#db);
    return r.rows.map(toDecline);
  }
}

type DeclineRow = { session_id: string; user_id: number; code: string; message: string; at: string };
