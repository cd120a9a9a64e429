/**
 * API keys on the server (docs/api.md §1.1): create (the secret once, only its SHA-256 stored), list,
 * revoke; a key authenticates every route as its user; a revoked, expired or unknown key is refused with
 * its code on every route and WebSocket; revoking drops the key's open sockets at once; a push socket is
 * closed when its token expires.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { testApp, type TestApp, type TestUser } from '../../test/helpers/server-app.js';
import { openWs, type WsProbe } from '../../test/helpers/ws-probe.js';

const SID = '00000000-0000-4000-8000-000000000001';

describe('API keys', () => {
  let t: TestApp;
  let clock = Date.now();
  let base: string;
  let p1: TestUser;
  let c1: TestUser;
  const sockets: WsProbe[] = [];

  before(async () => {
    t = await testApp({ now: () => clock });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    p1 = await t.user('p1', 1, ['spectrum']);
    c1 = await t.user('c1', 2);
  });
  after(async () => {
    for (const s of sockets) s.ws.terminate();
    await t.close();
  });

  async function createKey(u: TestUser, body: Record<string, unknown> = { name: 'agent' }) {
    const r = await t.call('POST', '/api/keys', { token: u.token, body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as { id: string; key: string; prefix: string; status: string; expires_at: string | null };
  }

  async function push(token: string): Promise<WsProbe> {
    const p = await openWs(`${base}/api/ws`, { authorization: `Bearer ${token}` });
    sockets.push(p);
    return p;
  }

  it('creates a key shown once, stores only its SHA-256, and lets it act as its user', async () => {
    const k = await createKey(p1, { name: 'radio-1 on host' });
    assert.match(k.key, /^sdrk_\d+_[A-Za-z0-9_-]{43}$/);
    assert.equal(k.prefix, k.key.slice(0, k.prefix.length));
    assert.equal(k.status, 'active');
    assert.equal(k.expires_at, null);
    const row = await t.app.sdrlink.storage.apiKeys.get(Number(k.id));
    const secret = k.key.slice(k.key.indexOf('_', 5) + 1);
    assert.equal(row?.secretSha256, createHash('sha256').update(secret).digest('hex'));
    assert.ok(!JSON.stringify(row).includes(secret), 'the secret is not stored');
    const me = await t.call('GET', '/api/me', { token: k.key });
    assert.equal(me.status, 200);
    assert.equal(me.body.username, 'p1');
    assert.equal(me.body.client_type, 1);
    // the listing never carries a secret, and records the use (written behind the answer: polled)
    let listed: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && (listed === undefined || listed['last_used_at'] === null); i++) {
      await new Promise((r) => setImmediate(r));
      const list = await t.call('GET', '/api/keys', { token: k.key });
      assert.equal(list.status, 200);
      assert.ok(!JSON.stringify(list.body).includes(secret));
      listed = (list.body as Array<Record<string, unknown>>).find((x) => x['id'] === k.id);
    }
    assert.ok(listed !== undefined);
    assert.equal(listed['key'], undefined);
    assert.notEqual(listed['last_used_at'], null);
  });

  it("acts with its user's role: a consumer's key cannot declare request types", async () => {
    const k = await createKey(c1);
    const r = await t.call('PUT', '/api/me/request-types', {
      token: k.key,
      body: { request_types: ['spectrum'] },
    });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'ERR_ROLE');
  });

  it('refuses bad bodies with the field named, and keeps no key', async () => {
    const before = (await t.call('GET', '/api/keys', { token: c1.token })).body.length as number;
    for (const [body, field] of [
      [{}, /body.name/],
      [{ name: '' }, /body.name/],
      [{ name: 'x'.repeat(65) }, /body.name/],
      [{ name: 'ok', expires_in: 0 }, /body.expires_in/],
      [{ name: 'ok', expires_in: '60' }, /body.expires_in/],
      [{ name: 'ok', extra: 1 }, /extra|additional/],
    ] as const) {
      const r = await t.call('POST', '/api/keys', { token: c1.token, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, 'ERR_VALIDATION');
      assert.match(r.body.error.message, field);
    }
    assert.equal((await t.call('GET', '/api/keys', { token: c1.token })).body.length, before);
  });

  it("revokes only the caller's own keys; another user's key is not found", async () => {
    const k = await createKey(p1);
    const other = await t.call('DELETE', `/api/keys/${k.id}`, { token: c1.token });
    assert.equal(other.status, 404);
    assert.equal(other.body.error.code, 'ERR_KEY_NOT_FOUND');
    assert.equal((await t.call('GET', '/api/me', { token: k.key })).status, 200);
    const bad = await t.call('DELETE', '/api/keys/abc', { token: p1.token });
    assert.equal(bad.status, 400);
    const r = await t.call('DELETE', `/api/keys/${k.id}`, { token: p1.token });
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'revoked');
    const again = await t.call('DELETE', `/api/keys/${k.id}`, { token: p1.token });
    assert.equal(again.status, 200);
    assert.equal(again.body.revoked_at, r.body.revoked_at);
  });

  it('refuses a revoked key with ERR_KEY_REVOKED on every authenticated route and WebSocket', async () => {
    const k = await createKey(p1);
    await t.call('DELETE', `/api/keys/${k.id}`, { token: p1.token });
    const doc = await t.call('GET', '/api/openapi.json');
    const routes: Array<[string, string]> = [];
    for (const [path, ops] of Object.entries(doc.body.paths as Record<string, Record<string, unknown>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const security = (op as { security?: unknown[] }).security;
        if (security === undefined || security.length === 0) continue;
        routes.push([method.toUpperCase(), path.replace(/\{[^}]+\}/g, path.includes('keys') ? '1' : SID)]);
      }
    }
    assert.ok(routes.length >= 12, `routes found: ${JSON.stringify(routes)}`);
    for (const [method, url] of routes) {
      if (url === '/api/ws' || url.startsWith('/api/relay/')) {
        const ws = await openWs(`${base}${url}`, { authorization: `Bearer ${k.key}` });
        const c = await ws.closed();
        assert.equal(c.code, 4401, url);
        assert.match(c.reason, /^ERR_KEY_REVOKED: /, url);
        continue;
      }
      const r = await t.call(method, url, {
        token: k.key,
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }),
      });
      assert.equal(r.status, 401, `${method} ${url}`);
      assert.equal(r.body.error.code, 'ERR_KEY_REVOKED', `${method} ${url}`);
    }
  });

  it('refuses an unknown key, a wrong secret and a malformed key with ERR_TOKEN_INVALID', async () => {
    const k = await createKey(p1);
    const wrong = k.key.slice(0, -1) + (k.key.endsWith('A') ? 'B' : 'A');
    for (const token of [wrong, 'sdrk_999999_' + 'A'.repeat(43), 'sdrk_1_short', 'sdrk_']) {
      const r = await t.call('GET', '/api/me', { token });
      assert.equal(r.status, 401, token);
      assert.equal(r.body.error.code, 'ERR_TOKEN_INVALID', token);
    }
  });

  it('refuses an expired key with ERR_TOKEN_EXPIRED', async () => {
    const k = await createKey(c1, { name: 'short', expires_in: 60 });
    assert.ok(k.expires_at !== null);
    assert.equal((await t.call('GET', '/api/me', { token: k.key })).status, 200);
    clock += 61_000;
    const r = await t.call('GET', '/api/me', { token: k.key });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'ERR_TOKEN_EXPIRED');
    const list = await t.call('GET', '/api/keys', { token: c1.token });
    assert.equal(list.body.find((x: { id: string }) => x.id === k.id).status, 'expired');
  });

  it('revoking a key closes its open push socket at once (4401 ERR_KEY_REVOKED), not others', async () => {
    const k = await createKey(p1);
    const other = await createKey(p1);
    const ws = await push(k.key);
    const ws2 = await push(other.key);
    await ws.next((m) => m['type'] === 'hello');
    await ws2.next((m) => m['type'] === 'hello');
    const before = t.app.sdrlink.watch.size;
    await t.call('DELETE', `/api/keys/${k.id}`, { token: p1.token });
    const c = await ws.closed();
    assert.equal(c.code, 4401);
    assert.match(c.reason, /^ERR_KEY_REVOKED: /);
    assert.equal(t.app.sdrlink.watch.size, before - 1);
    ws2.ws.send(JSON.stringify({ type: 'ping', ref: 1 }));
    assert.equal((await ws2.next((m) => m['type'] === 'pong'))['ref'], 1);
  });
  it('revoking a key closes its relay socket too (4401 ERR_KEY_REVOKED)', async () => {
    const k = await createKey(c1, { name: 'relay' });
    const init = await t.call('POST', '/api/ice/initiate', {
      token: k.key,
      body: { request_type: 'spectrum', parameters: '{}' },
    });
    assert.equal(init.status, 201, JSON.stringify(init.body));
    const watched = t.app.sdrlink.watch.size;
    const relay = await openWs(`${base}/api/relay/${init.body.session_id}`, {
      authorization: `Bearer ${k.key}`,
    });
    sockets.push(relay);
    for (let i = 0; i < 200 && t.app.sdrlink.watch.size === watched; i++)
      await new Promise((r) => setTimeout(r, 5));
    assert.equal(t.app.sdrlink.watch.size, watched + 1, 'the relay socket is watched');
    await t.call('DELETE', `/api/keys/${k.id}`, { token: c1.token });
    const c = await relay.closed();
    assert.equal(c.code, 4401);
    assert.match(c.reason, /^ERR_KEY_REVOKED: /);
  });
});

describe('a push socket on a token that expires', () => {
  let t: TestApp;
  after(async () => {
    await t?.close();
  });

  it('is closed 4401 ERR_TOKEN_EXPIRED when the token expires', async () => {
    t = await testApp({ tokenTtlS: 1 });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const u = await t.user('p9', 1);
    const ws = await openWs(`ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/api/ws`, {
      authorization: `Bearer ${u.token}`,
    });
    try {
      await ws.next((m) => m['type'] === 'hello');
      const c = await ws.closed(10_000);
      assert.equal(c.code, 4401);
      assert.match(c.reason, /^ERR_TOKEN_EXPIRED: token expired/);
    } finally {
      ws.ws.terminate();
    }
  });
});
