/**
 * The server list (`--server A,B`) and the failover state machine: parsing with the single URL's own
 * errors, round robin, the backoff driven by a fake clock, what is repeated on the next instance and what
 * is not, and "every instance down" ending with a code after the retry budget. Then the real client
 * against real local HTTP/WebSocket servers: one port closed, one answering 503, one killed mid-session.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { AgentError } from './errors.js';
import { ServerPool, parseServerList, type Clock, type FailoverEvent } from './server-list.js';
import { SignalingClient } from './signaling-client.js';

/** A clock that records each sleep and returns at once. */
function fakeClock(): Clock & { slept: number[] } {
  const slept: number[] = [];
  return {
    slept,
    sleep(ms) {
      slept.push(ms);
      return Promise.resolve();
    },
  };
}

function codeOf(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

describe('parseServerList', () => {
  it('one URL is a list of one, normalised as before', () => {
    assert.deepEqual(parseServerList('http://Host:8080/'), ['http://host:8080']);
  });

  it('several URLs: each normalised, spaces trimmed, a repeat kept once', () => {
    assert.deepEqual(parseServerList('http://a:1, https://b:2/,http://a:1/'), ['http://a:1', 'https://b:2']);
  });

  it("each entry gets the single URL's errors; an empty entry is refused", () => {
    for (const [text, re] of [
      ['http://a:1,ftp://b', /must be http:\/\/ or https:\/\/, got ftp:/],
      ['http://a:1,not a url', /not a URL: "not a url"/],
      ['http://a:1,,http://b:2', /an empty entry in the list/],
      ['http://a:1,', /an empty entry in the list/],
    ] as const) {
      assert.throws(
        () => parseServerList(text),
        (e: unknown) => e instanceof AgentError && e.code === 'ERR_CONFIG' && re.test(e.message),
        text,
      );
    }
  });
});

describe('ServerPool', () => {
  it('moves round robin, tells each move, and a failure of an instance no longer in use moves nothing', () => {
    const pool = new ServerPool(['http://a', 'http://b', 'http://c'], { clock: fakeClock() });
    const moves: FailoverEvent[] = [];
    pool.onFailover((e) => moves.push(e));
    assert.equal(pool.current, 'http://a');
    pool.failed('http://a', 'refused');
    assert.equal(pool.current, 'http://b');
    pool.failed('http://a', 'refused again'); // a second caller's late news of the same instance
    assert.equal(pool.current, 'http://b');
    pool.failed('http://b', 'reset');
    pool.failed('http://c', 'timeout');
    assert.equal(pool.current, 'http://a');
    assert.deepEqual(
      moves.map((m) => [m.from, m.to, m.reason]),
      [
        ['http://a', 'http://b', 'refused'],
        ['http://b', 'http://c', 'reset'],
        ['http://c', 'http://a', 'timeout'],
      ],
    );
  });

  it('backoff: none before a failure, then 250 ms a round, doubling each round, at most the cap', () => {
    const pool = new ServerPool(['http://a', 'http://b'], { clock: fakeClock(), maxDelayMs: 1500 });
    assert.equal(pool.delayMs(), 0);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      pool.failed(pool.current, 'down');
      delays.push(pool.delayMs());
    }
    assert.deepEqual(delays, [250, 250, 500, 500, 1000, 1000, 1500, 1500]);
    pool.succeeded(pool.current);
    assert.equal(pool.delayMs(), 0, 'an answer starts the backoff over');
  });

  it('every instance down: ERR_SERVER_UNREACHABLE naming each, after rounds × instances attempts, never more', async () => {
    const clock = fakeClock();
    const pool = new ServerPool(['http://a', 'http://b'], { clock, rounds: 3 });
    const tried: string[] = [];
    await assert.rejects(
      pool.run(
        (url) => {
          tried.push(url);
          return Promise.reject(new Error(`connect ECONNREFUSED ${url}`));
        },
        () => 'not-sent',
        false,
      ),
      (e: unknown) =>
        codeOf(e) === 'ERR_SERVER_UNREACHABLE' &&
        /no server of the list answered \(6 attempts over 2 instances\)/.test((e as Error).message) &&
        (e as Error).message.includes('http://a: connect ECONNREFUSED http://a') &&
        (e as Error).message.includes('http://b: connect ECONNREFUSED http://b'),
    );
    assert.deepEqual(tried, ['http://a', 'http://b', 'http://a', 'http://b', 'http://a', 'http://b']);
    // a wait between each two attempts, growing each round: never a hot loop
    assert.deepEqual(clock.slept, [250, 250, 500, 500, 1000]);
  });

  it('a call that may have been processed goes on only when it is safe to repeat', async () => {
    const pool = new ServerPool(['http://a', 'http://b'], { clock: fakeClock() });
    const tried: string[] = [];
    const attempt = (url: string) => {
      tried.push(url);
      return url === 'http://a' ? Promise.reject(new Error('socket hang up')) : Promise.resolve(url);
    };
    // not safe (an initiate): the failure is thrown, but the next call goes to the next instance
    await assert.rejects(
      pool.run(attempt, () => 'maybe-sent', false),
      /socket hang up/,
    );
    assert.equal(pool.current, 'http://b');
    assert.equal(await pool.run(attempt, () => 'maybe-sent', false), 'http://b');
    // safe (a read): repeated on the next instance
    pool.failed('http://b', 'test: back to a');
    assert.equal(pool.current, 'http://a');
    assert.equal(await pool.run(attempt, () => 'maybe-sent', true), 'http://b');
    assert.deepEqual(tried, ['http://a', 'http://b', 'http://a', 'http://b']);
  });

  it('a fatal failure (a refusal, a TLS trust error) is thrown at once and moves nothing', async () => {
    const pool = new ServerPool(['http://a', 'http://b'], { clock: fakeClock() });
    let n = 0;
    await assert.rejects(
      pool.run(
        () => {
          n++;
          return Promise.reject(new AgentError('ERR_TLS', 'self-signed certificate'));
        },
        () => 'fatal',
        true,
      ),
      (e: unknown) => codeOf(e) === 'ERR_TLS',
    );
    assert.equal(n, 1);
    assert.equal(pool.current, 'http://a');
  });

  it('one instance: nothing is repeated, the failure is the call’s own', async () => {
    const pool = new ServerPool(['http://a'], { clock: fakeClock() });
    let n = 0;
    await assert.rejects(
      pool.run(
        () => {
          n++;
          return Promise.reject(new Error('connect ECONNREFUSED'));
        },
        () => 'not-sent',
        true,
      ),
      /^Error: connect ECONNREFUSED$/,
    );
    assert.equal(n, 1);
  });
});

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const ME = { user_id: '1', username: 'p', client_type: 1, request_types: [] };

/** A real HTTP server answering GET /api/me (or `status` to everything), with a push endpoint. */
async function meServer(
  status = 200,
): Promise<{ url: string; http: Server; hits: () => number; kill: () => void }> {
  let hits = 0;
  const http = createServer((req, res) => {
    hits++;
    if (status !== 200) {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'ERR_DB_UNAVAILABLE', message: 'the database is down' } }));
      return;
    }
    res.writeHead(req.url === '/api/me' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/api/me' ? ME : { error: { code: 'ERR_NOT_FOUND', message: 'no' } }));
  });
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws) => ws.send(JSON.stringify({ type: 'hello', user_id: '1', client_type: 1 })));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    http,
    hits: () => hits,
    // as a killed process: every socket destroyed, nothing closed cleanly
    kill: () => {
      for (const ws of wss.clients) ws.terminate();
      http.closeAllConnections();
      http.close();
    },
  };
}

describe('SignalingClient with several servers (real sockets)', () => {
  it('a refused instance and one answering 503 are skipped; the call is answered by the next; the move is told', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const busy = await meServer(503);
    const live = await meServer();
    const client = new SignalingClient(`${dead},${busy.url},${live.url}`, 'tok');
    const moves: FailoverEvent[] = [];
    client.onFailover((e) => moves.push(e));
    try {
      assert.equal(client.server, dead);
      const me = await client.me();
      assert.equal(me.username, 'p');
      assert.equal(client.server, live.url);
      assert.deepEqual(
        moves.map((m) => [m.from, m.to]),
        [
          [dead, busy.url],
          [busy.url, live.url],
        ],
      );
      assert.match(moves[0]?.reason ?? '', /ECONNREFUSED/);
      assert.match(moves[1]?.reason ?? '', /503 ERR_DB_UNAVAILABLE/);
      assert.equal(busy.hits(), 1);
    } finally {
      client.close();
      busy.kill();
      live.kill();
    }
  });

  it('one URL: a refused server is ERR_SERVER_UNREACHABLE at once, as before', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const client = new SignalingClient(dead, 'tok');
    try {
      await assert.rejects(client.me(), (e: unknown) => codeOf(e) === 'ERR_SERVER_UNREACHABLE');
    } finally {
      client.close();
    }
  });

  it("the push channel's instance dies: it subscribes again on the next one, and says so", async () => {
    const a = await meServer();
    const b = await meServer();
    const client = new SignalingClient(`${a.url},${b.url}`, 'tok');
    let resubscribed!: () => void;
    const again = new Promise<void>((r) => (resubscribed = r));
    const moved = new Promise<FailoverEvent>((r) => client.onFailover(r));
    try {
      await client.connectPush({ onResubscribed: () => resubscribed() });
      assert.equal(client.pushUp, true);
      a.kill();
      const e = await moved;
      assert.equal(e.from, a.url);
      assert.equal(e.to, b.url);
      assert.match(e.reason, /push channel closed 1006/);
      await again;
      assert.equal(client.pushUp, true);
      assert.equal(client.server, b.url);
    } finally {
      client.close();
      b.kill();
    }
  });

  it('a signal sent over push whose instance dies before answering is posted again to the next one over REST', async () => {
    const SID = '0b8d0c7e-2f7c-4f8e-9a53-1f0e5a0e7c11';
    // A: takes the push message, then dies without answering (it may have stored it)
    const a = await meServer();
    const gotOnA: unknown[] = [];
    const aWss = new WebSocketServer({ noServer: true });
    a.http.removeAllListeners('upgrade');
    a.http.on('upgrade', (req, sock, head) =>
      aWss.handleUpgrade(req, sock, head, (ws) => {
        ws.send(JSON.stringify({ type: 'hello', user_id: '1', client_type: 1 }));
        ws.on('message', (m) => {
          gotOnA.push(JSON.parse(m.toString()));
          ws.terminate();
        });
      }),
    );
    // B: stores what is posted over REST
    const posted: unknown[] = [];
    const b = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/api/ice/signal') {
          const sent = JSON.parse(body) as { signal_type: string; signal_data: string };
          posted.push(sent);
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              id: 9,
              session_id: SID,
              signal_type: sent.signal_type,
              signal_data: sent.signal_data,
              from_client_id: '1',
              to_client_id: '2',
              created_at: '2026-12-03T09:00:00.000Z',
            }),
          );
          return;
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => b.listen(0, '127.0.0.1', r));
    const bUrl = `http://127.0.0.1:${(b.address() as AddressInfo).port}`;
    const client = new SignalingClient(`${a.url},${bUrl}`, 'tok');
    try {
      await client.connectPush({});
      const stored = await client.sendSignal(SID, 'candidate', {
        candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host',
      });
      assert.equal(stored.id, 9);
      assert.equal(gotOnA.length, 1, 'A had it first');
      assert.deepEqual(
        posted.map((p) => (p as { signal_type: string }).signal_type),
        ['candidate'],
        'then B over REST',
      );
      assert.equal(client.server, bUrl);
    } finally {
      client.close();
      a.kill();
      b.closeAllConnections();
      b.close();
    }
  });
});
