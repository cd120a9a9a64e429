import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { testApp, type TestApp, type TestUser } from '../../test/helpers/server-app.js';
import { isOriginAllowed } from './origin.js';

const PAGE = 'http://127.0.0.1:5173';
const OTHER = 'https://evil.example';

/** Opens a WebSocket and resolves with how the handshake ended: `open`, or the HTTP status and body. */
async function handshake(
  url: string,
  headers: Record<string, string>,
): Promise<{ open: true; ws: WebSocket } | { open: false; status: number; body: any }> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ open: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ open: false, status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('error', reject);
  });
}

describe('isOriginAllowed', () => {
  const own = { protocol: 'http', host: '127.0.0.1:8080' };
  it('passes requests without Origin, the server’s own origin, listed origins, and anything under *', () => {
    assert.equal(isOriginAllowed(undefined, [], own), true);
    assert.equal(isOriginAllowed('http://127.0.0.1:8080', [], own), true);
    assert.equal(isOriginAllowed(PAGE, [PAGE], own), true);
    assert.equal(isOriginAllowed(OTHER, ['*'], own), true);
  });
  it('refuses another origin, another scheme or port of the server’s host, and the opaque origin', () => {
    assert.equal(isOriginAllowed(OTHER, [PAGE], own), false);
    assert.equal(isOriginAllowed('https://127.0.0.1:8080', [], own), false);
    assert.equal(isOriginAllowed('http://127.0.0.1:8081', [], own), false);
    assert.equal(isOriginAllowed('null', [PAGE], own), false);
  });
});

describe('CORS with --cors-origin', () => {
  let t: TestApp;
  let consumer: TestUser;
  before(async () => {
    t = await testApp({ corsOrigins: [PAGE] });
    consumer = await t.user('cors-consumer', 2);
  });
  after(() => t.close());

  it('answers a listed origin’s preflight (204) before any token, without credentials', async () => {
    const r = await t.call('OPTIONS', '/api/ice/initiate', {
      headers: {
        origin: PAGE,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-origin'], PAGE);
    assert.equal(r.headers['access-control-allow-methods'], 'GET, HEAD, POST, PUT');
    assert.equal(r.headers['access-control-allow-headers'], 'authorization, content-type');
    assert.equal(r.headers['access-control-max-age'], '600');
    assert.match(String(r.headers['vary']), /Origin/);
    assert.equal(r.headers['access-control-allow-credentials'], undefined);
  });

  it('lets the listed origin read answers and errors alike, Retry-After included', async () => {
    const ok = await t.call('POST', '/api/ice/initiate', {
      token: consumer.token,
      headers: { origin: PAGE },
      body: { request_type: 'spectrum', parameters: '{}' },
    });
    assert.equal(ok.status, 201);
    assert.equal(ok.headers['access-control-allow-origin'], PAGE);
    assert.equal(ok.headers['access-control-expose-headers'], 'retry-after');
    const refused = await t.call('GET', '/api/me', { headers: { origin: PAGE } });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'ERR_TOKEN_MISSING');
    assert.equal(refused.headers['access-control-allow-origin'], PAGE);
    const missing = await t.call('GET', '/api/nothing', { headers: { origin: PAGE } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['access-control-allow-origin'], PAGE);
  });

  it('grants nothing to an origin not listed (the browser then blocks the page)', async () => {
    const pre = await t.call('OPTIONS', '/api/ice/initiate', {
      headers: { origin: OTHER, 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    const r = await t.call('GET', '/api/me', { token: consumer.token, headers: { origin: OTHER } });
    assert.equal(r.status, 200, 'CORS is the browser’s to enforce; the server answers as usual');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
  });

  it('allows any origin with *, still without credentials', async () => {
    const any = await testApp({ corsOrigins: ['*'] });
    try {
      const r = await any.call('OPTIONS', '/api/auth/login', {
        headers: { origin: OTHER, 'access-control-request-method': 'POST' },
      });
      assert.equal(r.status, 204);
      assert.equal(r.headers['access-control-allow-origin'], '*');
      assert.equal(r.headers['access-control-allow-credentials'], undefined);
    } finally {
      await any.close();
    }
  });
});

describe('CORS without --cors-origin (the default)', () => {
  it('answers no preflight (404, as before) and grants no origin', async () => {
    const t = await testApp();
    try {
      const pre = await t.call('OPTIONS', '/api/ice/initiate', {
        headers: { origin: PAGE, 'access-control-request-method': 'POST' },
      });
      assert.equal(pre.status, 404);
      assert.equal(pre.body.error.code, 'ERR_NOT_FOUND');
      assert.equal(pre.headers['access-control-allow-origin'], undefined);
    } finally {
      await t.close();
    }
  });
});

describe('WebSocket Origin check', () => {
  for (const corsOrigins of [[PAGE], []]) {
    describe(corsOrigins.length === 0 ? 'no --cors-origin' : '--cors-origin ' + PAGE, () => {
      let t: TestApp;
      let base: string;
      let token: string;
      before(async () => {
        t = await testApp({ corsOrigins });
        token = (await t.user('ws-origin', 2)).token;
        await t.app.listen({ host: '127.0.0.1', port: 0 });
        base = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
      });
      after(() => t.close());

      it('refuses a page of another origin with 403 ERR_ORIGIN before the upgrade, on push and relay', async () => {
        const refused = corsOrigins.length === 0 ? [PAGE, OTHER] : [OTHER];
        for (const origin of refused) {
          for (const path of [
            `/api/ws?token=${token}`,
            `/api/relay/00000000-0000-4000-8000-000000000000?token=${token}`,
          ]) {
            const r = await handshake(base + path, { origin });
            assert.equal(r.open, false, `${origin} ${path}`);
            if (r.open) continue;
            assert.equal(r.status, 403);
            assert.equal(r.body.error.code, 'ERR_ORIGIN');
            assert.match(r.body.error.message, /^origin "[^"]+" may not open this WebSocket/);
          }
        }
      });

      it('admits clients without Origin (agents), the server’s own origin, and listed origins', async () => {
        const own = base.replace(/^ws/, 'http');
        const admitted: Array<Record<string, string>> = [{}, { origin: own }];
        if (corsOrigins.length > 0) admitted.push({ origin: PAGE });
        for (const headers of admitted) {
          const r = await handshake(`${base}/api/ws?token=${token}`, headers);
          assert.equal(r.open, true, JSON.stringify(headers));
          if (r.open) r.ws.terminate();
        }
      });
    });
  }
});
