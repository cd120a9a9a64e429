import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DatasetError } from '../src/datasets/types.js';
import { blobDataset } from './blob-dataset.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'sdrlink-blob-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

test('validate: bytes is a positive integer, seed defaults to 1', () => {
  assert.deepEqual(blobDataset.validate({ bytes: 10 }), { bytes: 10, seed: 1 });
  assert.deepEqual(blobDataset.validate({ bytes: 10, seed: 7 }), { bytes: 10, seed: 7 });
  for (const bad of [
    null,
    [],
    'x',
    {},
    { bytes: 0 },
    { bytes: 1.5 },
    { bytes: '10' },
    { bytes: 2 ** 40 },
    { bytes: 1, seed: -1 },
    { bytes: 1, seed: 0.5 },
  ]) {
    assert.throws(
      () => blobDataset.validate(bad),
      (err: unknown) =>
        err instanceof DatasetError && err.code === 'ERR_PARAMS' && /parameters/.test(err.message),
      JSON.stringify(bad),
    );
  }
});

test('generate writes exactly the bytes asked for, the same bytes every time', async () => {
  const p = blobDataset.validate({ bytes: 2 * MiB + 12345 });
  const a = join(dir, 'a.bin');
  const b = join(dir, 'b.bin');
  const progress: number[] = [];
  assert.deepEqual(await blobDataset.generate(p, a, { onProgress: (n) => progress.push(n) }), {
    bytes: p.bytes,
  });
  await blobDataset.generate(p, b);
  const [da, db] = await Promise.all([readFile(a), readFile(b)]);
  assert.equal(da.length, p.bytes);
  assert.equal(createHash('sha256').update(da).digest('hex'), createHash('sha256').update(db).digest('hex'));
  assert.equal(progress.at(-1), p.bytes);
  // Each MiB differs from the next (block index stamped in), and the seed changes the bytes.
  assert.notDeepEqual(da.subarray(0, MiB), da.subarray(MiB, 2 * MiB));
  const c = join(dir, 'c.bin');
  await blobDataset.generate(blobDataset.validate({ bytes: 1024, seed: 2 }), c);
  assert.notDeepEqual(await readFile(c), da.subarray(0, 1024));
  assert.equal(blobDataset.fileName(p), `blob_${p.bytes}_1.bin`);
  assert.equal(blobDataset.estimateBytes(p), p.bytes);
});

test('generate stops with ERR_ABORTED when its signal aborts', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    blobDataset.generate(blobDataset.validate({ bytes: MiB }), join(dir, 'x.bin'), { signal: ac.signal }),
    (err: unknown) => err instanceof DatasetError && err.code === 'ERR_ABORTED',
  );
});
