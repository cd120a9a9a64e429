/**
 * The claim timeout (docs/api.md §3 "Claim timeout"), in process on a clock the test moves: a claim that
 * reaches no channel in time is released once, the session offered again to the others (or failed when none
 * is left, or when it named that provider), the claimant refused from then on with ERR_CLAIM_RELEASED, and
 * the released claim's signals no longer listed. Claims that reached a channel, and seed consumers'
 * sessions (which report nothing), are left alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testApp, type TestApp, type TestUser } from '../../test/helpers/server-app.js';

const OFFER = JSON.stringify({ type: 'offer', sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n' });
const ANSWER = JSON.stringify({ type: 'answer', sdp: 'v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\n' });
const CAND = JSON.stringify({
  candidate: 'candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host',
  sdpMid: '0',
  sdpMLineIndex: 0,
});
const TIMEOUT_MS = 10_000;

describe('claim timeout (in process)', () => {
  let t: TestApp;
  let clock = Date.now();
  let rogue: TestUser;
  let good: TestUser;
  let c: TestUser;

  before(async () => {
    t = await testApp({ now: () => clock, claimTimeoutMs: TIMEOUT_MS });
    rogue = await t.user('rogue', 1);
    good = await t.user('good', 1);
    c = await t.user('c', 2);
  });
  after(() => t.close());

  const service = () => t.app.sdrlink.service;
  const initiate = async (extra: Record<string, unknown> = {}) => {
    const r = await t.call('POST', '/api/ice/initiate', {
      token: c.token,
      body: { request_type: 'signal', parameters: '{"duration":1}', capabilities: ['sdrlink/1'], ...extra },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.session_id as string;
  };
  const signal = (u: TestUser, sid: string, type: string, data: string) =>
    t.call('POST', '/api/ice/signal', {
      token: u.token,
      body: { session_id: sid, signal_type: type, signal_data: data },
    });
  const listed = async (u: TestUser) =>
    (
      (await t.call('GET', '/api/ice/sessions', { token: u.token })).body as Array<{ session_id: string }>
    ).map((s) => s.session_id);
  const detail = async (sid: string) =>
    (await t.call('GET', `/api/ice/sessions/${sid}`, { token: c.token })).body;

  it('releases a stalled claim once, offers the session to the others, refuses the claimant after', async () => {
    // both providers online (a poll counts)
    await listed(good);
    await listed(rogue);
    const sid = await initiate();
    assert.equal((await signal(rogue, sid, 'offer', OFFER)).status, 200);
    assert.equal((await signal(rogue, sid, 'candidate', CAND)).status, 200);
    assert.equal((await signal(c, sid, 'answer', ANSWER)).status, 200);
    const seen = (await t.call('GET', `/api/ice/signals/${sid}`, { token: c.token })).body as Array<{
      signal_type: string;
      attempt: number;
    }>;
    assert.deepEqual(
      seen.map((x) => [x.signal_type, x.attempt]),
      [
        ['offer', 0],
        ['candidate', 0],
      ],
    );

    clock += TIMEOUT_MS - 1;
    assert.equal(await service().releaseStalledClaims(), 0, 'not before the timeout');
    assert.equal((await detail(sid)).status, 'offered');
    clock += 2;
    const [a, b] = await Promise.all([service().releaseStalledClaims(), service().releaseStalledClaims()]);
    assert.equal(a + b, 1, 'two overlapping passes release it once');
    assert.equal(await service().releaseStalledClaims(), 0);

    const d = await detail(sid);
    assert.equal(d.status, 'pending');
    assert.equal(d.target_user_id, '');
    assert.equal(d.attempt, 1);
    assert.deepEqual(
      (d.history as Array<{ status: string; by_user_id: string }>).map((h) => [h.status, h.by_user_id]),
      [
        ['pending', c.id],
        ['offered', rogue.id],
        ['pending', ''],
      ],
    );
    assert.deepEqual(
      (d.declines as Array<{ by_user_id: string; code: string }>).map((x) => [x.by_user_id, x.code]),
      [[rogue.id, 'ERR_CLAIM_TIMEOUT']],
    );
    // the released claim's offer and candidate are no longer listed to the consumer
    assert.deepEqual((await t.call('GET', `/api/ice/signals/${sid}`, { token: c.token })).body, []);
    // offered to the good provider again, not to the rogue
    assert.ok((await listed(good)).includes(sid));
    assert.ok(!(await listed(rogue)).includes(sid));

    // the rogue's late candidate, a new offer, a report, a relay claim: refused, nothing stored
    for (const type of ['candidate', 'offer'] as const) {
      const late = await signal(rogue, sid, type, type === 'offer' ? OFFER : CAND);
      assert.equal(late.status, 409, JSON.stringify(late.body));
      assert.equal(late.body.error.code, 'ERR_CLAIM_RELEASED');
    }
    const report = await t.call('POST', `/api/transfers/${sid}`, {
      token: rogue.token,
      body: { status: 'connected' },
    });
    assert.equal(report.status, 409);
    assert.equal(report.body.error.code, 'ERR_CLAIM_RELEASED');
    assert.deepEqual((await t.call('GET', `/api/ice/signals/${sid}`, { token: c.token })).body, []);

    // the good provider claims it: attempt 1, and its offer is what the consumer lists
    assert.equal((await signal(good, sid, 'offer', OFFER)).status, 200);
    const now = (await t.call('GET', `/api/ice/signals/${sid}`, { token: c.token })).body as Array<{
      signal_type: string;
      from_client_id: string;
      attempt: number;
    }>;
    assert.deepEqual(
      now.map((x) => [x.signal_type, x.from_client_id, x.attempt]),
      [['offer', good.id, 1]],
    );
    // once claimed by the good one, the rogue is still told its claim was released, not "claimed by another"
    const again = await signal(rogue, sid, 'candidate', CAND);
    assert.equal(again.body.error.code, 'ERR_CLAIM_RELEASED');
    // a channel reported (here by the consumer): never released, however long the transfer takes
    assert.equal(
      (await t.call('POST', `/api/transfers/${sid}`, { token: c.token, body: { status: 'connected' } }))
        .status,
      200,
    );
    clock += 10 * TIMEOUT_MS;
    assert.equal(await service().releaseStalledClaims(), 0);
    assert.equal((await detail(sid)).status, 'connected');
  });

  it('fails the session with ERR_NO_PROVIDER when no other provider is left', async () => {
    const sid = await initiate({ request_type: 'spectrum', parameters: '{}' });
    // the good provider declines it; the rogue claims it and stalls
    await listed(good);
    await listed(rogue);
    const dec = await t.call('POST', `/api/ice/sessions/${sid}/decline`, {
      token: good.token,
      body: { code: 'ERR_PARAMS', message: 'no' },
    });
    assert.equal(dec.status, 200);
    assert.equal((await signal(rogue, sid, 'offer', OFFER)).status, 200);
    clock += TIMEOUT_MS + 1;
    assert.equal(await service().releaseStalledClaims(), 1);
    const d = await detail(sid);
    assert.equal(d.status, 'failed');
    assert.equal(d.error_code, 'ERR_NO_PROVIDER');
    assert.equal(d.failed_side, 'server');
    assert.match(d.error_message, /rogue declined: ERR_CLAIM_TIMEOUT/);
    const sigs = (await t.call('GET', `/api/ice/signals/${sid}`, { token: c.token })).body as Array<{
      signal_type: string;
      signal_data: string;
    }>;
    assert.deepEqual(
      sigs.map((x) => [x.signal_type, JSON.parse(x.signal_data).code]),
      [['error', 'ERR_NO_PROVIDER']],
    );
  });

  it('fails a session named for the stalled provider with ERR_CLAIM_TIMEOUT on the provider’s side', async () => {
    await listed(rogue);
    const sid = await initiate({ target: 'rogue' });
    assert.equal((await signal(rogue, sid, 'offer', OFFER)).status, 200);
    clock += TIMEOUT_MS + 1;
    assert.equal(await service().releaseStalledClaims(), 1);
    const d = await detail(sid);
    assert.equal(d.status, 'failed');
    assert.equal(d.error_code, 'ERR_CLAIM_TIMEOUT');
    assert.equal(d.failed_side, 'provider');
  });

  it('leaves a seed consumer’s claims alone (it reports no channel), and any with the timeout off', async () => {
    await listed(rogue);
    const sid = await initiate({ capabilities: [] });
    assert.equal((await signal(rogue, sid, 'offer', OFFER)).status, 200);
    clock += 10 * TIMEOUT_MS;
    assert.equal(await service().releaseStalledClaims(), 0);
    assert.equal((await detail(sid)).status, 'offered');

    const off = await testApp({ now: () => clock, claimTimeoutMs: 0 });
    try {
      const p = await off.user('p', 1);
      const cc = await off.user('cc', 2);
      const r = await off.call('POST', '/api/ice/initiate', {
        token: cc.token,
        body: { request_type: 'signal', parameters: '{}', capabilities: ['sdrlink/1'] },
      });
      const s2 = r.body.session_id as string;
      const o = await off.call('POST', '/api/ice/signal', {
        token: p.token,
        body: { session_id: s2, signal_type: 'offer', signal_data: OFFER },
      });
      assert.equal(o.status, 200);
      clock += 10 * TIMEOUT_MS;
      assert.equal(await off.app.sdrlink.service.releaseStalledClaims(), 0);
    } finally {
      await off.close();
    }
  });
});
