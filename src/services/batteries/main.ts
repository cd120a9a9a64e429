/**
 * `sdrlink batteries`: runs the lithium-ion batteries service (server B of the seed), and, given a
 * signaling server and a provider token, serves `battery-report` requests over WebRTC.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readServiceEnv } from '../shared/config.js';
import { ServiceError } from '../shared/errors.js';
import {
  defaultFilesDir,
  listenAndAnnounce,
  prepareService,
  type CommonRunOptions,
  type FilesDir,
} from '../shared/run.js';
import { buildBatteriesApp, type BatteriesAppOptions } from './app.js';

/** Options of `sdrlink batteries` (after parsing). */
export interface BatteriesRunOptions extends CommonRunOptions {
  productsUrl: string;
  productsCa?: string | undefined;
  server?: string | undefined;
  providerToken?: string | undefined;
  dataDir?: string | undefined;
  transport?: 'auto' | 'p2p' | 'relay' | undefined;
  log?: boolean | undefined;
}

/** Starts the service (and the provider); resolves once it listens. */
export async function runBatteries(o: BatteriesRunOptions, out: (line: string) => void): Promise<void> {
  const env = readServiceEnv();
  let productsUrl: URL;
  try {
    productsUrl = new URL(o.productsUrl);
    if (productsUrl.protocol !== 'http:' && productsUrl.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ServiceError(
      'ERR_CONFIG',
      `--products-url must be an http:// or https:// URL, got ${JSON.stringify(o.productsUrl)}`,
    );
  }
  const prepared = await prepareService(o, env.batteriesToken);
  const providerToken = o.providerToken ?? env.providerToken;
  // SDRLINK_SERVER alone (exported for other verbs) does not turn the exchange on; --server does.
  const server = o.server ?? (providerToken !== undefined ? env.server : undefined);
  if (server !== undefined && providerToken === undefined) {
    throw new ServiceError(
      'ERR_CONFIG',
      '--server needs --provider-token (or SDRLINK_PROVIDER_TOKEN): a provider JWT',
    );
  }
  const opts: BatteriesAppOptions = { db: prepared.db, token: prepared.token };
  // Server faults (500s, failed report exchanges) are always logged, on stderr; --log adds every request.
  opts.log =
    o.log === true
      ? { level: 'info', stream: process.stdout, requests: true }
      : { level: 'warn', stream: process.stderr, requests: true };
  if (prepared.tls !== undefined) opts.tls = prepared.tls;
  if (server !== undefined && providerToken !== undefined) {
    opts.provider = {
      server,
      token: providerToken,
      productsUrl: productsUrl.href,
      dataDir: resolve(o.dataDir ?? join(prepared.dir, 'batteries-data')),
      log: (ev) => out(JSON.stringify({ source: 'provider', ...ev })),
    };
    if (o.productsCa !== undefined) {
      try {
        opts.provider.productsCa = await readFile(o.productsCa);
      } catch (err) {
        throw new ServiceError('ERR_CONFIG', `--products-ca ${o.productsCa}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    if (o.transport !== undefined) opts.provider.transport = o.transport;
    if (env.faultCorruptFrame !== undefined) {
      const n = Number(env.faultCorruptFrame);
      if (!Number.isInteger(n) || n < 1) {
        throw new ServiceError(
          'ERR_CONFIG',
          `SDRLINK_FAULT_CORRUPT_FRAME must be a positive integer, got ${env.faultCorruptFrame}`,
        );
      }
      opts.provider.faults = { corruptFrame: n };
    }
  }
  // In memory: the provider's cache goes to a private temporary folder, removed on close (made last, so
  // that no error above leaves it behind).
  let own: FilesDir | undefined;
  if (opts.provider !== undefined && o.dataDir === undefined) {
    own = await defaultFilesDir(prepared, 'batteries');
    opts.provider.dataDir = join(own.path, 'batteries-data');
  }
  try {
    const app = await buildBatteriesApp(opts);
    const dir = own;
    if (dir !== undefined) app.addHook('onClose', () => dir.remove());
    await listenAndAnnounce('batteries', app, o, prepared, out, {
      products_url: productsUrl.href,
      provider: opts.provider !== undefined,
    });
  } catch (err) {
    await own?.remove();
    throw err;
  }
}
