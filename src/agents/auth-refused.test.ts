/**
 * A refused credential is final for the agents (README "A refused credential stops the agents"): the
 * signaling client reports it once — from a 401 on any call, or from the push channel closed 4401 with the
 * server's code — and does not reconnect; a transient failure (a 503) is not a refusal. A provider that
 * polls (its push channel unavailable) stops on the first refused poll instead of polling on. A fake
 * server answers what each case needs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { createDefaultDatasets } from '../datasets/index.js';
import type { AgentError } from './errors.js';
import { startProvider } from './provider.js';
import { SignalingClient } from './signaling-client.js';

type Route = { status: number; body: unknown };

const ME = { user_id: '1', username: 'radio', client_type: 1, request_types: [] };
const REVOKED = { error: { code: 'ERR_KEY_REVOKED', message: 'API key sdrk_1_AbCd… was revoked' } };

describe('a refused credential', () => {
  let http: Server;
  let wss: WebSocketServer | undefined;
  let url: string;
  let dir: string;
  const routes = new Map<string, Route>();
  const calls = new Map<string, number>();
  let pushConnections = 0;
  let onPush: (ws: WebSocket) => void = () => undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-auth-refused-'));
    http = createServer((req, res) => {
      const key = `${req.method} ${req.url}`;
      calls.set(key, (calls.get(key) ?? 0) + 1);
      const r = routes.get(key) ?? { status: 404, body: { error: { code: 'ERR_NOT_FOUND', message: key } } };
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const ws of wss?.clients ?? []) ws.terminate();
    wss?.close();
    await new Promise((resolve) => http.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('is reported once from a 401, with the server code; a 503 is not a refusal', async () => {
    const client = new SignalingClient(url, 'sdrk_1_x');
    const seen: AgentError[] = [];
    client.onAuthRefused((e) => seen.push(e));
    routes.set('GET /api/ice/sessions', {
      status: 503,
      body: { error: { code: 'ERR_UNAVAILABLE', message: 'x' } },
    });
    await assert.rejects(client.listSessions(), { code: 'ERR_SERVER' });
    assert.equal(seen.length, 0);
    assert.equal(client.authRefused, undefined);
    routes.set('GET /api/ice/sessions', { status: 401, body: REVOKED });
    await assert.rejects(client.listSessions(), { code: 'ERR_AUTH', serverCode: 'ERR_KEY_REVOKED' });
    await assert.rejects(client.listSessions(), { code: 'ERR_AUTH' });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.serverCode, 'ERR_KEY_REVOKED');
    // a late subscriber hears it at once
    let late: AgentError | undefined;
    client.onAuthRefused((e) => (late = e));
    assert.equal(late, seen[0]);
  });

  it('is reported from a push close 4401 with the code of its reason, and the push is not reopened', async () => {
    wss = new WebSocketServer({ server: http });
    wss.on('connection', (ws) => {
      pushConnections++;
      onPush(ws);
    });
    onPush = (ws) => ws.send(JSON.stringify({ type: 'hello', user_id: '1', client_type: 1 }));
    const client = new SignalingClient(url, 'sdrk_1_x');
    const refused = new Promise<AgentError>((resolve) => client.onAuthRefused(resolve));
    await client.connectPush({});
    assert.equal(client.pushUp, true);
    // control: a plain close (server going away) is reconnected
    const first = pushConnections;
    for (const ws of wss.clients) ws.close(1001, 'server shutting down');
    for (let i = 0; i < 100 && pushConnections === first; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(pushConnections, first + 1, 'reconnected after 1001');
    for (let i = 0; i < 100 && !client.pushUp; i++) await new Promise((r) => setTimeout(r, 20));
    const before = pushConnections;
    for (const ws of wss.clients) ws.close(4401, 'ERR_KEY_REVOKED: API key sdrk_1_AbCd… was revoked');
    const err = await refused;
    assert.equal(err.code, 'ERR_AUTH');
    assert.equal(err.serverCode, 'ERR_KEY_REVOKED');
    // a reconnect would come after 250 ms (as it did after 1001)
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(pushConnections, before);
    client.close();
    wss.close();
    for (const ws of wss.clients) ws.terminate();
    wss = undefined;
  });

  it('stops a polling provider at the first refused poll, and it polls no more', async () => {
    routes.set('GET /api/me', { status: 200, body: ME });
    routes.set('PUT /api/me/request-types', { status: 200, body: ME });
    routes.set('GET /api/ice/config', { status: 200, body: { ice_servers: [], relay_after_ms: 5000 } });
    routes.set('GET /api/ice/sessions', { status: 200, body: [] });
    calls.clear();
    const events: Array<Record<string, unknown>> = [];
    const provider = await startProvider({
      server: url,
      token: 'sdrk_1_x',
      datasets: createDefaultDatasets(),
      dataDir: join(dir, 'p'),
      pollIntervalMs: 20,
      log: (e) => events.push(e),
    });
    try {
      assert.equal(events.find((e) => e['event'] === 'ready')?.['push'], false, 'no push: it polls');
      routes.set('GET /api/ice/sessions', { status: 401, body: REVOKED });
      const err = await provider.stopped;
      assert.equal(err.serverCode, 'ERR_KEY_REVOKED');
      const stopped = events.find((e) => e['event'] === 'stopped');
      assert.equal(stopped?.['server_code'], 'ERR_KEY_REVOKED');
      const polls = calls.get('GET /api/ice/sessions') ?? 0;
      await new Promise((r) => setTimeout(r, 200)); // ten poll intervals
      assert.equal(calls.get('GET /api/ice/sessions'), polls, 'no poll after the refusal');
      assert.equal(provider.active, 0);
    } finally {
      await provider.close();
    }
  });
});
