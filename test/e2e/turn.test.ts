/**
 * TURN with per-user credentials against a real coturn (`use-auth-secret`): the server process hands out
 * `EXPIRY:USERID` + HMAC credentials; coturn allocates with them, refuses an expired or forged one; and
 * node-datachannel (the agents' stack) gathers a relay candidate with them (relay-only policy).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import nodeDataChannel from 'node-datachannel';
import { toNativeIceServers } from '../../src/agents/channel/webrtc.js';
import { api, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';
import { coturnSkip, startCoturn, turnAllocate, type Coturn } from '../helpers/turn.js';

const SECRET = 'e2e-turn-secret-0123456789';

interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

describe('TURN REST credentials with a real coturn', { skip: coturnSkip() }, () => {
  let turn: Coturn;
  let srv: ServerProcess;
  let token: string;
  let userId: string;
  before(async () => {
    turn = await startCoturn({ secret: SECRET, listenIp: '127.0.0.1' });
    srv = await startServerProcess({
      args: ['--turn-url', `turn:127.0.0.1:${turn.port}`, '--turn-ttl', '2m', '--stun-port', '0'],
      env: { SDRLINK_TURN_SECRET: SECRET },
    });
    ({ token, user_id: userId } = await registerUser(srv.url, {
      username: 'turn-user',
      password: 'password-1',
      client_type: 2,
    }));
  });
  after(async () => {
    await srv?.stop();
    await turn?.stop();
  });

  async function iceServers(): Promise<IceServer[]> {
    const r = await api(srv.url, token, 'GET', '/api/ice/config');
    assert.equal(r.status, 200);
    return (r.body as { ice_servers: IceServer[] }).ice_servers;
  }

  it('advertises its own STUN port and a TURN entry with this user’s credential', async () => {
    const servers = await iceServers();
    assert.ok(srv.stunPort !== undefined && srv.stunPort > 0);
    assert.deepEqual(servers[0], { urls: [`stun:127.0.0.1:${srv.stunPort}`] });
    const t = servers[1] as Required<IceServer>;
    assert.deepEqual(t.urls, [`turn:127.0.0.1:${turn.port}`]);
    const [expiry, uid] = t.username.split(':');
    assert.equal(uid, String(userId));
    const ttl = Number(expiry) - Date.now() / 1000;
    assert.ok(ttl > 60 && ttl <= 121, `expiry ${expiry} is 2 minutes ahead`);
    assert.equal(t.credential, createHmac('sha1', SECRET).update(t.username).digest('base64'));
    assert.ok(!JSON.stringify(servers).includes(SECRET));
  });

  it('coturn allocates with the handed-out credential', async () => {
    const t = (await iceServers())[1] as Required<IceServer>;
    const r = await turnAllocate('127.0.0.1', turn.port, t.username, t.credential);
    assert.equal(
      r.type,
      0x0103,
      `Allocate success expected, got 0x${r.type.toString(16)} ${r.errorCode ?? ''}`,
    );
    assert.match(r.relayed ?? '', /^127\.0\.0\.1:\d+$/);
  });

  it('coturn refuses an expired credential and a forged one (401)', async () => {
    const expired = `${Math.floor(Date.now() / 1000) - 5}:${userId}`;
    const good = createHmac('sha1', SECRET).update(expired).digest('base64');
    const r1 = await turnAllocate('127.0.0.1', turn.port, expired, good);
    assert.equal(r1.type, 0x0113);
    assert.equal(r1.errorCode, 401);
    const t = (await iceServers())[1] as Required<IceServer>;
    const forged = createHmac('sha1', 'another-secret-entirely').update(t.username).digest('base64');
    const r2 = await turnAllocate('127.0.0.1', turn.port, t.username, forged);
    assert.equal(r2.errorCode, 401);
  });

  it('node-datachannel gathers a relay candidate with it (iceTransportPolicy relay)', async () => {
    const servers = await iceServers();
    const pc = new nodeDataChannel.PeerConnection('turn-probe', {
      iceServers: toNativeIceServers(servers),
      iceTransportPolicy: 'relay',
    });
    try {
      const candidates: string[] = [];
      // libdatachannel may report gathering `complete` before it hands out the last candidate: wait for
      // the relay candidate itself (or give up after 5 s and let the assertion below tell).
      const relayed = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5000);
        pc.onLocalCandidate((c) => {
          candidates.push(c);
          if (/ typ relay /.test(c)) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      pc.createDataChannel('probe');
      await relayed;
      assert.ok(
        candidates.some((c) => / typ relay /.test(c)),
        `a relay candidate expected, got ${JSON.stringify(candidates)}\n${turn.log().slice(-2000)}`,
      );
      assert.ok(
        candidates.every((c) => / typ relay /.test(c)),
        'relay policy: nothing else',
      );
    } finally {
      pc.close();
    }
  });
});
