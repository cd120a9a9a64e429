/**
 * sendFile ↔ receiveFile over the in-memory channel pair (test/helpers/channel-pair.ts): whole transfers,
 * every frame error, resume, flow control with a broken `bufferedamountlow`, peer errors, abort, idle
 * timeout, and both seed directions. Timers that would make a test wait are mocked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import {
  MemoryDisk,
  createChannelPair,
  createMemorySource,
  memoryPrefixSha256,
  nodeCrc32,
  nodeSha256,
  pseudoRandomBytes,
  sha256Hex,
} from '../../test/helpers/channel-pair.js';
import type { ChannelPairOptions, PairMessage } from '../../test/helpers/channel-pair.js';
import type { Channel } from './channel.js';
import { TransferError } from './errors.js';
import { DEFAULT_CHUNK_BYTES, FRAME_HEADER_BYTES, SEED_CHUNK_BYTES, writeFrameHeader } from './frames.js';
import { receiveFile } from './receiver.js';
import type { FileMetadata, ReceiveOptions } from './receiver.js';
import { sendFile } from './sender.js';
import { CLOSE_SETTLE_MS } from './session.js';
import type { SendOptions } from './sender.js';

type Hook = NonNullable<ChannelPairOptions['corrupt']>;

type Outcome<T> = { ok: true; value: T } | { ok: false; error: TransferError };

async function outcome<T>(p: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await p };
  } catch (err) {
    assert.ok(err instanceof TransferError, `expected a TransferError, got ${String(err)}`);
    return { ok: false, error: err };
  }
}

function sendOpts(data: Uint8Array, over: Partial<SendOptions> = {}): SendOptions {
  return {
    filename: 'capture.npz',
    source: createMemorySource(data),
    sha256: sha256Hex(data),
    mode: 'sdrlink',
    crc32: nodeCrc32,
    prefixSha256: memoryPrefixSha256(data),
    ...over,
  };
}

function recvOpts(disk: MemoryDisk, over: Partial<ReceiveOptions> = {}): ReceiveOptions {
  return { crc32: nodeCrc32, createHash: nodeSha256, open: disk.open, ...over };
}

async function transfer(
  data: Uint8Array,
  disk: MemoryDisk,
  pairOpts: ChannelPairOptions = {},
  sOver: Partial<SendOptions> = {},
  rOver: Partial<ReceiveOptions> = {},
) {
  const pair = createChannelPair(pairOpts);
  const [sent, received] = await Promise.all([
    outcome(sendFile(pair.a, sendOpts(data, sOver))),
    outcome(receiveFile(pair.b, recvOpts(disk, rOver))),
  ]);
  return { pair, sent, received };
}

function ok<T>(o: Outcome<T>): T {
  if (!o.ok) assert.fail(`transfer failed: ${o.error.code}: ${o.error.message}`);
  return o.value;
}

function failed<T>(o: Outcome<T>, code: string, peerCode?: string): TransferError {
  assert.equal(o.ok, false, `expected ${code}, but it succeeded`);
  const e = (o as { error: TransferError }).error;
  assert.equal(e.code, code, e.message);
  if (peerCode !== undefined) assert.equal(e.peerCode, peerCode, e.message);
  return e;
}

/** Runs `p` to its end while advancing mocked timers by `stepMs`; fails if it takes more than `maxSteps`. */
async function drive<T>(
  t: TestContext,
  p: Promise<T>,
  stepMs: number,
  maxSteps = 5000,
): Promise<{ value: T; steps: number }> {
  let done = false;
  const watched = p.finally(() => {
    done = true;
  });
  let steps = 0;
  for (;;) {
    for (let i = 0; i < 4 && !done; i++) await new Promise((r) => setImmediate(r));
    if (done) break;
    assert.ok(++steps <= maxSteps, `still running after ${maxSteps} steps of ${stepMs} ms`);
    t.mock.timers.tick(stepMs);
  }
  return { value: await watched, steps };
}

/** A hook for `corrupt` that applies `fn` to the n-th binary message from the sender (from 0). */
function onBinary(n: number, fn: (m: Uint8Array) => PairMessage | undefined): Hook {
  let seen = 0;
  return (msg, _index, from) => {
    if (from !== 'a' || typeof msg === 'string') return msg;
    return seen++ === n ? fn(msg) : msg;
  };
}

/** A hook for `corrupt` that rewrites text messages of one type going one way. */
function onText(from: 'a' | 'b', type: string, fn: (m: Record<string, unknown>) => string | undefined): Hook {
  return (msg, _index, dir) => {
    if (dir !== from || typeof msg !== 'string') return msg;
    const o = JSON.parse(msg) as Record<string, unknown>;
    return o['type'] === type ? fn(o) : msg;
  };
}

describe('the in-memory channel pair', () => {
  it('opens both ends, delivers in order as ArrayBuffer copies, drains bufferedAmount and fires the low event', async () => {
    const { a, b } = createChannelPair({ drainBytesPerTick: 1000 });
    await new Promise<void>((resolve) => {
      a.onopen = () => resolve();
    });
    assert.equal(b.readyState, 'open');
    const got: unknown[] = [];
    b.onmessage = (ev) => got.push(ev.data);
    const buf = new Uint8Array([1, 2, 3, 4]);
    a.bufferedAmountLowThreshold = 500;
    a.send('héllo');
    a.send(buf.subarray(1, 3));
    buf[1] = 99;
    a.send(new Uint8Array(1200));
    assert.equal(a.bufferedAmount, 6 + 2 + 1200);
    let lows = 0;
    a.onbufferedamountlow = () => lows++;
    while (got.length < 3) await new Promise((r) => setImmediate(r));
    assert.equal(got[0], 'héllo');
    assert.ok(got[1] instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(got[1] as ArrayBuffer)], [2, 3]);
    assert.equal((got[2] as ArrayBuffer).byteLength, 1200);
    assert.equal(a.bufferedAmount, 0);
    assert.equal(lows, 1);
    let closes = 0;
    a.onclose = () => closes++;
    b.onclose = () => closes++;
    a.close();
    while (closes < 2) await new Promise((r) => setImmediate(r));
    assert.equal(a.readyState, 'closed');
    assert.equal(b.readyState, 'closed');
    assert.throws(() => a.send('late'), /InvalidStateError/);
  });

  it('refuses sends past maxBuffered', async () => {
    const { a } = createChannelPair({ maxBuffered: 10 });
    await new Promise<void>((resolve) => {
      a.onopen = () => resolve();
    });
    a.send(new Uint8Array(10));
    assert.throws(() => a.send(new Uint8Array(1)), /buffer full/);
  });
});

describe('sendFile → receiveFile (sdrlink/1)', () => {
  const chunk = DEFAULT_CHUNK_BYTES;
  const sizes: [string, number][] = [
    ['0 bytes', 0],
    ['1 byte', 1],
    ['exactly one chunk', chunk],
    ['one chunk + 1', chunk + 1],
    ['several MiB, not a multiple of anything', 5 * 1024 * 1024 + 12345],
  ];
  for (const [name, size] of sizes) {
    it(`moves ${name} intact under flow control`, async () => {
      const data = pseudoRandomBytes(size, size + 7);
      const disk = new MemoryDisk();
      const high = 1024 * 1024;
      const sendProgress: number[] = [];
      const recvProgress: number[] = [];
      const { pair, sent, received } = await transfer(
        data,
        disk,
        // The pair throws if the sender goes past highWater by more than one frame.
        { drainBytesPerTick: 256 * 1024, maxBuffered: high + FRAME_HEADER_BYTES + chunk + 4096 },
        { highWater: high, lowWater: 256 * 1024, onProgress: (p) => sendProgress.push(p.sent) },
        { onProgress: (p) => recvProgress.push(p.received) },
      );
      const s = ok(sent);
      const r = ok(received);
      assert.deepEqual(s, { startOffset: 0, bytesSent: size, frames: Math.ceil(size / chunk), acked: true });
      assert.deepEqual(r, {
        path: '/memory/capture.npz',
        size,
        sha256: sha256Hex(data),
        verified: true,
        startOffset: 0,
        mode: 'sdrlink',
      });
      const file = disk.files.get('capture.npz');
      assert.ok(file);
      assert.equal(Buffer.compare(file, data), 0);
      assert.deepEqual(disk.commits, [{ size, sha256: sha256Hex(data), verified: true }]);
      assert.ok(pair.a.maxBufferedSeen <= high + FRAME_HEADER_BYTES + chunk + 1024);
      // Writes are coalesced into 1 MiB batches (the last one shorter).
      for (const [i, w] of disk.writes.entries())
        if (i < disk.writes.length - 1) assert.equal(w, 1024 * 1024);
      assert.equal(
        disk.writes.reduce((x, y) => x + y, 0),
        size,
      );
      for (const p of [sendProgress, recvProgress]) {
        assert.deepEqual(
          p,
          [...p].sort((x, y) => x - y),
          'progress never goes back',
        );
        assert.equal(p.at(-1), size);
      }
    });
  }

  it('reads the file in ~1 MiB blocks, not per frame', async () => {
    const data = pseudoRandomBytes(3 * 1024 * 1024, 3);
    const source = createMemorySource(data);
    const disk = new MemoryDisk();
    const { sent } = await transfer(data, disk, {}, { source });
    ok(sent);
    const block = Math.floor((1024 * 1024) / chunk) * chunk;
    assert.equal(source.reads, Math.ceil(data.length / block));
  });

  it('restores the channel handlers it replaced and sends nothing after the end', async () => {
    const data = pseudoRandomBytes(100_000, 5);
    const pair = createChannelPair();
    const mine = {
      onmessage: () => undefined,
      onclose: () => undefined,
      onerror: () => undefined,
      onbufferedamountlow: () => undefined,
    };
    Object.assign(pair.a, mine);
    Object.assign(pair.b, mine);
    pair.a.bufferedAmountLowThreshold = 123;
    let opened = 0;
    pair.a.onopen = () => opened++;
    const disk = new MemoryDisk();
    await Promise.all([sendFile(pair.a, sendOpts(data)), receiveFile(pair.b, recvOpts(disk))]);
    assert.equal(opened, 1, 'the previous onopen still ran');
    for (const ch of [pair.a, pair.b] as Channel[]) {
      assert.equal(ch.onmessage, mine.onmessage);
      assert.equal(ch.onclose, mine.onclose);
      assert.equal(ch.onerror, mine.onerror);
      assert.equal(ch.onbufferedamountlow, mine.onbufferedamountlow);
    }
    assert.equal(pair.a.bufferedAmountLowThreshold, 123);
    const before = pair.messages;
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    assert.equal(pair.messages, before);
  });

  it('keeps pumping when bufferedamountlow never fires (the poll guard, §6)', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const data = pseudoRandomBytes(2 * 1024 * 1024 + 99, 11);
    const disk = new MemoryDisk();
    const pair = createChannelPair({ lowEventBroken: true, drainBytesPerTick: 128 * 1024 });
    const both = Promise.all([
      sendFile(pair.a, sendOpts(data, { highWater: 256 * 1024, lowWater: 64 * 1024, pollMs: 20 })),
      receiveFile(pair.b, recvOpts(disk)),
    ]);
    // Without the timer the sender is stuck above high water: nothing fires the event.
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    const stuckAt = pair.messages;
    assert.equal(pair.a.bufferedAmount, 0, 'the pair drained everything it was given');
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    assert.equal(pair.messages, stuckAt, 'no progress without the poll timer');
    const { value, steps } = await drive(t, both, 20);
    assert.ok(steps > 1);
    assert.equal(value[1].sha256, sha256Hex(data));
    assert.equal(pair.a.lowEvents, 0);
    assert.equal(Buffer.compare(disk.files.get('capture.npz') ?? new Uint8Array(0), data), 0);
  });

  it('does not wait for an event after a burst that never crossed the threshold', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    // The whole file fits under high water: the pump never waits, the seed-mode drain wait ends on the poll.
    const data = pseudoRandomBytes(200_000, 12);
    const pair = createChannelPair({ lowEventBroken: true });
    const disk = new MemoryDisk();
    const { value } = await drive(
      t,
      Promise.all([
        sendFile(pair.a, sendOpts(data, { mode: 'seed' })),
        receiveFile(pair.b, recvOpts(disk, { seedCompleteWaitMs: 100 })),
      ]),
      20,
    );
    assert.equal(value[0].acked, false);
    assert.equal(value[1].verified, true);
  });
});

describe('frame errors (docs/protocol.md §2, §5)', () => {
  const chunk = 1000;
  const data = pseudoRandomBytes(10_500, 21);
  const reframe = (m: Uint8Array, extra: number): Uint8Array => {
    // A valid frame with `extra` more payload bytes (correct CRC), to hit the size/offset checks.
    const out = new Uint8Array(m.length + extra);
    out.set(m);
    const offset = Number(Buffer.from(m).readBigUInt64BE(4));
    writeFrameHeader(out, offset, nodeCrc32(out.subarray(FRAME_HEADER_BYTES)));
    return out;
  };
  const cases: [string, number, (m: Uint8Array) => Uint8Array, string][] = [
    ['header only', 2, (m) => m.slice(0, FRAME_HEADER_BYTES), 'ERR_FRAME_SHORT'],
    ['kind 0x02', 2, (m) => ((m[0] = 2), m), 'ERR_FRAME_KIND'],
    ['reserved byte set', 2, (m) => ((m[2] = 1), m), 'ERR_FRAME_RESERVED'],
    ['offset + 1', 2, (m) => ((m[11] = (m[11] ?? 0) + 1), m), 'ERR_FRAME_OFFSET'],
    ['payload over chunk_size', 2, (m) => reframe(m, 1), 'ERR_FRAME_SIZE'],
    [
      'payload byte flipped',
      2,
      (m) => ((m[FRAME_HEADER_BYTES + 7] = (m[FRAME_HEADER_BYTES + 7] ?? 0) ^ 0x40), m),
      'ERR_FRAME_CRC',
    ],
  ];
  for (const [name, n, fn, code] of cases) {
    it(`${name} in frame ${n} → ${code}; the verified prefix is kept, the sender hears it`, async () => {
      const disk = new MemoryDisk();
      const { sent, received } = await transfer(
        data,
        disk,
        { corrupt: onBinary(n, fn) },
        { chunkSize: chunk },
      );
      failed(received, code);
      failed(sent, 'ERR_PEER', code);
      assert.deepEqual(disk.aborts, [{ code, keepPrefix: true }]);
      assert.equal(disk.partLength, n * chunk, 'exactly the frames before the bad one');
      assert.equal(Buffer.compare(disk.part.subarray(0, disk.partLength), data.subarray(0, n * chunk)), 0);
      assert.equal(disk.files.size, 0);
    });
  }

  it('a corrupted chunk, then a second attempt that resumes after the verified prefix', async () => {
    const big = pseudoRandomBytes(3 * 1024 * 1024 + 5, 22);
    const disk = new MemoryDisk();
    const first = await transfer(big, disk, {
      corrupt: onBinary(20, (m) => ((m[100] = (m[100] ?? 0) ^ 1), m)),
    });
    failed(first.received, 'ERR_FRAME_CRC');
    const e = failed(first.sent, 'ERR_PEER', 'ERR_FRAME_CRC');
    assert.match(e.peerMessage ?? '', /^frame at offset 1309440: crc32 0x[0-9a-f]{8} != 0x[0-9a-f]{8}$/);
    assert.equal(disk.partLength, 20 * DEFAULT_CHUNK_BYTES);

    const second = await transfer(big, disk);
    assert.deepEqual(ok(second.sent), {
      startOffset: 20 * DEFAULT_CHUNK_BYTES,
      bytesSent: big.length - 20 * DEFAULT_CHUNK_BYTES,
      frames: Math.ceil((big.length - 20 * DEFAULT_CHUNK_BYTES) / DEFAULT_CHUNK_BYTES),
      acked: true,
    });
    const r = ok(second.received);
    assert.equal(r.startOffset, 20 * DEFAULT_CHUNK_BYTES);
    assert.equal(r.sha256, sha256Hex(big));
    assert.equal(Buffer.compare(disk.files.get('capture.npz') ?? new Uint8Array(0), big), 0);
    assert.equal(disk.truncates, 0);
  });
});

describe('resume (docs/protocol.md §3.2, §3.3, §4)', () => {
  it('after the link is cut mid-file, the next attempt starts at the kept prefix', async () => {
    const data = pseudoRandomBytes(4 * 1024 * 1024 + 777, 31);
    let frames = 0;
    const disk2 = new MemoryDisk();
    const p = createChannelPair({
      drainBytesPerTick: 512 * 1024,
      corrupt: (msg, _i, from) => {
        if (from === 'a' && typeof msg !== 'string' && ++frames === 30) p.cut();
        return msg;
      },
    });
    const [s1, r1] = await Promise.all([
      outcome(sendFile(p.a, sendOpts(data))),
      outcome(receiveFile(p.b, recvOpts(disk2))),
    ]);
    failed(s1, 'ERR_CHANNEL_CLOSED');
    failed(r1, 'ERR_CHANNEL_CLOSED');
    assert.deepEqual(disk2.aborts, [{ code: 'ERR_CHANNEL_CLOSED', keepPrefix: true }]);
    const kept = disk2.partLength;
    // Frames that reached the receiver before the cut are all on disk, whole frames only.
    assert.ok(
      kept > 0 && kept <= 29 * DEFAULT_CHUNK_BYTES && kept % DEFAULT_CHUNK_BYTES === 0,
      `kept ${kept}`,
    );
    assert.equal(Buffer.compare(disk2.part.subarray(0, kept), data.subarray(0, kept)), 0);

    const second = await transfer(data, disk2);
    const s2 = ok(second.sent);
    const r2 = ok(second.received);
    assert.equal(s2.startOffset, kept);
    assert.equal(s2.bytesSent, data.length - kept);
    assert.equal(r2.startOffset, kept);
    assert.equal(r2.sha256, sha256Hex(data));
    assert.equal(Buffer.compare(disk2.files.get('capture.npz') ?? new Uint8Array(0), data), 0);
  });

  it('a prefix whose hash does not match makes the sender start at 0; the receiver drops it', async () => {
    const data = pseudoRandomBytes(300_000, 32);
    const disk = new MemoryDisk();
    disk.part = pseudoRandomBytes(100_000, 999);
    disk.partLength = 100_000;
    disk.partFileSha256 = sha256Hex(data);
    const { sent, received } = await transfer(data, disk);
    assert.equal(ok(sent).startOffset, 0);
    const r = ok(received);
    assert.equal(r.startOffset, 0);
    assert.equal(r.sha256, sha256Hex(data));
    assert.equal(disk.truncates, 1);
    assert.equal(Buffer.compare(disk.files.get('capture.npz') ?? new Uint8Array(0), data), 0);
  });

  it('a complete prefix (offset = size) needs no frames', async () => {
    const data = pseudoRandomBytes(70_000, 33);
    const disk = new MemoryDisk();
    disk.part = data.slice();
    disk.partLength = data.length;
    disk.partFileSha256 = sha256Hex(data);
    const { sent, received } = await transfer(data, disk);
    assert.deepEqual(ok(sent), { startOffset: data.length, bytesSent: 0, frames: 0, acked: true });
    assert.equal(ok(received).sha256, sha256Hex(data));
  });

  it('a resume offset beyond the size → ERR_RESUME_OFFSET at the sender', async () => {
    const data = pseudoRandomBytes(1000, 34);
    const disk = new MemoryDisk();
    const { sent, received } = await transfer(data, disk, {
      corrupt: onText('b', 'resume', () =>
        JSON.stringify({ type: 'resume', offset: 5000, prefix_sha256: 'ab'.repeat(32) }),
      ),
    });
    failed(sent, 'ERR_RESUME_OFFSET');
    failed(received, 'ERR_PEER', 'ERR_RESUME_OFFSET');
  });

  it('a start offset that is neither 0 nor the offered prefix → ERR_RESUME_OFFSET at the receiver', async () => {
    const data = pseudoRandomBytes(1000, 35);
    const disk = new MemoryDisk();
    const { sent, received } = await transfer(data, disk, {
      corrupt: onText('a', 'start', () => JSON.stringify({ type: 'start', offset: 10 })),
    });
    failed(received, 'ERR_RESUME_OFFSET');
    failed(sent, 'ERR_PEER', 'ERR_RESUME_OFFSET');
  });
});

describe('whole-file checks (docs/protocol.md §3.4, §3.5)', () => {
  it('a hash mismatch on complete refuses the file and discards the partial file', async () => {
    const data = pseudoRandomBytes(200_000, 41);
    const disk = new MemoryDisk();
    const { sent, received } = await transfer(
      data,
      disk,
      {},
      { sha256: sha256Hex(pseudoRandomBytes(200_000, 42)) },
    );
    failed(received, 'ERR_HASH_MISMATCH');
    failed(sent, 'ERR_PEER', 'ERR_HASH_MISMATCH');
    assert.deepEqual(disk.aborts, [{ code: 'ERR_HASH_MISMATCH', keepPrefix: false }]);
    assert.equal(disk.files.size, 0);
    assert.equal(disk.partLength, 0);
  });

  it('a file-complete with another sha256 than the metadata → ERR_HASH_MISMATCH', async () => {
    const data = pseudoRandomBytes(5000, 43);
    const { received } = await transfer(data, new MemoryDisk(), {
      corrupt: onText('a', 'file-complete', (o) => JSON.stringify({ ...o, sha256: 'cd'.repeat(32) })),
    });
    failed(received, 'ERR_HASH_MISMATCH');
  });

  it('a file-complete with another size → ERR_SIZE_MISMATCH', async () => {
    const data = pseudoRandomBytes(5000, 44);
    const { received, sent } = await transfer(data, new MemoryDisk(), {
      corrupt: onText('a', 'file-complete', (o) => JSON.stringify({ ...o, size: 5001 })),
    });
    failed(received, 'ERR_SIZE_MISMATCH');
    failed(sent, 'ERR_PEER', 'ERR_SIZE_MISMATCH');
  });

  it('a last frame running past the announced size → ERR_SIZE_MISMATCH at once, nothing kept', async () => {
    const data = pseudoRandomBytes(10_500, 22);
    const disk = new MemoryDisk();
    const { sent, received } = await transfer(
      data,
      disk,
      {
        corrupt: onBinary(10, (m) => {
          const out = new Uint8Array(m.length + 10);
          out.set(m);
          const offset = Number(Buffer.from(m).readBigUInt64BE(4));
          writeFrameHeader(out, offset, nodeCrc32(out.subarray(FRAME_HEADER_BYTES)));
          return out;
        }),
      },
      { chunkSize: 1000 },
    );
    failed(received, 'ERR_SIZE_MISMATCH');
    failed(sent, 'ERR_PEER', 'ERR_SIZE_MISMATCH');
    assert.deepEqual(disk.aborts, [{ code: 'ERR_SIZE_MISMATCH', keepPrefix: false }]);
  });

  it('a lost frame is caught by the next frame’s offset', async () => {
    const data = pseudoRandomBytes(5000, 45);
    const { received } = await transfer(
      data,
      new MemoryDisk(),
      { corrupt: onBinary(1, () => undefined) },
      { chunkSize: 1000 },
    );
    failed(received, 'ERR_FRAME_OFFSET');
  });

  it('the sender checks the ack', async () => {
    const data = pseudoRandomBytes(5000, 46);
    const { sent } = await transfer(data, new MemoryDisk(), {
      corrupt: onText('b', 'ack', (o) => JSON.stringify({ ...o, sha256: 'cd'.repeat(32) })),
    });
    failed(sent, 'ERR_HASH_MISMATCH');
  });
});

describe('control-message errors during a transfer (docs/protocol.md §3)', () => {
  const data = pseudoRandomBytes(3000, 51);
  const cases: [string, string, string][] = [
    [
      'an ack instead of start',
      JSON.stringify({ type: 'ack', sha256: 'ab'.repeat(32), size: 1 }),
      'ERR_UNEXPECTED',
    ],
    ['invalid JSON instead of start', '{"type":"start",', 'ERR_MESSAGE_INVALID'],
    ['an unknown type instead of start', '{"type":"chunk"}', 'ERR_MESSAGE_TYPE'],
    ['start without offset', '{"type":"start"}', 'ERR_MESSAGE_INVALID'],
  ];
  for (const [name, replacement, code] of cases) {
    it(`${name} → ${code} at the receiver, ERR_PEER at the sender`, async () => {
      const { sent, received } = await transfer(data, new MemoryDisk(), {
        corrupt: onText('a', 'start', () => replacement),
      });
      failed(received, code);
      failed(sent, 'ERR_PEER', code);
    });
  }

  it('a start instead of resume → ERR_UNEXPECTED at the sender', async () => {
    const { sent, received } = await transfer(data, new MemoryDisk(), {
      corrupt: onText('b', 'resume', () => '{"type":"start","offset":0}'),
    });
    failed(sent, 'ERR_UNEXPECTED');
    failed(received, 'ERR_PEER', 'ERR_UNEXPECTED');
  });

  it('binary data before file-metadata → ERR_UNEXPECTED', async () => {
    const pair = createChannelPair();
    const disk = new MemoryDisk();
    const r = outcome(receiveFile(pair.b, recvOpts(disk)));
    pair.a.onopen = () => pair.a.send(new Uint8Array(20));
    failed(await r, 'ERR_UNEXPECTED');
  });
});

describe('peer errors, local failures, abort and timeouts', () => {
  const data = pseudoRandomBytes(2 * 1024 * 1024, 61);

  /** The sender on `a`, and a hand-driven peer: resolves once the sender's metadata has reached `b`. */
  async function senderAwaitingResume() {
    const pair = createChannelPair();
    const metadata = new Promise<void>((resolve) => {
      pair.b.onmessage = (ev) => {
        if (typeof ev.data === 'string' && ev.data.includes('"file-metadata"')) resolve();
      };
    });
    const sent = outcome(sendFile(pair.a, sendOpts(data)));
    await metadata;
    return { pair, sent };
  }

  it("the peer closing after its error, with the close delivered first: the peer's reason wins (ERR_PEER)", async () => {
    const { pair, sent } = await senderAwaitingResume();
    // Transports may raise the close before the last message (node-datachannel: separate queues).
    pair.a.onclose?.({ type: 'close' });
    await new Promise((r) => setTimeout(r, CLOSE_SETTLE_MS / 4));
    pair.a.onmessage?.({
      data: JSON.stringify({ type: 'error', code: 'ERR_FRAME_CRC', message: 'bad frame' }),
    });
    const e = failed(await sent, 'ERR_PEER', 'ERR_FRAME_CRC');
    assert.equal(e.peerMessage, 'bad frame');
    pair.cut();
  });

  it('a close with no error behind it fails the transfer with ERR_CHANNEL_CLOSED once it has settled', async () => {
    const { pair, sent } = await senderAwaitingResume();
    pair.cut();
    failed(await sent, 'ERR_CHANNEL_CLOSED');
  });

  it('an unsafe file name is refused before open (ERR_FILENAME), and the sender hears why', async () => {
    const disk = new MemoryDisk();
    let opened = 0;
    const { sent, received } = await transfer(
      data,
      disk,
      {},
      { filename: '../../etc/passwd' },
      {
        open: (m) => {
          opened++;
          return disk.open(m);
        },
      },
    );
    const e = failed(received, 'ERR_FILENAME');
    const s = failed(sent, 'ERR_PEER', 'ERR_FILENAME');
    assert.equal(s.peerMessage, e.message);
    assert.equal(opened, 0);
  });

  it('open() throwing a TransferError is passed on to the sender', async () => {
    const { sent, received } = await transfer(
      data,
      new MemoryDisk(),
      {},
      {},
      {
        open: () => Promise.reject(new TransferError('ERR_FILENAME', 'capture.npz exists already')),
      },
    );
    failed(received, 'ERR_FILENAME');
    assert.equal(failed(sent, 'ERR_PEER', 'ERR_FILENAME').peerMessage, 'capture.npz exists already');
  });

  it('a file over maxSize → ERR_TOO_LARGE', async () => {
    const { sent, received } = await transfer(data, new MemoryDisk(), {}, {}, { maxSize: 1024 * 1024 });
    failed(received, 'ERR_TOO_LARGE');
    failed(sent, 'ERR_PEER', 'ERR_TOO_LARGE');
  });

  it('a disk write failing → ERR_IO, partial file discarded', async () => {
    const disk = new MemoryDisk();
    disk.failWriteAt = 1;
    const { sent, received } = await transfer(data, disk);
    failed(received, 'ERR_IO');
    failed(sent, 'ERR_PEER', 'ERR_IO');
    assert.deepEqual(disk.aborts, [{ code: 'ERR_IO', keepPrefix: false }]);
  });

  it('a disk slower than the network: past maxQueuedBytes → ERR_IO instead of unbounded memory', async () => {
    const disk = new MemoryDisk();
    const gate: (() => void)[] = [];
    let open = true;
    const slow = async (m: FileMetadata) => {
      const t = await disk.open(m);
      const write = t.write;
      t.write = (o, d) =>
        open ? new Promise<void>((resolve) => gate.push(() => void write(o, d).then(resolve))) : write(o, d);
      return t;
    };
    const pair = createChannelPair();
    const received = outcome(
      receiveFile(pair.b, recvOpts(disk, { open: slow, maxQueuedBytes: 1024 * 1024 })),
    );
    const sent = await outcome(sendFile(pair.a, sendOpts(pseudoRandomBytes(8 * 1024 * 1024, 62))));
    // The sender hears about it while the first write is still stuck; then the disk catches up.
    failed(sent, 'ERR_PEER', 'ERR_IO');
    open = false;
    for (const release of gate.splice(0)) release();
    assert.match(failed(await received, 'ERR_IO').message, /disk is slower than the network/);
    assert.deepEqual(disk.aborts, [{ code: 'ERR_IO', keepPrefix: false }]);
  });

  it('a source failing → ERR_IO at the sender, ERR_PEER at the receiver (prefix kept)', async () => {
    const disk = new MemoryDisk();
    const src = createMemorySource(data);
    const source = {
      size: src.size,
      read: (o: number, n: number) => (o > 0 ? Promise.reject(new Error('EIO (test)')) : src.read(o, n)),
    };
    const { sent, received } = await transfer(data, disk, {}, { source });
    assert.match(failed(sent, 'ERR_IO').message, /EIO \(test\)/);
    failed(received, 'ERR_PEER', 'ERR_IO');
    assert.deepEqual(disk.aborts, [{ code: 'ERR_PEER', keepPrefix: true }]);
  });

  it('aborting the sender mid-file → ERR_ABORTED; the receiver hears it and keeps its prefix', async () => {
    const ac = new AbortController();
    const disk = new MemoryDisk();
    const { sent, received } = await transfer(
      data,
      disk,
      {
        drainBytesPerTick: 128 * 1024,
        corrupt: onBinary(5, (m) => {
          ac.abort(new Error('user pressed ^C'));
          return m;
        }),
      },
      { signal: ac.signal, highWater: 256 * 1024, lowWater: 64 * 1024 },
    );
    const e = failed(sent, 'ERR_ABORTED');
    assert.equal((e.cause as Error).message, 'user pressed ^C');
    failed(received, 'ERR_PEER', 'ERR_ABORTED');
    assert.deepEqual(disk.aborts, [{ code: 'ERR_PEER', keepPrefix: true }]);
    assert.ok(disk.partLength >= 6 * DEFAULT_CHUNK_BYTES);
  });

  it('aborting the receiver → ERR_ABORTED there, ERR_PEER at the sender', async () => {
    const ac = new AbortController();
    const disk = new MemoryDisk();
    const { sent, received } = await transfer(
      data,
      disk,
      { drainBytesPerTick: 128 * 1024, corrupt: onBinary(3, (m) => (ac.abort(), m)) },
      { highWater: 256 * 1024, lowWater: 64 * 1024 },
      { signal: ac.signal },
    );
    failed(received, 'ERR_ABORTED');
    failed(sent, 'ERR_PEER', 'ERR_ABORTED');
    assert.deepEqual(disk.aborts, [{ code: 'ERR_ABORTED', keepPrefix: true }]);
  });

  it('an already aborted signal rejects at once', async () => {
    const pair = createChannelPair();
    const [s, r] = await Promise.all([
      outcome(sendFile(pair.a, sendOpts(data, { signal: AbortSignal.abort() }))),
      outcome(receiveFile(pair.b, recvOpts(new MemoryDisk(), { signal: AbortSignal.abort() }))),
    ]);
    failed(s, 'ERR_ABORTED');
    failed(r, 'ERR_ABORTED');
  });

  it('a link lost while open() runs still aborts the opened target', async () => {
    const data = pseudoRandomBytes(1000, 63);
    const disk = new MemoryDisk();
    const pair = createChannelPair();
    const open = async (m: FileMetadata) => {
      pair.cut();
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      return disk.open(m);
    };
    const [s, r] = await Promise.all([
      outcome(sendFile(pair.a, sendOpts(data))),
      outcome(receiveFile(pair.b, recvOpts(disk, { open }))),
    ]);
    failed(s, 'ERR_CHANNEL_CLOSED');
    failed(r, 'ERR_CHANNEL_CLOSED');
    assert.deepEqual(disk.aborts, [{ code: 'ERR_CHANNEL_CLOSED', keepPrefix: true }]);
  });

  it('a channel already closed → ERR_CHANNEL_CLOSED', async () => {
    const pair = createChannelPair();
    pair.cut();
    failed(await outcome(sendFile(pair.a, sendOpts(data))), 'ERR_CHANNEL_CLOSED');
    failed(await outcome(receiveFile(pair.b, recvOpts(new MemoryDisk()))), 'ERR_CHANNEL_CLOSED');
  });

  it('a silent link times out on both sides (ERR_TIMEOUT)', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    // The metadata arrives, the resume is lost, nothing closes.
    const pair = createChannelPair({ dropAfterMessages: 1 });
    const disk = new MemoryDisk();
    const both = Promise.all([
      outcome(sendFile(pair.a, sendOpts(data, { idleTimeoutMs: 1000 }))),
      outcome(receiveFile(pair.b, recvOpts(disk, { idleTimeoutMs: 1000 }))),
    ]);
    const { value, steps } = await drive(t, both, 50);
    failed(value[0], 'ERR_TIMEOUT');
    failed(value[1], 'ERR_TIMEOUT');
    assert.ok(steps * 50 >= 1000 && steps * 50 <= 1300, `timed out after ${steps * 50} ms`);
  });

  it('a stalled drain times out the sender (ERR_TIMEOUT)', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    // Frames past the 3rd are lost and nothing closes: the sender's buffer drains, the ack never comes.
    const pair = createChannelPair({ dropAfterMessages: 6 });
    const both = Promise.all([
      outcome(sendFile(pair.a, sendOpts(data, { idleTimeoutMs: 2000 }))),
      outcome(receiveFile(pair.b, recvOpts(new MemoryDisk(), { idleTimeoutMs: 2000 }))),
    ]);
    const { value } = await drive(t, both, 100);
    failed(value[0], 'ERR_TIMEOUT');
    failed(value[1], 'ERR_TIMEOUT');
  });
});

describe('keepalive (docs/protocol.md §3.7)', () => {
  const data = pseudoRandomBytes(2 * 1024 * 1024, 71);
  /** An idle timeout far longer than any test runs: a failure before it is the keepalive's doing. */
  const NEVER = 3_600_000;

  /** Text messages of `type` seen going `from` one side. */
  function count(seen: PairMessage[], type: string): number {
    return seen.filter((m) => typeof m === 'string' && (JSON.parse(m) as { type: string }).type === type)
      .length;
  }

  it('a sender that dies midway (silent, nothing closes) → ERR_PEER_GONE at the receiver, prefix kept', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const stop = new AbortController();
    let frames = 0;
    let dead = false;
    const pair = createChannelPair({
      corrupt: (msg, _i, from) => {
        if (from !== 'a') return msg;
        if (dead) return undefined; // the process is gone: nothing more leaves it, not even its error
        if (typeof msg !== 'string' && ++frames === 10) {
          dead = true;
          stop.abort(new Error('killed'));
        }
        return msg;
      },
    });
    const disk = new MemoryDisk();
    const both = Promise.all([
      outcome(sendFile(pair.a, sendOpts(data, { idleTimeoutMs: NEVER, signal: stop.signal }))),
      outcome(receiveFile(pair.b, recvOpts(disk, { idleTimeoutMs: NEVER, peerTimeoutMs: 2000 }))),
    ]);
    const { value } = await drive(t, both, 100);
    failed(value[0], 'ERR_ABORTED');
    const e = failed(value[1], 'ERR_PEER_GONE');
    assert.match(e.message, /nothing from the peer for \d+ ms/);
    assert.deepEqual(disk.aborts, [{ code: 'ERR_PEER_GONE', keepPrefix: true }]);
    assert.ok(disk.partLength > 0, 'the verified prefix is kept for a resume');
  });

  it('a receiver that dies midway → ERR_PEER_GONE at the sender, with the ack outstanding', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const stop = new AbortController();
    let frames = 0;
    let dead = false;
    const pair = createChannelPair({
      corrupt: (msg, _i, from) => {
        if (from === 'b') return dead ? undefined : msg;
        if (typeof msg !== 'string' && ++frames === 10 && !dead) {
          dead = true;
          stop.abort(new Error('killed'));
        }
        return msg;
      },
    });
    const both = Promise.all([
      outcome(sendFile(pair.a, sendOpts(data, { idleTimeoutMs: NEVER, peerTimeoutMs: 2000 }))),
      outcome(receiveFile(pair.b, recvOpts(new MemoryDisk(), { idleTimeoutMs: NEVER, signal: stop.signal }))),
    ]);
    const { value } = await drive(t, both, 100);
    const e = failed(value[0], 'ERR_PEER_GONE');
    assert.match(e.message, /^send: /);
    failed(value[1], 'ERR_ABORTED');
  });

  it('a receiver busy committing (fsync, rename) keeps the sender waiting for the ack alive with keepalives', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const seen: PairMessage[] = [];
    const pair = createChannelPair({
      corrupt: (msg, _i, from) => {
        if (from === 'b') seen.push(msg);
        return msg;
      },
    });
    const disk = new MemoryDisk();
    const slowOpen: typeof disk.open = async (meta) => {
      const target = await disk.open(meta);
      const commit = target.commit;
      target.commit = async (r) => {
        await new Promise((res) => setTimeout(res, 5000)); // five peer timeouts of local work
        return commit(r);
      };
      return target;
    };
    const both = Promise.all([
      outcome(
        sendFile(pair.a, sendOpts(data, { idleTimeoutMs: NEVER, peerTimeoutMs: 1000, keepaliveMs: 200 })),
      ),
      outcome(
        receiveFile(pair.b, recvOpts(disk, { open: slowOpen, idleTimeoutMs: NEVER, keepaliveMs: 200 })),
      ),
    ]);
    const { value } = await drive(t, both, 50);
    assert.equal(ok(value[0]).acked, true);
    assert.equal(ok(value[1]).verified, true);
    assert.ok(count(seen, 'keepalive') >= 10, `keepalives from the receiver: ${count(seen, 'keepalive')}`);
    const resume = seen.find((m) => typeof m === 'string' && m.includes('"resume"'));
    assert.equal(resume, '{"type":"resume","offset":0,"keepalive_ms":200}');
  });

  for (const older of ['receiver', 'sender'] as const) {
    it(`toward a peer that does not advertise it (an older ${older}), nothing is sent and silence is left to the idle timeout`, async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
      const seen: { a: PairMessage[]; b: PairMessage[] } = { a: [], b: [] };
      // The metadata and the resume arrive, then the link goes silent (nothing closes).
      const pair = createChannelPair({
        corrupt: (msg, i, from) => {
          seen[from].push(msg);
          return i < 3 ? msg : undefined;
        },
      });
      const off = { keepaliveMs: 0 };
      const both = Promise.all([
        outcome(
          sendFile(pair.a, sendOpts(data, { idleTimeoutMs: 3000, ...(older === 'sender' ? off : {}) })),
        ),
        outcome(
          receiveFile(
            pair.b,
            recvOpts(new MemoryDisk(), { idleTimeoutMs: 3000, ...(older === 'receiver' ? off : {}) }),
          ),
        ),
      ]);
      const { value } = await drive(t, both, 100);
      failed(value[0], 'ERR_TIMEOUT');
      failed(value[1], 'ERR_TIMEOUT');
      assert.equal(count(seen.a, 'keepalive') + count(seen.b, 'keepalive'), 0, 'no keepalive either way');
      const handshake = [...seen.a, ...seen.b].filter(
        (m) => typeof m === 'string' && /"(file-metadata|resume)"/.test(m),
      ) as string[];
      assert.equal(handshake.length, 2);
      // only the side that takes part advertises (the sender first; the receiver only to a sender that did)
      assert.equal(handshake.filter((m) => m.includes('keepalive_ms')).length, older === 'receiver' ? 1 : 0);
    });
  }
});

describe('seed peers (docs/protocol.md §3.1)', () => {
  it('a seed-mode sender sends the seed metadata, raw 16 KiB chunks and file-complete; a receiver told to wait verifies', async () => {
    const data = pseudoRandomBytes(100_000, 71);
    const disk = new MemoryDisk();
    const seen: PairMessage[] = [];
    const { sent, received } = await transfer(
      data,
      disk,
      {
        corrupt: (m, _i, from) => {
          if (from === 'a')
            seen.push(typeof m === 'string' ? m : m.length === SEED_CHUNK_BYTES ? m : m.slice());
          return m;
        },
      },
      { mode: 'seed' },
      { seedCompleteWaitMs: 2000 },
    );
    assert.deepEqual(ok(sent), { startOffset: 0, bytesSent: data.length, frames: 7, acked: false });
    assert.deepEqual(ok(received), {
      path: '/memory/capture.npz',
      size: data.length,
      sha256: sha256Hex(data),
      verified: true,
      startOffset: 0,
      mode: 'seed',
    });
    assert.equal(seen[0], '{"type":"file-metadata","filename":"capture.npz","size":100000}');
    const chunks = seen.slice(1, -1) as Uint8Array[];
    assert.deepEqual(
      chunks.map((c) => c.length),
      [16384, 16384, 16384, 16384, 16384, 16384, 1696],
    );
    assert.equal(Buffer.compare(Buffer.concat(chunks), data), 0, 'raw bytes, no frame header');
    assert.equal(
      seen.at(-1),
      `{"type":"file-complete","size":100000,"sha256":"${sha256Hex(data)}","frames":7}`,
    );
    assert.deepEqual(disk.commits, [{ size: data.length, sha256: sha256Hex(data), verified: true }]);
  });

  it('a seed receiver written like the Go Type2 gets the file from a seed-mode sender', async () => {
    const data = pseudoRandomBytes(300_001, 72);
    const pair = createChannelPair({ drainBytesPerTick: 64 * 1024 });
    // setupFileReception from seeds/000: JSON text → metadata; binary → append until size; ignore the rest.
    let file: Buffer[] | null = null;
    let size = 0;
    let received = 0;
    let finished: Buffer | null = null;
    pair.b.onmessage = (ev) => {
      if (typeof ev.data === 'string') {
        const meta = JSON.parse(ev.data) as Record<string, unknown>;
        if (meta['type'] === 'file-metadata') {
          file = [];
          size = Number(meta['size']);
          received = 0;
        }
        return;
      }
      if (file === null) return;
      const chunk = Buffer.from(ev.data as ArrayBuffer);
      file.push(chunk);
      received += chunk.length;
      if (received >= size) {
        finished = Buffer.concat(file);
        file = null;
      }
    };
    const s = await sendFile(pair.a, sendOpts(data, { mode: 'seed' }));
    assert.deepEqual(s, {
      startOffset: 0,
      bytesSent: data.length,
      frames: Math.ceil(data.length / SEED_CHUNK_BYTES),
      acked: false,
    });
    assert.equal(pair.a.bufferedAmount, 0);
    for (let i = 0; i < 5 && finished === null; i++) await new Promise((r) => setImmediate(r));
    assert.ok(finished !== null);
    assert.equal(Buffer.compare(finished, data), 0);
    assert.ok(
      pair.a.maxBufferedSeen <= 4 * 1024 * 1024 + SEED_CHUNK_BYTES,
      'flow control toward seed peers too',
    );
  });

  /** The Go Type1's sendFile: metadata, then 16 KiB chunks in a tight loop, nothing after. */
  function goSeedSender(ch: Channel, data: Uint8Array, closeAfter: boolean): void {
    ch.onopen = () => {
      ch.send(JSON.stringify({ filename: 'signal_data.npz', size: data.length, type: 'file-metadata' }));
      for (let i = 0; i < data.length; i += 16384) ch.send(data.subarray(i, i + 16384));
      if (closeAfter) ch.close();
    };
  }

  it('our receiver takes a Go seed sender’s raw stream, finishing when it closes (unverified)', async () => {
    const data = pseudoRandomBytes(123_457, 73);
    const pair = createChannelPair();
    goSeedSender(pair.a, data, true);
    const disk = new MemoryDisk();
    const r = await receiveFile(pair.b, recvOpts(disk));
    assert.deepEqual(r, {
      path: '/memory/signal_data.npz',
      size: data.length,
      sha256: sha256Hex(data),
      verified: false,
      startOffset: 0,
      mode: 'seed',
    });
    assert.equal(Buffer.compare(disk.files.get('signal_data.npz') ?? new Uint8Array(0), data), 0);
  });

  it('…and, when the seed sender waits for the receiver to close, at once after the last byte', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const data = pseudoRandomBytes(50_000, 74);
    const pair = createChannelPair();
    goSeedSender(pair.a, data, false);
    const disk = new MemoryDisk();
    const { value, steps } = await drive(t, receiveFile(pair.b, recvOpts(disk)), 100);
    assert.equal(value.verified, false);
    assert.equal(value.sha256, sha256Hex(data));
    assert.equal(steps, 0, `finished after ${steps * 100} ms of timers`);
  });

  it('…or, when told to wait for a file-complete that never comes, after the wait', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const data = pseudoRandomBytes(50_000, 74);
    const pair = createChannelPair();
    goSeedSender(pair.a, data, false);
    const disk = new MemoryDisk();
    const { value, steps } = await drive(
      t,
      receiveFile(pair.b, recvOpts(disk, { seedCompleteWaitMs: 2000 })),
      100,
    );
    assert.equal(value.verified, false);
    assert.ok(steps >= 15 && steps <= 25, `finished after ${steps * 100} ms`);
  });

  it('a seed stream longer than announced → ERR_SIZE_MISMATCH', async () => {
    const data = pseudoRandomBytes(40_000, 75);
    const pair = createChannelPair();
    pair.a.onopen = () => {
      pair.a.send(JSON.stringify({ type: 'file-metadata', filename: 'x.npz', size: 30_000 }));
      pair.a.send(data.subarray(0, 16384));
      pair.a.send(data.subarray(16384));
    };
    const disk = new MemoryDisk();
    failed(await outcome(receiveFile(pair.b, recvOpts(disk))), 'ERR_SIZE_MISMATCH');
    assert.deepEqual(disk.aborts, [{ code: 'ERR_SIZE_MISMATCH', keepPrefix: false }]);
  });

  it('a seed stream whose file-complete hash differs → ERR_HASH_MISMATCH, file refused', async () => {
    const data = pseudoRandomBytes(40_000, 76);
    const disk = new MemoryDisk();
    const { received } = await transfer(
      data,
      disk,
      {
        corrupt: onText('a', 'file-complete', (o) => JSON.stringify({ ...o, sha256: 'ef'.repeat(32) })),
      },
      { mode: 'seed' },
      { seedCompleteWaitMs: 2000 },
    );
    failed(received, 'ERR_HASH_MISMATCH');
    assert.equal(disk.files.size, 0);
  });

  it('a seed stream cut before the end → ERR_CHANNEL_CLOSED, nothing kept', async () => {
    const data = pseudoRandomBytes(100_000, 77);
    const pair = createChannelPair();
    // Announce more than is sent; the link dies once the receiver has opened its file.
    pair.a.onopen = () => {
      pair.a.send(JSON.stringify({ type: 'file-metadata', filename: 'x.npz', size: data.length }));
      pair.a.send(data.subarray(0, 16384));
    };
    const disk = new MemoryDisk();
    const open = async (m: FileMetadata) => {
      const target = await disk.open(m);
      setImmediate(() => pair.cut());
      return target;
    };
    failed(await outcome(receiveFile(pair.b, recvOpts(disk, { open }))), 'ERR_CHANNEL_CLOSED');
    assert.deepEqual(disk.aborts, [{ code: 'ERR_CHANNEL_CLOSED', keepPrefix: false }]);
  });
});
