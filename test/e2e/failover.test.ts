/**
 * Agents given several server instances (`--server A,B`, two `sdrlink server` processes on one real
 * PostgreSQL, the same SDRLINK_JWT_SECRET): instance A is SIGKILLed mid-session and the request still
 * completes, the file verified, with the `server-failover` event printed —
 * - during signaling: a second session waits, unclaimed, in the line of a provider held by a slow first
 *   file (`--max-concurrent 1`) when A dies; the provider claims it through B, and the first completes too;
 * - mid-transfer over a direct channel: the bytes keep flowing, no resume;
 * - mid-transfer over the relay (on A): the relay dies with A, and the transfer resumes from the verified
 *   offset through B (`--retries`).
 * These tests do not depend on push crossing instances: after A dies both agents are on B.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { sha256Of, startProviderProcess } from '../helpers/agents.js';
import { TEST_JWT_SECRET, postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { api, cliCommand, registerUser, startServerProcess, type ServerProcess } from '../helpers/server.js';

/** 64 MiB of IQ, quick to make: long enough to kill an instance in the middle of its transfer. */
const SIGNAL_64MIB = {
  frequency: 100_000_000,
  center_frequency: 99_900_000,
  sample_rate: 1_048_576,
  duration: 8,
};
/** 256 MiB: long enough over the relay that a kill timed on the first progress line lands mid-transfer. */
const SIGNAL_256MIB = { ...SIGNAL_64MIB, duration: 32 };
/** A spectrum that takes a while to compute: the provider is busy producing it when A is killed. */
const SLOW_SPECTRUM = {
  frequency_start: 100_000_000,
  frequency_end: 1_100_000_000,
  sample_rate: 2_000_000,
  fft_size: 4096,
  averages: 80,
  seed: 7,
};
const SMALL = { frequency_start: 100e6, frequency_end: 110e6, sample_rate: 2e6, seed: 3 };

/** A running `sdrlink request --json --events`, its lines readable as they come. */
interface RunningRequest {
  waitFor(
    pred: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  lines(): Array<Record<string, unknown>>;
  done: Promise<{ code: number | string | null; result: Record<string, unknown>; stderr: string }>;
  kill(): void;
  /** Sends the request's process a signal (SIGSTOP/SIGCONT to hold it). */
  signal(sig: NodeJS.Signals): void;
}

function startRequest(opts: {
  servers: string;
  token: string;
  type: string;
  params: Record<string, unknown>;
  out: string;
  args?: string[];
}): RunningRequest {
  const cli = cliCommand();
  const paramArgs = Object.entries(opts.params).flatMap(([k, v]) => ['--param', `${k}=${JSON.stringify(v)}`]);
  const proc = spawn(
    cli.command,
    [
      ...cli.args,
      'request',
      opts.type,
      '--server',
      opts.servers,
      '--token',
      opts.token,
      '--out',
      opts.out,
      '--json',
      '--events',
      ...paramArgs,
      ...(opts.args ?? []),
    ],
    { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c: string) => (stderr = (stderr + c).slice(-32_768)));
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    pred: (e: Record<string, unknown>) => boolean;
    resolve: (e: Record<string, unknown>) => void;
  }> = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(e);
    for (const w of [...waiters])
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 150_000);
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (c, s) => {
      clearTimeout(timer);
      resolve(c ?? s);
    }),
  );
  const done = exited.then((code) => {
    const last = lines.at(-1);
    if (last === undefined || !('ok' in last))
      throw new Error(
        `request printed no result (exit ${String(code)})\n${JSON.stringify(lines)}\n${stderr}`,
      );
    return { code, result: last, stderr };
  });
  done.catch(() => undefined);
  return {
    lines: () => [...lines],
    done,
    kill: () => proc.kill('SIGKILL'),
    signal: (sig) => proc.kill(sig),
    waitFor(pred, timeoutMs = 60_000) {
      const hit = lines.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new Error(`request: no matching line in ${timeoutMs} ms\n${JSON.stringify(lines)}\n${stderr}`),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(t);
            resolve(e);
          },
        });
        void exited.then((code) => {
          clearTimeout(t);
          reject(new Error(`request exited (${String(code)}) first\n${JSON.stringify(lines)}\n${stderr}`));
        });
      });
    },
  };
}

describe('agents fail over between server instances (--server A,B)', { skip: postgresSkip() }, () => {
  let pgs: PostgresServer;
  let dbUrl: string;
  let dir: string;
  let providerToken: string;
  let consumerToken: string;
  const servers: ServerProcess[] = [];

  const startInstance = async (): Promise<ServerProcess> => {
    const srv = await startServerProcess({
      args: ['--db', dbUrl],
      env: { SDRLINK_JWT_SECRET: TEST_JWT_SECRET },
    });
    servers.push(srv);
    return srv;
  };
  const fresh = (name: string) => mkdtemp(join(dir, `${name}-`));

  before(async () => {
    pgs = await startPostgres();
    dbUrl = await pgs.createDatabase();
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-failover-'));
    const first = await startInstance();
    providerToken = (
      await registerUser(first.url, { username: 'radio-fo', password: 'provider-pass', client_type: 1 })
    ).token;
    consumerToken = (
      await registerUser(first.url, { username: 'alice-fo', password: 'consumer-pass', client_type: 2 })
    ).token;
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await pgs?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** Asserts the request succeeded, verified, and printed a failover from `from` to `to`. */
  async function assertCompleted(
    req: RunningRequest,
    from: string,
    to: string,
  ): Promise<Record<string, unknown>> {
    const { code, result, stderr } = await req.done;
    assert.equal(code, 0, `${JSON.stringify(result)}\n${stderr}`);
    assert.equal(result['ok'], true);
    assert.equal(result['verified'], true);
    assert.equal(await sha256Of(result['path'] as string), result['sha256']);
    const moves = req.lines().filter((e) => e['event'] === 'server-failover');
    assert.ok(moves.length >= 1, `a server-failover event: ${JSON.stringify(req.lines())}`);
    assert.equal(moves[0]?.['from'], from);
    assert.equal(moves[0]?.['to'], to);
    assert.equal(typeof moves[0]?.['reason'], 'string');
    assert.match(
      stderr,
      new RegExp(`server ${from.replace(/[.:/]/g, '\\$&')} failed \\(.*\\); continuing with`),
    );
    return result;
  }

  /** The transfer as B records it (the final reports went there). */
  async function recordOn(b: ServerProcess, sessionId: string): Promise<Record<string, unknown> | undefined> {
    const r = await api(b.url, consumerToken, 'GET', '/api/transfers');
    assert.equal(r.status, 200);
    return (r.body as Array<Record<string, unknown>>).find((t) => t['session_id'] === sessionId);
  }

  test("A dies during signaling (a session waiting in the provider's line, no offer yet) and while the provider produces a file: both requests complete through B", async () => {
    const a = await startInstance();
    const b = await startInstance();
    const list = `${a.url},${b.url}`;
    // one session at a time: the second request waits in the provider's line, unclaimed, on A
    const provider = await startProviderProcess({
      url: list,
      token: providerToken,
      dataDir: await fresh('p'),
      args: ['--max-concurrent', '1'],
    });
    const slow = startRequest({
      servers: list,
      token: consumerToken,
      type: 'spectrum',
      params: SLOW_SPECTRUM,
      out: await fresh('out'),
    });
    let held: RunningRequest | undefined;
    try {
      const first = await slow.waitFor((e) => e['event'] === 'session');
      await provider.waitFor(
        (e) => e['event'] === 'preparing' && e['session_id'] === first['session_id'],
        60_000,
      );
      held = startRequest({
        servers: list,
        token: consumerToken,
        type: 'spectrum',
        params: SMALL,
        out: await fresh('out'),
      });
      const second = await held.waitFor((e) => e['event'] === 'session');
      // (the provider lists it only when it starts serving it, after the first)
      assert.equal(
        provider.events().some((e) => e['event'] === 'sent'),
        false,
        `the first file is still being produced when A is killed: ${JSON.stringify(provider.events())}`,
      );
      assert.equal(await a.kill('SIGKILL'), 'SIGKILL');
      const r1 = await assertCompleted(slow, a.url, b.url);
      const r2 = await assertCompleted(held, a.url, b.url);
      assert.equal(r2['session_id'], second['session_id']);
      assert.equal(r1['resumed_from'], 0);
      assert.equal(r2['resumed_from'], 0);
      // the provider moved to B before it claimed the second session, which it did through B
      const events = provider.events();
      const moved = events.findIndex((e) => e['event'] === 'server-failover');
      const claimed = events.findIndex(
        (e) => e['event'] === 'claimed' && e['session_id'] === second['session_id'],
      );
      assert.ok(moved >= 0, 'the provider failed over');
      assert.equal(events[moved]?.['from'], a.url);
      assert.equal(events[moved]?.['to'], b.url);
      assert.ok(claimed > moved, `claimed after the failover: ${JSON.stringify(events)}`);
      assert.equal((await recordOn(b, r2['session_id'] as string))?.['status'], 'completed');
      assert.equal((await recordOn(b, r1['session_id'] as string))?.['status'], 'completed');
    } finally {
      slow.kill();
      held?.kill();
      await provider.stop();
    }
  });

  test('A dies mid-transfer over a direct channel: the bytes keep flowing, the reports go to B', async () => {
    const a = await startInstance();
    const b = await startInstance();
    const list = `${a.url},${b.url}`;
    const provider = await startProviderProcess({
      url: list,
      token: providerToken,
      dataDir: await fresh('p'),
      args: ['--transport', 'p2p'],
    });
    const req = startRequest({
      servers: list,
      token: consumerToken,
      type: 'signal',
      params: SIGNAL_64MIB,
      out: await fresh('out'),
      args: ['--transport', 'p2p'],
    });
    try {
      const first = await req.waitFor(
        (e) =>
          e['event'] === 'progress' &&
          Number(e['received']) > 0 &&
          Number(e['received']) < Number(e['total']),
        90_000,
      );
      assert.equal(await a.kill('SIGKILL'), 'SIGKILL');
      const r = await assertCompleted(req, a.url, b.url);
      assert.equal(r['transport'], 'p2p');
      assert.equal(r['resumed_from'], 0, 'the same channel carried every byte');
      assert.equal(r['bytes_received'], r['size']);
      assert.ok(Number(first['received']) < Number(r['size']));
      assert.ok(!req.lines().some((e) => e['event'] === 'retry'), 'no retry');
      // the consumer's final report reached B (the connected one went to A before it died)
      const rec = await recordOn(b, r['session_id'] as string);
      assert.equal(rec?.['status'], 'completed');
      assert.equal(rec?.['sha256'], r['sha256']);
    } finally {
      req.kill();
      await provider.stop();
    }
  });

  test('A dies mid-transfer over its relay: the transfer resumes from the verified offset through B', async () => {
    const a = await startInstance();
    const b = await startInstance();
    const list = `${a.url},${b.url}`;
    const provider = await startProviderProcess({
      url: list,
      token: providerToken,
      dataDir: await fresh('p'),
      args: ['--transport', 'relay'],
    });
    const req = startRequest({
      servers: list,
      token: consumerToken,
      type: 'signal',
      params: SIGNAL_256MIB,
      out: await fresh('out'),
      args: ['--transport', 'relay', '--retries', '2'],
    });
    try {
      // A must die mid-transfer whatever the machine's speed: at the consumer's first progress line with
      // bytes in (the lines come 250 ms apart) the consumer is held (SIGSTOP), A is killed, and the
      // consumer let go — it reads what reached it (its verified prefix), loses the relay and asks again
      // through B. 256 MiB, so that the transfer outlasts the first 250 ms even at 400 MB/s.
      await req.waitFor(
        (e) =>
          e['event'] === 'progress' &&
          Number(e['received']) > 0 &&
          Number(e['received']) < Number(e['total']),
        90_000,
      );
      req.signal('SIGSTOP');
      try {
        assert.equal(await a.kill('SIGKILL'), 'SIGKILL');
      } finally {
        req.signal('SIGCONT');
      }
      const r = await assertCompleted(req, a.url, b.url);
      assert.equal(r['transport'], 'relay');
      assert.ok(Number(r['resumed_from']) > 0, `resumed from the verified prefix: ${JSON.stringify(r)}`);
      const retry = req.lines().find((e) => e['event'] === 'retry');
      assert.ok(retry !== undefined, 'the transfer was asked again');
      assert.equal(Number(r['resumed_from']) + Number(r['bytes_received']), r['size']);
      const rec = await recordOn(b, r['session_id'] as string);
      assert.equal(rec?.['status'], 'completed');
    } finally {
      req.kill();
      await provider.stop();
    }
  });

  test('the agents on different instances (no kill): polling carries the signals across', async () => {
    const a = await startInstance();
    const b = await startInstance();
    // the provider uses B, the consumer A; push reaches only its own instance's subscribers here, so the
    // session (named for the provider: A does not see it online) and the signals cross by polling
    const provider = await startProviderProcess({
      url: `${b.url},${a.url}`,
      token: providerToken,
      dataDir: await fresh('p'),
    });
    const req = startRequest({
      servers: `${a.url},${b.url}`,
      token: consumerToken,
      type: 'spectrum',
      params: SMALL,
      out: await fresh('out'),
      args: ['--provider', 'radio-fo'],
    });
    try {
      const { code, result, stderr } = await req.done;
      assert.equal(code, 0, `${JSON.stringify(result)}\n${stderr}`);
      assert.equal(result['verified'], true);
      assert.equal(await sha256Of(result['path'] as string), result['sha256']);
      assert.ok(!req.lines().some((e) => e['event'] === 'server-failover'), 'nothing failed over');
      assert.ok(!provider.events().some((e) => e['event'] === 'server-failover'));
      // the provider, on B, claimed the session the consumer made on A, and the two met
      await provider
        .waitFor((e) => e['event'] === 'connected' && e['session_id'] === result['session_id'])
        .catch((err: unknown) => {
          throw new Error(`${(err as Error).message}\n${JSON.stringify(provider.events())}`);
        });
    } finally {
      req.kill();
      await provider.stop();
    }
  });

  test('every instance down: the request ends with ERR_SERVER_UNREACHABLE naming each, not an endless loop', async () => {
    const a = await startInstance();
    const b = await startInstance();
    const list = `${a.url},${b.url}`;
    await a.kill('SIGKILL');
    await b.kill('SIGKILL');
    const req = startRequest({
      servers: list,
      token: consumerToken,
      type: 'spectrum',
      params: SMALL,
      out: await fresh('out'),
    });
    const { code, result } = await req.done;
    assert.equal(code, 1);
    assert.equal(result['ok'], false);
    assert.equal(result['code'], 'ERR_SERVER_UNREACHABLE');
    assert.match(String(result['message']), /no server of the list answered \(6 attempts over 2 instances\)/);
    assert.ok(String(result['message']).includes(a.url) && String(result['message']).includes(b.url));
  });
});
