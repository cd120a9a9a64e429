/**
 * The cluster's pieces alone: the bus message codec (a record too large for a NOTIFY goes by id; a
 * malformed or foreign message is refused) and presence (a provider connected to one instance is
 * connected for the other until that instance misses its heartbeats, or says goodbye), over an
 * in-process bus with the PostgreSQL bus's contract (every instance receives every message, its own too).
 * The same over a real PostgreSQL: test/e2e/cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSqliteStorage } from '../../storage/sqlite/sqlite-storage.js';
import { CLUSTER_PAYLOAD_MAX, type ClusterBus, type SessionRecord } from '../../storage/types.js';
import { UserDirectory } from '../signaling/directory.js';
import { SignalingHub } from '../signaling/hub.js';
import { ProviderRegistry } from '../signaling/providers.js';
import { Cluster, PEER_EXPIRY_BEATS, newInstanceId } from './cluster.js';
import { decodeClusterMessage, encodeClusterMessage } from './codec.js';

const session = (parameters: string): SessionRecord => ({
  sessionId: '6f1c3a52-6a3e-4b8e-9d7e-0c2b7d1e4f10',
  initiatorUserId: 2,
  targetUserId: null,
  requestType: 'spectrum',
  parameters,
  status: 'pending',
  capabilities: ['sdrlink/1'],
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  attempt: 0,
  claimedAt: null,
  namedUserId: null,
});

describe('cluster message codec', () => {
  test('a small session travels whole; one over the NOTIFY limit travels as its id and status', () => {
    const small = encodeClusterMessage({ i: 'a1', t: 'created', s: session('{}') });
    const d1 = decodeClusterMessage(small);
    assert.ok(d1.ok);
    assert.ok('s' in d1.value && d1.value.s.sessionId === session('{}').sessionId);

    const big = session(JSON.stringify({ note: 'x'.repeat(CLUSTER_PAYLOAD_MAX) }));
    const text = encodeClusterMessage({ i: 'a1', t: 'status', s: { ...big, status: 'offered' } });
    assert.ok(Buffer.byteLength(text) <= CLUSTER_PAYLOAD_MAX);
    const d2 = decodeClusterMessage(text);
    assert.ok(d2.ok, d2.ok ? '' : d2.error);
    assert.deepEqual(d2.value, { i: 'a1', t: 'status', ref: big.sessionId, st: 'offered' });
  });

  test('a signal with a large SDP travels as its id, session and addressee', () => {
    const g = {
      id: 41,
      sessionId: session('{}').sessionId,
      signalType: 'offer' as const,
      signalData: JSON.stringify({ type: 'offer', sdp: 'a=x\r\n'.repeat(4000) }),
      fromUserId: 1,
      toUserId: 2,
      createdAt: '2026-01-01T00:00:00.000Z',
      attempt: 0,
    };
    const d = decodeClusterMessage(encodeClusterMessage({ i: 'a1', t: 'signal', g }));
    assert.ok(d.ok);
    assert.deepEqual(d.value, { i: 'a1', t: 'signal', ref: 41, sid: g.sessionId, to: 2 });
  });

  test('malformed and unknown messages are refused with the reason', () => {
    for (const text of [
      'not json',
      '{}',
      JSON.stringify({ i: 'a1', t: 'created' }),
      JSON.stringify({ i: 'a1', t: 'nope' }),
      JSON.stringify({ i: 'bad id!', t: 'catalog', u: 1 }),
      JSON.stringify({ i: 'a1', t: 'status', ref: 'x', st: 'weird' }),
      JSON.stringify({ i: 'a1', t: 'presence', url: 'http://x', p: [-1], seen: [] }),
    ]) {
      const d = decodeClusterMessage(text);
      assert.equal(d.ok, false, text);
      assert.ok(!d.ok && d.error.length > 0);
    }
  });
});

/** Every instance receives every message, in order, its own included (as PostgreSQL's NOTIFY does). */
class MemoryBus {
  readonly #members: Array<(p: string) => void> = [];
  member(): ClusterBus {
    let fn: ((p: string) => void) | undefined;
    this.#members.push((p) => fn?.(p));
    return {
      publish: (payload) => {
        for (const m of this.#members) m(payload);
        return Promise.resolve();
      },
      onMessage: (f) => {
        fn = f;
      },
      onReconnect: () => undefined,
      close: () => Promise.resolve(),
    };
  }
}

const silent = {
  level: 'silent',
  fatal: () => undefined,
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  trace: () => undefined,
  silent: () => undefined,
  child: () => silent,
} as never;

function node(bus: MemoryBus, id: string, clock: { t: number }) {
  const storage = createSqliteStorage(':memory:');
  const now = () => clock.t;
  const hub = new SignalingHub();
  const directory = new UserDirectory(storage, [], now);
  const providers = new ProviderRegistry(storage, directory, (u) => hub.connected(u), now);
  const cluster = new Cluster({
    bus: bus.member(),
    storage,
    owners: {
      openBus: () => Promise.reject(new Error('unused')),
      claimRelayOwner: () => Promise.resolve(undefined),
    },
    hub,
    providers,
    directory,
    log: silent,
    now,
    instanceId: id,
    heartbeatMs: 60_000, // the test moves the clock; the real timer never fires during it
  });
  return { storage, hub, cluster };
}

describe('cluster presence', () => {
  test('a provider connected to one instance is connected for the other until that one goes quiet', async () => {
    const bus = new MemoryBus();
    const clock = { t: 1_000_000 };
    const x = node(bus, 'x', clock);
    const y = node(bus, 'y', clock);
    x.cluster.start('http://x.example:1');
    y.cluster.start('http://y.example:2');
    try {
      const off = x.hub.subscribe({ userId: 7, clientType: 1, mayServe: () => true, send: () => undefined });
      await new Promise((r) => setTimeout(r, 30)); // the prompt heartbeat after a change (10 ms)
      assert.equal(y.hub.connected(7), true);
      assert.deepEqual(y.hub.connectedProviders(), [7]);
      assert.equal(x.hub.connected(7), true);
      assert.deepEqual(
        y.cluster.peers().map((p) => [p.instanceId, p.url, p.providers]),
        [['x', 'http://x.example:1', 1]],
      );
      // its heartbeats stop (a killed process): after PEER_EXPIRY_BEATS beats, gone
      clock.t += 60_000 * PEER_EXPIRY_BEATS - 1;
      assert.equal(y.hub.connected(7), true);
      clock.t += 1;
      assert.equal(y.hub.connected(7), false);
      assert.deepEqual(y.cluster.peers(), []);
      assert.equal(y.cluster.isAlive('x'), false);
      // the provider leaves X: X's next heartbeat says so
      off();
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(y.hub.connected(7), false);
      assert.equal(y.cluster.isAlive('x'), true);
      // a goodbye removes an instance at once
      await x.cluster.close();
      assert.equal(y.cluster.isAlive('x'), false);
    } finally {
      await x.cluster.close();
      await y.cluster.close();
      await x.storage.close();
      await y.storage.close();
    }
  });

  test('an event is delivered once on each instance: locally at once, remotely through the bus', async () => {
    const bus = new MemoryBus();
    const clock = { t: 5_000 };
    const x = node(bus, 'x', clock);
    const y = node(bus, 'y', clock);
    x.cluster.start('');
    y.cluster.start('');
    try {
      const gotX: string[] = [];
      const gotY: string[] = [];
      x.hub.subscribe({ userId: 2, clientType: 2, mayServe: () => false, send: (t) => gotX.push(t) });
      y.hub.subscribe({ userId: 2, clientType: 2, mayServe: () => false, send: (t) => gotY.push(t) });
      x.hub.sessionStatus({ ...session('{}'), status: 'offered' });
      x.hub.toUser(2, { type: 'session-claimed', session_id: session('{}').sessionId });
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(gotX.length, 2);
      assert.deepEqual(gotY, gotX, 'the same messages, in the same order, once');
    } finally {
      await x.cluster.close();
      await y.cluster.close();
      await x.storage.close();
      await y.storage.close();
    }
  });

  test('instance ids are short and random', () => {
    const a = newInstanceId();
    assert.match(a, /^[0-9a-f]{8}$/);
    assert.notEqual(a, newInstanceId());
  });
});
