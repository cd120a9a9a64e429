/**
 * The `products` table: filtered, sorted pages, look-ups and writes. A `sku` is unique ignoring case
 * (the column is `COLLATE NOCASE`); a write that would break that throws `StorageError('ERR_CONFLICT')`.
 */
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import { likePattern, type ListQuery, type ListResult } from '../list.js';
import { isUniqueViolation } from '../sqlite/database.js';
import { StorageError } from '../types.js';
import type { NewProductRow, ProductRow, ProductsDatabase } from './schema.js';

/** Fields a product list can be sorted by (`price` is the `price_cents` column). */
export type ProductSortField = 'id' | 'sku' | 'name' | 'manufacturer' | 'category' | 'price' | 'created_at';

const SORT_COLUMNS = {
  id: 'id',
  sku: 'sku',
  name: 'name',
  manufacturer: 'manufacturer',
  category: 'category',
  price: 'price_cents',
  created_at: 'created_at',
} as const;

/** Filters of a product list; every one given must hold. */
export interface ProductFilter {
  /** Exact, ignoring case. */
  manufacturer?: string;
  category?: string;
  minPriceCents?: number;
  maxPriceCents?: number;
  ids?: readonly number[];
  /** Substring of name, sku, manufacturer or description; `%` and `_` are literal. */
  text?: string;
}

/** A product's writable columns (everything but the id). */
export type ProductValues = Omit<NewProductRow, 'id'>;

/** Products, over the products service's database. */
export class ProductRepository {
  readonly #db: Kysely<ProductsDatabase>;

  constructor(db: Kysely<ProductsDatabase>) {
    this.#db = db;
  }

  /** One page of the products matching `filter`, and how many match. */
  async list(filter: ProductFilter, page: ListQuery<ProductSortField>): Promise<ListResult<ProductRow>> {
    const [rows, count] = await Promise.all([
      applyFilter(this.#db.selectFrom('products').selectAll(), filter)
        .orderBy(SORT_COLUMNS[page.sort], page.direction)
        .orderBy('id', page.direction)
        .limit(page.limit)
        .offset(page.offset)
        .execute(),
      applyFilter(
        this.#db.selectFrom('products').select((eb) => eb.fn.countAll<number>().as('n')),
        filter,
      ).executeTakeFirstOrThrow(),
    ]);
    return { rows, total: Number(count.n) };
  }

  get(id: number): Promise<ProductRow | undefined> {
    return this.#db.selectFrom('products').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The id of the product with this sku (ignoring case), if any. */
  async idBySku(sku: string): Promise<number | undefined> {
    const row = await this.#db.selectFrom('products').select('id').where('sku', '=', sku).executeTakeFirst();
    return row?.id;
  }

  /** Inserts a product; `ERR_CONFLICT` when its sku is taken. */
  async create(values: ProductValues): Promise<ProductRow> {
    try {
      return await this.#db.insertInto('products').values(values).returningAll().executeTakeFirstOrThrow();
    } catch (err) {
      throw conflictOr(err, values.sku);
    }
  }

  /** Replaces a product's columns (all but `created_at`); undefined when it does not exist. */
  async replace(id: number, values: Omit<ProductValues, 'created_at'>): Promise<ProductRow | undefined> {
    try {
      return await this.#db
        .updateTable('products')
        .set(values)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
    } catch (err) {
      throw conflictOr(err, values.sku);
    }
  }

  /** Deletes a product; false when it did not exist. */
  async delete(id: number): Promise<boolean> {
    const r = await this.#db.deleteFrom('products').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Inserts rows as given, ids included (the seed). */
  async insertMany(rows: readonly NewProductRow[]): Promise<void> {
    await this.#db
      .insertInto('products')
      .values([...rows])
      .execute();
  }
}

function conflictOr(err: unknown, sku: string): unknown {
  return isUniqueViolation(err)
    ? new StorageError('ERR_CONFLICT', `sku ${JSON.stringify(sku)} is taken`, { cause: err })
    : err;
}

function applyFilter<O>(
  q: SelectQueryBuilder<ProductsDatabase, 'products', O>,
  f: ProductFilter,
): SelectQueryBuilder<ProductsDatabase, 'products', O> {
  // `manufacturer` is declared COLLATE NOCASE, so `=` is case-insensitive.
  if (f.manufacturer !== undefined) q = q.where('manufacturer', '=', f.manufacturer);
  if (f.category !== undefined) q = q.where('category', '=', f.category);
  if (f.minPriceCents !== undefined) q = q.where('price_cents', '>=', f.minPriceCents);
  if (f.maxPriceCents !== undefined) q = q.where('price_cents', '<=', f.maxPriceCents);
  if (f.ids !== undefined) q = q.where('id', 'in', [...f.ids]);
  if (f.text !== undefined) {
    const p = likePattern(f.text);
    q = q.where(
      sql<boolean>`(name LIKE ${p} ESCAPE '\\' OR sku LIKE ${p} ESCAPE '\\' OR manufacturer LIKE ${p} ESCAPE '\\' OR description LIKE ${p} ESCAPE '\\')`,
    );
  }
  return q;
}
