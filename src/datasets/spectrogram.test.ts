import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDefaultDatasets,
  DatasetError,
  SpectrogramBuilder,
  spectrogramRows,
  type Dataset,
} from './index.js';
import { numpySkip, runPython } from '../../test/helpers/numpy.js';
import { checkSigmfMeta } from '../../test/helpers/sigmf-check.js';

let dir: string;
let rec: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-spectrogram-'));
  rec = join(dir, 'rec');
  await mkdir(rec);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const registry = (o: Parameters<typeof createDefaultDatasets>[0] = {}) =>
  createDefaultDatasets({ recordingsDir: rec, ...o });
const spectrogram = (o: Parameters<typeof createDefaultDatasets>[0] = {}): Dataset =>
  registry(o).get('spectrogram') as Dataset;

function refused(fn: () => unknown, message: string | RegExp, code = 'ERR_PARAMS'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DatasetError, String(err));
    assert.equal(err.code, code);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

/** Writes a cf32_le recording: a full-scale tone at `offsetHz` from the center, on in samples [a, b). */
async function toneRecording(name: string, n: number, fs: number, offsetHz: number, a: number, b: number) {
  const x = new Float32Array(2 * n);
  for (let i = a; i < b; i++) {
    x[2 * i] = Math.cos((2 * Math.PI * offsetHz * i) / fs);
    x[2 * i + 1] = Math.sin((2 * Math.PI * offsetHz * i) / fs);
  }
  await writeFile(join(rec, `${name}.sigmf-data`), x);
  await writeFile(
    join(rec, `${name}.sigmf-meta`),
    JSON.stringify({
      global: { 'core:datatype': 'cf32_le', 'core:sample_rate': fs, 'core:version': '1.2.0' },
      captures: [
        { 'core:sample_start': 0, 'core:frequency': 433.92e6, 'core:datetime': '2024-05-01T12:00:00Z' },
      ],
      annotations: [],
    }),
  );
}

describe('spectrogram: parameters are validated before any work', () => {
  const ok = { frequency_start: 100e6, frequency_end: 100.5e6, sample_rate: 1e6, duration: 0.1 };
  test('a precise ERR_PARAMS for each mistake', () => {
    const ds = spectrogram();
    assert.ok(ds.validate(ok));
    refused(
      () => ds.validate({ ...ok, frequency_end: 102e6 }),
      'parameters.frequency_end: a spectrogram is one tuned capture: the span 2000000 Hz must be at most sample_rate (1000000 Hz); raise sample_rate or request a spectrum (swept) for a wider band',
    );
    refused(
      () => ds.validate({ ...ok, time_resolution: 0.0001 }),
      'parameters.time_resolution: must be at least fft_size / sample_rate = 0.001024 s (one FFT segment), got 0.0001',
    );
    refused(
      () => ds.validate({ ...ok, duration: 0.005 }),
      'parameters.duration: duration 0.005 s holds 5000 samples, fewer than one row of 8192 (time_resolution × sample_rate)',
    );
    refused(
      () => ds.validate({ ...ok, format: 'sigmf' }),
      /^parameters\.format: sigmf is for sample recordings \(IQ\)/,
    );
    refused(
      () => ds.validate({ ...ok, format: 'csv' }),
      'parameters.format: must be one of npz, got the string "csv"',
    );
    refused(
      () => ds.validate({ ...ok, calibration_db: 400 }),
      'parameters.calibration_db: must be a number from -300 to 300 (dB), got 400',
    );
    refused(
      () => ds.validate({ ...ok, hop: 3 }),
      /^parameters\.hop: unknown parameter \(this request takes: /,
    );
    refused(() => ds.validate({ ...ok, duration: '1' }), /^parameters\.duration: must be a positive number/);
    refused(() => ds.validate({ ...ok, recording: 'nope' }), /^parameters\.recording: /);
  });

  test('bounds: output size and FFT work give ERR_TOO_LARGE', () => {
    refused(
      () =>
        spectrogram({ maxOutputBytes: 100_000 }).validate({ ...ok, duration: 10, time_resolution: 0.00128 }),
      /^spectrogram of 7812 rows × 513 bins would be \d+ bytes, over this provider's limit of 100000 bytes/,
      'ERR_TOO_LARGE',
    );
    refused(
      () => spectrogram({ maxFftPoints: 1e6 }).validate({ ...ok, duration: 10 }),
      /^spectrogram needs \d+ FFT points/,
      'ERR_TOO_LARGE',
    );
  });
});

describe('spectrogram core', () => {
  test('rows do not depend on how the IQ is split into blocks', async () => {
    const n = 40_000;
    const x = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      x[2 * i] = Math.cos(0.3 * i) + 0.01 * Math.sin(i * i);
      x[2 * i + 1] = Math.sin(0.3 * i);
    }
    const cfg = {
      sampleRate: 1e5,
      fftSize: 256,
      window: 'hann' as const,
      rowSamples: 3000,
      firstBin: 10,
      bins: 200,
    };
    const whole = new SpectrogramBuilder(cfg).push(x);
    assert.equal(whole.length, Math.floor(n / 3000));
    const blocks: Float32Array[] = [];
    for (let at = 0, size = 1; at < n; at += size, size = (size * 7 + 3) % 5000 || 1)
      blocks.push(x.slice(2 * at, 2 * Math.min(n, at + size)));
    const rows = [];
    for await (const r of spectrogramRows(blocks, cfg)) rows.push(r);
    assert.deepEqual(
      rows.map((r) => [r.index, [...r.power]]),
      whole.map((r) => [r.index, [...r.power]]),
    );
    const cal = new SpectrogramBuilder({ ...cfg, calibrationDb: -30 }).push(x);
    assert.ok(
      cal.every((r, i) => r.power.every((v, k) => Math.abs(v - ((whole[i]?.power[k] ?? 0) - 30)) < 1e-4)),
    );
  });
});

describe(
  'spectrogram: NumPy reads it; emitters show where and when they were placed',
  { skip: numpySkip() },
  () => {
    test('synthetic scene: each emitter stands out in its band during its rows and not outside them', async () => {
      const ds = spectrogram();
      const p = ds.validate({
        frequency_start: 100e6,
        frequency_end: 100.8e6,
        sample_rate: 1e6,
        duration: 0.5,
        fft_size: 512,
        time_resolution: 0.01,
        emitters: 5,
        seed: 3,
      });
      const path = join(dir, ds.fileName(p));
      const r0 = await ds.generate(p, path);
      assert.equal(r0.bytes, (await stat(path)).size);
      assert.equal(ds.estimateBytes(p), r0.bytes);
      const r = await runPython<{
        files: string[];
        dtypes: string[];
        shape: number[];
        times_err: number;
        meta: unknown;
        sha512: string;
        checks: {
          label: string;
          inside: number;
          outside: number | null;
          peak_err_bins: number | null;
          rows_in: number;
        }[];
        noise_median: number;
      }>(
        `
d = np.load(sys.argv[1]); meta = json.loads(str(d['meta'])); g = meta['global']
P = d['power_db']; f = d['frequencies']; t = d['times']
T = g['sdrlink:time_resolution']; rows, bins = P.shape
checks = []
for a in meta['annotations']:
    ts, te = a['sdrlink:time_start'], a['sdrlink:time_stop']
    lo, hi = a['core:freq_lower_edge'], a['core:freq_upper_edge']
    df = g['sdrlink:bin_hz']
    band = (f >= lo - df) & (f <= hi + df)
    row0 = np.arange(rows) * T
    inside = (row0 >= ts) & (row0 + T <= te)
    outside = (row0 + T <= ts) | (row0 >= te)
    Pin = P[inside][:, band]; Pout = P[outside][:, band]
    peak = None
    if a['core:label'] == 'tone':
        f0 = (lo + hi) / 2
        k = np.argmax(Pin.mean(axis=0)); peak = abs(f[band][k] - f0) / df
    checks.append({'label': a['core:label'], 'rows_in': int(inside.sum()),
                   'inside': float(Pin.mean(axis=1).min()) if inside.any() else None,
                   'outside': float(np.abs(Pout.mean(axis=1) + 100).max()) if outside.any() else None,
                   'peak_err_bins': peak})
emit({'files': sorted(d.files), 'dtypes': [P.dtype.str, f.dtype.str, t.dtype.str], 'shape': P.shape,
      'times_err': float(np.abs(t - (np.arange(rows) + 0.5) * T).max()), 'meta': meta,
      'sha512': hashlib.sha512(P.tobytes()).hexdigest(), 'checks': checks, 'noise_median': float(np.median(P))})
`,
        [path],
      );
      const q = p as unknown as { rows: number; bins: number };
      assert.deepEqual(r.files, ['frequencies', 'meta', 'power_db', 'times']);
      assert.deepEqual(r.dtypes, ['<f4', '<f8', '<f8']);
      assert.deepEqual(r.shape, [q.rows, q.bins]);
      assert.equal(q.rows, 50);
      assert.ok(r.times_err < 1e-12);
      assert.deepEqual(checkSigmfMeta(r.meta, { sha512: r.sha512 }), []);
      assert.ok(Math.abs(r.noise_median + 100) < 1, `noise median ${r.noise_median}`);
      assert.equal(r.checks.length, 5, 'every emitter is annotated');
      for (const c of r.checks) {
        assert.ok(c.rows_in >= 5, `${c.label}: on during ${c.rows_in} whole rows`);
        // ≥ 3 dB over the noise averaged across its band while on (a tone: far more)…
        assert.ok(c.inside > -100 + 3, `${c.label}: only ${c.inside} dB while on`);
        // …and the noise floor, within 1.5 dB, in every row while off.
        if (c.outside !== null)
          assert.ok(c.outside < 1.5, `${c.label}: ${c.outside} dB off the floor while off`);
        if (c.peak_err_bins !== null)
          assert.ok(c.peak_err_bins <= 1, `tone peak ${c.peak_err_bins} bins off`);
      }
      assert.ok(
        r.checks.some((c) => c.outside !== null),
        'some emitter is off in some rows',
      );
    });

    test('recording: equals NumPy on the same samples; dBFS/Hz reference; calibration gives dBm/Hz', async () => {
      const fs = 48_000;
      const n = 48_000;
      // a full-scale tone on a bin center (fs/8 with fft 256) during samples 12000 … 35999
      await toneRecording('tone-burst', n, fs, fs / 8, 12_000, 36_000);
      const ds = spectrogram();
      const base = {
        recording: 'tone-burst',
        frequency_start: 433.92e6 - 20e3,
        frequency_end: 433.92e6 + 20e3,
        fft_size: 256,
        time_resolution: 0.125,
      };
      const p = ds.validate(base);
      const pc = ds.validate({ ...base, calibration_db: -30 });
      const path = join(dir, 'rec.npz');
      const pathc = join(dir, 'recc.npz');
      await ds.generate(p, path);
      await ds.generate(pc, pathc);
      const r = await runPython<{
        max_diff: number;
        compared: number;
        cal_diff: number;
        rows: number;
        power_on_db: number[];
        peak_on_db: number[];
        enbw: number;
        units: string[];
        cal: (number | null)[];
        meta: unknown;
        sha: string;
        fdiff: number;
        datetime: string;
      }>(
        `
a = np.load(sys.argv[1]); b = np.load(sys.argv[2])
ma = json.loads(str(a['meta'])); mb = json.loads(str(b['meta'])); g = ma['global']
x = np.fromfile(sys.argv[3], dtype=np.complex64).astype(np.complex128)
N = 256; R = 6000; fs = 48000.0; fc = 433.92e6
k = np.arange(N); w = 0.5 - 0.5 * np.cos(2 * np.pi * k / N)
rows = []
for r in range(x.size // R):
    seg = x[r * R:(r + 1) * R]
    segs = np.stack([seg[i * N // 2: i * N // 2 + N] for i in range((R - N) // (N // 2) + 1)])
    psd = np.fft.fftshift((np.abs(np.fft.fft(segs * w, axis=1)) ** 2).mean(axis=0) / (fs * (w ** 2).sum()))
    rows.append(10 * np.log10(np.maximum(psd, 1e-30)))
ref = np.array(rows); freqs = fc + (k - N // 2) * fs / N
sel = (freqs >= fc - 20e3) & (freqs <= fc + 20e3)
ref = ref[:, sel]; P = a['power_db']; df = g['sdrlink:bin_hz']
lin = 10 ** (P.astype(np.float64) / 10)
# compare where the density is above rounding noise (a bin-centred tone leaves ~1e-20 in the far bins)
m = ref > -150
emit({'max_diff': float(np.abs(P - ref)[m].max()), 'compared': int(m.sum()), 'cal_diff': float(np.abs(b['power_db'] - (P - 30)).max()),
      'rows': int(P.shape[0]), 'power_on_db': (10 * np.log10(lin.sum(axis=1) * df)).tolist(),
      'peak_on_db': P.max(axis=1).tolist(), 'enbw': g['sdrlink:enbw_hz'],
      'units': [g['sdrlink:units'], mb['global']['sdrlink:units']],
      'cal': [g['sdrlink:calibration_db'], mb['global']['sdrlink:calibration_db']], 'meta': ma,
      'sha': hashlib.sha512(P.tobytes()).hexdigest(), 'fdiff': float(np.abs(a['frequencies'] - freqs[sel]).max()),
      'datetime': ma['captures'][0]['core:datetime']})
`,
        [path, pathc, join(rec, 'tone-burst.sigmf-data')],
      );
      assert.equal(r.rows, 8);
      assert.ok(r.max_diff < 1e-3, `differs from NumPy by ${r.max_diff} dB`);
      assert.ok(r.compared >= 4 * 3, `compared only ${r.compared} values`);
      assert.ok(r.fdiff < 1e-6);
      assert.ok(r.cal_diff < 1e-4, `calibrated rows differ by ${r.cal_diff}`);
      assert.deepEqual(r.units, ['dBFS/Hz', 'dBm/Hz']);
      assert.deepEqual(r.cal, [null, -30]);
      assert.equal(r.datetime, '2024-05-01T12:00:00.000Z');
      assert.deepEqual(checkSigmfMeta(r.meta, { sha512: r.sha }), []);
      // Rows 2…5 hold the full-scale tone throughout: 0 dBFS in total, peaking at −10·log10(ENBW) dBFS/Hz.
      for (const i of [2, 3, 4, 5]) {
        assert.ok(Math.abs(r.power_on_db[i] as number) < 0.01, `row ${i}: ${r.power_on_db[i]} dBFS in total`);
        const expected = -10 * Math.log10(r.enbw);
        assert.ok(
          Math.abs((r.peak_on_db[i] as number) - expected) < 0.01,
          `row ${i} peak ${r.peak_on_db[i]}`,
        );
      }
      // Rows 0, 1, 6, 7 are silence: the −300 dB floor.
      for (const i of [0, 1, 6, 7]) assert.ok((r.peak_on_db[i] as number) < -290, `row ${i} is not silent`);
    });

    test('a provider-wide calibration applies when the request gives none', async () => {
      const ds = spectrogram({ calibrationDb: -12.5 });
      const p = ds.validate({ frequency_start: 1e6, frequency_end: 1.1e6, sample_rate: 2e5, duration: 0.05 });
      const path = join(dir, 'cal.npz');
      await ds.generate(p, path);
      const r = await runPython<{ units: string; cal: number }>(
        `g = json.loads(str(np.load(sys.argv[1])['meta']))['global']; emit({'units': g['sdrlink:units'], 'cal': g['sdrlink:calibration_db']})`,
        [path],
      );
      assert.deepEqual(r, { units: 'dBm/Hz', cal: -12.5 });
    });
  },
);
