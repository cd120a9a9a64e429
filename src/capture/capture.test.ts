/**
 * Live capture in process, against stand-ins with the real tools' interfaces (no receiver can be attached
 * here): `test/fixtures/capture/rtl_sdr` (invoked like osmocom's rtl_sdr, placed first on PATH) and a
 * `SoapySDR` Python module (`test/fixtures/capture/soapy/`, first on PYTHONPATH). NumPy checks where the
 * tones land. The real `rtl_sdr` and the real SoapySDR module, when installed, are run too: with no device
 * attached they must give ERR_DEVICE_MISSING.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { numpySkip, repoPath, runPython } from '../../test/helpers/numpy.js';
import { checkSigmfMeta } from '../../test/helpers/sigmf-check.js';
import { extractSigmfArchive } from '../datasets/sigmf-out.js';
import type { Dataset } from '../datasets/types.js';
import { CaptureError } from './errors.js';
import { createLiveDatasets } from './live.js';
import { DeviceQueue } from './queue.js';
import { createSource, parseRtlSdrLine, probeSoapy, type CaptureSource } from './sources.js';

/** Skips a test of a real SDR tool that is not installed — or fails it under CI (SDRLINK_REQUIRE_SDR_TOOLS=1). */
function toolSkip(path: string, pkg: string): false | string {
  if (existsSync(path)) return false;
  if (process.env['SDRLINK_REQUIRE_SDR_TOOLS'] === '1')
    throw new Error(`${path} is missing but SDRLINK_REQUIRE_SDR_TOOLS=1 (apt-get install ${pkg})`);
  return `${pkg} not installed (apt-get install ${pkg})`;
}

const STANDIN = repoPath('test/fixtures/capture');
const FAKE_SOAPY = repoPath('test/fixtures/capture/soapy');
const saved = { ...process.env };

function live(
  source: CaptureSource,
  extra: { gain?: number; calibrationDb?: number } = {},
): { spectrum: Dataset; signal: Dataset; spectrogram: Dataset } {
  const [spectrum, signal, spectrogram] = createLiveDatasets({
    source,
    maxOutputBytes: 1 << 30,
    maxFftPoints: 2 ** 31,
    ...extra,
  });
  return { spectrum: spectrum as Dataset, signal: signal as Dataset, spectrogram: spectrogram as Dataset };
}

/** The SigMF rules (test/helpers/sigmf-check.ts) hold for `meta`, its `core:sha512` being `sha512`. */
function assertSigmf(meta: unknown, sha512: string): void {
  assert.deepEqual(checkSigmfMeta(meta, { sha512 }), []);
}

async function rejectsWith(
  p: Promise<unknown> | (() => unknown),
  code: string,
  text?: RegExp,
): Promise<Error> {
  let caught: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, `expected ${code}, got no error`);
  assert.equal((caught as { code?: string }).code, code, (caught as Error).message);
  if (text !== undefined) assert.match(caught.message, text);
  return caught;
}

const PEAK = `
d = np.load(sys.argv[1]); iq = d['iq'].astype(np.complex128); fs = float(d['sample_rate']); fc = float(d['center_frequency'])
spec = np.abs(np.fft.fftshift(np.fft.fft(iq * np.hanning(len(iq)))))
f = fc + np.fft.fftshift(np.fft.fftfreq(len(iq), 1 / fs))
emit({'peak': f[int(spec.argmax())], 'bin': fs / len(iq), 'n': len(iq), 'dtype': str(d['iq'].dtype),
      'fs': fs, 'fc': fc, 'meta': json.loads(str(d['meta'])), 'sha512': hashlib.sha512(d['iq'].tobytes()).hexdigest()})
`;

const SPECTRUM_PEAKS = `
d = np.load(sys.argv[1]); f = d['frequencies']; p = d['power_db']; m = json.loads(str(d['meta']))
peaks = []
for t in json.loads(sys.argv[2]):
    near = np.abs(f - t) < 50e3
    peaks.append({'at': float(f[near][int(p[near].argmax())]), 'db': float(p[near].max())})
emit({'bins': len(f), 'increasing': bool(np.all(np.diff(f) > 0)), 'first': float(f[0]), 'last': float(f[-1]),
      'median': float(np.median(p)), 'peaks': peaks, 'meta': m, 'sha512': hashlib.sha512(p.tobytes()).hexdigest()})
`;

describe('live capture (stand-ins with the real tools’ interfaces)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdrlink-capture-'));
    process.env['PATH'] = `${STANDIN}${delimiter}${saved['PATH'] ?? ''}`;
    process.env['FAKE_RTLSDR_PACE'] = '0';
  });
  after(async () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await rm(dir, { recursive: true, force: true });
  });

  test(
    'rtl_sdr signal: cu8 converted, the tone lands at its frequency, and the metadata says what the tuner did',
    { skip: numpySkip() },
    async () => {
      process.env['FAKE_RTLSDR_TONES'] = JSON.stringify([{ frequency: 433.92e6 + 123_456, amplitude: 0.5 }]);
      const { signal } = live(await createSource('rtlsdr:0'), { gain: 20 });
      const p = signal.validate({ frequency: 433.92e6, sample_rate: 1e6, duration: 0.25 });
      const out = join(dir, 'sig.npz');
      const queued: number[] = [];
      await signal.generate(p, out, { onQueued: (q) => queued.push(q) });
      assert.deepEqual(queued, [0]);
      const r = await runPython<{
        peak: number;
        bin: number;
        n: number;
        dtype: string;
        fs: number;
        fc: number;
        sha512: string;
        meta: { global: Record<string, unknown>; captures: Array<Record<string, unknown>> };
      }>(PEAK, [out]);
      assert.equal(r.dtype, 'complex64');
      assert.equal(r.n, 250_000);
      assertSigmf(r.meta, r.sha512);
      // librtlsdr's real rate for 1 MS/s from a 28.8 MHz crystal, as the tool printed it
      assert.equal(r.fs, 1000000.026491);
      assert.equal(r.fc, 433.92e6);
      assert.ok(Math.abs(r.peak - (433.92e6 + 123_456)) <= r.bin, `tone at ${r.peak}`);
      const cap = r.meta.global['sdrlink:capture'] as Record<string, unknown>;
      assert.equal(cap['tool'], 'rtl_sdr');
      assert.equal(cap['device'], 'Generic RTL2832U OEM');
      assert.equal(cap['gain'], 19.7); // the R820T step nearest to 20 dB
      assert.deepEqual(cap['requested'], { frequency: 433.92e6, sample_rate: 1e6, gain: 20, ppm: 0 });
      assert.equal(cap['overruns'], 0);
      assert.equal(r.meta.global['core:hw'], 'Generic RTL2832U OEM');
      assert.equal(r.meta.global['core:sample_rate'], 1000000.026491);
      assert.equal(r.meta.global['sdrlink:tool'], 'rtl_sdr');
      assert.equal(r.meta.global['sdrlink:overruns'], 0);
      assert.match(String(r.meta.captures[0]?.['core:datetime']), /^\d{4}-\d\d-\d\dT/);
      assert.equal(r.meta.captures[0]?.['core:frequency'], 433.92e6);
      assert.equal(r.meta.captures[0]?.['sdrlink:gain_db'], 19.7);
      assert.equal(r.meta.captures[0]?.['sdrlink:requested_sample_rate'], 1e6);
      assert.equal(signal.isLive?.(p), true);
    },
  );

  test(
    'rtl_sdr spectrum wider than the sample rate: swept in tuned segments, stitched, tones where they are',
    { skip: numpySkip() },
    async () => {
      const tones = [100.3e6, 102.7e6, 104.1e6];
      process.env['FAKE_RTLSDR_TONES'] = JSON.stringify(
        tones.map((frequency) => ({ frequency, amplitude: 0.3 })),
      );
      const { spectrum } = live(await createSource('rtlsdr'));
      const p = spectrum.validate({
        frequency_start: 99.5e6,
        frequency_end: 104.5e6,
        sample_rate: 1.2e6,
        fft_size: 256,
        averages: 8,
      });
      const out = join(dir, 'spec.npz');
      await spectrum.generate(p, out);
      const r = await runPython<{
        bins: number;
        increasing: boolean;
        first: number;
        last: number;
        median: number;
        sha512: string;
        peaks: Array<{ at: number; db: number }>;
        meta: { global: Record<string, unknown>; captures: Array<Record<string, unknown>> };
      }>(SPECTRUM_PEAKS, [out, JSON.stringify(tones)]);
      assertSigmf(r.meta, r.sha512);
      assert.ok(r.increasing);
      const g = r.meta.global;
      const binHz = g['sdrlink:bin_hz'] as number;
      const sweep = g['sdrlink:sweep'] as { captures: number; bins_per_capture: number };
      assert.equal(g['sdrlink:source'], 'live');
      assert.equal(g['sdrlink:units'], 'dBFS/Hz');
      assert.equal(g['core:hw'], 'Generic RTL2832U OEM');
      assert.ok(sweep.captures >= 5, `captures ${sweep.captures}`);
      assert.equal(r.meta.captures.length, sweep.captures);
      r.meta.captures.forEach((c, k) => {
        // each tuned segment: the tuning the hardware reported, from its first bin on
        assert.equal(c['core:frequency'], c['sdrlink:requested_frequency']);
        assert.equal(c['core:sample_start'], k * sweep.bins_per_capture);
        assert.equal(c['sdrlink:segment'], k);
        assert.match(String(c['core:datetime']), /Z$/);
      });
      assert.ok(Math.abs(r.first - 99.5e6) < binHz && Math.abs(r.last - 104.5e6) < binHz);
      tones.forEach((t, i) => {
        const pk = r.peaks[i] as { at: number; db: number };
        assert.ok(Math.abs(pk.at - t) <= binHz, `tone ${t} found at ${pk.at}`);
        // a tone stands far out of the stand-in's noise floor
        assert.ok(pk.db > r.median + 30, `tone ${t}: ${pk.db} dB over a median of ${r.median}`);
      });
    },
  );

  test(
    'rtl_sdr spectrogram: one tuning, a steady tone in every row, a tone that comes on in the rows after; calibrated like a spectrum',
    { skip: numpySkip() },
    async () => {
      // on bin centers (1.2 MS/s / 256 = 4687.5 Hz): no scalloping in the levels checked
      const steady = 100e6 + 21 * 4687.5;
      const coming = 100e6 - 64 * 4687.5;
      process.env['FAKE_RTLSDR_TONES'] = JSON.stringify([
        { frequency: steady, amplitude: 0.3 },
        { frequency: coming, amplitude: 0.3, on: 0.2 },
      ]);
      const { spectrogram, spectrum } = live(await createSource('rtlsdr:0'), { calibrationDb: -20 });
      const span = { frequency_start: 99.6e6, frequency_end: 100.4e6, sample_rate: 1.2e6, fft_size: 256 };
      const p = spectrogram.validate({ ...span, duration: 0.4, time_resolution: 0.02 });
      assert.equal(spectrogram.isLive?.(p), true);
      const out = join(dir, 'sg.npz');
      await spectrogram.generate(p, out);
      const r = await runPython<{
        shape: number[];
        times: number[];
        steady: number[];
        coming: number[];
        median: number;
        sha512: string;
        meta: { global: Record<string, unknown>; captures: Array<Record<string, unknown>> };
      }>(
        `
d = np.load(sys.argv[1]); f = d['frequencies']; t = d['times']; p = d['power_db']; m = json.loads(str(d['meta']))
col = lambda hz: int(np.abs(f - hz).argmin())
emit({'shape': list(p.shape), 'times': t.tolist(), 'steady': p[:, col(float(sys.argv[2]))].tolist(),
      'coming': p[:, col(float(sys.argv[3]))].tolist(), 'median': float(np.median(p)), 'meta': m,
      'sha512': hashlib.sha512(p.tobytes()).hexdigest()})
`,
        [out, String(steady), String(coming)],
      );
      assertSigmf(r.meta, r.sha512);
      const g = r.meta.global;
      assert.deepEqual(r.shape, g['sdrlink:shape']);
      assert.equal(r.shape[0], 20);
      assert.equal(g['sdrlink:type'], 'spectrogram');
      assert.equal(g['sdrlink:source'], 'live');
      assert.equal(g['sdrlink:units'], 'dBm/Hz');
      assert.equal(g['sdrlink:calibration_db'], -20);
      assert.equal(g['core:hw'], 'Generic RTL2832U OEM');
      assert.equal(r.meta.captures.length, 1);
      assert.equal(r.meta.captures[0]?.['core:frequency'], 100e6);
      // amplitude 0.3: 0.09 of full scale power, spread over the window's ENBW, then the calibration
      const expected = 10 * Math.log10(0.09 / (g['sdrlink:enbw_hz'] as number)) - 20;
      r.steady.forEach((db, row) => {
        assert.ok(
          Math.abs(db - expected) < 1,
          `row ${row}: steady tone at ${db} dBm/Hz, expected ${expected}`,
        );
      });
      r.coming.forEach((db, row) => {
        if (row < 10) assert.ok(db < r.median + 10, `row ${row} (before 0.2 s): ${db} over ${r.median}`);
        else assert.ok(Math.abs(db - expected) < 1, `row ${row} (after 0.2 s): ${db}, expected ${expected}`);
      });
      assert.ok(Math.abs((r.times[10] as number) - 0.21) < 1e-6);
      // the spectrum of the same band, the same calibration from the request this time: the same level
      const { spectrum: plain } = live(await createSource('rtlsdr:0'));
      const sp = join(dir, 'sp-cal.npz');
      await plain.generate(plain.validate({ ...span, averages: 8, calibration_db: -20 }), sp);
      const s2 = await runPython<{
        peaks: Array<{ at: number; db: number }>;
        sha512: string;
        meta: { global: Record<string, unknown> };
      }>(SPECTRUM_PEAKS, [sp, JSON.stringify([steady])]);
      assertSigmf(s2.meta, s2.sha512);
      assert.equal(s2.meta.global['sdrlink:units'], 'dBm/Hz');
      assert.ok(Math.abs((s2.peaks[0]?.db as number) - expected) < 1, `spectrum: ${s2.peaks[0]?.db}`);
      // one tuning only: a span over the usable band is refused, the limit in the message
      await rejectsWith(
        () => spectrogram.validate({ ...span, frequency_end: 100.6e6, duration: 0.1 }),
        'ERR_PARAMS',
        /span 1000000 Hz must be at most the usable band 0.8 × sample_rate = 960000 Hz/,
      );
      await rejectsWith(
        () => spectrum.validate({ ...span, format: 'sigmf' }),
        'ERR_PARAMS',
        /sigmf is for sample recordings/,
      );
    },
  );

  test(
    'rtl_sdr signal as a SigMF Archive: extracted, valid SigMF, the data hashed, the tone in place',
    { skip: numpySkip() },
    async () => {
      process.env['FAKE_RTLSDR_TONES'] = JSON.stringify([{ frequency: 433.92e6 + 123_456, amplitude: 0.5 }]);
      const { signal } = live(await createSource('rtlsdr:0'));
      const p = signal.validate({ frequency: 433.92e6, sample_rate: 1e6, duration: 0.1, format: 'sigmf' });
      const name = signal.fileName(p);
      assert.match(name, /^signal_433920000_1000000_0\.10_live_[0-9a-f]{12}\.sigmf$/);
      const out = join(dir, name);
      const { bytes } = await signal.generate(p, out);
      assert.ok(bytes <= signal.estimateBytes(p), `${bytes} over the estimate ${signal.estimateBytes(p)}`);
      const ex = join(dir, 'extracted');
      await mkdir(ex, { recursive: true });
      const pair = await extractSigmfArchive(out, ex);
      assert.equal(pair.name, name.replace(/\.sigmf$/, ''));
      const data = await readFile(pair.dataPath);
      assert.equal(data.length, 100_000 * 8);
      const meta = JSON.parse(await readFile(pair.metaPath, 'utf8')) as {
        global: Record<string, unknown>;
        captures: Array<Record<string, unknown>>;
      };
      assert.deepEqual(checkSigmfMeta(meta, data), []);
      assert.equal(meta.global['core:datatype'], 'cf32_le');
      assert.equal(meta.global['core:sample_rate'], 1000000.026491);
      assert.equal(meta.captures[0]?.['core:frequency'], 433.92e6);
      assert.equal((meta.global['sdrlink:parameters'] as Record<string, unknown>)['format'], 'sigmf');
      const r = await runPython<{ peak: number; bin: number }>(
        `
iq = np.fromfile(sys.argv[1], dtype='<c8').astype(np.complex128); m = json.load(open(sys.argv[2]))
fs = m['global']['core:sample_rate']; fc = m['captures'][0]['core:frequency']
spec = np.abs(np.fft.fftshift(np.fft.fft(iq * np.hanning(len(iq)))))
f = fc + np.fft.fftshift(np.fft.fftfreq(len(iq), 1 / fs))
emit({'peak': float(f[int(spec.argmax())]), 'bin': fs / len(iq)})
`,
        [pair.dataPath, pair.metaPath],
      );
      assert.ok(Math.abs(r.peak - (433.92e6 + 123_456)) <= r.bin, `tone at ${r.peak}`);
    },
  );

  test(
    'an overrun is refused (ERR_CAPTURE_OVERRUN) or, with allow_overrun, served with the gap marked',
    { skip: numpySkip() },
    async () => {
      process.env['FAKE_RTLSDR_LOSE'] = '16384';
      try {
        const { signal } = live(await createSource('rtlsdr:0'));
        const out = join(dir, 'lost.npz');
        await rejectsWith(
          signal.generate(signal.validate({ frequency: 100e6, sample_rate: 1e6, duration: 0.1 }), out),
          'ERR_CAPTURE_OVERRUN',
          /dropped samples.*8192 samples lost/,
        );
        assert.equal(existsSync(out), false);
        await signal.generate(
          signal.validate({ frequency: 100e6, sample_rate: 1e6, duration: 0.1, allow_overrun: true }),
          out,
        );
        const r = await runPython<{
          sha512: string;
          meta: {
            global: Record<string, Record<string, unknown>>;
            annotations: Array<Record<string, unknown>>;
          };
        }>(PEAK, [out]);
        assertSigmf(r.meta, r.sha512);
        const cap = r.meta.global['sdrlink:capture'] as Record<string, unknown>;
        assert.equal(cap['overruns'], 1);
        assert.equal(cap['dropped_samples'], 8192);
        assert.equal(r.meta.global['sdrlink:overruns'], 1);
        assert.equal(r.meta.global['sdrlink:dropped_samples'], 8192);
        assert.equal(r.meta.annotations[0]?.['core:label'], 'overrun');
        assert.equal(r.meta.annotations[0]?.['core:sample_count'], 0);
        // spectra: the overrun marks the bins of the segment (spectrum) or the row (spectrogram) it fell in
        const { spectrum, spectrogram } = live(await createSource('rtlsdr:0'));
        const span = { frequency_start: 99.8e6, frequency_end: 100.2e6, sample_rate: 1.2e6, fft_size: 256 };
        await rejectsWith(
          spectrum.generate(spectrum.validate({ ...span, averages: 64 }), join(dir, 'lost-sp.npz')),
          'ERR_CAPTURE_OVERRUN',
          /in sweep segment 1 \(tuned to/,
        );
        for (const [ds, params, file] of [
          [spectrum, { ...span, averages: 64, allow_overrun: true }, 'lost-sp.npz'],
          [
            spectrogram,
            { ...span, duration: 0.1, time_resolution: 0.01, allow_overrun: true },
            'lost-sg.npz',
          ],
        ] as const) {
          await ds.generate(ds.validate(params), join(dir, file));
          const m = await runPython<{
            sha512: string;
            shape: number[];
            meta: { global: Record<string, unknown>; annotations: Array<Record<string, unknown>> };
          }>(
            `
d = np.load(sys.argv[1]); p = d['power_db']
emit({'sha512': hashlib.sha512(p.tobytes()).hexdigest(), 'shape': list(p.shape), 'meta': json.loads(str(d['meta']))})
`,
            [join(dir, file)],
          );
          assertSigmf(m.meta, m.sha512);
          assert.equal(m.meta.global['sdrlink:overruns'], 1, file);
          assert.equal(m.meta.global['sdrlink:dropped_samples'], 8192, file);
          assert.equal(m.meta.annotations.length, 1, file);
          const a = m.meta.annotations[0] as Record<string, unknown>;
          assert.equal(a['core:label'], 'overrun');
          const bins = m.shape.at(-1) as number;
          assert.equal(
            a['core:sample_count'],
            bins,
            `${file}: the annotation covers one segment/row of bins`,
          );
          if (m.shape.length === 2) {
            // the row the loss fell in (where the reader was when the tool reported it)
            const row = a['sdrlink:row'] as number;
            assert.equal(a['core:sample_start'], row * bins);
            assert.ok(Number.isInteger(row) && row >= 0 && row < (m.shape[0] as number), `row ${row}`);
          } else assert.equal(a['core:sample_start'], 0);
        }
      } finally {
        delete process.env['FAKE_RTLSDR_LOSE'];
      }
    },
  );

  test('outside the tuner or the rate ranges: refused before any capture, the range in the message', async () => {
    const { signal, spectrum } = live(await createSource('rtlsdr:0'));
    await rejectsWith(
      () => signal.validate({ frequency: 2e9, sample_rate: 1e6, duration: 1 }),
      'ERR_DEVICE_RANGE',
      /2000000000 Hz is outside the tuning range of rtlsdr:0: 24000000 … 1766000000 Hz/,
    );
    await rejectsWith(
      () => signal.validate({ frequency: 100e6, sample_rate: 500e3, duration: 1 }),
      'ERR_DEVICE_RANGE',
      /\(225000 … 300000\] or \(900000 … 3200000\] Hz/,
    );
    await rejectsWith(
      () => spectrum.validate({ frequency_start: 1700e6, frequency_end: 1800e6 }),
      'ERR_DEVICE_RANGE',
      /1766000000/,
    );
    await rejectsWith(
      () => signal.validate({ frequency: 100e6, sample_rate: 1e6, duration: 1, gain: 80 }),
      'ERR_DEVICE_RANGE',
      /0 … 49.6 dB/,
    );
    await rejectsWith(
      () => signal.validate({ frequency: 100e6, sample_rate: 1e6, duration: 1, seed: 3 }),
      'ERR_PARAMS',
      /seed/,
    );
    const d = spectrum.describe?.();
    const f = d?.parameters.find((x) => x.name === 'frequency_start');
    assert.equal(f?.minimum, 24e6);
    assert.equal(f?.maximum, 1766e6);
  });

  test('a missing device, a busy one, a refused setting: each its own code', async () => {
    const { signal } = live(await createSource('rtlsdr:0'));
    const p = () => signal.validate({ frequency: 100e6, sample_rate: 1e6, duration: 0.01 });
    process.env['FAKE_RTLSDR_DEVICES'] = '0';
    await rejectsWith(
      signal.generate(p(), join(dir, 'a.npz')),
      'ERR_DEVICE_MISSING',
      /No supported devices found/,
    );
    delete process.env['FAKE_RTLSDR_DEVICES'];
    const busy = join(dir, 'busy');
    await writeFile(busy, '');
    process.env['FAKE_RTLSDR_BUSY'] = busy;
    await rejectsWith(
      signal.generate(p(), join(dir, 'b.npz')),
      'ERR_DEVICE_BUSY',
      /in use by another program \(usb_claim_interface error -6\)/,
    );
    delete process.env['FAKE_RTLSDR_BUSY'];
    assert.deepEqual(parseRtlSdrLine('WARNING: Failed to set sample rate.'), {
      kind: 'error',
      code: 'ERR_DEVICE_SETTING',
      message: 'rtl_sdr refused a setting: failed to set sample rate',
    });
    // a command: source that refuses, in the JSON-line contract
    const cmd = live(
      await createSource(
        `command:echo '{"event":"error","code":"ERR_DEVICE_SETTING","message":"gain 99 refused"}' >&2; exit 3`,
      ),
    );
    await rejectsWith(
      cmd.signal.generate(
        cmd.signal.validate({ frequency: 1e6, sample_rate: 1e6, duration: 0.01 }),
        join(dir, 'c.npz'),
      ),
      'ERR_DEVICE_SETTING',
      /gain 99 refused/,
    );
  });

  test(
    'the real rtl_sdr with no dongle attached: ERR_DEVICE_MISSING',
    { skip: toolSkip('/usr/bin/rtl_sdr', 'rtl-sdr') },
    async () => {
      process.env['PATH'] = `/usr/bin${delimiter}${saved['PATH'] ?? ''}`;
      try {
        const { signal } = live(await createSource('rtlsdr:0'));
        await rejectsWith(
          signal.generate(
            signal.validate({ frequency: 100e6, sample_rate: 1e6, duration: 0.01 }),
            join(dir, 'real.npz'),
          ),
          'ERR_DEVICE_MISSING',
          /No supported devices found/,
        );
      } finally {
        process.env['PATH'] = `${STANDIN}${delimiter}${saved['PATH'] ?? ''}`;
      }
    },
  );

  test(
    'command: source (cu8 through the contract environment) gives the same tone',
    { skip: numpySkip() },
    async () => {
      process.env['FAKE_RTLSDR_TONES'] = JSON.stringify([{ frequency: 50.2e6, amplitude: 0.5 }]);
      const src = await createSource(
        'command:rtl_sdr -f "$SDRLINK_FREQUENCY" -s "$SDRLINK_SAMPLE_RATE" -n "$SDRLINK_SAMPLES" -',
        { commandFormat: 'cu8' },
      );
      const { signal } = live(src);
      const out = join(dir, 'cmd.npz');
      await signal.generate(signal.validate({ frequency: 50e6, sample_rate: 2.4e6, duration: 0.05 }), out);
      const r = await runPython<{ peak: number; bin: number }>(PEAK, [out]);
      assert.ok(Math.abs(r.peak - 50.2e6) <= r.bin, `tone at ${r.peak}`);
    },
  );

  test(
    'SoapySDR program over a stand-in SoapySDR module: ranges probed, tone in place, overflow reported',
    { skip: numpySkip() },
    async () => {
      process.env['PYTHONPATH'] = FAKE_SOAPY;
      try {
        const src = await createSource('soapy:driver=fake');
        const probe = await probeSoapy(src, 'python3');
        assert.deepEqual(probe, { ok: true });
        assert.deepEqual(src.ranges.frequency, [{ min: 1e6, max: 6e9 }]);
        assert.equal(src.device, 'FakeSDR (driver=fake)');
        const { signal } = live(src, { gain: 30 });
        await rejectsWith(
          () => signal.validate({ frequency: 7e9, sample_rate: 1e6, duration: 0.01 }),
          'ERR_DEVICE_RANGE',
          /1000000 … 6000000000 Hz \(SoapySDR getFrequencyRange/,
        );
        const out = join(dir, 'soapy.npz');
        await signal.generate(
          signal.validate({ frequency: 433.92e6, sample_rate: 1e6, duration: 0.05 }),
          out,
        );
        const r = await runPython<{
          peak: number;
          bin: number;
          meta: { global: Record<string, Record<string, unknown>> };
        }>(PEAK, [out]);
        assert.ok(Math.abs(r.peak - (433.92e6 + 200e3)) <= r.bin, `tone at ${r.peak}`);
        const cap = r.meta.global['sdrlink:capture'] as Record<string, unknown>;
        assert.equal(cap['tool'], 'SoapySDR');
        assert.equal(cap['gain'], 30);
        process.env['FAKE_SOAPY_OVERFLOW_AT'] = '8192';
        await rejectsWith(
          signal.generate(signal.validate({ frequency: 433.92e6, sample_rate: 1e6, duration: 0.05 }), out),
          'ERR_CAPTURE_OVERRUN',
        );
        await signal.generate(
          signal.validate({ frequency: 433.92e6, sample_rate: 1e6, duration: 0.05, allow_overrun: true }),
          out,
        );
        const r2 = await runPython<{ meta: { global: Record<string, Record<string, unknown>> } }>(PEAK, [
          out,
        ]);
        assert.deepEqual(
          (r2.meta.global['sdrlink:capture'] as Record<string, unknown>)['overrun_at'],
          [8192],
        );
      } finally {
        delete process.env['PYTHONPATH'];
        delete process.env['FAKE_SOAPY_OVERFLOW_AT'];
      }
    },
  );

  test(
    'the real SoapySDR module with no device attached: ERR_DEVICE_MISSING',
    {
      skip: toolSkip('/usr/lib/python3/dist-packages/SoapySDR.py', 'python3-soapysdr'),
    },
    async () => {
      const src = await createSource('soapy:driver=rtlsdr');
      const probe = await probeSoapy(src, '/usr/bin/python3');
      assert.equal(probe.ok, false);
      assert.equal((probe as { code: string }).code, 'ERR_DEVICE_MISSING');
      process.env['SDRLINK_SOAPY_PYTHON'] = '/usr/bin/python3';
      try {
        const real = await createSource('soapy:driver=rtlsdr');
        const { signal } = live(real);
        await rejectsWith(
          signal.generate(
            signal.validate({ frequency: 100e6, sample_rate: 1e6, duration: 0.01 }),
            join(dir, 'rs.npz'),
          ),
          'ERR_DEVICE_MISSING',
          /no device matches 'driver=rtlsdr'/,
        );
      } finally {
        delete process.env['SDRLINK_SOAPY_PYTHON'];
      }
    },
  );

  test('a bad --source is refused with ERR_SOURCE_CONFIG', async () => {
    await rejectsWith(
      createSource('hackrf'),
      'ERR_SOURCE_CONFIG',
      /rtlsdr\[:INDEX\], soapy\[:ARGS\] or command:CMD/,
    );
    await rejectsWith(createSource('command:'), 'ERR_SOURCE_CONFIG');
    assert.ok(new CaptureError('ERR_DEVICE_BUSY', 'x') instanceof Error);
  });
});

describe('DeviceQueue', () => {
  test('one holder at a time, first come first served, each waiter hears its place as the line moves', async () => {
    const q = new DeviceQueue();
    const heard: Record<string, number[]> = { a: [], b: [], c: [] };
    const ra = await q.acquire((n) => heard['a']?.push(n));
    const pb = q.acquire((n) => heard['b']?.push(n));
    const ac = new AbortController();
    const pc = q.acquire((n) => heard['c']?.push(n), ac.signal);
    const order: string[] = [];
    void pb.then(() => order.push('b'));
    assert.equal(q.waiting, 2);
    ra();
    const rb = await pb;
    assert.deepEqual(heard['b'], [1, 0]);
    assert.deepEqual(heard['c'], [2, 1]);
    ac.abort(new Error('gone'));
    await assert.rejects(pc, /gone/);
    assert.equal(q.waiting, 0);
    rb();
    const rd = await q.acquire(() => undefined);
    rd();
    assert.deepEqual(order, ['b']);
    assert.deepEqual(heard['a'], [0]);
  });
});
