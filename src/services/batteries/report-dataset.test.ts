import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { DatasetError } from '../../datasets/types.js';
import { buildProductsApp } from '../products/app.js';
import { productSeedRows } from '../products/seed.js';
import { openBatteriesStore, type BatteriesStore } from '../../storage/batteries/store.js';
import { REPORT_FIELDS, createBatteryReportDataset } from './report-dataset.js';
import { batterySeedRows, seedBatteries } from './seed.js';

const TOKEN = 'report-test-token-0123456789';

type Line = Record<string, unknown> & { record: string };
const parseLines = (text: string): Line[] =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);

describe('battery-report dataset', () => {
  let products: FastifyInstance;
  let productsUrl: string;
  let bdb: BatteriesStore;
  let dir: string;
  let n = 0;
  const out = () => join(dir, `r${++n}.jsonl`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-report-'));
    products = await buildProductsApp({ db: ':memory:', token: TOKEN });
    productsUrl = await products.listen({ host: '127.0.0.1', port: 0 });
    bdb = openBatteriesStore(':memory:');
    await seedBatteries(bdb.batteries);
  });
  after(async () => {
    await products.close();
    await bdb.close();
    await rm(dir, { recursive: true, force: true });
  });

  const dataset = () => createBatteryReportDataset({ batteries: bdb.batteries, productsUrl });

  it('joins every battery with its product, in battery order, with a schema header and a summary', async () => {
    const ds = dataset();
    const params = ds.validate({ generated_at: '2025-01-31T12:00:00Z' });
    const path = out();
    const { bytes } = await ds.generate(params, path);
    const text = await readFile(path, 'utf8');
    assert.equal(Buffer.byteLength(text), bytes);
    assert.ok(bytes <= ds.estimateBytes(params));
    const lines = parseLines(text);
    const [header, ...rest] = lines;
    const summary = rest.pop();
    assert.equal(header?.record, 'header');
    assert.equal(header?.['format'], 'sdrlink.battery-report');
    assert.equal(header?.['version'], 1);
    assert.equal(header?.['generated_at'], '2025-01-31T12:00:00Z');
    assert.deepEqual(header?.['params'], { generated_at: '2025-01-31T12:00:00Z' });
    assert.deepEqual(header?.['fields'], JSON.parse(JSON.stringify(REPORT_FIELDS)));

    const productById = new Map(productSeedRows().map((p) => [p.id, p]));
    const batteries = batterySeedRows();
    assert.equal(rest.length, batteries.length);
    rest.forEach((rec, i) => {
      const b = batteries[i];
      assert.ok(b !== undefined);
      const p = productById.get(b.product_id);
      assert.ok(p !== undefined);
      assert.deepEqual(Object.keys(rec), ['record', ...REPORT_FIELDS.map((f) => f.name)]);
      assert.equal(rec['battery_id'], b.id);
      assert.equal(rec['sku'], p.sku);
      assert.equal(rec['manufacturer'], p.manufacturer);
      assert.equal(rec['price'], p.price_cents / 100);
      assert.equal(rec['chemistry'], b.chemistry);
      assert.equal(rec['energy_wh'], b.energy_wh);
      assert.equal(rec['product_updated_at'], p.updated_at);
    });

    assert.equal(summary?.record, 'summary');
    assert.equal(summary?.['count'], batteries.length);
    const lfp = batteries.filter((b) => b.chemistry === 'LFP');
    const byChem = summary?.['by_chemistry'] as Record<string, { count: number; energy_wh: number }>;
    assert.deepEqual(Object.keys(byChem), ['LCO', 'LFP', 'LMO', 'LTO', 'NCA', 'NMC']);
    assert.equal(byChem['LFP']?.count, lfp.length);
    assert.ok(Math.abs((byChem['LFP']?.energy_wh ?? 0) - lfp.reduce((s, b) => s + b.energy_wh, 0)) < 0.01);
    assert.deepEqual(summary?.['missing_product_ids'], []);
    const stamps = batteries.flatMap((b) => [b.updated_at, productById.get(b.product_id)?.updated_at ?? '']);
    const latest = stamps.sort().at(-1);
    assert.equal(summary?.['data_as_of'], latest);
  });

  it('gives the same bytes for the same data and parameters, and a stable file name', async () => {
    const ds = dataset();
    const a = ds.validate({ chemistry: ['NMC', 'LFP'], min_capacity_ah: 3 });
    const b = ds.validate({ min_capacity_ah: 3, chemistry: ['LFP', 'NMC', 'LFP'] });
    assert.deepEqual(a, b);
    assert.equal(ds.fileName(a), ds.fileName(b));
    assert.match(ds.fileName(a), /^battery-report-[0-9a-f]{16}\.jsonl$/);
    assert.notEqual(ds.fileName(a), ds.fileName(ds.validate({ chemistry: 'LFP' })));
    const p1 = out();
    const p2 = out();
    await ds.generate(a, p1);
    await ds.generate(b, p2);
    assert.deepEqual(await readFile(p1), await readFile(p2));
  });

  it('filters on both sides of the join', async () => {
    const ds = dataset();
    const path = out();
    await ds.generate(
      ds.validate({
        chemistry: 'NMC',
        manufacturer: 'MAKITA',
        category: 'power-tool-pack',
        min_cycle_life: 600,
      }),
      path,
    );
    const recs = parseLines(await readFile(path, 'utf8')).filter((l) => l.record === 'battery');
    const productById = new Map(productSeedRows().map((p) => [p.id, p]));
    const expected = batterySeedRows().filter((b) => {
      const p = productById.get(b.product_id);
      return (
        b.chemistry === 'NMC' &&
        b.cycle_life >= 600 &&
        p?.manufacturer === 'Makita' &&
        p.category === 'power-tool-pack'
      );
    });
    assert.ok(expected.length >= 2);
    assert.deepEqual(
      recs.map((r) => r['battery_id']),
      expected.map((b) => b.id),
    );
  });

  it('leaves out batteries whose product is unknown, and lists them', async () => {
    const r = await products.inject({
      method: 'DELETE',
      url: '/products/8',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(r.statusCode, 204);
    const ds = dataset();
    const path = out();
    await ds.generate(ds.validate({ chemistry: 'LTO' }), path);
    const lines = parseLines(await readFile(path, 'utf8'));
    const recs = lines.filter((l) => l.record === 'battery');
    assert.deepEqual(
      recs.map((x) => x['product_id']),
      [17],
    );
    assert.deepEqual(lines.at(-1)?.['missing_product_ids'], [8]);
    assert.equal(lines.at(-1)?.['count'], 1);
  });

  it('refuses bad parameters with ERR_PARAMS naming the parameter', () => {
    const ds = dataset();
    const cases: Array<[unknown, RegExp]> = [
      [{ colour: 'red' }, /unknown parameter "colour"/],
      [{ chemistry: 'LiPo' }, /parameters\.chemistry: must be a chemistry/],
      [{ min_capacity_ah: -1 }, /parameters\.min_capacity_ah: must be ≥ 0, got -1/],
      [
        { min_capacity_ah: 9, max_capacity_ah: 1 },
        /parameters: min_capacity_ah 9 is greater than max_capacity_ah 1/,
      ],
      [{ generated_at: 'yesterday' }, /parameters\.generated_at: must be an ISO-8601 UTC timestamp/],
      [[], /parameters: must be a JSON object/],
    ];
    for (const [params, message] of cases) {
      assert.throws(
        () => ds.validate(params),
        (err: unknown) =>
          err instanceof DatasetError && err.code === 'ERR_PARAMS' && message.test(err.message),
        JSON.stringify(params),
      );
    }
  });

  it('fails with ERR_SOURCE when the products service is unreachable or answers garbage', async () => {
    const down = createBatteryReportDataset({ batteries: bdb.batteries, productsUrl: 'http://127.0.0.1:1' });
    await assert.rejects(
      down.generate({}, out()),
      (err: unknown) => err instanceof DatasetError && err.code === 'ERR_SOURCE',
    );
    // A server that is not the products service: /products answers 404 there.
    const wrong = createBatteryReportDataset({
      batteries: bdb.batteries,
      productsUrl: `${productsUrl}/nope`,
    });
    await assert.rejects(
      wrong.generate({}, out()),
      (err: unknown) =>
        err instanceof DatasetError &&
        err.code === 'ERR_SOURCE' &&
        /HTTP 404 ERR_NOT_FOUND/.test(err.message),
    );
  });

  it('stops with ERR_ABORTED when aborted', async () => {
    const ds = dataset();
    const ac = new AbortController();
    ac.abort();
    const path = out();
    await assert.rejects(
      ds.generate({}, path, { signal: ac.signal }),
      (err: unknown) => err instanceof DatasetError && err.code === 'ERR_ABORTED',
    );
    assert.ok((await stat(path)).size > 0); // the header only; the caller removes its temporary file
  });
});
