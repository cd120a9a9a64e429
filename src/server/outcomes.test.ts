/**
 * How sessions end, in process (docs/api.md §3 "Outcome", §2 `progress`): every way a session ends — a
 * provider's refusal, a cancel with or without a reason, a failed report, the expiry sweep — records its
 * code, message and side, visible in `GET /api/ice/sessions/{id}` and `GET /api/transfers`; the first final
 * word wins; `GET /api/transfers` filters by status, type, provider and time and names the participants;
 * bad filters and paths are 400 and change nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testApp, type TestApp, type TestUser } from '../../test/helpers/server-app.js';

const OFFER = JSON.stringify({ type: 'offer', sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n' });
const PARAMS = JSON.stringify({ frequency_start: 1e8, frequency_end: 2e8, sample_rate: 1e6 });

interface Row {
  session_id: string;
  status: string;
  error_code: string | null;
  error_message: string | null;
  failed_side: string | null;
  path: string | null;
  provider_name?: string | null;
  consumer_name?: string;
  error: string | null;
  [k: string]: unknown;
}

describe('session outcomes and the transfer history (in process)', () => {
  let clock = Date.parse('2026-12-01T10:00:00.000Z');
  let t: TestApp;
  let p1: TestUser;
  let p2: TestUser;
  let c1: TestUser;
  let c2: TestUser;

  before(async () => {
    t = await testApp({ now: () => clock, sessionTtlMs: 60_000, sweepIntervalMs: 3_600_000 });
    p1 = await t.user('radio-one', 1, ['spectrum', 'signal']);
    p2 = await t.user('radio-two', 1);
    c1 = await t.user('carol', 2);
    c2 = await t.user('dave', 2);
  });
  after(() => t.close());

  async function initiate(c: TestUser, type = 'spectrum', target?: string): Promise<string> {
    const r = await t.call('POST', '/api/ice/initiate', {
      token: c.token,
      body: { request_type: type, parameters: PARAMS, ...(target === undefined ? {} : { target }) },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return (r.body as { session_id: string }).session_id;
  }
  const signal = (u: TestUser, sid: string, type: string, data: unknown) =>
    t.call('POST', '/api/ice/signal', {
      token: u.token,
      body: { session_id: sid, signal_type: type, signal_data: JSON.stringify(data) },
    });
  const report = (u: TestUser, sid: string, body: Record<string, unknown>) =>
    t.call('POST', `/api/transfers/${sid}`, { token: u.token, body });
  const detail = async (u: TestUser, sid: string) => {
    const r = await t.call('GET', `/api/ice/sessions/${sid}`, { token: u.token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as Row;
  };
  const transfers = async (u: TestUser, query = '') => {
    const r = await t.call('GET', `/api/transfers${query}`, { token: u.token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as Row[];
  };
  const outcome = (r: Row) => ({
    status: r.status,
    error_code: r.error_code,
    error_message: r.error_message,
    failed_side: r.failed_side,
  });

  it("records a provider's refusal (its error signal) as failed by the provider, with its code", async () => {
    const sid = await initiate(c1);
    const r = await signal(p1, sid, 'error', { code: 'ERR_PARAMS', message: 'parameters.x: unknown' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const want = {
      status: 'failed',
      error_code: 'ERR_PARAMS',
      error_message: 'parameters.x: unknown',
      failed_side: 'provider',
    };
    assert.deepEqual(outcome(await detail(c1, sid)), want);
    const row = (await transfers(c1)).find((x) => x.session_id === sid);
    assert.ok(row);
    assert.deepEqual(outcome(row), want);
    assert.equal(row.error, 'ERR_PARAMS: parameters.x: unknown', 'the seed-era `error` is filled too');
    assert.equal(row.provider_name, 'radio-one');
    assert.equal(row.consumer_name, 'carol');
  });

  it('records a cancel with the reason given, or ERR_CANCELLED, on the canceller’s side', async () => {
    const a = await initiate(c1);
    const r = await t.call('POST', `/api/ice/sessions/${a}/cancel`, {
      token: c1.token,
      body: { code: 'ERR_CANCELLED', message: 'interrupted (SIGINT)' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(outcome(await detail(c1, a)), {
      status: 'cancelled',
      error_code: 'ERR_CANCELLED',
      error_message: 'interrupted (SIGINT)',
      failed_side: 'consumer',
    });
    const b = await initiate(c1);
    assert.equal((await signal(p1, b, 'offer', JSON.parse(OFFER))).status, 200);
    assert.equal((await t.call('POST', `/api/ice/sessions/${b}/cancel`, { token: p1.token })).status, 200);
    assert.deepEqual(outcome(await detail(c1, b)), {
      status: 'cancelled',
      error_code: 'ERR_CANCELLED',
      error_message: 'cancelled by the provider',
      failed_side: 'provider',
    });
  });

  it('refuses a bad cancel reason with 400 and leaves the session open', async () => {
    const sid = await initiate(c1);
    const r = await t.call('POST', `/api/ice/sessions/${sid}/cancel`, {
      token: c1.token,
      body: { code: 'not a code' },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'ERR_VALIDATION');
    assert.match(r.body.error.message, /body\.code/);
    assert.equal((await detail(c1, sid)).status, 'pending');
    await t.call('POST', `/api/ice/sessions/${sid}/cancel`, { token: c1.token });
  });

  it('records a failed report: error_code or the ERR_ prefix of error, failed_side, path; first word wins', async () => {
    const sid = await initiate(c1);
    assert.equal((await signal(p1, sid, 'offer', JSON.parse(OFFER))).status, 200);
    assert.equal((await report(p1, sid, { status: 'connected', transport: 'p2p' })).status, 200);
    const r = await report(c1, sid, {
      status: 'failed',
      error: 'ERR_CHANNEL_CLOSED: the channel closed at byte 1048576',
      failed_side: 'provider',
      transport: 'p2p',
      path: 'host-host/udp',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const later = await report(p1, sid, { status: 'failed', error_code: 'ERR_TIMEOUT', error: 'idle' });
    assert.equal(later.status, 200, 'the same final status is accepted');
    const d = await detail(c1, sid);
    assert.deepEqual(outcome(d), {
      status: 'failed',
      error_code: 'ERR_CHANNEL_CLOSED',
      error_message: 'the channel closed at byte 1048576',
      failed_side: 'provider',
    });
    assert.equal(d.path, 'host-host/udp');
  });

  it('refuses a path or error_code off the pattern with 400, changing nothing', async () => {
    const sid = await initiate(c1);
    assert.equal((await signal(p1, sid, 'offer', JSON.parse(OFFER))).status, 200);
    for (const body of [
      { status: 'failed', path: 'host-host' },
      { status: 'failed', path: 'turn-host/udp' },
      { status: 'failed', path: 'ws-relay; DROP TABLE' },
      { status: 'failed', error_code: 'lower' },
      { status: 'failed', failed_side: 'nobody' },
    ]) {
      const r = await report(c1, sid, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, 'ERR_VALIDATION');
    }
    assert.deepEqual(outcome(await detail(c1, sid)), {
      status: 'offered',
      error_code: null,
      error_message: null,
      failed_side: null,
    });
    await t.call('POST', `/api/ice/sessions/${sid}/cancel`, { token: c1.token });
  });

  it('takes progress signals from the provider of a claimed session only', async () => {
    const sid = await initiate(c2);
    const data = { phase: 'preparing', bytes: 10, total: 100 };
    const early = await signal(p1, sid, 'progress', data);
    assert.equal(early.status, 409, 'no progress before the offer (it must not claim)');
    assert.equal(early.body.error.code, 'ERR_SESSION_STATE');
    assert.equal((await detail(c2, sid)).status, 'pending');
    assert.equal((await signal(p1, sid, 'offer', JSON.parse(OFFER))).status, 200);
    assert.equal((await signal(p1, sid, 'progress', data)).status, 200);
    const bad = await signal(p1, sid, 'progress', { phase: 'preparing', bytes: -1, total: 100 });
    assert.equal(bad.status, 400);
    assert.equal((await signal(c2, sid, 'progress', data)).body.error?.code, 'ERR_ROLE');
    const inbox = await t.call('GET', `/api/ice/signals/${sid}`, { token: c2.token });
    assert.deepEqual(
      (inbox.body as Array<{ signal_type: string }>).map((s) => s.signal_type),
      ['offer', 'progress'],
    );
    await t.call('POST', `/api/ice/sessions/${sid}/cancel`, { token: c2.token });
  });

  it('filters transfers by status, type, provider and time, and names the participants', async () => {
    clock = Date.parse('2026-12-01T11:00:00.000Z');
    const s1 = await initiate(c2, 'spectrum', 'radio-one');
    await signal(p1, s1, 'offer', JSON.parse(OFFER));
    clock = Date.parse('2026-12-01T12:00:00.000Z');
    const s2 = await initiate(c2, 'signal', 'radio-two');
    await signal(p2, s2, 'offer', JSON.parse(OFFER));
    await report(c2, s2, { status: 'completed', bytes: 10, transport: 'relay', path: 'ws-relay' });
    clock = Date.parse('2026-12-01T13:00:00.000Z');
    const s3 = await initiate(c2, 'spectrum');
    const ids = (rows: Row[]) => rows.map((r) => r.session_id);
    const mine = await transfers(c2);
    assert.ok(ids(mine).slice(0, 3).join() === [s3, s2, s1].join(), 'newest first');
    assert.deepEqual(
      mine.slice(0, 3).map((r) => [r.provider_name, r.consumer_name]),
      [
        [null, 'dave'],
        ['radio-two', 'dave'],
        ['radio-one', 'dave'],
      ],
    );
    assert.deepEqual(ids(await transfers(c2, '?status=completed')), [s2]);
    assert.deepEqual(ids(await transfers(c2, '?type=spectrum&since=2026-12-01T10:30:00Z')), [s3, s1]);
    assert.deepEqual(ids(await transfers(c2, '?provider=radio-one&since=2026-12-01T10:30Z')), [s1]);
    assert.deepEqual(
      ids(await transfers(c2, '?since=2026-12-01T11:30:00Z&until=2026-12-01T13:30:00%2B01:00')),
      [s2],
    );
    assert.deepEqual(ids(await transfers(c2, '?since=2026-12-01T10:30:00.000Z&limit=1')), [s3]);
    assert.deepEqual(ids(await transfers(c2, '?provider=nobody')), []);
    assert.deepEqual(
      ids(await transfers(p2, '?since=2026-12-01T10:30:00Z')),
      [s2],
      'a provider sees its own only',
    );
    assert.equal((await transfers(c2, '?status=completed'))[0]?.path, 'ws-relay');
  });

  it('answers a bad filter with 400 in the one error shape', async () => {
    for (const [q, field] of [
      ['?status=done', 'status'],
      ['?type=Bad_Type', 'type'],
      ['?provider=%20x', 'provider'],
      ['?since=yesterday', 'since'],
      ['?until=2026-02-30T25:00:00Z', 'until'],
      ['?since=2026-12-02&until=2026-12-01', 'since'],
      ['?limit=0', 'limit'],
      ['?stauts=failed', 'stauts'],
    ] as const) {
      const r = await t.call('GET', `/api/transfers${q}`, { token: c2.token });
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error.code, 'ERR_VALIDATION', q);
      assert.match(r.body.error.message, new RegExp(field), q);
    }
  });

  it('records an expired session as ERR_EXPIRED on the server side', async () => {
    let now = Date.parse('2026-12-01T10:00:00.000Z');
    const e = await testApp({ now: () => now, sessionTtlMs: 1000, sweepIntervalMs: 20 });
    try {
      const p = await e.user('radio-e', 1);
      const c = await e.user('erin', 2);
      const r = await e.call('POST', '/api/ice/initiate', {
        token: c.token,
        body: { request_type: 'spectrum', parameters: PARAMS },
      });
      const sid = (r.body as { session_id: string }).session_id;
      await e.call('POST', '/api/ice/signal', {
        token: p.token,
        body: { session_id: sid, signal_type: 'offer', signal_data: OFFER },
      });
      await new Promise((res) => setTimeout(res, 100)); // a sweep touches the session the offer was for
      now += 5000;
      let d: Row | undefined;
      for (let i = 0; i < 200; i++) {
        d = (await e.call('GET', `/api/ice/sessions/${sid}`, { token: c.token })).body as Row;
        if (d.status === 'expired') break;
        await new Promise((res) => setTimeout(res, 10));
      }
      assert.ok(d);
      assert.deepEqual(outcome(d), {
        status: 'expired',
        error_code: 'ERR_EXPIRED',
        error_message: 'no activity for 1 s while offered',
        failed_side: 'server',
      });
      const list = (await e.call('GET', '/api/transfers?status=expired', { token: c.token })).body as Row[];
      assert.deepEqual(
        list.map((x) => [x.session_id, x.failed_side, x.provider_name]),
        [[sid, 'server', 'radio-e']],
      );
    } finally {
      await e.close();
    }
  });
});
