/**
 * Each service's own SQLite database, through Kysely over better-sqlite3 (WAL), with its schema applied by
 * migrations (Kysely's Migrator, migrations given as code so the compiled CLI needs no migration folder).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Migration } from 'kysely';
import { ServiceError } from './errors.js';

/** An open service database. */
export interface ServiceDb<DB> {
  db: Kysely<DB>;
  /** The raw handle, for the few synchronous reads (e.g. a size estimate). */
  raw: Database.Database;
  /** Names of the migrations applied by this open (empty when the schema was already current). */
  applied: string[];
}

/**
 * Opens (creating if needed) the database at `path` (or `:memory:`), sets WAL and a busy timeout, and
 * migrates it to the latest schema.
 */
export async function openServiceDb<DB>(
  path: string,
  migrations: Record<string, Migration>,
): Promise<ServiceDb<DB>> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let raw: Database.Database;
  try {
    raw = new Database(path);
  } catch (err) {
    throw new ServiceError('ERR_CONFIG', `cannot open database ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  raw.pragma('journal_mode = WAL');
  raw.pragma('busy_timeout = 5000');
  raw.pragma('foreign_keys = ON');
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: raw }) });
  const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) } });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    await db.destroy();
    throw new ServiceError('ERR_CONFIG', `migrating ${path} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  return { db, raw, applied };
}

/** True when `err` is SQLite's UNIQUE constraint failure. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** The current time as stored in `created_at` / `updated_at` (ISO-8601, UTC, milliseconds). */
export function nowIso(): string {
  return new Date().toISOString();
}
