/**
 * Issue 16, the server's classes, each performed as an attacker would against a real server process
 * (docs/security.md): open registration (1), a disabled account's credentials and sockets (1), one account
 * exhausting push sockets, relays and session creation (5), the database growing without bound (5, the
 * retention timer and `sdrlink db prune`), user enumeration through `target` and look-alike names (6),
 * and malformed URLs, over-long parameters, oversized headers and WebSocket messages (7). Each refusal
 * carries its documented code, and what the attack tried to change is unchanged.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { openWs, type WsProbe } from '../helpers/ws-probe.js';
import { api, registerUser, runCli, startServerProcess, type ServerProcess } from '../helpers/server.js';

const PASSWORD = 'hardening password 1';
const SPECTRUM = JSON.stringify({ center_freq: 100e6, sample_rate: 2e6, fft_size: 256, averages: 1 });
const OFFER = JSON.stringify({ type: 'offer', sdp: 'v=0\r\n' });

type Body = { error?: { code?: string; message?: string } } & Record<string, unknown>;

function errCode(r: { body: unknown }): string {
  return (r.body as Body).error?.code ?? `no error body: ${JSON.stringify(r.body).slice(0, 300)}`;
}

/** The documented error shape, exactly: `{"error":{"code","message"}}` and nothing else. */
function assertErrorShape(body: unknown, code: string): void {
  assert.equal(typeof body, 'object', `not JSON: ${String(body).slice(0, 200)}`);
  const b = body as Body;
  assert.deepEqual(Object.keys(b), ['error'], JSON.stringify(b).slice(0, 300));
  assert.deepEqual(Object.keys(b.error ?? {}).sort(), ['code', 'message']);
  assert.equal(b.error?.code, code, JSON.stringify(b).slice(0, 300));
  assert.equal(typeof b.error?.message, 'string');
}

/** Sends raw bytes over TCP and returns the status and the (JSON-parsed when possible) body. */
function rawHttp(port: number, request: string): Promise<{ status: number; body: unknown; text: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer to ${request.slice(0, 80)}`));
    }, 10_000);
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => (data += c));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      const text = data.slice(data.indexOf('\r\n\r\n') + 4);
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON
      }
      resolve({ status: m === null ? 0 : Number(m[1]), body, text });
    });
    sock.write(request, () => sock.end());
  });
}

/** Polls `fn` until it returns a value other than undefined (a failed test after `ms`). */
async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function addUser(
  srv: ServerProcess,
  name: string,
  type: 1 | 2,
): Promise<{ token: string; user_id: string }> {
  const r = await runCli([
    'user',
    'add',
    name,
    '--type',
    String(type),
    '--password',
    PASSWORD,
    '--db',
    srv.dbPath,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { token: string; user_id: string };
  return { token: out.token, user_id: out.user_id };
}

async function userNames(srv: ServerProcess): Promise<string[]> {
  const r = await runCli(['user', 'list', '--db', srv.dbPath, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ username: string }>).map((u) => u.username);
}

function pushUrl(srv: ServerProcess): string {
  return `${srv.url.replace('http', 'ws')}/api/ws`;
}

async function push(srv: ServerProcess, token: string): Promise<WsProbe> {
  return openWs(pushUrl(srv), { authorization: `Bearer ${token}` });
}

async function initiate(srv: ServerProcess, token: string, target?: string) {
  return api(srv.url, token, 'POST', '/api/ice/initiate', {
    request_type: 'spectrum',
    parameters: SPECTRUM,
    ...(target === undefined ? {} : { target }),
  });
}

describe('class 1: registration is closed unless the operator opens it', () => {
  it('the default refuses POST /api/auth/register with 403 ERR_REGISTRATION_CLOSED and creates nobody; sdrlink user add still works', async () => {
    const srv = await startServerProcess({ env: { SDRLINK_REGISTRATION: undefined } });
    try {
      const r = await api(srv.url, undefined, 'POST', '/api/auth/register', {
        username: 'mallory',
        password: PASSWORD,
        client_type: 1,
      });
      assert.equal(r.status, 403);
      assertErrorShape(r.body, 'ERR_REGISTRATION_CLOSED');
      assert.deepEqual(await userNames(srv), []);
      const added = await addUser(srv, 'operator-made', 2);
      const me = await api(srv.url, added.token, 'GET', '/api/me');
      assert.equal(me.status, 200);
      assert.deepEqual(await userNames(srv), ['operator-made']);
    } finally {
      await srv.stop();
    }
  });

  it('--open-registration opens it', async () => {
    const srv = await startServerProcess({
      env: { SDRLINK_REGISTRATION: undefined },
      args: ['--open-registration'],
    });
    try {
      const u = await registerUser(srv.url, { username: 'newcomer', password: PASSWORD, client_type: 2 });
      assert.match(u.user_id, /^\d+$/);
    } finally {
      await srv.stop();
    }
  });
});

describe('class 1: an operator disables an account at once', () => {
  let srv: ServerProcess;
  before(async () => {
    srv = await startServerProcess();
  });
  after(async () => {
    await srv.stop();
  });

  it("sdrlink user disable: the user's JWT and API key are refused (401 ERR_USER_DISABLED), its push and relay sockets closed (4401), login refused; enable restores it", async () => {
    const prov = await addUser(srv, 'rogue-provider', 1);
    const cons = await addUser(srv, 'rogue-consumer', 2);
    const created = await api(srv.url, cons.token, 'POST', '/api/keys', { name: 'agent' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const key = (created.body as { key: string }).key;
    const s = await initiate(srv, key, 'rogue-provider');
    assert.equal(s.status, 201, JSON.stringify(s.body));
    const sid = (s.body as { session_id: string }).session_id;

    // the provider's JWT and user are now in the server's caches: the fast path must see the disable too
    assert.equal((await api(srv.url, prov.token, 'GET', '/api/me')).status, 200);
    const provPush = await push(srv, prov.token);
    await provPush.next((m) => m['type'] === 'hello');
    const consPush = await push(srv, key);
    await consPush.next((m) => m['type'] === 'hello');
    const relay = await openWs(`${srv.url.replace('http', 'ws')}/api/relay/${sid}`, {
      authorization: `Bearer ${key}`,
    });
    assert.equal(relay.ws.readyState, relay.ws.OPEN);

    for (const name of ['rogue-provider', 'rogue-consumer']) {
      const r = await runCli(['user', 'disable', name, '--db', srv.dbPath, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.match((JSON.parse(r.stdout) as { disabled_at: string }).disabled_at, /^\d{4}-/);
    }
    for (const [what, probe] of [
      ['provider push', provPush],
      ['consumer push', consPush],
      ['consumer relay', relay],
    ] as const) {
      const c = await probe.closed(10_000);
      assert.equal(c.code, 4401, what);
      assert.match(c.reason, /^ERR_USER_DISABLED: user rogue-(provider|consumer) is disabled/, what);
    }
    for (const token of [prov.token, key]) {
      const me = await api(srv.url, token, 'GET', '/api/me');
      assert.equal(me.status, 401);
      assertErrorShape(me.body, 'ERR_USER_DISABLED');
    }
    const again = await initiate(srv, key, 'rogue-provider');
    assert.equal(errCode(again), 'ERR_USER_DISABLED');
    const login = await api(srv.url, undefined, 'POST', '/api/auth/login', {
      username: 'rogue-provider',
      password: PASSWORD,
    });
    assert.equal(login.status, 401);
    assertErrorShape(login.body, 'ERR_USER_DISABLED');
    const reopened = await push(srv, prov.token);
    const rc = await reopened.closed();
    assert.equal(rc.code, 4401);
    assert.match(rc.reason, /^ERR_USER_DISABLED/);

    const en = await runCli(['user', 'enable', 'rogue-consumer', '--db', srv.dbPath]);
    assert.equal(en.code, 0, en.stderr);
    await eventually('enabled again', async () => {
      const me = await api(srv.url, key, 'GET', '/api/me');
      return me.status === 200 ? me : undefined;
    });
    // the refused initiate created nothing: the consumer has its one session
    const list = await api(srv.url, key, 'GET', '/api/ice/sessions');
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.body as Array<{ session_id: string }>).map((x) => x.session_id),
      [sid],
    );
    const unknown = await runCli(['user', 'disable', 'nobody-here', '--db', srv.dbPath]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no user "nobody-here"/);
  });
});

describe('class 5: one account cannot take every push socket, relay or session', () => {
  let srv: ServerProcess;
  before(async () => {
    srv = await startServerProcess({
      args: ['--max-push-per-user', '3', '--sessions-per-minute', '3', '--max-relays-per-user', '2'],
    });
  });
  after(async () => {
    await srv.stop();
  });

  it('push sockets per user: the 4th is closed 4429 ERR_PUSH_LIMIT; another user is not affected; a closed one frees its slot', async () => {
    const a = await registerUser(srv.url, { username: 'greedy', password: PASSWORD, client_type: 2 });
    const b = await registerUser(srv.url, { username: 'bystander', password: PASSWORD, client_type: 2 });
    const held: WsProbe[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await push(srv, a.token);
      await p.next((m) => m['type'] === 'hello');
      held.push(p);
    }
    const fourth = await push(srv, a.token);
    const c = await fourth.closed();
    assert.equal(c.code, 4429);
    assert.match(c.reason, /^ERR_PUSH_LIMIT: user holds 3 push sockets \(limit 3\)/);
    const other = await push(srv, b.token);
    await other.next((m) => m['type'] === 'hello');
    held[0]?.ws.close();
    await held[0]?.closed();
    const replaced = await eventually('a freed slot', async () => {
      const p = await push(srv, a.token);
      try {
        await p.next((m) => m['type'] === 'hello', 2000);
        return p;
      } catch {
        return undefined;
      }
    });
    for (const p of [...held, replaced, other]) p.ws.close();
  });

  it('sessions per minute: the 4th initiate is 429 ERR_SESSION_RATE with Retry-After and stores nothing; relays per user: the 3rd is closed 4429 ERR_RELAY_LIMIT', async () => {
    await registerUser(srv.url, { username: 'named-provider', password: PASSWORD, client_type: 1 });
    const c = await registerUser(srv.url, { username: 'spammer', password: PASSWORD, client_type: 2 });
    const other = await registerUser(srv.url, { username: 'patient', password: PASSWORD, client_type: 2 });
    const sids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await initiate(srv, c.token, 'named-provider');
      assert.equal(r.status, 201, JSON.stringify(r.body));
      sids.push((r.body as { session_id: string }).session_id);
    }
    const refused = await initiate(srv, c.token, 'named-provider');
    assert.equal(refused.status, 429);
    assertErrorShape(refused.body, 'ERR_SESSION_RATE');
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After ${String(retry)}`);
    const list = await api(srv.url, c.token, 'GET', '/api/ice/sessions');
    assert.equal((list.body as unknown[]).length, 3);
    const fine = await initiate(srv, other.token, 'named-provider');
    assert.equal(fine.status, 201, 'another user has its own budget');

    const relayUrl = (sid: string) => `${srv.url.replace('http', 'ws')}/api/relay/${sid}`;
    const auth = { authorization: `Bearer ${c.token}` };
    const r1 = await openWs(relayUrl(sids[0] as string), auth);
    const r2 = await openWs(relayUrl(sids[1] as string), auth);
    const r3 = await openWs(relayUrl(sids[2] as string), auth);
    const c3 = await r3.closed();
    assert.equal(c3.code, 4429);
    assert.match(c3.reason, /^ERR_RELAY_LIMIT: this user is in 2 relays \(limit 2 per user\)/);
    assert.equal(r1.ws.readyState, r1.ws.OPEN);
    assert.equal(r2.ws.readyState, r2.ws.OPEN);
    r1.ws.close();
    r2.ws.close();
  });
});

describe('class 5: retention keeps the database bounded and the transfer history', () => {
  it('the server timer (--retention) deletes a final session’s signals and history, keeps its transfer row, and leaves open sessions alone', async () => {
    const srv = await startServerProcess({
      args: ['--retention', '1s'],
      env: { SDRLINK_RETENTION_INTERVAL_MS: '100' },
    });
    try {
      const p = await registerUser(srv.url, { username: 'ret-provider', password: PASSWORD, client_type: 1 });
      const c = await registerUser(srv.url, { username: 'ret-consumer', password: PASSWORD, client_type: 2 });
      const done = (await initiate(srv, c.token, 'ret-provider')).body as { session_id: string };
      const open = (await initiate(srv, c.token, 'ret-provider')).body as { session_id: string };
      const offer = await api(srv.url, p.token, 'POST', '/api/ice/signal', {
        session_id: done.session_id,
        signal_type: 'offer',
        signal_data: OFFER,
      });
      assert.equal(offer.status, 200, JSON.stringify(offer.body));
      const signalsBefore = await api(srv.url, c.token, 'GET', `/api/ice/signals/${done.session_id}`);
      assert.equal((signalsBefore.body as unknown[]).length, 1);
      const cancel = await api(srv.url, c.token, 'POST', `/api/ice/sessions/${done.session_id}/cancel`, {});
      assert.equal(cancel.status, 200, JSON.stringify(cancel.body));

      await eventually('the final session pruned', async () => {
        const s = await api(srv.url, c.token, 'GET', `/api/ice/sessions/${done.session_id}`);
        return (s.body as { history: unknown[] }).history.length === 0 ? s : undefined;
      });
      const signals = await api(srv.url, c.token, 'GET', `/api/ice/signals/${done.session_id}`);
      assert.deepEqual(signals.body, []);
      const transfers = await api(srv.url, c.token, 'GET', '/api/transfers');
      const rows = transfers.body as Array<{ session_id: string; status: string }>;
      assert.equal(rows.find((t) => t.session_id === done.session_id)?.status, 'cancelled');
      const kept = await api(srv.url, c.token, 'GET', `/api/ice/sessions/${open.session_id}`);
      assert.equal((kept.body as { status: string }).status, 'pending');
      assert.ok(
        (kept.body as { history: unknown[] }).history.length >= 1,
        'an open session keeps its history',
      );
      const h = await runCli(['history', '--server', srv.url, '--token', c.token, '--json']);
      assert.equal(h.code, 0, h.stderr);
      assert.match(h.stdout, new RegExp(done.session_id));
    } finally {
      await srv.stop();
    }
  });

  it('sdrlink db prune --older-than: nothing younger than the age, then the final sessions, beside the running server', async () => {
    const srv = await startServerProcess({ args: ['--retention', 'off'] });
    try {
      await registerUser(srv.url, { username: 'prune-provider', password: PASSWORD, client_type: 1 });
      const c = await registerUser(srv.url, {
        username: 'prune-consumer',
        password: PASSWORD,
        client_type: 2,
      });
      const s = (await initiate(srv, c.token, 'prune-provider')).body as { session_id: string };
      await api(srv.url, c.token, 'POST', `/api/ice/sessions/${s.session_id}/cancel`, {});
      const young = await runCli(['db', 'prune', '--older-than', '30d', '--db', srv.dbPath, '--json']);
      assert.equal(young.code, 0, young.stderr);
      assert.equal((JSON.parse(young.stdout) as { sessions: number }).sessions, 0);
      const hist = await api(srv.url, c.token, 'GET', `/api/ice/sessions/${s.session_id}`);
      assert.ok((hist.body as { history: unknown[] }).history.length >= 2);

      await new Promise((r) => setTimeout(r, 1100));
      const old = await runCli(['db', 'prune', '--older-than', '1s', '--db', srv.dbPath, '--json']);
      assert.equal(old.code, 0, old.stderr);
      const r = JSON.parse(old.stdout) as { sessions: number; history: number };
      assert.equal(r.sessions, 1);
      assert.ok(r.history >= 2);
      const after = await api(srv.url, c.token, 'GET', `/api/ice/sessions/${s.session_id}`);
      assert.deepEqual((after.body as { history: unknown[] }).history, []);
      const transfers = await api(srv.url, c.token, 'GET', '/api/transfers');
      assert.equal((transfers.body as unknown[]).length, 1);
      const bad = await runCli(['db', 'prune', '--older-than', 'soon', '--db', srv.dbPath]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--older-than: "soon" is not a duration/);
    } finally {
      await srv.stop();
    }
  });
});

describe('class 6: no user enumeration, no look-alike names', () => {
  let srv: ServerProcess;
  before(async () => {
    srv = await startServerProcess();
  });
  after(async () => {
    await srv.stop();
  });

  it('target: "no such user" and "a consumer" get the same code and message', async () => {
    const c = await registerUser(srv.url, { username: 'prober', password: PASSWORD, client_type: 2 });
    await registerUser(srv.url, { username: 'victim', password: PASSWORD, client_type: 2 });
    const none = await initiate(srv, c.token, 'ghost');
    const consumer = await initiate(srv, c.token, 'victim');
    assert.equal(none.status, 400);
    assert.equal(consumer.status, 400);
    assertErrorShape(none.body, 'ERR_TARGET');
    assertErrorShape(consumer.body, 'ERR_TARGET');
    const msg = (r: { body: unknown }) => (r.body as Body).error?.message ?? '';
    assert.equal(msg(none).replace('ghost', 'X'), msg(consumer).replace('victim', 'X'));
  });

  it('names are unique case-insensitively: Alice is refused (409 ERR_USERNAME_TAKEN) when alice exists, by the API and sdrlink user add; login by ALICE finds alice', async () => {
    const alice = await registerUser(srv.url, { username: 'alice', password: PASSWORD, client_type: 2 });
    const dup = await api(srv.url, undefined, 'POST', '/api/auth/register', {
      username: 'Alice',
      password: PASSWORD,
      client_type: 1,
    });
    assert.equal(dup.status, 409);
    assertErrorShape(dup.body, 'ERR_USERNAME_TAKEN');
    const cli = await runCli(['user', 'add', 'ALICE', '--type', '1', '--db', srv.dbPath]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /user name "ALICE" is taken/);
    assert.deepEqual(
      (await userNames(srv)).filter((n) => n.toLowerCase() === 'alice'),
      ['alice'],
    );
    const login = await api(srv.url, undefined, 'POST', '/api/auth/login', {
      username: 'ALICE',
      password: PASSWORD,
    });
    assert.equal(login.status, 200);
    assert.equal((login.body as { user_id: string }).user_id, alice.user_id);
  });
});

describe('class 7: every error in one shape', () => {
  let srv: ServerProcess;
  let token: string;
  before(async () => {
    srv = await startServerProcess();
    token = (await registerUser(srv.url, { username: 'shaper', password: PASSWORD, client_type: 2 })).token;
  });
  after(async () => {
    await srv.stop();
  });

  it('a URL that is not UTF-8, an over-long parameter, oversized headers and an over-long URL: the error shape, no echo', async () => {
    const head = (path: string, extra = '') =>
      `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n${extra}Connection: close\r\n\r\n`;
    const bad = await rawHttp(srv.port, head('/api/ice/sessions/%ff%fe?x=%ff'));
    assert.equal(bad.status, 400);
    assertErrorShape(bad.body, 'ERR_BAD_URL');
    assert.doesNotMatch(bad.text, /%ff/i);

    const long = 'a'.repeat(300);
    for (const path of [`/api/ice/sessions/${long}`, `/api/relay/${long}`]) {
      const r = await rawHttp(srv.port, head(path));
      assert.equal(r.status, 414, path.slice(0, 30));
      assertErrorShape(r.body, 'ERR_URL_TOO_LONG');
      assert.doesNotMatch(r.text, /aaaaaaaaaa/);
    }
    const big = await rawHttp(srv.port, head('/api/me', `X-Big: ${'b'.repeat(20_000)}\r\n`));
    assert.equal(big.status, 431);
    assertErrorShape(big.body, 'ERR_HEADERS_TOO_LARGE');
    const longUrl = await rawHttp(srv.port, head(`/api/ice/sessions?x=${'c'.repeat(20_000)}`));
    assert.equal(longUrl.status, 431);
    assertErrorShape(longUrl.body, 'ERR_HEADERS_TOO_LARGE');
    assert.doesNotMatch(longUrl.text, /cccccccccc/);
    const garbage = await rawHttp(srv.port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.equal(garbage.status, 400);
    assertErrorShape(garbage.body, 'ERR_BAD_REQUEST');
    const notFound = await rawHttp(srv.port, head(`/api/${'<script>'.repeat(50)}`));
    assert.equal(notFound.status, 404);
    assertErrorShape(notFound.body, 'ERR_NOT_FOUND');
    assert.ok(((notFound.body as Body).error?.message ?? '').length < 120, 'a short excerpt only');
    // the server still answers
    assert.equal((await api(srv.url, token, 'GET', '/api/me')).status, 200);
  });

  it('no token: 401 before the body, the parameters or the query are looked at', async () => {
    const cases: Array<[string, string, string | undefined, Record<string, string>]> = [
      ['POST', '/api/ice/initiate', 'not json', { 'content-type': 'application/json' }],
      ['POST', '/api/ice/initiate', 'plain text', { 'content-type': 'text/plain' }],
      ['POST', '/api/ice/initiate', 'x'.repeat(300 * 1024), { 'content-type': 'application/json' }],
      ['GET', '/api/ice/sessions/not-a-session', undefined, {}],
      ['GET', '/api/transfers?status=bogus&limit=-1', undefined, {}],
      ['POST', '/api/ice/signal', '{"session_id":1}', { 'content-type': 'application/json' }],
    ];
    for (const [method, path, body, headers] of cases) {
      const res = await fetch(srv.url + path, { method, headers, ...(body === undefined ? {} : { body }) });
      const parsed = (await res.json()) as unknown;
      assert.equal(res.status, 401, `${method} ${path}`);
      assertErrorShape(parsed, 'ERR_TOKEN_MISSING');
    }
  });

  it('oversized WebSocket messages: refused, and logged once per connection at warn, with no stack', async () => {
    const p = await push(srv, token);
    await p.next((m) => m['type'] === 'hello');
    const big = JSON.stringify({ type: 'ping', pad: 'x'.repeat(200 * 1024) });
    for (let i = 0; i < 3; i++) {
      p.ws.send(big);
      const r = await p.next((m) => m['type'] === 'result');
      assert.equal((r['error'] as { code: string }).code, 'ERR_VALIDATION');
    }
    p.ws.send('y'.repeat(2 * 1024 * 1024));
    const c = await p.closed();
    assert.equal(c.code, 1009);
    const logged = await eventually('both warnings logged', async () => {
      const lines = srv
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"level":40'));
      return lines.some((l) => l.includes('websocket closed on a client error')) ? lines : undefined;
    });
    assert.equal(logged.filter((l) => l.includes('push message too large')).length, 1, logged.join('\n'));
    assert.equal(logged.filter((l) => l.includes('websocket closed on a client error')).length, 1);
    assert.doesNotMatch(srv.stderr(), /"stack"/);
  });
});
