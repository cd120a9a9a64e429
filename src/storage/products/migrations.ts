/**
 * The products service's schema (`products`, `reports`), run by the one runner (sqlite/migrate.ts).
 * Append only: a released migration never changes. Names are those Kysely's Migrator recorded before,
 * so existing databases are adopted, not migrated twice.
 */
import type { Migration } from '../sqlite/migrate.js';

/** Version of the migration that creates `products`; the service seeds when this one is applied. */
export const PRODUCTS_INIT_VERSION = 1;

/** Every migration of the products database. */
export const PRODUCTS_MIGRATIONS: readonly Migration[] = [
  {
    version: PRODUCTS_INIT_VERSION,
    name: '001-products',
    statements: [
      // AUTOINCREMENT: ids are never reused, because the batteries service refers to them.
      `CREATE TABLE products (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sku TEXT NOT NULL COLLATE NOCASE UNIQUE,
        name TEXT NOT NULL,
        manufacturer TEXT NOT NULL COLLATE NOCASE,
        category TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      'CREATE INDEX products_manufacturer ON products (manufacturer)',
      'CREATE INDEX products_category ON products (category)',
      'CREATE INDEX products_price ON products (price_cents)',
    ],
  },
  {
    version: 2,
    name: '002-reports',
    statements: [
      `CREATE TABLE reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        file_name TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        transport TEXT NOT NULL,
        provider TEXT,
        params TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        received_at TEXT NOT NULL
      )`,
    ],
  },
];
