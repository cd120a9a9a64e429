import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildProductsApp } from './app.js';
import { productSeedRows } from './seed.js';

const TOKEN = 'products-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

interface ListBody {
  items: Array<
    Record<string, unknown> & { id: number; price: number; manufacturer: string; category: string }
  >;
  total: number;
  limit: number;
  offset: number;
}

function errorOf(body: string): { code: string; message: string } {
  const parsed = JSON.parse(body) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(parsed), ['error']);
  return parsed.error;
}

const newProduct = (over: Record<string, unknown> = {}) => ({
  sku: 'TEST-0001',
  name: 'Test cell',
  manufacturer: 'Acme Cells',
  category: 'cell',
  price: 3.5,
  ...over,
});

describe('products service (in process)', () => {
  let app: FastifyInstance;
  const seed = productSeedRows();

  before(async () => {
    app = await buildProductsApp({ db: ':memory:', token: TOKEN, bodyLimit: 4096 });
  });
  after(async () => {
    await app.close();
  });

  const get = async (url: string) => app.inject({ method: 'GET', url });

  it('is seeded on first start, and lists with the default page', async () => {
    const r = await get('/products');
    assert.equal(r.statusCode, 200);
    const b = JSON.parse(r.body) as ListBody;
    assert.equal(b.total, seed.length);
    assert.equal(b.limit, 20);
    assert.equal(b.offset, 0);
    assert.deepEqual(
      b.items.map((p) => p.id),
      seed.slice(0, 20).map((p) => p.id),
    );
    assert.deepEqual(Object.keys(b.items[0] ?? {}), [
      'id',
      'sku',
      'name',
      'manufacturer',
      'category',
      'description',
      'price',
      'created_at',
      'updated_at',
    ]);
  });

  it('filters by manufacturer (any case), category, price range, text and ids', async () => {
    let b = JSON.parse((await get('/products?manufacturer=victron%20energy&limit=100')).body) as ListBody;
    assert.deepEqual(
      b.items.map((p) => p.id),
      seed.filter((p) => p.manufacturer === 'Victron Energy').map((p) => p.id),
    );
    assert.ok(b.total >= 3);

    b = JSON.parse(
      (await get('/products?category=power-tool-pack&min_price=100&max_price=200')).body,
    ) as ListBody;
    const expected = seed.filter(
      (p) => p.category === 'power-tool-pack' && p.price_cents >= 10000 && p.price_cents <= 20000,
    );
    assert.deepEqual(
      b.items.map((p) => p.id),
      expected.map((p) => p.id),
    );
    assert.ok(expected.length >= 2);

    b = JSON.parse((await get('/products?q=21700&limit=100')).body) as ListBody;
    assert.deepEqual(
      b.items.map((p) => p.id),
      seed.filter((p) => `${p.name} ${p.sku} ${p.description}`.includes('21700')).map((p) => p.id),
    );

    // LIKE wildcards in q are literal text.
    b = JSON.parse((await get('/products?q=%25')).body) as ListBody;
    assert.equal(b.total, 0);

    b = JSON.parse((await get('/products?ids=3,1,40')).body) as ListBody;
    assert.deepEqual(
      b.items.map((p) => p.id),
      [1, 3, 40],
    );
  });

  it('sorts by a whitelisted field either way, ties broken by id, and pages', async () => {
    const b = JSON.parse((await get('/products?sort=-price&limit=5&offset=2')).body) as ListBody;
    const sorted = [...seed].sort((x, y) => y.price_cents - x.price_cents || y.id - x.id);
    assert.deepEqual(
      b.items.map((p) => p.id),
      sorted.slice(2, 7).map((p) => p.id),
    );
    assert.equal(b.items[0]?.price, (sorted[2]?.price_cents ?? 0) / 100);
    assert.equal(b.total, seed.length);
    const asc = JSON.parse((await get('/products?sort=manufacturer&limit=100')).body) as ListBody;
    const names = asc.items.map((p) => p.manufacturer.toLowerCase());
    assert.deepEqual(names, [...names].sort());
    const last = JSON.parse((await get(`/products?offset=${seed.length}`)).body) as ListBody;
    assert.deepEqual(last.items, []);
    assert.equal(last.total, seed.length);
  });

  it('refuses bad queries with 400 ERR_VALIDATION and a precise message', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/products?limt=5', /unknown query parameter "limt"/],
      ['/products?limit=0', /query\.limit: must be ≥ 1, got 0/],
      ['/products?limit=101', /query\.limit: must be ≤ 100, got 101/],
      ['/products?limit=ten', /query\.limit: must be an integer, got "ten"/],
      ['/products?offset=-1', /query\.offset: must be ≥ 0/],
      ['/products?sort=weight', /query\.sort: must be one of id, .*-created_at, got "weight"/],
      ['/products?category=food', /query\.category: must be one of cell, /],
      ['/products?min_price=9&max_price=1', /min_price 9 is greater than max_price 1/],
      ['/products?ids=1,x', /query\.ids: must be a comma list/],
      ['/products?limit=1&limit=2', /query\.limit: .*give the parameter once/],
      ['/products/0', /path\.id: must be ≥ 1/],
      ['/products/abc', /path\.id: must be an integer/],
    ];
    for (const [url, message] of cases) {
      const r = await get(url);
      assert.equal(r.statusCode, 400, url);
      const e = errorOf(r.body);
      assert.equal(e.code, 'ERR_VALIDATION', url);
      assert.match(e.message, message, url);
    }
  });

  it('answers 404 ERR_NOT_FOUND for an unknown product or route', async () => {
    let r = await get('/products/9999');
    assert.equal(r.statusCode, 404);
    assert.deepEqual(errorOf(r.body), { code: 'ERR_NOT_FOUND', message: 'product 9999 not found' });
    r = await get('/nothing-here');
    assert.equal(r.statusCode, 404);
    assert.equal(errorOf(r.body).code, 'ERR_NOT_FOUND');
  });

  it('guards writes with the bearer token: 401 ERR_TOKEN_MISSING / ERR_TOKEN_INVALID', async () => {
    let r = await app.inject({ method: 'POST', url: '/products', payload: newProduct() });
    assert.equal(r.statusCode, 401);
    assert.equal(errorOf(r.body).code, 'ERR_TOKEN_MISSING');
    assert.equal(r.headers['www-authenticate'], 'Bearer');
    for (const header of [`Bearer ${TOKEN}x`, `Basic ${TOKEN}`, 'Bearer']) {
      r = await app.inject({ method: 'DELETE', url: '/products/1', headers: { authorization: header } });
      assert.equal(r.statusCode, 401, header);
      assert.equal(errorOf(r.body).code, 'ERR_TOKEN_INVALID', header);
    }
    // Nothing was deleted.
    assert.equal((await get('/products/1')).statusCode, 200);
  });

  it('creates, replaces and deletes a product', async () => {
    let r = await app.inject({ method: 'POST', url: '/products', headers: auth, payload: newProduct() });
    assert.equal(r.statusCode, 201);
    const created = JSON.parse(r.body) as { id: number; price: number; description: string };
    assert.equal(r.headers.location, `/products/${created.id}`);
    assert.equal(created.id, seed.length + 1);
    assert.equal(created.price, 3.5);
    assert.equal(created.description, '');

    r = await app.inject({
      method: 'PUT',
      url: `/products/${created.id}`,
      headers: auth,
      payload: newProduct({ price: 4.25, description: 'Replaced.' }),
    });
    assert.equal(r.statusCode, 200);
    assert.equal((JSON.parse(r.body) as { price: number }).price, 4.25);
    assert.equal(
      (JSON.parse((await get(`/products/${created.id}`)).body) as { description: string }).description,
      'Replaced.',
    );

    r = await app.inject({ method: 'DELETE', url: `/products/${created.id}`, headers: auth });
    assert.equal(r.statusCode, 204);
    assert.equal((await get(`/products/${created.id}`)).statusCode, 404);
    r = await app.inject({ method: 'DELETE', url: `/products/${created.id}`, headers: auth });
    assert.equal(r.statusCode, 404);

    // Ids are not reused (the batteries service refers to them).
    r = await app.inject({
      method: 'POST',
      url: '/products',
      headers: auth,
      payload: newProduct({ sku: 'TEST-0002' }),
    });
    assert.equal((JSON.parse(r.body) as { id: number }).id, seed.length + 2);
  });

  it('answers 409 ERR_CONFLICT for a duplicate sku (any case), on create and on replace', async () => {
    let r = await app.inject({
      method: 'POST',
      url: '/products',
      headers: auth,
      payload: newProduct({ sku: 'pan-ncr18650b' }),
    });
    assert.equal(r.statusCode, 409);
    assert.deepEqual(errorOf(r.body), {
      code: 'ERR_CONFLICT',
      message: 'sku "pan-ncr18650b" is already used by product 3',
    });
    r = await app.inject({
      method: 'PUT',
      url: '/products/1',
      headers: auth,
      payload: newProduct({ sku: 'PAN-NCR18650B' }),
    });
    assert.equal(r.statusCode, 409);
    // Replacing a product with its own sku is fine.
    r = await app.inject({
      method: 'PUT',
      url: '/products/3',
      headers: auth,
      payload: newProduct({ sku: 'PAN-NCR18650B', name: 'NCR18650B', price: 6.25 }),
    });
    assert.equal(r.statusCode, 200);
  });

  it('validates bodies strictly: no coercion, no unknown fields, precise messages', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [newProduct({ price: '3.5' }), /body\.price: must be a number, got "3\.5"/],
      [newProduct({ price: 1.234 }), /body\.price: at most 2 decimals, got 1\.234/],
      [newProduct({ price: -1 }), /body\.price: must be ≥ 0, got -1/],
      [newProduct({ colour: 'red' }), /unknown property "colour"/],
      [newProduct({ name: ' padded' }), /body\.name: must be 1-200 characters/],
      [newProduct({ name: 'x'.repeat(201) }), /body\.name: must be at most 200 characters, got 201/],
      [newProduct({ sku: 'a b' }), /body\.sku: must be 2-64 characters/],
      [newProduct({ category: 'toys' }), /body\.category: must be one of/],
      [{ sku: 'ONLY-SKU' }, /body\.name: required/],
      [[newProduct()], /body: must be a JSON object/],
    ];
    for (const [payload, message] of cases) {
      const r = await app.inject({
        method: 'POST',
        url: '/products',
        headers: auth,
        payload: payload as object,
      });
      assert.equal(r.statusCode, 400, JSON.stringify(payload));
      const e = errorOf(r.body);
      assert.equal(e.code, 'ERR_VALIDATION');
      assert.match(e.message, message);
    }
  });

  it('translates bad JSON, oversized bodies and wrong content types into the error shape', async () => {
    let r = await app.inject({
      method: 'POST',
      url: '/products',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"sku":',
    });
    assert.equal(r.statusCode, 400);
    assert.equal(errorOf(r.body).code, 'ERR_JSON');
    r = await app.inject({
      method: 'POST',
      url: '/products',
      headers: auth,
      payload: newProduct({ description: 'x'.repeat(5000) }),
    });
    assert.equal(r.statusCode, 413);
    assert.deepEqual(errorOf(r.body), {
      code: 'ERR_BODY_TOO_LARGE',
      message: 'body: larger than the limit of 4096 bytes',
    });
    r = await app.inject({
      method: 'POST',
      url: '/products',
      headers: { ...auth, 'content-type': 'application/xml' },
      payload: '<product/>',
    });
    assert.equal(r.statusCode, 415);
    assert.equal(errorOf(r.body).code, 'ERR_MEDIA_TYPE');
  });

  it('answers 503 ERR_UNAVAILABLE to POST /reports without a signaling server, after validating', async () => {
    let r = await app.inject({
      method: 'POST',
      url: '/reports',
      headers: auth,
      payload: { chemistry: 'LFP' },
    });
    assert.equal(r.statusCode, 503);
    assert.equal(errorOf(r.body).code, 'ERR_UNAVAILABLE');
    r = await app.inject({
      method: 'POST',
      url: '/reports',
      headers: auth,
      payload: { chemistry: ['LFP', 'XYZ'] },
    });
    assert.equal(r.statusCode, 400);
    assert.match(errorOf(r.body).message, /body\.chemistry: must be a chemistry/);
    r = await app.inject({
      method: 'POST',
      url: '/reports',
      headers: auth,
      payload: { min_energy_wh: 10, max_energy_wh: 1 },
    });
    assert.equal(r.statusCode, 400);
    assert.match(errorOf(r.body).message, /min_energy_wh 10 is greater than max_energy_wh 1/);
    r = await app.inject({ method: 'POST', url: '/reports', payload: {} });
    assert.equal(r.statusCode, 401);
    r = await get('/reports');
    assert.deepEqual(JSON.parse(r.body), { items: [], total: 0, limit: 20, offset: 0 });
    r = await get('/reports/1');
    assert.equal(r.statusCode, 404);
    r = await get('/reports/1/content');
    assert.equal(r.statusCode, 404);
  });
});
