import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultDatasets, DatasetError, type Dataset } from './index.js';
import { captureCenter, planSweep, USABLE_FRACTION } from './spectrum.js';
import { placeEmitters } from './scene.js';
import { makeWindow, WelchEstimator, windowEnbwBins } from './welch.js';
import { createRng } from './prng.js';
import { checkSigmfMeta } from '../../test/helpers/sigmf-check.js';
import { numpySkip, runPython } from '../../test/helpers/numpy.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-spectrum-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const spectrum = (opts: Parameters<typeof createDefaultDatasets>[0] = {}): Dataset =>
  createDefaultDatasets(opts).get('spectrum') as Dataset;

test('sweep plan: one uniform grid from frequency_start, every kept bin inside the usable band', () => {
  for (const [start, end, fs, n] of [
    [100e6, 200e6, 1e6, 1024],
    [88e6, 108e6, 2.4e6, 4096],
    [1e6, 1.2e6, 1e6, 256],
    [433e6, 435e6, 10e6, 16],
  ] as const) {
    const plan = planSweep(start, end, fs, n);
    assert.equal(plan.binHz, fs / n);
    assert.ok(start + (plan.bins - 1) * plan.binHz <= end + 1e-6);
    assert.ok(start + plan.bins * plan.binHz > end);
    assert.equal(plan.captures, Math.ceil(plan.bins / plan.keep));
    for (let k = 0; k < plan.captures; k++) {
      const c = captureCenter(plan, k);
      const count = Math.min(plan.keep, plan.bins - k * plan.keep);
      for (const i of [plan.left, plan.left + count - 1]) {
        const f = c + (i - n / 2) * plan.binHz;
        // Same frequency as the output grid…
        assert.ok(Math.abs(f - (start + (k * plan.keep + i - plan.left) * plan.binHz)) < 1e-6);
        // …and inside the middle USABLE_FRACTION of the capture.
        assert.ok(Math.abs(f - c) <= (USABLE_FRACTION * fs) / 2 + plan.binHz, `capture ${k} bin ${i}`);
      }
    }
  }
  // A span inside one capture is centered on it.
  const one = planSweep(100e6, 100.2e6, 1e6, 1024);
  assert.equal(one.captures, 1);
  assert.ok(Math.abs(captureCenter(one, 0) - 100.1e6) <= one.binHz);
});

test('windows: known equivalent noise bandwidths', () => {
  assert.ok(Math.abs(windowEnbwBins(makeWindow('rect', 1024)) - 1) < 1e-12);
  assert.ok(Math.abs(windowEnbwBins(makeWindow('hann', 1024)) - 1.5) < 1e-9);
  assert.ok(Math.abs(windowEnbwBins(makeWindow('hamming', 1024)) - 1.3628) < 1e-3);
  assert.ok(Math.abs(windowEnbwBins(makeWindow('blackman', 1024)) - 1.7268) < 1e-3);
});

test('Welch: the same density whether samples come at once or in odd pieces; maxSegments caps it', () => {
  const n = 5000;
  const x = new Float32Array(2 * n);
  createRng(4).gaussianComplex(x, 0, n, 1, true);
  const whole = new WelchEstimator({ fftSize: 256, sampleRate: 1e3, window: 'hann' });
  whole.push(x);
  const pieces = new WelchEstimator({ fftSize: 256, sampleRate: 1e3, window: 'hann' });
  for (let at = 0, step = 1; at < n; at += step, step = (step * 7 + 3) % 301)
    pieces.push(x, at, Math.min(step, n - at));
  assert.equal(whole.segments, Math.floor((n - 256) / 128) + 1);
  assert.equal(pieces.segments, whole.segments);
  assert.deepEqual(pieces.density(), whole.density());
  const capped = new WelchEstimator({ fftSize: 256, sampleRate: 1e3, window: 'hann', maxSegments: 5 });
  capped.push(x);
  assert.equal(capped.segments, 5);
  assert.ok(capped.full);
  const first = new WelchEstimator({ fftSize: 256, sampleRate: 1e3, window: 'hann' });
  first.push(x, 0, 256 + 4 * 128);
  assert.deepEqual(capped.density(), first.density());
  assert.throws(
    () => new WelchEstimator({ fftSize: 256, sampleRate: 1e3, window: 'rect' }).density(),
    RangeError,
  );
});

test('emitters: spread over the span, inside it, not overlapping, reproducible', () => {
  const e = placeEmitters(5, 100e6, 200e6, 6, 1e6);
  assert.deepEqual(placeEmitters(5, 100e6, 200e6, 6, 1e6), e);
  assert.notDeepEqual(placeEmitters(6, 100e6, 200e6, 6, 1e6), e);
  for (let i = 0; i < e.length; i++) {
    const lo = e[i]!.frequency - e[i]!.bandwidth_hz / 2;
    const hi = e[i]!.frequency + e[i]!.bandwidth_hz / 2;
    assert.ok(
      lo > 100e6 + (i * 100e6) / 6 && hi < 100e6 + ((i + 1) * 100e6) / 6,
      `emitter ${i} leaves its slot`,
    );
    assert.ok(e[i]!.bandwidth_hz <= 0.2e6);
    assert.ok(e[i]!.power_db >= -40 && e[i]!.power_db <= -10);
  }
});

describe('spectrum: parameters are validated before any work', () => {
  const ok = { frequency_start: 100e6, frequency_end: 200e6, sample_rate: 1e6 };
  const fail = (fn: () => unknown, code: string, message: string | RegExp): void => {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof DatasetError);
      assert.equal(e.code, code);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    });
  };
  test('messages name the parameter', () => {
    const ds = spectrum();
    fail(
      () => ds.validate({ frequency_start: 1e6, sample_rate: 1e6 }),
      'ERR_PARAMS',
      'parameters.frequency_end: missing; expected a number ≥ 0 (Hz)',
    );
    fail(
      () => ds.validate({ ...ok, frequency_end: 50e6 }),
      'ERR_PARAMS',
      'parameters.frequency_end: must be greater than frequency_start (100000000), got 50000000',
    );
    fail(
      () => ds.validate({ ...ok, fft_size: 1000 }),
      'ERR_PARAMS',
      'parameters.fft_size: must be a power of two from 16 to 1048576, got 1000',
    );
    fail(
      () => ds.validate({ ...ok, fft_size: 8 }),
      'ERR_PARAMS',
      'parameters.fft_size: must be a power of two from 16 to 1048576, got 8',
    );
    fail(
      () => ds.validate({ ...ok, fft_size: 1 << 21 }),
      'ERR_PARAMS',
      'parameters.fft_size: must be a power of two from 16 to 1048576, got 2097152',
    );
    fail(
      () => ds.validate({ ...ok, averages: 0 }),
      'ERR_PARAMS',
      'parameters.averages: must be an integer from 1 to 100000, got 0',
    );
    fail(
      () => ds.validate({ ...ok, window: 'kaiser' }),
      'ERR_PARAMS',
      'parameters.window: must be one of hann, hamming, blackman, rect, got the string "kaiser"',
    );
    fail(
      () => ds.validate({ ...ok, emitters: 100 }),
      'ERR_PARAMS',
      'parameters.emitters: must be an integer from 0 to 64, got 100',
    );
    fail(
      () => ds.validate({ ...ok, frequency_start: '100e6' }),
      'ERR_PARAMS',
      'parameters.frequency_start: must be a number ≥ 0 (Hz), got the string "100e6"',
    );
  });
  test('limits: FFT work and output size are ERR_TOO_LARGE', () => {
    fail(
      () => spectrum({ maxFftPoints: 1e6 }).validate(ok),
      'ERR_TOO_LARGE',
      /^spectrum needs 2064384 FFT points .* over this provider's limit of 1000000; lower averages/,
    );
    fail(
      () => spectrum({ maxOutputBytes: 100_000 }).validate(ok),
      'ERR_TOO_LARGE',
      /^spectrum of 102401 bins would be \d+ bytes, over this provider's limit of 100000 bytes$/,
    );
  });
  test('file names follow the seed', () => {
    const ds = spectrum();
    assert.equal(ds.fileName(ds.validate(ok)), 'spectrum_100000000_200000000_1000000.npz');
    assert.match(
      ds.fileName(ds.validate({ ...ok, fft_size: 4096 })),
      /^spectrum_100000000_200000000_1000000_[0-9a-f]{8}\.npz$/,
    );
  });
});

test('spectrum: same parameters, same bytes; the estimate is the size', async () => {
  const ds = spectrum();
  const p = ds.validate({
    frequency_start: 10e6,
    frequency_end: 14e6,
    sample_rate: 1e6,
    fft_size: 256,
    averages: 4,
    seed: 3,
  });
  const a = join(dir, 'a.npz');
  const b = join(dir, 'b.npz');
  const r = await ds.generate(p, a);
  await ds.generate(p, b);
  const [x, y] = [await readFile(a), await readFile(b)];
  assert.equal(r.bytes, x.length);
  assert.equal(ds.estimateBytes(p), x.length);
  assert.equal(createHash('sha256').update(x).digest('hex'), createHash('sha256').update(y).digest('hex'));
});

describe(
  'spectrum: NumPy reads it, and the emitters are where they were placed',
  { skip: numpySkip() },
  () => {
    const check = `
d = np.load(sys.argv[1])
f = d['frequencies']; p = d['power_db']; meta = json.loads(str(d['meta'])); g = meta['global']
start, end = g['sdrlink:parameters']['frequency_start'], g['sdrlink:parameters']['frequency_end']
df = g['sdrlink:bin_hz']
out = {'files': sorted(d.files), 'dtypes': [f.dtype.str, p.dtype.str], 'shape': [f.shape, p.shape],
       'grid_err': float(np.abs(f - (start + np.arange(f.size) * df)).max()),
       'last': float(f[-1]), 'end': end, 'noise_median': float(np.median(p)), 'emitters': []}
for e in g['sdrlink:scene']['emitters']:
    half = e['bandwidth_hz'] / 2 + 2 * df
    sel = (f >= e['frequency'] - half) & (f <= e['frequency'] + half)
    i = int(np.argmax(np.where(sel, p, -np.inf)))
    out['emitters'].append({'kind': e['kind'], 'placed': e['frequency'], 'peak_at': float(f[i]), 'peak_db': float(p[i]),
                            'power_db': e['power_db'], 'bandwidth': e['bandwidth_hz']})
out['enbw_hz'] = g['sdrlink:enbw_hz']; out['captures'] = g['sdrlink:sweep']['captures']
out['meta'] = meta; out['power_sha512'] = hashlib.sha512(p.tobytes()).hexdigest()
emit(out)`;

    for (const [label, params] of [
      [
        'swept: span 100× the sample rate',
        { frequency_start: 100e6, frequency_end: 200e6, sample_rate: 1e6, emitters: 6, seed: 11 },
      ],
      [
        'one capture, blackman window',
        {
          frequency_start: 433.05e6,
          frequency_end: 434.79e6,
          sample_rate: 2.4e6,
          fft_size: 4096,
          window: 'blackman',
          averages: 8,
          emitters: 3,
        },
      ],
    ] as const) {
      test(label, async () => {
        const ds = spectrum();
        const p = ds.validate(params) as { bins: number };
        const path = join(dir, `${label.slice(0, 5)}.npz`);
        await ds.generate(p, path);
        const r = await runPython<{
          files: string[];
          dtypes: string[];
          shape: number[][];
          grid_err: number;
          last: number;
          end: number;
          noise_median: number;
          enbw_hz: number;
          captures: number;
          meta: unknown;
          power_sha512: string;
          emitters: Array<{
            kind: string;
            placed: number;
            peak_at: number;
            peak_db: number;
            power_db: number;
            bandwidth: number;
          }>;
        }>(check, [path]);
        assert.deepEqual(r.files, ['frequencies', 'meta', 'power_db']);
        assert.deepEqual(checkSigmfMeta(r.meta, { sha512: r.power_sha512 }), [], 'meta is SigMF of power_db');
        const m = r.meta as { captures: unknown[]; annotations: unknown[] };
        assert.equal(m.captures.length, r.captures, 'one capture segment per tuned capture');
        assert.equal(m.annotations.length, params.emitters, 'one annotation per emitter');
        assert.deepEqual(r.dtypes, ['<f8', '<f4']);
        assert.deepEqual(r.shape, [[p.bins], [p.bins]]);
        assert.ok(r.grid_err < 1e-3, `grid off by ${r.grid_err} Hz`);
        assert.ok(r.last <= r.end);
        // The scene's noise density is −100 dB FS²/Hz; Welch's median sits ~0.1–0.3 dB below the mean.
        assert.ok(Math.abs(r.noise_median + 100) < 1, `noise median ${r.noise_median} dB`);
        if (label.startsWith('swept')) assert.ok(r.captures > 100);
        else assert.equal(r.captures, 1);
        assert.equal(r.emitters.length, params.emitters);
        const binHz = params.sample_rate / ('fft_size' in params ? params.fft_size : 1024);
        for (const e of r.emitters) {
          // Every emitter stands well out of the noise at its place…
          assert.ok(e.peak_db > -100 + 15, `${e.kind} at ${e.placed}: peak only ${e.peak_db} dB`);
          if (e.kind === 'tone') {
            // …a tone within one bin of where it was put, at its power spread over the window's ENBW
            // (scalloping loss at most ~1.5 dB for these windows).
            assert.ok(
              Math.abs(e.peak_at - e.placed) <= binHz,
              `tone placed at ${e.placed}, peak at ${e.peak_at}`,
            );
            const expected = e.power_db - 10 * Math.log10(r.enbw_hz);
            assert.ok(
              e.peak_db <= expected + 0.5 && e.peak_db >= expected - 2,
              `tone peak ${e.peak_db} dB, expected ~${expected}`,
            );
          } else {
            assert.ok(
              Math.abs(e.peak_at - e.placed) <= e.bandwidth / 2 + 2 * binHz,
              `${e.kind} placed at ${e.placed}, peak at ${e.peak_at}`,
            );
          }
        }
      });
    }
  },
);
