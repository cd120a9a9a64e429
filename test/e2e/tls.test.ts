/**
 * Transport security of signaling (issue 16, class 9), with real processes: `sdrlink server --tls` makes a
 * self-signed certificate and prints its fingerprint; a real provider and consumer transfer a file over
 * HTTPS + WSS trusting it with `--ca` (the certificate file) and with `--pin` (the printed fingerprint), over
 * WebRTC and over the WSS relay; a wrong pin and an untrusted certificate are refused with ERR_TLS_PIN /
 * ERR_TLS before any request reaches the server (no session created, nothing saved); `--tls-cert/--tls-key`
 * with a certificate made here by openssl serves, and a key that is not the certificate's stops the server
 * with ERR_TLS; `sdrlink login --pin` stores the pin so later verbs need no flag; and the cleartext
 * warnings: a server listening on a non-loopback address without TLS says so at start, and a CLI verb
 * talking to it over `http://` prints one warning line (none for 127.0.0.1).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  runRequestProcess,
  sha256Of,
  startProviderProcess,
  type ProviderProcess,
} from '../helpers/agents.js';
import { runCli, startServerProcess, type ServerProcess } from '../helpers/server.js';

const SPECTRUM = { frequency_start: 100e6, frequency_end: 101e6, sample_rate: 1e6 };
/** No credential or trust from the test runner's own environment leaks into the children. */
const CLEAN = {
  SDRLINK_SERVER: undefined,
  SDRLINK_TOKEN: undefined,
  SDRLINK_CA: undefined,
  SDRLINK_PIN: undefined,
};

/** `sdrlink user add` on the server's database (the operator's way; registration is closed by default). */
async function addUser(db: string, name: string, type: 1 | 2, password: string): Promise<string> {
  const r = await runCli(
    ['user', 'add', name, '--type', String(type), '--db', db, '--password', password, '--json'],
    {
      env: CLEAN,
    },
  );
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { token: string }).token;
}

/** GET over HTTPS trusting `ca`: the consumer's own sessions, to show a refused request created none. */
function sessionsOf(url: string, token: string, ca: string): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL('/api/ice/sessions', url),
      { ca, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(text) as unknown[]);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** `AB:CD:…` → `abcd…` (a pin in another accepted spelling). */
const bare = (fp: string) => fp.replace(/:/g, '').toLowerCase();

describe('signaling over TLS (sdrlink server --tls)', () => {
  let srv: ServerProcess;
  let dir: string;
  let certPath: string;
  let ca: string;
  let fingerprint: string;
  let providerToken: string;
  let consumerToken: string;
  let provider: ProviderProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-tls-e2e-'));
    srv = await startServerProcess({ args: ['--tls'], env: { ...CLEAN, SDRLINK_REGISTRATION: undefined } });
    certPath = `${srv.dbPath}.cert.pem`;
    ca = readFileSync(certPath, 'utf8');
    fingerprint = srv.tlsFingerprint256 as string;
    providerToken = await addUser(srv.dbPath, 'radio-1', 1, 'provider-pass');
    consumerToken = await addUser(srv.dbPath, 'alice', 2, 'consumer-pass');
    // the provider pins the fingerprint, written without colons in lower case
    provider = await startProviderProcess({
      url: srv.url,
      token: providerToken,
      dataDir: join(dir, 'provider-data'),
      args: ['--pin', bare(fingerprint)],
      env: CLEAN,
    });
  });
  after(async () => {
    await provider?.stop();
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the server listens on https:// and prints the fingerprint of the certificate it made beside the database', () => {
    assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(fingerprint, new X509Certificate(ca).fingerprint256);
    assert.match(srv.stderr(), new RegExp(`SHA-256 fingerprint ${fingerprint}`));
    assert.ok(!/without TLS/.test(srv.stderr()), srv.stderr());
  });

  test('a consumer trusting the certificate with --ca receives a verified file (WebRTC, signaling over HTTPS + WSS)', async () => {
    const out = join(dir, 'out-ca');
    const r = await runRequestProcess({
      url: srv.url,
      token: consumerToken,
      type: 'spectrum',
      params: SPECTRUM,
      out,
      args: ['--ca', certPath, '--transport', 'p2p'],
      env: CLEAN,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.result['ok'], true);
    assert.equal(r.result['verified'], true);
    assert.equal(await sha256Of(r.result['path'] as string), r.result['sha256']);
  });

  test('a consumer pinning the printed fingerprint receives a verified file over the WSS relay', async () => {
    const out = join(dir, 'out-pin');
    const r = await runRequestProcess({
      url: srv.url,
      token: consumerToken,
      type: 'spectrum',
      params: { ...SPECTRUM, frequency_end: 102e6 },
      out,
      args: ['--pin', fingerprint, '--transport', 'relay'],
      env: CLEAN,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.result['transport'], 'relay');
    assert.equal(await sha256Of(r.result['path'] as string), r.result['sha256']);
  });

  test('a wrong pin is refused with ERR_TLS_PIN before anything is sent: no session, nothing saved', async () => {
    const before = await sessionsOf(srv.url, consumerToken, ca);
    const wrong = (fingerprint.startsWith('00') ? '11' : '00') + fingerprint.slice(2);
    const out = join(dir, 'out-wrong-pin');
    const r = await runRequestProcess({
      url: srv.url,
      token: consumerToken,
      type: 'spectrum',
      params: { ...SPECTRUM, frequency_end: 103e6 },
      out,
      args: ['--pin', wrong],
      env: CLEAN,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.result['code'], 'ERR_TLS_PIN');
    assert.match(String(r.result['message']), /does not match --pin/);
    assert.equal((await sessionsOf(srv.url, consumerToken, ca)).length, before.length);
    assert.deepEqual(readdirSync(out), []);
    // a provider with a wrong pin does not start
    const p = await runCli(
      [
        'provide',
        '--server',
        srv.url,
        '--token',
        providerToken,
        '--data-dir',
        join(dir, 'p2'),
        '--pin',
        wrong,
      ],
      { env: CLEAN },
    );
    assert.equal(p.code, 1);
    assert.match(p.stderr, /ERR_TLS_PIN/);
  });

  test('without --ca or --pin the self-signed certificate is not trusted: ERR_TLS, one line, no session', async () => {
    const before = await sessionsOf(srv.url, consumerToken, ca);
    const out = join(dir, 'out-untrusted');
    const r = await runCli(
      [
        'request',
        'spectrum',
        '--server',
        srv.url,
        '--token',
        consumerToken,
        '--out',
        out,
        '-p',
        'sample_rate=1e6',
      ],
      { env: CLEAN },
    );
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] as string, /^sdrlink request: ERR_TLS: .*not trusted/);
    assert.equal((await sessionsOf(srv.url, consumerToken, ca)).length, before.length);
    assert.deepEqual(readdirSync(out), []);
    const list = await runCli(['providers', '--server', srv.url, '--token', consumerToken, '--json'], {
      env: CLEAN,
    });
    assert.equal(list.code, 1);
    assert.equal((JSON.parse(list.stdout) as { code: string }).code, 'ERR_TLS');
  });

  test('sdrlink login --pin stores the pin with the key: later verbs need no flag; a bad pin is a bad flag (exit 2)', async () => {
    const env = { ...CLEAN, XDG_CONFIG_HOME: join(dir, 'alice-config') };
    const bad = await runCli(
      ['login', '--server', srv.url, '--username', 'alice', '--password-stdin', '--pin', 'AB:CD'],
      {
        env,
        input: 'consumer-pass\n',
      },
    );
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /ERR_CONFIG: --pin/);
    const login = await runCli(
      [
        'login',
        '--server',
        srv.url,
        '--username',
        'alice',
        '--password-stdin',
        '--pin',
        fingerprint.toLowerCase(),
      ],
      { env, input: 'consumer-pass\n' },
    );
    assert.equal(login.code, 0, login.stderr);
    const stored = JSON.parse(
      readFileSync(join(dir, 'alice-config', 'sdrlink', 'credentials.json'), 'utf8'),
    ) as {
      servers: Record<string, { tls_pin?: string }>;
    };
    assert.equal(stored.servers[srv.url]?.tls_pin, fingerprint);
    const list = await runCli(['providers', '--json'], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.ok(Array.isArray(JSON.parse(list.stdout)));
    const keys = await runCli(['user', 'key', 'list', '--json'], { env });
    assert.equal(keys.code, 0, keys.stderr);
  });

  test('the certificate is reused at the next start: same fingerprint', async () => {
    const again = await startServerProcess({ args: ['--tls', '--db', srv.dbPath], env: CLEAN });
    try {
      assert.equal(again.tlsFingerprint256, fingerprint);
      assert.ok(!/generated now/.test(again.stderr()), again.stderr());
    } finally {
      await again.stop();
    }
  });
});

describe("--tls-cert/--tls-key: the operator's own certificate", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-tls-files-'));
    for (const name of ['a', 'b']) {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          join(dir, `${name}.key`),
          '-out',
          join(dir, `${name}.crt`),
          '-days',
          '2',
          '-subj',
          `/CN=operator-${name}`,
          '-addext',
          'subjectAltName=IP:127.0.0.1,DNS:localhost',
        ],
        { stdio: 'ignore' },
      );
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('serves HTTPS with it: a verb trusting it with --ca is answered', async () => {
    const srv = await startServerProcess({
      args: ['--tls-cert', join(dir, 'a.crt'), '--tls-key', join(dir, 'a.key')],
      env: CLEAN,
    });
    try {
      const cert = readFileSync(join(dir, 'a.crt'), 'utf8');
      assert.equal(srv.tlsFingerprint256, new X509Certificate(cert).fingerprint256);
      const token = await addUser(srv.dbPath, 'bob', 2, 'consumer-pass');
      const ok = await runCli(
        ['providers', '--server', srv.url, '--token', token, '--ca', join(dir, 'a.crt')],
        {
          env: CLEAN,
        },
      );
      assert.equal(ok.code, 0, ok.stderr);
      // the other certificate is no CA of this one
      const other = await runCli(
        ['providers', '--server', srv.url, '--token', token, '--ca', join(dir, 'b.crt')],
        {
          env: CLEAN,
        },
      );
      assert.equal(other.code, 1);
      assert.match(other.stderr, /ERR_TLS: .*not trusted/);
    } finally {
      await srv.stop();
    }
  });

  test('a key that is not the certificate’s, or a file that cannot be read, stops the server with ERR_TLS', async () => {
    const mismatched = await runCli(
      [
        'server',
        '--port',
        '0',
        '--db',
        join(dir, 'x.sqlite'),
        '--tls-cert',
        join(dir, 'a.crt'),
        '--tls-key',
        join(dir, 'b.key'),
      ],
      { env: CLEAN },
    );
    assert.equal(mismatched.code, 1);
    assert.match(
      mismatched.stderr,
      /^sdrlink server: ERR_TLS: --tls-key .* is not the private key of --tls-cert/m,
    );
    const missing = await runCli(
      [
        'server',
        '--port',
        '0',
        '--db',
        join(dir, 'x.sqlite'),
        '--tls-cert',
        join(dir, 'none.crt'),
        '--tls-key',
        join(dir, 'a.key'),
      ],
      { env: CLEAN },
    );
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ERR_TLS: --tls-cert .*none\.crt: cannot be read \(ENOENT\)/);
  });
});

/** This machine's first non-loopback IPv4 address, if it has one. */
function networkAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

describe('tokens in clear', () => {
  const address = networkAddress();

  test(
    'a server on a network address without TLS warns at start; a verb using http:// to it warns once, and not for 127.0.0.1',
    { skip: address === undefined ? 'this machine has no non-loopback IPv4 address' : false },
    async () => {
      const srv = await startServerProcess({ args: ['--host', address as string], env: CLEAN });
      try {
        assert.match(
          srv.stderr(),
          /warning: listening on .* without TLS: tokens and passwords travel unencrypted/,
        );
        const token = await addUser(srv.dbPath, 'carol', 2, 'consumer-pass');
        const url = `http://${address as string}:${srv.port}`;
        const r = await runCli(['history', '--server', url, '--token', token, '--json'], { env: CLEAN });
        assert.equal(r.code, 0, r.stderr);
        const warnings = r.stderr.split('\n').filter((l) => /travels unencrypted/.test(l));
        assert.equal(warnings.length, 1, r.stderr);
        assert.match(warnings[0] as string, /^sdrlink: warning: http:\/\/.* is plain http:\/\//);
      } finally {
        await srv.stop();
      }
      const local = await startServerProcess({ env: CLEAN });
      try {
        assert.ok(!/without TLS/.test(local.stderr()), local.stderr());
        const token = await addUser(local.dbPath, 'dave', 2, 'consumer-pass');
        const r = await runCli(['history', '--server', local.url, '--token', token, '--json'], {
          env: CLEAN,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(!/unencrypted/.test(r.stderr), r.stderr);
      } finally {
        await local.stop();
      }
    },
  );
});
