/**
 * The server's own suites — signaling, claims and their release, outcomes, push, auth, API keys, the relay
 * — run again, unchanged, on a real PostgreSQL: a child `node --test` with SDRLINK_TEST_DATABASE_URL set,
 * so every in-process app (test/helpers/server-app.ts) gets a fresh PostgreSQL database instead of SQLite
 * in memory. Each suite also runs on SQLite in the ordinary run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const SERVER = join(HERE, '..', '..', 'src', 'server');
const SUITES = [
  'signaling',
  'claim-release',
  'outcomes',
  'push',
  'auth',
  'keys',
  'origin',
  'relay/relay',
].map((name) => join(SERVER, `${name}.test${EXT}`));

describe("the server's suites on PostgreSQL", { skip: postgresSkip() }, () => {
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  test('every case passes with each app on its own PostgreSQL database', async () => {
    const args = ['--test', '--test-reporter=tap', '--test-concurrency=1'];
    if (EXT === '.ts') args.unshift('--import', import.meta.resolve('tsx'));
    const child = spawn(process.execPath, [...args, ...SUITES], {
      // a runner of its own: without NODE_TEST_CONTEXT it does not report into this one
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, SDRLINK_TEST_DATABASE_URL: server.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const count = (what: string) => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(out)?.[1] ?? NaN);
    const failed = out
      .split('\n')
      .filter((l) => /^\s*not ok /.test(l))
      .join('\n');
    assert.equal(count('fail'), 0, `failing on PostgreSQL:\n${failed}\n\n${out.slice(-6000)}`);
    assert.ok(count('pass') > 50, `the suites ran (${count('pass')} passed)`);
    assert.equal(code, 0, out.slice(-4000));
    // the apps really were on PostgreSQL: each made its database there
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    try {
      const r = await c.query<{ n: number }>(
        "SELECT COUNT(*)::int AS n FROM pg_database WHERE datname LIKE 'app\\_%'",
      );
      assert.ok((r.rows[0]?.n ?? 0) > 20, `databases made by the apps: ${r.rows[0]?.n}`);
    } finally {
      await c.end();
    }
  });
});
