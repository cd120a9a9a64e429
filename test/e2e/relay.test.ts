/**
 * The relay fallback across processes: forced (`--transport relay`), automatic when ICE cannot succeed
 * (candidates withheld), and mid-transfer when the direct channel dies. Each ends with the right sha256.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import {
  createTransferFixture,
  runRequestProcess,
  sha256Of,
  startProviderProcess,
  type ProviderProcess,
  type TransferFixture,
} from '../helpers/agents.js';
import { api, type ServerProcess } from '../helpers/server.js';

const SIGNAL_16MB = {
  frequency: 100_000_000,
  center_frequency: 99_900_000,
  sample_rate: 2_000_000,
  duration: 1,
};

describe('relay fallback between real processes', () => {
  let fx: TransferFixture;
  let srv: ServerProcess;
  let providerToken: string;
  let consumerToken: string;
  const fresh = (name: string) => fx.fresh(name);
  let running: ProviderProcess | undefined;

  before(async () => {
    fx = await createTransferFixture({ provider: 'radio-r', consumer: 'bob' });
    ({ srv, providerToken, consumerToken } = fx);
  });
  after(async () => {
    await running?.stop();
    await fx?.close();
  });

  async function transferRecord(sessionId: string): Promise<Record<string, unknown> | undefined> {
    const r = await api(srv.url, consumerToken, 'GET', '/api/transfers');
    assert.equal(r.status, 200);
    return (r.body as Array<Record<string, unknown>>).find((t) => t['session_id'] === sessionId);
  }

  test('forced: --transport relay on both sides', async () => {
    running = await startProviderProcess({
      url: srv.url,
      token: providerToken,
      dataDir: await fresh('p'),
      args: ['--transport', 'relay'],
    });
    try {
      const out = await fresh('out');
      const r = await runRequestProcess({
        url: srv.url,
        token: consumerToken,
        type: 'signal',
        params: SIGNAL_16MB,
        out,
        args: ['--transport', 'relay'],
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.result['transport'], 'relay');
      assert.equal(r.result['network_path'], 'ws-relay');
      assert.equal(r.result['route'], 'WebSocket relay');
      assert.equal(r.result['verified'], true);
      assert.equal(await sha256Of(r.result['path'] as string), r.result['sha256']);
      const rec = await transferRecord(r.result['session_id'] as string);
      assert.equal(rec?.['transport'], 'relay');
    } finally {
      await running.stop();
    }
  });

  test('automatic: ICE cannot succeed (candidates withheld), the relay carries the file', async () => {
    const env = { SDRLINK_FAULT_WITHHOLD_CANDIDATES: '1' };
    running = await startProviderProcess({
      url: srv.url,
      token: providerToken,
      dataDir: await fresh('p'),
      env,
      args: ['--connect-timeout', '1500'],
    });
    try {
      const out = await fresh('out');
      const r = await runRequestProcess({
        url: srv.url,
        token: consumerToken,
        type: 'signal',
        params: SIGNAL_16MB,
        out,
        env,
        args: ['--connect-timeout', '1500'],
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.result['transport'], 'relay');
      assert.equal(await sha256Of(r.result['path'] as string), r.result['sha256']);
    } finally {
      await running.stop();
    }
  });

  test('mid-transfer: the direct channel dies and the transfer finishes over the relay from the verified offset', async () => {
    running = await startProviderProcess({
      url: srv.url,
      token: providerToken,
      dataDir: await fresh('p'),
      env: { SDRLINK_FAULT_DROP_P2P_AFTER: String(4 * 1024 * 1024) },
    });
    try {
      const out = await fresh('out');
      const r = await runRequestProcess({
        url: srv.url,
        token: consumerToken,
        type: 'signal',
        params: SIGNAL_16MB,
        out,
        args: ['--idle-timeout', '5000'],
      });
      assert.equal(
        r.code,
        0,
        `${JSON.stringify(r.result)}\n${r.stderr}\nprovider: ${JSON.stringify(running.events())} ${running.stderr()}`,
      );
      assert.equal(r.result['transport'], 'relay');
      assert.ok((r.result['bytes_received'] as number) < 2 * (r.result['size'] as number));
      assert.equal(await sha256Of(r.result['path'] as string), r.result['sha256']);
      assert.deepEqual(
        (await readdir(out)).filter((f) => f.startsWith('.')),
        [],
      );
      const sent = await running.waitFor((e) => e['event'] === 'sent');
      assert.equal(sent['transport'], 'relay');
      assert.ok(
        (sent['start_offset'] as number) > 0,
        JSON.stringify(r.result) +
          running.stderr() +
          `the relay leg resumed at ${String(sent['start_offset'])}`,
      );
    } finally {
      await running.stop();
    }
  });
});
