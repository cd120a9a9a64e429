/**
 * Moves a signaling server's SQLite database to PostgreSQL (`sdrlink db migrate --from FILE --to URL`):
 * every table of the schema, row for row and id for id, in one PostgreSQL transaction, then each table's
 * row count checked against the source before the commit. Both databases are first brought to the
 * current schema by the same migrations the server runs, so the columns match.
 */
import { existsSync, statSync } from 'node:fs';
import { SIGNALING_MIGRATIONS } from '../migrations/index.js';
import { openSqlite } from '../sqlite/database.js';
import type { Database } from '../schema.js';
import { StorageError } from '../types.js';
import { openPostgres } from './database.js';

/**
 * The schema's tables, parents before children (foreign keys), with their identity column if any.
 * `schema_migrations` is not copied: the target records its own migrations.
 */
export const COPIED_TABLES: ReadonlyArray<{ name: keyof Database; identity: boolean }> = [
  { name: 'users', identity: true },
  { name: 'ice_sessions', identity: true },
  { name: 'ice_candidates', identity: true },
  { name: 'file_transfers', identity: true },
  { name: 'ice_session_history', identity: true },
  { name: 'provider_catalogs', identity: false },
  { name: 'session_declines', identity: false },
  { name: 'api_keys', identity: true },
];

/** SQLite's own tables, and the migration bookkeeping: not data to move. */
const NOT_DATA = new Set([
  'schema_migrations',
  'sqlite_sequence',
  'kysely_migration',
  'kysely_migration_lock',
]);

/** Rows per INSERT: well under PostgreSQL's 65535 bound parameters for the widest table. */
const BATCH_ROWS = 500;

export interface CopyOptions {
  /** Empty a target that holds rows instead of refusing it. */
  replace?: boolean;
}

export interface CopyResult {
  /** Source file and target (without its password). */
  from: string;
  to: string;
  /** Rows per table, as counted on both sides after the copy. */
  tables: Array<{ table: string; rows: number }>;
}

/**
 * Copies every table of `from` (a SQLite file) into `to` (a PostgreSQL URL). Throws StorageError:
 * `ERR_DB_NOT_EMPTY` when the target holds rows (unless `replace`), `ERR_STORAGE` when a table unknown to
 * this sdrlink is in the source or a count differs, and the opening errors (`ERR_DB_URL`, `ERR_DB_UNREACHABLE`, `ERR_DB_AUTH`, `ERR_MIGRATION`).
 * Nothing is written to the target unless everything is.
 */
export async function copySqliteToPostgres(
  from: string,
  to: string,
  options: CopyOptions = {},
): Promise<CopyResult> {
  // opening creates a missing file: a mistyped --from must not become an empty source
  if (!existsSync(from) || !statSync(from).isFile())
    throw new StorageError('ERR_STORAGE', `${from}: no such database file`);
  const source = openSqlite<Database>(from, SIGNALING_MIGRATIONS);
  try {
    const tables = (
      source.raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{
        name: string;
      }>
    ).map((r) => r.name);
    const unknown = tables.filter(
      (t) => !NOT_DATA.has(t) && !t.startsWith('sqlite_') && !COPIED_TABLES.some((c) => c.name === t),
    );
    if (unknown.length > 0)
      throw new StorageError(
        'ERR_STORAGE',
        `${source.location} holds tables this sdrlink does not know (${unknown.join(', ')}): not a signaling server database, or a newer one`,
      );
    // every read of the source in one read transaction: one snapshot of the file (WAL), even if a server
    // still writes it
    source.raw.exec('BEGIN');
    const target = await openPostgres<Database>(to, SIGNALING_MIGRATIONS, { maxConnections: 1 });
    try {
      const client = await target.pool.connect();
      try {
        await client.query('BEGIN');
        try {
          const counts: Array<{ table: string; rows: number }> = [];
          for (const t of COPIED_TABLES) {
            const r = await client.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t.name}`);
            counts.push({ table: t.name, rows: Number(r.rows[0]?.n ?? 0) });
          }
          const full = counts.filter((c) => c.rows > 0);
          if (full.length > 0) {
            if (options.replace !== true)
              throw new StorageError(
                'ERR_DB_NOT_EMPTY',
                `${target.location} already holds rows (${full.map((c) => `${c.table}: ${c.rows}`).join(', ')}); give --replace to empty it first`,
              );
            await client.query(
              `TRUNCATE ${COPIED_TABLES.map((t) => t.name).join(', ')} RESTART IDENTITY CASCADE`,
            );
          }
          const result: CopyResult['tables'] = [];
          for (const t of COPIED_TABLES) {
            const columns = (
              source.raw.prepare(`PRAGMA table_info(${t.name})`).all() as Array<{ name: string }>
            ).map((c) => c.name);
            // the same migrations made both: a column only the source has means it is not this schema
            const known = new Set(
              (
                await client.query<{ column_name: string }>(
                  `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`,
                  [t.name],
                )
              ).rows.map((r) => r.column_name),
            );
            const extra = columns.filter((c) => !known.has(c));
            if (extra.length > 0)
              throw new StorageError(
                'ERR_STORAGE',
                `${t.name}: columns ${extra.join(', ')} of the source are not in the target's schema`,
              );
            const read = source.raw.prepare(
              `SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM ${t.name} ORDER BY rowid`,
            );
            let batch: unknown[][] = [];
            const flush = async () => {
              if (batch.length === 0) return;
              const params: unknown[] = [];
              const rows = batch.map((row) => {
                const slots = row.map((v) => {
                  params.push(v);
                  return `$${params.length}`;
                });
                return `(${slots.join(', ')})`;
              });
              await client.query(
                `INSERT INTO ${t.name} (${columns.map((c) => `"${c}"`).join(', ')}) OVERRIDING SYSTEM VALUE VALUES ${rows.join(', ')}`,
                params,
              );
              batch = [];
            };
            for (const row of read.raw().iterate() as IterableIterator<unknown[]>) {
              batch.push(row);
              if (batch.length >= BATCH_ROWS) await flush();
            }
            await flush();
            // the identity goes on after the highest id copied
            if (t.identity)
              await client.query(
                `SELECT setval(pg_get_serial_sequence('${t.name}', 'id'), COALESCE((SELECT MAX(id) FROM ${t.name}), 0) + 1, false)`,
              );
            const want = (source.raw.prepare(`SELECT COUNT(*) AS n FROM ${t.name}`).get() as { n: number }).n;
            const got = Number(
              (await client.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t.name}`)).rows[0]?.n,
            );
            if (got !== want)
              throw new StorageError(
                'ERR_STORAGE',
                `${t.name}: ${want} rows in the source, ${got} copied; nothing was kept`,
              );
            result.push({ table: t.name, rows: got });
          }
          await client.query('COMMIT');
          return { from: source.location, to: target.location, tables: result };
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      } finally {
        client.release();
      }
    } finally {
      await target.kysely.destroy();
    }
  } finally {
    if (source.raw.inTransaction) source.raw.exec('ROLLBACK');
    source.raw.close();
  }
}
