/**
 * Every error class, per route family, against the real server process over real HTTP and WebSockets
 * (the in-process tests in src/server/*.test.ts go through the many variants): 400, 401, 403, 404, 409,
 * 413, 415, 429 and the WebSocket close codes — and a refused request changes no row. Also the claim race
 * between two providers over real HTTP.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { api, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';

const OFFER = JSON.stringify({ type: 'offer', sdp: 'v=0\r\n' });
const CAND = JSON.stringify({
  candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host',
  sdpMid: '0',
  sdpMLineIndex: 0,
});
const PASSWORD = 'error classes 1';

type U = { token: string; user_id: string };

function code(r: { body: unknown }): string {
  return (r.body as { error?: { code?: string } }).error?.code ?? `no error body: ${JSON.stringify(r.body)}`;
}

function wsClose(url: string, token?: string): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(
      url,
      token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
    );
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${url}: not closed`));
    }, 5000);
    ws.on('error', () => undefined);
    ws.on('close', (c, r) => {
      clearTimeout(timer);
      resolve({ code: c, reason: r.toString() });
    });
  });
}

describe('error classes against the server process', () => {
  let srv: ServerProcess;
  let p1: U;
  let p2: U;
  let c1: U;
  let c2: U;

  before(async () => {
    srv = await startServerProcess({ env: { SDRLINK_LOGIN_MAX_FAILURES: '3' } });
    p1 = await registerUser(srv.url, { username: 'p1', password: PASSWORD, client_type: 1 });
    p2 = await registerUser(srv.url, { username: 'p2', password: PASSWORD, client_type: 1 });
    c1 = await registerUser(srv.url, { username: 'c1', password: PASSWORD, client_type: 2 });
    c2 = await registerUser(srv.url, { username: 'c2', password: PASSWORD, client_type: 2 });
  });
  after(() => srv.stop());

  async function session(): Promise<string> {
    const r = await api(srv.url, c1.token, 'POST', '/api/ice/initiate', {
      request_type: 'spectrum',
      parameters: '{}',
    });
    assert.equal(r.status, 201);
    return (r.body as { session_id: string }).session_id;
  }

  it('auth routes: 400, 409, 413, 415, 401, 429', async () => {
    const cases: Array<[unknown, number, string]> = [
      ['{"username":', 400, 'ERR_JSON'],
      [{ username: 'x1', password: PASSWORD }, 400, 'ERR_VALIDATION'],
      [{ username: 'x1', password: PASSWORD, client_type: 'two' }, 400, 'ERR_VALIDATION'],
      [{ username: 'p1', password: PASSWORD, client_type: 1 }, 409, 'ERR_USERNAME_TAKEN'],
      [
        JSON.stringify({ username: 'x2', password: 'p'.repeat(300_000), client_type: 1 }),
        413,
        'ERR_BODY_TOO_LARGE',
      ],
    ];
    for (const [body, status, c] of cases) {
      const r = await api(srv.url, undefined, 'POST', '/api/auth/register', body);
      assert.equal(r.status, status, JSON.stringify(body).slice(0, 60));
      assert.equal(code(r), c);
    }
    const form = await fetch(`${srv.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    assert.equal(form.status, 415);
    for (let i = 0; i < 3; i++) {
      const r = await api(srv.url, undefined, 'POST', '/api/auth/login', {
        username: 'c2',
        password: `nope ${i}`,
      });
      assert.equal(r.status, 401);
      assert.equal(code(r), 'ERR_CREDENTIALS');
    }
    const limited = await api(srv.url, undefined, 'POST', '/api/auth/login', {
      username: 'c2',
      password: PASSWORD,
    });
    assert.equal(limited.status, 429);
    assert.equal(code(limited), 'ERR_RATE_LIMITED');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });

  it('tokens: 401 missing, malformed, forged, expired on every route family', async () => {
    const forged = `${c1.token.split('.').slice(0, 2).join('.')}.${'A'.repeat(43)}`;
    for (const path of [
      '/api/me',
      '/api/ice/sessions',
      `/api/ice/signals/${randomUUID()}`,
      '/api/transfers',
      '/api/ice/config',
    ]) {
      const missing = await api(srv.url, undefined, 'GET', path);
      assert.equal(missing.status, 401, path);
      assert.equal(code(missing), 'ERR_TOKEN_MISSING');
      const bad = await api(srv.url, forged, 'GET', path);
      assert.equal(bad.status, 401, path);
      assert.equal(code(bad), 'ERR_TOKEN_INVALID');
    }
    const expired = await startServerProcess({ args: ['--token-ttl', '1'] });
    try {
      const u = await registerUser(expired.url, { username: 'brief', password: PASSWORD, client_type: 2 });
      await new Promise((r) => setTimeout(r, 2100));
      const r = await api(expired.url, u.token, 'GET', '/api/me');
      assert.equal(r.status, 401);
      assert.equal(code(r), 'ERR_TOKEN_EXPIRED');
    } finally {
      await expired.stop();
    }
  });

  it('ICE routes: 400, 403, 404, 409 — and a refused request changes no row', async () => {
    const sid = await session();
    const bad = await api(srv.url, c1.token, 'POST', '/api/ice/initiate', {
      request_type: 'weather',
      parameters: '{}',
    });
    assert.equal(bad.status, 400);
    assert.equal(code(bad), 'ERR_REQUEST_TYPE');
    const wrongType = await api(srv.url, p1.token, 'POST', '/api/ice/signal', {
      session_id: sid,
      signal_type: 'offer',
      signal_data: 7,
    });
    assert.equal(wrongType.status, 400);
    const consumerOffer = await api(srv.url, c1.token, 'POST', '/api/ice/signal', {
      session_id: sid,
      signal_type: 'offer',
      signal_data: OFFER,
    });
    assert.equal(consumerOffer.status, 403);
    assert.equal(code(consumerOffer), 'ERR_ROLE');
    const providerInitiates = await api(srv.url, p1.token, 'POST', '/api/ice/initiate', {
      request_type: 'spectrum',
      parameters: '{}',
    });
    assert.equal(providerInitiates.status, 403);
    const unknown = await api(srv.url, p1.token, 'POST', '/api/ice/signal', {
      session_id: randomUUID(),
      signal_type: 'offer',
      signal_data: OFFER,
    });
    assert.equal(unknown.status, 404);
    assert.equal(code(unknown), 'ERR_SESSION_NOT_FOUND');
    const early = await api(srv.url, c1.token, 'POST', '/api/ice/signal', {
      session_id: sid,
      signal_type: 'answer',
      signal_data: '{"type":"answer","sdp":"x"}',
    });
    assert.equal(early.status, 409);
    assert.equal(code(early), 'ERR_SESSION_STATE');
    // nothing of the above was stored: the session is still open to both providers, with no signal
    const detail = await api(srv.url, c1.token, 'GET', `/api/ice/sessions/${sid}`);
    assert.equal((detail.body as { status: string }).status, 'pending');
    assert.deepEqual((detail.body as { history: unknown[] }).history.length, 1);
    assert.deepEqual((await api(srv.url, c1.token, 'GET', `/api/ice/signals/${sid}`)).body, []);

    assert.equal(
      (
        await api(srv.url, p1.token, 'POST', '/api/ice/signal', {
          session_id: sid,
          signal_type: 'offer',
          signal_data: OFFER,
        })
      ).status,
      200,
    );
    const stranger = await api(srv.url, c2.token, 'GET', `/api/ice/signals/${sid}`);
    assert.equal(stranger.status, 403);
    assert.equal(code(stranger), 'ERR_FORBIDDEN');
    const strangerPost = await api(srv.url, c2.token, 'POST', '/api/ice/signal', {
      session_id: sid,
      signal_type: 'candidate',
      signal_data: CAND,
    });
    assert.equal(strangerPost.status, 403);
    assert.equal(
      (await api(srv.url, c1.token, 'GET', `/api/ice/signals/${sid}`)).body instanceof Array,
      true,
    );
    assert.equal(
      ((await api(srv.url, c1.token, 'GET', `/api/ice/signals/${sid}`)).body as unknown[]).length,
      1,
    );
  });

  it('the claim race: two providers offer at once, exactly one wins, the other gets 409', async () => {
    for (let i = 0; i < 10; i++) {
      const sid = await session();
      const [a, b] = await Promise.all([
        api(srv.url, p1.token, 'POST', '/api/ice/signal', {
          session_id: sid,
          signal_type: 'offer',
          signal_data: OFFER,
        }),
        api(srv.url, p2.token, 'POST', '/api/ice/signal', {
          session_id: sid,
          signal_type: 'offer',
          signal_data: OFFER,
        }),
      ]);
      assert.deepEqual(
        [a.status, b.status].sort((x, y) => x - y),
        [200, 409],
      );
      assert.equal(code(a.status === 409 ? a : b), 'ERR_SESSION_CLAIMED');
      const winner = a.status === 200 ? p1 : p2;
      const s = (await api(srv.url, c1.token, 'GET', `/api/ice/sessions/${sid}`)).body as {
        target_user_id: string;
        status: string;
      };
      assert.equal(s.target_user_id, winner.user_id);
      assert.equal(s.status, 'offered');
      assert.equal(
        ((await api(srv.url, c1.token, 'GET', `/api/ice/signals/${sid}`)).body as unknown[]).length,
        1,
      );
      await api(srv.url, c1.token, 'POST', `/api/ice/sessions/${sid}/cancel`);
    }
  });

  it('transfer routes: 400, 403, 404, 409', async () => {
    const sid = await session();
    const pending = await api(srv.url, c1.token, 'POST', `/api/transfers/${sid}`, { status: 'connected' });
    assert.equal(pending.status, 409);
    await api(srv.url, p1.token, 'POST', '/api/ice/signal', {
      session_id: sid,
      signal_type: 'offer',
      signal_data: OFFER,
    });
    const bad = await api(srv.url, c1.token, 'POST', `/api/transfers/${sid}`, {
      status: 'connected',
      bytes: -1,
    });
    assert.equal(bad.status, 400);
    const other = await api(srv.url, p2.token, 'POST', `/api/transfers/${sid}`, { status: 'failed' });
    assert.equal(other.status, 403);
    const missing = await api(srv.url, c1.token, 'POST', `/api/transfers/${randomUUID()}`, {
      status: 'failed',
    });
    assert.equal(missing.status, 404);
    assert.equal(
      (await api(srv.url, c1.token, 'POST', `/api/transfers/${sid}`, { status: 'completed', bytes: 5 }))
        .status,
      200,
    );
    const twice = await api(srv.url, p1.token, 'POST', `/api/transfers/${sid}`, { status: 'failed' });
    assert.equal(twice.status, 409);
    const t = (
      (await api(srv.url, c1.token, 'GET', '/api/transfers')).body as Array<{
        session_id: string;
        status: string;
      }>
    ).find((x) => x.session_id === sid);
    assert.equal(t?.status, 'completed', 'the refused report changed nothing');
  });

  it('WebSocket routes: 4401, 4403, 4404, 4409 and 426 for plain HTTP', async () => {
    const ws = srv.url.replace(/^http/, 'ws');
    assert.equal((await wsClose(`${ws}/api/ws`)).code, 4401);
    assert.equal((await wsClose(`${ws}/api/ws?token=forged`)).code, 4401);
    const sid = await session();
    await api(srv.url, p1.token, 'POST', '/api/ice/signal', {
      session_id: sid,
      signal_type: 'offer',
      signal_data: OFFER,
    });
    assert.equal((await wsClose(`${ws}/api/relay/${sid}`, c2.token)).code, 4403);
    assert.equal((await wsClose(`${ws}/api/relay/${sid}`, p2.token)).code, 4409);
    assert.equal((await wsClose(`${ws}/api/relay/${randomUUID()}`, c1.token)).code, 4404);
    const plain = await api(srv.url, c1.token, 'GET', '/api/ws');
    assert.equal(plain.status, 426);
    assert.equal(code(plain), 'ERR_UPGRADE_REQUIRED');
  });

  it('unknown routes: 404 in the one error shape', async () => {
    const r = await api(srv.url, c1.token, 'GET', '/api/nothing-here');
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { error: { code: 'ERR_NOT_FOUND', message: 'no route GET /api/nothing-here' } });
  });
});
