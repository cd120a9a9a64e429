import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, defaultOptions, loadConfig, parseDurationMs } from './config.js';

describe('server configuration', () => {
  it('defaults to 127.0.0.1:8080, ./.sdrlink/sdrlink.sqlite, no ICE servers, the seed request types', () => {
    const o = loadConfig({}, {});
    assert.equal(o.host, '127.0.0.1');
    assert.equal(o.port, 8080);
    assert.equal(o.db, resolve('.sdrlink', 'sdrlink.sqlite'));
    assert.deepEqual(o.iceServers, []);
    assert.deepEqual(o.requestTypes, ['spectrum', 'signal', 'spectrogram', 'battery-report']);
    assert.deepEqual(o, defaultOptions());
  });

  it('closes registration and caps each user by default (docs/security.md)', () => {
    const o = loadConfig({}, {});
    assert.equal(o.registration, false);
    assert.equal(o.sessionsPerMinute, 120);
    assert.equal(o.maxPushPerUser, 20);
    assert.equal(o.relay.maxRelaysPerUser, 10);
    assert.equal(o.retentionMs, 30 * 24 * 3600_000);
    assert.equal(o.userPollMs, 1000);
  });

  it('opens registration with --open-registration, --registration open or SDRLINK_REGISTRATION=open', () => {
    assert.equal(loadConfig({ openRegistration: true }, {}).registration, true);
    assert.equal(loadConfig({ registration: 'open' }, {}).registration, true);
    assert.equal(loadConfig({}, { SDRLINK_REGISTRATION: 'open' }).registration, true);
    assert.equal(
      loadConfig({ registration: 'closed' }, { SDRLINK_REGISTRATION: 'open' }).registration,
      false,
    );
  });

  it('reads the per-user caps and retention from flags and environment', () => {
    const o = loadConfig(
      { sessionsPerMinute: '5', maxPushPerUser: '2', retention: '12h' },
      { SDRLINK_MAX_RELAYS_PER_USER: '3', SDRLINK_RETENTION_INTERVAL_MS: '500', SDRLINK_USER_POLL_MS: '50' },
    );
    assert.equal(o.sessionsPerMinute, 5);
    assert.equal(o.maxPushPerUser, 2);
    assert.equal(o.relay.maxRelaysPerUser, 3);
    assert.equal(o.retentionMs, 12 * 3600_000);
    assert.equal(o.retentionIntervalMs, 500);
    assert.equal(o.userPollMs, 50);
    assert.equal(loadConfig({ retention: 'off' }, {}).retentionMs, 0);
    assert.equal(loadConfig({}, { SDRLINK_RETENTION: '0' }).retentionMs, 0);
    assert.throws(
      () => loadConfig({ sessionsPerMinute: '0' }, {}),
      /--sessions-per-minute: must be between 1/,
    );
    assert.throws(() => loadConfig({ retention: 'a while' }, {}), /--retention: "a while" is not a duration/);
  });

  it('reads the claim timeout (--claim-timeout, SDRLINK_CLAIM_TIMEOUT): 15 s by default, off, at least 100 ms', () => {
    assert.equal(loadConfig({}, {}).claimTimeoutMs, 15_000);
    assert.equal(loadConfig({ claimTimeout: '500ms' }, {}).claimTimeoutMs, 500);
    assert.equal(loadConfig({}, { SDRLINK_CLAIM_TIMEOUT: '30s' }).claimTimeoutMs, 30_000);
    assert.equal(loadConfig({ claimTimeout: 'off' }, {}).claimTimeoutMs, 0);
    assert.throws(() => loadConfig({ claimTimeout: '50ms' }, {}), /--claim-timeout: must be at least 100ms/);
    assert.throws(
      () => loadConfig({ claimTimeout: 'soon' }, {}),
      /--claim-timeout: "soon" is not a duration/,
    );
  });

  it('reads the instance id, the advertised URL and the cluster heartbeat (several instances)', () => {
    const d = loadConfig({}, {});
    assert.equal(d.instanceId, undefined);
    assert.equal(d.advertiseUrl, undefined);
    assert.equal(d.clusterHeartbeatMs, 2000);
    const o = loadConfig(
      { instanceId: 'eu-1.a', advertiseUrl: 'https://10.0.0.11:8080/ignored/path' },
      { SDRLINK_CLUSTER_HEARTBEAT_MS: '500' },
    );
    assert.equal(o.instanceId, 'eu-1.a');
    assert.equal(o.advertiseUrl, 'https://10.0.0.11:8080');
    assert.equal(o.clusterHeartbeatMs, 500);
    assert.equal(loadConfig({}, { SDRLINK_INSTANCE_ID: 'b2' }).instanceId, 'b2');
    assert.throws(() => loadConfig({ instanceId: 'a b' }, {}), /--instance-id: letters, digits/);
    assert.throws(() => loadConfig({ instanceId: 'x'.repeat(65) }, {}), ConfigError);
    assert.throws(() => loadConfig({ advertiseUrl: 'not a url' }, {}), /--advertise-url: not a URL/);
    assert.throws(() => loadConfig({ advertiseUrl: 'ftp://h/' }, {}), /--advertise-url: must be an http/);
    assert.throws(
      () => loadConfig({}, { SDRLINK_CLUSTER_HEARTBEAT_MS: '5' }),
      /SDRLINK_CLUSTER_HEARTBEAT_MS/,
    );
  });

  it('parses durations: units, bare seconds, off', () => {
    assert.equal(parseDurationMs('30d', 'x'), 30 * 86_400_000);
    assert.equal(parseDurationMs('2w', 'x'), 14 * 86_400_000);
    assert.equal(parseDurationMs('90m', 'x'), 5_400_000);
    assert.equal(parseDurationMs('45', 'x'), 45_000);
    assert.equal(parseDurationMs('250ms', 'x'), 250);
    assert.equal(parseDurationMs('OFF', 'x'), 0);
    for (const bad of ['', '-1d', '1.5h', '3y', '9'.repeat(30)])
      assert.throws(() => parseDurationMs(bad, '--retention'), ConfigError, bad);
  });

  it('takes flags over environment over defaults', () => {
    const env = {
      SDRLINK_PORT: '9000',
      SDRLINK_HOST: '0.0.0.0',
      SDRLINK_DB: 'x/env.sqlite',
      SDRLINK_LOG_LEVEL: 'debug',
    };
    const o = loadConfig({ port: '0', db: ':memory:' }, env);
    assert.equal(o.port, 0);
    assert.equal(o.host, '0.0.0.0');
    assert.equal(o.db, ':memory:');
    assert.equal(o.logLevel, 'debug');
    assert.equal(loadConfig({}, env).db, resolve('x/env.sqlite'));
  });

  it('derives the sweep interval from a short TTL unless given', () => {
    assert.equal(loadConfig({ sessionTtl: '300' }, {}).sweepIntervalMs, 75);
    assert.equal(loadConfig({ sessionTtl: '300', sweepInterval: '20' }, {}).sweepIntervalMs, 20);
  });

  it('parses ICE servers, request types, registration and relay settings', () => {
    const o = loadConfig(
      {
        iceServers:
          '[{"urls":"stun:10.0.0.1:3478"},{"urls":["turn:10.0.0.1:3478?transport=udp"],"username":"u","credential":"p"}]',
        requestTypes: 'spectrum, iq-capture,spectrum',
        registration: 'closed',
        relayWindow: '1048576',
      },
      { SDRLINK_JWT_SECRET: 's'.repeat(32), SDRLINK_RELAY_MAX: '3', SDRLINK_REGISTER_MAX: '5000' },
    );
    assert.deepEqual(o.iceServers, [
      { urls: 'stun:10.0.0.1:3478' },
      { urls: ['turn:10.0.0.1:3478?transport=udp'], username: 'u', credential: 'p' },
    ]);
    assert.deepEqual(o.requestTypes, ['spectrum', 'iq-capture']);
    assert.equal(o.registration, false);
    assert.equal(o.relay.windowBytes, 1048576);
    assert.equal(o.relay.maxRelays, 3);
    assert.equal(o.jwtSecret, 's'.repeat(32));
    assert.equal(o.login.maxRegistrations, 5000);
  });

  it('reads browser origins (--cors-origin, SDRLINK_CORS_ORIGIN): none by default, normalized, * alone', () => {
    assert.deepEqual(loadConfig({}, {}).corsOrigins, []);
    assert.deepEqual(
      loadConfig({ corsOrigin: 'https://App.Example:443, http://127.0.0.1:5173,https://app.example' }, {})
        .corsOrigins,
      ['https://app.example', 'http://127.0.0.1:5173'],
    );
    assert.deepEqual(loadConfig({}, { SDRLINK_CORS_ORIGIN: 'http://[::1]:8081' }).corsOrigins, [
      'http://[::1]:8081',
    ]);
    assert.deepEqual(loadConfig({ corsOrigin: '*' }, { SDRLINK_CORS_ORIGIN: 'http://x' }).corsOrigins, ['*']);
  });

  it('reads the metrics token (--metrics-token, SDRLINK_METRICS_TOKEN): none by default', () => {
    assert.equal(loadConfig({}, {}).metricsToken, undefined);
    const t = 'a-metrics-token-0123';
    assert.equal(loadConfig({}, { SDRLINK_METRICS_TOKEN: t }).metricsToken, t);
    assert.equal(loadConfig({ metricsToken: `${t}x` }, { SDRLINK_METRICS_TOKEN: t }).metricsToken, `${t}x`);
  });

  it('refuses bad values with ERR_CONFIG naming the flag or variable', () => {
    const cases: Array<[Parameters<typeof loadConfig>[0], NodeJS.ProcessEnv, RegExp]> = [
      [{ port: '70000' }, {}, /^--port: must be between 0 and 65535/],
      [{ port: '-1' }, {}, /^--port: must be a non-negative integer/],
      [{}, { SDRLINK_PORT: '80a' }, /^SDRLINK_PORT: /],
      [{ logLevel: 'loud' }, {}, /^--log-level: must be one of/],
      [{ iceServers: '{' }, {}, /^--ice-servers: not JSON/],
      [{ iceServers: '{}' }, {}, /^--ice-servers: must be a JSON array/],
      [
        { iceServers: '[{"urls":"https://x"}]' },
        {},
        /^--ice-servers\[0\]\.urls: "https:\/\/x" is not a stun:/,
      ],
      [
        { iceServers: '[{"urls":"stun:x","username":5}]' },
        {},
        /^--ice-servers\[0\]\.username: must be a string/,
      ],
      [{ requestTypes: 'Spectrum' }, {}, /^--request-types: "Spectrum" is not a request type/],
      [{ registration: 'maybe' }, {}, /^--registration: must be open or closed/],
      [{}, { SDRLINK_JWT_SECRET: 'short' }, /^SDRLINK_JWT_SECRET: must be at least 32 characters/],
      [{ relayWindow: '10' }, {}, /^--relay-window: must be between/],
      [{ corsOrigin: ' , ' }, {}, /^--cors-origin: must name at least one origin, or \*/],
      [
        { corsOrigin: 'http://a.example/' },
        {},
        /^--cors-origin: "http:\/\/a.example\/" is not an origin: .*no path/,
      ],
      [
        { corsOrigin: 'http://a.example/app' },
        {},
        /^--cors-origin: "http:\/\/a.example\/app" is not an origin/,
      ],
      [{ corsOrigin: 'http://a.example?x=1' }, {}, /^--cors-origin: .* is not an origin/],
      [{ corsOrigin: 'http://u:p@a.example' }, {}, /^--cors-origin: .* is not an origin: .*user info/],
      [
        { corsOrigin: 'a.example' },
        {},
        /^--cors-origin: "a.example" is not an origin: scheme:\/\/host\[:port\]/,
      ],
      [{ corsOrigin: 'null' }, {}, /^--cors-origin: "null" is not an origin: .*"null" is never allowed/],
      [
        { corsOrigin: 'ftp://a.example' },
        {},
        /^--cors-origin: "ftp:\/\/a.example": an origin's scheme is http or https/,
      ],
      [
        { corsOrigin: 'http://a.example:99999' },
        {},
        /^--cors-origin: "http:\/\/a.example:99999" is not an origin: a bad host or port/,
      ],
      [{ corsOrigin: '*,http://a.example' }, {}, /^--cors-origin: \* allows any origin and must stand alone/],
      [{ metricsToken: 'short' }, {}, /^--metrics-token: must be 16 to 256 visible ASCII/],
      [{}, { SDRLINK_METRICS_TOKEN: 'has a space in it, sixteen+' }, /^SDRLINK_METRICS_TOKEN: must be 16/],
      [
        {},
        { SDRLINK_CORS_ORIGIN: 'http://ok.example,https://x/y' },
        /^SDRLINK_CORS_ORIGIN: "https:\/\/x\/y" is not an origin/,
      ],
    ];
    for (const [flags, env, message] of cases) {
      assert.throws(
        () => loadConfig(flags, env),
        (e: unknown) => e instanceof ConfigError && e.code === 'ERR_CONFIG' && message.test(e.message),
        message.source,
      );
    }
  });

  it('--tls, --tls-cert/--tls-key and their variables; cert and key go together; no self-signed --tls on :memory:', () => {
    assert.equal(loadConfig({}, {}).tls, undefined);
    assert.deepEqual(loadConfig({ tls: true }, {}).tls, { kind: 'self-signed' });
    assert.deepEqual(loadConfig({}, { SDRLINK_TLS: '1' }).tls, { kind: 'self-signed' });
    assert.equal(loadConfig({}, { SDRLINK_TLS: '0' }).tls, undefined);
    assert.deepEqual(loadConfig({ tlsCert: 'c.pem', tlsKey: 'k.pem' }, {}).tls, {
      kind: 'files',
      certFile: resolve('c.pem'),
      keyFile: resolve('k.pem'),
    });
    assert.deepEqual(loadConfig({}, { SDRLINK_TLS_CERT: '/a/c.pem', SDRLINK_TLS_KEY: '/a/k.pem' }).tls, {
      kind: 'files',
      certFile: '/a/c.pem',
      keyFile: '/a/k.pem',
    });
    const refused: Array<[Parameters<typeof loadConfig>[0], NodeJS.ProcessEnv, RegExp]> = [
      [{ tlsCert: 'c.pem' }, {}, /--tls-cert: given without --tls-key/],
      [{}, { SDRLINK_TLS_KEY: 'k.pem' }, /SDRLINK_TLS_KEY: given without --tls-cert/],
      [{}, { SDRLINK_TLS: 'yes please' }, /SDRLINK_TLS: must be 1 or 0/],
      [{ tls: true, db: ':memory:' }, {}, /--tls: .*:memory:/],
    ];
    for (const [flags, env, re] of refused)
      assert.throws(
        () => loadConfig(flags, env),
        (e: unknown) => e instanceof ConfigError && re.test(e.message),
      );
  });
});
