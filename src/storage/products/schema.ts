/**
 * The products service's tables as Kysely sees them (migrations.ts): `products` and `reports` (received
 * battery reports).
 */
import type { Generated, Insertable, Selectable } from 'kysely';

/** Row of `products`. Prices are kept in cents (integers), exposed in dollars. */
export interface ProductsTable {
  id: Generated<number>;
  sku: string;
  name: string;
  manufacturer: string;
  category: string;
  description: string;
  price_cents: number;
  created_at: string;
  updated_at: string;
}

/** Row of `reports`: a battery report received over the data channel and stored on disk. */
export interface ReportsTable {
  id: Generated<number>;
  session_id: string;
  file_name: string;
  /** Path of the file relative to the reports folder. */
  path: string;
  size: number;
  sha256: string;
  transport: string;
  /** The provider's user id on the signaling server (or the requested name if the id is unknown). */
  provider: string | null;
  /** The report parameters, JSON. */
  params: string;
  duration_ms: number;
  received_at: string;
}

/** The products database schema, for Kysely. */
export interface ProductsDatabase {
  products: ProductsTable;
  reports: ReportsTable;
}

export type ProductRow = Selectable<ProductsTable>;
export type NewProductRow = Insertable<ProductsTable>;
export type ReportRow = Selectable<ReportsTable>;
export type NewReportRow = Insertable<ReportsTable>;
