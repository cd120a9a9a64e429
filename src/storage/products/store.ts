/**
 * The products service's database: opened and migrated by the one SQLite opener (sqlite/database.ts),
 * seen by the service only through its repositories.
 */
import { openSqlite } from '../sqlite/database.js';
import { PRODUCTS_INIT_VERSION, PRODUCTS_MIGRATIONS } from './migrations.js';
import { ProductRepository } from './products-repository.js';
import { ReportRepository } from './reports-repository.js';
import type { ProductsDatabase } from './schema.js';

/** An open products database. */
export interface ProductsStore {
  readonly products: ProductRepository;
  readonly reports: ReportRepository;
  /** True when this open created the schema (first start): the time to seed. */
  readonly created: boolean;
  /** Absolute path, or `:memory:`. */
  readonly location: string;
  close(): Promise<void>;
}

/**
 * Opens (creating if needed) and migrates the products database at `path` (`:memory:` for tests).
 * Throws `StorageError` (`ERR_STORAGE`, `ERR_MIGRATION`).
 */
export function openProductsStore(path: string): ProductsStore {
  const { kysely, location, applied } = openSqlite<ProductsDatabase>(path, PRODUCTS_MIGRATIONS);
  return {
    products: new ProductRepository(kysely),
    reports: new ReportRepository(kysely),
    created: applied.includes(PRODUCTS_INIT_VERSION),
    location,
    close: () => kysely.destroy(),
  };
}
