/**
 * Runs the signaling server: builds it, listens, and announces readiness with ONE JSON line on stdout,
 * `{"event":"listening","url":"http://127.0.0.1:PORT","port":PORT,"db":"/abs/path.sqlite","db_kind":"sqlite","instance":"ID"}`
 * (`db` is `postgres://USER@HOST:PORT/DB`, never the password, with `"db_kind":"postgres"`; `https://` and a
 * `"tls"` object under `--tls`) — the line
 * test helpers and other processes wait for (and a human line on stderr).
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { ensureSelfSignedCert, loadCertFiles, type TlsMaterial } from '../http/tls.js';
import { buildServer, resolveOptions, type BuildOptions } from './app.js';
import { ServerTlsError, type ServerOptions } from './config.js';
import { startStunResponder, type StunResponder } from './stun/responder.js';

export interface StartOptions extends BuildOptions {
  /** Where the JSON listening line goes (default stdout). */
  out?: Writable;
  /** Where the human line goes (default stderr). */
  err?: Writable;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly db: string;
  /** The STUN responder's UDP port (docs/api.md §4); undefined when `--stun-port off`. */
  readonly stunPort: number | undefined;
  /** Under `--tls` / `--tls-cert`: the certificate served (its SHA-256 fingerprint is what agents pin). */
  readonly tls: TlsMaterial | undefined;
  /** Stops accepting, closes WebSockets (1001) and relays, waits for requests in flight, closes the database. */
  close(): Promise<void>;
}

/** Whether the server listens on this machine's loopback only (tokens to it never cross a network). */
export function isLoopbackListen(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The certificate `options.tls` asks for: the operator's files, or the self-signed one beside the database. */
export function loadServerTls(options: ServerOptions): Promise<TlsMaterial | undefined> {
  const fail = (message: string, cause: unknown) => new ServerTlsError(message, { cause });
  const t = options.tls;
  if (t === undefined) return Promise.resolve(undefined);
  if (t.kind === 'files') return loadCertFiles(t.certFile, t.keyFile, fail);
  if (options.db === ':memory:')
    throw new ServerTlsError('--tls: the certificate is kept beside the database, and --db is :memory:');
  return ensureSelfSignedCert(options.db, [options.host], fail);
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Builds and starts the server, then prints the listening line. */
export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const { out = process.stdout, err = process.stderr, ...build } = opts;
  const options = resolveOptions(build);
  const tls = await loadServerTls(options);
  const app = await buildServer(
    tls === undefined ? build : { ...build, https: { key: tls.key, cert: tls.cert } },
  );
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (e) {
    await app.close();
    throw e;
  }
  const port = (app.server.address() as AddressInfo).port;
  let stun: StunResponder | undefined;
  try {
    stun = await startStun(options, port);
  } catch (e) {
    await app.close();
    throw e;
  }
  app.sdrlink.stun.port = stun?.port;
  const url = `${tls === undefined ? 'http' : 'https'}://${urlHost(options.host)}:${port}`;
  const db = app.sdrlink.storage.location;
  const dbKind = app.sdrlink.storage.kind;
  const instance = app.sdrlink.instanceId;
  // the other instances reach this one here (relays): the listening URL unless one is advertised
  if (options.advertiseUrl === undefined) app.sdrlink.cluster?.setUrl(url);
  const line: Record<string, unknown> = { event: 'listening', url, port, db, db_kind: dbKind, instance };
  if (stun !== undefined) line['stun_port'] = stun.port;
  if (tls !== undefined)
    line['tls'] = { fingerprint256: tls.fingerprint256, cert: tls.certPath, created: tls.created };
  const stunText = stun === undefined ? 'no STUN' : `STUN on UDP ${stun.port}`;
  err.write(
    `sdrlink server listening on ${url} (${dbKind} database ${db}; instance ${instance}; ${stunText})\n`,
  );
  if (tls !== undefined) {
    err.write(
      `sdrlink server: TLS certificate ${tls.certPath}${tls.created ? ' (generated now)' : ''}, SHA-256 fingerprint ${tls.fingerprint256}\n` +
        `  agents trust it with --ca ${tls.certPath} or --pin ${tls.fingerprint256}\n`,
    );
  } else if (!isLoopbackListen(options.host)) {
    const warning = `listening on ${options.host || 'all addresses'} without TLS: tokens and passwords travel unencrypted; use --tls (or --tls-cert/--tls-key), or a TLS-terminating proxy`;
    app.log.warn({ host: options.host }, warning);
    err.write(`sdrlink server: warning: ${warning}\n`);
  }
  // last: whoever waits for this line has the human lines (fingerprint, warnings) already
  out.write(JSON.stringify(line) + '\n');
  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    host: options.host,
    port,
    db,
    stunPort: stun?.port,
    tls,
    close: () => (closing ??= Promise.all([app.close(), stun?.close()]).then(() => undefined)),
  };
}

/**
 * Starts the STUN responder: on the HTTP port's number by default (any free port when another program
 * holds that UDP port), on the given port (which must be free), or not at all (`off`).
 */
async function startStun(options: ServerOptions, httpPort: number): Promise<StunResponder | undefined> {
  if (options.stunPort === 'off') return undefined;
  const host = options.host === '' ? '0.0.0.0' : options.host;
  if (options.stunPort !== 'http') return startStunResponder(host, options.stunPort);
  try {
    return await startStunResponder(host, httpPort);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    return startStunResponder(host, 0);
  }
}
