/**
 * `UserRepository` over SQLite: the `users` table.
 */
import { sql, type Selectable } from 'kysely';
import {
  StorageError,
  type ClientType,
  type NewUser,
  type UserRecord,
  type UserRepository,
  usernameKey,
} from '../types.js';
import { isUniqueViolation, param, prepare, type SqliteHandle } from './database.js';
import type { Database, UsersTable } from '../schema.js';
import { parseJsonArray } from './session-state.js';
import type { QueuedDb } from './write-queue.js';

type UserRow = Selectable<UsersTable>;

const n = (name: string) => param<number>(name);
const s = (name: string) => param<string>(name);

function buildQueries({ raw, kysely: k }: SqliteHandle<Database>) {
  const p = <R>(c: Parameters<typeof prepare<R>>[1]) => prepare<R>(raw, c);
  return {
    insertUser: p(
      k
        .insertInto('users')
        .values({
          username: s('username'),
          password_hash: s('password_hash'),
          client_type: n('client_type'),
          request_types: s('request_types'),
          created_at: s('now'),
          username_key: s('username_key'),
        })
        .returningAll()
        .compile(),
    ),
    userById: p(k.selectFrom('users').selectAll().where('id', '=', n('id')).compile()),
    userByKey: p(k.selectFrom('users').selectAll().where('username_key', '=', s('key')).compile()),
    setDisabled: p(
      k
        .updateTable('users')
        .set({ disabled_at: param<string | null>('disabled_at') })
        .where('id', '=', n('id'))
        .returningAll()
        .compile(),
    ),
    disabledIds: p(
      k.selectFrom('users').select('id').where('disabled_at', 'is not', null).orderBy('id').compile(),
    ),
    setRequestTypes: p(
      k
        .updateTable('users')
        .set({ request_types: s('request_types') })
        .where('id', '=', n('id'))
        .compile(),
    ),
    servedRequestTypes: p(
      sql<{ value: string }>`SELECT DISTINCT j.value AS value FROM users, json_each(users.request_types) AS j
        WHERE users.client_type = 1 ORDER BY 1`.compile(k),
    ),
    listUsers: p(k.selectFrom('users').selectAll().orderBy('id').compile()),
  };
}

/** Users: registration, look-ups, and the request types providers declare. */
export class SqliteUsers implements UserRepository {
  readonly #db: QueuedDb;
  readonly #q: ReturnType<typeof buildQueries>;

  constructor(handle: SqliteHandle<Database>, db: QueuedDb) {
    this.#db = db;
    this.#q = buildQueries(handle);
  }

  create(user: NewUser, now: string): Promise<UserRecord> {
    return this.#db.write(() => {
      try {
        const row = this.#q.insertUser.get({
          username: user.username,
          password_hash: user.passwordHash,
          client_type: user.clientType,
          request_types: JSON.stringify(user.requestTypes),
          now,
          username_key: usernameKey(user.username),
        });
        if (row === undefined) throw new StorageError('ERR_STORAGE', 'insert into users returned no row');
        return toUser(row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new StorageError('ERR_CONFLICT', `username ${JSON.stringify(user.username)} is taken`, {
            cause: err,
          });
        }
        throw err;
      }
    });
  }

  async byId(id: number): Promise<UserRecord | undefined> {
    const row = this.#q.userById.get({ id });
    return row === undefined ? undefined : toUser(row);
  }

  async byName(username: string): Promise<UserRecord | undefined> {
    const row = this.#q.userByKey.get({ key: usernameKey(username) });
    return row === undefined ? undefined : toUser(row);
  }

  setDisabled(id: number, disabledAt: string | null): Promise<UserRecord | undefined> {
    return this.#db.write(() => {
      const row = this.#q.setDisabled.get({ id, disabled_at: disabledAt });
      return row === undefined ? undefined : toUser(row);
    });
  }

  async disabledIds(): Promise<number[]> {
    return this.#q.disabledIds.all().map((r) => r.id);
  }

  async setRequestTypes(id: number, requestTypes: string[]): Promise<void> {
    await this.#db.write(() =>
      this.#q.setRequestTypes.run({ id, request_types: JSON.stringify(requestTypes) }),
    );
  }

  async servedRequestTypes(): Promise<string[]> {
    return this.#q.servedRequestTypes.all().map((r) => r.value);
  }

  async list(): Promise<UserRecord[]> {
    return this.#q.listUsers.all().map(toUser);
  }
}

/** Row → record (shared with the PostgreSQL repositories). */
export function toUser(r: UserRow): UserRecord {
  return {
    id: r.id,
    username: r.username,
    clientType: r.client_type as ClientType,
    passwordHash: r.password_hash,
    requestTypes: parseJsonArray(r.request_types),
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
  };
}
