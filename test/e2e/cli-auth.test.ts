/**
 * A bad or expired token reaches the CLI user as `ERR_AUTH` (docs/errors.md "Agents"), with the server's
 * own code in the message, not as a generic `ERR_SERVER`, and exit code 3 (README "Exit codes"):
 * `sdrlink request` (JSON and text output) and `sdrlink provide` against a real server process.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { runRequestProcess } from '../helpers/agents.js';
import { registerUser, runCli, startServerProcess, type ServerProcess } from '../helpers/server.js';

const SECRET = 'cli-auth-test-secret-0123456789abcdef';

describe('CLI with a token the server refuses', () => {
  let srv: ServerProcess;
  let dir: string;
  let expired: string;
  let providerExpired: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-cli-auth-'));
    srv = await startServerProcess({ env: { SDRLINK_JWT_SECRET: SECRET } });
    const consumer = await registerUser(srv.url, {
      username: 'alice',
      password: 'consumer-pass',
      client_type: 2,
    });
    const provider = await registerUser(srv.url, {
      username: 'radio-1',
      password: 'provider-pass',
      client_type: 1,
    });
    // Signed with the server's secret, claims as the server issues them, but an hour past its expiry.
    const key = new TextEncoder().encode(SECRET);
    const now = Math.floor(Date.now() / 1000);
    const mint = (sub: string, ctype: number) =>
      new SignJWT({ ctype })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setIssuer('sdrlink')
        .setIssuedAt(now - 7200)
        .setExpirationTime(now - 3600)
        .sign(key);
    expired = await mint(consumer.user_id, 2);
    providerExpired = await mint(provider.user_id, 1);
  });
  after(async () => {
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('request --json: an expired token is ERR_AUTH, exit 1, with the server code in the message', async () => {
    const r = await runRequestProcess({
      url: srv.url,
      token: expired,
      type: 'spectrum',
      params: { frequency_start: 100e6, frequency_end: 110e6, sample_rate: 2e6 },
      out: dir,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.result['ok'], false);
    assert.equal(r.result['code'], 'ERR_AUTH');
    assert.match(String(r.result['message']), /401 ERR_TOKEN_EXPIRED: token expired/);
  });

  test('request: a forged token prints ERR_AUTH', async () => {
    const r = await runCli([
      'request',
      'spectrum',
      '--server',
      srv.url,
      '--token',
      'not-a-jwt',
      '--out',
      dir,
      '--quiet',
      '--param',
      'frequency_start=100000000',
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^sdrlink request: ERR_AUTH: .*401 ERR_TOKEN_INVALID/m);
  });

  test('provide: an expired token stops it at once with one line and exit 3', async () => {
    const r = await runCli([
      'provide',
      '--server',
      srv.url,
      '--token',
      providerExpired,
      '--data-dir',
      join(dir, 'pdata'),
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(
      r.stderr.trim(),
      'sdrlink provide: credential expired (ERR_TOKEN_EXPIRED); log in again (sdrlink login) or use an API key that does not expire (sdrlink user key create)',
    );
  });
});
