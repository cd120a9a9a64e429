import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeUnicodeArray, type NpyArraySpec } from './npy-header.js';
import { npzArchiveBytes, NpzWriter } from './npz-writer.js';
import { numpySkip, repoPath, runPython } from '../../test/helpers/numpy.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-npz-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The arrays of test/helpers/make_npz_fixtures.py (basic.npz), in the same order. */
function basicArrays(): Array<[string, NpyArraySpec, ArrayBufferView]> {
  const names = encodeUnicodeArray(['a', 'h\u00e9', '\u{1F600}x']);
  const meta = encodeUnicodeArray(['{"core:datatype": "cf32_le"}']);
  const blank = encodeUnicodeArray(['']);
  return [
    ['iq', { descr: '<c8', shape: [3] }, Float32Array.of(1, 2, -0.5, 0.25, 3, -4)],
    ['ramp', { descr: '<f4', shape: [5] }, Float32Array.of(0, 1, 2, 3, 4)],
    ['grid', { descr: '<f8', shape: [2, 3] }, Float64Array.of(1, 2, 3, 4, 5, 6)],
    ['big', { descr: '<i8', shape: [2] }, BigInt64Array.of(-1n, 2n ** 40n)],
    ['small', { descr: '<i4', shape: [1] }, Int32Array.of(7)],
    ['scalar', { descr: '<f8', shape: [] }, Float64Array.of(2.5)],
    ['empty', { descr: '<f4', shape: [0] }, new Float32Array(0)],
    ['bytes', { descr: '|u1', shape: [2] }, Uint8Array.of(0, 255)],
    ['names', { descr: names.descr, shape: [3] }, names.data],
    ['meta', { descr: meta.descr, shape: [] }, meta.data],
    ['blank', { descr: blank.descr, shape: [] }, blank.data],
  ];
}

async function writeAll(
  path: string,
  arrays: Array<[string, NpyArraySpec, ArrayBufferView]>,
  chunk?: number,
) {
  const w = await NpzWriter.create(path);
  for (const [name, spec, data] of arrays) {
    const e = await w.beginArray(name, spec);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const step = chunk ?? Math.max(1, bytes.length);
    for (let i = 0; i < bytes.length; i += step) await e.write(bytes.subarray(i, i + step));
    await e.end();
  }
  return w.close();
}

test('the archive is byte-for-byte what np.savez writes (committed fixture)', async () => {
  const expected = await readFile(repoPath('test/fixtures/npz/basic.npz'));
  const path = join(dir, 'basic.npz');
  const { bytes } = await writeAll(path, basicArrays());
  const actual = await readFile(path);
  assert.equal(bytes, expected.length);
  assert.equal(actual.toString('hex'), expected.toString('hex'));
  assert.equal(npzArchiveBytes(basicArrays().map(([n, s]) => [n, s] as const)), expected.length);
});

test('chunking does not change a byte: one byte at a time gives the same archive', async () => {
  const expected = await readFile(repoPath('test/fixtures/npz/basic.npz'));
  const path = join(dir, 'bytewise.npz');
  await writeAll(path, basicArrays(), 1);
  assert.deepEqual(await readFile(path), expected);
});

test('a structured array with a header over 65,535 bytes matches NumPy (format 2.0)', async () => {
  const expected = await readFile(repoPath('test/fixtures/npz/wide-header.npz'));
  const fields = Array.from({ length: 4000 }, (_, i) => [`f${String(i).padStart(4, '0')}`, '<f4'] as const);
  const values = Float32Array.from({ length: 4000 }, (_, i) => i);
  const path = join(dir, 'wide.npz');
  await writeAll(path, [['wide', { descr: { fields }, shape: [1] }, values]]);
  assert.deepEqual(await readFile(path), expected);
});

test('misuse is refused: wrong sizes, names, order', async () => {
  const path = join(dir, 'misuse.npz');
  const w = await NpzWriter.create(path);
  await assert.rejects(w.beginArray('a/b', { descr: '<f4', shape: [1] }), RangeError);
  await assert.rejects(w.beginArray('', { descr: '<f4', shape: [1] }), RangeError);
  const e = await w.beginArray('x', { descr: '<f4', shape: [2] });
  await assert.rejects(w.beginArray('y', { descr: '<f4', shape: [1] }), /previous array/);
  await assert.rejects(e.write(new Float32Array(3)), /only 8 remain/);
  await e.write(new Float32Array(1));
  await assert.rejects(e.end(), /4 of 8 bytes missing/);
  await assert.rejects(e.zeros(5), RangeError);
  await e.zeros(4);
  await e.end();
  await assert.rejects(w.beginArray('x', { descr: '<f4', shape: [1] }), /duplicate/);
  await w.close();
  await assert.rejects(w.beginArray('z', { descr: '<f4', shape: [1] }), /closed/);
});

test('discard removes the partial file', async () => {
  const path = join(dir, 'discard.npz');
  const w = await NpzWriter.create(path);
  const e = await w.beginArray('x', { descr: '<f8', shape: [1000] });
  await e.write(new Float64Array(10));
  await w.discard();
  await assert.rejects(stat(path), { code: 'ENOENT' });
});

test(
  'NumPy loads every array with allow_pickle=False; zeros() reads back as zeros',
  { skip: numpySkip() },
  async () => {
    const path = join(dir, 'numpy.npz');
    const w = await NpzWriter.create(path);
    for (const [name, spec, data] of basicArrays()) await w.writeArray(name, spec, data);
    const z = await w.beginArray('zeros', { descr: '<c8', shape: [300_000] });
    await z.write(Float32Array.of(1, -1));
    await z.zeros(300_000 * 8 - 8);
    await z.end();
    await w.close();
    const r = await runPython<Record<string, unknown>>(
      `
d = np.load(sys.argv[1])
emit({
  'keys': sorted(d.files),
  'iq': [d['iq'].dtype.str, [[float(v.real), float(v.imag)] for v in d['iq']]],
  'grid': [d['grid'].dtype.str, d['grid'].shape, d['grid'].tolist()],
  'big': d['big'].tolist(), 'scalar': [d['scalar'].shape, float(d['scalar'])],
  'empty': [d['empty'].dtype.str, d['empty'].shape],
  'names': d['names'].tolist(), 'meta': str(d['meta']), 'blank': str(d['blank']),
  'zeros': [d['zeros'].shape, complex(d['zeros'][0]).real, int(np.count_nonzero(d['zeros']))],
})`,
      [path],
    );
    assert.deepEqual(r, {
      keys: [
        'big',
        'blank',
        'bytes',
        'empty',
        'grid',
        'iq',
        'meta',
        'names',
        'ramp',
        'scalar',
        'small',
        'zeros',
      ],
      iq: [
        '<c8',
        [
          [1, 2],
          [-0.5, 0.25],
          [3, -4],
        ],
      ],
      grid: [
        '<f8',
        [2, 3],
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
      ],
      big: [-1, 2 ** 40],
      scalar: [[], 2.5],
      empty: ['<f4', [0]],
      names: ['a', 'h\u00e9', '\u{1F600}x'],
      meta: '{"core:datatype": "cf32_le"}',
      blank: '',
      zeros: [[300_000], 1, 1],
    });
  },
);

test(
  'a corrupted data byte is caught by the CRC-32 when NumPy reads the entry',
  { skip: numpySkip() },
  async () => {
    const path = join(dir, 'corrupt.npz');
    await writeAll(path, basicArrays());
    const buf = await readFile(path);
    // The first entry (iq.npy): local header 30 + name 6 + zip64 extra 20, npy header 128, then data.
    const dataAt = 30 + 6 + 20 + 128;
    assert.equal(buf.readFloatLE(dataAt), 1);
    buf[dataAt + 3] = (buf[dataAt + 3] as number) ^ 0x40;
    await writeFile(path, buf);
    const r = await runPython<{ ramp: number[]; error: string }>(
      `
import zipfile
d = np.load(sys.argv[1])
ramp = d['ramp'].tolist()
try:
    d['iq']
    err = 'none'
except zipfile.BadZipFile as e:
    err = str(e)
emit({'ramp': ramp, 'error': err})`,
      [path],
    );
    assert.deepEqual(r.ramp, [0, 1, 2, 3, 4]);
    assert.match(r.error, /CRC/i);
  },
);
