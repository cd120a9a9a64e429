/**
 * The signaling client trusts nothing the server sends: every answer and push message is checked against
 * the wire contract (src/wire/). A fake server here answers what a real one never would.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { AgentError } from './errors.js';
import { SignalingClient } from './signaling-client.js';

const SID = '0b8d0c7e-2f7c-4f8e-9a53-1f0e5a0e7c11';
const signal = {
  id: 1,
  session_id: SID,
  signal_type: 'offer',
  signal_data: '{"type":"offer","sdp":"v=0"}',
  from_client_id: '1',
  to_client_id: '2',
  created_at: '2026-12-03T09:00:00.000Z',
};

/** What the fake server answers to `METHOD path`: a status and a raw body. */
type Route = { status: number; body: string };

describe('SignalingClient against a server off the contract', () => {
  let http: Server;
  let wss: WebSocketServer;
  let url: string;
  const routes = new Map<string, Route>();
  /** Runs on each push connection. */
  let onPush: (ws: WebSocket) => void = () => undefined;

  before(async () => {
    http = createServer((req, res) => {
      const r = routes.get(`${req.method} ${req.url}`) ?? { status: 404, body: '' };
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.body);
    });
    wss = new WebSocketServer({ server: http });
    wss.on('connection', (ws) => onPush(ws));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    await new Promise((resolve) => http.close(resolve));
  });

  const rejectsWith = async (p: Promise<unknown>, code: string, message?: RegExp) => {
    const err = await p.then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AgentError, String(err));
    assert.equal(err.code, code, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return err;
  };

  it('refuses an answer of the wrong shape with ERR_SERVER_RESPONSE naming the field', async () => {
    routes.set('GET /api/ice/sessions', {
      status: 200,
      body: JSON.stringify([
        {
          session_id: SID,
          initiator_user_id: 2, // a number where the seed's Go struct declares a string
          target_user_id: '',
          request_type: 'spectrum',
          parameters: '{}',
          status: 'pending',
          capabilities: [],
          created_at: 'x',
          updated_at: 'x',
        },
      ]),
    });
    const c = new SignalingClient(url, 't');
    await rejectsWith(
      c.listSessions(),
      'ERR_SERVER_RESPONSE',
      /^GET \/api\/ice\/sessions → 200: the answer is not of the wire contract: \/0\/initiator_user_id: Expected string$/,
    );
  });

  it('refuses an answer that is not JSON with ERR_SERVER_RESPONSE', async () => {
    routes.set('GET /api/ice/config', { status: 200, body: '<html>proxy</html>' });
    const c = new SignalingClient(url, 't');
    await rejectsWith(c.iceConfig(), 'ERR_SERVER_RESPONSE', /the answer is not JSON/);
  });

  it('passes a valid answer through', async () => {
    routes.set('GET /api/ice/config', {
      status: 200,
      body: JSON.stringify({ ice_servers: [{ urls: 'stun:x' }], relay_after_ms: 5000 }),
    });
    const c = new SignalingClient(url, 't');
    assert.deepEqual(await c.iceConfig(), { ice_servers: [{ urls: 'stun:x' }], relay_after_ms: 5000 });
  });

  it('reports a 401 as ERR_AUTH with the server code and status, other refusals as ERR_SERVER', async () => {
    routes.set('GET /api/me', {
      status: 401,
      body: JSON.stringify({ error: { code: 'ERR_TOKEN_EXPIRED', message: 'token expired' } }),
    });
    const c = new SignalingClient(url, 't');
    const e = await rejectsWith(c.me(), 'ERR_AUTH', /^GET \/api\/me → 401 ERR_TOKEN_EXPIRED: token expired$/);
    assert.equal(e.serverCode, 'ERR_TOKEN_EXPIRED');
    assert.equal(e.status, 401);

    routes.set('POST /api/ice/signal', {
      status: 409,
      body: JSON.stringify({ error: { code: 'ERR_SESSION_CLAIMED', message: 'taken' } }),
    });
    const e2 = await rejectsWith(c.sendSignal(SID, 'offer', { type: 'offer', sdp: 'v=0' }), 'ERR_SERVER');
    assert.equal(e2.serverCode, 'ERR_SESSION_CLAIMED');

    routes.set('GET /api/me', { status: 502, body: 'bad gateway' });
    const e3 = await rejectsWith(c.me(), 'ERR_SERVER', /502 HTTP_502: bad gateway/);
    assert.equal(e3.serverCode, 'HTTP_502');
  });

  it('ignores push messages off the contract and delivers the rest', async () => {
    onPush = (ws) => {
      ws.send('not json');
      ws.send(JSON.stringify({ type: 'signal', signal: { ...signal, id: '1' } }));
      ws.send(JSON.stringify({ type: 'session-status', session_id: SID }));
      ws.send(JSON.stringify({ type: 'from-the-future' }));
      ws.send(JSON.stringify({ type: 'signal', signal }));
    };
    const c = new SignalingClient(url, 't');
    const invalid: string[] = [];
    const got = new Promise((resolve) => {
      c.connectPush({ onSignal: resolve, onInvalidMessage: (r) => invalid.push(r) }).catch(resolve);
    });
    try {
      assert.deepEqual(await got, signal);
      assert.equal(invalid.length, 4);
      assert.match(invalid[1] ?? '', /^signal message \/signal\/id: Expected integer/);
      assert.match(invalid[2] ?? '', /^session-status message \/status: Expected required property/);
    } finally {
      c.close();
    }
  });

  it('fails a signal whose push result is off the contract instead of waiting forever', async () => {
    onPush = (ws) =>
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as { ref: number };
        ws.send(JSON.stringify({ type: 'result', ref: m.ref, ok: false, error: 'nope' }));
      });
    const c = new SignalingClient(url, 't');
    try {
      await c.connectPush({});
      await rejectsWith(
        c.sendSignal(SID, 'answer', { type: 'answer', sdp: 'v=0' }),
        'ERR_SERVER_RESPONSE',
        /result is not of the wire contract: result message/,
      );
    } finally {
      c.close();
    }
  });
});
