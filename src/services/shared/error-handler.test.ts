import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServiceApp } from './http-app.js';

describe('service error handler', () => {
  it('answers an unexpected error with 500 ERR_INTERNAL and no detail', async () => {
    const app = createServiceApp('test', {});
    app.get('/boom', async () => {
      throw new Error('secret detail: /etc/passwd');
    });
    try {
      const r = await app.inject({ method: 'GET', url: '/boom' });
      assert.equal(r.statusCode, 500);
      assert.deepEqual(JSON.parse(r.body), { error: { code: 'ERR_INTERNAL', message: 'internal error' } });
      const h = await app.inject({ method: 'GET', url: '/healthz' });
      assert.equal((JSON.parse(h.body) as { service: string }).service, 'test');
    } finally {
      await app.close();
    }
  });
});
