/**
 * Server B of the seed: the lithium-ion batteries service. `buildBatteriesApp(opts)` gives a Fastify
 * instance (not listening) over its own SQLite database, migrated and — on first start — seeded. Given
 * `provider` options it also serves `battery-report` requests as a provider on a signaling server: the
 * provider starts when the app becomes ready and stops when it closes.
 *
 * @example
 * const app = await buildBatteriesApp({ db: ':memory:', token: 'x'.repeat(32) });
 * const res = await app.inject({ method: 'GET', url: '/batteries?chemistry=LFP&sort=-capacity_ah' });
 */
import type { FastifyInstance } from 'fastify';
import { createDatasetRegistry } from '../../datasets/types.js';
import type { Provider, ProviderEvent, ProviderFaults } from '../../agents/index.js';
import { openBatteriesStore } from '../../storage/batteries/store.js';
import { openServiceStore } from '../shared/errors.js';
import { createServiceApp, type BaseAppOptions } from '../shared/http-app.js';
import { bearerAuth } from '../shared/token.js';
import { createBatteryReportDataset } from './report-dataset.js';
import { registerBatteryRoutes } from './routes.js';
import { seedBatteries } from './seed.js';

/** How the batteries service serves reports over the signaling server. */
export interface BatteriesProviderOptions {
  /** Signaling server URL. */
  server: string;
  /** A provider (client_type 1) JWT. */
  token: string;
  /** Base URL of the products service. */
  productsUrl: string;
  /** Extra trusted CA for an HTTPS products service. */
  productsCa?: string | Buffer;
  /** Where generated reports are cached by the provider. */
  dataDir: string;
  transport?: 'auto' | 'p2p' | 'relay';
  /** Provider events (ready, session, sent, failed, …). */
  log?: (event: ProviderEvent) => void;
  /** Test faults (e.g. `corruptFrame`), see the agents. */
  faults?: ProviderFaults;
}

/** Options of `buildBatteriesApp`. */
export interface BatteriesAppOptions extends BaseAppOptions {
  /** SQLite file path, or `:memory:`. */
  db: string;
  /** Bearer token guarding writes. */
  token: string;
  /** Seed sample batteries when the database is created (default true). */
  seed?: boolean;
  /** Serve `battery-report` requests as a provider. */
  provider?: BatteriesProviderOptions;
}

/** Builds the batteries service. Closing the app stops the provider and closes the database. */
export async function buildBatteriesApp(opts: BatteriesAppOptions): Promise<FastifyInstance> {
  const store = openServiceStore(openBatteriesStore, opts.db);
  try {
    if (store.created && opts.seed !== false) await seedBatteries(store.batteries);
  } catch (err) {
    await store.close();
    throw err;
  }
  let provider: Provider | undefined;
  // `provider`: whether this service serves battery reports (the products service checks it first).
  const app = createServiceApp('batteries', opts, () => ({ provider: provider !== undefined }));
  app.addHook('onClose', async () => {
    await provider?.close();
    await store.close();
  });
  registerBatteryRoutes(app, { batteries: store.batteries, auth: bearerAuth(opts.token) });

  const po = opts.provider;
  if (po !== undefined) {
    const dataset = createBatteryReportDataset({
      batteries: store.batteries,
      productsUrl: po.productsUrl,
      ...(po.productsCa !== undefined ? { productsCa: po.productsCa } : {}),
    });
    app.addHook('onReady', async () => {
      // Loaded only here: the agents pull in the native WebRTC library.
      const { startProvider } = await import('../../agents/index.js');
      provider = await startProvider({
        server: po.server,
        token: po.token,
        datasets: createDatasetRegistry([dataset]),
        dataDir: po.dataDir,
        ...(po.transport !== undefined ? { transport: po.transport } : {}),
        ...(po.log !== undefined ? { log: po.log } : {}),
        ...(po.faults !== undefined ? { faults: po.faults } : {}),
      });
    });
  }
  return app;
}
