/**
 * Products routes: `GET /products` (filters, sorting, pagination), `GET /products/{id}`, and the writes
 * `POST /products`, `PUT /products/{id}`, `DELETE /products/{id}` behind the service's bearer token.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import { ServiceError } from '../shared/errors.js';
import {
  likePattern,
  paginationProperties,
  parseIdList,
  parseSort,
  type Page,
} from '../shared/pagination.js';
import { IdList, IdParams, OneOf, Text } from '../shared/schemas.js';
import { isUniqueViolation, nowIso } from '../shared/sqlite.js';
import type { ProductRow, ProductsDatabase } from './db.js';
import { PRODUCT_CATEGORIES } from '../shared/domain.js';

/** A product as the API shows it. */
export interface Product {
  id: number;
  sku: string;
  name: string;
  manufacturer: string;
  category: string;
  description: string;
  /** US dollars, two decimals. */
  price: number;
  created_at: string;
  updated_at: string;
}

/** Fields `sort` accepts on `GET /products`. */
export const PRODUCT_SORT_FIELDS = [
  'id',
  'sku',
  'name',
  'manufacturer',
  'category',
  'price',
  'created_at',
] as const;

const SORT_COLUMNS = {
  id: 'id',
  sku: 'sku',
  name: 'name',
  manufacturer: 'manufacturer',
  category: 'category',
  price: 'price_cents',
  created_at: 'created_at',
} as const;

const MAX_PRICE = 10_000_000;

const Category = OneOf(PRODUCT_CATEGORIES);

/** Body of `POST /products` and `PUT /products/{id}` (PUT replaces the whole product). */
export const ProductBody = Type.Object(
  {
    sku: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$',
      errorMessage: 'must be 2-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit',
    }),
    name: Text(200),
    manufacturer: Text(100),
    category: Category,
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    price: Type.Number({ minimum: 0, maximum: MAX_PRICE }),
  },
  { additionalProperties: false },
);
export type ProductBody = Static<typeof ProductBody>;

/** Query of `GET /products`. */
export const ProductListQuery = Type.Object(
  {
    manufacturer: Type.Optional(Text(100)),
    category: Type.Optional(Category),
    min_price: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_PRICE })),
    max_price: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_PRICE })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    ids: Type.Optional(IdList),
    ...paginationProperties(PRODUCT_SORT_FIELDS, 'id'),
  },
  { additionalProperties: false },
);
type ProductListQuery = Static<typeof ProductListQuery> & { limit: number; offset: number; sort: string };

/** Row → API shape. */
export function toProduct(row: ProductRow): Product {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    manufacturer: row.manufacturer,
    category: row.category,
    description: row.description,
    price: row.price_cents / 100,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function toCents(price: number): number {
  const cents = Math.round(price * 100);
  if (Math.abs(cents - price * 100) > 1e-6) {
    throw new ServiceError('ERR_VALIDATION', `body.price: at most 2 decimals, got ${price}`);
  }
  return cents;
}

function applyFilters<O>(
  q: SelectQueryBuilder<ProductsDatabase, 'products', O>,
  f: ProductListQuery,
): SelectQueryBuilder<ProductsDatabase, 'products', O> {
  // `manufacturer` is declared COLLATE NOCASE, so `=` is case-insensitive.
  if (f.manufacturer !== undefined) q = q.where('manufacturer', '=', f.manufacturer);
  if (f.category !== undefined) q = q.where('category', '=', f.category);
  if (f.min_price !== undefined) q = q.where('price_cents', '>=', Math.ceil(f.min_price * 100 - 1e-6));
  if (f.max_price !== undefined) q = q.where('price_cents', '<=', Math.floor(f.max_price * 100 + 1e-6));
  if (f.ids !== undefined) q = q.where('id', 'in', parseIdList(f.ids));
  if (f.q !== undefined) {
    const p = likePattern(f.q);
    q = q.where(
      sql<boolean>`(name LIKE ${p} ESCAPE '\\' OR sku LIKE ${p} ESCAPE '\\' OR manufacturer LIKE ${p} ESCAPE '\\' OR description LIKE ${p} ESCAPE '\\')`,
    );
  }
  return q;
}

/** Options of the products routes. */
export interface ProductRoutesOptions {
  db: Kysely<ProductsDatabase>;
  /** `onRequest` hook guarding writes. */
  auth: (request: FastifyRequest) => Promise<void>;
}

/** Registers the products routes. */
export function registerProductRoutes(app: FastifyInstance, { db, auth }: ProductRoutesOptions): void {
  async function getRow(id: number): Promise<ProductRow> {
    const row = await db.selectFrom('products').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new ServiceError('ERR_NOT_FOUND', `product ${id} not found`);
    return row;
  }

  async function checkSkuFree(sku: string, exceptId?: number): Promise<void> {
    const other = await db.selectFrom('products').select('id').where('sku', '=', sku).executeTakeFirst();
    if (other !== undefined && other.id !== exceptId) {
      throw new ServiceError('ERR_CONFLICT', `sku "${sku}" is already used by product ${other.id}`);
    }
  }

  function conflictOr(err: unknown, sku: string): Error {
    return isUniqueViolation(err)
      ? new ServiceError('ERR_CONFLICT', `sku "${sku}" is already used by another product`, { cause: err })
      : (err as Error);
  }

  app.get(
    '/products',
    { schema: { querystring: ProductListQuery } },
    async (request): Promise<Page<Product>> => {
      const f = request.query as ProductListQuery;
      if (f.min_price !== undefined && f.max_price !== undefined && f.min_price > f.max_price) {
        throw new ServiceError(
          'ERR_VALIDATION',
          `query: min_price ${f.min_price} is greater than max_price ${f.max_price}`,
        );
      }
      const { field, direction } = parseSort<(typeof PRODUCT_SORT_FIELDS)[number]>(f.sort);
      const [rows, count] = await Promise.all([
        applyFilters(db.selectFrom('products').selectAll(), f)
          .orderBy(SORT_COLUMNS[field], direction)
          .orderBy('id', direction)
          .limit(f.limit)
          .offset(f.offset)
          .execute(),
        applyFilters(
          db.selectFrom('products').select((eb) => eb.fn.countAll<number>().as('n')),
          f,
        ).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(toProduct), total: Number(count.n), limit: f.limit, offset: f.offset };
    },
  );

  app.get('/products/:id', { schema: { params: IdParams } }, async (request) => {
    const { id } = request.params as { id: number };
    return toProduct(await getRow(id));
  });

  app.post('/products', { onRequest: auth, schema: { body: ProductBody } }, async (request, reply) => {
    const b = request.body as ProductBody;
    const price_cents = toCents(b.price);
    await checkSkuFree(b.sku);
    const at = nowIso();
    let row: ProductRow;
    try {
      row = await db
        .insertInto('products')
        .values({
          sku: b.sku,
          name: b.name,
          manufacturer: b.manufacturer,
          category: b.category,
          description: b.description ?? '',
          price_cents,
          created_at: at,
          updated_at: at,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      throw conflictOr(err, b.sku);
    }
    return reply.status(201).header('location', `/products/${row.id}`).send(toProduct(row));
  });

  app.put(
    '/products/:id',
    { onRequest: auth, schema: { params: IdParams, body: ProductBody } },
    async (request) => {
      const { id } = request.params as { id: number };
      const b = request.body as ProductBody;
      const price_cents = toCents(b.price);
      await getRow(id);
      await checkSkuFree(b.sku, id);
      try {
        const row = await db
          .updateTable('products')
          .set({
            sku: b.sku,
            name: b.name,
            manufacturer: b.manufacturer,
            category: b.category,
            description: b.description ?? '',
            price_cents,
            updated_at: nowIso(),
          })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirstOrThrow();
        return toProduct(row);
      } catch (err) {
        throw conflictOr(err, b.sku);
      }
    },
  );

  app.delete('/products/:id', { onRequest: auth, schema: { params: IdParams } }, async (request, reply) => {
    const { id } = request.params as { id: number };
    const r = await db.deleteFrom('products').where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new ServiceError('ERR_NOT_FOUND', `product ${id} not found`);
    return reply.status(204).send();
  });
}
