import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultDatasets, DatasetError, type Dataset } from './index.js';
import { numpySkip, runPython } from '../../test/helpers/numpy.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdrlink-signal-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const signal = (): Dataset => createDefaultDatasets().get('signal') as Dataset;
const sha256 = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

function paramsError(fn: () => unknown, message: string | RegExp, code = 'ERR_PARAMS'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DatasetError, String(err));
    assert.equal(err.code, code);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('signal: parameters are validated before any work', () => {
  const ok = { frequency: 100e6, sample_rate: 1e6, duration: 1 };
  test('missing, wrong-typed and out-of-range values name the parameter', () => {
    const ds = signal();
    paramsError(
      () => ds.validate({ frequency: 1e6, sample_rate: 1e6 }),
      'parameters.duration: missing; expected a positive number (seconds)',
    );
    paramsError(
      () => ds.validate({ ...ok, duration: -1 }),
      'parameters.duration: must be a positive number (seconds), got -1',
    );
    paramsError(
      () => ds.validate({ ...ok, duration: '5' }),
      'parameters.duration: must be a positive number (seconds), got the string "5"',
    );
    paramsError(
      () => ds.validate({ ...ok, sample_rate: null }),
      'parameters.sample_rate: must be a positive number (Hz), got null',
    );
    paramsError(
      () => ds.validate({ ...ok, sample_rate: 1e12 }),
      'parameters.sample_rate: must be at most 100000000000 (Hz), got 1000000000000',
    );
    paramsError(
      () => ds.validate({ ...ok, frequency: [1] }),
      /^parameters\.frequency: must be .* got an array$/,
    );
    paramsError(
      () => ds.validate({ ...ok, modulation: 'qam' }),
      'parameters.modulation: must be one of tone, am, fm, bpsk, got the string "qam"',
    );
    paramsError(
      () => ds.validate({ ...ok, sampel_rate: 1 }),
      /^parameters\.sampel_rate: unknown parameter \(this request takes: frequency, sample_rate, duration/,
    );
    paramsError(() => ds.validate({ ...ok, seed: 1.5 }), 'parameters.seed: must be an integer ≥ 0, got 1.5');
    paramsError(
      () => ds.validate({ ...ok, datetime: 'yesterday' }),
      /^parameters\.datetime: must be an ISO 8601 date-time/,
    );
    paramsError(
      () => ds.validate({ ...ok, modulation_index: 0.5 }),
      'parameters.modulation_index: only applies to modulation am (modulation is tone)',
    );
    paramsError(
      () => ds.validate({ ...ok, duration: 1e-9 }),
      /^parameters\.duration: duration × sample_rate gives no sample/,
    );
    paramsError(() => ds.validate([]), 'parameters: must be a JSON object, got an array');
    paramsError(() => ds.validate(null), 'parameters: must be a JSON object, got null');
    paramsError(
      () => ds.validate({ ...ok, recording: 'x' }),
      'parameters.recording: this provider serves no recordings',
    );
  });

  test('the carrier (and its bandwidth) must fit in the sampled band', () => {
    const ds = signal();
    paramsError(
      () => ds.validate({ ...ok, center_frequency: 99e6 }),
      'parameters.frequency: the signal (100000000 Hz) must lie within center_frequency ± sample_rate/2 = 98500000 Hz … 99500000 Hz',
    );
    paramsError(
      () => ds.validate({ ...ok, modulation: 'fm', deviation: 300e3 }),
      /^parameters\.frequency: the signal \(100000000 Hz ± 301000 Hz\) must lie within/,
    );
    const p = ds.validate(ok) as { center_frequency: number; samples: number };
    assert.equal(p.center_frequency, 100e6 - 250e3);
    assert.equal(p.samples, 1e6);
  });

  test('an output over the configured limit is ERR_TOO_LARGE', () => {
    const ds = createDefaultDatasets({ maxOutputBytes: 1e6 }).get('signal') as Dataset;
    paramsError(
      () => ds.validate({ ...ok, duration: 1 }),
      /^signal of 1000000 samples would be 8004\d+ bytes, over this provider's limit of 1000000 bytes$/,
      'ERR_TOO_LARGE',
    );
    ds.validate({ ...ok, duration: 0.1 });
  });
});

test('signal: file names follow the seed, with a hash when more than the seed parameters are set', () => {
  const ds = signal();
  assert.equal(
    ds.fileName(ds.validate({ frequency: 100e6, sample_rate: 1e6, duration: 1.5 })),
    'signal_100000000_1000000_1.50.npz',
  );
  assert.match(
    ds.fileName(ds.validate({ frequency: 100e6, sample_rate: 1e6, duration: 1.5, seed: 2 })),
    /^signal_100000000_1000000_1\.50_[0-9a-f]{8}\.npz$/,
  );
});

test('signal: same parameters give the same bytes; another seed other noise; abort removes the file', async () => {
  const ds = signal();
  const p = ds.validate({
    frequency: 1e6,
    sample_rate: 200e3,
    duration: 0.5,
    snr_db: 10,
    modulation: 'bpsk',
  });
  const a = join(dir, 'a.npz');
  const b = join(dir, 'b.npz');
  const c = join(dir, 'c.npz');
  const ra = await ds.generate(p, a);
  await ds.generate(p, b);
  await ds.generate(
    ds.validate({
      frequency: 1e6,
      sample_rate: 200e3,
      duration: 0.5,
      snr_db: 10,
      modulation: 'bpsk',
      seed: 1,
    }),
    c,
  );
  assert.equal(ra.bytes, (await stat(a)).size);
  assert.equal(ra.bytes, ds.estimateBytes(p));
  assert.equal(await sha256(a), await sha256(b));
  assert.notEqual(await sha256(a), await sha256(c));

  const ac = new AbortController();
  const big = ds.validate({ frequency: 1e6, sample_rate: 1e6, duration: 8 });
  const path = join(dir, 'aborted.npz');
  const progress: number[] = [];
  const run = ds.generate(big, path, {
    signal: ac.signal,
    onProgress: (n) => {
      progress.push(n);
      if (progress.length === 2) ac.abort();
    },
  });
  await assert.rejects(run, (err: unknown) => err instanceof DatasetError && err.code === 'ERR_ABORTED');
  assert.ok(progress[1]! > progress[0]!);
  await assert.rejects(stat(path), { code: 'ENOENT' });
});

test('signal: memory stays bounded — a 128 MB file never holds more than a few 8 MiB blocks', async () => {
  const ds = signal();
  const p = ds.validate({ frequency: 1e6, sample_rate: 1e6, duration: 16.777216 }); // 2^24 samples
  const path = join(dir, 'big.npz');
  const before = process.memoryUsage().arrayBuffers;
  let peak = 0;
  const r = await ds.generate(p, path, {
    onProgress: () => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    },
  });
  assert.ok(r.bytes > 2 ** 27);
  // Two alternating 8 MiB sample blocks, plus small change; the whole file would be 128 MiB.
  assert.ok(peak < 40 * 2 ** 20, `ArrayBuffer memory grew by ${peak} bytes`);
  await rm(path);
});

describe('signal: NumPy reads what we write', { skip: numpySkip() }, () => {
  test('tone: dtype, shape, scalars, SigMF meta, SHA-512, amplitude, FFT peak within one bin of f', async () => {
    const ds = signal();
    const p = ds.validate({
      frequency: 433.92e6,
      sample_rate: 2.4e6,
      duration: 0.25,
      center_frequency: 434e6,
      datetime: '2024-05-01T12:00:00Z',
    });
    const path = join(dir, 'tone.npz');
    await ds.generate(p, path);
    const r = await runPython<Record<string, unknown>>(
      `
d = np.load(sys.argv[1])
iq = d['iq']
meta = json.loads(str(d['meta']))
fs = float(d['sample_rate']); fc = float(d['center_frequency'])
X = np.fft.fftshift(np.fft.fft(iq.astype(np.complex128)))
freqs = fc + np.fft.fftshift(np.fft.fftfreq(iq.size, 1 / fs))
emit({
  'files': sorted(d.files), 'dtype': iq.dtype.str, 'shape': iq.shape,
  'scalars': [d['sample_rate'].dtype.str, d['sample_rate'].shape, fs, fc],
  'meta_dtype': d['meta'].dtype.kind, 'meta_shape': d['meta'].shape, 'meta': meta,
  'sha512': hashlib.sha512(iq.tobytes()).hexdigest(),
  'abs': [float(np.abs(iq).min()), float(np.abs(iq).max())],
  'peak': float(freqs[int(np.argmax(np.abs(X)))]), 'bin': fs / iq.size,
})`,
      [path],
    );
    assert.deepEqual(r['files'], ['center_frequency', 'iq', 'meta', 'sample_rate']);
    assert.equal(r['dtype'], '<c8');
    assert.deepEqual(r['shape'], [600_000]);
    assert.deepEqual(r['scalars'], ['<f8', [], 2.4e6, 434e6]);
    assert.equal(r['meta_dtype'], 'U');
    assert.deepEqual(r['meta_shape'], []);
    const meta = r['meta'] as { global: Record<string, unknown>; captures: Array<Record<string, unknown>> };
    assert.equal(meta.global['core:datatype'], 'cf32_le');
    assert.equal(meta.global['core:sample_rate'], 2.4e6);
    assert.equal(meta.global['core:sha512'], r['sha512']);
    assert.equal((meta.global['sdrlink:parameters'] as Record<string, unknown>)['modulation'], 'tone');
    assert.deepEqual(meta.captures, [
      { 'core:sample_start': 0, 'core:frequency': 434e6, 'core:datetime': '2024-05-01T12:00:00.000Z' },
    ]);
    const [lo, hi] = r['abs'] as [number, number];
    assert.ok(Math.abs(lo - 1) < 1e-6 && Math.abs(hi - 1) < 1e-6, `|iq| in [${lo}, ${hi}]`);
    assert.ok(
      Math.abs((r['peak'] as number) - 433.92e6) <= (r['bin'] as number),
      `peak at ${String(r['peak'])}`,
    );
  });

  test('modulations: AM sidebands, FM deviation, BPSK symbols, noise at the requested SNR', async () => {
    const ds = signal();
    const base = { frequency: 1.1e6, center_frequency: 1e6, sample_rate: 1e6, duration: 0.2 };
    const files = {
      am: ds.validate({ ...base, modulation: 'am', modulation_frequency: 2000, modulation_index: 0.5 }),
      fm: ds.validate({ ...base, modulation: 'fm', modulation_frequency: 1000, deviation: 20_000 }),
      bpsk: ds.validate({ ...base, modulation: 'bpsk', symbol_rate: 10_000 }),
      noisy: ds.validate({ ...base, snr_db: 10, amplitude: 0.5, seed: 7 }),
    };
    const paths: string[] = [];
    for (const [name, p] of Object.entries(files)) {
      const path = join(dir, `${name}.npz`);
      await ds.generate(p, path);
      paths.push(path);
    }
    const r = await runPython<Record<string, number[] | number>>(
      `
fs = 1e6; off = 100e3
def load(p):
    iq = np.load(p)['iq'].astype(np.complex128)
    n = np.arange(iq.size)
    return iq, iq * np.exp(-2j * np.pi * off * n / fs)   # carrier removed
am, am0 = load(sys.argv[1]); fm, fm0 = load(sys.argv[2]); bp, bp0 = load(sys.argv[3]); no, no0 = load(sys.argv[4])
X = np.abs(np.fft.fft(am)); f = np.fft.fftfreq(am.size, 1 / fs)
top3 = sorted(float(v) for v in f[np.argsort(X)[-3:]])
inst = np.diff(np.unwrap(np.angle(fm0))) * fs / (2 * np.pi)
ref = 0.5 * np.exp(2j * np.pi * off * np.arange(no.size) / fs)
emit({
  'am_peaks': top3, 'am_env': [float(np.abs(am).min()), float(np.abs(am).max())],
  'fm_dev': [float(inst.min()), float(inst.max())], 'fm_abs': float(np.abs(np.abs(fm) - 1).max()),
  'bpsk_imag': float(np.abs(bp0.imag).max()), 'bpsk_real': float(np.abs(np.abs(bp0.real) - 1).max()),
  'bpsk_flips': int(np.count_nonzero(np.diff(np.sign(bp0.real)))),
  'noise_power': float(np.mean(np.abs(no - ref) ** 2)),
})`,
      paths,
    );
    assert.deepEqual(r['am_peaks'], [98_000, 100_000, 102_000]);
    // Envelope (1 + 0.5·cos)/(1.5): from 1/3 to 1.
    const env = r['am_env'] as number[];
    assert.ok(Math.abs(env[0]! - 1 / 3) < 1e-3 && Math.abs(env[1]! - 1) < 1e-3, String(env));
    const dev = r['fm_dev'] as number[];
    assert.ok(Math.abs(dev[0]! + 20_000) < 200 && Math.abs(dev[1]! - 20_000) < 200, String(dev));
    assert.ok((r['fm_abs'] as number) < 1e-5);
    assert.ok((r['bpsk_imag'] as number) < 1e-4 && (r['bpsk_real'] as number) < 1e-4);
    // 2,000 symbols of random bits: about 1,000 sign changes.
    assert.ok(Math.abs((r['bpsk_flips'] as number) - 1000) < 120, String(r['bpsk_flips']));
    // SNR 10 dB on amplitude 0.5: noise power 0.25 / 10.
    assert.ok(Math.abs((r['noise_power'] as number) / 0.025 - 1) < 0.03, String(r['noise_power']));
  });
});
