/**
 * ZIP64: an archive past 4 GiB with an entry past 4 GiB, read back by Python's zipfile and NumPy.
 *
 * Kept fast: the 4 GiB array is zeros written with `zeros()` (a hole in the file, CRC still computed), so
 * the test costs about a second of CRC-32 and no disk bandwidth. NumPy then loads the small arrays whose
 * local headers sit beyond 4 GiB (ZIP64 offsets in the central directory, ZIP64 end records), and the
 * big entry is checked through its sizes, its `.npy` header and marker bytes at both of its ends.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { npzArchiveBytes, NpzWriter } from './npz-writer.js';
import { numpySkip, runPython } from '../../test/helpers/numpy.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-zip64-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const BIG = 2 ** 32 + 4096; // bytes of the |u1 array: the entry alone passes 4 GiB

test(
  'an archive past 4 GiB (ZIP64 sizes, offsets and end records) reads back',
  { skip: numpySkip() },
  async () => {
    const path = join(dir, 'zip64.npz');
    const w = await NpzWriter.create(path);
    await w.writeArray('head', { descr: '<f8', shape: [3] }, Float64Array.of(1, 2, 3));
    const big = await w.beginArray('big', { descr: '|u1', shape: [BIG] });
    await big.write(Uint8Array.of(0xa1, 0xa2));
    await big.zeros(BIG - 4);
    await big.write(Uint8Array.of(0xb1, 0xb2));
    await big.end();
    await w.writeArray('tail', { descr: '<i8', shape: [2] }, BigInt64Array.of(42n, -7n));
    const { bytes } = await w.close();
    assert.equal((await stat(path)).size, bytes);
    assert.equal(
      npzArchiveBytes([
        ['head', { descr: '<f8', shape: [3] }],
        ['big', { descr: '|u1', shape: [BIG] }],
        ['tail', { descr: '<i8', shape: [2] }],
      ]),
      bytes,
    );

    const r = await runPython<Record<string, unknown>>(
      `
import zipfile, struct
path = sys.argv[1]
zf = zipfile.ZipFile(path)
info = {i.filename: i for i in zf.infolist()}
big = info['big.npy']
with zf.open('big.npy') as f:
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(f)
    data_start = f.tell()
    first = list(f.read(2))
with open(path, 'rb') as raw:
    raw.seek(big.header_offset + 26)
    name_len, extra_len = struct.unpack('<HH', raw.read(4))
    raw.seek(big.header_offset + 30 + name_len + extra_len + big.file_size - 2)
    last = list(raw.read(2))
    raw.seek(-22, 2)
    eocd = struct.unpack('<IHHHHIIH', raw.read(22))
    raw.seek(-22 - 20, 2)
    locator = struct.unpack('<IIQI', raw.read(20))
d = np.load(path)
emit({
  'names': [i.filename for i in zf.infolist()],
  'big_size': big.file_size, 'big_compress_size': big.compress_size,
  'tail_offset': info['tail.npy'].header_offset,
  'header': [list(shape), fortran, dtype.str, data_start],
  'first': first, 'last': last,
  'eocd_sig': eocd[0], 'locator_sig': locator[0],
  'head': d['head'].tolist(), 'tail': d['tail'].tolist(),
})`,
      [path],
      { timeoutMs: 60_000 },
    );
    assert.deepEqual(r['names'], ['head.npy', 'big.npy', 'tail.npy']);
    assert.equal(r['big_size'], BIG + 128);
    assert.equal(r['big_compress_size'], BIG + 128);
    assert.ok((r['tail_offset'] as number) > 2 ** 32, `tail at ${String(r['tail_offset'])}`);
    assert.deepEqual(r['header'], [[BIG], false, '|u1', 128]);
    assert.deepEqual(r['first'], [0xa1, 0xa2]);
    assert.deepEqual(r['last'], [0xb1, 0xb2]);
    assert.equal(r['eocd_sig'], 0x06054b50);
    assert.equal(r['locator_sig'], 0x07064b50);
    assert.deepEqual(r['head'], [1, 2, 3]);
    assert.deepEqual(r['tail'], [42, -7]);
  },
);
