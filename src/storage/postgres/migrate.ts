/**
 * The migration runner on PostgreSQL: the same numbered steps as SQLite's (src/storage/migrations/), in
 * their PostgreSQL form where they have one (`Migration.postgres`), recorded in the same
 * `schema_migrations` table. Several servers starting at once on one database apply each step once: the
 * run holds a transaction-scoped advisory lock, and PostgreSQL's DDL is transactional, so a step that
 * fails leaves nothing behind.
 */
import type pg from 'pg';
import type { Migration } from '../sqlite/migrate.js';
import { StorageError } from '../types.js';

/** The advisory lock key of sdrlink's migrations (any constant; "sdrl" in ASCII). */
const MIGRATION_LOCK = 0x7364726c;

/**
 * Applies the steps `client`'s database has not seen yet. Refuses a database whose schema is newer than
 * this code (`ERR_MIGRATION`).
 *
 * @returns the versions applied now (empty when the schema was current).
 */
export async function migratePostgres(
  client: pg.PoolClient,
  migrations: readonly Migration[],
): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`);
    const row = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    const current = row.rows[0]?.v ?? 0;
    const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    if (current > latest) {
      throw new StorageError(
        'ERR_MIGRATION',
        `database schema version ${current} is newer than this sdrlink knows (${latest}); upgrade sdrlink`,
      );
    }
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue;
      for (const statement of m.postgres ?? m.statements) {
        try {
          await client.query(statement);
        } catch (err) {
          throw new StorageError(
            'ERR_MIGRATION',
            `migration ${m.version} (${m.name}) failed on PostgreSQL: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          );
        }
      }
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        new Date().toISOString(),
      ]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return applied;
}
