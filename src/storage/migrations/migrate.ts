import type BetterSqlite3 from 'better-sqlite3';
import { StorageError } from '../types.js';
import { migration001 } from './001-seed-schema.js';
import { migration002 } from './002-signaling.js';
import { migration003 } from './003-partial-indexes.js';

/** One numbered schema step. Statements run in order, in one transaction with the bookkeeping row. */
export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

/** Every migration, in order. Append only: a released migration never changes. */
export const MIGRATIONS: readonly Migration[] = [migration001, migration002, migration003];

/**
 * Applies the migrations a SQLite database has not seen yet, each recorded in `schema_migrations`.
 * Runs under `BEGIN IMMEDIATE`, so two processes opening the same file (a server and `sdrlink user add`)
 * apply each step once. Refuses a database whose schema is newer than this code.
 *
 * @returns the versions applied now (empty when the schema was current).
 */
export function migrate(db: BetterSqlite3.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const applied: number[] = [];
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`);
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    const current = row.v ?? 0;
    const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    if (current > latest) {
      throw new StorageError(
        'ERR_MIGRATION',
        `database schema version ${current} is newer than this sdrlink knows (${latest}); upgrade sdrlink`,
      );
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
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
