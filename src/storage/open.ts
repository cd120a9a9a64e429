/**
 * Opens the signaling server's storage named by `--db`: a `postgres://` (or `postgresql://`) URL opens
 * PostgreSQL (src/storage/postgres/), anything else is a SQLite file path or `:memory:` (src/storage/sqlite/).
 * The composition roots (src/server/app.ts, the CLI's `db` verbs) call this and see only {@link Storage}.
 */
import { StorageError, type Storage } from './types.js';

/** True for `postgres://` and `postgresql://` URLs (PostgreSQL); anything else is a SQLite path. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db.trim());
}

/** Options of {@link openStorage}. */
export interface OpenStorageOptions {
  /** SQLite: checkpoint the WAL from a worker thread (long-running servers). */
  backgroundCheckpoint?: boolean;
}

/** Opens SQLite or PostgreSQL by the shape of `db` (see the module comment). */
export async function openStorage(db: string, options: OpenStorageOptions = {}): Promise<Storage> {
  if (isPostgresUrl(db)) {
    const { createPostgresStorage } = await import('./postgres/postgres-storage.js');
    return createPostgresStorage(db);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(db.trim()))
    throw new StorageError(
      'ERR_DB_URL',
      `database URL ${JSON.stringify(db.split('://')[0] + '://…')}: only postgres:// (PostgreSQL) is supported; a SQLite database is a file path`,
    );
  const { createSqliteStorage } = await import('./sqlite/sqlite-storage.js');
  return createSqliteStorage(db, options);
}
