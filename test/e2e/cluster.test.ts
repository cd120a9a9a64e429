/**
 * Several `sdrlink server` processes on one real PostgreSQL (docs/architecture.md "Several instances"):
 * `/healthz` and the listening line name each instance; a consumer on one instance and a provider on another
 * hear each other over push (signals both ways, one larger than a NOTIFY carries); providers racing on two
 * instances for the same sessions (exactly one wins each); the expiry sweep and the claim-release pass
 * running on two instances fire once per session (one history row, one push); a provider connected to one
 * instance is listed online by another and drops off once its instance is killed; a file moved through the
 * relay with the consumer and the provider on different instances, and a relay side refused with 1011
 * when the instance running its relay cannot be reached; the bus back by itself after a PostgreSQL restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { runRequestProcess, sha256Of, startProviderProcess } from '../helpers/agents.js';
import { TEST_JWT_SECRET, postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { api, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { openWs, type WsProbe } from '../helpers/ws-probe.js';

const ENV = { SDRLINK_JWT_SECRET: TEST_JWT_SECRET, SDRLINK_CLUSTER_HEARTBEAT_MS: '200' };

let seq = 0;
function uname(prefix: string): string {
  seq++;
  return `${prefix}${process.pid}x${seq}`;
}

async function instance(db: string, id: string, args: string[] = []): Promise<ServerProcess> {
  return startServerProcess({ args: ['--db', db, '--instance-id', id, ...args], env: ENV });
}

/** Polls `fn` until it returns a value other than undefined (the test's own timeout bounds it). */
async function until<T>(fn: () => Promise<T | undefined>, what: string, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function health(srv: ServerProcess): Promise<Record<string, unknown>> {
  const res = await fetch(`${srv.url}/healthz`);
  return (await res.json()) as Record<string, unknown>;
}

/** Waits until every instance counts `n` instances alive. */
async function clusterOf(n: number, ...servers: ServerProcess[]): Promise<void> {
  for (const s of servers)
    await until(async () => {
      const h = await health(s);
      return (h['cluster'] as { instances?: number } | undefined)?.instances === n ? true : undefined;
    }, `${s.url} to see ${n} instances`);
}

function push(srv: ServerProcess, token: string): Promise<WsProbe> {
  return openWs(`${srv.url.replace(/^http/, 'ws')}/api/ws`, { authorization: `Bearer ${token}` });
}

const offer = (sdp: string) => JSON.stringify({ type: 'offer', sdp });
const answer = (sdp: string) => JSON.stringify({ type: 'answer', sdp });

interface User {
  token: string;
  id: string;
}

async function user(srv: ServerProcess, prefix: string, clientType: 1 | 2, types?: string[]): Promise<User> {
  const r = await registerUser(srv.url, {
    username: uname(prefix),
    password: 'pw-long-enough-1',
    client_type: clientType,
    ...(types === undefined ? {} : { request_types: types }),
  });
  return { token: r.token, id: r.user_id };
}

async function initiate(srv: ServerProcess, u: User, body: Record<string, unknown> = {}): Promise<string> {
  const r = await api(srv.url, u.token, 'POST', '/api/ice/initiate', {
    request_type: 'spectrum',
    parameters: '{}',
    ...body,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return (r.body as { session_id: string }).session_id;
}

export async function history(srv: ServerProcess, u: User, sid: string): Promise<Array<{ status: string }>> {
  const r = await api(srv.url, u.token, 'GET', `/api/ice/sessions/${sid}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return (r.body as { history: Array<{ status: string }> }).history;
}

describe('several server instances on one PostgreSQL', { skip: postgresSkip() }, () => {
  let pgs: PostgresServer;
  let db: string;
  let a: ServerProcess;
  let b: ServerProcess;
  before(async () => {
    pgs = await startPostgres();
    db = await pgs.createDatabase();
    a = await instance(db, 'alpha');
    b = await instance(db, 'beta');
    await clusterOf(2, a, b);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await pgs?.stop();
  });

  test('/healthz names the instance and the database; the listening line names the instance', async () => {
    const ha = await health(a);
    const hb = await health(b);
    assert.equal(ha['instance'], 'alpha');
    assert.equal(hb['instance'], 'beta');
    assert.deepEqual(ha['db'], { kind: 'postgres', ok: true });
    assert.deepEqual(ha['cluster'], { instances: 2, url: a.url });
    assert.deepEqual(hb['cluster'], { instances: 2, url: b.url });
    // a third without --instance-id gets a random one, printed on its listening line and on stderr
    const c = await startServerProcess({ args: ['--db', db], env: ENV });
    try {
      const hc = await health(c);
      assert.match(String(hc['instance']), /^[0-9a-f]{8}$/);
      assert.match(c.stderr(), new RegExp(`instance ${String(hc['instance'])}`));
      await clusterOf(3, a, b, c);
    } finally {
      await c.stop();
    }
    // it said goodbye on its way out: the others count it gone at once
    await clusterOf(2, a, b);
  });

  test('push crosses instances: initiate on A reaches a provider on B; signals both ways, a large one too', async () => {
    const prov = await user(b, 'pp', 1, ['spectrum']);
    const cons = await user(a, 'pc', 2);
    const pws = await push(b, prov.token);
    await pws.next((m) => m['type'] === 'hello');
    const cws = await push(a, cons.token);
    await cws.next((m) => m['type'] === 'hello');
    // B's provider is counted by A at once
    const sid = await until(async () => {
      const r = await api(a.url, cons.token, 'POST', '/api/ice/initiate', {
        request_type: 'spectrum',
        parameters: '{}',
      });
      assert.equal(r.status, 201);
      const body = r.body as { session_id: string; providers_able?: number };
      if (body.providers_able === 1) return body.session_id;
      await api(a.url, cons.token, 'POST', `/api/ice/sessions/${body.session_id}/cancel`, {});
      return undefined;
    }, 'A to count the provider on B');
    const offered = await pws.next(
      (m) => m['type'] === 'session' && (m['session'] as { session_id: string }).session_id === sid,
    );
    assert.equal((offered['session'] as { status: string }).status, 'pending');
    // an offer larger than a NOTIFY payload: it travels by id, the receiver reads the row
    const bigSdp = `v=0\r\n${'a=x-filler:0123456789abcdef\r\n'.repeat(600)}`;
    const r1 = await api(b.url, prov.token, 'POST', '/api/ice/signal', {
      session_id: sid,
      signal_type: 'offer',
      signal_data: offer(bigSdp),
    });
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    const status = await cws.next((m) => m['type'] === 'session-status' && m['session_id'] === sid);
    assert.equal(status['status'], 'offered');
    const got = await cws.next((m) => m['type'] === 'signal');
    const sig = got['signal'] as { signal_type: string; signal_data: string; session_id: string };
    assert.equal(sig.session_id, sid);
    assert.equal(sig.signal_type, 'offer');
    assert.equal((JSON.parse(sig.signal_data) as { sdp: string }).sdp, bigSdp);
    // the order the consumer saw: the status before the signal, as committed
    const order = cws.seen
      .filter((m) => m['type'] === 'session-status' || m['type'] === 'signal')
      .map((m) => m['type']);
    assert.deepEqual(order.slice(-2), ['session-status', 'signal']);
    // and back: the answer posted on A reaches B's push
    const r2 = await api(a.url, cons.token, 'POST', '/api/ice/signal', {
      session_id: sid,
      signal_type: 'answer',
      signal_data: answer('v=0\r\n'),
    });
    assert.equal(r2.status, 200, JSON.stringify(r2.body));
    const back = await pws.next((m) => m['type'] === 'signal');
    assert.equal((back['signal'] as { signal_type: string }).signal_type, 'answer');
    // each event reached each socket once
    assert.equal(cws.seen.filter((m) => m['type'] === 'signal').length, 1);
    assert.equal(pws.seen.filter((m) => m['type'] === 'signal').length, 1);
    pws.ws.close();
    cws.ws.close();
  });

  test('providers on A and B race to claim the same sessions: exactly one wins each', async () => {
    const p1 = await user(a, 'r1', 1, ['spectrum']);
    const p2 = await user(b, 'r2', 1, ['spectrum']);
    const cons = await user(a, 'rc', 2);
    const wins = { [p1.id]: 0, [p2.id]: 0 };
    for (let round = 0; round < 25; round++) {
      const sid = await initiate(round % 2 === 0 ? a : b, cons);
      const [r1, r2] = await Promise.all([
        api(a.url, p1.token, 'POST', '/api/ice/signal', {
          session_id: sid,
          signal_type: 'offer',
          signal_data: offer('v=0\r\n'),
        }),
        api(b.url, p2.token, 'POST', '/api/ice/signal', {
          session_id: sid,
          signal_type: 'offer',
          signal_data: offer('v=0\r\n'),
        }),
      ]);
      const statuses = [r1.status, r2.status].sort();
      assert.deepEqual(statuses, [200, 409], `round ${round}: ${JSON.stringify([r1.body, r2.body])}`);
      const loser = r1.status === 409 ? r1 : r2;
      assert.equal((loser.body as { error: { code: string } }).error.code, 'ERR_SESSION_CLAIMED');
      const winner = r1.status === 200 ? p1 : p2;
      wins[winner.id] = (wins[winner.id] ?? 0) + 1;
      const s = await api(b.url, cons.token, 'GET', `/api/ice/sessions/${sid}`);
      const body = s.body as { target_user_id: string; history: Array<{ status: string }> };
      assert.equal(body.target_user_id, winner.id);
      assert.equal(body.history.filter((h) => h.status === 'offered').length, 1);
      await api(a.url, cons.token, 'POST', `/api/ice/sessions/${sid}/cancel`, {});
    }
    assert.equal((wins[p1.id] ?? 0) + (wins[p2.id] ?? 0), 25);
  });

  test('a provider online on B is listed by A, and drops off once B is killed', async () => {
    const c = await instance(db, 'gamma');
    try {
      await clusterOf(3, a, c);
      const prov = await user(c, 'lp', 1, ['spectrum']);
      const cons = await user(a, 'lc', 2);
      const pws = await push(c, prov.token);
      await pws.next((m) => m['type'] === 'hello');
      const listed = async (online: boolean) => {
        const r = await api(a.url, cons.token, 'GET', '/api/providers');
        const p = (r.body as Array<{ user_id: string; online: boolean }>).find((x) => x.user_id === prov.id);
        return (p?.online ?? false) === online ? true : undefined;
      };
      await until(() => listed(true), 'A to list the provider on C online');
      await c.kill('SIGKILL');
      await until(() => listed(false), 'A to list the provider offline after C was killed');
      await clusterOf(2, a, b);
    } finally {
      await c.stop();
    }
  });

  test('relay across instances: consumer on A, provider on B, the file arrives verified, bytes counted once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sdrlink-cluster-'));
    const prov = await user(b, 'xp', 1, ['signal']);
    const cons = await user(a, 'xc', 2);
    const provider = await startProviderProcess({
      url: b.url,
      token: prov.token,
      dataDir: join(dir, 'pdata'),
    });
    try {
      await provider.waitFor((e) => e['event'] === 'ready', 20_000);
      const r = await runRequestProcess({
        url: a.url,
        token: cons.token,
        // 12 MB of IQ: more than the relay window, so both legs' backpressure is in play
        type: 'signal',
        params: { frequency: 100e6, sample_rate: 1e6, duration: 1.5 },
        out: join(dir, 'out'),
        args: ['--transport', 'relay'],
      });
      assert.equal(
        r.code,
        0,
        `${JSON.stringify(r.result)}\n${r.stderr}\nprovider: ${JSON.stringify(provider.events().slice(-10))}\nA: ${a.stderr()}\nB: ${b.stderr()}`,
      );
      assert.equal(r.result['verified'], true);
      assert.equal(r.result['transport'], 'relay');
      assert.equal(await sha256Of(r.result['path'] as string), r.result['sha256']);
      const c = new pg.Client({ connectionString: db });
      await c.connect();
      try {
        const row = await c.query<{
          relay_instance: string;
          relay_bytes: number;
          bytes: number;
          status: string;
        }>(
          `SELECT s.relay_instance, t.relay_bytes::int AS relay_bytes, t.bytes::int AS bytes, t.status
           FROM ice_sessions s JOIN file_transfers t ON t.session_id = s.session_id WHERE s.session_id = $1`,
          [r.result['session_id']],
        );
        const t = row.rows[0];
        assert.ok(t !== undefined);
        assert.equal(t.status, 'completed');
        // the relay ran on one instance, and the side on the other was forwarded to it
        assert.ok(['alpha', 'beta'].includes(t.relay_instance), t.relay_instance);
        // counted once, by the owner: at least the file, and less than twice it
        assert.ok(t.relay_bytes >= t.bytes && t.bytes > 12_000_000, JSON.stringify(t));
        assert.ok(t.relay_bytes < 2 * t.bytes, `counted once: ${JSON.stringify(t)}`);
      } finally {
        await c.end();
      }
    } finally {
      await provider.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the expiry sweep and the claim-release pass on two instances fire once per session', async () => {
    const edb = await pgs.createDatabase();
    const args = ['--session-ttl', '1000', '--sweep-interval', '20', '--claim-timeout', '300ms'];
    const e1 = await instance(edb, 'e1', args);
    const e2 = await instance(edb, 'e2', args);
    try {
      await clusterOf(2, e1, e2);
      const prov = await user(e2, 'ep', 1, ['spectrum']);
      const cons = await user(e1, 'ec', 2);
      const pws = await push(e2, prov.token);
      await pws.next((m) => m['type'] === 'hello');
      const cws = await push(e1, cons.token);
      await cws.next((m) => m['type'] === 'hello');
      await until(
        async () =>
          ((await health(e1))['cluster'] as { instances: number }).instances === 2 ? true : undefined,
        'presence',
      );
      // expiry: open sessions nobody takes
      const expiring: string[] = [];
      for (let i = 0; i < 4; i++) expiring.push(await initiate(i % 2 === 0 ? e1 : e2, cons));
      // claim release: sessions of an sdrlink consumer the provider claims and never connects
      const released: string[] = [];
      for (let i = 0; i < 3; i++) {
        const sid = await initiate(e1, cons, { capabilities: ['sdrlink/1'] });
        const r = await api(e2.url, prov.token, 'POST', '/api/ice/signal', {
          session_id: sid,
          signal_type: 'offer',
          signal_data: offer('v=0\r\n'),
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        released.push(sid);
      }
      const statusOf = async (sid: string) =>
        ((await api(e1.url, cons.token, 'GET', `/api/ice/sessions/${sid}`)).body as { status: string })
          .status;
      for (const sid of expiring)
        await until(async () => ((await statusOf(sid)) === 'expired' ? true : undefined), `${sid} expired`);
      for (const sid of released)
        await until(async () => ((await statusOf(sid)) === 'failed' ? true : undefined), `${sid} released`);
      // many more sweeps and release passes on both instances: nothing fires twice
      await new Promise((r) => setTimeout(r, 600));
      for (const sid of expiring) {
        const h = await history(e2, cons, sid);
        assert.equal(h.filter((x) => x.status === 'expired').length, 1, `${sid}: ${JSON.stringify(h)}`);
        const told = cws.seen.filter((m) => m['type'] === 'session-status' && m['session_id'] === sid);
        assert.deepEqual(
          told.map((m) => m['status']),
          ['expired'],
          sid,
        );
        const withdrawn = pws.seen.filter((m) => m['type'] === 'session-claimed' && m['session_id'] === sid);
        assert.equal(withdrawn.length, 1, `${sid}: the provider is told once`);
      }
      for (const sid of released) {
        const h = await history(e1, cons, sid);
        // created, released once (back to pending), then failed with no provider left (ERR_NO_PROVIDER)
        const statuses = h.map((x) => x.status);
        assert.equal(statuses.filter((x) => x === 'pending').length, 2, `${sid}: ${statuses.join(',')}`);
        assert.equal(statuses.filter((x) => x === 'failed').length, 1, `${sid}: ${statuses.join(',')}`);
        assert.equal(statuses.at(-1), 'failed');
        const freed = pws.seen.filter((m) => m['type'] === 'claim-released' && m['session_id'] === sid);
        assert.equal(freed.length, 1, `${sid}: one claim-released`);
        const told = cws.seen.filter((m) => m['type'] === 'session-status' && m['session_id'] === sid);
        assert.deepEqual(
          told.map((m) => m['status']),
          ['offered', 'pending', 'failed'],
          sid,
        );
      }
      pws.ws.close();
      cws.ws.close();
    } finally {
      await e1.stop();
      await e2.stop();
    }
  });

  test('after a PostgreSQL restart the bus reconnects by itself: push crosses instances again', async () => {
    const own = await startPostgres();
    const odb = await own.createDatabase();
    const r1 = await instance(odb, 'r1', ['--log-level', 'info']);
    const r2 = await instance(odb, 'r2', ['--log-level', 'info']);
    try {
      await clusterOf(2, r1, r2);
      const prov = await user(r2, 'rp', 1, ['spectrum']);
      const cons = await user(r1, 'rc', 2);
      const pws = await push(r2, prov.token);
      await pws.next((m) => m['type'] === 'hello');
      const before = await until(async () => {
        const r = await api(r1.url, cons.token, 'POST', '/api/ice/initiate', {
          request_type: 'spectrum',
          parameters: '{}',
        });
        const body = r.body as { session_id: string; providers_able: number };
        return body.providers_able === 1 ? body.session_id : undefined;
      }, 'r1 to count the provider on r2');
      const offers = (sid: string) =>
        pws.seen.filter(
          (m) => m['type'] === 'session' && (m['session'] as { session_id: string }).session_id === sid,
        ).length;
      await until(async () => (offers(before) === 1 ? true : undefined), 'the session before the restart');
      await own.halt();
      await own.resume();
      // the pools and the buses reconnect by themselves; sessions created on r1 reach r2's provider again
      // (one created while r2's listener is still away is missed: r2's provider catches up by polling)
      const created = new Set<string>();
      const reached = () =>
        pws.seen.some(
          (m) => m['type'] === 'session' && created.has((m['session'] as { session_id: string }).session_id),
        );
      await until(
        async () => {
          if (reached()) return true;
          const r = await api(r1.url, cons.token, 'POST', '/api/ice/initiate', {
            request_type: 'spectrum',
            parameters: '{}',
          });
          if (r.status === 201) created.add((r.body as { session_id: string }).session_id);
          await new Promise((res) => setTimeout(res, 250));
          return reached() ? true : undefined;
        },
        'a session created on r1 to reach the provider on r2 after the restart',
        100,
      ).catch((err: unknown) => {
        const tail = (srv: ServerProcess) =>
          srv
            .stderr()
            .split('\n')
            .filter((l) => !l.includes('"presence"'))
            .slice(-40)
            .join('\n');
        throw new Error(`${String(err)} (${created.size} created)\nr1: ${tail(r1)}\nr2: ${tail(r2)}`);
      });
      // r2 lost its bus meanwhile: its provider was sent its open sessions again, the one from before too
      await until(async () => (offers(before) >= 2 ? true : undefined), 'the open sessions sent again');
      await clusterOf(2, r1, r2);
      pws.ws.close();
    } finally {
      await r1.stop();
      await r2.stop();
      await own.stop();
    }
  });

  test('a relay side whose owner instance cannot be reached is closed with 1011 ERR_RELAY_UNAVAILABLE', async () => {
    const udb = await pgs.createDatabase();
    // u1 advertises an address where nothing listens: the others cannot forward to it
    const u1 = await instance(udb, 'u1', ['--advertise-url', 'http://127.0.0.1:1']);
    const u2 = await instance(udb, 'u2');
    try {
      await clusterOf(2, u1, u2);
      const prov = await user(u2, 'up', 1, ['spectrum']);
      const cons = await user(u1, 'uc', 2);
      const sid = await initiate(u1, cons);
      const ws = (srv: ServerProcess, u: User) =>
        openWs(`${srv.url.replace(/^http/, 'ws')}/api/relay/${sid}`, { authorization: `Bearer ${u.token}` });
      const c = await ws(u1, cons);
      assert.equal((await c.next())['type'], 'relay-waiting', 'the consumer waits on u1, the owner');
      const p = await ws(u2, prov);
      const closed = await p.closed();
      assert.equal(closed.code, 1011);
      assert.match(closed.reason, /^ERR_RELAY_UNAVAILABLE: instance u1 /);
      c.ws.close();
    } finally {
      await u1.stop();
      await u2.stop();
    }
  });
});
