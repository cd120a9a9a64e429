/**
 * Runs the signaling server: builds it, listens, and announces readiness with ONE JSON line on stdout,
 * `{"event":"listening","url":"http://127.0.0.1:PORT","port":PORT,"db":"/abs/path.sqlite"}` — the line
 * test helpers and other processes wait for (and a human line on stderr).
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { buildServer, resolveOptions, type BuildOptions } from './app.js';

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
  /** Stops accepting, closes WebSockets (1001) and relays, waits for requests in flight, closes the database. */
  close(): Promise<void>;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Builds and starts the server, then prints the listening line. */
export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const { out = process.stdout, err = process.stderr, ...build } = opts;
  const options = resolveOptions(build);
  const app = await buildServer(build);
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (e) {
    await app.close();
    throw e;
  }
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://${urlHost(options.host)}:${port}`;
  const db = app.sdrlink.storage.location;
  out.write(JSON.stringify({ event: 'listening', url, port, db }) + '\n');
  err.write(`sdrlink server listening on ${url} (database ${db})\n`);
  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    host: options.host,
    port,
    db,
    close: () => (closing ??= app.close()),
  };
}
