/**
 * A real PostgreSQL server for tests (Debian's `postgresql` package): `initdb` and `pg_ctl` in a fresh
 * temporary folder, run as an unprivileged user (`nobody` when the tests run as root, who cannot run
 * postgres; the current user otherwise), listening on a free loopback port with its unix socket inside the
 * folder. Logins from 127.0.0.1 need the password (scram-sha-256), so a wrong password is refused as in
 * production. Durability is switched off (`fsync=off`): these clusters hold test data only.
 *
 * `postgresSkip()` is the `skip` option of a test that needs it: `false` when the binaries are there (or
 * when `SDRLINK_REQUIRE_POSTGRES=1`, so the test runs and fails loudly), a reason string otherwise.
 *
 * @example
 * const pg = await startPostgres();
 * try {
 *   const url = await pg.createDatabase(); // postgres://sdrlink:…@127.0.0.1:PORT/t1
 * } finally {
 *   await pg.stop();
 * }
 */
import { spawn } from 'node:child_process';
import { accessSync, chownSync, constants, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where the PostgreSQL programs are: SDRLINK_PG_BIN, else Debian's newest `/usr/lib/postgresql/N/bin`. */
export const PG_BIN = process.env['SDRLINK_PG_BIN'] ?? debianPgBin();

function debianPgBin(): string {
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return `/usr/lib/postgresql/${versions[0]}/bin`;
  } catch {
    // not installed
  }
  return '/usr/lib/postgresql/15/bin';
}

function usable(): boolean {
  try {
    for (const p of ['initdb', 'pg_ctl', 'postgres']) accessSync(join(PG_BIN, p), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The `skip` option of a test that needs PostgreSQL (see the module comment). */
export function postgresSkip(): string | false {
  if (usable() || process.env['SDRLINK_REQUIRE_POSTGRES'] === '1') return false;
  return `needs PostgreSQL in ${PG_BIN} (Debian: apt-get install postgresql; or set SDRLINK_PG_BIN); set SDRLINK_REQUIRE_POSTGRES=1 to make this a failure`;
}

export interface PostgresServer {
  /** `postgres://sdrlink:PASSWORD@127.0.0.1:PORT/postgres` (the maintenance database). */
  readonly url: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The temporary folder (data directory, socket, log). */
  readonly dir: string;
  /** A URL for `database` on this server. */
  urlFor(database: string, password?: string): string;
  /** Creates a fresh database (named `t<n>` unless given) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server (`pg_ctl stop -m fast`), keeping its data. */
  halt(): Promise<void>;
  /** Starts it again on the same port, after {@link halt}. */
  resume(): Promise<void>;
  /** What the server logged, for failure messages. */
  log(): string;
  /** Stops the server and removes the folder. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface RunAs {
  uid?: number;
  gid?: number;
}

function run(cmd: string, args: string[], as: RunAs): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(join(PG_BIN, cmd), args, {
      ...as,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
      cwd: '/',
    });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    p.once('error', reject);
    p.once('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${String(code)}:\n${out}`));
    });
  });
}

const live = new Set<string>();
// a test process that dies without stop() must not leave a postmaster behind
process.once('exit', () => {
  for (const data of live) {
    try {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // already gone
    }
  }
});

let dbSeq = 0;

/** Starts a PostgreSQL server in a temporary folder (see the module comment). */
export async function startPostgres(): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sdrlink-pg-'));
  const as: RunAs = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  if (as.uid !== undefined) chownSync(dir, as.uid, as.gid ?? as.uid);
  const data = join(dir, 'data');
  const user = 'sdrlink';
  const password = randomBytes(12).toString('base64url');
  const pwfile = join(dir, 'pw');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (as.uid !== undefined) chownSync(pwfile, as.uid, as.gid ?? as.uid);
  try {
    await run(
      'initdb',
      [
        '-D',
        data,
        '-U',
        user,
        `--pwfile=${pwfile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
        '--no-sync',
      ],
      as,
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  await rm(pwfile, { force: true });
  const logFile = join(dir, 'postgres.log');
  let port = 0;
  const start = async () => {
    await run(
      'pg_ctl',
      [
        '-D',
        data,
        '-l',
        logFile,
        '-w',
        '-t',
        '60',
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`,
        'start',
      ],
      as,
    );
    live.add(data);
  };
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (err) {
      // another process took the port between our probe and postgres' bind: try another
      if (attempt >= 3) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  const halt = async () => {
    await run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop'], as);
    live.delete(data);
  };
  const urlFor = (database: string, pw = password) =>
    `postgres://${user}:${encodeURIComponent(pw)}@127.0.0.1:${port}/${database}`;
  const url = urlFor('postgres');
  let stopped = false;
  return {
    url,
    port,
    user,
    password,
    dir,
    urlFor,
    async createDatabase(name) {
      const db = name ?? `t${++dbSeq}`;
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${pg.Client.prototype.escapeIdentifier(db)}`);
      } finally {
        await c.end();
      }
      return urlFor(db);
    },
    halt,
    resume: start,
    log() {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        if (live.has(data)) await halt();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A JWT secret for servers on PostgreSQL in tests (SDRLINK_JWT_SECRET: there is no file to keep one in). */
export const TEST_JWT_SECRET = 'sdrlink-test-secret-of-at-least-32-characters';

/**
 * What `startServerProcess` needs to run the server on a fresh database of `pg`: `--db URL` and the
 * JWT secret.
 */
export async function serverOnPostgres(
  pg: PostgresServer,
): Promise<{ args: string[]; env: Record<string, string>; url: string }> {
  const url = await pg.createDatabase();
  return { args: ['--db', url], env: { SDRLINK_JWT_SECRET: TEST_JWT_SECRET }, url };
}
