/**
 * Credentials that last, across real processes (a server, `sdrlink login`, `user key`, `provide`,
 * `request`): login stores an API key 0600 in a temporary XDG_CONFIG_HOME and later verbs need no
 * --server/--token; keys are created, listed and revoked; a provider whose key is revoked, or whose token
 * expires, stops with one line and exit 3 instead of retrying; a revoked key gets ERR_KEY_REVOKED; no
 * key secret is ever stored or logged by the server; logout revokes and deletes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runRequestProcess, startProviderProcess, type ProviderProcess } from '../helpers/agents.js';
import {
  api,
  cliCommand,
  registerUser,
  runCli,
  startServerProcess,
  type ServerProcess,
} from '../helpers/server.js';

const SPECTRUM = { frequency_start: 100e6, frequency_end: 101e6, sample_rate: 1e6 };
/** No credential from the test runner's own environment leaks into the children. */
const CLEAN = { SDRLINK_SERVER: undefined, SDRLINK_TOKEN: undefined };

describe('credentials that last', () => {
  let srv: ServerProcess;
  let dir: string;
  let consumerEnv: Record<string, string | undefined>;
  let providerEnv: Record<string, string | undefined>;
  const secrets: string[] = [];
  const providers: ProviderProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-creds-e2e-'));
    // info: the server logs key creation and revocation, so the "never logged" check below means something
    srv = await startServerProcess({ args: ['--log-level', 'info'] });
    await registerUser(srv.url, { username: 'alice', password: 'consumer-pass', client_type: 2 });
    await registerUser(srv.url, { username: 'radio-1', password: 'provider-pass', client_type: 1 });
    consumerEnv = { ...CLEAN, XDG_CONFIG_HOME: join(dir, 'alice-config') };
    providerEnv = { ...CLEAN, XDG_CONFIG_HOME: join(dir, 'radio-config') };
  });
  after(async () => {
    for (const p of providers) await p.stop();
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const storedFile = (env: Record<string, string | undefined>) =>
    join(env['XDG_CONFIG_HOME'] as string, 'sdrlink', 'credentials.json');

  test('login --password-stdin stores an API key 0600 in a 0700 folder; a wrong password stores nothing', async () => {
    const wrong = await runCli(['login', '--server', srv.url, '--username', 'alice', '--password-stdin'], {
      env: consumerEnv,
      input: 'not-the-password\n',
    });
    assert.equal(wrong.code, 3, wrong.stderr);
    assert.match(wrong.stderr, /^sdrlink login: wrong username or password \(ERR_CREDENTIALS\)$/m);
    assert.throws(() => statSync(storedFile(consumerEnv)), /ENOENT/);

    const r = await runCli(['login', '--server', srv.url, '--username', 'alice', '--password-stdin'], {
      env: consumerEnv,
      input: 'consumer-pass\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /logged in to http:\/\/127\.0\.0\.1:\d+ as alice \(consumer\); API key \d+/);
    const path = storedFile(consumerEnv);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(consumerEnv['XDG_CONFIG_HOME'] as string, 'sdrlink')).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(join(consumerEnv['XDG_CONFIG_HOME'] as string, 'sdrlink')), [
      'credentials.json',
    ]);
    const stored = JSON.parse(readFileSync(path, 'utf8'));
    const cred = stored.servers[srv.url];
    assert.equal(stored.default, srv.url);
    assert.match(cred.token, /^sdrk_\d+_[A-Za-z0-9_-]{43}$/);
    assert.ok(!r.stdout.includes(cred.token) && !r.stderr.includes(cred.token), 'login never prints the key');
    secrets.push(cred.token);
    // the stored key works on its own: no --server, no --token
    const list = await runCli(['user', 'key', 'list', '--json'], { env: consumerEnv });
    assert.equal(list.code, 0, list.stderr);
    const keys = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      keys.map((k) => [k['id'], k['status']]),
      [[cred.key_id, 'active']],
    );
  });

  test('user key create | list | revoke round trip; a revoked key gets 401 ERR_KEY_REVOKED', async () => {
    const login = await runCli(['login', '--server', srv.url, '--username', 'radio-1', '--password-stdin'], {
      env: providerEnv,
      input: 'provider-pass\n',
    });
    assert.equal(login.code, 0, login.stderr);
    const created = await runCli(['user', 'key', 'create', '--name', 'spare', '--expires', '30d'], {
      env: providerEnv,
    });
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim();
    assert.match(key, /^sdrk_\d+_[A-Za-z0-9_-]{43}$/);
    secrets.push(key);
    const id = key.split('_')[1] as string;
    const listed = await runCli(['user', 'key', 'list'], { env: providerEnv });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${id} +active +sdrk_${id}_\\S{4} .* spare$`, 'm'));
    assert.ok(!listed.stdout.includes(key));
    assert.equal((await api(srv.url, key, 'GET', '/api/me')).status, 200);
    const revoked = await runCli(['user', 'key', 'revoke', id], { env: providerEnv });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stderr, new RegExp(`revoked API key ${id} "spare"`));
    for (const [method, path] of [
      ['GET', '/api/me'],
      ['GET', '/api/ice/sessions'],
      ['GET', '/api/keys'],
    ] as const) {
      const r = await api(srv.url, key, method, path);
      assert.equal(r.status, 401, path);
      assert.equal((r.body as { error: { code: string } }).error.code, 'ERR_KEY_REVOKED', path);
    }
    const again = await runCli(['user', 'key', 'list', '--token', key, '--server', srv.url], { env: CLEAN });
    assert.equal(again.code, 3);
    assert.match(again.stderr, /^sdrlink user key list: credential revoked \(ERR_KEY_REVOKED\)/m);
  });

  test('a provider on an API key serves a request made with the stored login, and stops (exit 3, one line) once its key is revoked', async () => {
    const created = await runCli(['user', 'key', 'create', '--name', 'radio-1 daemon', '--json'], {
      env: providerEnv,
    });
    assert.equal(created.code, 0, created.stderr);
    const k = JSON.parse(created.stdout) as { id: string; key: string };
    secrets.push(k.key);
    const provider = await startProviderProcess({
      url: srv.url,
      token: k.key,
      dataDir: join(dir, 'pdata'),
      env: CLEAN,
    });
    providers.push(provider);
    assert.equal((await provider.waitFor((e) => e['event'] === 'ready'))['push'], true);

    const out = join(dir, 'out');
    const r = await runRequestProcess({
      url: undefined,
      token: undefined,
      type: 'spectrum',
      params: SPECTRUM,
      out,
      env: consumerEnv,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, `${JSON.stringify(r.result)}\n${r.stderr}`);
    assert.equal(r.result['ok'], true);
    // the other verbs that read the server take the stored login too (README "Logging in")
    const providersNow = await runCli(['providers', '--json'], { env: consumerEnv });
    assert.equal(providersNow.code, 0, providersNow.stderr);
    const listed = JSON.parse(providersNow.stdout) as Array<{ username: string; online: boolean }>;
    assert.deepEqual(
      listed.map((p) => [p.username, p.online]),
      [['radio-1', true]],
    );
    const hist = await runCli(['history', '--json'], { env: consumerEnv });
    assert.equal(hist.code, 0, hist.stderr);
    assert.deepEqual(
      (JSON.parse(hist.stdout) as Array<{ session_id: string; status: string }>).map((h) => [
        h.session_id,
        h.status,
      ]),
      [[String(r.result['session_id']), 'completed']],
    );

    const revoked = await runCli(['user', 'key', 'revoke', k.id], { env: providerEnv });
    assert.equal(revoked.code, 0, revoked.stderr);
    const stopped = await provider.waitFor((e) => e['event'] === 'stopped', 15_000).catch(() => undefined);
    const code = await Promise.race([
      provider.exited,
      new Promise((r) => setTimeout(() => r('still running'), 15_000)),
    ]);
    assert.equal(code, 3, provider.stderr());
    // the push socket was dropped by the server (not a later poll): the event says so
    assert.equal(stopped?.['server_code'], 'ERR_KEY_REVOKED');
    assert.match(String(stopped?.['message']), /push channel closed 4401: ERR_KEY_REVOKED/);
    const lines = provider.stderr().trim().split('\n');
    assert.deepEqual(lines, [
      'sdrlink provide: credential revoked (ERR_KEY_REVOKED); create a new key with sdrlink user key create',
    ]);
  });

  test('a revoked stored credential fails a request with exit 3; logout revokes and deletes; then no credential (exit 2)', async () => {
    const path = storedFile(consumerEnv);
    chmodSync(path, 0o644);
    const loose = await runCli(['user', 'key', 'list'], { env: consumerEnv });
    assert.equal(loose.code, 2);
    assert.match(loose.stderr, /ERR_CREDENTIAL_FILE: .*mode 0644.*chmod 600/);
    chmodSync(path, 0o600);

    const token = JSON.parse(readFileSync(path, 'utf8')).servers[srv.url].token as string;
    const out = await runCli(['logout'], { env: consumerEnv });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /logged out of http:\/\/127\.0\.0\.1:\d+ \(API key \d+ revoked\)/);
    assert.throws(() => statSync(path), /ENOENT/);
    const r = await api(srv.url, token, 'GET', '/api/me');
    assert.equal(r.status, 401);
    assert.equal((r.body as { error: { code: string } }).error.code, 'ERR_KEY_REVOKED');

    const none = await runCli(['request', 'spectrum', '--out', join(dir, 'none'), '--quiet'], {
      env: consumerEnv,
    });
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /ERR_NO_CREDENTIAL: no server: give --server URL/);
    for (const verb of ['providers', 'history']) {
      const noneToo = await runCli([verb], { env: consumerEnv });
      assert.equal(noneToo.code, 2, `${verb}: ${noneToo.stderr}`);
      assert.match(noneToo.stderr, new RegExp(`^sdrlink ${verb}: ERR_NO_CREDENTIAL: no server`));
    }

    const revokedReq = await runRequestProcess({
      url: srv.url,
      token,
      type: 'spectrum',
      params: SPECTRUM,
      out: join(dir, 'none'),
      env: CLEAN,
      timeoutMs: 30_000,
    });
    assert.equal(revokedReq.code, 3, revokedReq.stderr);
    assert.equal(revokedReq.result['code'], 'ERR_AUTH');
    assert.match(String(revokedReq.result['message']), /ERR_KEY_REVOKED/);
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;
  test(
    'login on a terminal asks for the password without echoing it (a pty from util-linux script)',
    { skip: hasScript ? false : 'util-linux `script` is not installed' },
    async () => {
      await registerUser(srv.url, { username: 'bob', password: 'bob-password', client_type: 2 });
      const env = { ...process.env, ...CLEAN, XDG_CONFIG_HOME: join(dir, 'bob-config') };
      const cli = cliCommand();
      const line = [cli.command, ...cli.args, 'login', '--server', srv.url, '--username', 'bob']
        .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
        .join(' ');
      const proc = spawn('script', ['-qec', line, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout.setEncoding('utf8');
      const prompted = new Promise<void>((resolve) =>
        proc.stdout.on('data', (c: string) => {
          out += c;
          if (out.includes('password for bob')) resolve();
        }),
      );
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
      // typed only once the prompt is up: before it, the terminal is still in cooked mode and would echo
      await prompted;
      proc.stdin.write('bob-password\r');
      const code = await exited;
      clearTimeout(timer);
      proc.stdin.destroy();
      assert.equal(code, 0, out);
      assert.match(out, /logged in to .* as bob \(consumer\)/);
      assert.ok(!out.includes('bob-password'), `the password was echoed: ${JSON.stringify(out)}`);
      const stored = join(dir, 'bob-config', 'sdrlink', 'credentials.json');
      assert.equal(statSync(stored).mode & 0o777, 0o600);
      secrets.push(JSON.parse(readFileSync(stored, 'utf8')).servers[srv.url].token as string);
    },
  );

  test('no key secret is stored in the database or written to the server log', async () => {
    assert.ok(secrets.length >= 3);
    const files = readdirSync(dir === '' ? '.' : srv.dir).filter((f) => f.startsWith('db.sqlite'));
    assert.ok(files.includes('db.sqlite'));
    const bytes = files.map((f) => readFileSync(join(srv.dir, f)).toString('latin1')).join('\n');
    const log = srv.stderr();
    assert.match(log, /api key created/, 'the log is on');
    for (const key of secrets) {
      const secret = key.slice(key.indexOf('_', 5) + 1);
      assert.ok(!bytes.includes(secret), 'a secret is in the database files');
      assert.ok(!log.includes(secret), 'a secret is in the server log');
    }
  });
});

describe('a provider on a token that expires', () => {
  let srv: ServerProcess;
  let dir: string;
  after(async () => {
    await srv?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('stops with one line and exit 3 at expiry instead of retrying forever', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-creds-ttl-'));
    srv = await startServerProcess({ args: ['--token-ttl', '6'] });
    const { token } = await registerUser(srv.url, {
      username: 'radio-2',
      password: 'provider-pass',
      client_type: 1,
    });
    const provider = await startProviderProcess({ url: srv.url, token, dataDir: join(dir, 'p'), env: CLEAN });
    try {
      const code = await Promise.race([
        provider.exited,
        new Promise((r) => setTimeout(() => r('still running'), 30_000)),
      ]);
      assert.equal(code, 3, provider.stderr());
      assert.equal(
        provider.stderr().trim(),
        'sdrlink provide: credential expired (ERR_TOKEN_EXPIRED); log in again (sdrlink login) or use an API key that does not expire (sdrlink user key create)',
      );
      const stopped = provider.events().find((e) => e['event'] === 'stopped');
      assert.equal(stopped?.['server_code'], 'ERR_TOKEN_EXPIRED');
    } finally {
      await provider.stop();
    }
  });
});
