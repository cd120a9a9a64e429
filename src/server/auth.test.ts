/**
 * Auth routes and the token hook, in process (docs/api.md §1): register, login, rate limiting, and every
 * way a token can be wrong (missing, malformed, forged, `alg: none`, expired).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { TEST_PASSWORD, testApp, type TestApp } from '../../test/helpers/server-app.js';

describe('auth: register and login', () => {
  let t: TestApp;
  before(async () => {
    t = await testApp({ login: { maxFailures: 3, windowMs: 60_000 } });
  });
  after(() => t.close());

  it('registers (201) with the user id as a string, and logs in (200) with a token', async () => {
    const reg = await t.call('POST', '/api/auth/register', {
      body: { username: 'alice', password: TEST_PASSWORD, client_type: 2 },
    });
    assert.equal(reg.status, 201);
    assert.deepEqual(reg.body, {
      user_id: reg.body.user_id,
      username: 'alice',
      client_type: 2,
      request_types: [],
    });
    assert.equal(typeof reg.body.user_id, 'string');
    const login = await t.call('POST', '/api/auth/login', {
      body: { username: 'alice', password: TEST_PASSWORD },
    });
    assert.equal(login.status, 200);
    assert.equal(login.body.user_id, reg.body.user_id);
    assert.equal(login.body.client_type, 2);
    assert.match(login.body.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(Date.parse(login.body.expires_at) > Date.now());
    const me = await t.call('GET', '/api/me', { token: login.body.token });
    assert.equal(me.status, 200);
    assert.equal(me.body.username, 'alice');
  });

  it('accepts client_type as "1" and a provider’s request types', async () => {
    const reg = await t.call('POST', '/api/auth/register', {
      body: {
        username: 'prov',
        password: TEST_PASSWORD,
        client_type: '1',
        request_types: ['spectrum', 'iq-capture'],
      },
    });
    assert.equal(reg.status, 201);
    assert.equal(reg.body.client_type, 1);
    assert.deepEqual(reg.body.request_types, ['spectrum', 'iq-capture']);
  });

  it('answers 409 ERR_USERNAME_TAKEN for a taken name, and stores nothing', async () => {
    const r = await t.call('POST', '/api/auth/register', {
      body: { username: 'alice', password: 'another password', client_type: 1 },
    });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'ERR_USERNAME_TAKEN');
    const login = await t.call('POST', '/api/auth/login', {
      body: { username: 'alice', password: TEST_PASSWORD },
    });
    assert.equal(login.body.client_type, 2, 'the first alice is untouched');
  });

  const bad: Array<[string, unknown, string]> = [
    ['missing field', { username: 'bob', client_type: 1 }, 'body.password is required'],
    ['wrong type', { username: 'bob', password: 12345678, client_type: 1 }, 'body.password must be a string'],
    [
      'bad client_type',
      { username: 'bob', password: TEST_PASSWORD, client_type: 3 },
      'body.client_type must be 1 or 2',
    ],
    [
      'short password',
      { username: 'bob', password: 'short', client_type: 1 },
      'body.password must be at least 8 characters long',
    ],
    [
      'bad username',
      { username: "bob'; --", password: TEST_PASSWORD, client_type: 1 },
      'body.username must start with a letter',
    ],
    [
      'numeric username',
      { username: '42', password: TEST_PASSWORD, client_type: 1 },
      'body.username must start with a letter',
    ],
    [
      'bad request type',
      { username: 'bob', password: TEST_PASSWORD, client_type: 1, request_types: ['Spectrum!'] },
      'body.request_types[0] must be a request type',
    ],
    [
      'consumer with request types',
      { username: 'bob', password: TEST_PASSWORD, client_type: 2, request_types: ['spectrum'] },
      'body.request_types is for providers',
    ],
    ['not an object', [1, 2], 'body must be a JSON object'],
  ];
  for (const [name, body, message] of bad) {
    it(`refuses a registration with ${name}: 400 ERR_VALIDATION naming the field`, async () => {
      const r = await t.call('POST', '/api/auth/register', {
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.code, 'ERR_VALIDATION');
      assert.ok(r.body.error.message.startsWith(message), `${r.body.error.message} starts with ${message}`);
    });
  }

  it('answers 400 ERR_JSON for malformed JSON, 413 for an oversized body, 415 for another media type', async () => {
    const r = await t.call('POST', '/api/auth/register', {
      body: '{"username": "x",',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'ERR_JSON');
    assert.match(r.body.error.message, /^request body is not valid JSON: /);
    const big = JSON.stringify({ username: 'big', password: 'x'.repeat(300 * 1024), client_type: 1 });
    const r2 = await t.call('POST', '/api/auth/register', {
      body: big,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r2.status, 413);
    assert.equal(r2.body.error.code, 'ERR_BODY_TOO_LARGE');
    const r3 = await t.call('POST', '/api/auth/login', {
      body: 'username=a',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(r3.status, 415);
    assert.equal(r3.body.error.code, 'ERR_MEDIA_TYPE');
    const r4 = await t.call('POST', '/api/auth/register', {
      body: '{"__proto__":{"x":1},"username":"p","password":"12345678","client_type":1}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r4.status, 400);
    assert.equal(r4.body.error.code, 'ERR_JSON');
  });

  it('answers 401 ERR_CREDENTIALS for a wrong password or an unknown user', async () => {
    const r = await t.call('POST', '/api/auth/login', {
      body: { username: 'prov', password: 'wrong password' },
    });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_CREDENTIALS');
    const r2 = await t.call('POST', '/api/auth/login', {
      body: { username: "nobody' OR '1'='1", password: 'x' },
    });
    assert.equal(r2.status, 401);
    assert.equal(r2.body.error.code, 'ERR_CREDENTIALS');
  });

  it('rate-limits failed logins per user and address: 429 with Retry-After, even for the right password', async () => {
    await t.user('carol', 2);
    for (let i = 0; i < 3; i++) {
      const r = await t.call('POST', '/api/auth/login', {
        body: { username: 'carol', password: `wrong-${i}` },
      });
      assert.equal(r.status, 401);
    }
    const limited = await t.call('POST', '/api/auth/login', {
      body: { username: 'carol', password: TEST_PASSWORD },
    });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'ERR_RATE_LIMITED');
    const retry = Number(limited.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    const other = await t.call('POST', '/api/auth/login', {
      body: { username: 'alice', password: TEST_PASSWORD },
    });
    assert.equal(other.status, 200, 'another user is not limited');
  });
});

describe('auth: registration closed', () => {
  it('answers 403 ERR_REGISTRATION_CLOSED', async () => {
    const t = await testApp({ registration: false });
    try {
      const r = await t.call('POST', '/api/auth/register', {
        body: { username: 'x', password: TEST_PASSWORD, client_type: 1 },
      });
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'ERR_REGISTRATION_CLOSED');
    } finally {
      await t.close();
    }
  });
});

describe('auth: tokens', () => {
  let t: TestApp;
  let clock = Date.now();
  let token: string;
  before(async () => {
    t = await testApp({ tokenTtlS: 60, now: () => clock });
    token = (await t.user('dave', 2)).token;
  });
  after(() => t.close());

  const routes: Array<[string, string]> = [
    ['GET', '/api/me'],
    ['GET', '/api/ice/sessions'],
    ['POST', '/api/ice/initiate'],
    ['GET', '/api/transfers'],
    ['GET', '/api/ice/config'],
  ];
  for (const [method, url] of routes) {
    it(`${method} ${url} without a token: 401 ERR_TOKEN_MISSING (before the body is looked at)`, async () => {
      const r = await t.call(
        method,
        url,
        method === 'POST' ? { body: '{bad json', headers: { 'content-type': 'application/json' } } : {},
      );
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'ERR_TOKEN_MISSING');
    });
  }

  it('refuses a malformed header, a non-JWT, a forged signature and alg none with ERR_TOKEN_INVALID', async () => {
    const cases: Array<[string, RegExp]> = [
      [`Basic ${Buffer.from('dave:x').toString('base64')}`, /Bearer/],
      ['Bearer not-a-jwt', /not a JWT/],
      [`Bearer ${token.slice(0, -4)}AAAA`, /signature/],
      [
        `Bearer ${await new SignJWT({ ctype: 2 })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('1')
          .setIssuer('sdrlink')
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode('x'.repeat(32)))}`,
        /signature/,
      ],
      [
        `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: '1', ctype: 2, iss: 'sdrlink', exp: Math.floor(clock / 1000) + 60 })}.`,
        /./,
      ],
    ];
    for (const [header, message] of cases) {
      const r = await t.call('GET', '/api/me', { headers: { authorization: header } });
      assert.equal(r.status, 401, header);
      assert.equal(r.body.error.code, 'ERR_TOKEN_INVALID', header);
      assert.match(r.body.error.message, message);
    }
  });

  it('refuses a token for a user that does not exist', async () => {
    const forged = await t.app.sdrlink.tokens.issue(999, 2);
    const r = await t.call('GET', '/api/me', { token: forged.token });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_TOKEN_INVALID');
  });

  it('refuses an expired token with ERR_TOKEN_EXPIRED (also once cached)', async () => {
    assert.equal((await t.call('GET', '/api/me', { token })).status, 200);
    clock += 61_000;
    const r = await t.call('GET', '/api/me', { token });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_TOKEN_EXPIRED');
  });
});

function b64(o: object): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}
