/**
 * The signaling server as a real process on a real port with a real SQLite file (test/helpers/server.ts):
 * readiness line, every endpoint family over HTTP, the push channel delivering a posted signal, the
 * offline `sdrlink user` verbs against a running server, configuration from flags and environment,
 * clean shutdown, restart keeping users/sessions/signals/transfers, and expiry on the timer.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { api, cliCommand, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';

const run = promisify(execFile);
const OFFER = JSON.stringify({ type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n' });
const ANSWER = JSON.stringify({ type: 'answer', sdp: 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\n' });
const CAND = JSON.stringify({
  candidate: 'candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host',
  sdpMid: '0',
  sdpMLineIndex: 0,
});
const PASSWORD = 'e2e password 1';

async function sdrlink(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  const cli = cliCommand();
  return run(cli.command, [...cli.args, ...args], { env: { ...process.env, ...env }, timeout: 30_000 });
}

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('server process', () => {
  let srv: ServerProcess;
  before(async () => {
    srv = await startServerProcess({
      env: {
        SDRLINK_ICE_SERVERS: JSON.stringify([
          { urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'c' },
        ]),
      },
    });
  });
  after(() => srv.stop());

  it('announces where it listens and where its database is; the database is WAL, the secret private', async () => {
    assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(srv.port > 0);
    assert.ok(isAbsolute(srv.dbPath));
    assert.equal(srv.dbPath, join(srv.dir, 'db.sqlite'));
    assert.ok(existsSync(`${srv.dbPath}-wal`), 'WAL journal present');
    assert.equal(statSync(`${srv.dbPath}.jwt-secret`).mode & 0o777, 0o600);
    const h = await api(srv.url, undefined, 'GET', '/healthz');
    assert.equal(h.status, 200);
    assert.equal((h.body as { status: string }).status, 'ok');
  });

  it('serves every endpoint family over HTTP', async () => {
    const p = await registerUser(srv.url, {
      username: 'prov',
      password: PASSWORD,
      client_type: 1,
      request_types: ['spectrum'],
    });
    const c = await registerUser(srv.url, { username: 'cons', password: PASSWORD, client_type: 2 });
    assert.deepEqual((await api(srv.url, p.token, 'GET', '/api/me')).body, {
      user_id: p.user_id,
      username: 'prov',
      client_type: 1,
      request_types: ['spectrum'],
    });
    const put = await api(srv.url, p.token, 'PUT', '/api/me/request-types', {
      request_types: ['spectrum', 'signal'],
    });
    assert.equal(put.status, 200);
    assert.deepEqual((put.body as { request_types: string[] }).request_types, ['spectrum', 'signal']);
    const cfg = await api(srv.url, c.token, 'GET', '/api/ice/config');
    assert.deepEqual(cfg.body, {
      ice_servers: [
        { urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'c' },
        // The built-in STUN responder, on by default (docs/api.md §4).
        { urls: [`stun:127.0.0.1:${srv.stunPort}`] },
      ],
      relay_after_ms: 5000,
    });

    const init = await api(srv.url, c.token, 'POST', '/api/ice/initiate', {
      request_type: 'signal',
      parameters: '{"duration":1}',
      capabilities: ['sdrlink/1'],
    });
    assert.equal(init.status, 201);
    const sid = (init.body as { session_id: string }).session_id;
    const list = await api(srv.url, p.token, 'GET', '/api/ice/sessions');
    assert.deepEqual(
      (list.body as Array<{ session_id: string }>).map((s) => s.session_id),
      [sid],
    );
    assert.equal(
      (
        await api(srv.url, p.token, 'POST', '/api/ice/signal', {
          session_id: sid,
          signal_type: 'offer',
          signal_data: OFFER,
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await api(srv.url, c.token, 'POST', '/api/ice/signal', {
          session_id: sid,
          signal_type: 'answer',
          signal_data: ANSWER,
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await api(srv.url, c.token, 'POST', '/api/ice/signal', {
          session_id: sid,
          signal_type: 'candidate',
          signal_data: CAND,
        })
      ).status,
      200,
    );
    const toP = (await api(srv.url, p.token, 'GET', `/api/ice/signals?session_id=${sid}`)).body as Array<{
      signal_type: string;
    }>;
    assert.deepEqual(
      toP.map((s) => s.signal_type),
      ['answer', 'candidate'],
    );
    assert.deepEqual((await api(srv.url, p.token, 'GET', '/api/ice/sessions')).body, []);
    const rep = await api(srv.url, p.token, 'POST', `/api/transfers/${sid}`, {
      status: 'completed',
      bytes: 10,
      sha256: '0'.repeat(64),
      transport: 'p2p',
      duration_ms: 5,
    });
    assert.equal(rep.status, 200);
    const hist = await api(srv.url, c.token, 'GET', `/api/ice/sessions/${sid}`);
    assert.deepEqual(
      (hist.body as { history: Array<{ status: string }> }).history.map((h) => h.status),
      ['pending', 'offered', 'completed'],
    );
    const transfers = (await api(srv.url, c.token, 'GET', '/api/transfers')).body as Array<{
      session_id: string;
      status: string;
      sha256: string;
    }>;
    assert.equal(transfers[0]?.session_id, sid);
    assert.equal(transfers[0]?.status, 'completed');

    const other = await api(srv.url, c.token, 'POST', '/api/ice/initiate', {
      request_type: 'spectrum',
      parameters: '{}',
    });
    const cancel = await api(
      srv.url,
      c.token,
      'POST',
      `/api/ice/sessions/${(other.body as { session_id: string }).session_id}/cancel`,
    );
    assert.equal((cancel.body as { status: string }).status, 'cancelled');
    const missing = await api(srv.url, undefined, 'GET', '/api/ice/sessions');
    assert.deepEqual(missing.body, {
      error: { code: 'ERR_TOKEN_MISSING', message: 'Authorization: Bearer <token> is required' },
    });
  });

  it('pushes a signal posted over REST to its addressee as it happens', async () => {
    const p = await registerUser(srv.url, { username: 'push-prov', password: PASSWORD, client_type: 1 });
    const c = await registerUser(srv.url, { username: 'push-cons', password: PASSWORD, client_type: 2 });
    const ws = new WebSocket(`${srv.url.replace(/^http/, 'ws')}/api/ws`, {
      headers: { authorization: `Bearer ${c.token}` },
    });
    try {
      const messages: Array<Record<string, unknown>> = [];
      ws.on('message', (d) => messages.push(JSON.parse((d as Buffer).toString()) as Record<string, unknown>));
      await until(async () => (messages.some((m) => m['type'] === 'hello') ? true : undefined), 'hello');
      const init = await api(srv.url, c.token, 'POST', '/api/ice/initiate', {
        request_type: 'spectrum',
        parameters: '{}',
      });
      const sid = (init.body as { session_id: string }).session_id;
      const posted = await api(srv.url, p.token, 'POST', '/api/ice/signal', {
        session_id: sid,
        signal_type: 'offer',
        signal_data: OFFER,
      });
      const pushed = await until(
        async () => messages.find((m) => m['type'] === 'signal'),
        'the pushed signal',
      );
      assert.deepEqual(pushed['signal'], posted.body);
    } finally {
      ws.terminate();
    }
  });

  it('`sdrlink user add` works on the database beside the running server, and its token is accepted', async () => {
    const { stdout } = await sdrlink([
      'user',
      'add',
      'scripted',
      '--type',
      '1',
      '--request-types',
      'spectrum',
      '--db',
      srv.dbPath,
      '--json',
    ]);
    const out = JSON.parse(stdout) as {
      user_id: string;
      token: string;
      password: string;
      client_type: number;
    };
    assert.equal(out.client_type, 1);
    assert.equal(typeof out.password, 'string');
    const me = await api(srv.url, out.token, 'GET', '/api/me');
    assert.equal(me.status, 200);
    assert.equal((me.body as { username: string }).username, 'scripted');
    const login = await api(srv.url, undefined, 'POST', '/api/auth/login', {
      username: 'scripted',
      password: out.password,
    });
    assert.equal(login.status, 200);
    const tok = await sdrlink(['user', 'token', 'scripted', '--db', srv.dbPath]);
    assert.equal((await api(srv.url, tok.stdout.trim(), 'GET', '/api/me')).status, 200);
    await assert.rejects(sdrlink(['user', 'add', 'scripted', '--type', '2', '--db', srv.dbPath]), /is taken/);
  });
});

describe('server process: lifecycle', () => {
  it('refuses bad configuration with a message naming the flag or variable', async () => {
    const refused = async (opts: Parameters<typeof startServerProcess>[0], message: RegExp) => {
      let started: ServerProcess | undefined;
      try {
        started = await startServerProcess(opts);
      } catch (err) {
        assert.match((err as Error).message, message);
        return;
      }
      await started.stop();
      assert.fail('the server started with a bad configuration');
    };
    await refused({ args: ['--ice-servers', '[{"urls":"http://x"}]'] }, /--ice-servers\[0\]\.urls/);
    await refused(
      { env: { SDRLINK_SESSION_TTL_MS: 'soon' } },
      /SDRLINK_SESSION_TTL_MS: must be a non-negative integer/,
    );
  });

  it('shuts down cleanly on SIGTERM and SIGINT, and a restart keeps users, sessions, signals and transfers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sdrlink-restart-'));
    try {
      const a = await startServerProcess({ dir });
      let p: { token: string; user_id: string };
      let c: { token: string; user_id: string };
      let sid: string;
      let offerId: number;
      try {
        p = await registerUser(a.url, { username: 'keep-prov', password: PASSWORD, client_type: 1 });
        c = await registerUser(a.url, { username: 'keep-cons', password: PASSWORD, client_type: 2 });
        sid = (
          (
            await api(a.url, c.token, 'POST', '/api/ice/initiate', {
              request_type: 'spectrum',
              parameters: '{"x":1}',
            })
          ).body as { session_id: string }
        ).session_id;
        offerId = (
          (
            await api(a.url, p.token, 'POST', '/api/ice/signal', {
              session_id: sid,
              signal_type: 'offer',
              signal_data: OFFER,
            })
          ).body as { id: number }
        ).id;
        await api(a.url, p.token, 'POST', `/api/transfers/${sid}`, {
          status: 'transferring',
          bytes: 123,
          transport: 'relay',
        });
      } finally {
        assert.equal(await a.kill('SIGTERM'), 0, `clean exit\n${a.stderr()}`);
      }
      assert.ok(a.stdoutLines().some((l) => l.includes('"stopped"')));

      const b = await startServerProcess({ dir });
      try {
        const me = await api(b.url, c.token, 'GET', '/api/me');
        assert.equal(me.status, 200, 'a token from before the restart still verifies (the secret is kept)');
        const login = await api(b.url, undefined, 'POST', '/api/auth/login', {
          username: 'keep-prov',
          password: PASSWORD,
        });
        assert.equal(login.status, 200);
        const signals = (await api(b.url, c.token, 'GET', `/api/ice/signals/${sid}`)).body as Array<{
          id: number;
          signal_data: string;
        }>;
        assert.deepEqual(
          signals.map((s) => [s.id, s.signal_data]),
          [[offerId, OFFER]],
        );
        const s = (await api(b.url, c.token, 'GET', `/api/ice/sessions/${sid}`)).body as {
          status: string;
          parameters: string;
        };
        assert.equal(s.status, 'transferring');
        assert.equal(s.parameters, '{"x":1}');
        const t = (await api(b.url, p.token, 'GET', '/api/transfers')).body as Array<{
          bytes: number;
          transport: string;
        }>;
        assert.equal(t[0]?.bytes, 123);
        assert.equal(t[0]?.transport, 'relay');
      } finally {
        assert.equal(await b.kill('SIGINT'), 0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('expires stale sessions on its timer (--session-ttl)', async () => {
    const srv = await startServerProcess({ args: ['--session-ttl', '300', '--sweep-interval', '50'] });
    try {
      const c = await registerUser(srv.url, { username: 'exp-cons', password: PASSWORD, client_type: 2 });
      const p = await registerUser(srv.url, { username: 'exp-prov', password: PASSWORD, client_type: 1 });
      const sid = (
        (
          await api(srv.url, c.token, 'POST', '/api/ice/initiate', {
            request_type: 'spectrum',
            parameters: '{}',
          })
        ).body as { session_id: string }
      ).session_id;
      const s = await until(async () => {
        const r = (await api(srv.url, c.token, 'GET', `/api/ice/sessions/${sid}`)).body as {
          status: string;
          history: Array<{ status: string }>;
        };
        return r.status === 'expired' ? r : undefined;
      }, 'the session to expire');
      assert.deepEqual(
        s.history.map((h) => h.status),
        ['pending', 'expired'],
      );
      assert.deepEqual(
        (await api(srv.url, p.token, 'GET', '/api/ice/sessions')).body,
        [],
        'an expired session leaves the providers’ lists',
      );
      const late = await api(srv.url, p.token, 'POST', '/api/ice/signal', {
        session_id: sid,
        signal_type: 'offer',
        signal_data: OFFER,
      });
      assert.equal(late.status, 409);
    } finally {
      await srv.stop();
    }
  });
});
