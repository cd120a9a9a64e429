/**
 * A dead peer is noticed in seconds (issue 16, class 10; docs/protocol.md §3.7): real `sdrlink provide` and
 * `sdrlink request` processes, one of them killed with SIGKILL mid-transfer (the agents' SDRLINK_FAULT_*
 * hooks kill their own process after N bytes, so the moment is exact), nothing closed behind it.
 *
 * No test reads a clock: each side's idle timeout is set to an hour, so a failure that ends the test at all
 * can only come from the peer's silence (ERR_PEER_GONE) or the connection's own state — never from the old
 * 30 s idle timeout. The time from the death to the notice is printed as a diagnostic (the closing figure).
 */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import {
  createTransferFixture,
  runRequestProcess,
  sha256Of,
  startProviderProcess,
  type ProviderProcess,
  type TransferFixture,
} from '../helpers/agents.js';
import { api } from '../helpers/server.js';

/** 64 MiB of IQ (8 Mi complex64 samples) plus the .npz framing: quick to make, long enough to cut. */
const SIGNAL_64MIB = {
  frequency: 100_000_000,
  center_frequency: 99_900_000,
  sample_rate: 1_048_576,
  duration: 8,
};
/** Far beyond anything a test here waits: a failure before it is not the idle timeout's doing. */
const IDLE_NEVER = ['--idle-timeout', '3600000'];

interface Row {
  session_id: string;
  status: string;
  error_code: string | null;
  failed_side: string | null;
  transport: string | null;
}

describe('a dead peer is noticed within seconds (keepalive, connection state)', () => {
  let fx: TransferFixture;
  const providers: ProviderProcess[] = [];
  const provider = async (env?: Record<string, string>, args: string[] = []) => {
    const p = await startProviderProcess({
      url: fx.srv.url,
      token: fx.providerToken,
      dataDir: await fx.fresh('pdata'),
      args,
      ...(env === undefined ? {} : { env }),
    });
    providers.push(p);
    return p;
  };
  const stopProviders = async () => {
    await Promise.all(providers.splice(0).map((p) => p.stop()));
  };
  /** The session's transfer row once it is final (reports are sent without waiting: poll a little). */
  const finalRow = async (sessionId: string): Promise<Row> => {
    for (let i = 0; ; i++) {
      const r = await api(fx.srv.url, fx.consumerToken, 'GET', '/api/transfers?limit=1000');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const row = (r.body as Row[]).find((x) => x.session_id === sessionId);
      if (row !== undefined && row.status !== 'connected' && row.status !== 'transferring') return row;
      assert.ok(i < 100, `no final transfer row for ${sessionId}: ${JSON.stringify(row)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  /** The session a provider claimed first. */
  const claimedBy = (p: ProviderProcess): string => {
    const e = p.events().find((x) => x['event'] === 'claimed');
    assert.ok(e !== undefined, 'the provider claimed a session');
    return String(e['session_id']);
  };
  /** The verified prefix the consumer kept in its private folder (docs/protocol.md §4), in bytes. */
  const keptPrefix = async (out: string): Promise<number> => {
    const part = (await readdir(join(out, '.sdrlink-partial'))).find((f) => f.endsWith('.part'));
    assert.ok(part !== undefined, 'the verified prefix is kept');
    return (await stat(join(out, '.sdrlink-partial', part))).size;
  };
  /** Time from a process's death to another's notice, as a diagnostic (not asserted). */
  const figure = (t: TestContext, what: string, diedAt: number, noticedAt: number) =>
    t.diagnostic(`${what}: noticed ${noticedAt - diedAt} ms after the death`);

  before(async () => {
    fx = await createTransferFixture({ provider: 'radio-live', consumer: 'lena' });
  });
  after(async () => {
    await stopProviders();
    await fx?.close();
  });

  test('a provider killed mid-transfer: ERR_PEER_GONE at the consumer; a second provider resumes and the file verifies', async (t) => {
    const doomed = await provider({ SDRLINK_FAULT_KILL_AFTER: String(24 * 1024 * 1024) });
    let diedAt = 0;
    void doomed.exited.then(() => (diedAt = Date.now()));
    const out = await fx.fresh('out');
    // Direct only: the notice itself, without the relay wait of `auto` (the next tests have it).
    const first = await runRequestProcess({
      url: fx.srv.url,
      token: fx.consumerToken,
      type: 'signal',
      params: SIGNAL_64MIB,
      out,
      // --retries 0: the notice itself (the last test has the automatic retry)
      args: ['--transport', 'p2p', '--retries', '0', ...IDLE_NEVER],
    });
    const noticedAt = Date.now();
    assert.equal(await doomed.exited, 'SIGKILL');
    assert.notEqual(first.code, 0);
    assert.equal(first.result['code'], 'ERR_PEER_GONE', JSON.stringify(first.result));
    assert.match(String(first.result['message']), /nothing from the peer for \d+ ms/);
    figure(t, 'provider killed, consumer (p2p)', diedAt, noticedAt);
    assert.ok(!(await readdir(out)).some((f) => !f.startsWith('.')), 'no final file');
    const kept = await keptPrefix(out);
    assert.ok(kept >= 8 * 1024 * 1024, `prefix kept: ${kept} bytes`);
    const row = await finalRow(claimedBy(doomed));
    assert.deepEqual([row.status, row.error_code, row.failed_side], ['failed', 'ERR_PEER_GONE', 'provider']);

    await provider(); // another provider, its own data folder: the same parameters give the same bytes
    try {
      const second = await runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'signal',
        params: SIGNAL_64MIB,
        out,
      });
      assert.equal(second.code, 0, second.stderr);
      assert.ok((second.result['resumed_from'] as number) >= kept - 1024 * 1024, 'resumed from the prefix');
      assert.ok((second.result['bytes_received'] as number) < (second.result['size'] as number));
      assert.equal(await sha256Of(second.result['path'] as string), second.result['sha256']);
    } finally {
      await stopProviders();
    }
  });

  test('a consumer killed mid-transfer: the provider records it failed on the consumer’s side and serves the next', async (t) => {
    const p = await provider();
    try {
      const out = await fx.fresh('out');
      const died = await runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'signal',
        params: SIGNAL_64MIB,
        out,
        args: IDLE_NEVER,
        env: { SDRLINK_FAULT_KILL_AFTER_RECEIVED: String(16 * 1024 * 1024) },
      }).then(
        (r) => r.code,
        // no result line at all: the helper says how the process ended
        (err: Error) => (/\(exit SIGKILL\)/.test(err.message) ? 'SIGKILL' : err.message),
      );
      const diedAt = Date.now();
      assert.equal(died, 'SIGKILL', 'the consumer died by the fault, mid-transfer');
      const failed = await p.waitFor((e) => e['event'] === 'failed', 60_000);
      figure(t, 'consumer killed, provider (auto: then no one at the relay)', diedAt, Date.now());
      assert.equal(failed['code'], 'ERR_PEER_GONE', JSON.stringify(failed));
      const row = await finalRow(String(failed['session_id']));
      assert.deepEqual(
        [row.status, row.error_code, row.failed_side],
        ['failed', 'ERR_PEER_GONE', 'consumer'],
        'recorded by the provider: the consumer went silent',
      );
      // The session is freed: the same provider serves the next request. (A consumer killed this early
      // resumes from 0: its sidecar is kept current every 64 MiB, src/agents/files.ts.)
      const next = await runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'signal',
        params: SIGNAL_64MIB,
        out,
      });
      assert.equal(next.code, 0, next.stderr);
      assert.equal(await sha256Of(next.result['path'] as string), next.result['sha256']);
    } finally {
      await stopProviders();
    }
  });

  test('over the relay: a provider killed mid-transfer is noticed at once, and a second provider resumes', async (t) => {
    const doomed = await provider({ SDRLINK_FAULT_KILL_AFTER: String(24 * 1024 * 1024) });
    let diedAt = 0;
    void doomed.exited.then(() => (diedAt = Date.now()));
    const out = await fx.fresh('out');
    const first = await runRequestProcess({
      url: fx.srv.url,
      token: fx.consumerToken,
      type: 'signal',
      params: SIGNAL_64MIB,
      out,
      args: ['--transport', 'relay', '--retries', '0', ...IDLE_NEVER],
    });
    const noticedAt = Date.now();
    assert.equal(await doomed.exited, 'SIGKILL');
    assert.notEqual(first.code, 0);
    // The server sees the provider's socket close and tells the consumer (`relay-peer-left`), which closes:
    // the connection's own state. The keepalive would catch a relay that said nothing.
    assert.match(
      String(first.result['code']),
      /^(ERR_CHANNEL_CLOSED|ERR_PEER_GONE)$/,
      JSON.stringify(first.result),
    );
    figure(t, 'provider killed, consumer (relay)', diedAt, noticedAt);
    const kept = await keptPrefix(out);
    assert.ok(kept > 0, 'prefix kept');

    await provider();
    try {
      const second = await runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'signal',
        params: SIGNAL_64MIB,
        out,
        args: ['--transport', 'relay'],
      });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.result['transport'], 'relay');
      assert.ok((second.result['resumed_from'] as number) > 0, 'resumed from the prefix');
      assert.equal(await sha256Of(second.result['path'] as string), second.result['sha256']);
    } finally {
      await stopProviders();
    }
  });
  test('a provider killed mid-transfer with another online: one request asks again by itself and resumes (--retries)', async () => {
    const doomed = await provider({ SDRLINK_FAULT_KILL_AFTER: String(24 * 1024 * 1024) });
    try {
      const out = await fx.fresh('out');
      const running = runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'signal',
        params: SIGNAL_64MIB,
        out,
        args: ['--transport', 'p2p', ...IDLE_NEVER],
      });
      // The doomed provider holds the session; only then does the healthy one come online.
      await doomed.waitFor((e) => e['event'] === 'claimed', 60_000);
      await provider();
      const r = await running;
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.equal(await doomed.exited, 'SIGKILL');
      const retries = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => e['event'] === 'retry');
      assert.equal(retries.length, 1, r.stdout);
      assert.equal(retries[0]?.['code'], 'ERR_PEER_GONE');
      assert.ok((r.result['resumed_from'] as number) > 0, 'resumed from the verified prefix');
      assert.notEqual(r.result['session_id'], claimedBy(doomed), 'a new session');
      assert.equal(await sha256Of(r.result['path'] as string), r.result['sha256']);
      const row = await finalRow(claimedBy(doomed));
      assert.deepEqual([row.status, row.error_code], ['failed', 'ERR_PEER_GONE']);
    } finally {
      await stopProviders();
    }
  });
});
