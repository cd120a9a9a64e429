/**
 * The benchmark's baselines across processes, on small sizes: they move exactly the bytes asked for, and
 * the load generator counts calls and errors. No timing is asserted (the figures are the benchmark's job).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BareDataChannelPair } from './bare-datachannel.js';
import { runBareWs } from './bare-ws.js';
import { LoadGenerator, startBareHttpServer } from './signaling-load.js';

const MiB = 1024 * 1024;
const pair = [{ consumerToken: 'c', providerToken: 'p', providerName: 'provider' }];

test(
  'bare ws pair, direct and through a forwarder, delivers every payload byte',
  { timeout: 60_000 },
  async () => {
    const direct = await runBareWs(4 * MiB + 100);
    assert.equal(direct.bytes, 4 * MiB + 100);
    assert.ok(direct.mb_s > 0 && direct.sender_max_rss > 0);
    const relayed = await runBareWs(3 * MiB, 'relay');
    assert.equal(relayed.bytes, 3 * MiB);
    assert.ok(relayed.relay_cpu_s !== undefined && relayed.relay_cpu_s >= 0);
  },
);

test(
  'bare node-datachannel pair: transfers with and without the DTLS-role fix, to memory and disk',
  { timeout: 90_000 },
  async () => {
    const dir = await mkdtemp(join(os.tmpdir(), 'sdrlink-bare-dc-'));
    const p = await BareDataChannelPair.start();
    try {
      const a = await p.transfer(2 * MiB + 7, { fix: true });
      assert.equal(a.bytes, 2 * MiB + 7);
      assert.ok(a.setup_ms > 0 && a.open_ms > 0);
      const b = await p.transfer(MiB, { fix: false, diskPath: join(dir, 'x.bin') });
      assert.equal(b.bytes, MiB);
      const l = await p.latency(3, true);
      assert.equal(l.samples, 3);
      assert.equal(l.all_ms.length, 3);
      assert.ok(l.median_ms <= l.p95_ms && l.p95_ms <= l.max_ms);
    } finally {
      await p.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  'load generator: closed loop and paced against the bare server, no errors',
  { timeout: 60_000 },
  async () => {
    const srv = await startBareHttpServer();
    const gen = await LoadGenerator.start();
    try {
      const closed = await gen.level({
        url: srv.url,
        clients: 5,
        warmupMs: 100,
        durationMs: 400,
        pairs: pair,
        requestType: 'blob',
      });
      assert.equal(closed.errors, 0);
      assert.ok(closed.ops > 0 && closed.sessions > 0);
      assert.ok(closed.p50_ms <= closed.p99_ms);
      const paced = await gen.level({
        url: srv.url,
        clients: 4,
        warmupMs: 100,
        durationMs: 400,
        pairs: pair,
        requestType: 'blob',
        ratePerSec: 200,
      });
      assert.equal(paced.offered_ops_s, 200);
      assert.equal(paced.errors, 0);
      assert.ok(paced.ops > 0);
    } finally {
      await Promise.all([gen.stop(), srv.stop()]);
    }
  },
);

test('load generator counts HTTP errors and keeps samples of them', { timeout: 60_000 }, async () => {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"ERR_INTERNAL","message":"boom"}}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const gen = await LoadGenerator.start();
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await gen.level({
      url,
      clients: 2,
      warmupMs: 0,
      durationMs: 200,
      pairs: pair,
      requestType: 'blob',
    });
    assert.ok(r.errors > 0);
    assert.equal(r.sessions, 0);
    assert.match(r.error_samples[0] ?? '', /POST \/api\/ice\/initiate: HTTP 500 .*boom/);
  } finally {
    await gen.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
