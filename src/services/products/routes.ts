/**
 * Products routes: `GET /products` (filters, sorting, pagination), `GET /products/{id}`, and the writes
 * `POST /products`, `PUT /products/{id}`, `DELETE /products/{id}` behind the service's bearer token.
 */
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ProductFilter, ProductRepository } from '../../storage/products/products-repository.js';
import type { ProductRow } from '../../storage/products/schema.js';
import { StorageError } from '../../storage/types.js';
import { PRODUCT_CATEGORIES } from '../shared/domain.js';
import { ServiceError } from '../shared/errors.js';
import { paginationProperties, parseIdList, parseSort, type Page } from '../shared/pagination.js';
import { IdList, IdParams, OneOf, Text } from '../shared/schemas.js';
import { nowIso } from '../shared/time.js';

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

/** The list query's filters, in the repository's terms (prices in cents). */
function toFilter(f: ProductListQuery): ProductFilter {
  const filter: ProductFilter = {};
  if (f.manufacturer !== undefined) filter.manufacturer = f.manufacturer;
  if (f.category !== undefined) filter.category = f.category;
  if (f.min_price !== undefined) filter.minPriceCents = Math.ceil(f.min_price * 100 - 1e-6);
  if (f.max_price !== undefined) filter.maxPriceCents = Math.floor(f.max_price * 100 + 1e-6);
  if (f.ids !== undefined) filter.ids = parseIdList(f.ids);
  if (f.q !== undefined) filter.text = f.q;
  return filter;
}

/** Options of the products routes. */
export interface ProductRoutesOptions {
  products: ProductRepository;
  /** `onRequest` hook guarding writes. */
  auth: onRequestHookHandler;
}

/** Registers the products routes. */
export function registerProductRoutes(app: FastifyInstance, { products, auth }: ProductRoutesOptions): void {
  async function getRow(id: number): Promise<ProductRow> {
    const row = await products.get(id);
    if (row === undefined) throw new ServiceError('ERR_NOT_FOUND', `product ${id} not found`);
    return row;
  }

  async function checkSkuFree(sku: string, exceptId?: number): Promise<void> {
    const other = await products.idBySku(sku);
    if (other !== undefined && other !== exceptId) {
      throw new ServiceError('ERR_CONFLICT', `sku "${sku}" is already used by product ${other}`);
    }
  }

  /** A write that lost a race for its sku (between the check and the write). */
  function conflictOr(err: unknown, sku: string): unknown {
    return err instanceof StorageError && err.code === 'ERR_CONFLICT'
      ? new ServiceError('ERR_CONFLICT', `sku "${sku}" is already used by another product`, { cause: err })
      : err;
  }

  function values(b: ProductBody) {
    return {
      sku: b.sku,
      name: b.name,
      manufacturer: b.manufacturer,
      category: b.category,
      description: b.description ?? '',
      price_cents: toCents(b.price),
    };
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
      const { rows, total } = await products.list(toFilter(f), {
        sort: field,
        direction,
        limit: f.limit,
        offset: f.offset,
      });
      return { items: rows.map(toProduct), total, limit: f.limit, offset: f.offset };
    },
  );

  app.get('/products/:id', { schema: { params: IdParams } }, async (request) => {
    const { id } = request.params as { id: number };
    return toProduct(await getRow(id));
  });

  app.post('/products', { onRequest: auth, schema: { body: ProductBody } }, async (request, reply) => {
    const b = request.body as ProductBody;
    const v = values(b);
    await checkSkuFree(b.sku);
    const at = nowIso();
    let row: ProductRow;
    try {
      row = await products.create({ ...v, created_at: at, updated_at: at });
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
      const v = values(b);
      await getRow(id);
      await checkSkuFree(b.sku, id);
      let row: ProductRow | undefined;
      try {
        row = await products.replace(id, { ...v, updated_at: nowIso() });
      } catch (err) {
        throw conflictOr(err, b.sku);
      }
      if (row === undefined) throw new ServiceError('ERR_NOT_FOUND', `product ${id} not found`);
      return toProduct(row);
    },
  );

  app.delete('/products/:id', { onRequest: auth, schema: { params: IdParams } }, async (request, reply) => {
    const { id } = request.params as { id: number };
    if (!(await products.delete(id))) throw new ServiceError('ERR_NOT_FOUND', `product ${id} not found`);
    return reply.status(204).send();
  });
}
