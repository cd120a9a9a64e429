/**
 * How sessions end, between real processes (docs/api.md §3 "Outcome", §2 `progress`): a parameter
 * refusal, a Ctrl-C (SIGINT to `sdrlink request`), a provider killed mid-transfer and an expired session
 * each leave a final record with its code and side, seen through `sdrlink history --json` and
 * `GET /api/transfers`; the filters return exactly the expected rows, with names; a bad filter is 400; a
 * completed transfer records its path and moves the metrics' path label; a slowly generated file makes the
 * consumer print `preparing` events before its first byte.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import {
  createTransferFixture,
  runRequestProcess,
  startProviderProcess,
  type ProviderProcess,
  type TransferFixture,
} from '../helpers/agents.js';
import { api, cliCommand, registerUser, runCli, startServerProcess } from '../helpers/server.js';

/** A spectrum that takes the provider a few seconds to compute (~18 MB), unique by `seed`. */
const slowSpectrum = (seed: number) => ({
  frequency_start: 100_000_000,
  frequency_end: 1_100_000_000,
  sample_rate: 2_000_000,
  fft_size: 4096,
  averages: 40,
  seed,
});
/** 64 MiB of IQ, quick to make: long enough to kill the provider in the middle. */
const SIGNAL_64MIB = {
  frequency: 100_000_000,
  center_frequency: 99_900_000,
  sample_rate: 1_048_576,
  duration: 8,
};
const SMALL = { frequency_start: 100e6, frequency_end: 110e6, sample_rate: 2e6 };

interface Row {
  session_id: string;
  status: string;
  request_type: string;
  provider_name: string | null;
  consumer_name: string;
  error_code: string | null;
  error_message: string | null;
  failed_side: string | null;
  path: string | null;
  transport: string | null;
}

describe('session outcomes between real processes', () => {
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
  /** `sdrlink history --json` as the consumer, with extra flags. */
  const history = async (...flags: string[]): Promise<Row[]> => {
    const r = await runCli([
      'history',
      '--server',
      fx.srv.url,
      '--token',
      fx.consumerToken,
      '--json',
      ...flags,
    ]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Row[];
  };
  const transfers = async (query: string): Promise<Row[]> => {
    const r = await api(fx.srv.url, fx.consumerToken, 'GET', `/api/transfers${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as Row[];
  };
  const rowOf = async (sessionId: string): Promise<Row> => {
    const row = (await history('--limit', '1000')).find((r) => r.session_id === sessionId);
    assert.ok(row !== undefined, `no history row for ${sessionId}`);
    const viaApi = (await transfers('?limit=1000')).find((r) => r.session_id === sessionId);
    assert.deepEqual(viaApi, row, 'the CLI prints what the API answers');
    return row;
  };
  const outcome = (r: Row) => [r.status, r.error_code, r.failed_side];
  const ids: Record<string, string> = {};

  before(async () => {
    fx = await createTransferFixture({ provider: 'radio-h', consumer: 'hana' });
  });
  after(async () => {
    await stopProviders();
    await fx?.close();
  });

  test('a parameter refusal is recorded as the provider’s ERR_PARAMS', async () => {
    await provider();
    try {
      // Named for the provider: an untargeted request its catalog cannot serve is never offered to it
      // (docs/api.md §12, test/e2e/catalog.test.ts); a named one reaches it, and it refuses.
      const r = await runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'spectrum',
        params: { ...SMALL, bogus: 1 },
        out: await fx.fresh('out'),
        args: ['--provider', 'radio-h'],
      });
      assert.notEqual(r.code, 0);
      assert.equal(r.result['code'], 'ERR_PROVIDER');
      const sid = (await transfers('?status=failed'))[0]?.session_id;
      assert.ok(sid !== undefined);
      ids['refused'] = sid;
      const row = await rowOf(sid);
      assert.deepEqual(outcome(row), ['failed', 'ERR_PARAMS', 'provider']);
      assert.match(row.error_message ?? '', /parameters\.bogus/);
      assert.equal(row.provider_name, 'radio-h');
      assert.equal(row.consumer_name, 'hana');
    } finally {
      await stopProviders();
    }
  });

  test('a completed transfer records its path and moves the metrics’ path label; "preparing" comes before the first byte', async () => {
    const scrape = async () => {
      const text = await (await fetch(`${fx.srv.url}/metrics`)).text();
      const m = /^sdrlink_transfers_total\{transport="p2p",outcome="completed",path="direct"\} (\d+)$/m.exec(
        text,
      );
      return Number(m?.[1] ?? 0);
    };
    const before = await scrape();
    await provider();
    try {
      const r = await runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'spectrum',
        params: slowSpectrum(1),
        out: await fx.fresh('out'),
        args: ['--transport', 'p2p'],
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.result['transport'], 'p2p');
      // every line but the last is a `preparing` event, each before the first byte arrived
      const lines = r.stdout
        .trim()
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(lines.length >= 1, `preparing events: ${r.stdout}`);
      const start = Date.parse(String(r.result['ts'])) - (r.result['duration_ms'] as number);
      const firstByte = start + (r.result['first_byte_ms'] as number);
      for (const e of lines) {
        assert.equal(e['event'], 'preparing');
        assert.ok((e['bytes'] as number) <= (e['total'] as number), JSON.stringify(e));
        assert.ok((e['percent'] as number) >= 0 && (e['percent'] as number) <= 100);
        assert.ok(Date.parse(String(e['ts'])) <= firstByte + 5, `${String(e['ts'])} after the first byte`);
      }
      const sid = String(r.result['session_id']);
      ids['completed'] = sid;
      const row = await rowOf(sid);
      assert.deepEqual(outcome(row), ['completed', null, null]);
      assert.match(row.path ?? '', /^(host|srflx|prflx)-(host|srflx|prflx)\/(udp|tcp)$/);
      assert.equal(await scrape(), before + 1, 'counted with path="direct"');
    } finally {
      await stopProviders();
    }
  });

  test('Ctrl-C while the provider prepares the file is recorded as cancelled by the consumer', async () => {
    await provider();
    try {
      const cli = cliCommand();
      const args = ['request', 'spectrum', '--server', fx.srv.url, '--token', fx.consumerToken, '--json'];
      for (const [k, v] of Object.entries(slowSpectrum(2))) args.push('--param', `${k}=${JSON.stringify(v)}`);
      args.push('--out', await fx.fresh('out'));
      const proc = spawn(cli.command, [...cli.args, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const killer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
      const lines: Array<Record<string, unknown>> = [];
      let stderr = '';
      proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const exited = new Promise<number | string | null>((res) => proc.once('exit', (c, s) => res(c ?? s)));
      createInterface({ input: proc.stdout }).on('line', (l) => {
        const e = JSON.parse(l) as Record<string, unknown>;
        lines.push(e);
        if (e['event'] === 'preparing' && lines.length === 1) proc.kill('SIGINT');
      });
      const code = await exited;
      clearTimeout(killer);
      assert.equal(code, 1, stderr);
      assert.equal(lines[0]?.['event'], 'preparing', 'interrupted while preparing');
      const last = lines.at(-1);
      assert.equal(last?.['ok'], false);
      const sid = String(lines[0]?.['session_id']);
      ids['cancelled'] = sid;
      const row = await rowOf(sid);
      assert.deepEqual(outcome(row), ['cancelled', 'ERR_CANCELLED', 'consumer']);
      assert.match(row.error_message ?? '', /SIGINT/);
    } finally {
      await stopProviders();
    }
  });

  test('a provider killed mid-transfer is recorded as failed on the provider’s side', async () => {
    const p = await provider({ SDRLINK_FAULT_KILL_AFTER: String(24 * 1024 * 1024) });
    try {
      const r = await runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'signal',
        params: SIGNAL_64MIB,
        out: await fx.fresh('out'),
        args: ['--transport', 'p2p', '--idle-timeout', '3000'],
      });
      assert.notEqual(r.code, 0);
      assert.equal(await p.exited, 'SIGKILL');
      const code = String(r.result['code']);
      assert.match(code, /^(ERR_TIMEOUT|ERR_CHANNEL_CLOSED)$/);
      const sid = (await transfers('?type=signal'))[0]?.session_id;
      assert.ok(sid !== undefined);
      ids['killed'] = sid;
      const row = await rowOf(sid);
      assert.deepEqual(outcome(row), ['failed', code, 'provider']);
      assert.equal(row.transport, 'p2p');
    } finally {
      await stopProviders();
    }
  });

  test('filters return exactly the expected rows, with names; a bad filter is 400 (and exit 1)', async () => {
    const all = [ids['refused'], ids['completed'], ids['cancelled'], ids['killed']];
    assert.ok(all.every((x) => x !== undefined));
    const got = (rows: Row[]) => rows.map((r) => r.session_id).sort();
    assert.deepEqual(got(await history()), [...all].sort() as string[]);
    assert.deepEqual(got(await history('--status', 'failed')), [ids['refused'], ids['killed']].sort());
    assert.deepEqual(got(await history('--status', 'cancelled')), [ids['cancelled']]);
    assert.deepEqual(got(await history('--type', 'signal')), [ids['killed']]);
    assert.deepEqual(got(await history('--provider', 'radio-h', '--status', 'completed')), [
      ids['completed'],
    ]);
    assert.deepEqual(await history('--provider', 'nobody'), []);
    assert.deepEqual(await history('--since', '2999-01-01'), []);
    assert.deepEqual(got(await history('--until', '2999-01-01', '--limit', '2')).length, 2);
    assert.ok((await history()).every((r) => r.provider_name === 'radio-h' && r.consumer_name === 'hana'));

    const bad = await api(fx.srv.url, fx.consumerToken, 'GET', '/api/transfers?since=yesterday');
    assert.equal(bad.status, 400);
    assert.deepEqual(Object.keys(bad.body as object), ['error']);
    assert.equal((bad.body as { error: { code: string } }).error.code, 'ERR_VALIDATION');
    const cli = await runCli([
      'history',
      '--server',
      fx.srv.url,
      '--token',
      fx.consumerToken,
      '--status',
      'done',
    ]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /ERR_VALIDATION|HTTP_400|querystring\.status/);

    const table = await runCli(['history', '--server', fx.srv.url, '--token', fx.consumerToken]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^WHEN \(UTC\)\s+TYPE\s+PROVIDER\s+STATUS\s+SIZE\s+PATH\s+REASON$/);
    assert.equal(lines.length, 5);
    assert.ok(
      lines.some((l) => /cancelled .*ERR_CANCELLED \(consumer\)/.test(l)),
      table.stdout,
    );
    assert.ok(
      lines.some((l) => /failed .*ERR_PARAMS \(provider\)/.test(l)),
      table.stdout,
    );
  });

  test('an expired session is recorded as ERR_EXPIRED on the server’s side', async () => {
    const srv = await startServerProcess({
      env: { SDRLINK_SESSION_TTL_MS: '1000', SDRLINK_SWEEP_INTERVAL_MS: '100' },
    });
    try {
      const c = await registerUser(srv.url, { username: 'ivy', password: 'consumer-pass', client_type: 2 });
      await registerUser(srv.url, { username: 'radio-x', password: 'provider-pass', client_type: 1 });
      const init = await api(srv.url, c.token, 'POST', '/api/ice/initiate', {
        request_type: 'spectrum',
        parameters: JSON.stringify(SMALL),
      });
      assert.equal(init.status, 201);
      const sid = (init.body as { session_id: string }).session_id;
      let rows: Row[] = [];
      for (let i = 0; i < 100; i++) {
        const r = await runCli([
          'history',
          '--server',
          srv.url,
          '--token',
          c.token,
          '--json',
          '--status',
          'expired',
        ]);
        assert.equal(r.code, 0, r.stderr);
        rows = JSON.parse(r.stdout) as Row[];
        if (rows.length > 0) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      assert.deepEqual(
        rows.map((r) => [r.session_id, ...outcome(r), r.provider_name, r.consumer_name]),
        [[sid, 'expired', 'ERR_EXPIRED', 'server', null, 'ivy']],
      );
      const detail = await api(srv.url, c.token, 'GET', `/api/ice/sessions/${sid}`);
      assert.equal((detail.body as Row).error_code, 'ERR_EXPIRED');
    } finally {
      await srv.stop();
    }
  });
});
