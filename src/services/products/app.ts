/**
 * Server A of the seed: the products service. `buildProductsApp(opts)` gives a Fastify instance (not
 * listening) over its own SQLite database, migrated and — on first start — seeded.
 *
 * @example
 * const app = await buildProductsApp({ db: ':memory:', token: 'x'.repeat(32) });
 * const res = await app.inject({ method: 'GET', url: '/products?category=cell&sort=-price' });
 */
import type { FastifyInstance } from 'fastify';
import { openProductsStore } from '../../storage/products/store.js';
import { openServiceStore } from '../shared/errors.js';
import { createServiceApp, type BaseAppOptions } from '../shared/http-app.js';
import { bearerAuth } from '../shared/token.js';
import { registerReportRoutes, type ReportExchangeOptions } from './reports.js';
import { registerProductRoutes } from './routes.js';
import { seedProducts } from './seed.js';

/** Options of `buildProductsApp`. */
export interface ProductsAppOptions extends BaseAppOptions {
  /** SQLite file path, or `:memory:`. */
  db: string;
  /** Bearer token guarding writes. */
  token: string;
  /** Seed sample products when the database is created (default true). */
  seed?: boolean;
  /** Folder for received reports; without it `POST /reports` answers 503. */
  reportsDir?: string;
  /** How to ask for reports; without it `POST /reports` answers 503. */
  exchange?: ReportExchangeOptions;
}

/** Builds the products service. Closing the app closes its database. */
export async function buildProductsApp(opts: ProductsAppOptions): Promise<FastifyInstance> {
  const store = openServiceStore(openProductsStore, opts.db);
  try {
    if (store.created && opts.seed !== false) await seedProducts(store.products);
  } catch (err) {
    await store.close();
    throw err;
  }
  const app = createServiceApp('products', opts);
  app.addHook('onClose', async () => {
    await store.close();
  });
  const auth = bearerAuth(opts.token);
  registerProductRoutes(app, { products: store.products, auth });
  registerReportRoutes(app, {
    reports: store.reports,
    auth,
    reportsDir: opts.reportsDir,
    exchange: opts.exchange,
  });
  return app;
}
