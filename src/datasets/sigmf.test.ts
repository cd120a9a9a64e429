/**
 * SigMF recordings: listing, reading every supported datatype, and `signal` / `spectrum` requests served
 * from recordings — checked against NumPy reading the same `.sigmf-data` files.
 * Fixtures in test/fixtures/sigmf were written by NumPy (test/helpers/make_sigmf_fixtures.py); more
 * recordings, valid and broken, are written by the tests themselves.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultDatasets, DatasetError, type Dataset } from './index.js';
import { interpretMeta, listRecordings, parseDatatype, scanRecordings } from './sigmf.js';
import { numpySkip, repoPath, runPython } from '../../test/helpers/numpy.js';

const FIXTURES = repoPath('test/fixtures/sigmf');
let dir: string;
let out: string;

/** Writes `<name>.sigmf-meta` and `<name>.sigmf-data` (raw values encoded per datatype). */
async function writeRecording(
  name: string,
  datatype: string,
  raw: number[],
  extra: Record<string, unknown> = {},
): Promise<void> {
  const f = parseDatatype(datatype);
  assert.ok(f !== undefined, datatype);
  const step = f.bits / 8;
  const buf = Buffer.alloc(raw.length * step);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.length);
  raw.forEach((x, i) => {
    const at = i * step;
    const le = f.littleEndian;
    if (f.kind === 'f') {
      if (f.bits === 32) v.setFloat32(at, x, le);
      else v.setFloat64(at, x, le);
    } else if (f.kind === 'i') {
      if (f.bits === 8) v.setInt8(at, x);
      else if (f.bits === 16) v.setInt16(at, x, le);
      else v.setInt32(at, x, le);
    } else if (f.bits === 8) v.setUint8(at, x);
    else if (f.bits === 16) v.setUint16(at, x, le);
    else v.setUint32(at, x, le);
  });
  await writeFile(join(dir, `${name}.sigmf-data`), buf);
  const meta = {
    global: { 'core:datatype': datatype, 'core:sample_rate': 48_000, 'core:version': '1.2.0' },
    captures: [{ 'core:sample_start': 0, 'core:frequency': 7.1e6 }],
    ...extra,
  };
  await writeFile(join(dir, `${name}.sigmf-meta`), JSON.stringify(meta));
}

/** Deterministic raw values spanning a type's range. */
function rawValues(datatype: string, count: number): number[] {
  const f = parseDatatype(datatype)!;
  const values: number[] = [];
  let x = 12345;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const u = x / 2 ** 32;
    if (f.kind === 'f') values.push((u - 0.5) * 3.3);
    else if (f.kind === 'i') values.push(Math.floor((u - 0.5) * 2 ** f.bits));
    else values.push(Math.floor(u * 2 ** f.bits));
  }
  return values;
}

const TYPES = [
  'cf32_le',
  'cf64_le',
  'ci32_le',
  'ci16_le',
  'ci16_be',
  'ci8',
  'cu8',
  'cu16_le',
  'rf32_le',
  'ri16_le',
  'ru8',
];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-sigmf-'));
  out = await mkdtemp(join(tmpdir(), 'sdrlink-sigmf-out-'));
  for (const t of TYPES) await writeRecording(`t-${t}`, t, rawValues(t, 2 * 600));
  await writeFile(join(dir, 'bad-json.sigmf-meta'), '{"global": ');
  await writeRecording('bad-type', 'cf32_le', rawValues('cf32_le', 8), {
    global: { 'core:datatype': 'cf16_le', 'core:sample_rate': 1 },
  });
  await writeFile(
    join(dir, 'no-data.sigmf-meta'),
    JSON.stringify({
      global: { 'core:datatype': 'cu8', 'core:sample_rate': 1 },
      captures: [{ 'core:sample_start': 0, 'core:frequency': 1 }],
    }),
  );
  await writeRecording('two-channels', 'ci8', rawValues('ci8', 8), {
    global: { 'core:datatype': 'ci8', 'core:sample_rate': 1, 'core:num_channels': 2 },
  });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});

test('datatypes: c/r × f32/f64/i32/i16/i8/u32/u16/u8, _le/_be where multi-byte', () => {
  assert.deepEqual(parseDatatype('cf32_le'), {
    complex: true,
    kind: 'f',
    bits: 32,
    littleEndian: true,
    bytesPerSample: 8,
  });
  assert.deepEqual(parseDatatype('cu8'), {
    complex: true,
    kind: 'u',
    bits: 8,
    littleEndian: true,
    bytesPerSample: 2,
  });
  assert.deepEqual(parseDatatype('ri16_be'), {
    complex: false,
    kind: 'i',
    bits: 16,
    littleEndian: false,
    bytesPerSample: 2,
  });
  for (const bad of ['cf32', 'cu8_le', 'cf16_le', 'ci64_le', 'xf32_le', 'CF32_LE', ''])
    assert.equal(parseDatatype(bad), undefined, bad);
});

test('the NumPy-written fixture folder lists its recordings', async () => {
  const list = await listRecordings(FIXTURES);
  assert.deepEqual(
    list.map((r) => [
      r.name,
      r.datatype,
      r.sampleRate,
      r.centerFrequency,
      r.samples,
      r.dataBytes,
      r.captures.length,
    ]),
    [
      ['retune-cf32', 'cf32_le', 1e6, 915e6, 8192, 65536, 2],
      ['rtl-cu8', 'cu8', 1.024e6, 100e6, 8192, 16384, 1],
      ['two-tones-ci16', 'ci16_le', 2e6, 433.9e6, 8192, 32768, 1],
    ],
  );
  assert.equal(list[1]!.duration, 8192 / 1.024e6);
  assert.equal(list[1]!.datetime, '2024-05-01T12:00:00Z');
  assert.match(list[1]!.description ?? '', /RTL-SDR/);
  assert.ok(list.every((r) => r.modifiedMs > 0));
});

test('broken recordings are reported with a reason, the good ones still listed', async () => {
  const scan = await scanRecordings(dir);
  assert.deepEqual(
    scan.recordings.map((r) => r.name),
    TYPES.map((t) => `t-${t}`).sort(),
  );
  const reasons = Object.fromEntries(scan.invalid.map((i) => [i.name, i.reason]));
  assert.match(reasons['bad-json'] ?? '', /not JSON/);
  assert.match(reasons['bad-type'] ?? '', /datatype "cf16_le" is not supported/);
  assert.match(reasons['no-data'] ?? '', /data file no-data\.sigmf-data is missing/);
  assert.match(reasons['two-channels'] ?? '', /2 channels/);
  await assert.rejects(
    scanRecordings(join(dir, 'nope')),
    (e: unknown) => e instanceof DatasetError && e.code === 'ERR_SOURCE',
  );
});

describe('requests served from recordings', () => {
  const reg = (): { signal: Dataset; spectrum: Dataset } => {
    const r = createDefaultDatasets({ recordingsDir: FIXTURES });
    return { signal: r.get('signal')!, spectrum: r.get('spectrum')! };
  };
  const fail = (fn: () => unknown, code: string, message: RegExp): void => {
    assert.throws(
      fn,
      (e: unknown) => e instanceof DatasetError && e.code === code && message.test(e.message),
    );
  };

  test('bad requests name the parameter and what is available', () => {
    const { signal, spectrum } = reg();
    fail(
      () => signal.validate({ recording: 'nope' }),
      'ERR_PARAMS',
      /^parameters\.recording: no recording named "nope" \(available: retune-cf32, rtl-cu8, two-tones-ci16\)$/,
    );
    fail(
      () => signal.validate({ recording: '../sigmf/rtl-cu8' }),
      'ERR_PARAMS',
      /^parameters\.recording: must be a recording name/,
    );
    fail(
      () => signal.validate({ recording: 'rtl-cu8', modulation: 'am' }),
      'ERR_PARAMS',
      /^parameters\.modulation: unknown parameter \(this request takes: recording, offset/,
    );
    fail(
      () => signal.validate({ recording: 'rtl-cu8', offset: 1 }),
      'ERR_PARAMS',
      /^parameters\.offset: 1 s is past the end of recording rtl-cu8/,
    );
    fail(
      () => signal.validate({ recording: 'rtl-cu8', offset: 0.005, duration: 0.005 }),
      'ERR_PARAMS',
      /^parameters\.duration: offset \+ duration .* runs past the end/,
    );
    fail(
      () => signal.validate({ recording: 'retune-cf32', duration: 0.006 }),
      'ERR_PARAMS',
      /crosses a retune of recording retune-cf32 \(915000000 Hz → 916000000 Hz at sample 4096\)/,
    );
    fail(
      () => signal.validate({ recording: 'two-tones-ci16', sample_rate: 3e5 }),
      'ERR_PARAMS',
      /^parameters\.sample_rate: must be the recording's rate 2000000 Hz divided by a whole number/,
    );
    fail(
      () => signal.validate({ recording: 'two-tones-ci16', frequency: 435e6 }),
      'ERR_PARAMS',
      /^parameters\.frequency: must lie within the captured band 432900000 Hz … 434900000 Hz/,
    );
    fail(
      () => signal.validate({ recording: 'two-tones-ci16', frequency: 434.8e6, sample_rate: 5e5 }),
      'ERR_PARAMS',
      /output band 434800000 Hz ± 250000 Hz must lie within/,
    );
    fail(
      () => spectrum.validate({ recording: 'rtl-cu8', frequency_start: 99e6, frequency_end: 100e6 }),
      'ERR_PARAMS',
      /^parameters\.frequency_start: the span 99000000 Hz … 100000000 Hz must lie within the captured band 99488000 Hz … 100512000 Hz of recording rtl-cu8$/,
    );
    fail(
      () =>
        spectrum.validate({
          recording: 'rtl-cu8',
          frequency_start: 100e6,
          frequency_end: 100.1e6,
          sample_rate: 2e6,
        }),
      'ERR_PARAMS',
      /^parameters\.sample_rate: recording rtl-cu8 was captured at 1024000 Hz/,
    );
    fail(
      () =>
        spectrum.validate({
          recording: 'rtl-cu8',
          frequency_start: 100e6,
          frequency_end: 100.1e6,
          fft_size: 16384,
        }),
      'ERR_PARAMS',
      /fewer than fft_size 16384/,
    );
    fail(
      () =>
        createDefaultDatasets()
          .get('spectrum')!
          .validate({ recording: 'rtl-cu8', frequency_start: 1, frequency_end: 2 }),
      'ERR_PARAMS',
      /serves no recordings/,
    );
  });

  test('derived values: slice in samples, datetime advanced by the offset, decimation', () => {
    const { signal } = reg();
    const p = signal.validate({
      recording: 'two-tones-ci16',
      offset: 0.001,
      duration: 0.001,
      sample_rate: 5e5,
    }) as Record<string, unknown>;
    assert.equal(p['startSample'], 2000);
    assert.equal(p['inputSamples'], 2000);
    assert.equal(p['samples'], 500);
    assert.equal(p['decimation'], 4);
    assert.equal(p['datetime'], '2024-05-01T12:00:00.501Z');
    assert.equal(p['frequency'], 433.9e6);
    assert.match(signal.fileName(p), /^signal_two-tones-ci16_[0-9a-f]{8}\.npz$/);
  });

  test(
    "signal slices equal NumPy's own reading of the .sigmf-data (cu8, ci16_le, cf32_le)",
    { skip: numpySkip() },
    async () => {
      const { signal } = reg();
      const cases: Array<[string, Record<string, unknown>, number, number]> = [
        ['rtl-cu8', { offset: 0.001, duration: 0.002 }, 1024, 2048],
        ['two-tones-ci16', {}, 0, 8192],
        ['retune-cf32', { offset: 0.0041 }, 4100, 4092],
      ];
      for (const [name, extra, start, count] of cases) {
        const p = signal.validate({ recording: name, ...extra });
        const path = join(out, `${name}.npz`);
        await signal.generate(p, path);
        const r = await runPython<{ equal: boolean; n: number; fc: number; meta: Record<string, unknown> }>(
          `
path, data, kind, start, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
d = np.load(path)
if kind == 'cu8':
    raw = (np.fromfile(data, dtype=np.uint8).astype(np.float32) - 128) / 128
elif kind == 'ci16_le':
    raw = np.fromfile(data, dtype='<i2').astype(np.float32) / 32768
else:
    raw = np.fromfile(data, dtype='<f4')
ref = raw.view(np.complex64)[start:start + count]
emit({'equal': bool(np.array_equal(d['iq'], ref)), 'n': int(d['iq'].size), 'fc': float(d['center_frequency']),
      'meta': json.loads(str(d['meta']))['global']['sdrlink:source']})`,
          [
            path,
            join(FIXTURES, `${name}.sigmf-data`),
            (p as { info: { datatype: string } }).info.datatype,
            String(start),
            String(count),
          ],
        );
        assert.equal(r.n, count, name);
        assert.ok(r.equal, `${name}: samples differ from NumPy's reading`);
        assert.equal(r.meta['sample_start'], start);
        if (name === 'retune-cf32') assert.equal(r.fc, 916e6);
      }
    },
  );

  test('every supported datatype converts as NumPy converts it', { skip: numpySkip() }, async () => {
    const r = createDefaultDatasets({ recordingsDir: dir }).get('signal')!;
    const args: string[] = [];
    for (const t of TYPES) {
      const path = join(out, `t-${t}.npz`);
      await r.generate(r.validate({ recording: `t-${t}` }), path);
      args.push(t, path, join(dir, `t-${t}.sigmf-data`));
    }
    const res = await runPython<Record<string, boolean>>(
      `
conv = {'f': (None, 0, 1), 'i': (None, 0, None), 'u': (None, None, None)}
res = {}
a = sys.argv[1:]
for t, path, data in zip(a[0::3], a[1::3], a[2::3]):
    cplx = t[0] == 'c'; kind = t[1]; bits = int(t[2:].split('_')[0]); order = '>' if t.endswith('_be') else '<'
    raw = np.fromfile(data, dtype=np.dtype(order + kind + str(bits // 8))).astype(np.float64)
    if kind == 'i':
        raw = raw / 2 ** (bits - 1)
    elif kind == 'u':
        raw = (raw - 2 ** (bits - 1)) / 2 ** (bits - 1)
    raw = raw.astype(np.float32)
    if not cplx:
        raw = np.stack([raw, np.zeros_like(raw)], axis=1).reshape(-1)
    ref = raw.view(np.complex64)
    res[t] = bool(np.array_equal(np.load(path)['iq'], ref))
emit(res)`,
      args,
    );
    assert.deepEqual(res, Object.fromEntries(TYPES.map((t) => [t, true])));
  });

  test(
    'frequency shift and decimation: the chosen tone at 0 Hz, the other filtered out',
    { skip: numpySkip() },
    async () => {
      const { signal } = reg();
      const shifted = join(out, 'shifted.npz');
      const decimated = join(out, 'decimated.npz');
      await signal.generate(signal.validate({ recording: 'two-tones-ci16', frequency: 433.6e6 }), shifted);
      await signal.generate(
        signal.validate({ recording: 'two-tones-ci16', frequency: 433.6e6, sample_rate: 5e5 }),
        decimated,
      );
      const r = await runPython<Record<string, number>>(
        `
def peak(path):
    d = np.load(path); iq = d['iq'].astype(np.complex128)
    X = np.abs(np.fft.fft(iq * np.hanning(iq.size))); f = np.fft.fftfreq(iq.size, 1 / float(d['sample_rate']))
    return X, f, d
X, f, d = peak(sys.argv[1])
Y, g, e = peak(sys.argv[2])
# Where the +600 kHz tone would alias without the low-pass: 433.9 MHz + 600 kHz - 433.6 MHz = 900 kHz -> -100 kHz at 500 kS/s.
alias = np.abs(g + 100e3) < 3e3
emit({'shift_peak': float(f[np.argmax(X)]), 'fc': float(d['center_frequency']),
      'dec_peak': float(g[np.argmax(Y)]), 'dec_rate': float(e['sample_rate']), 'dec_n': int(e['iq'].size),
      'rejection_db': float(20 * np.log10(Y.max() / Y[alias].max()))})`,
        [shifted, decimated],
      );
      assert.equal(r['fc'], 433.6e6);
      assert.ok(Math.abs(r['shift_peak']!) < 2e6 / 8192, `shifted peak at ${r['shift_peak']}`);
      assert.equal(r['dec_rate'], 5e5);
      assert.equal(r['dec_n'], 2048);
      assert.ok(Math.abs(r['dec_peak']!) < 5e5 / 2048, `decimated peak at ${r['dec_peak']}`);
      assert.ok(r['rejection_db']! > 60, `alias only ${r['rejection_db']} dB down`);
    },
  );

  test(
    'spectrum of a recording equals Welch computed by NumPy on the same samples',
    { skip: numpySkip() },
    async () => {
      const { spectrum } = reg();
      const cases: Array<[string, Record<string, unknown>]> = [
        [
          'hann',
          { recording: 'two-tones-ci16', frequency_start: 433.0e6, frequency_end: 434.8e6, fft_size: 512 },
        ],
        [
          'blackman',
          {
            recording: 'rtl-cu8',
            frequency_start: 99.6e6,
            frequency_end: 100.4e6,
            fft_size: 256,
            window: 'blackman',
            averages: 20,
            offset: 0.001,
          },
        ],
        [
          'rect',
          {
            recording: 'retune-cf32',
            frequency_start: 915.5e6,
            frequency_end: 916.5e6,
            fft_size: 1024,
            window: 'rect',
            offset: 0.0041,
          },
        ],
      ];
      for (const [label, params] of cases) {
        const p = spectrum.validate(params) as Record<string, unknown> & {
          info: { datatype: string };
          startSample: number;
          averages: number;
        };
        const path = join(out, `spec-${label}.npz`);
        await spectrum.generate(p, path);
        const r = await runPython<{
          max_diff_db: number;
          freq_diff: number;
          n: number;
          averages: number;
          in_span: boolean;
        }>(
          `
path, data, kind, win, nfft, start, nseg, f0, f1 = sys.argv[1:10]
nfft = int(nfft); start = int(start); nseg = int(nseg)
if kind == 'cu8':
    raw = (np.fromfile(data, dtype=np.uint8).astype(np.float64) - 128) / 128
elif kind == 'ci16_le':
    raw = np.fromfile(data, dtype='<i2').astype(np.float64) / 32768
else:
    raw = np.fromfile(data, dtype='<f4').astype(np.float64)
x = (raw[0::2] + 1j * raw[1::2])[start:]
meta = json.loads(str(np.load(path)['meta']))
fs = meta['global']['sdrlink:sample_rate']; fc = meta['global']['sdrlink:recording']['center_frequency']
k = np.arange(nfft)
w = {'hann': 0.5 - 0.5 * np.cos(2 * np.pi * k / nfft),
     'blackman': 0.42 - 0.5 * np.cos(2 * np.pi * k / nfft) + 0.08 * np.cos(4 * np.pi * k / nfft),
     'rect': np.ones(nfft)}[win]
segs = np.stack([x[i * nfft // 2: i * nfft // 2 + nfft] for i in range(nseg)])
psd = np.fft.fftshift((np.abs(np.fft.fft(segs * w, axis=1)) ** 2).mean(axis=0) / (fs * (w ** 2).sum()))
freqs = fc + (np.arange(nfft) - nfft // 2) * fs / nfft
sel = (freqs >= float(f0)) & (freqs <= float(f1))
d = np.load(path)
ref = 10 * np.log10(psd[sel])
emit({'max_diff_db': float(np.abs(d['power_db'] - ref).max()), 'freq_diff': float(np.abs(d['frequencies'] - freqs[sel]).max()),
      'n': int(d['power_db'].size), 'averages': meta['global']['sdrlink:averages'],
      'in_span': bool(d['frequencies'][0] >= float(f0) and d['frequencies'][-1] <= float(f1))})`,
          [
            path,
            join(FIXTURES, `${String(params['recording'])}.sigmf-data`),
            p.info.datatype,
            String(params['window'] ?? 'hann'),
            String(params['fft_size']),
            String(p.startSample),
            String(p.averages),
            String(params['frequency_start']),
            String(params['frequency_end']),
          ],
        );
        assert.ok(r.max_diff_db < 1e-4, `${label}: differs from NumPy Welch by ${r.max_diff_db} dB`);
        assert.ok(r.freq_diff < 1e-3, `${label}: frequencies off by ${r.freq_diff} Hz`);
        assert.ok(r.in_span, label);
        assert.equal(r.n, p['bins'], label);
        assert.equal(r.averages, p.averages, label);
      }
    },
  );
});

// Found by test/fuzz/datasets.fuzz.test.ts: String() on a parsed `{"toString":0}` threw a TypeError.
test('a core:num_channels object with a toString key is refused with ERR_SOURCE, not a TypeError', () => {
  const meta = JSON.stringify({
    global: { 'core:datatype': 'cf32_le', 'core:sample_rate': 1, 'core:num_channels': { toString: 0 } },
    captures: [{ 'core:sample_start': 0, 'core:frequency': 1 }],
  });
  assert.throws(
    () => interpretMeta('rec', '/r', meta, () => ({ size: 1024, mtimeMs: 1 })),
    (err: unknown) =>
      err instanceof DatasetError && err.code === 'ERR_SOURCE' && /channels/.test(err.message),
  );
});
