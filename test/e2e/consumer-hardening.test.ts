/**
 * Issue 16, the consumer's classes 2, 3 and 4: a real `sdrlink request` process against a real server and a
 * hostile provider — test/helpers/seed-peers.ts's seed-shaped Type1 on node-datachannel, whose `serve`
 * script speaks the real data-channel protocol (docs/protocol.md) but lies: the seed's unverified format
 * to a consumer that declared sdrlink/1, a size over the limit or the free space, more bytes than it
 * announced, a file name with a bidirectional override, a disk filled under the transfer. Each attack is
 * refused with its documented code (docs/errors.md), the hostile peer hears that code, and nothing is left
 * in the final place (or, for a full disk, the verified prefix is kept and the next request resumes).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crc32 } from '../../src/agents/files.js';
import { encodeFrame } from '../../src/protocol/frames.js';
import { runRequestProcess, type RequestOutcome } from '../helpers/agents.js';
import { cleanupSeedPeers, runSeedProvider, type Dc } from '../helpers/seed-peers.js';
import { api, registerUser, runCli, startServerProcess, type ServerProcess } from '../helpers/server.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SPECTRUM = { frequency_start: 100000000, frequency_end: 200000000, sample_rate: 1000000 };
const CHUNK = 65472;
const PARTIAL_DIR = '.sdrlink-partial';

/** What the consumer said to the hostile peer (its control messages), collected without ever throwing. */
function listen(dc: Dc) {
  const said: Array<Record<string, unknown>> = [];
  dc.onmessage = (m) => {
    if (typeof m.data !== 'string') return;
    try {
      said.push(JSON.parse(m.data) as Record<string, unknown>);
    } catch {
      // not ours to judge here
    }
  };
  return {
    said,
    /** The first message of `type` (or an `error`), or undefined after `ms`. */
    async next(type: string, ms = 15_000): Promise<Record<string, unknown> | undefined> {
      const until = Date.now() + ms;
      let closedAt = 0;
      for (;;) {
        const hit = said.find((m) => m['type'] === type || m['type'] === 'error');
        if (hit !== undefined || Date.now() > until) return hit;
        // node-datachannel may raise the close before the message that preceded it (docs/protocol.md §3.6)
        if (dc.readyState !== 'open') {
          closedAt ||= Date.now();
          if (Date.now() - closedAt > 300) return undefined;
        }
        await sleep(10);
      }
    },
  };
}

/** Sends when the channel is still open (the consumer may have closed it: that is the point). */
function send(dc: Dc, data: string | Uint8Array): boolean {
  if (dc.readyState !== 'open') return false;
  try {
    dc.send(data);
    return true;
  } catch {
    return false;
  }
}

interface SenderLog {
  /** The consumer's `error` message, if it sent one. */
  error?: Record<string, unknown>;
  /** Where the transfer started (the consumer's resume offset, when the prefix checked out). */
  start?: number;
  acked?: boolean;
}

/**
 * A provider speaking sdrlink/1 (§3) that announces `size` (default: the data's) and `filename`, honours a
 * resume whose prefix hash matches, sends `data` as frames (pausing once at `pauseAt` until `resume`
 * settles), then `file-complete`.
 */
function sdrlinkSender(
  data: Uint8Array,
  log: SenderLog,
  o: {
    filename?: string;
    size?: number;
    pauseAt?: number;
    onPause?: () => void;
    resume?: Promise<void>;
  } = {},
) {
  return async (dc: Dc) => {
    const box = listen(dc);
    send(
      dc,
      JSON.stringify({
        type: 'file-metadata',
        filename: o.filename ?? 'spectrum_hostile.npz',
        size: o.size ?? data.length,
        protocol: 'sdrlink/1',
        sha256: sha(data),
        chunk_size: CHUNK,
      }),
    );
    const resume = await box.next('resume');
    if (resume?.['type'] !== 'resume') {
      if (resume !== undefined) log.error = resume;
      return;
    }
    const offered = Number(resume['offset']);
    const start = offered > 0 && resume['prefix_sha256'] === sha(data.subarray(0, offered)) ? offered : 0;
    log.start = start;
    send(dc, JSON.stringify({ type: 'start', offset: start }));
    let frames = 0;
    let paused = false;
    for (let at = start; at < data.length; at += CHUNK) {
      if (o.pauseAt !== undefined && !paused && at >= o.pauseAt) {
        paused = true;
        o.onPause?.();
        await o.resume;
      }
      while (dc.readyState === 'open' && dc.bufferedAmount > 1 << 20) await sleep(2);
      if (!send(dc, encodeFrame(at, data.subarray(at, at + CHUNK), crc32))) break;
      frames++;
    }
    send(dc, JSON.stringify({ type: 'file-complete', size: data.length, sha256: sha(data), frames }));
    const end = await box.next('ack');
    if (end?.['type'] === 'error') log.error = end;
    log.acked = end?.['type'] === 'ack';
  };
}

describe('the consumer against a hostile provider (issue 16, classes 2–4)', () => {
  let srv: ServerProcess;
  let dir: string;
  let users = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-hostile-'));
    srv = await startServerProcess();
  });
  after(async () => {
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
    cleanupSeedPeers();
  });
  const user = async (type: 1 | 2) =>
    (
      await registerUser(srv.url, {
        username: `hostile${++users}`,
        password: 'password-123',
        client_type: type,
      })
    ).token;

  /** One request by a real `sdrlink request` process, served by the hostile provider's `serve`. */
  async function attack(
    serve: ((dc: Dc) => Promise<void>) | undefined,
    o: { args?: string[]; out?: string; payload?: Uint8Array } = {},
  ): Promise<{ r: RequestOutcome; out: string; consumer: string }> {
    const seedToken = await user(1);
    // online before the request, so the request is offered to it (docs/api.md §12)
    await api(srv.url, seedToken, 'GET', '/api/ice/sessions');
    const consumer = await user(2);
    const out = o.out ?? (await mkdtemp(join(dir, 'out-')));
    const request = runRequestProcess({
      url: srv.url,
      token: consumer,
      type: 'spectrum',
      params: SPECTRUM,
      out,
      args: ['--transport', 'p2p', '--idle-timeout', '10000', ...(o.args ?? [])],
    });
    await runSeedProvider({
      url: srv.url,
      token: seedToken,
      payload: o.payload ?? new Uint8Array(0),
      waitForClose: true,
      candidateForm: 'standard',
      deadlineMs: 40_000,
      ...(serve === undefined ? {} : { serve }),
    });
    return { r: await request, out, consumer };
  }

  async function transferRow(token: string): Promise<Record<string, unknown>> {
    const rows = (await api(srv.url, token, 'GET', '/api/transfers')).body as Array<Record<string, unknown>>;
    assert.equal(rows.length, 1, JSON.stringify(rows));
    return rows[0] as Record<string, unknown>;
  }

  test('class 2: the seed’s unverified format is refused by default (ERR_UNVERIFIED), nothing saved', async () => {
    const payload = randomBytes(300_000);
    const { r, out, consumer } = await attack(undefined, { payload });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.result['code'], 'ERR_UNVERIFIED', JSON.stringify(r.result));
    assert.match(String(r.result['message']), /--allow-unverified/);
    assert.deepEqual(await readdir(out), [], 'nothing in the folder: no final file, no partial');
    const row = await transferRow(consumer);
    assert.equal(row['status'], 'failed');
    assert.equal(row['error_code'], 'ERR_UNVERIFIED');
    assert.equal(row['failed_side'], 'provider');
  });

  test('class 2: with --allow-unverified it is saved, and the result, summary and history say "unverified"', async () => {
    const payload = randomBytes(300_000);
    const { r, consumer } = await attack(undefined, { payload, args: ['--allow-unverified'] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.result['verified'], false);
    assert.match(String(r.result['warning']), /^unverified: /);
    assert.deepEqual(await readFile(r.result['path'] as string), payload);
    const row = await transferRow(consumer);
    assert.equal(row['status'], 'completed');
    assert.equal(row['verified'], false, 'the transfer report says unverified');
    const history = await runCli(['history', '--server', srv.url, '--token', consumer]);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /completed .* unverified \(the provider sent no checksum\)/);
  });

  test('class 3: an announced size over --max-size (default 16G) is refused before any byte (ERR_TOO_LARGE)', async () => {
    for (const [args, size] of [
      [[], 20 * 1024 ** 3],
      [['--max-size', '1M'], 2 * 1024 ** 2],
    ] as const) {
      const log: SenderLog = {};
      const data = randomBytes(100_000);
      const { r, out } = await attack(sdrlinkSender(data, log, { size }), { args: [...args] });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.result['code'], 'ERR_TOO_LARGE', JSON.stringify(r.result));
      assert.equal(log.error?.['code'], 'ERR_TOO_LARGE', 'the hostile peer was told');
      assert.equal(log.start, undefined, 'no resume was ever sent: nothing was opened');
      assert.deepEqual(await readdir(out), []);
    }
  });

  test('class 3: an announced size over the free space of --out is refused before any byte (ERR_DISK_FULL)', async () => {
    const log: SenderLog = {};
    // under the limit (raised to 8000 TiB) but above any disk here
    const { r, out } = await attack(sdrlinkSender(randomBytes(1000), log, { size: 8000 * 1024 ** 4 }), {
      args: ['--max-size', '8000T'],
    });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.result['code'], 'ERR_DISK_FULL', JSON.stringify(r.result));
    assert.equal(log.error?.['code'], 'ERR_DISK_FULL');
    assert.deepEqual(await readdir(out), []);
  });

  test('class 3: a provider that sends more than it announced is stopped at once (ERR_SIZE_MISMATCH), its partial file dropped', async () => {
    const log: SenderLog = {};
    const data = randomBytes(200_000);
    const { r, out } = await attack(sdrlinkSender(data, log, { size: data.length - 1000 }));
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.result['code'], 'ERR_SIZE_MISMATCH', JSON.stringify(r.result));
    assert.equal(log.error?.['code'], 'ERR_SIZE_MISMATCH');
    assert.notEqual(log.acked, true);
    assert.deepEqual(await readdir(out), [], 'no final file, and no partial kept');
  });

  test('class 4: a file name with a bidirectional override is refused (ERR_FILENAME); a 255-byte name is saved', async () => {
    const data = randomBytes(50_000);
    for (const filename of ['invoice\u202Egpj.exe', 'zero\u200Bwidth.npz', `${'n'.repeat(252)}.npzx`]) {
      const log: SenderLog = {};
      const { r, out } = await attack(sdrlinkSender(data, log, { filename }));
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.result['code'],
        'ERR_FILENAME',
        `${JSON.stringify(filename)}: ${JSON.stringify(r.result)}`,
      );
      assert.equal(log.error?.['code'], 'ERR_FILENAME');
      assert.deepEqual(await readdir(out), []);
    }
    const log: SenderLog = {};
    const long = `${'n'.repeat(251)}.npz`;
    const { r, out } = await attack(sdrlinkSender(data, log, { filename: long }));
    assert.equal(r.code, 0, `${JSON.stringify(r.result)} ${r.stderr}`);
    assert.equal(r.result['verified'], true);
    assert.deepEqual(await readdir(out), [long]);
    assert.equal(sha(await readFile(join(out, long))), sha(data));
  });

  test('class 4: a disk that fills mid-transfer (ENOSPC): ERR_DISK_FULL, the verified prefix kept, nothing final; the next request resumes', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to mount a small tmpfs (mount -t tmpfs -o size=2m)');
      return;
    }
    const mnt = await mkdtemp(join(tmpdir(), 'sdrlink-tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (err) {
      await rm(mnt, { recursive: true, force: true });
      t.skip(`cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0] ?? ''}`);
      return;
    }
    try {
      const out = join(mnt, 'out');
      await mkdir(out);
      const data = randomBytes(1_500_000);
      const filler = join(mnt, 'filler');
      let release = () => undefined as void;
      const resume = new Promise<void>((r) => (release = r));
      const log: SenderLog = {};
      const first = attack(
        sdrlinkSender(data, log, {
          pauseAt: 1_300_000,
          resume,
          onPause: () => {
            // Once a write batch (1 MiB) is on disk, fill what is left of the file system, then go on.
            void (async () => {
              for (let i = 0; i < 1000; i++) {
                const parts = await readdir(join(out, PARTIAL_DIR)).catch(() => [] as string[]);
                const part = parts.find((f) => f.endsWith('.part'));
                if (part !== undefined && (await stat(join(out, PARTIAL_DIR, part))).size >= 1 << 20) break;
                await sleep(10);
              }
              const fd = openSync(filler, 'w');
              const block = Buffer.alloc(4096, 1);
              try {
                for (;;) writeSync(fd, block);
              } catch {
                // ENOSPC: the file system is full
              } finally {
                closeSync(fd);
              }
              release();
            })();
          },
        }),
        { out },
      );
      const { r, consumer } = await first;
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.result['code'], 'ERR_DISK_FULL', JSON.stringify(r.result));
      const row = await transferRow(consumer);
      assert.equal(row['error_code'], 'ERR_DISK_FULL');
      assert.equal(row['failed_side'], 'consumer', 'recorded as the consumer’s failure, not the provider’s');
      assert.equal(log.error?.['code'], 'ERR_DISK_FULL', 'the provider was told why');
      assert.deepEqual(await readdir(out), [PARTIAL_DIR], 'nothing in the final place');
      const kept = await readdir(join(out, PARTIAL_DIR));
      const part = kept.find((f) => f.endsWith('.part')) as string;
      const sidecar = kept.find((f) => f.endsWith('.json')) as string;
      assert.ok(part !== undefined && sidecar !== undefined, `partial and sidecar kept: ${kept.join(', ')}`);
      const verified = (
        JSON.parse(await readFile(join(out, PARTIAL_DIR, sidecar), 'utf8')) as { verified_bytes: number }
      ).verified_bytes;
      assert.ok(verified >= 1 << 20, `the verified prefix is recorded (${verified} bytes)`);
      const prefix = await readFile(join(out, PARTIAL_DIR, part));
      assert.equal(prefix.length, verified);
      assert.ok(prefix.equals(data.subarray(0, verified)), 'the kept bytes are the file’s first bytes');

      // Space again: the same file is asked for, and the transfer resumes from the kept prefix.
      await unlink(filler);
      const log2: SenderLog = {};
      const { r: again } = await attack(sdrlinkSender(data, log2), { out });
      assert.equal(again.code, 0, `${JSON.stringify(again.result)} ${again.stderr}`);
      assert.equal(log2.start, verified, 'the sender was asked for the rest only');
      assert.equal(again.result['resumed_from'], verified);
      assert.equal(again.result['sha256'], sha(data));
      assert.deepEqual(await readdir(out), ['spectrum_hostile.npz'], 'the private folder is gone');
    } finally {
      execFileSync('umount', [mnt], { stdio: 'pipe' });
      await rm(mnt, { recursive: true, force: true });
    }
  });
});
