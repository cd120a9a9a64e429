/**
 * connectWithFallback and runWithFailover against a scripted channel factory: which failures send a
 * session to the relay (and with which typed reason), and which do not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransferError } from '../protocol/errors.js';
import { AgentError } from './errors.js';
import type { SessionSignals } from './session-signals.js';
import type { IceSignal } from './signaling-client.js';
import {
  connectWithFallback,
  directFailure,
  FAILOVER_RELAY_WAIT_MS,
  offerCapabilities,
  declaresUdpBlocked,
  pathRoute,
  peerJoinsRelay,
  refreshExpiredCredentials,
  runWithFailover,
  withAbort,
  type ChannelFactory,
  type OpenedChannel,
  type SessionLink,
  type TransportChoice,
} from './transport.js';

function fakeOpened(kind: 'p2p' | 'relay'): OpenedChannel & { closed: boolean } {
  const o = {
    channel: {} as OpenedChannel['channel'],
    kind,
    closed: false,
    close: () => {
      o.closed = true;
    },
  };
  return o;
}

/** A factory whose direct attempt fails with `direct` (or opens), recording the calls. */
function scripted(direct?: Error): ChannelFactory & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    openP2P: async (_link, role, postOffer) => {
      calls.push(`p2p:${role}`);
      if (postOffer !== undefined) await postOffer('{"type":"offer","sdp":"v=0\\r\\n"}');
      if (direct !== undefined) throw direct;
      return fakeOpened('p2p');
    },
    openRelay: () => {
      calls.push('relay');
      return Promise.resolve(fakeOpened('relay'));
    },
  };
}

function link(offer: Promise<IceSignal> = new Promise(() => undefined)): SessionLink {
  const failed = new Promise<never>(() => undefined);
  return {
    client: {} as SessionLink['client'],
    sessionId: 's1',
    token: 't',
    signals: { offer, answer: new Promise(() => undefined), failed } as unknown as SessionSignals,
    iceServers: [],
    connectTimeoutMs: 50,
    offerTimeoutMs: 20,
    relayTimeoutMs: 50,
  };
}

const OFFER: IceSignal = {
  id: 1,
  session_id: 's1',
  signal_type: 'offer',
  signal_data: '{}',
  from_client_id: 'p1',
  to_client_id: 'c1',
  created_at: '2026-01-01T00:00:00.000Z',
};

const iceFailed = () => new AgentError('ERR_ICE_FAILED', 'direct connection failed: test');
const channelTimeout = () =>
  new AgentError('ERR_CONNECT_TIMEOUT', 'no open data channel within 50 ms', { waitingFor: 'channel' });
const noProvider = () =>
  new AgentError('ERR_CONNECT_TIMEOUT', 'no provider answered within 20 ms', { waitingFor: 'offer' });

describe('connectWithFallback', () => {
  it('under auto, takes the relay when ICE fails or the channel times out, and says which', async () => {
    for (const [err, reason] of [
      [iceFailed(), 'ice-failed'],
      [channelTimeout(), 'connect-timeout'],
    ] as const) {
      const f = scripted(err);
      const c = await connectWithFallback(link(), { choice: 'auto', role: 'answerer', channels: f });
      assert.equal(c.opened.kind, 'relay');
      assert.deepEqual(c.fallback, { kind: 'relay', reason, message: err.message });
      assert.deepEqual(f.calls, ['p2p:answerer', 'relay']);
    }
  });

  it('under p2p, fails with the direct failure and never tries the relay', async () => {
    const f = scripted(iceFailed());
    await assert.rejects(
      connectWithFallback(link(), { choice: 'p2p', role: 'answerer', channels: f }),
      (err: unknown) => directFailure(err) === 'ice-failed',
    );
    assert.deepEqual(f.calls, ['p2p:answerer']);
  });

  it('does not take "no provider answered" for a path failure (typed, not read from the message)', async () => {
    const f = scripted(noProvider());
    await assert.rejects(
      connectWithFallback(link(), { choice: 'auto', role: 'answerer', channels: f }),
      (err: unknown) => err instanceof AgentError && err.waitingFor === 'offer',
    );
    assert.deepEqual(f.calls, ['p2p:answerer']);
    assert.equal(directFailure(noProvider()), undefined);
    assert.equal(directFailure(new AgentError('ERR_PROVIDER', 'provider refused: ERR_PARAMS: x')), undefined);
  });

  it('toward a peer that declared no relay capability, ends with the direct failure at once', async () => {
    for (const err of [iceFailed(), channelTimeout()]) {
      const f = scripted(err);
      const l = { ...link(), peerRelays: false };
      await assert.rejects(
        connectWithFallback(l, {
          choice: 'auto',
          role: 'offerer',
          channels: f,
          claim: async () => undefined,
        }),
        (e: unknown) => e === err,
      );
      assert.deepEqual(f.calls, ['p2p:offerer'], 'no relay tried');
    }
  });

  it('reads the relay capability from a session or an offer (seed clients declare none)', () => {
    assert.equal(peerJoinsRelay(['sdrlink/1', 'relay']), true);
    assert.equal(peerJoinsRelay(['relay']), true);
    assert.equal(peerJoinsRelay(['sdrlink/1']), true, 'ours before `relay` was declared');
    assert.equal(peerJoinsRelay([]), false);
    assert.deepEqual(
      offerCapabilities('{"type":"offer","sdp":"v=0","capabilities":["sdrlink/1","relay",5]}'),
      ['sdrlink/1', 'relay'],
    );
    assert.deepEqual(offerCapabilities('{"type":"offer","sdp":"v=0"}'), []);
    assert.deepEqual(offerCapabilities('not json'), []);
  });

  it('opens the direct channel when it works: no fallback', async () => {
    const c = await connectWithFallback(link(), { choice: 'auto', role: 'answerer', channels: scripted() });
    assert.equal(c.opened.kind, 'p2p');
    assert.equal(c.fallback, undefined);
  });

  it('under relay, the offerer claims with a bare offer and the answerer waits for it first', async () => {
    const claims: string[] = [];
    const f = scripted();
    const offerer = await connectWithFallback(link(), {
      choice: 'relay',
      role: 'offerer',
      channels: f,
      claim: (offer) => {
        claims.push(offer);
        return Promise.resolve();
      },
    });
    assert.equal(offerer.opened.kind, 'relay');
    assert.deepEqual(
      claims.map((c) => JSON.parse(c) as unknown),
      [{ type: 'offer', sdp: 'v=0\r\n' }],
    );
    const l = link(Promise.resolve(OFFER));
    await connectWithFallback(l, { choice: 'relay', role: 'answerer', channels: f });
    assert.equal(l.providerId, 'p1');
    await assert.rejects(
      connectWithFallback(link(), { choice: 'relay', role: 'answerer', channels: f }),
      (err: unknown) => err instanceof AgentError && err.waitingFor === 'offer',
    );
    assert.deepEqual(f.calls, ['relay', 'relay']);
  });
});

describe('runWithFailover', () => {
  const died = () => new TransferError('ERR_CHANNEL_CLOSED', 'the channel closed');

  async function run(choice: TransportChoice, resumable: boolean, first: Error) {
    const f = scripted();
    const legs: string[] = [];
    const relays: string[] = [];
    const direct = fakeOpened('p2p');
    const result = runWithFailover(
      direct,
      { link: link(), channels: f, choice, resumable, onRelay: (_o, why) => relays.push(why.reason) },
      (o) => {
        legs.push(o.kind);
        return o.kind === 'p2p' ? Promise.reject(first) : Promise.resolve('done');
      },
    );
    return { result, legs, relays, direct };
  }

  it('under auto, carries on over the relay once when the direct channel dies', async () => {
    const r = await run('auto', true, died());
    assert.equal(await r.result, 'done');
    assert.deepEqual(r.legs, ['p2p', 'relay']);
    assert.deepEqual(r.relays, ['channel-lost']);
    assert.equal(r.direct.closed, true);
  });

  it('does not fail over under p2p, toward a peer that cannot resume, or for another failure', async () => {
    for (const [choice, resumable, err] of [
      ['p2p', true, died()],
      ['auto', false, died()],
      ['auto', true, new TransferError('ERR_FRAME_CRC', 'bad frame')],
    ] as const) {
      const r = await run(choice, resumable, err);
      await assert.rejects(r.result, (e: unknown) => e === err);
      assert.deepEqual(r.legs, ['p2p']);
    }
  });

  /** A factory whose relay records the wait it was given, and opens or not. */
  function relayWaits(opens: boolean): ChannelFactory & { waits: number[] } {
    const waits: number[] = [];
    return {
      waits,
      openP2P: () => Promise.reject(new Error('not used')),
      openRelay: (l) => {
        waits.push(l.relayTimeoutMs);
        return opens
          ? Promise.resolve(fakeOpened('relay'))
          : Promise.reject(
              new AgentError('ERR_CONNECT_TIMEOUT', 'relay: peer did not join', { waitingFor: 'relay' }),
            );
      },
    };
  }
  const gone = () => new TransferError('ERR_PEER_GONE', 'receive: nothing from the peer for 5000 ms');
  const failOver = (f: ChannelFactory, first: Error) =>
    runWithFailover(
      fakeOpened('p2p'),
      { link: link(), channels: f, choice: 'auto', resumable: true, onRelay: () => undefined },
      (o) => (o.kind === 'p2p' ? Promise.reject(first) : Promise.resolve('done')),
    );

  it('a peer gone silent (ERR_PEER_GONE) fails over with the link’s own relay wait, not the 45 s one', async () => {
    const quick = relayWaits(true);
    assert.equal(await failOver(quick, gone()), 'done');
    assert.deepEqual(quick.waits, [50], 'it keeps alive, so it notices as fast as this side did');
    const slow = relayWaits(true);
    assert.equal(await failOver(slow, died()), 'done');
    assert.deepEqual(
      slow.waits,
      [FAILOVER_RELAY_WAIT_MS],
      'a peer without keepalive may take its idle timeout',
    );
  });

  it('when nobody comes to the relay after ERR_PEER_GONE, the silence stays the cause', async () => {
    await assert.rejects(failOver(relayWaits(false), gone()), (e: unknown) => {
      assert.ok(e instanceof TransferError);
      assert.equal(e.code, 'ERR_PEER_GONE');
      assert.match(e.message, /did not come to the relay either/);
      return true;
    });
    // another loss keeps the relay's own answer, as before
    await assert.rejects(
      failOver(relayWaits(false), died()),
      (e: unknown) => e instanceof AgentError && e.code === 'ERR_CONNECT_TIMEOUT',
    );
  });
});

describe('withAbort', () => {
  it('times out with ERR_CONNECT_TIMEOUT carrying what it waited for', async () => {
    await assert.rejects(
      withAbort(new Promise(() => undefined), { ms: 1, what: 'no answer', waitingFor: 'answer' }),
      (err: unknown) =>
        err instanceof AgentError && err.code === 'ERR_CONNECT_TIMEOUT' && err.waitingFor === 'answer',
    );
  });
});

describe('paths, UDP-blocked descriptions and TURN credential refresh', () => {
  it('names the route of a path', () => {
    assert.equal(pathRoute('host-host/udp', 'p2p'), 'direct');
    assert.equal(pathRoute('srflx-prflx/udp', 'p2p'), 'direct');
    assert.equal(pathRoute('relay-srflx/udp', 'p2p'), 'TURN');
    assert.equal(pathRoute('prflx-relay/udp', 'p2p'), 'TURN');
    assert.equal(pathRoute('ws-relay', 'relay'), 'WebSocket relay');
    assert.equal(pathRoute(undefined, 'p2p'), 'p2p');
  });

  it('reads the udp: blocked mark of a description, and nothing else', () => {
    assert.equal(declaresUdpBlocked('{"type":"answer","sdp":"v=0","udp":"blocked"}'), true);
    assert.equal(declaresUdpBlocked('{"type":"answer","sdp":"v=0"}'), false);
    assert.equal(declaresUdpBlocked('{"udp":true}'), false);
    assert.equal(declaresUdpBlocked('null'), false);
    assert.equal(declaresUdpBlocked('not json'), false);
  });

  it('fetches the ICE servers again when a TURN credential is within a minute of expiry, and only then', async () => {
    const now = 1_800_000_000_000;
    let fetches = 0;
    const fresh = [{ urls: 'turn:10.0.0.1', username: `${now / 1000 + 3600}:7`, credential: 'new' }];
    const l = link();
    l.client = {
      iceConfig: () => {
        fetches++;
        return Promise.resolve({ ice_servers: fresh, relay_after_ms: 5000 });
      },
    } as unknown as SessionLink['client'];
    l.iceServers = [{ urls: 'turn:10.0.0.1', username: `${now / 1000 + 600}:7`, credential: 'old' }];
    await refreshExpiredCredentials(l, now);
    assert.equal(fetches, 0, 'ten minutes left: kept');
    l.iceServers = [{ urls: 'turn:10.0.0.1', username: `${now / 1000 + 30}:7`, credential: 'old' }];
    await refreshExpiredCredentials(l, now);
    assert.equal(fetches, 1);
    assert.deepEqual(l.iceServers, fresh);
    l.iceServers = [{ urls: 'stun:10.0.0.1' }];
    await refreshExpiredCredentials(l, now);
    assert.equal(fetches, 1, 'no TURN credential: nothing to refresh');
  });
});
