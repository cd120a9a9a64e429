import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { bearerAuth, readBearerToken } from './bearer-auth.js';

describe('bearer auth', () => {
  it('reads the token of "Bearer <token>" and says why there is none', () => {
    assert.deepEqual(readBearerToken('Bearer abc.def'), { token: 'abc.def' });
    assert.deepEqual(readBearerToken('bearer  abc'), { token: 'abc' });
    assert.deepEqual(readBearerToken(undefined), { problem: 'missing' });
    assert.deepEqual(readBearerToken(''), { problem: 'missing' });
    assert.deepEqual(readBearerToken('Basic abc'), { problem: 'malformed' });
    assert.deepEqual(readBearerToken('Bearer a b'), { problem: 'malformed' });
  });

  it('admits a verified caller (synchronously or not) and refuses with the given errors', async () => {
    const app = Fastify();
    const hook = bearerAuth<string>({
      missing: () => Object.assign(new Error('missing'), { statusCode: 401 }),
      malformed: () => Object.assign(new Error('malformed'), { statusCode: 401 }),
      verify: (token) => {
        if (token === 'sync') return 'alice';
        if (token === 'async') return Promise.resolve('bob');
        throw Object.assign(new Error('refused'), { statusCode: 403 });
      },
      accept: (request, caller) => {
        request.headers['x-caller'] = caller;
      },
    });
    app.get('/', { onRequest: hook }, async (request) => request.headers['x-caller']);
    try {
      const call = (authorization?: string) =>
        app.inject({
          method: 'GET',
          url: '/',
          headers: authorization === undefined ? {} : { authorization },
        });
      assert.equal((await call('Bearer sync')).body, 'alice');
      assert.equal((await call('Bearer async')).body, 'bob');
      assert.equal((await call('Bearer other')).statusCode, 403);
      assert.match((await call()).body, /missing/);
      assert.match((await call('Token x')).body, /malformed/);
    } finally {
      await app.close();
    }
  });
});
