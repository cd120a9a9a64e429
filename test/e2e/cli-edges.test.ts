/**
 * The CLI's rough edges (issue 11), each against real processes: `sdrlink request --out` checked before the
 * server is asked, one provider per `--data-dir`, timestamps on `--json` lines, and `--max-output` defaults
 * that agree across verbs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createTransferFixture,
  runRequestProcess,
  startProviderProcess,
  type ProviderProcess,
  type TransferFixture,
} from '../helpers/agents.js';
import { runCli } from '../helpers/server.js';
import { DEFAULT_MAX_OUTPUT_BYTES } from '../../src/datasets/limits.js';

/**
 * Nothing listens on port 1: a request that reached the network would fail with ERR_SERVER_UNREACHABLE.
 * ERR_CONFIG from a request to this server shows the check came first.
 */
const NO_SERVER = 'http://127.0.0.1:1';

async function requestInto(out: string) {
  const r = await runCli([
    'request',
    'spectrum',
    '--server',
    NO_SERVER,
    '--token',
    'x.y.z',
    '--param',
    'frequency_start=100e6',
    '--param',
    'frequency_end=110e6',
    '--json',
    '--out',
    out,
  ]);
  const line = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  return { ...r, line };
}

describe('sdrlink request --out is checked before the request is made', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-cli-edges-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('an existing file is refused with ERR_CONFIG, not a raw EEXIST', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const r = await requestInto(file);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.line['code'], 'ERR_CONFIG');
    assert.match(String(r.line['message']), /is a file, not a folder/);
    const below = await requestInto(join(file, 'sub'));
    assert.equal(below.line['code'], 'ERR_CONFIG');
  });

  test(
    'a folder that cannot be created is refused at once (/proc/x made Node 20 spin)',
    {
      skip: process.platform !== 'linux',
    },
    async () => {
      const r = await requestInto('/proc/sdrlink-x');
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.line['code'], 'ERR_CONFIG');
      assert.match(String(r.line['message']), /cannot create/);
    },
  );

  test(
    'a folder that cannot be written is refused',
    {
      skip: process.platform !== 'linux' ? 'linux only' : false,
    },
    async () => {
      // /proc exists and takes no new files, even for root.
      const r = await requestInto('/proc');
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.line['code'], 'ERR_CONFIG');
      assert.match(String(r.line['message']), /cannot write/);
    },
  );

  test(
    'a read-only folder is refused (as a normal user)',
    {
      skip: process.getuid?.() === 0 ? 'root writes anyway' : false,
    },
    async () => {
      const ro = join(dir, 'read-only');
      await mkdir(ro);
      await chmod(ro, 0o555);
      try {
        const r = await requestInto(ro);
        assert.equal(r.line['code'], 'ERR_CONFIG');
      } finally {
        await chmod(ro, 0o755);
      }
    },
  );

  test('a missing folder is created, and the write check leaves nothing behind', async () => {
    const out = join(dir, 'new', 'deeper');
    const r = await requestInto(out);
    // The check passed: the request went on to the (absent) server.
    assert.equal(r.line['code'], 'ERR_SERVER_UNREACHABLE', r.stdout);
    assert.deepEqual(await readdir(out), []);
  });
});

/** The pid of a process that has exited (a dead owner for a stale lock). */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => p.once('exit', r));
  return p.pid ?? 999_999;
}

describe('one provider per --data-dir', () => {
  let fx: TransferFixture;
  const running: ProviderProcess[] = [];
  before(async () => {
    fx = await createTransferFixture({ provider: 'radio-lock', consumer: 'lock-consumer' });
  });
  after(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await fx?.close();
  });

  test('a second provider on the same folder is refused with ERR_DATA_DIR_LOCKED; the first keeps it', async () => {
    const dataDir = await fx.fresh('pdata');
    const first = await startProviderProcess({ url: fx.srv.url, token: fx.providerToken, dataDir });
    running.push(first);
    assert.equal((await readFile(join(dataDir, 'provider.lock'), 'utf8')).trim(), String(first.proc.pid));
    const second = await runCli([
      'provide',
      '--server',
      fx.srv.url,
      '--token',
      fx.providerToken,
      '--data-dir',
      dataDir,
      '--json',
    ]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /ERR_DATA_DIR_LOCKED: .*in use by another provider \(pid \d+\)/);
    assert.equal(second.stdout.includes('"ready"'), false);
    // The refused one left the lock alone; stopping the first removes it.
    assert.equal((await readFile(join(dataDir, 'provider.lock'), 'utf8')).trim(), String(first.proc.pid));
    await first.stop();
    await assert.rejects(stat(join(dataDir, 'provider.lock')), { code: 'ENOENT' });
  });

  test(
    'a --data-dir that cannot be created is refused with ERR_CONFIG (/proc/x made Node 20 spin)',
    {
      skip: process.platform !== 'linux',
    },
    async () => {
      const r = await runCli([
        'provide',
        '--server',
        fx.srv.url,
        '--token',
        fx.providerToken,
        '--data-dir',
        '/proc/sdrlink-x',
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /ERR_CONFIG: --data-dir \/proc\/sdrlink-x: cannot create/);
    },
  );

  test('a provider that fails to start (a refused token) leaves no lock behind', async () => {
    const dataDir = await fx.fresh('pdata');
    const r = await runCli(['provide', '--server', fx.srv.url, '--token', 'x.y.z', '--data-dir', dataDir]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^sdrlink provide: credential refused \(ERR_TOKEN_INVALID\)/m);
    await assert.rejects(stat(join(dataDir, 'provider.lock')), { code: 'ENOENT' });
  });

  test('a lock left by a process that is gone is taken over', async () => {
    const dataDir = await fx.fresh('pdata');
    await writeFile(join(dataDir, 'provider.lock'), `${await deadPid()}\n`);
    const p = await startProviderProcess({ url: fx.srv.url, token: fx.providerToken, dataDir });
    running.push(p);
    assert.equal((await readFile(join(dataDir, 'provider.lock'), 'utf8')).trim(), String(p.proc.pid));
    await p.stop();
  });
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('--json lines carry an ISO timestamp', () => {
  let fx: TransferFixture;
  let provider: ProviderProcess | undefined;
  before(async () => {
    fx = await createTransferFixture({ provider: 'radio-ts', consumer: 'ts-consumer' });
  });
  after(async () => {
    await provider?.stop();
    await fx?.close();
  });

  test('every provider event and the request result lead with `ts`', async () => {
    provider = await startProviderProcess({
      url: fx.srv.url,
      token: fx.providerToken,
      dataDir: await fx.fresh('pdata'),
    });
    const r = await runRequestProcess({
      url: fx.srv.url,
      token: fx.consumerToken,
      type: 'spectrum',
      params: { frequency_start: 100e6, frequency_end: 110e6, sample_rate: 2e6 },
      out: await fx.fresh('out'),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(String(r.result['ts']), ISO);
    // The session's event precedes the transfer; the events printed by now are enough to check.
    await provider.waitFor((e) => e['event'] === 'session');
    const events = provider.events();
    assert.ok(events.length >= 2, JSON.stringify(events));
    for (const e of events) {
      assert.match(String(e['ts']), ISO, JSON.stringify(e));
      assert.equal(Object.keys(e)[0], 'ts');
    }
    const failed = await requestInto('/proc/sdrlink-ts');
    assert.match(String(failed.line['ts']), ISO);
  });
});

describe('--max-output: one default across verbs', () => {
  const defaultOf = async (verb: string[]) => {
    const r = await runCli([...verb, '--help']);
    const m = /--max-output <bytes>\s+largest file to produce \(default: "(\d+)"\)/.exec(r.stdout);
    assert.ok(m !== null, r.stdout);
    return Number(m[1]);
  };

  test('`provide` and `dataset generate` show the same default, the datasets’ own', async () => {
    const provide = await defaultOf(['provide']);
    const generate = await defaultOf(['dataset', 'generate']);
    assert.equal(provide, generate);
    assert.equal(provide, DEFAULT_MAX_OUTPUT_BYTES);
  });

  test('`provide --max-output` that is not a positive integer is refused before any network call', async () => {
    const r = await runCli(['provide', '--server', NO_SERVER, '--token', 'x.y.z', '--max-output', 'lots']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--max-output must be a positive integer/);
  });
});

describe('a repeated request whose file is already present', () => {
  let fx: TransferFixture;
  let provider: ProviderProcess | undefined;
  before(async () => {
    fx = await createTransferFixture({ provider: 'radio-again', consumer: 'again-consumer' });
  });
  after(async () => {
    await provider?.stop();
    await fx?.close();
  });

  test('says so (same sha256) instead of saving NAME (1).npz; a different file of that name is kept', async () => {
    provider = await startProviderProcess({
      url: fx.srv.url,
      token: fx.providerToken,
      dataDir: await fx.fresh('pdata'),
    });
    const out = await fx.fresh('out');
    const ask = () =>
      runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'spectrum',
        params: { frequency_start: 100e6, frequency_end: 110e6, sample_rate: 2e6 },
        out,
      });
    const first = await ask();
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.result['already_present'], false);
    const path = String(first.result['path']);

    const again = await ask();
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.result['already_present'], true);
    assert.equal(again.result['path'], path);
    assert.equal(again.result['sha256'], first.result['sha256']);
    assert.equal(again.result['verified'], true);
    assert.equal(again.result['bytes_received'], 0);
    assert.deepEqual(await readdir(out), [path.split('/').pop()]);

    // Same name and size, other bytes: not the provider's file, so it is received and saved beside it.
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(path, bytes);
    const other = await ask();
    assert.equal(other.code, 0, other.stderr);
    assert.equal(other.result['already_present'], false);
    assert.match(String(other.result['path']), / \(1\)\.npz$/);
    assert.equal(other.result['sha256'], first.result['sha256']);
  });
});

describe('request --transport relay', () => {
  let fx: TransferFixture;
  let provider: ProviderProcess | undefined;
  before(async () => {
    fx = await createTransferFixture({ provider: 'radio-relay', consumer: 'relay-consumer' });
  });
  after(async () => {
    await provider?.stop();
    await fx?.close();
  });

  test('the provider (auto) meets the consumer at the relay at once: no direct attempt, no fallback', async () => {
    provider = await startProviderProcess({
      url: fx.srv.url,
      token: fx.providerToken,
      dataDir: await fx.fresh('pdata'),
    });
    const r = await runRequestProcess({
      url: fx.srv.url,
      token: fx.consumerToken,
      type: 'spectrum',
      params: { frequency_start: 100e6, frequency_end: 110e6, sample_rate: 2e6 },
      out: await fx.fresh('out'),
      args: ['--transport', 'relay'],
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.result['transport'], 'relay');
    const sid = r.result['session_id'];
    const connected = await provider.waitFor((e) => e['event'] === 'connected' && e['session_id'] === sid);
    assert.equal(connected['transport'], 'relay');
    // Before: the provider offered, waited relay_after_ms for an answer, then fell back ('connect-timeout').
    assert.equal(connected['fallback'], undefined, JSON.stringify(connected));
  });
});
