/**
 * The consumer's view of a session's claims (docs/api.md §3 "Claim timeout"), as state transitions of
 * SessionSignals: an offer taken, the claim released (status `pending`, or a newer attempt's offer or
 * candidate), the next offer taken, a released claim's late candidates dropped. Signals are fed the way
 * push feeds them; the router's client is a stand-in that never has anything to poll.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClaimSupersededError, SessionSignals, SignalRouter } from './session-signals.js';
import type { IceSignal, SignalingClient } from './signaling-client.js';

const SID = '00000000-0000-4000-8000-000000000001';

function setup(peerRole: 'provider' | 'consumer' = 'provider') {
  const client = {
    pushUp: true,
    getSignals: () => Promise.resolve([]),
    onAuthRefused: () => () => undefined,
  } as unknown as SignalingClient;
  const router = new SignalRouter(client, 60_000);
  const signals = new SessionSignals(router, SID, peerRole);
  let id = 0;
  // each signal's data differs, as real candidates do (a signal of the same content is taken once)
  const sig = (type: string, attempt: number | undefined, from = '7'): IceSignal => ({
    id: ++id,
    session_id: SID,
    signal_type: type,
    signal_data:
      type === 'candidate' ? `{"candidate":"candidate:${id}"}` : `{"type":"${type}","sdp":"v=0 ${id}"}`,
    from_client_id: from,
    to_client_id: '2',
    created_at: new Date().toISOString(),
    ...(attempt === undefined ? {} : { attempt }),
  });
  const stale: IceSignal[] = [];
  signals.onStale = (s) => stale.push(s);
  return {
    router,
    signals,
    stale,
    push: (type: string, attempt?: number, from?: string) => {
      const s = sig(type, attempt, from);
      router.deliver(s);
      return s;
    },
    close: () => {
      signals.close();
      router.close();
    },
  };
}

const settled = async (p: Promise<unknown>) => {
  let state = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((r) => setImmediate(r));
  return state;
};

describe('SessionSignals: claims released and re-offered', () => {
  it('a release (status pending) supersedes the taken claim; the next offer is a new promise; old candidates drop', async () => {
    const t = setup();
    const got: number[] = [];
    t.signals.onCandidate = (s) => got.push(s.id);
    const first = t.push('offer', 0, 'rogue');
    assert.equal((await t.signals.offer).id, first.id);
    const c0 = t.push('candidate', 0, 'rogue');
    assert.deepEqual(got, [c0.id]);
    const superseded = t.signals.superseded;
    assert.equal(await settled(superseded), 'pending');

    t.router.deliverStatus(SID, 'pending');
    await assert.rejects(superseded, (e: unknown) => {
      assert.ok(e instanceof ClaimSupersededError);
      assert.equal(e.attempt, 0);
      assert.equal(e.why, 'released');
      return true;
    });
    assert.equal(await settled(t.signals.offer), 'pending', 'waiting for the next offer');
    assert.equal(t.signals.onCandidate, undefined, 'the old peer takes no more candidates');

    // the released claim's late candidate: dropped; the next claim's early candidate: kept for its peer
    const late = t.push('candidate', 0, 'rogue');
    const early = t.push('candidate', 1, 'good');
    assert.deepEqual(
      t.stale.map((s) => s.id),
      [late.id],
    );
    const second = t.push('offer', 1, 'good');
    assert.equal((await t.signals.offer).id, second.id);
    const got2: number[] = [];
    t.signals.onCandidate = (s) => got2.push(s.id);
    assert.deepEqual(got2, [early.id], 'handed to the new peer when it subscribes');
    t.push('candidate', 0, 'rogue');
    assert.deepEqual(got2, [early.id]);
    assert.equal(await settled(t.signals.superseded), 'pending', 'the new claim stands');
    t.close();
  });

  it('an offer of a newer attempt supersedes the taken claim even without the status (polling)', async () => {
    const t = setup();
    t.push('offer', 0);
    await t.signals.offer;
    const superseded = t.signals.superseded;
    const next = t.push('offer', 2, 'good');
    await assert.rejects(
      superseded,
      (e: unknown) => e instanceof ClaimSupersededError && e.why === 'new-offer',
    );
    assert.equal((await t.signals.offer).id, next.id);
    t.push('offer', 1);
    assert.equal(t.stale.length, 1, 'an older attempt is dropped');
    t.close();
  });

  it('nothing supersedes before an offer was taken, and a seed server (no attempts) behaves as before', async () => {
    const t = setup();
    t.router.deliverStatus(SID, 'pending');
    assert.equal(await settled(t.signals.superseded), 'pending');
    const o = t.push('offer', undefined);
    t.push('offer', undefined); // a renegotiation: the first offer stands
    assert.equal((await t.signals.offer).id, o.id);
    const got: number[] = [];
    t.signals.onCandidate = (s) => got.push(s.id);
    const c = t.push('candidate', undefined);
    assert.deepEqual(got, [c.id]);
    assert.equal(await settled(t.signals.superseded), 'pending');
    t.close();
  });

  it('on the provider’s side (the peer is the consumer) attempts are not checked', async () => {
    const t = setup('consumer');
    const got: number[] = [];
    t.signals.onCandidate = (s) => got.push(s.id);
    const a = t.push('candidate', 3);
    const b = t.push('candidate', 0);
    assert.deepEqual(got, [a.id, b.id]);
    assert.equal(t.stale.length, 0);
    t.close();
  });
});

describe('SignalRouter: each signal once', () => {
  it('a signal posted again (its instance died before answering: stored twice, two ids) is taken once; another is not', () => {
    const client = {
      pushUp: true,
      getSignals: () => Promise.resolve([]),
      onAuthRefused: () => () => undefined,
    } as unknown as SignalingClient;
    const router = new SignalRouter(client, 60_000);
    const got: number[] = [];
    const off = router.subscribe(SID, (s) => got.push(s.id));
    const base = {
      session_id: SID,
      from_client_id: '7',
      to_client_id: '2',
      created_at: new Date().toISOString(),
      attempt: 0,
    };
    const cand = (id: number, c: string, attempt = 0): IceSignal => ({
      ...base,
      id,
      attempt,
      signal_type: 'candidate',
      signal_data: JSON.stringify({ candidate: c }),
    });
    router.deliver(cand(1, 'candidate:a'));
    router.deliver(cand(1, 'candidate:a')); // the same id (push, then a poll)
    router.deliver(cand(2, 'candidate:a')); // posted again: a new id, the same content
    router.deliver(cand(3, 'candidate:b'));
    router.deliver(cand(4, 'candidate:a', 1)); // the same candidate under the next claim: a new signal
    assert.deepEqual(got, [1, 3, 4]);
    off();
    router.close();
  });
});
