import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TransferError } from '../protocol/errors.js';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32 as pureCrc32 } from '../protocol/crc32.js';
import { crc32, crc32Impl, moveIntoPlace, openDiskTarget, safeFileName, sha256File } from './files.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-files-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('safeFileName keeps plain names and refuses hostile ones with ERR_FILENAME', () => {
  for (const ok of ['spectrum_1_2_3.npz', 'signal 100 MHz.npz', 'ünïcode.npz', 'a.b.c'])
    assert.equal(safeFileName(ok), ok);
  const hostile = [
    '',
    '.',
    '..',
    '../etc/passwd',
    '..\\windows',
    'a/../../b',
    '/etc/passwd',
    'dir/file.npz',
    'evil..npz',
    '.bashrc',
    '.x.npz.part',
    'nul\u0000byte',
    'line\nbreak',
    'esc\u001b[31m',
    ' leading-space',
    'x'.repeat(300),
  ];
  for (const name of hostile) {
    assert.throws(
      () => safeFileName(name),
      (err: unknown) => err instanceof TransferError && err.code === 'ERR_FILENAME',
      `refuses ${JSON.stringify(name)}`,
    );
  }
});

test('moveIntoPlace never overwrites: the second file gets "name (1).ext"', async () => {
  const sub = await mkdtemp(join(dir, 'move-'));
  await writeFile(join(sub, 'a.tmp'), 'first');
  await writeFile(join(sub, 'b.tmp'), 'second');
  const p1 = await moveIntoPlace(join(sub, 'a.tmp'), sub, 'data.npz');
  const p2 = await moveIntoPlace(join(sub, 'b.tmp'), sub, 'data.npz');
  assert.equal(p1, join(sub, 'data.npz'));
  assert.equal(p2, join(sub, 'data (1).npz'));
  assert.equal(await readFile(p1, 'utf8'), 'first');
  assert.equal(await readFile(p2, 'utf8'), 'second');
  assert.deepEqual((await readdir(sub)).sort(), ['data (1).npz', 'data.npz']);
});

test('disk target: an aborted transfer keeps its verified prefix, and the next attempt resumes from it', async () => {
  const sub = await mkdtemp(join(dir, 'resume-'));
  const file = randomBytes(3 * 1024 * 1024 + 17);
  const meta = {
    filename: 'x.npz',
    size: file.length,
    sha256: sha(file),
    protocol: 'sdrlink/1' as const,
    chunk_size: 65520,
  };

  const t1 = await openDiskTarget(sub, meta as never);
  assert.equal(t1.prefixLength, 0);
  await t1.write(0, file.subarray(0, 1_000_000));
  t1.hash.update(file.subarray(0, 1_000_000));
  await t1.abort(new TransferError('ERR_CHANNEL_CLOSED', 'cut'), true);
  assert.deepEqual(
    await readdir(sub),
    ['.x.npz.part', '.x.npz.part.json'],
    'no final file, only the partial',
  );

  const t2 = await openDiskTarget(sub, meta as never);
  assert.equal(t2.prefixLength, 1_000_000);
  assert.equal(t2.prefixSha256, sha(file.subarray(0, 1_000_000)));
  await t2.write(1_000_000, file.subarray(1_000_000));
  t2.hash.update(file.subarray(1_000_000));
  assert.equal(t2.hash.digest(), meta.sha256, 'the running hash covers prefix + rest');
  const final = await t2.commit({ size: file.length, sha256: meta.sha256, verified: true });
  assert.equal(final, join(sub, 'x.npz'));
  assert.equal(await sha256File(final), meta.sha256);
  assert.deepEqual(await readdir(sub), ['x.npz'], 'partial and sidecar are gone');
});

test('disk target: a different file under the same name starts from zero', async () => {
  const sub = await mkdtemp(join(dir, 'other-'));
  const a = randomBytes(100_000);
  const b = randomBytes(100_000);
  const t1 = await openDiskTarget(sub, { filename: 'y.npz', size: a.length, sha256: sha(a) } as never);
  await t1.write(0, a.subarray(0, 50_000));
  await t1.abort(new TransferError('ERR_CHANNEL_CLOSED', 'cut'), true);
  const t2 = await openDiskTarget(sub, { filename: 'y.npz', size: b.length, sha256: sha(b) } as never);
  assert.equal(t2.prefixLength, 0);
  await t2.abort(new TransferError('ERR_ABORTED', 'done'), false);
  assert.deepEqual(await readdir(sub), []);
});

test('disk target: a hash failure discards everything', async () => {
  const sub = await mkdtemp(join(dir, 'bad-'));
  const a = randomBytes(10_000);
  const t = await openDiskTarget(sub, { filename: 'z.npz', size: a.length, sha256: sha(a) } as never);
  await t.write(0, a);
  await t.abort(new TransferError('ERR_HASH_MISMATCH', 'bad'), false);
  assert.deepEqual(await readdir(sub), []);
});

test('sha256File hashes a prefix or the whole file', async () => {
  const p = join(dir, 'h.bin');
  const data = randomBytes(2_500_000);
  await writeFile(p, data);
  assert.equal(await sha256File(p), sha(data));
  assert.equal(await sha256File(p, 1_234_567), sha(data.subarray(0, 1_234_567)));
  assert.equal(await sha256File(p, 0), sha(new Uint8Array(0)));
});

test('crc32 is the native @node-rs/crc32 here, and agrees with zlib and the pure fallback on every slice', () => {
  // node_modules holds the linux-x64 binary (package-lock.json); elsewhere the agents fall back to zlib.
  if (process.platform === 'linux' && process.arch === 'x64') assert.equal(crc32Impl, 'node-rs');
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  const data = randomBytes(65_536 + 37);
  for (const [from, to] of [
    [0, data.length],
    [1, 65_473],
    [16, 16 + 65_472],
    [65_000, data.length],
    [5, 6],
  ] as const) {
    const view = new Uint8Array(data.buffer, data.byteOffset + from, to - from);
    const want = zlibCrc32(view);
    assert.equal(crc32(view), want, `bytes ${from}..${to}`);
    assert.equal(pureCrc32(view), want);
  }
  // Unsigned, as the frame header stores it (docs/protocol.md §2).
  const high = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
  assert.equal(crc32(high), 0xffffffff);
});
