import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultDatasets, DatasetError, type Dataset } from './index.js';
import { buildSigmfMeta, extractSigmfArchive, ustarHeader } from './sigmf-out.js';
import { numpySkip, runPython } from '../../test/helpers/numpy.js';
import { checkSigmfMeta } from '../../test/helpers/sigmf-check.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-sigmf-out-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const signal = (): Dataset => createDefaultDatasets().get('signal') as Dataset;

/** Python: opens a .sigmf with tarfile, lists it, reads the data with numpy.frombuffer(complex64). */
const READ_ARCHIVE = `
import tarfile
t = tarfile.open(sys.argv[1])
members = [(m.name, m.type.decode(), m.size) for m in t.getmembers()]
name = members[0][0]
data = t.extractfile(f'{name}/{name}.sigmf-data').read()
meta = json.loads(t.extractfile(f'{name}/{name}.sigmf-meta').read().decode('utf-8'))
iq = np.frombuffer(data, dtype=np.complex64)
npz = np.load(sys.argv[2])
emit({'members': members, 'meta': meta, 'sha512': hashlib.sha512(data).hexdigest(),
      'equal': bool(np.array_equal(iq, npz['iq'])), 'n': int(iq.size),
      'npz_meta': json.loads(str(npz['meta'])), 'npz_sha512': hashlib.sha512(npz['iq'].tobytes()).hexdigest()})
`;

interface ArchiveRead {
  members: [string, string, number][];
  meta: Record<string, Record<string, unknown>>;
  sha512: string;
  equal: boolean;
  n: number;
  npz_meta: Record<string, Record<string, unknown>>;
  npz_sha512: string;
}

describe('SigMF out: signal as a SigMF Archive', () => {
  test('a ustar header carries its checksum, size and split path as POSIX says', () => {
    const h = ustarHeader(`${'a'.repeat(70)}/${'a'.repeat(70)}.sigmf-data`, 8000, 'file', 0);
    const text = (from: number, len: number): string =>
      Buffer.from(h.subarray(from, from + len))
        .toString('latin1')
        .replace(/\0.*$/s, '');
    assert.equal(text(0, 100), `${'a'.repeat(70)}.sigmf-data`);
    assert.equal(text(345, 155), 'a'.repeat(70));
    assert.equal(parseInt(text(124, 12), 8), 8000);
    assert.equal(text(257, 6), 'ustar');
    let sum = 0;
    h.forEach((b, i) => (sum += i >= 148 && i < 156 ? 0x20 : b));
    assert.equal(parseInt(text(148, 8), 8), sum);
  });

  for (const [label, extra] of [
    ['tone + noise', { snr_db: 20 }],
    ['fm, odd length', { modulation: 'fm', duration: 0.0123457 }],
  ] as const) {
    test(
      `${label}: tarfile opens it, numpy reads the data equal to the npz iq, meta is valid SigMF`,
      {
        skip: numpySkip(),
      },
      async () => {
        const ds = signal();
        const base = { frequency: 100e6, sample_rate: 250e3, duration: 0.05, seed: 7, ...extra };
        const ps = ds.validate({ ...base, format: 'sigmf' });
        const pn = ds.validate(base);
        const fileName = ds.fileName(ps);
        assert.match(fileName, /^signal_100000000_250000_.*\.sigmf$/);
        assert.match(ds.fileName(pn), /\.npz$/);
        const sigmfPath = join(dir, fileName);
        const npzPath = join(dir, ds.fileName(pn));
        const r = await ds.generate(ps, sigmfPath);
        await ds.generate(pn, npzPath);
        assert.equal(r.bytes, (await stat(sigmfPath)).size);
        assert.equal(ds.estimateBytes(ps), r.bytes, 'estimateBytes is exact');
        const py = await runPython<ArchiveRead>(READ_ARCHIVE, [sigmfPath, npzPath]);
        const name = fileName.replace(/\.sigmf$/, '');
        assert.deepEqual(
          py.members.map(([n, t]) => [n, t]),
          [
            [name, '5'],
            [`${name}/${name}.sigmf-data`, '0'],
            [`${name}/${name}.sigmf-meta`, '0'],
          ],
          'exactly the directory N and N/N.sigmf-data, N/N.sigmf-meta',
        );
        assert.equal(py.equal, true, 'the archive data equals the npz iq sample for sample');
        assert.equal(py.n, Math.round(base.duration * base.sample_rate));
        assert.deepEqual(checkSigmfMeta(py.meta, { sha512: py.sha512 }), []);
        assert.deepEqual(
          checkSigmfMeta(py.npz_meta, { sha512: py.npz_sha512 }),
          [],
          'the npz meta is valid too',
        );
        const g = py.meta['global'] as Record<string, unknown>;
        assert.equal(g['core:datatype'], 'cf32_le');
        assert.equal(g['core:sample_rate'], 250e3);
        assert.equal(g['core:num_channels'], 1);
        assert.deepEqual(g['core:extensions'], [{ name: 'sdrlink', version: '1.0.0', optional: true }]);
        const ann = py.meta['annotations'] as unknown as Record<string, unknown>[];
        assert.equal(ann.length, 1);
        assert.equal(ann[0]?.['core:sample_count'], py.n);
        assert.equal(ann[0]?.['core:label'], extra.modulation ?? 'tone');
        // the same samples, the same metadata but for the echoed format
        assert.equal(g['core:sha512'], py.npz_meta['global']?.['core:sha512']);
      },
    );
  }

  test('the checker catches what the spec forbids', () => {
    const good = {
      global: { 'core:datatype': 'cf32_le', 'core:version': '1.2.0' },
      captures: [{ 'core:sample_start': 0 }],
      annotations: [],
    };
    assert.deepEqual(checkSigmfMeta(good), []);
    assert.match(
      checkSigmfMeta({ ...good, global: { ...good.global, 'sdrlink:x': 1 } }).join(),
      /namespace sdrlink not declared/,
    );
    assert.match(checkSigmfMeta({ ...good, global: { ...good.global, x: 1 } }).join(), /not namespaced/);
    assert.match(
      checkSigmfMeta({ ...good, global: { ...good.global, 'core:datatype': 'cf32' } }).join(),
      /core:datatype/,
    );
    assert.match(
      checkSigmfMeta({ ...good, global: { 'core:datatype': 'ci16_le' } }).join(),
      /core:version: required/,
    );
    assert.match(
      checkSigmfMeta({
        ...good,
        captures: [{ 'core:sample_start': 0, 'core:datetime': '2024-01-01T00:00:00+01:00' }],
      }).join(),
      /core:datetime/,
    );
    assert.match(checkSigmfMeta(good, new Uint8Array(8)).join(), /core:sha512/);
    assert.match(
      checkSigmfMeta({
        ...good,
        annotations: [{ 'core:sample_start': 5 }, { 'core:sample_start': 1 }],
      }).join(),
      /not sorted/,
    );
  });

  test('format is checked like every parameter', () => {
    assert.throws(
      () => signal().validate({ frequency: 1e6, sample_rate: 1e6, duration: 1, format: 'wav' }),
      (err: unknown) =>
        err instanceof DatasetError &&
        err.code === 'ERR_PARAMS' &&
        err.message === 'parameters.format: must be one of npz, sigmf, got the string "wav"',
    );
  });

  test('the archive is deterministic: same parameters, same bytes', async () => {
    const ds = signal();
    const p = ds.validate({ frequency: 1e6, sample_rate: 1e5, duration: 0.01, snr_db: 3, format: 'sigmf' });
    await ds.generate(p, join(dir, 'a.sigmf'));
    await ds.generate(p, join(dir, 'b.sigmf'));
    assert.ok((await readFile(join(dir, 'a.sigmf'))).equals(await readFile(join(dir, 'b.sigmf'))));
  });

  test('buildSigmfMeta: a swept capture, one capture segment per tuning, valid SigMF', () => {
    const data = new Uint8Array(8 * 3000).map((_, i) => i % 251);
    const sha512 = createHash('sha512').update(data).digest('hex');
    const meta = buildSigmfMeta({
      datatype: 'cf32_le',
      sampleRate: 1e6,
      sha512,
      hw: 'stand-in rtl_sdr',
      captures: [0, 1000, 2000].map((n, k) => ({
        sampleStart: n,
        frequency: 100e6 + k * 0.8e6,
        datetime: new Date(Date.UTC(2026, 0, 1) + n / 1e3).toISOString(),
        sdrlink: { gain_db: 30 },
      })),
      annotations: [
        { sampleStart: 1000, sampleCount: 10, freqLowerEdge: 1, freqUpperEdge: 2, label: 'b' },
        { sampleStart: 0, sampleCount: 5, label: 'a' },
      ],
      sdrlink: { source: 'rtlsdr:0', dropped_samples: 0 },
    });
    assert.deepEqual(checkSigmfMeta(meta, data), []);
    assert.equal(meta.captures.length, 3);
    assert.equal(meta.captures[1]?.['sdrlink:gain_db'], 30);
    assert.deepEqual(
      meta.annotations.map((a) => a['core:label']),
      ['a', 'b'],
    );
    assert.equal(meta.global['sdrlink:dropped_samples'], 0);
    assert.throws(
      () => buildSigmfMeta({ datatype: 'cf32_le', captures: [{ sampleStart: 5, frequency: 1 }] }),
      RangeError,
    );
  });

  describe('extractSigmfArchive: the pair from an archive, which is untrusted', () => {
    let archive: Buffer;
    let name: string;
    before(async () => {
      const ds = signal();
      const p = ds.validate({
        frequency: 2e6,
        sample_rate: 1e5,
        duration: 0.02,
        snr_db: 10,
        format: 'sigmf',
      });
      name = ds.fileName(p).replace(/\.sigmf$/, '');
      await ds.generate(p, join(dir, 'x.sigmf'));
      archive = await readFile(join(dir, 'x.sigmf'));
    });

    test(
      'writes N.sigmf-meta and N.sigmf-data, NumPy reads the pair as SigMF',
      { skip: numpySkip() },
      async () => {
        const dest = join(dir, 'pair');
        await mkdir(dest);
        const pair = await extractSigmfArchive(join(dir, 'x.sigmf'), dest);
        assert.equal(pair.name, name);
        assert.deepEqual((await readdir(dest)).sort(), [`${name}.sigmf-data`, `${name}.sigmf-meta`]);
        const r = await runPython<{ meta: unknown; sha512: string; n: number; equal: boolean }>(
          `
import tarfile
x = np.fromfile(sys.argv[1], dtype=np.complex64); meta = json.load(open(sys.argv[2]))
t = tarfile.open(sys.argv[3]); n = t.getnames()[0]
y = np.frombuffer(t.extractfile(f'{n}/{n}.sigmf-data').read(), dtype=np.complex64)
emit({'meta': meta, 'sha512': hashlib.sha512(x.tobytes()).hexdigest(), 'n': int(x.size), 'equal': bool(np.array_equal(x, y))})`,
          [pair.dataPath, pair.metaPath, join(dir, 'x.sigmf')],
        );
        assert.equal(r.n, 2000);
        assert.equal(r.equal, true);
        assert.deepEqual(checkSigmfMeta(r.meta, { sha512: r.sha512 }), []);
      },
    );

    const refusedArchive = async (label: string, bytes: Buffer, why: RegExp): Promise<void> => {
      const path = join(dir, `${label}.sigmf`);
      await writeFile(path, bytes);
      const dest = join(dir, `out-${label}`);
      await mkdir(dest);
      await assert.rejects(extractSigmfArchive(path, dest), (err: unknown) => {
        assert.ok(err instanceof DatasetError, String(err));
        assert.equal(err.code, 'ERR_SOURCE');
        assert.match(err.message, why);
        return true;
      });
      assert.deepEqual(await readdir(dest), [], `${label}: nothing left behind`);
    };

    test('a flipped header byte, a changed sample, a truncation, a path of its own: ERR_SOURCE, nothing written', async () => {
      const flipped = Buffer.from(archive);
      flipped[5] = (flipped[5] as number) ^ 1;
      await refusedArchive('checksum', flipped, /bad checksum/);
      const sample = Buffer.from(archive);
      sample[1024 + 100] = (sample[1024 + 100] as number) ^ 0x40;
      await refusedArchive('sample', sample, /core:sha512 is not the SHA-512 of the data/);
      await refusedArchive('short', archive.subarray(0, 2048), /truncated/);
      const evil = Buffer.concat([
        ustarHeader('../evil/', 0, 'dir', 0),
        ustarHeader('../evil/../evil.sigmf-data', 0, 'file', 0),
        ustarHeader('../evil/../evil.sigmf-meta', 2, 'file', 0),
        Buffer.from('{}'.padEnd(512, '\0')),
        Buffer.alloc(1024),
      ]);
      await refusedArchive('evil', evil, /recording name "\.\.\/evil" is not a plain file name/);
      const extra = Buffer.concat([
        archive.subarray(0, archive.length - 1024),
        ustarHeader('x/x.sh', 0, 'file', 0),
        Buffer.alloc(1024),
      ]);
      await refusedArchive('extra', extra, /more than a directory and two files/);
    });
  });
});
