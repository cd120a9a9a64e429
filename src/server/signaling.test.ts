/**
 * ICE sessions, signals, transfers, configuration and health, in process (docs/api.md §2–§4, §7): the
 * happy paths and every error class per route family, and that a refused request changes no row.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { testApp, type TestApp, type TestUser } from '../../test/helpers/server-app.js';

const OFFER = JSON.stringify({ type: 'offer', sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n' });
const ANSWER = JSON.stringify({ type: 'answer', sdp: 'v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\n' });
const CAND = JSON.stringify({
  candidate: 'candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host',
  sdpMid: '0',
  sdpMLineIndex: 0,
});
const SPECTRUM = JSON.stringify({
  frequency_start: 100_000_000,
  frequency_end: 200_000_000,
  sample_rate: 1_000_000,
});

describe('signaling (in process)', () => {
  let t: TestApp;
  let p1: TestUser; // serves spectrum
  let p2: TestUser; // serves everything
  let p3: TestUser; // serves battery-report only
  let c1: TestUser;
  let c2: TestUser;

  before(async () => {
    t = await testApp({ iceServers: [{ urls: ['stun:127.0.0.1:3478'] }], maxOpenSessionsPerUser: 50 });
    p1 = await t.user('p1', 1, ['spectrum']);
    p2 = await t.user('p2', 1);
    p3 = await t.user('p3', 1, ['battery-report']);
    c1 = await t.user('c1', 2);
    c2 = await t.user('c2', 2);
  });
  after(() => t.close());

  async function initiate(c: TestUser, extra: Record<string, unknown> = {}) {
    const r = await t.call('POST', '/api/ice/initiate', {
      token: c.token,
      body: {
        request_type: 'spectrum',
        parameters: SPECTRUM,
        file_name: 'spectrum_data.npz',
        file_size: 0,
        file_type: 'application/octet-stream',
        ...extra,
      },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as { session_id: string; [k: string]: unknown };
  }
  const signal = (u: TestUser, sessionId: string, type: string, data: string) =>
    t.call('POST', '/api/ice/signal', {
      token: u.token,
      body: { session_id: sessionId, signal_type: type, signal_data: data },
    });
  const rows = async () => {
    const db = t.app.sdrlink.storage;
    const sessions = [
      ...(await db.sessions.listForUser(Number(c1.id), 1000)),
      ...(await db.sessions.listForUser(Number(c2.id), 1000)),
    ];
    let signals = 0;
    for (const s of sessions) {
      for (const u of [c1, c2, p1, p2, p3])
        signals += (await db.signals.listFor(s.sessionId, Number(u.id), 0, 1000)).length;
    }
    return { sessions: sessions.length, signals, statuses: sessions.map((s) => s.status).join(',') };
  };

  describe('initiate', () => {
    it('creates a pending session (201) in the seed’s JSON types', async () => {
      const s = await initiate(c1, { capabilities: ['sdrlink/1'] });
      assert.match(s.session_id, /^[0-9a-f-]{36}$/);
      assert.equal(s['initiator_user_id'], c1.id);
      assert.equal(s['target_user_id'], '');
      assert.equal(s['request_type'], 'spectrum');
      assert.equal(s['parameters'], SPECTRUM);
      assert.equal(s['status'], 'pending');
      assert.deepEqual(s['capabilities'], ['sdrlink/1']);
      for (const k of [
        'session_id',
        'initiator_user_id',
        'target_user_id',
        'request_type',
        'parameters',
        'status',
      ]) {
        assert.equal(typeof s[k], 'string', k);
      }
      const tr = await t.app.sdrlink.storage.transfers.get(s.session_id);
      assert.equal(tr?.fileName, 'spectrum_data.npz');
      assert.equal(tr?.fileType, 'application/octet-stream');
    });

    it('re-encodes parameters given as an object', async () => {
      const s = await initiate(c1, { parameters: { a: 1 } });
      assert.equal(s['parameters'], '{"a":1}');
    });

    it('accepts a target by name or id, and a type only a provider declared', async () => {
      assert.equal((await initiate(c1, { target: 'p1' }))['target_user_id'], p1.id);
      assert.equal((await initiate(c1, { target: p2.id }))['target_user_id'], p2.id);
      const custom = await t.user('pcustom', 1, ['iq-capture']);
      const r = await t.call('POST', '/api/ice/initiate', {
        token: c2.token,
        body: { request_type: 'iq-capture', parameters: '{}' },
      });
      assert.equal(r.status, 201);
      assert.equal((await t.call('GET', '/api/ice/sessions', { token: custom.token })).body.length, 1);
      await t.call('POST', `/api/ice/sessions/${r.body.session_id as string}/cancel`, { token: c2.token });
    });

    it('refuses bad input with 400 and a precise message, storing nothing', async () => {
      const before = await rows();
      const cases: Array<[Record<string, unknown> | string, string, RegExp]> = [
        [{ parameters: SPECTRUM }, 'ERR_VALIDATION', /^body\.request_type is required$/],
        [
          { request_type: 7, parameters: SPECTRUM },
          'ERR_VALIDATION',
          /^body\.request_type must be a string$/,
        ],
        [
          { request_type: 'weather', parameters: SPECTRUM },
          'ERR_REQUEST_TYPE',
          /^unknown request_type "weather"; known: .*spectrum/,
        ],
        [
          { request_type: "x'; DROP TABLE users; --", parameters: SPECTRUM },
          'ERR_REQUEST_TYPE',
          /^unknown request_type/,
        ],
        [
          { request_type: 'spectrum', parameters: '{not json' },
          'ERR_VALIDATION',
          /^body\.parameters must be a JSON-encoded object: /,
        ],
        [
          { request_type: 'spectrum', parameters: '[1,2]' },
          'ERR_VALIDATION',
          /^body\.parameters must be a JSON-encoded object$/,
        ],
        [
          { request_type: 'spectrum', parameters: 5 },
          'ERR_VALIDATION',
          /^body\.parameters must be a string or a JSON object$/,
        ],
        [
          { request_type: 'spectrum', parameters: SPECTRUM, file_size: -1 },
          'ERR_VALIDATION',
          /^body\.file_size must be ≥ 0$/,
        ],
        [
          { request_type: 'spectrum', parameters: SPECTRUM, file_size: '0' },
          'ERR_VALIDATION',
          /^body\.file_size must be an integer$/,
        ],
        [
          { request_type: 'spectrum', parameters: SPECTRUM, target: 'nobody' },
          'ERR_TARGET',
          /^body\.target: no provider "nobody"$/,
        ],
        [
          // a consumer's name answers exactly as a name nobody has (docs/security.md: no user enumeration)
          { request_type: 'spectrum', parameters: SPECTRUM, target: 'c2' },
          'ERR_TARGET',
          /^body\.target: no provider "c2"$/,
        ],
        [
          { request_type: 'spectrum', parameters: SPECTRUM, target: 'p3' },
          'ERR_REQUEST_TYPE',
          /"p3" does not serve "spectrum"/,
        ],
        [
          { request_type: 'spectrum', parameters: SPECTRUM, capabilities: 'sdrlink/1' },
          'ERR_VALIDATION',
          /^body\.capabilities must be an array$/,
        ],
        ['{"request_type":', 'ERR_JSON', /not valid JSON/],
      ];
      for (const [body, code, message] of cases) {
        const r = await t.call('POST', '/api/ice/initiate', {
          token: c1.token,
          body: typeof body === 'string' ? body : JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, code, JSON.stringify(body));
        assert.match(r.body.error.message, message);
      }
      assert.deepEqual(await rows(), before);
    });

    it('refuses a provider (403 ERR_ROLE)', async () => {
      const r = await t.call('POST', '/api/ice/initiate', {
        token: p1.token,
        body: { request_type: 'spectrum', parameters: '{}' },
      });
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'ERR_ROLE');
    });
  });

  describe('session lists', () => {
    beforeEach(async () => {
      for (const c of [c1, c2]) {
        for (const s of (await t.call('GET', '/api/ice/sessions?limit=1000', { token: c.token }))
          .body as Array<{ session_id: string; status: string }>) {
          if (s.status === 'pending' || s.status === 'offered')
            await t.call('POST', `/api/ice/sessions/${s.session_id}/cancel`, { token: c.token });
        }
      }
    });

    it('shows a provider only the pending sessions it may serve, and drops them once claimed', async () => {
      const open = await initiate(c1);
      const forP2 = await initiate(c1, { target: 'p2' });
      const battery = await t.call('POST', '/api/ice/initiate', {
        token: c2.token,
        body: { request_type: 'battery-report', parameters: '{}' },
      });
      const ids = async (u: TestUser) =>
        ((await t.call('GET', '/api/ice/sessions', { token: u.token })).body as Array<{ session_id: string }>)
          .map((s) => s.session_id)
          .sort();
      assert.deepEqual(await ids(p1), [open.session_id]);
      assert.deepEqual(await ids(p2), [open.session_id, forP2.session_id, battery.body.session_id].sort());
      assert.deepEqual(await ids(p3), [battery.body.session_id]);
      assert.equal((await signal(p2, open.session_id, 'offer', OFFER)).status, 200);
      assert.deepEqual(await ids(p1), []);
      assert.deepEqual(await ids(p2), [forP2.session_id, battery.body.session_id].sort());
      const mine = (await t.call('GET', '/api/ice/sessions', { token: c1.token })).body as Array<{
        session_id: string;
        status: string;
      }>;
      assert.deepEqual(
        mine.slice(0, 2).map((s) => [s.session_id, s.status]),
        [
          [forP2.session_id, 'pending'],
          [open.session_id, 'offered'],
        ],
      );
    });

    it('refuses a bad limit (400)', async () => {
      for (const q of ['limit=0', 'limit=abc', 'limit=-1', 'limit=5000']) {
        const r = await t.call('GET', `/api/ice/sessions?${q}`, { token: p1.token });
        assert.equal(r.status, 400, q);
        assert.equal(r.body.error.code, 'ERR_VALIDATION');
      }
    });
  });

  describe('signals', () => {
    it('runs a whole exchange: offer claims, answer, candidates both ways, each side reads what is addressed to it', async () => {
      const s = await initiate(c1);
      const sid = s.session_id;
      const cand1 = await signal(p1, sid, 'candidate', CAND); // overtakes the offer, claims
      assert.equal(cand1.status, 200);
      const offer = await signal(p1, sid, 'offer', OFFER);
      assert.equal(offer.status, 200);
      assert.equal(typeof offer.body.id, 'number');
      assert.equal(offer.body.from_client_id, p1.id);
      assert.equal(offer.body.to_client_id, c1.id);
      assert.equal((await signal(c1, sid, 'answer', ANSWER)).status, 200);
      assert.equal((await signal(c1, sid, 'candidate', CAND)).status, 200);
      const forC1 = (await t.call('GET', `/api/ice/signals/${sid}`, { token: c1.token })).body as Array<
        Record<string, unknown>
      >;
      assert.deepEqual(
        forC1.map((x) => x['signal_type']),
        ['candidate', 'offer'],
      );
      assert.equal(forC1[1]?.['signal_data'], OFFER);
      const again = (await t.call('GET', `/api/ice/signals?session_id=${sid}`, { token: c1.token }))
        .body as unknown[];
      assert.equal(again.length, 2, 'reading does not delete');
      const after = (
        await t.call('GET', `/api/ice/signals/${sid}?after=${String(forC1[0]?.['id'])}`, { token: c1.token })
      ).body as unknown[];
      assert.equal(after.length, 1);
      const forP1 = (await t.call('GET', `/api/ice/signals/${sid}`, { token: p1.token })).body as Array<
        Record<string, unknown>
      >;
      assert.deepEqual(
        forP1.map((x) => x['signal_type']),
        ['answer', 'candidate'],
      );
      const detail = await t.call('GET', `/api/ice/sessions/${sid}`, { token: c1.token });
      assert.equal(detail.body.status, 'offered');
      assert.equal(detail.body.target_user_id, p1.id);
      assert.deepEqual(
        detail.body.history.map((h: { status: string }) => h.status),
        ['pending', 'offered'],
      );
    });

    it('lets exactly one of two racing providers claim a session; the loser gets 409 and stores nothing', async () => {
      for (let i = 0; i < 5; i++) {
        const s = await initiate(c2);
        const [a, b] = await Promise.all([
          signal(p1, s.session_id, 'offer', OFFER),
          signal(p2, s.session_id, 'offer', OFFER),
        ]);
        assert.deepEqual([a.status, b.status].sort(), [200, 409]);
        const loser = a.status === 409 ? a : b;
        assert.equal(loser.body.error.code, 'ERR_SESSION_CLAIMED');
        const inbox = (await t.call('GET', `/api/ice/signals/${s.session_id}`, { token: c2.token }))
          .body as unknown[];
        assert.equal(inbox.length, 1, 'only the winner’s offer is stored');
        const late = await signal(a.status === 409 ? p1 : p2, s.session_id, 'candidate', CAND);
        assert.equal(late.status, 409);
      }
    });

    it('refuses each forbidden move with 403 and changes no row', async () => {
      const s = await initiate(c1);
      const sid = s.session_id;
      assert.equal((await signal(p1, sid, 'offer', OFFER)).status, 200);
      const targeted = await initiate(c1, { target: 'p2' });
      const before = await rows();
      const cases: Array<[TestUser, string, string, string, string]> = [
        [c1, sid, 'offer', OFFER, 'ERR_ROLE'], // a consumer acting as a provider
        [p1, sid, 'answer', ANSWER, 'ERR_ROLE'], // a provider acting as a consumer
        [c2, sid, 'candidate', CAND, 'ERR_FORBIDDEN'], // someone else's session
        [p1, targeted.session_id, 'offer', OFFER, 'ERR_FORBIDDEN'], // addressed to p2
      ];
      for (const [u, id, type, data, code] of cases) {
        const r = await signal(u, id, type, data);
        assert.equal(r.status, 403, `${u.username} ${type}`);
        assert.equal(r.body.error.code, code);
      }
      const battery = await t.call('POST', '/api/ice/initiate', {
        token: c2.token,
        body: { request_type: 'battery-report', parameters: '{}' },
      });
      const r = await signal(p1, battery.body.session_id, 'offer', OFFER);
      assert.equal(r.status, 403, 'p1 does not serve battery-report');
      const read = await t.call('GET', `/api/ice/signals/${sid}`, { token: c2.token });
      assert.equal(read.status, 403);
      assert.equal(read.body.error.code, 'ERR_FORBIDDEN');
      const readP2 = await t.call('GET', `/api/ice/signals/${sid}`, { token: p2.token });
      assert.equal(readP2.status, 403);
      const detail = await t.call('GET', `/api/ice/sessions/${sid}`, { token: c2.token });
      assert.equal(detail.status, 403);
      await t.call('POST', `/api/ice/sessions/${battery.body.session_id as string}/cancel`, {
        token: c2.token,
      });
      const after = await rows();
      assert.equal(after.signals, before.signals);
    });

    it('refuses bad signals with 400, unknown sessions with 404, and wrong states with 409', async () => {
      const s = await initiate(c1);
      const sid = s.session_id;
      const cases: Array<[unknown, number, string, RegExp]> = [
        [
          { session_id: sid, signal_type: 'hello', signal_data: '{}' },
          400,
          'ERR_VALIDATION',
          /^body\.signal_type must be one of offer, answer, candidate, error, progress$/,
        ],
        [{ session_id: sid, signal_type: 'offer' }, 400, 'ERR_VALIDATION', /^body\.signal_data is required$/],
        [
          { session_id: sid, signal_type: 'offer', signal_data: { type: 'offer', sdp: '' } },
          400,
          'ERR_VALIDATION',
          /^body\.signal_data must be a string$/,
        ],
        [
          { session_id: sid, signal_type: 'offer', signal_data: 'not json' },
          400,
          'ERR_VALIDATION',
          /^body\.signal_data must be a JSON-encoded object/,
        ],
        [
          { session_id: sid, signal_type: 'offer', signal_data: '{"type":"answer","sdp":"x"}' },
          400,
          'ERR_VALIDATION',
          /RTCSessionDescriptionInit/,
        ],
        [
          { session_id: sid, signal_type: 'candidate', signal_data: '{"candidate":5}' },
          400,
          'ERR_VALIDATION',
          /RTCIceCandidateInit/,
        ],
        [
          {
            session_id: sid,
            signal_type: 'offer',
            signal_data: JSON.stringify({ type: 'offer', sdp: 'x'.repeat(70_000) }),
          },
          400,
          'ERR_VALIDATION',
          /^body\.signal_data must be at most 65536 bytes/,
        ],
        [
          { session_id: 'not-a-uuid', signal_type: 'offer', signal_data: OFFER },
          400,
          'ERR_VALIDATION',
          /^body\.session_id must be a session id/,
        ],
        [
          { session_id: randomUUID(), signal_type: 'offer', signal_data: OFFER },
          404,
          'ERR_SESSION_NOT_FOUND',
          /not found/,
        ],
      ];
      for (const [body, status, code, message] of cases) {
        const r = await t.call('POST', '/api/ice/signal', { token: p1.token, body: body as object });
        assert.equal(r.status, status, JSON.stringify(body).slice(0, 100));
        assert.equal(r.body.error.code, code);
        assert.match(r.body.error.message, message);
      }
      assert.equal(
        (await t.app.sdrlink.storage.sessions.get(sid))?.status,
        'pending',
        'nothing claimed the session',
      );
      const noOffer = await signal(c1, sid, 'answer', ANSWER);
      assert.equal(noOffer.status, 409);
      assert.equal(noOffer.body.error.code, 'ERR_SESSION_STATE');
      assert.equal(
        (await t.call('GET', `/api/ice/signals/${randomUUID()}`, { token: c1.token })).status,
        404,
      );
      assert.equal((await t.call('GET', '/api/ice/signals/not-a-uuid', { token: c1.token })).status, 400);
      const missing = await t.call('GET', '/api/ice/signals', { token: c1.token });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.error.message, 'querystring.session_id is required');
      const badAfter = await t.call('GET', `/api/ice/signals/${sid}?after=x`, { token: c1.token });
      assert.equal(badAfter.status, 400);
      assert.equal(badAfter.body.error.message, 'querystring.after must be a non-negative decimal integer');
    });

    it('a provider refuses an open session with an error signal: claimed and failed at once, the consumer is told', async () => {
      const s = await initiate(c1);
      const e = await signal(
        p2,
        s.session_id,
        'error',
        JSON.stringify({ code: 'ERR_PARAMS', message: 'duration < 0' }),
      );
      assert.equal(e.status, 200);
      const got = await t.call('GET', `/api/ice/sessions/${s.session_id}`, { token: c1.token });
      assert.equal(got.body.status, 'failed');
      assert.equal(got.body.target_user_id, p2.id);
      const forC1 = await t.call('GET', `/api/ice/signals/${s.session_id}`, { token: c1.token });
      assert.equal(forC1.body.length, 1);
      assert.equal(forC1.body[0].signal_type, 'error');
      // Another provider can no longer take it.
      assert.equal((await signal(p1, s.session_id, 'offer', OFFER)).status, 409);
    });

    it('fails a session on an error signal, then refuses signals (409)', async () => {
      const s = await initiate(c1);
      assert.equal((await signal(p2, s.session_id, 'offer', OFFER)).status, 200);
      const e = await signal(
        p2,
        s.session_id,
        'error',
        JSON.stringify({ code: 'ERR_PARAMS', message: 'bad' }),
      );
      assert.equal(e.status, 200);
      assert.equal(
        (await t.call('GET', `/api/ice/sessions/${s.session_id}`, { token: c1.token })).body.status,
        'failed',
      );
      const late = await signal(p2, s.session_id, 'candidate', CAND);
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'ERR_SESSION_STATE');
    });
  });

  describe('cancel and transfers', () => {
    it('cancels (participants only; 409 once final)', async () => {
      const s = await initiate(c1);
      assert.equal(
        (await t.call('POST', `/api/ice/sessions/${s.session_id}/cancel`, { token: c2.token })).status,
        403,
      );
      const ok = await t.call('POST', `/api/ice/sessions/${s.session_id}/cancel`, { token: c1.token });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.status, 'cancelled');
      const again = await t.call('POST', `/api/ice/sessions/${s.session_id}/cancel`, { token: c1.token });
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'ERR_SESSION_STATE');
      assert.equal(
        (await t.call('POST', `/api/ice/sessions/${randomUUID()}/cancel`, { token: c1.token })).status,
        404,
      );
    });

    it('records progress and outcome, moves the session, lists each user’s transfers', async () => {
      const s = await initiate(c2);
      const sid = s.session_id;
      const early = await t.call('POST', `/api/transfers/${sid}`, {
        token: c2.token,
        body: { status: 'connected' },
      });
      assert.equal(early.status, 409, 'no provider yet');
      assert.equal((await signal(p1, sid, 'offer', OFFER)).status, 200);
      const r1 = await t.call('POST', `/api/transfers/${sid}`, {
        token: p1.token,
        body: { status: 'transferring', bytes: 1024, file_size: 4096, transport: 'p2p' },
      });
      assert.equal(r1.status, 200);
      assert.equal(r1.body.status, 'transferring');
      const sha = 'ab'.repeat(32);
      const done = await t.call('POST', `/api/transfers/${sid}`, {
        token: c2.token,
        body: {
          status: 'completed',
          bytes: 4096,
          sha256: sha,
          duration_ms: 250,
          verified: true,
          file_name: 'spectrum_1.npz',
        },
      });
      assert.equal(done.status, 200);
      assert.equal(done.body.status, 'completed');
      assert.equal(done.body.sha256, sha);
      assert.equal(done.body.transport, 'p2p');
      assert.equal(done.body.duration_ms, 250);
      assert.equal(typeof done.body.completed_at, 'string');
      assert.equal(
        (await t.call('POST', `/api/transfers/${sid}`, { token: p1.token, body: { status: 'completed' } }))
          .status,
        200,
        'idempotent',
      );
      const conflict = await t.call('POST', `/api/transfers/${sid}`, {
        token: p1.token,
        body: { status: 'failed', error: 'x' },
      });
      assert.equal(conflict.status, 409);
      const stranger = await t.call('POST', `/api/transfers/${sid}`, {
        token: p2.token,
        body: { status: 'failed' },
      });
      assert.equal(stranger.status, 403);
      const bad = await t.call('POST', `/api/transfers/${sid}`, {
        token: p1.token,
        body: { status: 'done', sha256: 'XYZ' },
      });
      assert.equal(bad.status, 400);
      assert.equal(
        bad.body.error.message,
        'body.status must be one of connected, transferring, completed, failed',
      );
      const badSha = await t.call('POST', `/api/transfers/${sid}`, {
        token: p1.token,
        body: { status: 'completed', sha256: 'XYZ' },
      });
      assert.equal(badSha.body.error.message, 'body.sha256 must be 64 lowercase hex digits');
      assert.equal(
        (
          await t.call('POST', `/api/transfers/${randomUUID()}`, {
            token: p1.token,
            body: { status: 'failed' },
          })
        ).status,
        404,
      );
      const mine = (await t.call('GET', '/api/transfers', { token: p1.token })).body as Array<{
        session_id: string;
        status: string;
      }>;
      assert.equal(mine[0]?.session_id, sid);
      assert.equal(mine[0]?.status, 'completed');
      const theirs = (await t.call('GET', '/api/transfers', { token: c1.token })).body as Array<{
        session_id: string;
      }>;
      assert.ok(!theirs.some((x) => x.session_id === sid));
      const hist = (await t.call('GET', `/api/ice/sessions/${sid}`, { token: c2.token })).body
        .history as Array<{ status: string; at: string }>;
      assert.deepEqual(
        hist.map((h) => h.status),
        ['pending', 'offered', 'transferring', 'completed'],
      );
      assert.ok(hist.every((h) => !Number.isNaN(Date.parse(h.at))));
    });
  });

  describe('configuration, health, unknown routes', () => {
    it('returns the configured ICE servers', async () => {
      const r = await t.call('GET', '/api/ice/config', { token: c1.token });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { ice_servers: [{ urls: ['stun:127.0.0.1:3478'] }], relay_after_ms: 5000 });
    });

    it('answers /healthz without a token', async () => {
      const r = await t.call('GET', '/healthz');
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'ok');
      assert.equal(typeof r.body.uptime_s, 'number');
    });

    it('answers plain HTTP on the WebSocket routes with 426 ERR_UPGRADE_REQUIRED', async () => {
      for (const url of ['/api/ws', `/api/relay/${randomUUID()}`]) {
        const r = await t.call('GET', url);
        assert.equal(r.status, 426, url);
        assert.equal(r.body.error.code, 'ERR_UPGRADE_REQUIRED');
      }
    });

    it('answers an unknown route with 404 ERR_NOT_FOUND in the one error shape', async () => {
      const r = await t.call('DELETE', '/api/ice/sessions');
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, {
        error: { code: 'ERR_NOT_FOUND', message: 'no route DELETE /api/ice/sessions' },
      });
    });
  });
});

describe('signaling: limits and defaults', () => {
  it('serves an empty ICE list by default and caps open sessions per consumer (429)', async () => {
    const t = await testApp({ maxOpenSessionsPerUser: 2 });
    try {
      const c = await t.user('c', 2);
      assert.deepEqual((await t.call('GET', '/api/ice/config', { token: c.token })).body.ice_servers, []);
      for (let i = 0; i < 2; i++) {
        assert.equal(
          (
            await t.call('POST', '/api/ice/initiate', {
              token: c.token,
              body: { request_type: 'signal', parameters: '{}' },
            })
          ).status,
          201,
        );
      }
      const r = await t.call('POST', '/api/ice/initiate', {
        token: c.token,
        body: { request_type: 'signal', parameters: '{}' },
      });
      assert.equal(r.status, 429);
      assert.equal(r.body.error.code, 'ERR_TOO_MANY_SESSIONS');
    } finally {
      await t.close();
    }
  });

  it('expires stale sessions on its timer and records the transition', async () => {
    let clock = Date.parse('2024-01-01T00:00:00.000Z');
    const t = await testApp({ sessionTtlMs: 1000, sweepIntervalMs: 20, now: () => clock });
    try {
      const c = await t.user('c', 2);
      const s = await t.call('POST', '/api/ice/initiate', {
        token: c.token,
        body: { request_type: 'signal', parameters: '{}' },
      });
      clock += 5000;
      const deadline = Date.now() + 5000;
      let status = '';
      while (Date.now() < deadline) {
        status = (await t.call('GET', `/api/ice/sessions/${s.body.session_id as string}`, { token: c.token }))
          .body.status;
        if (status === 'expired') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(status, 'expired');
      const tr = (await t.call('GET', '/api/transfers', { token: c.token })).body as Array<{
        status: string;
      }>;
      assert.equal(tr[0]?.status, 'expired');
    } finally {
      await t.close();
    }
  });
});
