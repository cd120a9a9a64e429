import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TransferError } from '../protocol/errors.js';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32 as pureCrc32 } from '../protocol/crc32.js';
import {
  PARTIAL_DIR,
  crc32,
  crc32Impl,
  moveIntoPlace,
  openDiskTarget,
  prepareOutDir,
  safeFileName,
  sha256File,
} from './files.js';
import { AgentError } from './errors.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-files-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('safeFileName keeps plain names and refuses hostile ones with ERR_FILENAME', () => {
  for (const ok of [
    'spectrum_1_2_3.npz',
    'signal 100 MHz.npz',
    'ünïcode.npz',
    'a.b.c',
    '日本語.npz',
    'x'.repeat(255),
  ])
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
    'x'.repeat(254) + 'é', // 256 UTF-8 bytes
    // invisible or bidirectional-control characters (issue 16, class 4)
    'evil\u202Egpj.exe',
    'a\u2066b.npz',
    'zero\u200Bwidth.npz',
    'joiner\u200D.npz',
    '\uFEFFbom.npz',
    'soft\u00ADhyphen.npz',
    'no\u00A0break.npz',
    'line\u2028sep.npz',
    'private\uE000use.npz',
    'lone\uD800surrogate.npz',
    'filler\u3164.npz',
    'arabic\u061Cmark.npz',
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
  assert.deepEqual(await readdir(sub), [PARTIAL_DIR], 'no final file, only the private folder');
  assert.equal((await stat(join(sub, PARTIAL_DIR))).mode & 0o777, 0o700, 'private to its user');
  assert.deepEqual(
    (await readdir(join(sub, PARTIAL_DIR))).map((f) => f.replace(/^[0-9a-f]{32}/, 'K')).sort(),
    ['K.json', 'K.part'],
    'the partial file and its sidecar, named by a hash of the name',
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

test('disk target: a 255-byte name is saved (its partial file is named by a hash), a resume still finds it', async () => {
  const sub = await mkdtemp(join(dir, 'long-'));
  const name = `${'n'.repeat(251)}.npz`;
  const data = randomBytes(70_000);
  const meta = { filename: name, size: data.length, sha256: sha(data), mode: 'sdrlink' as const };
  const t1 = await openDiskTarget(sub, meta);
  await t1.write(0, data.subarray(0, 30_000));
  await t1.abort(new TransferError('ERR_CHANNEL_CLOSED', 'cut'), true);
  const t2 = await openDiskTarget(sub, meta);
  assert.equal(t2.prefixLength, 30_000);
  await t2.write(30_000, data.subarray(30_000));
  const final = await t2.commit({ size: data.length, sha256: meta.sha256, verified: true });
  assert.equal(final, join(sub, name));
  assert.deepEqual(await readdir(sub), [name], 'the private folder is gone once empty');
  // the numbered name would be longer than the file system allows: ERR_FILENAME, not ERR_IO
  const t3 = await openDiskTarget(sub, { ...meta, sha256: sha(Buffer.from('other')), size: 5 });
  await t3.write(0, Buffer.from('other'));
  await assert.rejects(
    t3.commit({ size: 5, sha256: sha(Buffer.from('other')), verified: true }),
    (err: unknown) => err instanceof TransferError && err.code === 'ERR_FILENAME',
  );
  await t3.abort(new TransferError('ERR_FILENAME', 'x'), false);
});

test('disk target: links and files planted where the partial files go are never followed or truncated', async () => {
  const sub = await mkdtemp(join(dir, 'planted-'));
  const victim = join(dir, `victim-${Date.now()}`);
  await writeFile(victim, 'precious');
  const data = randomBytes(50_000);
  const meta = { filename: 'p.npz', size: data.length, sha256: sha(data), mode: 'sdrlink' as const };

  // 1. the private folder is a link to another folder: refused before anything is written
  const elsewhere = await mkdtemp(join(dir, 'elsewhere-'));
  await symlink(elsewhere, join(sub, PARTIAL_DIR));
  await assert.rejects(
    openDiskTarget(sub, meta),
    (err: unknown) => err instanceof TransferError && err.code === 'ERR_IO',
  );
  await assert.rejects(
    prepareOutDir(sub),
    (err: unknown) => err instanceof AgentError && err.code === 'ERR_CONFIG',
    'and the request stops before the server is asked',
  );
  assert.deepEqual(await readdir(elsewhere), []);
  await rm(join(sub, PARTIAL_DIR));

  // 2. a link planted at the partial file's own name (with and without a matching sidecar)
  const t0 = await openDiskTarget(sub, meta);
  await t0.write(0, data.subarray(0, 20_000));
  await t0.abort(new TransferError('ERR_CHANNEL_CLOSED', 'cut'), true);
  const tmp = join(sub, PARTIAL_DIR);
  const part = (await readdir(tmp)).find((f) => f.endsWith('.part')) as string;
  await rm(join(tmp, part));
  await symlink(victim, join(tmp, part));
  const t1 = await openDiskTarget(sub, meta);
  assert.equal(t1.prefixLength, 0, 'a link is no prefix');
  await t1.write(0, data);
  const final = await t1.commit({ size: data.length, sha256: meta.sha256, verified: true });
  assert.deepEqual(await readFile(final), data);
  assert.equal(await readFile(victim, 'utf8'), 'precious', 'the link target was not touched');

  // 3. a link planted at the final name: not followed, the file goes beside it
  await symlink(victim, join(sub, 'q.npz'));
  const t2 = await openDiskTarget(sub, { ...meta, filename: 'q.npz' });
  await t2.write(0, data);
  const q = await t2.commit({ size: data.length, sha256: meta.sha256, verified: true });
  assert.equal(q, join(sub, 'q (1).npz'));
  assert.equal(await readFile(victim, 'utf8'), 'precious');
});

test('disk target: a private folder left open to others is made 0700 again', async () => {
  const sub = await mkdtemp(join(dir, 'mode-'));
  await mkdir(join(sub, PARTIAL_DIR), { mode: 0o777 });
  const data = randomBytes(1000);
  const t = await openDiskTarget(sub, { filename: 'm.npz', size: 1000, sha256: sha(data), mode: 'sdrlink' });
  assert.equal((await stat(join(sub, PARTIAL_DIR))).mode & 0o777, 0o700);
  await t.abort(new TransferError('ERR_ABORTED', 'x'), false);
});

test('disk target: an announced size above the free space is refused with ERR_DISK_FULL before anything is written', async () => {
  const sub = await mkdtemp(join(dir, 'space-'));
  const huge = Number.MAX_SAFE_INTEGER;
  await assert.rejects(
    openDiskTarget(sub, { filename: 'big.npz', size: huge, sha256: 'a'.repeat(64), mode: 'sdrlink' }),
    (err: unknown) => err instanceof TransferError && err.code === 'ERR_DISK_FULL',
  );
  assert.deepEqual(await readdir(sub), [], 'no partial file, and the private folder removed again');
});
