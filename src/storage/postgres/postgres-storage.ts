/**
 * The signaling server's {@link Storage} over PostgreSQL (Kysely's `PostgresDialect` on a `pg` pool): the
 * same schema as SQLite's, by the same migrations (src/storage/migrations/, in their PostgreSQL form where
 * the SQL differs), and the same contract (src/storage/contract.test.ts runs every case on both).
 *
 * Several server processes may share the database: every check that can lose a race is in SQL (a claim is
 * one conditional UPDATE … RETURNING; a transition locks its row first; the expiry sweep skips rows
 * another sweep holds), and nothing about sessions is cached in memory.
 *
 * When the database goes away (a restart, a network cut), every call fails with
 * StorageError('ERR_DB_UNAVAILABLE') — the server answers 503 — and the pool opens new connections by
 * itself once the database is back.
 */
import { SIGNALING_MIGRATIONS } from '../migrations/index.js';
import type { Database } from '../schema.js';
import {
  StorageError,
  type ApiKeyRepository,
  type CatalogRepository,
  type ClusterStorage,
  type SessionRepository,
  type SignalRepository,
  type Storage,
  type TransferRepository,
  type UserRepository,
} from '../types.js';
import { isUnavailable, openPostgres, type PostgresHandle, type PostgresOptions } from './database.js';
import { PostgresCluster } from './cluster.js';
import { PostgresSessions } from './sessions.js';
import { PostgresSignals } from './signals.js';
import { PostgresTransfers } from './transfers.js';
import { PostgresApiKeys, PostgresCatalogs, PostgresUsers } from './users.js';

/** Opens (and migrates) a PostgreSQL database as {@link Storage}. Throws StorageError (`ERR_DB_URL`, `ERR_DB_UNREACHABLE`, `ERR_DB_AUTH`, …). */
export async function createPostgresStorage(url: string, options: PostgresOptions = {}): Promise<Storage> {
  const handle = await openPostgres<Database>(url, SIGNALING_MIGRATIONS, options);
  return new PostgresStorage(handle);
}

/**
 * Wraps each method of a repository: an error that says the database is not reachable now becomes
 * StorageError('ERR_DB_UNAVAILABLE'); every other result and error passes through.
 */
function guarded<R extends object>(repo: R, location: string): R {
  const out: Record<string, unknown> = {};
  let proto: object | null = Object.getPrototypeOf(repo) as object | null;
  while (proto !== null && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = (repo as Record<string, unknown>)[key];
      if (key === 'constructor' || key in out || typeof value !== 'function') continue;
      const fn = value as (...args: unknown[]) => Promise<unknown>;
      out[key] = (...args: unknown[]) =>
        fn.apply(repo, args).catch((err: unknown) => {
          if (err instanceof StorageError || !isUnavailable(err)) throw err;
          throw new StorageError(
            'ERR_DB_UNAVAILABLE',
            `database ${location} is unavailable: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        });
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return out as R;
}

class PostgresStorage implements Storage {
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly signals: SignalRepository;
  readonly transfers: TransferRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly catalogs: CatalogRepository;
  readonly cluster: ClusterStorage;
  readonly location: string;
  readonly kind = 'postgres';
  readonly #handle: PostgresHandle<Database>;
  #closed = false;

  constructor(handle: PostgresHandle<Database>) {
    this.#handle = handle;
    this.location = handle.location;
    const db = handle.kysely;
    this.users = guarded(new PostgresUsers(db), this.location);
    this.sessions = guarded(new PostgresSessions(db), this.location);
    this.signals = guarded(new PostgresSignals(db), this.location);
    this.transfers = guarded(new PostgresTransfers(db), this.location);
    this.apiKeys = guarded(new PostgresApiKeys(db), this.location);
    this.catalogs = guarded(new PostgresCatalogs(db), this.location);
    this.cluster = guarded(new PostgresCluster(db, handle.pool), this.location);
  }

  /** Every write is committed before it is acknowledged: nothing to wait for. */
  async sync(): Promise<void> {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // ends the pool once the queries in flight are done
    await this.#handle.kysely.destroy();
  }
}
