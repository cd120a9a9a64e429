import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { createDefaultDatasets, type Dataset as DatasetModule } from '../../datasets/index.js';
import { npyHeader, encodeUnicodeArray, type NpyArraySpec } from '../../datasets/npy-header.js';
import { numpySkip, runPython } from '../../../test/helpers/numpy.js';
import { ViewError, type ViewErrorCode } from './errors.js';
import { readNpy } from './npy.js';
import { readDataset, readNpz } from './npz.js';
import { readZip } from './zip.js';
import { readTar } from './sigmf.js';
import { ustarHeader } from '../../datasets/sigmf-out.js';

let dir: string;
const files: Record<'spectrum' | 'signal' | 'spectrogram' | 'sigmf', Uint8Array> = {} as never;
const TONE = {
  frequency: 100.0123e6,
  center_frequency: 100e6,
  sample_rate: 250e3,
  duration: 0.01,
  amplitude: 0.5,
};

async function generate(type: string, params: Record<string, unknown>): Promise<Uint8Array> {
  const ds = createDefaultDatasets().get(type) as DatasetModule;
  const p = ds.validate(params);
  const path = join(dir, ds.fileName(p));
  await ds.generate(p, path);
  return new Uint8Array(await readFile(path));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-view-'));
  files.spectrum = await generate('spectrum', {
    frequency_start: 100e6,
    frequency_end: 101e6,
    sample_rate: 1e6,
    fft_size: 256,
    averages: 4,
    emitters: 2,
  });
  files.signal = await generate('signal', TONE);
  files.sigmf = await generate('signal', { ...TONE, format: 'sigmf' });
  files.spectrogram = await generate('spectrogram', {
    frequency_start: 100e6,
    frequency_end: 100.5e6,
    sample_rate: 1e6,
    duration: 0.05,
    fft_size: 128,
    time_resolution: 0.005,
  });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function refused(code: ViewErrorCode, fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ViewError, `expected a ViewError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

/** An `.npy` file: our writer's header for `spec` (or a hand-written header text) and the data. */
function npy(spec: NpyArraySpec | string, data: Uint8Array): Uint8Array {
  let header: Uint8Array;
  if (typeof spec === 'string') {
    const text = `${spec}\n`;
    header = new Uint8Array(10 + text.length);
    header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
    new DataView(header.buffer).setUint16(8, text.length, true);
    for (let i = 0; i < text.length; i++) header[10 + i] = text.charCodeAt(i);
  } else header = npyHeader(spec);
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const metaNpy = (text: string): Uint8Array => {
  const m = encodeUnicodeArray([text]);
  return npy({ descr: m.descr, shape: [] }, m.data);
};

/** The entries of one of our files, as `name → bytes`, to rebuild variants of it. */
function entriesOf(bytes: Uint8Array): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const e of readZip(bytes)) out[e.name] = e.data.slice();
  return out;
}

describe('npz reader: the files our datasets write', () => {
  test('spectrum: frequencies on the sweep grid, power in dB, SigMF meta', () => {
    const d = readDataset(files.spectrum);
    assert.equal(d.kind, 'spectrum');
    if (d.kind !== 'spectrum') return;
    const binHz = 1e6 / 256;
    assert.equal(d.frequencies.length, Math.floor(1e6 / binHz + 1e-9) + 1);
    assert.equal(d.powerDb.length, d.frequencies.length);
    assert.ok(d.powerDb instanceof Float32Array);
    d.frequencies.forEach((f, j) => assert.ok(Math.abs(f - (100e6 + j * binHz)) < 1e-3, `bin ${j}`));
    assert.ok(d.powerDb.every((x) => Number.isFinite(x)));
    const global = d.meta['global'] as Record<string, unknown>;
    assert.equal(global['sdrlink:parameters'] !== undefined, true);
    assert.equal((global['sdrlink:parameters'] as Record<string, unknown>)['fft_size'], 256);
  });

  test('signal: the complex64 samples are the tone that was asked for', () => {
    const d = readDataset(files.signal);
    assert.equal(d.kind, 'signal');
    if (d.kind !== 'signal') return;
    assert.equal(d.sampleRate, TONE.sample_rate);
    assert.equal(d.centerFrequency, TONE.center_frequency);
    const n = Math.round(TONE.duration * TONE.sample_rate);
    assert.equal(d.iq.length, 2 * n);
    const w = (2 * Math.PI * (TONE.frequency - TONE.center_frequency)) / TONE.sample_rate;
    // A tone of amplitude A: |x[n]| = A and x[n+1]/x[n] = e^{iω}.
    for (let k = 0; k + 1 < n; k += 97) {
      const [i0, q0, i1, q1] = [d.iq[2 * k], d.iq[2 * k + 1], d.iq[2 * k + 2], d.iq[2 * k + 3]] as number[];
      assert.ok(Math.abs(Math.hypot(i0 as number, q0 as number) - TONE.amplitude) < 1e-5, `sample ${k}`);
      const step = Math.atan2(
        (q1 as number) * (i0 as number) - (i1 as number) * (q0 as number),
        (i1 as number) * (i0 as number) + (q1 as number) * (q0 as number),
      );
      assert.ok(Math.abs(step - w) < 1e-4, `phase step at ${k}: ${step} vs ${w}`);
    }
    const captures = d.meta['captures'] as Array<Record<string, unknown>>;
    assert.equal(captures[0]?.['core:frequency'], TONE.center_frequency);
  });

  test('spectrogram: power_db [time, freq] with its times and frequencies', () => {
    const d = readDataset(files.spectrogram);
    assert.equal(d.kind, 'spectrogram');
    if (d.kind !== 'spectrogram') return;
    assert.equal(d.powerDb.length, d.rows * d.bins);
    assert.equal(d.frequencies.length, d.bins);
    assert.equal(d.times.length, d.rows);
    assert.ok(d.rows >= 5, `${d.rows} rows`);
    for (let r = 1; r < d.rows; r++) assert.ok((d.times[r] as number) > (d.times[r - 1] as number));
    assert.ok(Math.abs((d.frequencies[0] as number) - 100e6) < 1e-3);
  });

  test('a deflated archive (as np.savez_compressed writes) reads to the same arrays as the stored one', () => {
    for (const bytes of [files.spectrum, files.signal, files.spectrogram]) {
      const deflated = zipSync(entriesOf(bytes), { level: 6 });
      assert.notEqual(deflated.length, bytes.length);
      assert.deepEqual(readDataset(deflated), readDataset(bytes));
    }
  });

  test('ZIP64 records (what our writer and NumPy write past 2 GiB) are read: the same arrays', () => {
    // Rewrites a small archive into the ZIP64 form: every central entry's sizes and offset moved into a
    // ZIP64 extra field (APPNOTE §4.5.3), then a ZIP64 end record and locator before the classic one.
    const src = files.spectrum;
    const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
    const eocd = src.length - 22;
    const count = sv.getUint16(eocd + 10, true);
    const cdOffset = sv.getUint32(eocd + 16, true);
    const central: Uint8Array[] = [];
    for (let i = 0, p = cdOffset; i < count; i++) {
      const nameLen = sv.getUint16(p + 28, true);
      const rec = new Uint8Array(46 + nameLen + 28);
      rec.set(src.subarray(p, p + 46 + nameLen));
      const v = new DataView(rec.buffer);
      const [size, offset] = [v.getUint32(24, true), v.getUint32(42, true)];
      v.setUint32(20, 0xffffffff, true);
      v.setUint32(24, 0xffffffff, true);
      v.setUint32(42, 0xffffffff, true);
      v.setUint16(30, 28, true);
      const x = 46 + nameLen;
      v.setUint16(x, 0x0001, true);
      v.setUint16(x + 2, 24, true);
      v.setBigUint64(x + 4, BigInt(size), true);
      v.setBigUint64(x + 12, BigInt(size), true);
      v.setBigUint64(x + 20, BigInt(offset), true);
      central.push(rec);
      p += 46 + nameLen + sv.getUint16(p + 30, true) + sv.getUint16(p + 32, true);
    }
    const cdSize = central.reduce((n, r) => n + r.length, 0);
    const end = new Uint8Array(56 + 20 + 22);
    const v = new DataView(end.buffer);
    v.setUint32(0, 0x06064b50, true);
    v.setBigUint64(4, 44n, true);
    v.setBigUint64(24, BigInt(count), true);
    v.setBigUint64(32, BigInt(count), true);
    v.setBigUint64(40, BigInt(cdSize), true);
    v.setBigUint64(48, BigInt(cdOffset), true);
    v.setUint32(56, 0x07064b50, true);
    v.setBigUint64(64, BigInt(cdOffset + cdSize), true);
    v.setUint32(72, 1, true);
    v.setUint32(76, 0x06054b50, true);
    v.setUint16(76 + 8, 0xffff, true);
    v.setUint16(76 + 10, 0xffff, true);
    v.setUint32(76 + 12, 0xffffffff, true);
    v.setUint32(76 + 16, 0xffffffff, true);
    const zip64 = new Uint8Array(cdOffset + cdSize + end.length);
    zip64.set(src.subarray(0, cdOffset));
    let at = cdOffset;
    for (const r of central) {
      zip64.set(r, at);
      at += r.length;
    }
    zip64.set(end, at);
    assert.deepEqual(readDataset(zip64), readDataset(src));
    // A locator pointing at garbage is refused, not followed.
    const broken = zip64.slice();
    new DataView(broken.buffer).setBigUint64(at + 56 + 8, 3n, true);
    refused('ERR_VIEW_ZIP', () => readDataset(broken), /ZIP64 end of central directory/);
  });

  test(
    'NumPy savez_compressed output is read: values as NumPy holds them',
    { skip: numpySkip() },
    async () => {
      const path = join(dir, 'np.npz');
      const expected = await runPython<{ a: number[]; c: number[][]; u: string }>(
        `
a = np.linspace(-3.5, 7.25, 11, dtype='<f4')
c = (np.arange(6) + 1j * np.arange(6)[::-1]).astype('<c8')
i = np.arange(-4, 4, dtype='<i2').reshape(2, 4)
np.savez_compressed(sys.argv[1], a=a, c=c, i=i, u=np.array('{"x": "é"}'))
emit({'a': a.tolist(), 'c': [[z.real, z.imag] for z in c.tolist()], 'u': str(np.array('{"x": "é"}'))})
`,
        [path],
      );
      const arrays = readNpz(new Uint8Array(await readFile(path)));
      const a = arrays.get('a');
      assert.ok(a?.kind === 'numeric');
      assert.deepEqual(Array.from(a.data), expected.a);
      const c = arrays.get('c');
      assert.ok(c?.kind === 'numeric' && c.complex);
      assert.deepEqual(Array.from(c.data), expected.c.flat());
      const i = arrays.get('i');
      assert.ok(i?.kind === 'numeric');
      assert.deepEqual(i.shape, [2, 4]);
      assert.deepEqual(Array.from(i.data), [-4, -3, -2, -1, 0, 1, 2, 3]);
      const u = arrays.get('u');
      assert.ok(u?.kind === 'string');
      assert.deepEqual(u.data, [expected.u]);
    },
  );
});

describe('npz reader: damaged and foreign files are refused with a code', () => {
  test('truncated archives: ERR_VIEW_ZIP', () => {
    const f = files.spectrum;
    for (const keep of [0, 10, 100, Math.floor(f.length / 2), f.length - 30, f.length - 1]) {
      refused('ERR_VIEW_ZIP', () => readDataset(f.subarray(0, keep)), /not a readable \.npz/);
    }
  });

  test('a flipped data byte fails the CRC-32: ERR_VIEW_ZIP', () => {
    const f = files.signal.slice();
    f[200] = (f[200] as number) ^ 0x40;
    refused('ERR_VIEW_ZIP', () => readDataset(f), /iq\.npy: CRC-32 mismatch/);
  });

  test('not a ZIP at all (text; a tar-like block without the ustar magic): ERR_VIEW_ZIP', () => {
    refused('ERR_VIEW_ZIP', () => readDataset(new TextEncoder().encode('hello, this is not an archive')));
    const tar = new Uint8Array(2048);
    tar.set(new TextEncoder().encode('rec/rec.sigmf-meta'), 0);
    refused('ERR_VIEW_ZIP', () => readDataset(tar));
  });

  test('an encrypted entry, an unknown method, a deflate stream longer than declared: ERR_VIEW_ZIP', () => {
    const base = zipSync({ 'a.npy': npy({ descr: '<f4', shape: [4] }, new Uint8Array(16)) }, { level: 0 });
    const cd = base.length - 22 - 46 - 'a.npy'.length;
    const enc = base.slice();
    enc[cd + 8] = 1; // central directory general purpose flags: bit 0 encrypted
    refused('ERR_VIEW_ZIP', () => readNpz(enc), /encrypted/);
    const method = base.slice();
    method[cd + 10] = 12; // bzip2
    refused('ERR_VIEW_ZIP', () => readNpz(method), /compression method 12/);
    // A deflated entry that inflates past the size its header states (a "zip bomb" in miniature).
    const bomb = zipSync({ 'a.npy': new Uint8Array(100_000) }, { level: 9 });
    const v = new DataView(bomb.buffer);
    const cd2 = bomb.length - 22 - 46 - 'a.npy'.length;
    v.setUint32(cd2 + 24, 1000, true);
    refused('ERR_VIEW_ZIP', () => readNpz(bomb), /a\.npy: CRC-32 mismatch/);
    v.setUint32(cd2 + 24, 2 ** 31, true);
    refused('ERR_VIEW_ZIP', () => readNpz(bomb), /a\.npy: declares 2147483648 bytes/);
  });

  test('damaged SigMF Archives: ERR_VIEW_TAR; foreign recordings: ERR_VIEW_DTYPE, ERR_VIEW_DATASET', () => {
    const f = files.sigmf;
    for (const keep of [600, 1024 + 100, f.length - 1024]) {
      refused('ERR_VIEW_TAR', () => readDataset(f.subarray(0, keep)), /not a readable SigMF archive/);
    }
    const sum = f.slice();
    sum[600] = (sum[600] as number) ^ 1; // inside the second header
    refused('ERR_VIEW_TAR', () => readDataset(sum), /bad checksum/);

    // Archives built member by member, with our own ustar writer.
    const tar = (members: Array<[string, Uint8Array]>): Uint8Array => {
      const parts: Uint8Array[] = [];
      for (const [path, data] of members) {
        parts.push(
          ustarHeader(path, data.length, 'file', 0),
          data,
          new Uint8Array((512 - (data.length % 512)) % 512),
        );
      }
      parts.push(new Uint8Array(1024));
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    };
    const original = readTar(f);
    const [metaPath, metaBytes] = [...original].find(([p]) => p.endsWith('.sigmf-meta')) as [
      string,
      Uint8Array,
    ];
    const [dataPath, data] = [...original].find(([p]) => p.endsWith('.sigmf-data')) as [string, Uint8Array];
    const meta = JSON.parse(new TextDecoder().decode(metaBytes)) as { global: Record<string, unknown> };
    const withGlobal = (g: Record<string, unknown>, d = data): Uint8Array =>
      tar([
        [metaPath, new TextEncoder().encode(JSON.stringify({ ...meta, global: { ...meta.global, ...g } }))],
        [dataPath, d],
      ]);
    assert.equal(readDataset(withGlobal({})).kind, 'signal'); // the rebuilt archive itself is fine
    refused('ERR_VIEW_DTYPE', () => readDataset(withGlobal({ 'core:datatype': 'rf32_le' })), /rf32_le/);
    refused('ERR_VIEW_DATASET', () => readDataset(withGlobal({ 'core:num_channels': 2 })), /num_channels/);
    refused('ERR_VIEW_DATASET', () => readDataset(withGlobal({ 'core:sample_rate': -1 })), /sample_rate/);
    refused('ERR_VIEW_DATASET', () => readDataset(withGlobal({}, data.subarray(0, 12))), /not whole cf32_le/);
    refused('ERR_VIEW_DATASET', () => readDataset(tar([[dataPath, data]])), /0 \.sigmf-meta files/);
    refused('ERR_VIEW_DATASET', () => readDataset(tar([[metaPath, metaBytes]])), /no \.sigmf-data/);
    refused(
      'ERR_VIEW_DATASET',
      () =>
        readDataset(
          tar([
            [metaPath, new TextEncoder().encode('{oops')],
            [dataPath, data],
          ]),
        ),
      /not JSON/,
    );
    // ci16_le: scaled to full scale ±1.
    const ci16 = new Int16Array([16384, -32768, 0, 32767]);
    const d = readDataset(withGlobal({ 'core:datatype': 'ci16_le' }, new Uint8Array(ci16.buffer)));
    assert.ok(d.kind === 'signal');
    assert.deepEqual(Array.from(d.iq), [0.5, -1, 0, 32767 / 32768]);
  });

  test('bad .npy headers: ERR_VIEW_NPY', () => {
    const data = new Uint8Array(16);
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['no magic', new TextEncoder().encode('NUMPY not really'), /magic/],
      ['version 9', Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 9, 0, 0, 0), /version 9/],
      ['not a dict', npy("['descr', '<f4']", data), /not a dict/],
      ['unterminated', npy("{'descr': '<f4, 'fortran_order': False, 'shape': (4,), }", data), /header/],
      ['garbage', npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (4,), }", data), /unexpected token/],
      ['no shape', npy("{'descr': '<f4', 'fortran_order': False, }", data), /shape/],
      ['negative shape', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", data), /shape/],
      ['fortran order', npy({ descr: '<f4', shape: [2, 2], fortranOrder: true }, data), /Fortran/],
      ['short data', npy({ descr: '<f4', shape: [5] }, data), /16 bytes of data, 20 expected/],
      ['long data', npy({ descr: '<f4', shape: [3] }, data), /16 bytes of data, 12 expected/],
      ['header past the end', npy({ descr: '<f4', shape: [4] }, data).subarray(0, 40), /truncated header/],
    ];
    for (const [what, bytes, message] of cases) {
      assert.throws(
        () => readNpy(bytes, 'x.npy'),
        (err: unknown) =>
          err instanceof ViewError && err.code === 'ERR_VIEW_NPY' && message.test(err.message),
        what,
      );
    }
  });

  test('dtypes it does not read: ERR_VIEW_DTYPE', () => {
    for (const descr of ["'>f4'", "'|O'", "'<f2'", "'<M8[ns]'", "[('a', '<f4'), ('b', '<f4')]"]) {
      refused(
        'ERR_VIEW_DTYPE',
        () =>
          readNpy(
            npy(`{'descr': ${descr}, 'fortran_order': False, 'shape': (2,), }`, new Uint8Array(16)),
            'x.npy',
          ),
        /not supported/,
      );
    }
  });

  test('an archive that is not one of our datasets: ERR_VIEW_DATASET', () => {
    const sig = entriesOf(files.signal);
    const spec = entriesOf(files.spectrum);
    const variants: Array<[string, Record<string, Uint8Array>, RegExp]> = [
      ['empty', {}, /no iq or power_db/],
      ['no meta', { ...spec, 'meta.npy': undefined as never }, /meta is missing/],
      ['meta not JSON', { ...spec, 'meta.npy': metaNpy('{not json') }, /meta is not JSON/],
      ['meta an array', { ...spec, 'meta.npy': metaNpy('[1, 2]') }, /not a JSON object/],
      [
        'meta numeric',
        { ...spec, 'meta.npy': npy({ descr: '<f8', shape: [] }, new Uint8Array(8)) },
        /meta has dtype <f8/,
      ],
      [
        'iq real',
        { ...sig, 'iq.npy': npy({ descr: '<f4', shape: [4] }, new Uint8Array(16)) },
        /iq has dtype <f4/,
      ],
      ['no sample_rate', { ...sig, 'sample_rate.npy': undefined as never }, /sample_rate is missing/],
      [
        'sample_rate zero',
        { ...sig, 'sample_rate.npy': npy({ descr: '<f8', shape: [] }, bytesOf(Float64Array.of(0))) },
        /sample_rate is not positive/,
      ],
      [
        'lengths differ',
        { ...spec, 'frequencies.npy': npy({ descr: '<f8', shape: [3] }, bytesOf(Float64Array.of(1, 2, 3))) },
        /frequencies has 3 values/,
      ],
      [
        'frequencies falling',
        {
          ...spec,
          'frequencies.npy': npy({ descr: '<f8', shape: [3] }, bytesOf(Float64Array.of(3, 2, 1))),
          'power_db.npy': npy({ descr: '<f4', shape: [3] }, new Uint8Array(12)),
        },
        /frequencies must rise strictly, but value 1 \(2\) follows 3/,
      ],
      [
        'frequencies NaN',
        {
          ...spec,
          'frequencies.npy': npy({ descr: '<f8', shape: [2] }, bytesOf(Float64Array.of(1, Number.NaN))),
          'power_db.npy': npy({ descr: '<f4', shape: [2] }, new Uint8Array(8)),
        },
        /frequencies must rise strictly/,
      ],
      [
        'frequencies infinite',
        {
          ...spec,
          'frequencies.npy': npy(
            { descr: '<f8', shape: [1] },
            bytesOf(Float64Array.of(Number.POSITIVE_INFINITY)),
          ),
          'power_db.npy': npy({ descr: '<f4', shape: [1] }, new Uint8Array(4)),
        },
        /frequencies holds a value that is not finite/,
      ],
      [
        'no bins',
        {
          ...spec,
          'frequencies.npy': npy({ descr: '<f8', shape: [0] }, new Uint8Array(0)),
          'power_db.npy': npy({ descr: '<f4', shape: [0] }, new Uint8Array(0)),
        },
        /frequencies is empty/,
      ],
      [
        'power complex',
        { ...spec, 'power_db.npy': npy({ descr: '<c8', shape: [2] }, new Uint8Array(16)) },
        /power_db has dtype <c8/,
      ],
    ];
    for (const [what, entries, message] of variants) {
      const defined = Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined));
      assert.throws(
        () => readDataset(zipSync(defined, { level: 0 })),
        (err: unknown) =>
          err instanceof ViewError && err.code === 'ERR_VIEW_DATASET' && message.test(err.message),
        what,
      );
    }
  });
});
