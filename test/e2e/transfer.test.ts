/**
 * The agents across processes on loopback: a real server, `sdrlink provide` and `sdrlink request` processes,
 * files on disk, WebRTC through node-datachannel. Faults are injected through the provider's
 * SDRLINK_FAULT_* variables (src/cli/provide.ts).
 */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createTransferFixture,
  runRequestProcess,
  sha256Of,
  startProviderProcess,
  type ProviderProcess,
  type TransferFixture,
} from '../helpers/agents.js';
import type { ServerProcess } from '../helpers/server.js';

/** 8 MB of IQ: large enough for many 64 KiB frames, quick to make. */
const SIGNAL_8MB = {
  frequency: 100_000_000,
  center_frequency: 99_900_000,
  sample_rate: 1_000_000,
  duration: 1,
};
/** 64 MiB of IQ (8 Mi complex64 samples) plus the .npz framing. */
const SIGNAL_64MIB = {
  frequency: 100_000_000,
  center_frequency: 99_900_000,
  sample_rate: 1_048_576,
  duration: 8,
};

describe('transfers between real processes', () => {
  let fx: TransferFixture;
  let srv: ServerProcess;
  let providerToken: string;
  let consumerToken: string;
  const fresh = (name: string) => fx.fresh(name);
  const providers: ProviderProcess[] = [];
  const provider = async (env?: Record<string, string>, dataDir?: string) => {
    const p = await startProviderProcess({
      url: srv.url,
      token: providerToken,
      dataDir: dataDir ?? (await fresh('pdata')),
      ...(env !== undefined ? { env } : {}),
    });
    providers.push(p);
    return p;
  };
  const stopProviders = async () => {
    await Promise.all(providers.splice(0).map((p) => p.stop()));
  };

  before(async () => {
    fx = await createTransferFixture({ provider: 'radio-1', consumer: 'alice' });
    ({ srv, providerToken, consumerToken } = fx);
  });
  after(async () => {
    await stopProviders();
    await fx?.close();
  });

  test('a small spectrum arrives verified, p2p, and its sha256 is the provider’s', async () => {
    const pdata = await fresh('pdata');
    await provider(undefined, pdata);
    try {
      const out = await fresh('out');
      const r = await runRequestProcess({
        url: srv.url,
        token: consumerToken,
        type: 'spectrum',
        params: { frequency_start: 100e6, frequency_end: 110e6, sample_rate: 2e6 },
        out,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.result['ok'], true);
      assert.equal(r.result['verified'], true);
      assert.equal(r.result['transport'], 'p2p');
      // Loopback: host candidates (the provider's seen first in its checks, so peer-reflexive to the
      // consumer, see webrtc.ts "holds its candidates"); the summary says "direct", not "p2p".
      assert.match(String(r.result['network_path']), /^(host|prflx)-(host|prflx)\/udp$/);
      assert.equal(r.result['route'], 'direct');
      const path = r.result['path'] as string;
      assert.equal(path, join(out, 'spectrum_100000000_110000000_2000000.npz'));
      assert.equal(await sha256Of(path), r.result['sha256']);
      assert.equal((await stat(path)).size, r.result['size']);
      // The same bytes as the provider's cached file.
      const cacheDirs = await readdir(join(pdata, 'cache'));
      assert.equal(cacheDirs.length, 1);
      assert.equal(
        await sha256Of(
          join(pdata, 'cache', cacheDirs[0] as string, 'spectrum_100000000_110000000_2000000.npz'),
        ),
        r.result['sha256'],
      );
      assert.deepEqual(
        await readdir(out),
        ['spectrum_100000000_110000000_2000000.npz'],
        'no partial files left behind',
      );
    } finally {
      await stopProviders();
    }
  });

  test('64 MiB arrives whole and verified', async () => {
    await provider();
    try {
      const out = await fresh('out');
      const r = await runRequestProcess({
        url: srv.url,
        token: consumerToken,
        type: 'signal',
        params: SIGNAL_64MIB,
        out,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.ok((r.result['size'] as number) > 64 * 1024 * 1024);
      assert.equal(await sha256Of(r.result['path'] as string), r.result['sha256']);
      assert.equal(r.result['verified'], true);
    } finally {
      await stopProviders();
    }
  });

  test('a corrupted chunk is caught: no file is saved; asking again resumes and ends with the right sha256', async () => {
    const p = await provider({ SDRLINK_FAULT_CORRUPT_FRAME: '40' });
    try {
      const out = await fresh('out');
      const bad = await runRequestProcess({
        url: srv.url,
        token: consumerToken,
        type: 'signal',
        params: SIGNAL_8MB,
        out,
        args: ['--transport', 'p2p'],
      });
      assert.notEqual(bad.code, 0);
      assert.equal(bad.result['ok'], false);
      assert.equal(bad.result['code'], 'ERR_FRAME_CRC', JSON.stringify(bad.result));
      const left = await readdir(out);
      assert.ok(!left.some((f) => !f.startsWith('.')), `no final file: ${left.join(', ')}`);
      await p.waitFor((e) => e['event'] === 'failed');

      const good = await runRequestProcess({
        url: srv.url,
        token: consumerToken,
        type: 'signal',
        params: SIGNAL_8MB,
        out,
      });
      assert.equal(good.code, 0, good.stderr);
      assert.ok((good.result['resumed_from'] as number) > 0, 'resumed from the verified prefix');
      assert.equal(await sha256Of(good.result['path'] as string), good.result['sha256']);
      assert.deepEqual(
        (await readdir(out)).filter((f) => f.startsWith('.')),
        [],
        'partial files removed',
      );
    } finally {
      await stopProviders();
    }
  });

  test('a provider killed mid-transfer leaves no final file; a second request resumes and verifies', async () => {
    const pdata = await fresh('pdata');
    const p = await provider({ SDRLINK_FAULT_KILL_AFTER: String(24 * 1024 * 1024) }, pdata);
    const out = await fresh('out');
    const first = await runRequestProcess({
      url: srv.url,
      token: consumerToken,
      type: 'signal',
      params: SIGNAL_64MIB,
      out,
      args: ['--transport', 'p2p', '--idle-timeout', '3000'],
    });
    assert.notEqual(first.code, 0);
    assert.match(String(first.result['code']), /ERR_TIMEOUT|ERR_CHANNEL_CLOSED/);
    assert.equal(await p.exited, 'SIGKILL');
    const left = await readdir(out);
    assert.ok(!left.some((f) => !f.startsWith('.')), `no final file: ${left.join(', ')}`);
    // kept in the consumer's private folder (docs/protocol.md §4)
    const part = (await readdir(join(out, '.sdrlink-partial'))).find((f) => f.endsWith('.part'));
    assert.ok(part !== undefined, 'the verified prefix is kept');
    assert.ok((await stat(join(out, '.sdrlink-partial', part))).size >= 16 * 1024 * 1024);

    await provider(undefined, pdata); // restarted on the same data folder
    try {
      const second = await runRequestProcess({
        url: srv.url,
        token: consumerToken,
        type: 'signal',
        params: SIGNAL_64MIB,
        out,
      });
      assert.equal(second.code, 0, second.stderr);
      assert.ok(
        (second.result['resumed_from'] as number) >= 16 * 1024 * 1024,
        `resumed_from ${String(second.result['resumed_from'])}`,
      );
      assert.ok((second.result['bytes_received'] as number) < (second.result['size'] as number));
      assert.equal(await sha256Of(second.result['path'] as string), second.result['sha256']);
    } finally {
      await stopProviders();
    }
  });

  test('two consumers at once both get their files', async () => {
    await provider();
    try {
      const [a, b] = await Promise.all([
        runRequestProcess({
          url: srv.url,
          token: consumerToken,
          type: 'signal',
          params: SIGNAL_8MB,
          out: await fresh('out'),
        }),
        runRequestProcess({
          url: srv.url,
          token: consumerToken,
          type: 'spectrum',
          params: { frequency_start: 400e6, frequency_end: 420e6, sample_rate: 2.4e6 },
          out: await fresh('out'),
        }),
      ]);
      for (const r of [a, b]) {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await sha256Of(r.result['path'] as string), r.result['sha256']);
      }
    } finally {
      await stopProviders();
    }
  });

  test('hostile file names from a provider are refused and nothing is written outside the folder', async () => {
    const names = ['../escape.npz', 'sub/dir.npz', '.hidden.npz', 'evil..npz', 'bell\u0007.npz'];
    await provider({ SDRLINK_FAULT_FILE_NAMES: JSON.stringify(names) });
    try {
      const parent = await fresh('hostile');
      const out = join(parent, 'out');
      for (const name of names) {
        const r = await runRequestProcess({
          url: srv.url,
          token: consumerToken,
          type: 'spectrum',
          params: { frequency_start: 100e6, frequency_end: 101e6, sample_rate: 1e6 },
          out,
        });
        assert.notEqual(r.code, 0, `refused ${JSON.stringify(name)}`);
        assert.equal(r.result['code'], 'ERR_FILENAME', JSON.stringify(r.result));
      }
      assert.deepEqual(await readdir(out), []);
      assert.deepEqual(await readdir(parent), ['out']);
    } finally {
      await stopProviders();
    }
  });

  test('a request out of every catalog’s range fails at once with a clear error; the provider keeps running', async () => {
    const p = await provider();
    try {
      const out = await fresh('out');
      const r = await runRequestProcess({
        url: srv.url,
        token: consumerToken,
        type: 'signal',
        params: { frequency: 100e6, sample_rate: 1e6, duration: -1 },
        out,
      });
      assert.notEqual(r.code, 0);
      // the provider's catalog says duration > 0: nobody online can serve it (docs/api.md §12)
      assert.equal(r.result['code'], 'ERR_NO_PROVIDER');
      assert.match(String(r.result['message']), /parameters\.duration: must be above 0 seconds, got -1/);
      const ok = await runRequestProcess({
        url: srv.url,
        token: consumerToken,
        type: 'signal',
        params: SIGNAL_8MB,
        out,
      });
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(p.proc.exitCode, null);
    } finally {
      await stopProviders();
    }
  });
});
