/**
 * The PostgreSQL opener of the signaling server: the database URL checked, a `pg` pool behind Kysely's
 * `PostgresDialect`, the first connection made at once (so a wrong URL, an unreachable server or a refused
 * login stops the server at start, each with its code), and the migrations applied (migrate.ts).
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { StorageError } from '../types.js';
import { migratePostgres } from './migrate.js';
import type { Migration } from '../sqlite/migrate.js';

/** An open PostgreSQL database: the pool, a Kysely instance over it, and where it is (password hidden). */
export interface PostgresHandle<DB> {
  readonly pool: pg.Pool;
  readonly kysely: Kysely<DB>;
  /** `postgres://USER@HOST:PORT/DB`: the URL without its password. */
  readonly location: string;
  /** Versions of the migrations this open applied (empty when the schema was already current). */
  readonly applied: readonly number[];
}

/** Options of {@link openPostgres}. */
export interface PostgresOptions {
  /** Connections in the pool (default 10). */
  maxConnections?: number;
  /** How long to wait for a connection, ms (default 5000). */
  connectTimeoutMs?: number;
}

/**
 * Checks a database URL's shape: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`. Throws
 * StorageError('ERR_DB_URL') naming what is wrong, never echoing the password.
 */
export function parsePostgresUrl(text: string): { url: URL; location: string } {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new StorageError(
      'ERR_DB_URL',
      'database URL is malformed: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new StorageError('ERR_DB_URL', `database URL: scheme ${url.protocol} is not postgres:`);
  if (url.hostname === '') throw new StorageError('ERR_DB_URL', 'database URL: no host');
  if (url.username === '') throw new StorageError('ERR_DB_URL', 'database URL: no user');
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/'))
    throw new StorageError('ERR_DB_URL', 'database URL: no database name (…/DATABASE)');
  if (url.port !== '' && !(Number(url.port) > 0))
    throw new StorageError('ERR_DB_URL', `database URL: bad port ${url.port}`);
  const location = `postgres://${url.username}@${url.host}/${database}`;
  return { url, location };
}

// BIGINT (OID 20) columns (ids of signals, byte counts) and COUNT(*) come back as numbers: every value
// the contract holds is far below 2^53.
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as never,
};

/** PostgreSQL's error codes (SQLSTATE) and Node's socket codes that mean "the server is not there now". */
const UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown: the server was stopped
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

/**
 * True when `err` says the database cannot be reached now (refused, reset, shutting down, a connection
 * that ended) rather than that a statement was wrong: such a request is answered 503, not 500.
 */
export function isUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && UNAVAILABLE.has(e.code)) return true;
  // an AggregateError of a dual-stack connect
  if (Array.isArray(e.errors) && e.errors.some((x) => isUnavailable(x))) return true;
  // pg's own errors without a code: the connection ended under a query, or the pool timed out
  return (
    err instanceof Error &&
    !('code' in e && typeof e.code === 'string') &&
    /^(Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable)/i.test(
      err.message,
    )
  );
}

/** True when `err` is PostgreSQL's unique violation (repositories turn it into `ERR_CONFLICT`). */
export function isPgUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

/** The StorageError a failed first connection becomes: refused login, unreachable, or other. */
function connectError(err: unknown, location: string): StorageError {
  const code = (err as { code?: unknown }).code;
  // 28P01 invalid_password, 28000 invalid_authorization_specification, 3D000 no such database
  if (code === '28P01' || code === '28000')
    return new StorageError(
      'ERR_DB_AUTH',
      `database ${location} refused the login: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  if (code === '3D000')
    return new StorageError('ERR_DB_AUTH', `database ${location}: ${(err as Error).message}`, { cause: err });
  if (isUnavailable(err))
    return new StorageError('ERR_DB_UNREACHABLE', `database ${location} is unreachable: ${describe(err)}`, {
      cause: err,
    });
  return new StorageError('ERR_STORAGE', `cannot open database ${location}: ${describe(err)}`, {
    cause: err,
  });
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (Array.isArray(e.errors) && e.errors.length > 0) return describe(e.errors[0]);
  const msg = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  return typeof e.code === 'string' && !msg.includes(e.code) ? `${e.code} ${msg}` : msg;
}

/**
 * Opens a pool on a PostgreSQL database and migrates it. Throws StorageError: `ERR_DB_URL` (malformed),
 * `ERR_DB_UNREACHABLE` (no server answers), `ERR_DB_AUTH` (login refused, no such database),
 * `ERR_MIGRATION`, `ERR_STORAGE`.
 *
 * @example
 * const { kysely, pool } = await openPostgres<Database>('postgres://u:p@127.0.0.1:5432/sdrlink', SIGNALING_MIGRATIONS);
 */
export async function openPostgres<DB>(
  text: string,
  migrations: readonly Migration[],
  options: PostgresOptions = {},
): Promise<PostgresHandle<DB>> {
  const { url, location } = parsePostgresUrl(text);
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    types: TYPES,
    application_name: 'sdrlink',
    // a peer that vanished without a FIN (a cut network) is found out by TCP keep-alives
    keepAlive: true,
  });
  // A connection that drops while idle (the server restarts) is removed by the pool; without a listener
  // its error would end the process. One that drops while in use fails its query instead.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  let applied: number[];
  try {
    const client = await pool.connect().catch((err: unknown) => {
      throw connectError(err, location);
    });
    try {
      applied = await migratePostgres(client, migrations);
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof StorageError) throw err;
    throw new StorageError('ERR_STORAGE', `cannot prepare database ${location}: ${describe(err)}`, {
      cause: err,
    });
  }
  const kysely = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return { pool, kysely, location, applied };
}
