/**
 * The browser client's routes (src/server/routes/web.ts, docs/api.md §13) and the browser's way to
 * authenticate a WebSocket (§5: the `sdrlink-bearer` subprotocol), in process.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import WebSocket from 'ws';
import { testApp, type TestApp, type TestUser } from '../../test/helpers/server-app.js';
import { WS_BEARER_PROTOCOL } from '../wire/push.js';
import { WEB_CSP, registerWebRoutes } from './routes/web.js';

describe('the web client routes', () => {
  let t: TestApp;
  before(async () => (t = await testApp()));
  after(() => t.close());

  it('serves the built page at / and each asset with the CSP and nosniff', async () => {
    for (const [url, type] of [
      ['/', 'text/html'],
      ['/app.js', 'text/javascript'],
      ['/style.css', 'text/css'],
      ['/app.css', 'text/css'],
    ] as const) {
      const r = await t.call('GET', url);
      assert.equal(r.status, 200, url);
      assert.match(String(r.headers['content-type']), new RegExp(`^${type}`), url);
      assert.equal(r.headers['content-security-policy'], WEB_CSP, url);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    }
    assert.match(WEB_CSP, /^default-src 'self'; script-src 'self';/);
    assert.doesNotMatch(WEB_CSP, /unsafe|\*/);
    const page = await t.app.inject({ method: 'GET', url: '/' });
    assert.match(page.body, /<script type="module" src="\/app\.js"><\/script>/);
    assert.doesNotMatch(page.body, /<script>|<style>| style=| on[a-z]+=/, 'nothing inline');
  });

  it('says whether registration is open', async () => {
    assert.deepEqual((await t.call('GET', '/app-config.json')).body, { registration: 'open' });
    const closed = await testApp({ registration: false });
    try {
      assert.deepEqual((await closed.call('GET', '/app-config.json')).body, { registration: 'closed' });
    } finally {
      await closed.close();
    }
  });

  it('serves nothing but the built files, and keeps them out of the OpenAPI document', async () => {
    for (const url of ['/../package.json', '/app.ts', '/index.html/x', '/%2e%2e/README.md']) {
      const r = await t.call('GET', url);
      assert.equal(r.status, 404, url);
      assert.equal(r.body.error.code, 'ERR_NOT_FOUND');
    }
    const doc = (await t.call('GET', '/api/openapi.json')).body as { paths: Record<string, unknown> };
    assert.equal(doc.paths['/'], undefined);
  });

  it('answers 404 saying so when the client is not built, and serves only plain file names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sdrlink-web-'));
    const app = Fastify();
    try {
      await writeFile(join(dir, 'notes.exe'), 'x');
      await writeFile(join(dir, 'a.css'), 'p {}');
      registerWebRoutes(app, { registration: false, root: join(dir, 'missing') });
      const r = await app.inject({ method: 'GET', url: '/' });
      assert.equal(r.statusCode, 404);
      assert.match(r.body, /ERR_NOT_FOUND.*not built/);
      const other = Fastify();
      registerWebRoutes(other, { registration: false, root: dir });
      const exe = await other.inject({ method: 'GET', url: '/notes.exe' });
      assert.equal(exe.statusCode, 404, 'an unknown kind of file is not served');
      assert.equal((await other.inject({ method: 'GET', url: '/a.css' })).statusCode, 200);
      const index = await other.inject({ method: 'GET', url: '/' });
      assert.match(index.body, /no file \/index\.html/);
      await other.close();
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a WebSocket token offered as the sdrlink-bearer subprotocol', () => {
  let t: TestApp;
  let url: string;
  let alice: TestUser;
  before(async () => {
    t = await testApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    url = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    alice = await t.user('alice', 2);
  });
  after(() => t.close());

  function open(path: string, protocols: string[]) {
    const ws = new WebSocket(url + path, protocols);
    return new Promise<{ protocol: string; first?: unknown; close?: { code: number; reason: string } }>(
      (resolve) => {
        ws.on('message', (d) => {
          resolve({ protocol: ws.protocol, first: JSON.parse(String(d)) });
          ws.close();
        });
        ws.on('close', (code, reason) =>
          resolve({ protocol: ws.protocol, close: { code, reason: String(reason) } }),
        );
        ws.on('error', () => undefined);
      },
    );
  }

  it('authenticates the push channel, and the server names the protocol, never the token', async () => {
    const r = await open('/api/ws', [WS_BEARER_PROTOCOL, alice.token]);
    assert.equal(r.protocol, WS_BEARER_PROTOCOL);
    assert.deepEqual(r.first, { type: 'hello', user_id: alice.id, client_type: 2 });
  });

  it('refuses a bad token, or the protocol without one, with 4401', async () => {
    const bad = await open('/api/ws', [WS_BEARER_PROTOCOL, 'not.a.token']);
    assert.equal(bad.close?.code, 4401);
    assert.match(bad.close?.reason ?? '', /^ERR_TOKEN_INVALID/);
    const none = await open('/api/ws', [WS_BEARER_PROTOCOL]);
    assert.equal(none.close?.code, 4401);
    assert.match(none.close?.reason ?? '', /^ERR_TOKEN_MISSING/);
  });

  it('authenticates a relay join the same way', async () => {
    const r = await open('/api/relay/00000000-0000-4000-8000-000000000000', [
      WS_BEARER_PROTOCOL,
      alice.token,
    ]);
    assert.equal(r.close?.code, 4404, 'past the token: the session is unknown');
  });
});
