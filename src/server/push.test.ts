/**
 * The push channel `/api/ws` on a listening server (docs/api.md §5): hello, open sessions to providers,
 * signals to their addressee whether posted over REST or the channel, status changes, refusals.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { testApp, type TestApp, type TestUser } from '../../test/helpers/server-app.js';
import { openWs, type WsProbe } from '../../test/helpers/ws-probe.js';

const OFFER = JSON.stringify({ type: 'offer', sdp: 'v=0\r\n' });
const ANSWER = JSON.stringify({ type: 'answer', sdp: 'v=0\r\n' });

describe('push channel', () => {
  let t: TestApp;
  let base: string;
  let p1: TestUser;
  let p2: TestUser;
  let c1: TestUser;
  const open: WsProbe[] = [];

  before(async () => {
    t = await testApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    p1 = await t.user('p1', 1, ['spectrum']);
    p2 = await t.user('p2', 1, ['signal']);
    c1 = await t.user('c1', 2);
  });
  after(async () => {
    for (const p of open) p.ws.terminate();
    await t.close();
  });

  async function connect(u: TestUser, viaQuery = false): Promise<WsProbe> {
    const p = viaQuery
      ? await openWs(`${base}/api/ws?token=${encodeURIComponent(u.token)}`)
      : await openWs(`${base}/api/ws`, { authorization: `Bearer ${u.token}` });
    open.push(p);
    return p;
  }

  it('delivers sessions to the providers that may serve them, and a REST-posted signal to its addressee', async () => {
    const early = await t.call('POST', '/api/ice/initiate', {
      token: c1.token,
      body: { request_type: 'spectrum', parameters: '{}' },
    });
    const wp1 = await connect(p1);
    const wp2 = await connect(p2, true);
    const wc1 = await connect(c1);
    assert.deepEqual(await wp1.next((m) => m['type'] === 'hello'), {
      type: 'hello',
      user_id: p1.id,
      client_type: 1,
    });
    assert.equal((await wc1.next((m) => m['type'] === 'hello'))['client_type'], 2);
    const first = await wp1.next((m) => m['type'] === 'session');
    assert.equal(
      (first['session'] as { session_id: string }).session_id,
      early.body.session_id,
      'open sessions arrive after hello',
    );

    const s = await t.call('POST', '/api/ice/initiate', {
      token: c1.token,
      body: { request_type: 'spectrum', parameters: '{"a":1}' },
    });
    const pushed = await wp1.next((m) => m['type'] === 'session');
    // the initiate answer adds providers_able (docs/api.md §12); the session object is the same
    const { providers_able: able, ...created } = s.body as Record<string, unknown>;
    assert.equal(able, 1, 'the one provider online serves spectrum');
    assert.deepEqual(pushed['session'], created, 'push carries the same session object as REST');

    const offer = await t.call('POST', '/api/ice/signal', {
      token: p1.token,
      body: { session_id: s.body.session_id, signal_type: 'offer', signal_data: OFFER },
    });
    assert.equal(offer.status, 200);
    const got = await wc1.next((m) => m['type'] === 'signal');
    assert.deepEqual(got['signal'], offer.body, 'the consumer receives exactly the stored signal');
    const polled = (
      await t.call('GET', `/api/ice/signals/${s.body.session_id as string}`, { token: c1.token })
    ).body as unknown[];
    assert.deepEqual(polled, [offer.body], 'polling sees the same data');
    assert.deepEqual(await wc1.next((m) => m['type'] === 'session-status'), {
      type: 'session-status',
      session_id: s.body.session_id,
      status: 'offered',
    });
    assert.ok(!wp2.seen.some((m) => m['type'] === 'session'), 'p2 serves only "signal"');
  });

  it('takes signals over the channel with the same rules, answering with result', async () => {
    const wp1 = await connect(p1);
    const wc1 = await connect(c1);
    await wp1.next((m) => m['type'] === 'hello');
    await wc1.next((m) => m['type'] === 'hello');
    const s = await t.call('POST', '/api/ice/initiate', {
      token: c1.token,
      body: { request_type: 'spectrum', parameters: '{}' },
    });
    const sid = s.body.session_id as string;
    wc1.ws.send(
      JSON.stringify({ type: 'signal', ref: 1, session_id: sid, signal_type: 'offer', signal_data: OFFER }),
    );
    const refused = await wc1.next((m) => m['type'] === 'result' && m['ref'] === 1);
    assert.equal(refused['ok'], false);
    assert.equal((refused['error'] as { code: string }).code, 'ERR_ROLE');
    wp1.ws.send(
      JSON.stringify({ type: 'signal', ref: 'o', session_id: sid, signal_type: 'offer', signal_data: OFFER }),
    );
    const ok = await wp1.next((m) => m['type'] === 'result' && m['ref'] === 'o');
    assert.equal(ok['ok'], true);
    const atConsumer = await wc1.next((m) => m['type'] === 'signal');
    assert.deepEqual(atConsumer['signal'], ok['signal']);
    wc1.ws.send(
      JSON.stringify({ type: 'signal', ref: 2, session_id: sid, signal_type: 'answer', signal_data: ANSWER }),
    );
    assert.equal((await wc1.next((m) => m['type'] === 'result' && m['ref'] === 2))['ok'], true);
    const answer = await wp1.next((m) => m['type'] === 'signal');
    assert.equal((answer['signal'] as { signal_type: string }).signal_type, 'answer');

    wp1.ws.send(JSON.stringify({ type: 'ping', ref: 9 }));
    assert.deepEqual(await wp1.next((m) => m['type'] === 'pong'), { type: 'pong', ref: 9 });
    wp1.ws.send('{oops');
    assert.equal(
      ((await wp1.next((m) => m['type'] === 'result' && m['ok'] === false))['error'] as { code: string })
        .code,
      'ERR_JSON',
    );
    wp1.ws.send(
      JSON.stringify({ type: 'signal', ref: 3, session_id: sid, signal_type: 'offer', signal_data: 'x' }),
    );
    const bad = await wp1.next((m) => m['type'] === 'result' && m['ref'] === 3);
    assert.match(
      (bad['error'] as { message: string }).message,
      /^message\.signal_data must be a JSON-encoded object/,
    );
    wp1.ws.send(JSON.stringify({ type: 'subscribe', ref: 4 }));
    assert.equal(
      ((await wp1.next((m) => m['ref'] === 4))['error'] as { code: string }).code,
      'ERR_VALIDATION',
    );
  });

  it('tells other providers when a session leaves their list', async () => {
    const other = await t.user('p1b', 1, ['spectrum']);
    const wOther = await connect(other);
    await wOther.next((m) => m['type'] === 'hello');
    const s = await t.call('POST', '/api/ice/initiate', {
      token: c1.token,
      body: { request_type: 'spectrum', parameters: '{}' },
    });
    await wOther.next(
      (m) =>
        m['type'] === 'session' && (m['session'] as { session_id: string }).session_id === s.body.session_id,
    );
    await t.call('POST', '/api/ice/signal', {
      token: p1.token,
      body: { session_id: s.body.session_id, signal_type: 'offer', signal_data: OFFER },
    });
    assert.deepEqual(await wOther.next((m) => m['type'] === 'session-claimed'), {
      type: 'session-claimed',
      session_id: s.body.session_id,
    });
  });

  it('closes with 4401 for a missing, invalid or expired token', async () => {
    for (const [url, headers] of [
      [`${base}/api/ws`, {}],
      [`${base}/api/ws?token=garbage`, {}],
      [`${base}/api/ws`, { authorization: 'Bearer a.b.c' }],
    ] as Array<[string, Record<string, string>]>) {
      const p = await openWs(url, headers);
      open.push(p);
      const c = await p.closed();
      assert.equal(c.code, 4401, url);
      assert.match(c.reason, /^ERR_TOKEN_(MISSING|INVALID)/);
    }
  });
});
