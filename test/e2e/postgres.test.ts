/**
 * The signaling server on a real PostgreSQL (test/helpers/postgres.ts), as processes: how it refuses a
 * database it cannot use at start, what `/healthz` and the listening line say, a whole transfer between
 * `sdrlink provide` and `sdrlink request` processes (direct, then through the relay), and a PostgreSQL
 * restart under a running server (503 with a code meanwhile, then back by itself).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  createTransferFixture,
  runRequestProcess,
  sha256Of,
  startProviderProcess,
  type TransferFixture,
} from '../helpers/agents.js';
import {
  TEST_JWT_SECRET,
  postgresSkip,
  serverOnPostgres,
  startPostgres,
  type PostgresServer,
} from '../helpers/postgres.js';
import { registerUser, runCli, startServerProcess } from '../helpers/server.js';
import { openWs } from '../helpers/ws-probe.js';
import { createSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';

describe('sdrlink server on PostgreSQL', { skip: postgresSkip() }, () => {
  let pgs: PostgresServer;
  before(async () => {
    pgs = await startPostgres();
  });
  after(async () => {
    await pgs?.stop();
  });

  test('a database it cannot use stops the server at start: one line with the code, no password, no stack', async () => {
    const env = { SDRLINK_JWT_SECRET: TEST_JWT_SECRET };
    const cases: Array<[string, string]> = [
      ['postgres://127.0.0.1:5432/x', 'ERR_DB_URL'],
      ['postgres://sdrlink:pw@127.0.0.1:5432', 'ERR_DB_URL'],
      ['postgres://sdrlink@[::1/x', 'ERR_DB_URL'],
      ['mysql://u:p@127.0.0.1/x', 'ERR_DB_URL'],
      [pgs.urlFor('postgres', 'wrong-password-123'), 'ERR_DB_AUTH'],
      [pgs.urlFor('no_such_database'), 'ERR_DB_AUTH'],
    ];
    // a port nothing listens on: bound and released
    const { createServer } = await import('node:net');
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    cases.push([`postgres://sdrlink:secret-pw-9@127.0.0.1:${closed}/x`, 'ERR_DB_UNREACHABLE']);
    for (const [url, code] of cases) {
      const r = await runCli(['server', '--port', '0', '--db', url], { env });
      assert.equal(r.code, 1, `${url}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${url}: one line, got:\n${r.stderr}`);
      assert.match(lines[0] as string, new RegExp(`^sdrlink server: ${code}: `), url);
      for (const secret of ['wrong-password-123', 'secret-pw-9', pgs.password])
        assert.ok(!r.stderr.includes(secret), `${url}: the password is not printed`);
      assert.equal(r.stdout, '', 'no listening line');
    }
    // the environment variable works the same way, and --log-level debug adds the stack
    const r = await runCli(['server', '--port', '0', '--log-level', 'debug'], {
      env: { ...env, SDRLINK_DATABASE_URL: pgs.urlFor('postgres', 'wrong-password-123') },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^sdrlink server: ERR_DB_AUTH: /);
    assert.match(r.stderr, /\n\s+at /, 'a stack under --log-level debug');
  });

  test('without SDRLINK_JWT_SECRET the server refuses PostgreSQL (no file to keep a secret in)', async () => {
    const url = await pgs.createDatabase();
    const r = await runCli(['server', '--port', '0', '--db', url], {
      env: { SDRLINK_JWT_SECRET: undefined },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SDRLINK_JWT_SECRET/);
  });

  test('the listening line and /healthz name the database; a second server on it shares its users', async () => {
    const opts = await serverOnPostgres(pgs);
    const a = await startServerProcess(opts);
    try {
      assert.match(a.dbPath, /^postgres:\/\/sdrlink@127\.0\.0\.1:\d+\/t\d+$/);
      assert.ok(!a.stderr().includes(pgs.password), 'the password is not logged');
      assert.match(
        a.stderr(),
        /listening on http:\/\/127\.0\.0\.1:\d+ \(postgres database postgres:\/\/sdrlink@/,
      );
      const h = (await (await fetch(`${a.url}/healthz`)).json()) as Record<string, unknown>;
      assert.deepEqual(h['db'], { kind: 'postgres', ok: true });
      assert.equal(h['status'], 'ok');
      const b = await startServerProcess(opts);
      try {
        await registerUser(a.url, { username: 'shared', password: 'shared-pass-1', client_type: 2 });
        const login = await fetch(`${b.url}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'shared', password: 'shared-pass-1' }),
        });
        assert.equal(login.status, 200, 'the user registered on A logs in on B');
      } finally {
        await b.stop();
      }
    } finally {
      await a.stop();
    }
    // the migrations ran once, recorded as on SQLite
    const c = new pg.Client({ connectionString: opts.url });
    await c.connect();
    try {
      const v = await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(
        v.rows.map((x) => x.version),
        [1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
    } finally {
      await c.end();
    }
  });

  test('a PostgreSQL restart under a running server: 503 ERR_DB_UNAVAILABLE meanwhile, then it reconnects by itself', async () => {
    const own = await startPostgres();
    const srv = await startServerProcess(await serverOnPostgres(own));
    try {
      const { token } = await registerUser(srv.url, {
        username: 'rs',
        password: 'restart-pass',
        client_type: 2,
      });
      const auth = { authorization: `Bearer ${token}` };
      const transfers = () => fetch(`${srv.url}/api/transfers`, { headers: auth });
      assert.equal((await transfers()).status, 200);
      const sess = await fetch(`${srv.url}/api/ice/initiate`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ request_type: 'spectrum', parameters: '{}' }),
      });
      const sessionId = ((await sess.json()) as { session_id: string }).session_id;
      const push = await openWs(`${srv.url.replace(/^http/, 'ws')}/api/ws`, {
        authorization: `Bearer ${token}`,
      });
      await own.halt();
      // a signal over the push socket meanwhile: refused with the same code, the socket stays open
      push.ws.send(
        JSON.stringify({
          type: 'signal',
          ref: 7,
          session_id: sessionId,
          signal_type: 'candidate',
          signal_data: JSON.stringify({
            candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host',
            sdpMid: '0',
            sdpMLineIndex: 0,
          }),
        }),
      );
      const refused = await push.next((m) => m['type'] === 'result' && m['ref'] === 7);
      assert.equal(refused['ok'], false);
      assert.equal(
        (refused['error'] as { code: string }).code,
        'ERR_DB_UNAVAILABLE',
        JSON.stringify(refused),
      );
      push.ws.close();
      for (let i = 0; i < 3; i++) {
        const res = await transfers();
        const body = (await res.json()) as { error?: { code?: string } };
        assert.equal(res.status, 503, JSON.stringify(body));
        assert.equal(body.error?.code, 'ERR_DB_UNAVAILABLE');
        assert.equal(res.headers.get('retry-after'), '1');
      }
      const health = await fetch(`${srv.url}/healthz`);
      assert.equal(health.status, 503);
      assert.equal(((await health.json()) as { error: { code: string } }).error.code, 'ERR_UNAVAILABLE');
      await own.resume();
      // the pool opens new connections on its own: the next requests succeed (a few tries at most, while
      // connections the restart broke are found out)
      let status = 0;
      for (let i = 0; i < 20 && status !== 200; i++) {
        status = (await transfers()).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 200, srv.stderr());
      const created = await fetch(`${srv.url}/api/ice/initiate`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ request_type: 'spectrum', parameters: '{}' }),
      });
      assert.equal(created.status, 201, await created.text());
      assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
      assert.equal(srv.proc.exitCode, null, 'the server kept running');
    } finally {
      await srv.stop();
      await own.stop();
    }
  });

  test('sdrlink db migrate copies a SQLite installation (every table), checks the counts, and the servers go on from it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sdrlink-migrate-'));
    try {
      // a SQLite server made the file and its JWT secret; its users hold tokens
      const sqliteSrv = await startServerProcess({ dir });
      const file = sqliteSrv.dbPath;
      const provider = await registerUser(sqliteSrv.url, {
        username: 'radio',
        password: 'radio-pass-1',
        client_type: 1,
      });
      const consumer = await registerUser(sqliteSrv.url, {
        username: 'ann',
        password: 'ann-pass-12',
        client_type: 2,
      });
      await sqliteSrv.stop();
      // every other table gets rows through the storage itself
      const sid = '00000000-0000-4000-8000-00000000abcd';
      const s = createSqliteStorage(file);
      try {
        const p = Number(provider.user_id);
        const c = Number(consumer.user_id);
        const now = new Date().toISOString();
        await s.sessions.create(
          {
            sessionId: sid,
            initiatorUserId: c,
            targetUserId: null,
            requestType: 'spectrum',
            parameters: `{"a":"it's"}`,
            capabilities: ['sdrlink/1'],
            fileName: 'x.npz',
            fileSize: 5_000_000_000,
            fileType: null,
          },
          now,
        );
        const offer = {
          sessionId: sid,
          signalType: 'offer' as const,
          signalData: '{}',
          fromUserId: p,
          toUserId: c,
        };
        assert.ok((await s.signals.post(offer, now, { claim: true })).ok);
        const candidate = {
          candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host',
          sdpMLineIndex: 0,
          sdpMid: '0',
        };
        assert.ok((await s.signals.post({ ...offer, signalType: 'candidate', candidate }, now)).ok);
        const patch = { bytes: 5_000_000_000, sha256: 'a'.repeat(64), verified: true };
        await s.transfers.report(
          { sessionId: sid, byUserId: c, status: 'completed', transitionFrom: ['offered'], patch },
          now,
        );
        await s.catalogs.put(p, '{"types":[],"recordings":[]}', now);
        await s.catalogs.decline({ sessionId: sid, userId: p, code: 'ERR_BUSY', message: 'busy', at: now });
        const key = {
          userId: p,
          name: 'k',
          secretSha256: 'b'.repeat(64),
          secretHead: 'AbCd',
          expiresAt: null,
        };
        await s.apiKeys.create(key, now);
      } finally {
        await s.close();
      }
      const url = await pgs.createDatabase();
      const expected = {
        users: 2,
        ice_sessions: 1,
        ice_candidates: 2,
        file_transfers: 1,
        ice_session_history: 3,
        provider_catalogs: 1,
        session_declines: 1,
        api_keys: 1,
      };
      const r = await runCli(['db', 'migrate', '--from', file, '--to', url, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { tables: Array<{ table: string; rows: number }>; to: string };
      assert.deepEqual(Object.fromEntries(out.tables.map((t) => [t.table, t.rows])), expected);
      assert.ok(!r.stdout.includes(pgs.password) && !r.stderr.includes(pgs.password), 'no password printed');
      assert.match(r.stderr, /SDRLINK_JWT_SECRET set to the content of .*\.jwt-secret/);

      // a second run refuses the now non-empty target and leaves it as it was; --replace copies again
      const again = await runCli(['db', 'migrate', '--from', file, '--to', url]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^sdrlink db migrate: ERR_DB_NOT_EMPTY: .*users: 2/);
      const replaced = await runCli(['db', 'migrate', '--from', file, '--to', url, '--replace']);
      assert.equal(replaced.code, 0, replaced.stderr);
      assert.match(replaced.stdout, /ice_candidates\s+2\n/);
      const missing = await runCli(['db', 'migrate', '--from', join(dir, 'nope.sqlite'), '--to', url]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /ERR_STORAGE: .*no such database file/);

      // a server on PostgreSQL with the SQLite server's secret: the old tokens work, the data is there
      const secret = (await readFile(`${file}.jwt-secret`, 'utf8')).trim();
      const pgSrv = await startServerProcess({ args: ['--db', url], env: { SDRLINK_JWT_SECRET: secret } });
      try {
        const list = await fetch(`${pgSrv.url}/api/transfers`, {
          headers: { authorization: `Bearer ${consumer.token}` },
        });
        assert.equal(list.status, 200);
        const body = (await list.json()) as Array<Record<string, unknown>>;
        assert.equal(body.length, 1);
        assert.equal(body[0]?.['session_id'], sid);
        assert.equal(body[0]?.['status'], 'completed');
        assert.equal(body[0]?.['provider_name'], 'radio');
        assert.equal(body[0]?.['bytes'], 5_000_000_000, 'a BIGINT survives');
        // the identities go on after the copied ids
        const next = await registerUser(pgSrv.url, {
          username: 'newcomer',
          password: 'newcomer-pass',
          client_type: 2,
        });
        assert.ok(Number(next.user_id) > Number(consumer.user_id));
      } finally {
        await pgSrv.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('sdrlink user add / disable and db prune work on a PostgreSQL database beside its running server', async () => {
    const opts = await serverOnPostgres(pgs);
    const srv = await startServerProcess({ ...opts, env: { ...opts.env, SDRLINK_REGISTRATION: 'closed' } });
    try {
      const env = { SDRLINK_JWT_SECRET: TEST_JWT_SECRET, SDRLINK_DATABASE_URL: opts.url };
      const add = await runCli(['user', 'add', 'ops-radio', '--type', '1', '--json'], { env });
      assert.equal(add.code, 0, add.stderr);
      const { token } = JSON.parse(add.stdout) as { token: string };
      const me = await fetch(`${srv.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(me.status, 200, 'the token minted offline works on the server');
      const dis = await runCli(['user', 'disable', 'ops-radio', '--db', opts.url], {
        env: { SDRLINK_JWT_SECRET: TEST_JWT_SECRET },
      });
      assert.equal(dis.code, 0, dis.stderr);
      const prune = await runCli(['db', 'prune', '--db', opts.url, '--json']);
      assert.equal(prune.code, 0, prune.stderr);
      assert.equal((JSON.parse(prune.stdout) as { sessions: number }).sessions, 0);
      const noSecret = await runCli(['user', 'add', 'x-user', '--type', '2', '--db', opts.url], {
        env: { SDRLINK_JWT_SECRET: undefined },
      });
      assert.equal(noSecret.code, 1);
      assert.match(noSecret.stderr, /SDRLINK_JWT_SECRET/);
    } finally {
      await srv.stop();
    }
  });

  describe('a transfer between processes, the server on PostgreSQL', () => {
    let fx: TransferFixture;
    let url: string;
    before(async () => {
      const opts = await serverOnPostgres(pgs);
      url = opts.url;
      fx = await createTransferFixture({ provider: 'radio-pg', consumer: 'alice-pg' }, opts);
    });
    after(async () => {
      await fx?.close();
    });

    for (const transport of ['p2p', 'relay'] as const) {
      test(`a spectrum arrives verified (${transport}) and the transfer is recorded in PostgreSQL`, async () => {
        const provider = await startProviderProcess({
          url: fx.srv.url,
          token: fx.providerToken,
          dataDir: await fx.fresh('pdata'),
        });
        try {
          const out = await fx.fresh('out');
          const r = await runRequestProcess({
            url: fx.srv.url,
            token: fx.consumerToken,
            type: 'spectrum',
            params: { frequency_start: 100e6, frequency_end: 110e6, sample_rate: 2e6 },
            out,
            ...(transport === 'relay' ? { args: ['--transport', 'relay'] } : {}),
          });
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.result['verified'], true);
          assert.equal(r.result['transport'], transport);
          assert.equal(await sha256Of(r.result['path'] as string), r.result['sha256']);
          const c = new pg.Client({ connectionString: url });
          await c.connect();
          try {
            const t = await c.query<{ status: string; sha256: string; relay_bytes: number }>(
              `SELECT t.status, t.sha256, t.relay_bytes::int AS relay_bytes FROM file_transfers t
               WHERE t.session_id = $1`,
              [r.result['session_id']],
            );
            assert.equal(t.rows[0]?.status, 'completed');
            assert.equal(t.rows[0]?.sha256, r.result['sha256']);
            if (transport === 'relay') assert.ok((t.rows[0]?.relay_bytes ?? 0) > 0, 'relay bytes recorded');
          } finally {
            await c.end();
          }
        } finally {
          await provider.stop();
        }
      });
    }
  });
});
