/**
 * The signaling server on a real PostgreSQL (test/helpers/postgres.ts), as processes: how it refuses a
 * database it cannot use at start, what `/healthz` and the listening line say, a whole transfer between
 * `sdrlink provide` and `sdrlink request` processes (direct, then through the relay), and a PostgreSQL
 * restart under a running server (503 with a code meanwhile, then back by itself).
 */
import assert from 'node:assert/strict';
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
        [1, 2, 3, 4, 5, 6, 7, 8],
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
      await own.halt();
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
