import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testApp } from '../../test/helpers/server-app.js';
import { ConfigError, loadConfig } from './config.js';
import { stunHost } from './routes/ice.js';
import { parseDurationS, turnCredential } from './turn.js';

const SECRET = 'sixteen-chars-secret';

describe('TURN REST credentials', () => {
  it('computes username EXPIRY:USERID and base64(HMAC-SHA1(secret, username)) (vector from Python hmac)', () => {
    assert.deepEqual(turnCredential(SECRET, '42', 1_700_000_000_123, 3600), {
      username: '1700003600:42',
      credential: 'R9MHjx0ozCW5T/aMap3TIg1xmgc=',
    });
  });

  it('reads --turn-url, --turn-secret, --turn-ttl and their environment variables', () => {
    const o = loadConfig(
      { turnUrl: 'turn:turn.example.org:3478, turn:10.0.0.1?transport=udp', turnTtl: '30m' },
      {
        SDRLINK_TURN_SECRET: SECRET,
      },
    );
    assert.deepEqual(o.turn, {
      urls: ['turn:turn.example.org:3478', 'turn:10.0.0.1?transport=udp'],
      secret: SECRET,
      ttlS: 1800,
    });
    const e = loadConfig({}, { SDRLINK_TURN_URL: 'turn:[2001:db8::1]:3478', SDRLINK_TURN_SECRET: SECRET });
    assert.deepEqual(e.turn, { urls: ['turn:[2001:db8::1]:3478'], secret: SECRET, ttlS: 3600 });
    assert.equal(loadConfig({}, {}).turn, undefined);
    assert.equal(parseDurationS('2d'), 172800);
    assert.equal(parseDurationS('1.5h'), undefined);
  });

  it('refuses malformed URLs, TCP/TLS transports, bad secrets and TTLs with a precise message', () => {
    const bad: Array<[Parameters<typeof loadConfig>[0], RegExp]> = [
      [{ turnUrl: 'stun:x:3478', turnSecret: SECRET }, /--turn-url: "stun:x:3478" is not a TURN URL/],
      [{ turnUrl: 'turn:', turnSecret: SECRET }, /is not a TURN URL: turn:HOST\[:PORT\]/],
      [{ turnUrl: 'turn:host:99999', turnSecret: SECRET }, /port must be between 1 and 65535/],
      [{ turnUrl: 'turn:user:pw@host', turnSecret: SECRET }, /is not a TURN URL/],
      [
        { turnUrl: 'turn:host:3478?transport=tcp', turnSecret: SECRET },
        /TURN over TCP is not supported .*libjuice.*WebSocket relay/,
      ],
      [{ turnUrl: 'turns:host:5349', turnSecret: SECRET }, /TURN over TLS \(turns:\) is not supported/],
      [{ turnUrl: 'turn:host?transport=sctp', turnSecret: SECRET }, /transport must be udp/],
      [{ turnUrl: 'turn:-bad-.host', turnSecret: SECRET }, /is not a host name or address/],
      [{ turnUrl: ' , ', turnSecret: SECRET }, /must name at least one/],
      [{ turnUrl: 'turn:host' }, /--turn-url: needs the secret shared with the TURN server/],
      [{ turnSecret: SECRET }, /--turn-secret: given without --turn-url/],
      [{ turnUrl: 'turn:host', turnSecret: 'short' }, /--turn-secret: must be at least 16 characters, got 5/],
      [{ turnUrl: 'turn:host', turnSecret: 'has a space in it!!' }, /--turn-secret: must be visible ASCII/],
      [{ turnUrl: 'turn:host', turnSecret: SECRET, turnTtl: '1w' }, /--turn-ttl: must be a duration/],
      [
        { turnUrl: 'turn:host', turnSecret: SECRET, turnTtl: '10s' },
        /--turn-ttl: must be between 1 minute and 7 days/,
      ],
      [{ stunPort: 'auto' }, /--stun-port: must be a non-negative integer/],
    ];
    for (const [flags, re] of bad) {
      assert.throws(
        () => loadConfig(flags, {}),
        (e: unknown) => e instanceof ConfigError && e.code === 'ERR_CONFIG' && re.test(e.message),
        JSON.stringify(flags),
      );
    }
    assert.equal(loadConfig({ stunPort: 'off' }, {}).stunPort, 'off');
    assert.equal(loadConfig({}, { SDRLINK_STUN_PORT: '3478' }).stunPort, 3478);
    assert.equal(loadConfig({}, {}).stunPort, 'http');
  });

  it('GET /api/ice/config hands each user its own credential, never the secret; 401 without a token', async () => {
    const now = 1_800_000_000_000;
    const t = await testApp({
      turn: { urls: ['turn:127.0.0.1:3478'], secret: SECRET, ttlS: 600 },
      now: () => now,
    });
    try {
      const a = await t.user('alice', 2);
      const b = await t.user('bob', 1);
      const ra = await t.call('GET', '/api/ice/config', { token: a.token });
      const rb = await t.call('GET', '/api/ice/config', { token: b.token });
      assert.equal(ra.status, 200);
      const turnA = ra.body.ice_servers.at(-1);
      const turnB = rb.body.ice_servers.at(-1);
      assert.deepEqual(turnA, {
        urls: ['turn:127.0.0.1:3478'],
        ...turnCredential(SECRET, a.id, now, 600),
      });
      assert.equal(turnA.username, `${now / 1000 + 600}:${a.id}`);
      assert.notEqual(turnA.credential, turnB.credential);
      assert.ok(!JSON.stringify(ra.body).includes(SECRET));
      const anon = await t.call('GET', '/api/ice/config');
      assert.equal(anon.status, 401);
      assert.equal(anon.body.error.code, 'ERR_TOKEN_MISSING');
      assert.ok(!JSON.stringify(anon.body).includes('credential'));
    } finally {
      await t.close();
    }
  });

  it('advertises the STUN responder at the host the client used, and nothing for an odd Host', () => {
    assert.equal(stunHost('signal.example.org'), 'signal.example.org');
    assert.equal(stunHost('10.1.2.3'), '10.1.2.3');
    assert.equal(stunHost('[::1]:8080'), '[::1]');
    assert.equal(stunHost('a b'), undefined);
    assert.equal(stunHost('x"y'), undefined);
  });
});
