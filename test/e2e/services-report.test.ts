/**
 * The two services of the second seed across real processes: a signaling server, `sdrlink products --tls`
 * (consumer) and `sdrlink batteries` (provider of `battery-report`), each on port 0. The products service
 * asks for a report; it crosses a WebRTC data channel on loopback; the test checks it against a SQL join it
 * computes itself over both SQLite files, opened read-only. A second provider started with
 * SDRLINK_FAULT_CORRUPT_FRAME=1 corrupts a chunk in flight: the report must be refused and nothing stored.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { cliCommand, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';

const TOKEN_P = 'products-e2e-token-0123456789';
const TOKEN_B = 'batteries-e2e-token-0123456789';

interface ServiceProcess {
  url: string;
  proc: ChildProcess;
  events: Array<Record<string, unknown>>;
  /** Resolves with the first JSON line matching `pred`, printed already or to come. */
  waitFor(
    pred: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stderr(): string;
  stop(): Promise<void>;
}

/** Spawns `sdrlink <verb> …` and resolves on its `{"event":"listening"}` line. */
async function startService(
  verb: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<ServiceProcess> {
  const cli = cliCommand();
  const proc = spawn(cli.command, [...cli.args, verb, '--host', '127.0.0.1', '--port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (c: string) => (stderr = (stderr + c).slice(-32_768)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const events: Array<Record<string, unknown>> = [];
  const waiters = new Set<(e: Record<string, unknown>) => void>();
  const waitFor = (pred: (e: Record<string, unknown>) => boolean, timeoutMs = 10_000) => {
    const hit = events.find(pred);
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const t = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`${verb}: no matching line within ${timeoutMs} ms: ${JSON.stringify(events)}`));
      }, timeoutMs);
      const w = (e: Record<string, unknown>) => {
        if (!pred(e)) return;
        clearTimeout(t);
        waiters.delete(w);
        resolve(e);
      };
      waiters.add(w);
    });
  };
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${verb}: no listening line within 20 s\n${stderr}`)),
        20_000,
      );
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${verb} exited before listening\n${stderr}`));
      });
      createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        let e: Record<string, unknown>;
        try {
          e = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        events.push(e);
        for (const w of [...waiters]) w(e);
        if (e['event'] === 'listening' && typeof e['url'] === 'string') {
          clearTimeout(timer);
          resolve(e['url']);
        }
      });
    });
    return { url, proc, events, waitFor, stderr: () => stderr, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One HTTP(S) JSON call; `ca` trusts a self-signed certificate. */
function call(
  base: string,
  method: string,
  path: string,
  opts: { ca?: string; token?: string; body?: unknown } = {},
): Promise<{ status: number; text: string; json: unknown; headers: Record<string, unknown> }> {
  const url = new URL(path, base);
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method, headers, ...(opts.ca !== undefined ? { ca: opts.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The report's battery records, computed independently: one SQL join over both databases. */
const JOIN_SQL = `
  SELECT 'battery' AS record, b.id AS battery_id, b.product_id, p.sku, p.name, p.manufacturer, p.category,
         p.price_cents / 100.0 AS price, b.chemistry, b.form_factor, b.cell_format, b.series_cells,
         b.parallel_cells, b.nominal_voltage_v, b.capacity_ah, b.energy_wh, b.cycle_life, b.max_charge_c,
         b.max_discharge_c, b.mass_kg, b.length_mm, b.width_mm, b.height_mm, b.temp_min_c, b.temp_max_c,
         b.updated_at AS battery_updated_at, p.updated_at AS product_updated_at
  FROM lithium_ion_batteries b JOIN prod.products p ON p.id = b.product_id
  WHERE b.chemistry IN ('LFP', 'NMC') AND b.capacity_ah >= 3
  ORDER BY b.id`;

describe('products and batteries services: a battery report over WebRTC', () => {
  let dir: string;
  let srv: ServerProcess;
  let products: ServiceProcess;
  let batteries: ServiceProcess;
  let ca: string;
  const extra: ServiceProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-services-'));
    srv = await startServerProcess();
    const provider = await registerUser(srv.url, {
      username: 'batteries',
      password: 'provider-pass',
      client_type: 1,
    });
    const consumer = await registerUser(srv.url, {
      username: 'products',
      password: 'consumer-pass',
      client_type: 2,
    });
    products = await startService('products', [
      '--db',
      join(dir, 'products.sqlite'),
      '--tls',
      '--token',
      TOKEN_P,
      '--server',
      srv.url,
      '--consumer-token',
      consumer.token,
      '--report-wait',
      '20000',
    ]);
    ca = await readFile(join(dir, 'products.sqlite.cert.pem'), 'utf8');
    batteries = await startService('batteries', [
      '--db',
      join(dir, 'batteries.sqlite'),
      '--token',
      TOKEN_B,
      '--products-url',
      products.url,
      '--products-ca',
      join(dir, 'products.sqlite.cert.pem'),
      '--server',
      srv.url,
      '--provider-token',
      provider.token,
      '--data-dir',
      join(dir, 'batteries-data'),
    ]);
  });

  after(async () => {
    await Promise.all([products?.stop(), batteries?.stop(), ...extra.map((s) => s.stop())]);
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the received report equals a SQL join over both databases', async () => {
    assert.match(products.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    // Change both sides first, through the APIs: a price, a deleted product, a new product and battery.
    let r = await call(products.url, 'GET', '/products/6', { ca });
    const p6 = r.json as Record<string, unknown>;
    r = await call(products.url, 'PUT', '/products/6', {
      ca,
      token: TOKEN_P,
      body: {
        sku: p6['sku'],
        name: p6['name'],
        manufacturer: p6['manufacturer'],
        category: p6['category'],
        price: 95.5,
      },
    });
    assert.equal(r.status, 200, r.text);
    r = await call(products.url, 'DELETE', '/products/31', { ca, token: TOKEN_P });
    assert.equal(r.status, 204);
    r = await call(products.url, 'POST', '/products', {
      ca,
      token: TOKEN_P,
      body: {
        sku: 'E2E-LFP-24V',
        name: 'E2E 24 V 50 Ah pack',
        manufacturer: 'Test Works',
        category: 'stationary-storage',
        price: 410,
      },
    });
    assert.equal(r.status, 201, r.text);
    const newId = (r.json as { id: number }).id;
    r = await call(batteries.url, 'POST', '/batteries', {
      token: TOKEN_B,
      body: {
        product_id: newId,
        chemistry: 'LFP',
        form_factor: 'pack',
        series_cells: 8,
        parallel_cells: 1,
        nominal_voltage_v: 25.6,
        capacity_ah: 50,
        energy_wh: 1280,
        cycle_life: 4000,
        max_charge_c: 0.5,
        max_discharge_c: 1,
        mass_kg: 12,
        length_mm: 330,
        width_mm: 175,
        height_mm: 220,
        temp_min_c: -10,
        temp_max_c: 50,
      },
    });
    assert.equal(r.status, 201, r.text);

    r = await call(products.url, 'POST', '/reports', {
      ca,
      token: TOKEN_P,
      body: { chemistry: ['NMC', 'LFP'], min_capacity_ah: 3, provider: 'batteries' },
    });
    assert.equal(
      r.status,
      201,
      `${r.text}\nproducts stderr: ${products.stderr().slice(-4000)}\nbatteries stderr: ${batteries.stderr().slice(-4000)}`,
    );
    const meta = r.json as {
      id: number;
      size: number;
      sha256: string;
      transport: string;
      file_name: string;
      params: Record<string, unknown>;
      content_url: string;
    };
    assert.equal(meta.transport, 'p2p', JSON.stringify(batteries.events.filter((e) => e['event'] === 'log')));
    assert.match(meta.file_name, /^battery-report-[0-9a-f]{16}\.jsonl$/);

    const content = await call(products.url, 'GET', meta.content_url, { ca });
    assert.equal(content.status, 200);
    assert.equal(Buffer.byteLength(content.text), meta.size);
    assert.equal(createHash('sha256').update(content.text).digest('hex'), meta.sha256);
    assert.equal(content.headers['x-content-sha256'], meta.sha256);
    // The stored file is the served one.
    const folders = await readdir(join(dir, 'reports'));
    assert.equal(folders.length, 1);
    assert.equal(
      await readFile(join(dir, 'reports', folders[0] ?? '', meta.file_name), 'utf8'),
      content.text,
    );

    // The join, computed here over the two SQLite files (read-only), line for line.
    const db = new Database(join(dir, 'batteries.sqlite'), { readonly: true });
    let rows: Array<Record<string, unknown>>;
    let missing: number[];
    let byChem: Array<{ chemistry: string; n: number; wh: number }>;
    try {
      db.exec(`ATTACH DATABASE '${join(dir, 'products.sqlite').replace(/'/g, "''")}' AS prod`);
      rows = db.prepare(JOIN_SQL).all() as Array<Record<string, unknown>>;
      missing = (
        db
          .prepare(
            `SELECT b.product_id FROM lithium_ion_batteries b LEFT JOIN prod.products p ON p.id = b.product_id
             WHERE p.id IS NULL AND b.chemistry IN ('LFP','NMC') AND b.capacity_ah >= 3 ORDER BY b.id`,
          )
          .all() as Array<{ product_id: number }>
      ).map((x) => x.product_id);
      byChem = db
        .prepare(
          `SELECT b.chemistry, count(*) AS n, sum(b.energy_wh) AS wh FROM lithium_ion_batteries b
           JOIN prod.products p ON p.id = b.product_id
           WHERE b.chemistry IN ('LFP','NMC') AND b.capacity_ah >= 3 GROUP BY b.chemistry ORDER BY b.chemistry`,
        )
        .all() as Array<{ chemistry: string; n: number; wh: number }>;
    } finally {
      db.close();
    }
    assert.ok(rows.length >= 20, `join has ${rows.length} rows`);
    assert.deepEqual(missing, [31]);
    assert.ok(rows.some((x) => x['product_id'] === newId && x['name'] === 'E2E 24 V 50 Ah pack'));
    assert.ok(rows.some((x) => x['product_id'] === 6 && x['price'] === 95.5));

    const lines = content.text.split('\n');
    assert.equal(lines.pop(), '');
    const header = JSON.parse(lines.shift() ?? '') as Record<string, unknown>;
    const summary = JSON.parse(lines.pop() ?? '') as Record<string, unknown>;
    assert.equal(header['record'], 'header');
    assert.equal(header['format'], 'sdrlink.battery-report');
    assert.deepEqual(header['params'], {
      chemistry: ['LFP', 'NMC'],
      generated_at: meta.params['generated_at'],
      min_capacity_ah: 3,
    });
    // Byte for byte: each battery line is the JSON of the join's row.
    assert.deepEqual(
      lines,
      rows.map((row) => JSON.stringify(row)),
    );
    assert.equal(summary['record'], 'summary');
    assert.equal(summary['count'], rows.length);
    assert.deepEqual(summary['missing_product_ids'], missing);
    const reported = summary['by_chemistry'] as Record<string, { count: number; energy_wh: number }>;
    assert.deepEqual(
      Object.keys(reported),
      byChem.map((c) => c.chemistry),
    );
    for (const c of byChem) {
      assert.equal(reported[c.chemistry]?.count, c.n);
      assert.ok(Math.abs((reported[c.chemistry]?.energy_wh ?? 0) - c.wh) < 0.01);
    }

    r = await call(products.url, 'GET', '/reports', { ca });
    assert.equal((r.json as { total: number }).total, 1);
    r = await call(products.url, 'GET', `/reports/${meta.id}`, { ca });
    assert.deepEqual(r.json, meta);
  });

  test('a chunk corrupted in flight is detected and the report refused (502 ERR_FRAME_CRC)', async () => {
    const faulty = await registerUser(srv.url, {
      username: 'batteries-faulty',
      password: 'provider-pass',
      client_type: 1,
    });
    const bad = await startService(
      'batteries',
      [
        '--db',
        join(dir, 'batteries-faulty.sqlite'),
        '--token',
        TOKEN_B,
        '--products-url',
        products.url,
        '--products-ca',
        join(dir, 'products.sqlite.cert.pem'),
        '--server',
        srv.url,
        '--provider-token',
        faulty.token,
        '--data-dir',
        join(dir, 'faulty-data'),
      ],
      { SDRLINK_FAULT_CORRUPT_FRAME: '1' },
    );
    extra.push(bad);
    const before = (await call(products.url, 'GET', '/reports', { ca })).json as { total: number };
    const foldersBefore = await readdir(join(dir, 'reports'));

    const r = await call(products.url, 'POST', '/reports', {
      ca,
      token: TOKEN_P,
      body: { chemistry: 'LFP', provider: 'batteries-faulty' },
    });
    assert.equal(r.status, 502, r.text);
    const error = (r.json as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'ERR_FRAME_CRC', error.message);

    const after = (await call(products.url, 'GET', '/reports', { ca })).json as { total: number };
    assert.equal(after.total, before.total);
    assert.deepEqual(await readdir(join(dir, 'reports')), foldersBefore);
    // The provider saw the consumer refuse it.
    const failed = await bad.waitFor((e) => e['source'] === 'provider' && e['event'] === 'failed');
    // ERR_SESSION_ENDED: the close won the race to the provider, which went to the relay and was told there.
    assert.match(String(failed['code']), /^ERR_(PEER|FRAME_CRC|CHANNEL_CLOSED|SESSION_ENDED)$/);
  });
});
