/**
 * The one migration runner of every sdrlink SQLite database: the signaling server's
 * (`src/storage/migrations/`) and the products and batteries services' (`src/storage/products/`,
 * `src/storage/batteries/`). Migrations are code (lists of statements), so the compiled CLI needs no
 * migration folder.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { StorageError } from '../types.js';

/** One numbered schema step. Statements run in order, in one transaction with the bookkeeping row. */
export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
  /**
   * The same step on PostgreSQL (src/storage/postgres/migrate.ts), where its SQL differs from SQLite's
   * (identity columns for AUTOINCREMENT, BIGINT for byte counts); absent: `statements` run there as they are.
   */
  postgres?: readonly string[];
}

/**
 * Applies the migrations a SQLite database has not seen yet, each recorded in `schema_migrations`.
 * Runs under `BEGIN IMMEDIATE`, so two processes opening the same file (a server and `sdrlink user add`)
 * apply each step once. Refuses a database whose schema is newer than this code.
 *
 * @returns the versions applied now (empty when the schema was current).
 */
export function migrate(db: BetterSqlite3.Database, migrations: readonly Migration[]): number[] {
  const applied: number[] = [];
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`);
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    adoptKyselyMigrations(db, migrations, (m) => record.run(m.version, m.name, new Date().toISOString()));
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    const current = row.v ?? 0;
    const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    if (current > latest) {
      throw new StorageError(
        'ERR_MIGRATION',
        `database schema version ${current} is newer than this sdrlink knows (${latest}); upgrade sdrlink`,
      );
    }
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue;
      for (const statement of m.statements) {
        try {
          db.exec(statement);
        } catch (err) {
          throw new StorageError(
            'ERR_MIGRATION',
            `migration ${m.version} (${m.name}) failed: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          );
        }
      }
      record.run(m.version, m.name, new Date().toISOString());
      applied.push(m.version);
    }
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
  return applied;
}

/**
 * The services' databases were migrated by Kysely's Migrator before they shared this runner; it recorded
 * applied steps by name in `kysely_migration`. A database with that table and no `schema_migrations` rows
 * is adopted: the steps it names are recorded here as applied instead of being run again.
 */
function adoptKyselyMigrations(
  db: BetterSqlite3.Database,
  migrations: readonly Migration[],
  markApplied: (m: Migration) => void,
): void {
  const has = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kysely_migration'")
    .get();
  if (has === undefined) return;
  const known = db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number };
  if (known.n > 0) return;
  const names = new Set(
    (db.prepare('SELECT name FROM kysely_migration').all() as Array<{ name: string }>).map((r) => r.name),
  );
  for (const m of migrations) if (names.has(m.name)) markApplied(m);
}
