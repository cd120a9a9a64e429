/**
 * `GET /metrics` on a real server process (docs/api.md §10): the text passes Prometheus's own
 * `promtool check metrics`, the token is enforced, and the counters move with real traffic — REST calls,
 * a push connection, and a transfer through the relay between real provider and consumer processes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { runRequestProcess, startProviderProcess } from '../helpers/agents.js';
import { promtoolCheckMetrics, promtoolSkip } from '../helpers/promtool.js';
import { api, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';

const TOKEN = 'metrics-token-0123456789';

/** Samples of an exposition text: `name{labels}` → value (`# HELP`/`# TYPE` lines left out). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('GET /metrics on a real server', () => {
  let srv: ServerProcess;
  let dir: string;
  let providerToken: string;
  let consumerToken: string;

  const scrape = async () => {
    const r = await fetch(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return r.text();
  };
  const value = (m: Map<string, number>, key: string) => m.get(key) ?? 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-metrics-'));
    srv = await startServerProcess({ env: { SDRLINK_METRICS_TOKEN: TOKEN } });
    providerToken = (
      await registerUser(srv.url, { username: 'radio-m', password: 'provider-pass', client_type: 1 })
    ).token;
    consumerToken = (
      await registerUser(srv.url, { username: 'carol', password: 'consumer-pass', client_type: 2 })
    ).token;
  });
  after(async () => {
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('needs the token when one is set, in the one error shape', async () => {
    const none = await api(srv.url, undefined, 'GET', '/metrics');
    assert.equal(none.status, 401);
    assert.deepEqual(Object.keys((none.body as { error: object }).error).sort(), ['code', 'message']);
    assert.equal((none.body as { error: { code: string } }).error.code, 'ERR_TOKEN_MISSING');
    const wrong = await api(srv.url, 'metrics-token-wrong-000000', 'GET', '/metrics');
    assert.equal(wrong.status, 401);
    assert.equal((wrong.body as { error: { code: string } }).error.code, 'ERR_TOKEN_INVALID');
  });

  test('passes promtool check metrics', { skip: promtoolSkip() }, async () => {
    const { code, output } = await promtoolCheckMetrics(await scrape());
    assert.equal(code, 0, output);
  });

  test('counters move with REST signaling and a push connection', async () => {
    const before = samples(await scrape());
    const init = await api(srv.url, consumerToken, 'POST', '/api/ice/initiate', {
      request_type: 'spectrum',
      parameters: '{"frequency_start":1}',
    });
    assert.equal(init.status, 201);
    const sid = (init.body as { session_id: string }).session_id;
    const offer = await api(srv.url, providerToken, 'POST', '/api/ice/signal', {
      session_id: sid,
      signal_type: 'offer',
      signal_data: JSON.stringify({ type: 'offer', sdp: 'v=0' }),
    });
    assert.equal(offer.status, 200);
    for (let i = 0; i < 3; i++) {
      const r = await api(srv.url, consumerToken, 'GET', `/api/ice/signals/${sid}`);
      assert.equal(r.status, 200);
    }
    const ws = new WebSocket(`${srv.url.replace('http', 'ws')}/api/ws`, {
      headers: { authorization: `Bearer ${consumerToken}` },
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.once('error', reject);
    });
    ws.send(
      JSON.stringify({
        type: 'signal',
        ref: 1,
        session_id: sid,
        signal_type: 'answer',
        signal_data: JSON.stringify({ type: 'answer', sdp: 'v=0' }),
      }),
    );
    await new Promise<void>((resolve) =>
      ws.on('message', (d: Buffer) => {
        if ((JSON.parse(d.toString()) as { type: string }).type === 'result') resolve();
      }),
    );
    const during = samples(await scrape());
    ws.close();
    const cancel = await api(srv.url, consumerToken, 'POST', `/api/ice/sessions/${sid}/cancel`);
    assert.equal(cancel.status, 200);
    const later = samples(await scrape());

    const d = (key: string, m = later) => value(m, key) - value(before, key);
    assert.equal(d('sdrlink_sessions_total{status="pending"}'), 1);
    assert.equal(d('sdrlink_sessions_total{status="offered"}'), 1);
    assert.equal(d('sdrlink_sessions_total{status="cancelled"}'), 1);
    assert.equal(d('sdrlink_signals_total{signal_type="offer",via="rest"}'), 1);
    assert.equal(d('sdrlink_signals_total{signal_type="answer",via="push"}'), 1);
    const reads =
      'sdrlink_http_request_duration_seconds_count{method="GET",route="/api/ice/signals/:session_id",status_code="200"}';
    assert.equal(d(reads), 3, 'one observation per read, labelled by the route pattern');
    assert.ok(![...later.keys()].some((k) => k.includes(sid)), 'no raw URL (session id) in any label');
    assert.equal(value(during, 'sdrlink_push_connections'), 1);
    assert.equal(value(during, 'sdrlink_sessions{status="offered"}'), 1, 'the open session, by status');
    assert.equal(value(later, 'sdrlink_sessions{status="offered"}'), 0, 'cancelled: no longer open');
    assert.ok(d('sdrlink_db_operation_duration_seconds_count{operation="sessions.create"}') >= 1);
    assert.ok(d('sdrlink_db_operation_duration_seconds_count{operation="signals.post"}') >= 2);
  });

  test('a relayed transfer counts its bytes, its transport and its relay slot', async () => {
    const before = samples(await scrape());
    const provider = await startProviderProcess({
      url: srv.url,
      token: providerToken,
      dataDir: await mkdtemp(join(dir, 'p-')),
      args: ['--transport', 'relay'],
    });
    try {
      const r = await runRequestProcess({
        url: srv.url,
        token: consumerToken,
        type: 'spectrum',
        params: { frequency_start: 100e6, frequency_end: 110e6, sample_rate: 2e6 },
        out: await mkdtemp(join(dir, 'out-')),
        args: ['--transport', 'relay'],
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.result['transport'], 'relay');
      const size = r.result['size'] as number;
      // the consumer reports first; the relay's byte count is read when the relay ends
      let later = samples(await scrape());
      for (let i = 0; i < 50 && value(later, 'sdrlink_relay_slots{state="active"}') > 0; i++) {
        await new Promise((res) => setTimeout(res, 100));
        later = samples(await scrape());
      }
      const d = (key: string) => value(later, key) - value(before, key);
      assert.equal(d('sdrlink_transfers_total{transport="relay",outcome="completed",path="ws-relay"}'), 1);
      assert.ok(
        d('sdrlink_transfer_bytes_total{transport="relay",outcome="completed",path="ws-relay"}') >= size,
      );
      assert.ok(d('sdrlink_relay_bytes_total') >= size, 'the relay carried at least the file');
      assert.equal(value(later, 'sdrlink_relay_slots_limit'), 100);
      assert.equal(d('sdrlink_sessions_total{status="completed"}'), 1);
    } finally {
      await provider.stop();
    }
  });
});
