/**
 * `POST /reports` and friends at their edges, across real processes (issue 11): a signaling server and
 * `sdrlink products` (and, where it matters, `sdrlink batteries`), each on port 0.
 * - a `provider` the signaling server does not know as one is the client's mistake (404/400), not a 502;
 * - with `--batteries-url`, a batteries service that is down (or serves no reports) is a 503 at once, not
 *   a 502 once the wait for a provider runs out; one that is up serves the report;
 * - `DELETE /reports/{id}` removes a report received over WebRTC from a real batteries provider: its row and
 *   its folder;
 * - an in-memory products instance (`--db :memory:`) keeps received reports in a private temporary folder,
 *   removed when it closes, and writes nothing into its working directory.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { startService, type ServiceProcess } from '../helpers/services.js';

const TOKEN_P = 'products-e2e-token-0123456789';
const TOKEN_B = 'batteries-e2e-token-0123456789';

describe('POST /reports: bad provider, batteries down; DELETE /reports; in-memory products', () => {
  let dir: string;
  let srv: ServerProcess;
  let consumerToken: string;
  let providerToken: string;
  let products: ServiceProcess;
  let batteries: ServiceProcess;
  const started: ServiceProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-reports-edges-'));
    srv = await startServerProcess();
    await registerUser(srv.url, {
      username: 'spectra',
      password: 'provider-pass',
      client_type: 1,
      request_types: ['spectrum'],
    });
    providerToken = (
      await registerUser(srv.url, { username: 'batteries', password: 'provider-pass', client_type: 1 })
    ).token;
    await registerUser(srv.url, { username: 'alice', password: 'consumer-pass', client_type: 2 });
    consumerToken = (
      await registerUser(srv.url, { username: 'products', password: 'consumer-pass', client_type: 2 })
    ).token;
    products = await startService('products', [
      '--db',
      join(dir, 'products.sqlite'),
      '--token',
      TOKEN_P,
      '--server',
      srv.url,
      '--consumer-token',
      consumerToken,
    ]);
    started.push(products);
    batteries = await startService('batteries', [
      '--db',
      join(dir, 'batteries.sqlite'),
      '--token',
      TOKEN_B,
      '--products-url',
      products.url,
      '--server',
      srv.url,
      '--provider-token',
      providerToken,
      '--data-dir',
      join(dir, 'batteries-data'),
    ]);
    started.push(batteries);
  });

  after(async () => {
    await Promise.all(started.map((s) => s.stop()));
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a provider that does not exist is 404, a user who is not a provider 404, one that does not serve reports 400', async () => {
    const cases: Array<[string, number, string]> = [
      ['nobody', 404, 'ERR_PROVIDER_NOT_FOUND'],
      ['999999', 404, 'ERR_PROVIDER_NOT_FOUND'],
      ['alice', 404, 'ERR_PROVIDER_NOT_FOUND'],
      ['spectra', 400, 'ERR_VALIDATION'],
    ];
    for (const [provider, status, code] of cases) {
      const r = await api(products.url, TOKEN_P, 'POST', '/reports', { provider });
      assert.equal(r.status, status, `${provider}: ${JSON.stringify(r.body)}`);
      const e = (r.body as { error: { code: string; message: string } }).error;
      assert.equal(e.code, code, provider);
      assert.ok(e.message.includes(JSON.stringify(provider)), e.message);
    }
    // Nothing was stored.
    const list = await api(products.url, undefined, 'GET', '/reports');
    assert.equal((list.body as { total: number }).total, 0);
  });

  test('DELETE /reports/{id}: 204, then the report and its file are gone; 404 when absent; token needed', async () => {
    const made = await api(products.url, TOKEN_P, 'POST', '/reports', {
      chemistry: 'LFP',
      provider: 'batteries',
    });
    assert.equal(
      made.status,
      201,
      `${JSON.stringify(made.body)}\n${products.stderr()}\n${batteries.stderr()}`,
    );
    const id = (made.body as { id: number }).id;
    const reportsDir = join(dir, 'reports');
    assert.equal((await readdir(reportsDir)).length, 1);

    let r = await api(products.url, undefined, 'DELETE', `/reports/${id}`);
    assert.equal(r.status, 401);
    assert.equal((await api(products.url, undefined, 'GET', `/reports/${id}`)).status, 200);

    r = await api(products.url, TOKEN_P, 'DELETE', `/reports/${id}`);
    assert.equal(r.status, 204, JSON.stringify(r.body));
    assert.deepEqual(await readdir(reportsDir), []);
    r = await api(products.url, undefined, 'GET', `/reports/${id}`);
    assert.equal(r.status, 404);
    assert.equal((await api(products.url, undefined, 'GET', `/reports/${id}/content`)).status, 404);
    assert.equal(
      ((await api(products.url, undefined, 'GET', '/reports')).body as { total: number }).total,
      0,
    );

    r = await api(products.url, TOKEN_P, 'DELETE', `/reports/${id}`);
    assert.equal(r.status, 404);
    assert.equal((r.body as { error: { code: string } }).error.code, 'ERR_NOT_FOUND');
  });

  test('an in-memory products instance keeps reports in a private folder, removed on close', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'sdrlink-products-cwd-'));
    try {
      const args = [
        '--db',
        ':memory:',
        '--token',
        TOKEN_P,
        '--server',
        srv.url,
        '--consumer-token',
        consumerToken,
      ];
      const a = await startService('products', args, { cwd });
      started.push(a);
      const b = await startService('products', args, { cwd });
      started.push(b);
      const dirA = a.line['reports_dir'] as string;
      const dirB = b.line['reports_dir'] as string;
      assert.notEqual(dirA, dirB, 'two in-memory instances share a reports folder');
      for (const d of [dirA, dirB]) assert.ok(!d.startsWith(cwd), `${d} is inside the working directory`);

      const made = await api(a.url, TOKEN_P, 'POST', '/reports', { chemistry: 'NMC', provider: 'batteries' });
      assert.equal(made.status, 201, `${JSON.stringify(made.body)}\n${a.stderr()}`);
      const folders = await readdir(dirA);
      assert.equal(folders.length, 1);
      const file = (made.body as { file_name: string }).file_name;
      assert.ok((await stat(join(dirA, folders[0] ?? '', file))).isFile());
      assert.deepEqual(await readdir(cwd), [], 'the in-memory instance wrote into its working directory');

      assert.equal(await a.stop(), 0);
      assert.equal(await b.stop(), 0);
      await assert.rejects(stat(dirA), { code: 'ENOENT' });
      await assert.rejects(stat(dirB), { code: 'ENOENT' });
      // The report folder was the private folder's `reports/`; the private folder went with it.
      await assert.rejects(stat(join(dirA, '..')), { code: 'ENOENT' });
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('--batteries-url: a batteries service without a provider or down is 503 ERR_UNAVAILABLE naming it', async () => {
    const bare = await startService('batteries', ['--db', ':memory:', '--token', TOKEN_B]);
    started.push(bare);
    const base = [
      '--db',
      ':memory:',
      '--token',
      TOKEN_P,
      '--server',
      srv.url,
      '--consumer-token',
      consumerToken,
    ];
    const p = await startService('products', [...base, '--batteries-url', bare.url]);
    started.push(p);
    const unavailable = async (why: RegExp) => {
      const r = await api(p.url, TOKEN_P, 'POST', '/reports', { chemistry: 'LFP' });
      assert.equal(r.status, 503, JSON.stringify(r.body));
      const e = (r.body as { error: { code: string; message: string } }).error;
      assert.equal(e.code, 'ERR_UNAVAILABLE');
      assert.ok(e.message.includes(new URL(bare.url).href), e.message);
      assert.match(e.message, why);
    };
    await unavailable(/without a provider/);
    assert.equal(await bare.stop(), 0);
    await unavailable(/is down/);
    assert.equal(((await api(p.url, undefined, 'GET', '/reports')).body as { total: number }).total, 0);

    // The same check passes when the batteries service is up with its provider.
    const q = await startService('products', [...base, '--batteries-url', batteries.url]);
    started.push(q);
    const r = await api(q.url, TOKEN_P, 'POST', '/reports', { chemistry: 'LFP' });
    assert.equal(r.status, 201, `${JSON.stringify(r.body)}\n${q.stderr()}`);
  });
});
