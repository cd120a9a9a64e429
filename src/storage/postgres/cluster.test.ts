/**
 * The PostgreSQL side of several instances (src/storage/postgres/cluster.ts) on a real PostgreSQL
 * (test/helpers/postgres.ts): the relay owner is recorded once (two instances asking at once agree) and
 * taken over only from the instance named as gone; the bus delivers every message to every listener in
 * the order each publisher sent it, refuses a payload over NOTIFY's limit, and after a PostgreSQL restart
 * its listening connection comes back by itself, says so, and delivers again. SQLite has no `cluster`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { postgresSkip, startPostgres, type PostgresServer } from '../../../test/helpers/postgres.js';
import { createSqliteStorage } from '../sqlite/sqlite-storage.js';
import { CLUSTER_PAYLOAD_MAX, type ClusterBus, type Storage } from '../types.js';
import { createPostgresStorage } from './postgres-storage.js';

/** Collects a bus's messages; `wait(n)` resolves once `n` arrived. */
function collect(bus: ClusterBus): { got: string[]; wait(n: number): Promise<void> } {
  const got: string[] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  bus.onMessage((p) => {
    got.push(p);
    if (waiter !== undefined && got.length >= waiter.n) waiter.resolve();
  });
  return {
    got,
    wait: (n) =>
      got.length >= n
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            waiter = { n, resolve };
          }),
  };
}

async function newSession(s: Storage): Promise<string> {
  const u = await s.users.create(
    { username: `u${randomUUID().slice(0, 8)}`, passwordHash: 'x', clientType: 2, requestTypes: [] },
    new Date().toISOString(),
  );
  const sid = randomUUID();
  await s.sessions.create(
    {
      sessionId: sid,
      initiatorUserId: u.id,
      targetUserId: null,
      requestType: 'spectrum',
      parameters: '{}',
      capabilities: [],
      fileName: 'x.npz',
      fileSize: 0,
      fileType: null,
    },
    new Date().toISOString(),
  );
  return sid;
}

describe('PostgreSQL cluster storage', { skip: postgresSkip() }, () => {
  let pgs: PostgresServer;
  before(async () => {
    pgs = await startPostgres();
  });
  after(async () => {
    await pgs?.stop();
  });

  it('SQLite is one instance: no cluster', async () => {
    const s = createSqliteStorage(':memory:');
    assert.equal(s.cluster, undefined);
    await s.close();
  });

  it('records a relay owner once; two instances asking at once agree; takes over only from the one named gone', async () => {
    const url = await pgs.createDatabase();
    const a = await createPostgresStorage(url);
    const b = await createPostgresStorage(url);
    try {
      assert.ok(a.cluster !== undefined && b.cluster !== undefined);
      const ca = a.cluster;
      const cb = b.cluster;
      for (let i = 0; i < 10; i++) {
        const sid = await newSession(a);
        const [ra, rb] = await Promise.all([
          ca.claimRelayOwner(sid, { instanceId: 'a', url: 'http://a' }),
          cb.claimRelayOwner(sid, { instanceId: 'b', url: 'http://b' }),
        ]);
        assert.deepEqual(ra, rb, 'both see the same owner');
        assert.ok(ra?.instanceId === 'a' || ra?.instanceId === 'b');
        const owner = ra.instanceId;
        const other = owner === 'a' ? 'b' : 'a';
        // naming an instance that is not the owner replaces nothing
        assert.deepEqual(await ca.claimRelayOwner(sid, { instanceId: 'c', url: 'http://c' }, other), ra);
        // naming the owner as gone takes it over
        assert.deepEqual(await ca.claimRelayOwner(sid, { instanceId: 'c', url: 'http://c' }, owner), {
          instanceId: 'c',
          url: 'http://c',
        });
      }
      assert.equal(await ca.claimRelayOwner(randomUUID(), { instanceId: 'a', url: 'http://a' }), undefined);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the bus: every listener gets every message in each publisher order; too large is refused; back after a restart', async () => {
    const own = await startPostgres();
    const url = await own.createDatabase();
    const a = await createPostgresStorage(url);
    const b = await createPostgresStorage(url);
    let busA: ClusterBus | undefined;
    let busB: ClusterBus | undefined;
    try {
      busA = await a.cluster!.openBus();
      busB = await b.cluster!.openBus();
      const ga = collect(busA);
      const gb = collect(busB);
      const sent = Array.from({ length: 50 }, (_, i) => `a:${i}`);
      await Promise.all(sent.map((p) => busA!.publish(p)));
      await ga.wait(50);
      await gb.wait(50);
      assert.deepEqual(ga.got, sent, 'its own messages come back, in order');
      assert.deepEqual(gb.got, sent, 'the other instance gets them in the order published');
      await assert.rejects(busA.publish('x'.repeat(CLUSTER_PAYLOAD_MAX + 1)), { code: 'ERR_STORAGE' });

      let reconnected = 0;
      busB.onReconnect(() => reconnected++);
      await own.halt();
      await own.resume();
      // the listener comes back by itself; a message published once the pool is back arrives
      for (let i = 0; gb.got.length <= 50; i++) {
        assert.ok(i < 200, 'the bus did not come back');
        await busA.publish(`after:${i}`).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(reconnected >= 1, 'onReconnect was called');
      assert.match(gb.got.at(-1) ?? '', /^after:\d+$/);
    } finally {
      await busA?.close();
      await busB?.close();
      await a.close();
      await b.close();
      await own.stop();
    }
  });
});
