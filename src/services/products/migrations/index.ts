/**
 * Migrations of the products database, applied in name order by Kysely's Migrator.
 */
import { sql, type Kysely, type Migration } from 'kysely';

/** Name of the migration that creates `products`; the seed runs when this one is applied. */
export const PRODUCTS_INIT = '001-products';

export const productsMigrations: Record<string, Migration> = {
  [PRODUCTS_INIT]: {
    async up(db: Kysely<unknown>) {
      // AUTOINCREMENT: ids are never reused, because the batteries service refers to them.
      await sql`CREATE TABLE products (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sku TEXT NOT NULL COLLATE NOCASE UNIQUE,
        name TEXT NOT NULL,
        manufacturer TEXT NOT NULL COLLATE NOCASE,
        category TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`.execute(db);
      await sql`CREATE INDEX products_manufacturer ON products (manufacturer)`.execute(db);
      await sql`CREATE INDEX products_category ON products (category)`.execute(db);
      await sql`CREATE INDEX products_price ON products (price_cents)`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      await sql`DROP TABLE products`.execute(db);
    },
  },
  '002-reports': {
    async up(db: Kysely<unknown>) {
      await sql`CREATE TABLE reports (
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
      )`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      await sql`DROP TABLE reports`.execute(db);
    },
  },
};
