/**
 * The relay channel against a fake relay: control messages are recognised by parsing (src/wire/relay.ts),
 * the peer's text passes through untouched, and a refusal surfaces as structured fields, not text to match.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { RelayClosedError, openRelayChannel } from './relay.js';

const SID = '0b8d0c7e-2f7c-4f8e-9a53-1f0e5a0e7c11';

describe('relay channel', () => {
  let wss: WebSocketServer;
  let server: string;
  let onJoin: (ws: WebSocket) => void = () => undefined;

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    server = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    wss.on('connection', (ws) => onJoin(ws));
  });
  after(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise((resolve) => wss.close(resolve));
  });

  const open = () => openRelayChannel({ server, token: 't', sessionId: SID, timeoutMs: 5000 });

  it('rejects a 4xxx close with the server code and detail as fields', async () => {
    onJoin = (ws) => {
      ws.send('{"type":"relay-waiting"}');
      ws.close(4409, 'ERR_SESSION_STATE: completed');
    };
    const err = await open().then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RelayClosedError, String(err));
    assert.equal(err.code, 'ERR_SESSION_ENDED');
    assert.equal(err.serverCode, 'ERR_SESSION_STATE');
    assert.equal(err.detail, 'completed');
    assert.equal(err.closeCode, 4409);
    // the message is unchanged for callers that still read it
    assert.equal(err.message, 'relay: closed 4409 ERR_SESSION_STATE: completed');
  });

  it('tells a refused token (4401) as ERR_AUTH, and another refusal as ERR_SERVER', async () => {
    onJoin = (ws) => ws.close(4401, 'ERR_TOKEN_EXPIRED: token expired');
    const auth = await open().catch((e: unknown) => e);
    assert.ok(auth instanceof RelayClosedError);
    assert.equal(auth.code, 'ERR_AUTH');
    assert.equal(auth.serverCode, 'ERR_TOKEN_EXPIRED');
    assert.equal(auth.detail, 'token expired');

    onJoin = (ws) => ws.close(4429, 'ERR_RELAY_LIMIT: too many relays open');
    const limit = await open().catch((e: unknown) => e);
    assert.ok(limit instanceof RelayClosedError);
    assert.equal(limit.code, 'ERR_SERVER');
    assert.equal(limit.serverCode, 'ERR_RELAY_LIMIT');
  });

  it('delivers the peer’s text and binary as is and consumes only relay control messages', async () => {
    const metadata = '{"type":"file-metadata","filename":"a.npz","size":3}';
    const lookalike = '{"type":"relay-readiness","note":"a peer message, not the relay’s"}';
    onJoin = (ws) => {
      ws.send('{"type":"relay-waiting"}');
      ws.send('{ "type": "relay-ready" }'); // spacing is the JSON's business, not a prefix's
      // as a real peer would, the fake one speaks only after this side does (it heard relay-ready too)
      ws.once('message', () => {
        ws.send(metadata);
        ws.send(lookalike);
        ws.send(Buffer.from([1, 2, 3]));
        ws.send('{"type":"relay-peer-left"}');
      });
    };
    const channel = await open();
    const got: unknown[] = [];
    const closed = new Promise<void>((resolve) => {
      channel.onmessage = (ev) =>
        got.push(typeof ev.data === 'string' ? ev.data : [...new Uint8Array(ev.data as ArrayBuffer)]);
      channel.onclose = () => resolve();
    });
    channel.send('{"type":"file-request"}');
    await closed;
    assert.deepEqual(got, [metadata, lookalike, [1, 2, 3]]);
  });

  it('loses nothing a prompt peer sends right after relay-ready, before the handler is attached', async () => {
    const metadata = '{"type":"file-metadata","filename":"a.npz","size":3}';
    onJoin = (ws) => {
      // One write: relay-ready and the peer's first messages arrive in the same TCP segment, so ws emits
      // them in the same tick, before openRelayChannel's promise resolves and anyone attaches onmessage.
      ws.send('{"type":"relay-ready"}');
      ws.send(metadata);
      ws.send(Buffer.from([7, 8, 9]));
      ws.send('{"type":"relay-peer-left"}');
    };
    const channel = await open();
    // the caller attaches its handlers a little later still (a macrotask away)
    await new Promise((resolve) => setImmediate(resolve));
    const got: unknown[] = [];
    const closed = new Promise<void>((resolve) => {
      channel.onmessage = (ev) =>
        got.push(typeof ev.data === 'string' ? ev.data : [...new Uint8Array(ev.data as ArrayBuffer)]);
      channel.onclose = () => resolve();
    });
    await closed;
    assert.deepEqual(got, [metadata, [7, 8, 9]], 'every message, in order, then the close');
  });

  it('keeps a quiet channel open while the server answers pings, and drops it once the server is silent', async () => {
    const liveness = { pingMs: 40, deadMs: 200 };
    let pings = 0;
    let serverSide: WebSocket | undefined;
    onJoin = (ws) => {
      serverSide = ws;
      ws.on('ping', () => pings++); // ws answers each with a pong by itself
      ws.send('{"type":"relay-ready"}');
    };
    const channel = await openRelayChannel({ server, token: 't', sessionId: SID, timeoutMs: 5000, liveness });
    let closed = false;
    const closedNow = new Promise<void>((resolve) => {
      channel.onclose = () => {
        closed = true;
        resolve();
      };
    });
    // Nothing flows either way for five times the dead limit: the pongs alone keep it open.
    await new Promise((resolve) => setTimeout(resolve, 5 * liveness.deadMs));
    assert.equal(closed, false, 'a live server link is not dropped');
    assert.equal(channel.readyState, 'open');
    assert.ok(pings >= 3, `pings sent: ${pings}`);
    // A half-open link: the server stops reading (no pong comes back), nothing closes the TCP connection.
    (serverSide as unknown as { _socket: { pause(): void } })._socket.pause();
    await closedNow;
    assert.equal(channel.readyState, 'closed');
  });
});
