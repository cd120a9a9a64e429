/**
 * Running a service from the CLI: resolve the database path, the write token and the TLS material, listen,
 * print one JSON line `{"event":"listening","url",…}` (what tests and scripts wait for), and close cleanly
 * on SIGINT/SIGTERM.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ServiceError } from './errors.js';
import { ensureSelfSignedCert, type TlsMaterial } from './tls.js';
import { loadOrCreateToken } from './token.js';

/** Options every service command has. */
export interface CommonRunOptions {
  host: string;
  port: number;
  db: string;
  tls: boolean;
  token?: string | undefined;
}

/** What `prepareService` resolved. */
export interface PreparedService {
  /** Absolute database path, or `:memory:`. */
  db: string;
  /** Folder beside the database (for default report/data folders; see `defaultFilesDir`). */
  dir: string;
  token: string;
  tokenFile: string | undefined;
  tls: TlsMaterial | undefined;
}

/** A folder for a service's files when none was named: see {@link defaultFilesDir}. */
export interface FilesDir {
  path: string;
  /** Removes the folder, when it is a private temporary one (an in-memory database); else nothing. */
  remove(): Promise<void>;
}

/**
 * Where a service keeps files it was not told where to keep (`reports/`, `batteries-data/`): beside its
 * database, or — for an in-memory database, whose rows die with the process — a private temporary folder
 * of its own, so that instances never write into a shared folder (such as `./.sdrlink` of the working
 * directory) and nothing outlives the data that names it. `remove()` is for the app's close.
 */
export async function defaultFilesDir(prepared: PreparedService, service: string): Promise<FilesDir> {
  if (prepared.db !== ':memory:') return { path: prepared.dir, remove: () => Promise.resolve() };
  const path = await mkdtemp(join(tmpdir(), `sdrlink-${service}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Parses a `--port` value. */
export function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ServiceError('ERR_CONFIG', `--port must be an integer 0-65535, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Resolves the database path, the token (flag > env > `<db>.token`) and, with `--tls`, the certificate. */
export async function prepareService(
  o: CommonRunOptions,
  envToken: string | undefined,
): Promise<PreparedService> {
  const db = o.db === ':memory:' ? o.db : resolve(o.db);
  const dir = db === ':memory:' ? resolve('.sdrlink') : dirname(db);
  const tokenFile = db === ':memory:' ? undefined : `${db}.token`;
  // The token and the certificate are made before the database (which creates its folder when opened).
  if (db !== ':memory:') await mkdir(dir, { recursive: true });
  const { token } = await loadOrCreateToken(tokenFile, o.token ?? envToken);
  let tls: TlsMaterial | undefined;
  if (o.tls) {
    if (db === ':memory:') {
      throw new ServiceError('ERR_CONFIG', '--tls needs a database file: the certificate is kept beside it');
    }
    tls = await ensureSelfSignedCert(db, [o.host]);
  }
  return {
    db,
    dir,
    token,
    tokenFile: o.token === undefined && envToken === undefined ? tokenFile : undefined,
    tls,
  };
}

/**
 * Listens, prints the `listening` line through `out`, and closes the app on SIGINT/SIGTERM.
 * Resolves once listening.
 */
export async function listenAndAnnounce(
  service: string,
  app: FastifyInstance,
  o: CommonRunOptions,
  prepared: PreparedService,
  out: (line: string) => void,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await app.listen({ host: o.host, port: o.port });
  const addr = app.server.address() as AddressInfo;
  const wildcard = addr.address === '0.0.0.0' || addr.address === '::';
  const host = wildcard ? '127.0.0.1' : addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const scheme = prepared.tls !== undefined ? 'https' : 'http';
  out(
    JSON.stringify({
      event: 'listening',
      service,
      url: `${scheme}://${host}:${addr.port}`,
      port: addr.port,
      db: prepared.db,
      ...(prepared.tokenFile !== undefined ? { token_file: prepared.tokenFile } : {}),
      ...(prepared.tls !== undefined
        ? {
            tls: {
              cert: prepared.tls.certPath,
              fingerprint256: prepared.tls.fingerprint256,
              created: prepared.tls.created,
            },
          }
        : {}),
      ...extra,
    }),
  );
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    out(JSON.stringify({ event: 'closing', service, signal }));
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
