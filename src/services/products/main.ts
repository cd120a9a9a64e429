/**
 * `sdrlink products`: runs the products service (server A of the seed).
 */
import { readServiceEnv } from '../shared/config.js';
import { ServiceError } from '../shared/errors.js';
import { defaultFilesDir, listenAndAnnounce, prepareService, type CommonRunOptions } from '../shared/run.js';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildProductsApp, type ProductsAppOptions } from './app.js';
import type { BatteriesCheck } from './reports.js';

/** Options of `sdrlink products` (after parsing). */
export interface ProductsRunOptions extends CommonRunOptions {
  server?: string | undefined;
  consumerToken?: string | undefined;
  reportsDir?: string | undefined;
  transport?: 'auto' | 'p2p' | 'relay' | undefined;
  /** The batteries service, checked before each report request (`--batteries-url`). */
  batteriesUrl?: string | undefined;
  /** PEM file of an HTTPS batteries service's certificate (`--batteries-ca`). */
  batteriesCa?: string | undefined;
  /** How long `POST /reports` waits for a provider (ms). */
  reportWaitMs?: number | undefined;
  log?: boolean | undefined;
}

/** Starts the service; resolves once it listens. */
export async function runProducts(o: ProductsRunOptions, out: (line: string) => void): Promise<void> {
  const env = readServiceEnv();
  const prepared = await prepareService(o, env.productsToken);
  const consumerToken = o.consumerToken ?? env.consumerToken;
  // SDRLINK_SERVER alone (exported for other verbs) does not turn the exchange on; --server does.
  const server = o.server ?? (consumerToken !== undefined ? env.server : undefined);
  if (server !== undefined && consumerToken === undefined) {
    throw new ServiceError(
      'ERR_CONFIG',
      '--server needs --consumer-token (or SDRLINK_CONSUMER_TOKEN): a consumer JWT',
    );
  }
  const batteries =
    o.batteriesUrl === undefined ? undefined : await batteriesCheck(o.batteriesUrl, o.batteriesCa);
  // In memory: reports go to a private temporary folder, removed on close (docs/services.md "Running").
  const own = o.reportsDir === undefined ? await defaultFilesDir(prepared, 'products') : undefined;
  const reportsDir = resolve(o.reportsDir ?? join(own?.path ?? prepared.dir, 'reports'));
  const opts: ProductsAppOptions = { db: prepared.db, token: prepared.token, reportsDir };
  // Server faults (500s, failed report exchanges) are always logged, on stderr; --log adds every request.
  opts.log =
    o.log === true
      ? { level: 'info', stream: process.stdout, requests: true }
      : { level: 'warn', stream: process.stderr, requests: true };
  if (prepared.tls !== undefined) opts.tls = prepared.tls;
  if (server !== undefined && consumerToken !== undefined) {
    opts.exchange = { server, token: consumerToken };
    if (o.transport !== undefined) opts.exchange.transport = o.transport;
    if (o.reportWaitMs !== undefined) opts.exchange.waitMs = o.reportWaitMs;
    if (batteries !== undefined) opts.exchange.batteries = batteries;
  }
  try {
    const app = await buildProductsApp(opts);
    if (own !== undefined) app.addHook('onClose', () => own.remove());
    await listenAndAnnounce('products', app, o, prepared, out, {
      reports_dir: reportsDir,
      reports: opts.exchange !== undefined,
    });
  } catch (err) {
    await own?.remove();
    throw err;
  }
}

/** `--batteries-url` / `--batteries-ca`, checked at start. */
async function batteriesCheck(url: string, caFile: string | undefined): Promise<BatteriesCheck> {
  let u: URL;
  try {
    u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ServiceError(
      'ERR_CONFIG',
      `--batteries-url must be an http:// or https:// URL, got ${JSON.stringify(url)}`,
    );
  }
  const check: BatteriesCheck = { url: u.href };
  if (caFile !== undefined) {
    try {
      check.ca = await readFile(caFile);
    } catch (err) {
      throw new ServiceError('ERR_CONFIG', `--batteries-ca ${caFile}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return check;
}
