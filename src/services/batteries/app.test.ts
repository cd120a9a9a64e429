import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildBatteriesApp } from './app.js';
import { batterySeedRows } from './seed.js';

const TOKEN = 'batteries-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

interface ListBody {
  items: Array<{
    id: number;
    chemistry: string;
    capacity_ah: number;
    energy_wh: number;
    cycle_life: number;
    product_id: number;
  }>;
  total: number;
  limit: number;
  offset: number;
}

function errorOf(body: string): { code: string; message: string } {
  return (JSON.parse(body) as { error: { code: string; message: string } }).error;
}

/** An LFP 4S pack, consistent: 12.8 V × 50 Ah = 640 Wh. */
const newBattery = (over: Record<string, unknown> = {}) => ({
  product_id: 900,
  chemistry: 'LFP',
  form_factor: 'pack',
  cell_format: null,
  series_cells: 4,
  parallel_cells: 1,
  nominal_voltage_v: 12.8,
  capacity_ah: 50,
  energy_wh: 640,
  cycle_life: 3000,
  max_charge_c: 0.5,
  max_discharge_c: 1,
  mass_kg: 6.5,
  length_mm: 260,
  width_mm: 168,
  height_mm: 209,
  temp_min_c: -20,
  temp_max_c: 55,
  ...over,
});

describe('batteries service (in process)', () => {
  let app: FastifyInstance;
  const seed = batterySeedRows();

  before(async () => {
    app = await buildBatteriesApp({ db: ':memory:', token: TOKEN });
  });
  after(async () => {
    await app.close();
  });

  const list = async (query: string) => {
    const r = await app.inject({ method: 'GET', url: `/batteries${query}` });
    assert.equal(r.statusCode, 200, r.body);
    return JSON.parse(r.body) as ListBody;
  };

  it('is seeded and filters by chemistry, capacity range, cycle life and product', async () => {
    assert.equal((await list('')).total, seed.length);
    let b = await list('?chemistry=LFP,LTO&limit=100');
    assert.deepEqual(
      b.items.map((x) => x.id),
      seed.filter((x) => x.chemistry === 'LFP' || x.chemistry === 'LTO').map((x) => x.id),
    );
    b = await list('?min_capacity_ah=4&max_capacity_ah=20&min_cycle_life=700&limit=100');
    const expected = seed.filter((x) => x.capacity_ah >= 4 && x.capacity_ah <= 20 && x.cycle_life >= 700);
    assert.deepEqual(
      b.items.map((x) => x.id),
      expected.map((x) => x.id),
    );
    assert.ok(expected.length >= 3);
    b = await list('?product_id=26');
    assert.equal(b.total, 1);
    assert.equal(b.items[0]?.product_id, 26);
    b = await list('?min_energy_wh=5000&form_factor=module');
    assert.deepEqual(
      b.items.map((x) => x.id),
      seed.filter((x) => x.energy_wh >= 5000 && x.form_factor === 'module').map((x) => x.id),
    );
  });

  it('sorts and pages', async () => {
    const b = await list('?sort=-capacity_ah&limit=3&offset=1');
    const sorted = [...seed].sort((x, y) => y.capacity_ah - x.capacity_ah || y.id - x.id);
    assert.deepEqual(
      b.items.map((x) => x.id),
      sorted.slice(1, 4).map((x) => x.id),
    );
    assert.equal(b.limit, 3);
    assert.equal(b.offset, 1);
    assert.equal(b.total, seed.length);
  });

  it('refuses bad queries with 400 ERR_VALIDATION', async () => {
    const cases: Array<[string, RegExp]> = [
      ['?chemistry=LiPo', /query\.chemistry: must be one or more of NMC, LFP, NCA, LCO, LMO, LTO/],
      ['?chemistry=LFP,', /query\.chemistry/],
      ['?min_capacity_ah=10&max_capacity_ah=1', /min_capacity_ah 10 is greater than max_capacity_ah 1/],
      ['?min_cycle_life=1.5', /query\.min_cycle_life: must be an integer/],
      ['?sort=-price', /query\.sort: must be one of/],
      ['?colour=red', /unknown query parameter "colour"/],
    ];
    for (const [q, message] of cases) {
      const r = await app.inject({ method: 'GET', url: `/batteries${q}` });
      assert.equal(r.statusCode, 400, q);
      assert.equal(errorOf(r.body).code, 'ERR_VALIDATION');
      assert.match(errorOf(r.body).message, message, q);
    }
  });

  it('gets one battery, 404 for an unknown one', async () => {
    let r = await app.inject({ method: 'GET', url: '/batteries/6' });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(JSON.parse(r.body), seed[5]);
    r = await app.inject({ method: 'GET', url: '/batteries/4242' });
    assert.equal(r.statusCode, 404);
    assert.deepEqual(errorOf(r.body), { code: 'ERR_NOT_FOUND', message: 'battery 4242 not found' });
  });

  it('creates, replaces and deletes behind the token', async () => {
    let r = await app.inject({ method: 'POST', url: '/batteries', payload: newBattery() });
    assert.equal(r.statusCode, 401);
    assert.equal(errorOf(r.body).code, 'ERR_TOKEN_MISSING');
    r = await app.inject({
      method: 'POST',
      url: '/batteries',
      headers: { authorization: 'Bearer wrong-token-wrong-token' },
      payload: newBattery(),
    });
    assert.equal(errorOf(r.body).code, 'ERR_TOKEN_INVALID');

    r = await app.inject({ method: 'POST', url: '/batteries', headers: auth, payload: newBattery() });
    assert.equal(r.statusCode, 201, r.body);
    const created = JSON.parse(r.body) as { id: number; cell_format: null; energy_wh: number };
    assert.equal(created.cell_format, null);
    assert.equal(r.headers.location, `/batteries/${created.id}`);

    r = await app.inject({
      method: 'PUT',
      url: `/batteries/${created.id}`,
      headers: auth,
      payload: newBattery({ capacity_ah: 100, energy_wh: 1280, mass_kg: 11 }),
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal((JSON.parse(r.body) as { energy_wh: number }).energy_wh, 1280);

    r = await app.inject({ method: 'PUT', url: '/batteries/4242', headers: auth, payload: newBattery() });
    assert.equal(r.statusCode, 404);

    r = await app.inject({ method: 'DELETE', url: `/batteries/${created.id}`, headers: auth });
    assert.equal(r.statusCode, 204);
    r = await app.inject({ method: 'DELETE', url: `/batteries/${created.id}`, headers: auth });
    assert.equal(r.statusCode, 404);
  });

  it('answers 409 ERR_CONFLICT when a product is already described', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/batteries',
      headers: auth,
      payload: newBattery({ product_id: 6 }),
    });
    assert.equal(r.statusCode, 409);
    assert.deepEqual(errorOf(r.body), {
      code: 'ERR_CONFLICT',
      message: 'product 6 is already described by battery 6',
    });
  });

  it('refuses physically inconsistent batteries with 400', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ energy_wh: 700 }, /energy_wh 700 does not match nominal_voltage_v × capacity_ah = 640\.00/],
      [{ nominal_voltage_v: 14.8, energy_wh: 740 }, /3\.700 V per cell; LFP cells are 3\.2-3\.3 V/],
      [{ chemistry: 'LTO' }, /LTO cells are 2\.3-2\.4 V/],
      [{ temp_min_c: 60 }, /temp_min_c 60 must be below temp_max_c 55/],
      [{ capacity_ah: 0 }, /body\.capacity_ah: must be > 0, got 0/],
      [{ series_cells: 2.5 }, /body\.series_cells: must be an integer/],
      [{ chemistry: 'LiPo' }, /body\.chemistry: must be one of NMC, LFP, NCA, LCO, LMO, LTO/],
      [{ cell_format: 'AA' }, /body\.cell_format: must be a cylindrical cell size code/],
      [{ mass_kg: '6.5' }, /body\.mass_kg: must be a number/],
      [{ extra: 1 }, /unknown property "extra"/],
    ];
    for (const [over, message] of cases) {
      const r = await app.inject({
        method: 'POST',
        url: '/batteries',
        headers: auth,
        payload: newBattery(over),
      });
      assert.equal(r.statusCode, 400, JSON.stringify(over));
      assert.equal(errorOf(r.body).code, 'ERR_VALIDATION');
      assert.match(errorOf(r.body).message, message);
    }
  });
});
