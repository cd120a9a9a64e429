/**
 * The stored credential (src/cli/credentials.ts): where it lives, how it is written (0700 folder, 0600
 * file, atomically), a loose or foreign file refused, and the order in which a verb finds its server and
 * token: flag > environment > stored file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentError } from '../agents/errors.js';
import {
  CredentialError,
  credentialsPath,
  readCredentials,
  removeCredential,
  resolveTarget,
  resolveTrust,
  storeCredential,
  type StoredCredential,
} from './credentials.js';

const cred = (server: string, token: string, key_id = '1'): StoredCredential => ({
  server,
  token,
  key_id,
  username: 'alice',
  user_id: '1',
  client_type: 2,
  created_at: '2026-01-01T00:00:00.000Z',
});

const code = (c: string) => (e: unknown) => e instanceof CredentialError && e.code === c;

describe('stored credentials', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-creds-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lives under XDG_CONFIG_HOME when it is absolute, else ~/.config', () => {
    assert.equal(
      credentialsPath({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/h' }),
      '/x/cfg/sdrlink/credentials.json',
    );
    assert.equal(
      credentialsPath({ XDG_CONFIG_HOME: 'relative', HOME: '/h' }),
      '/h/.config/sdrlink/credentials.json',
    );
    assert.equal(credentialsPath({ HOME: '/h' }), '/h/.config/sdrlink/credentials.json');
  });

  it('writes a 0600 file in a 0700 folder, atomically (no temporary file left), one key per server', () => {
    const env = { XDG_CONFIG_HOME: join(dir, 'a') };
    const path = credentialsPath(env);
    storeCredential(path, cred('http://h1:1', 'sdrk_1_x'));
    storeCredential(path, cred('http://h2:2', 'sdrk_2_y', '2'));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'a', 'sdrlink')).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(join(dir, 'a', 'sdrlink')), ['credentials.json']);
    const f = readCredentials(path);
    assert.equal(f.default, 'http://h2:2');
    assert.deepEqual(Object.keys(f.servers).sort(), ['http://h1:1', 'http://h2:2']);
    removeCredential(path, 'http://h2:2');
    assert.equal(readCredentials(path).default, 'http://h1:1');
    removeCredential(path, 'http://h1:1');
    assert.deepEqual(readCredentials(path), { version: 1, default: null, servers: {} });
  });

  it('refuses a file others may read, and a damaged one, naming the fix', () => {
    const env = { XDG_CONFIG_HOME: join(dir, 'b') };
    const path = credentialsPath(env);
    storeCredential(path, cred('http://h1:1', 'sdrk_1_x'));
    chmodSync(path, 0o644);
    assert.throws(() => readCredentials(path), code('ERR_CREDENTIAL_FILE'));
    assert.throws(() => resolveTarget({}, env), /mode 0644.*chmod 600/);
    chmodSync(path, 0o600);
    assert.equal(resolveTarget({}, env).token, 'sdrk_1_x');
    writeFileSync(path, '{"version":2}', { mode: 0o600 });
    assert.throws(() => readCredentials(path), code('ERR_CREDENTIAL_FILE'));
    writeFileSync(path, 'not json', { mode: 0o600 });
    assert.throws(() => readCredentials(path), /not JSON/);
  });

  it('resolves the server and token: flag, then environment, then the stored login', () => {
    const env = { XDG_CONFIG_HOME: join(dir, 'c') };
    const path = credentialsPath(env);
    assert.throws(() => resolveTarget({}, env), code('ERR_NO_CREDENTIAL'));
    assert.throws(
      () => resolveTarget({ server: 'http://h1:1' }, env),
      /no token for http:\/\/h1:1.*sdrlink login/,
    );
    storeCredential(path, cred('http://h1:1', 'stored-1'));
    storeCredential(path, cred('http://h2:2', 'stored-2', '2'));
    assert.deepEqual(resolveTarget({}, env), {
      server: 'http://h2:2',
      token: 'stored-2',
      serverFrom: 'file',
      tokenFrom: 'file',
      stored: cred('http://h2:2', 'stored-2', '2'),
    });
    // a server named by flag finds its own stored key (URL normalised)
    const t1 = resolveTarget({ server: 'http://h1:1/' }, env);
    assert.equal(t1.token, 'stored-1');
    assert.equal(t1.serverFrom, 'flag');
    const withEnv = { ...env, SDRLINK_SERVER: 'http://h1:1', SDRLINK_TOKEN: 'env-token' };
    assert.deepEqual(
      [
        resolveTarget({}, withEnv).server,
        resolveTarget({}, withEnv).token,
        resolveTarget({}, withEnv).tokenFrom,
      ],
      ['http://h1:1', 'env-token', 'env'],
    );
    const flagged = resolveTarget({ server: 'http://h3:3', token: 'flag-token' }, withEnv);
    assert.deepEqual(
      [flagged.server, flagged.token, flagged.tokenFrom],
      ['http://h3:3', 'flag-token', 'flag'],
    );
    assert.throws(() => resolveTarget({ server: 'http://h3:3' }, env), code('ERR_NO_CREDENTIAL'));
  });

  it('a server list (--server A,B) takes the token stored for its first URL that has one; the list is kept', () => {
    const env = { XDG_CONFIG_HOME: join(dir, 'list') };
    const path = credentialsPath(env);
    assert.throws(
      () => resolveTarget({ server: 'http://h1:1,http://h2:2' }, env),
      (e: unknown) =>
        code('ERR_NO_CREDENTIAL')(e) &&
        /no token for any of http:\/\/h1:1, http:\/\/h2:2/.test((e as Error).message),
    );
    storeCredential(path, cred('http://h2:2', 'stored-2', '2'));
    const t = resolveTarget({ server: 'http://h1:1/, http://h2:2/' }, env);
    assert.equal(t.token, 'stored-2');
    assert.equal(t.tokenFrom, 'file');
    assert.equal(t.server, 'http://h1:1/, http://h2:2/', 'the agents parse the list');
    storeCredential(path, cred('http://h1:1', 'stored-1'));
    assert.equal(resolveTarget({ server: 'http://h1:1,http://h2:2' }, env).token, 'stored-1');
    assert.equal(resolveTarget({ server: 'http://h2:2,http://h1:1' }, env).token, 'stored-2');
    // the environment the same way; a token given applies to every instance
    assert.equal(resolveTarget({}, { ...env, SDRLINK_SERVER: 'http://h9:9,http://h1:1' }).token, 'stored-1');
    assert.equal(resolveTarget({ server: 'http://h9:9,http://h8:8', token: 'tk' }, env).token, 'tk');
    // each entry is checked as a single URL is; an empty entry is refused
    assert.throws(
      () => resolveTarget({ server: 'http://h1:1,ftp://x' }, env),
      /must be http:\/\/ or https:\/\//,
    );
    assert.throws(() => resolveTarget({ server: 'http://h1:1,,http://h2:2' }, env), /an empty entry/);
  });
});

describe('resolveTrust: --ca / --pin, then SDRLINK_CA / SDRLINK_PIN, then what login stored', () => {
  const PIN = Array.from({ length: 32 }, (_, i) => (i + 16).toString(16).toUpperCase()).join(':');
  let dir: string;
  let caFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-trust-'));
    caFile = join(dir, 'ca.pem');
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
        join(dir, 'ca.key'),
        '-out',
        caFile,
        '-days',
        '2',
        '-subj',
        '/CN=test-ca',
      ],
      { stdio: 'ignore' },
    );
    writeFileSync(join(dir, 'not-pem.txt'), 'hello');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('none given: the system CAs (undefined)', () => {
    assert.equal(resolveTrust({}, {}), undefined);
  });

  it('a pin (normalised) wins over any CA; flag over environment over stored', () => {
    assert.deepEqual(resolveTrust({ pin: PIN.toLowerCase(), ca: caFile }, {}), { pin: PIN });
    assert.deepEqual(resolveTrust({}, { SDRLINK_PIN: PIN.replace(/:/g, '') }, { tls_ca: 'x' }), { pin: PIN });
    assert.deepEqual(resolveTrust({}, {}, { tls_pin: PIN }), { pin: PIN });
    const fromFlag = resolveTrust({ ca: caFile }, { SDRLINK_CA: join(dir, 'nope.pem') }, { tls_pin: PIN });
    assert.deepEqual(
      fromFlag,
      { pin: PIN },
      'a stored pin still beats a CA flag: the pin is the stronger trust',
    );
    assert.match(String(resolveTrust({}, { SDRLINK_CA: caFile })?.ca), /BEGIN CERTIFICATE/);
    assert.deepEqual(resolveTrust({}, {}, { tls_ca: 'PEM' }), { ca: 'PEM' });
  });

  it('an unreadable or non-PEM --ca, or a malformed pin, is ERR_CONFIG naming its source', () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [() => resolveTrust({ ca: join(dir, 'nope.pem') }, {}), /--ca .*nope\.pem: cannot be read \(ENOENT\)/],
      [
        () => resolveTrust({}, { SDRLINK_CA: join(dir, 'not-pem.txt') }),
        /SDRLINK_CA .*not a PEM certificate/,
      ],
      [() => resolveTrust({ pin: 'AB:CD' }, {}), /--pin: not a SHA-256/],
      [() => resolveTrust({}, { SDRLINK_PIN: 'zz' }), /SDRLINK_PIN: not a SHA-256/],
    ];
    for (const [fn, re] of cases)
      assert.throws(
        fn,
        (e: unknown) => e instanceof AgentError && e.code === 'ERR_CONFIG' && re.test(e.message),
      );
  });
});
