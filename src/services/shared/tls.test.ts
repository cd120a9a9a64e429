import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProductsApp } from '../products/app.js';
import { getJson } from './http-client.js';
import { ensureSelfSignedCert } from './tls.js';
import { ServiceError } from './errors.js';

describe('--tls: self-signed certificate beside the database', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-tls-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is generated at first start (key 0600), reused afterwards, and HTTPS trusting it succeeds', async () => {
    const base = join(dir, 'products.sqlite');
    const first = await ensureSelfSignedCert(base, ['127.0.0.1']);
    assert.equal(first.created, true);
    assert.equal(first.certPath, `${base}.cert.pem`);
    assert.equal((await stat(first.keyPath)).mode & 0o777, 0o600);
    assert.match(first.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const again = await ensureSelfSignedCert(base);
    assert.equal(again.created, false);
    assert.equal(again.fingerprint256, first.fingerprint256);

    const app = await buildProductsApp({ db: ':memory:', token: 't'.repeat(32), tls: first });
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ok = await getJson(new URL('/products/1', url), { ca: first.cert });
      assert.equal(ok.status, 200);
      assert.equal((ok.body as { id: number }).id, 1);
      const viaName = await getJson(new URL(url.replace('127.0.0.1', 'localhost') + '/healthz'), {
        ca: first.cert,
      });
      assert.equal(viaName.status, 200);
      // Without the certificate as CA the client refuses the server.
      await assert.rejects(getJson(new URL('/products/1', url)), /self-signed certificate/);
    } finally {
      await app.close();
    }
  });

  it('refuses a damaged certificate file with ERR_TLS', async () => {
    const base = join(dir, 'broken.sqlite');
    await writeFile(`${base}.cert.pem`, 'not a certificate');
    await writeFile(`${base}.key.pem`, 'not a key', { mode: 0o600 });
    await assert.rejects(
      ensureSelfSignedCert(base),
      (err: unknown) => err instanceof ServiceError && err.code === 'ERR_TLS',
    );
  });
});
