/**
 * The relay `/api/relay/{session_id}` on a listening server (docs/api.md §6): a transparent pipe (text and
 * binary, intact, in order), participants only, bounded server buffering toward a slow receiver, the
 * join timeout and the limits.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type WebSocket from 'ws';
import type { BuildOptions } from '../app.js';
import { testApp, type TestApp, type TestUser } from '../../../test/helpers/server-app.js';
import { openWs, type WsProbe } from '../../../test/helpers/ws-probe.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const OFFER = JSON.stringify({ type: 'offer', sdp: 'v=0\r\n' });

interface Fixture {
  t: TestApp;
  base: string;
  p: TestUser;
  c: TestUser;
  sockets: WsProbe[];
  /** A session claimed by `p` for `c`. */
  session(claim?: boolean): Promise<string>;
  join(u: TestUser, sessionId: string): Promise<WsProbe>;
  close(): Promise<void>;
}

async function fixture(opts: BuildOptions = {}): Promise<Fixture> {
  const t = await testApp(opts);
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const base = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const p = await t.user('prov', 1, ['spectrum']);
  const c = await t.user('cons', 2);
  const sockets: WsProbe[] = [];
  return {
    t,
    base,
    p,
    c,
    sockets,
    async session(claim = true) {
      const s = await t.call('POST', '/api/ice/initiate', {
        token: c.token,
        body: { request_type: 'spectrum', parameters: '{}' },
      });
      const sid = s.body.session_id as string;
      if (claim) {
        const o = await t.call('POST', '/api/ice/signal', {
          token: p.token,
          body: { session_id: sid, signal_type: 'offer', signal_data: OFFER },
        });
        assert.equal(o.status, 200);
      }
      return sid;
    },
    async join(u, sessionId) {
      const w = await openWs(`${base}/api/relay/${sessionId}`, { authorization: `Bearer ${u.token}` });
      sockets.push(w);
      return w;
    },
    async close() {
      for (const s of sockets) s.ws.terminate();
      await t.close();
    },
  };
}

/** Collects every message of a socket as it arrives: [isBinary, bytes]. */
function record(ws: WebSocket): Array<[boolean, Buffer]> {
  const got: Array<[boolean, Buffer]> = [];
  ws.on('message', (data, isBinary) => got.push([isBinary, data as Buffer]));
  return got;
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('relay', () => {
  let f: Fixture;
  before(async () => {
    f = await fixture({ relay: { joinTimeoutMs: 400 } });
  });
  after(() => f.close());

  it('pipes text and binary messages between the two participants, intact and in order', async () => {
    const sid = await f.session();
    const wc = await f.join(f.c, sid);
    assert.deepEqual(await wc.next(), { type: 'relay-waiting' });
    const wp = await f.join(f.p, sid);
    assert.deepEqual(await wp.next(), { type: 'relay-ready' });
    assert.deepEqual(await wc.next(), { type: 'relay-ready' });

    const atConsumer = record(wc.ws);
    const atProvider = record(wp.ws);
    const chunks = Array.from({ length: 64 }, (_, i) => randomBytes(i === 63 ? 1234 : 64 * KiB - 16));
    const total = chunks.reduce((n, b) => n + b.length, 0);
    const hash = createHash('sha256');
    wp.ws.send(JSON.stringify({ type: 'file-metadata', filename: 'x.npz', size: total }));
    for (const b of chunks) {
      hash.update(b);
      wp.ws.send(b);
    }
    wp.ws.send(JSON.stringify({ type: 'file-complete', size: total }));
    wc.ws.send(JSON.stringify({ type: 'resume', offset: 0 }));
    wc.ws.send(Buffer.from([0, 1, 2, 0xff]));
    await until(() => atConsumer.length === chunks.length + 2 && atProvider.length === 2, 'all messages');

    assert.deepEqual(atConsumer[0], [
      false,
      Buffer.from(JSON.stringify({ type: 'file-metadata', filename: 'x.npz', size: total })),
    ]);
    const got = createHash('sha256');
    for (let i = 0; i < chunks.length; i++) {
      const [isBinary, data] = atConsumer[i + 1] ?? [false, Buffer.alloc(0)];
      assert.equal(isBinary, true);
      assert.equal(data.length, chunks[i]?.length);
      got.update(data);
    }
    assert.equal(got.digest('hex'), hash.digest('hex'));
    assert.equal(atConsumer.at(-1)?.[0], false);
    assert.deepEqual(atProvider, [
      [false, Buffer.from(JSON.stringify({ type: 'resume', offset: 0 }))],
      [true, Buffer.from([0, 1, 2, 0xff])],
    ]);

    wc.ws.close(1000);
    assert.deepEqual(await wp.next((m) => m['type'] === 'relay-peer-left'), { type: 'relay-peer-left' });
    assert.equal((await wp.closed()).code, 1000);
    await until(() => f.t.app.sdrlink.relay.stats().active === 0, 'the relay to end');
    const tr = await f.t.app.sdrlink.storage.transfers.get(sid);
    assert.ok((tr?.relayBytes ?? 0) >= total, `relay bytes recorded (${String(tr?.relayBytes)})`);
  });

  it('refuses everyone but the participants, with the documented close codes', async () => {
    const sid = await f.session();
    const stranger = await f.t.user('stranger', 2);
    const otherProv = await f.t.user('other-prov', 1, ['spectrum']);
    const cases: Array<[WsProbe, number, RegExp]> = [
      [await f.join(stranger, sid), 4403, /ERR_FORBIDDEN/],
      [await f.join(otherProv, sid), 4409, /ERR_SESSION_CLAIMED/],
      [await f.join(f.c, '00000000-0000-4000-8000-000000000000'), 4404, /ERR_SESSION_NOT_FOUND/],
      [await f.join(f.c, 'not-a-session'), 4404, /ERR_SESSION_NOT_FOUND/],
      [await f.join({ ...f.c, token: 'x.y.z' }, sid), 4401, /ERR_TOKEN_INVALID/],
    ];
    for (const [w, code, reason] of cases) {
      const c = await w.closed();
      assert.equal(c.code, code);
      assert.match(c.reason, reason);
    }
    const first = await f.join(f.c, sid);
    await first.next();
    const second = await f.join(f.c, sid);
    assert.equal((await second.closed()).code, 4409, 'one connection per side');
    first.ws.close();
    await first.closed();
    await f.t.call('POST', `/api/ice/sessions/${sid}/cancel`, { token: f.c.token });
    const late = await f.join(f.c, sid);
    assert.equal((await late.closed()).code, 4409, 'a final session has no relay');
  });

  it('lets a provider claim an open session by joining its relay', async () => {
    const sid = await f.session(false);
    const wp = await f.join(f.p, sid);
    assert.deepEqual(await wp.next(), { type: 'relay-waiting' });
    const s = await f.t.app.sdrlink.storage.sessions.get(sid);
    assert.equal(s?.status, 'offered');
    assert.equal(String(s?.targetUserId), f.p.id);
    wp.ws.close();
    await wp.closed();
  });

  it('closes a side whose peer never arrives with 4408', async () => {
    const sid = await f.session();
    const wc = await f.join(f.c, sid);
    await wc.next();
    const c = await wc.closed(3000);
    assert.equal(c.code, 4408);
    assert.match(c.reason, /^ERR_RELAY_TIMEOUT/);
    assert.equal(f.t.app.sdrlink.relay.stats().waiting, 0);
  });

  it('closes a waiting side at once with 4409 when the other side fails the session', async () => {
    const sid = await f.session();
    const wp = await f.join(f.p, sid);
    assert.deepEqual(await wp.next(), { type: 'relay-waiting' });
    // The consumer gave up (it had refused the file over the direct channel) and says so.
    const r = await f.t.call('POST', `/api/transfers/${sid}`, {
      token: f.c.token,
      body: { status: 'failed', error: 'ERR_FRAME_CRC: frame at offset 0' },
    });
    assert.equal(r.status, 200);
    const c = await wp.closed(3000);
    assert.equal(c.code, 4409);
    assert.equal(c.reason, 'ERR_SESSION_STATE: failed');
    assert.equal(f.t.app.sdrlink.relay.stats().waiting, 0);
  });

  it('leaves a running relay alone when its session goes final (the last acknowledgement may be in flight)', async () => {
    const sid = await f.session();
    const wc = await f.join(f.c, sid);
    await wc.next();
    const wp = await f.join(f.p, sid);
    await wp.next((m) => m['type'] === 'relay-ready');
    await wc.next((m) => m['type'] === 'relay-ready');
    const r = await f.t.call('POST', `/api/transfers/${sid}`, {
      token: f.c.token,
      body: { status: 'failed', error: 'ERR_TIMEOUT: test' },
    });
    assert.equal(r.status, 200);
    wp.ws.send(JSON.stringify({ type: 'ack' }));
    assert.deepEqual(await wc.next((m) => m['type'] === 'ack'), { type: 'ack' });
    wc.ws.close();
    await wc.closed();
  });

  it('closes a side that sends before relay-ready with 1008', async () => {
    const sid = await f.session();
    const wc = await f.join(f.c, sid);
    await wc.next();
    wc.ws.send('too early');
    assert.equal((await wc.closed()).code, 1008);
  });
});

describe('relay backpressure', () => {
  it('keeps the server’s queue toward a slow receiver within window + one message', async () => {
    const window = 1 * MiB;
    const msg = 64 * KiB;
    const f = await fixture({ relay: { windowBytes: window } });
    try {
      const sid = await f.session();
      const wc = await f.join(f.c, sid);
      await wc.next();
      const wp = await f.join(f.p, sid);
      await wp.next();
      await wc.next();
      let received = 0;
      const got = createHash('sha256');
      wc.ws.on('message', (data, isBinary) => {
        if (!isBinary) return;
        received += (data as Buffer).length;
        got.update(data as Buffer);
      });
      wc.ws.pause(); // the slow receiver: stops reading its socket
      const total = 32 * MiB;
      const sent = createHash('sha256');
      const block = randomBytes(msg);
      for (let off = 0; off < total; off += msg) {
        const b = Buffer.from(block);
        b.writeUInt32BE(off, 0);
        sent.update(b);
        wp.ws.send(b);
      }
      // the server stops reading the sender once the receiver's queue reaches the window
      const relay = f.t.app.sdrlink.relay;
      await until(() => relay.stats().pausedSides === 1, 'the server to pause the sender', 20_000);
      const heldAt = relay.stats().totalBytes;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(relay.stats().totalBytes, heldAt, 'no byte moves while the receiver does not read');
      const stalled = f.t.app.sdrlink.relay.stats();
      assert.ok(
        wp.ws.bufferedAmount > 8 * MiB,
        `the sender is held back (${wp.ws.bufferedAmount} bytes still at the sender)`,
      );
      assert.ok(
        stalled.maxPendingBytes <= window + msg,
        `server queue ${stalled.maxPendingBytes} ≤ ${window + msg}`,
      );
      assert.ok(stalled.maxPendingBytes > window / 2, `the window was used (${stalled.maxPendingBytes})`);
      wc.ws.resume();
      await until(() => received === total, 'every byte to arrive', 30_000);
      assert.equal(got.digest('hex'), sent.digest('hex'));
      assert.ok(f.t.app.sdrlink.relay.stats().maxPendingBytes <= window + msg);
    } finally {
      await f.close();
    }
  });
});

describe('relay limits', () => {
  it('closes a relay past its byte limit with 4429, and refuses relays beyond the maximum', async () => {
    const f = await fixture({ relay: { maxBytesPerRelay: 100 * KiB, maxRelays: 1 } });
    try {
      const sid = await f.session();
      const wc = await f.join(f.c, sid);
      await wc.next();
      const sid2 = await f.session();
      const over = await f.join(f.c, sid2);
      const c2 = await over.closed();
      assert.equal(c2.code, 4429);
      assert.match(c2.reason, /^ERR_RELAY_LIMIT/);
      const wp = await f.join(f.p, sid);
      await wp.next();
      await wc.next();
      for (let i = 0; i < 4; i++) wp.ws.send(randomBytes(32 * KiB));
      const [a, b] = await Promise.all([wc.closed(), wp.closed()]);
      assert.equal(a.code, 4429);
      assert.equal(b.code, 4429);
    } finally {
      await f.close();
    }
  });

  it('caps the relays one user opens (4429 ERR_RELAY_LIMIT); a provider joining relays its consumers opened is not held back; a freed slot is reusable', async () => {
    const f = await fixture({ relay: { maxRelaysPerUser: 2 } });
    try {
      const sids = [await f.session(), await f.session(), await f.session()];
      const [c0, c1] = [await f.join(f.c, sids[0] as string), await f.join(f.c, sids[1] as string)];
      await c0.next();
      await c1.next();
      const c2 = await f.join(f.c, sids[2] as string);
      const refused = await c2.closed();
      assert.equal(refused.code, 4429);
      assert.match(refused.reason, /^ERR_RELAY_LIMIT: this user is in 2 relays \(limit 2 per user\)/);
      assert.equal(f.t.app.sdrlink.relay.relaysOf(Number(f.c.id)), 2);
      // the provider joins both of the consumer's relays: joining is not opening
      const p0 = await f.join(f.p, sids[0] as string);
      const p1 = await f.join(f.p, sids[1] as string);
      await p0.next((m) => m['type'] === 'relay-ready');
      await p1.next((m) => m['type'] === 'relay-ready');
      assert.equal(f.t.app.sdrlink.relay.relaysOf(Number(f.p.id)), 2);
      c0.ws.close();
      await c0.closed();
      await until(() => f.t.app.sdrlink.relay.relaysOf(Number(f.c.id)) === 1, 'the slot to be freed');
      const again = await f.join(f.c, sids[2] as string);
      assert.equal((await again.next())['type'], 'relay-waiting');
    } finally {
      await f.close();
    }
  });
});
