/**
 * Live capture with real processes: `sdrlink server`, `sdrlink provide --source rtlsdr:0` (and
 * `--source soapy:driver=fake`), `sdrlink request`. No receiver can be attached here, so the provider runs
 * the stand-ins with the real tools' interfaces: `test/fixtures/capture/rtl_sdr` first on its PATH (paced at
 * the sample rate like a dongle) and a `SoapySDR` module first on its PYTHONPATH. NumPy checks that the
 * tones land where they were placed, in `signal` (npz and SigMF Archive), in a swept `spectrum` and in
 * every row of a `spectrogram`; every meta passes the SigMF rules (test/helpers/sigmf-check.ts).
 */
import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createTransferFixture,
  runRequestProcess,
  startProviderProcess,
  type ProviderProcess,
  type TransferFixture,
} from '../helpers/agents.js';
import { numpySkip, repoPath, runPython } from '../helpers/numpy.js';
import { api, runCli } from '../helpers/server.js';
import { checkSigmfMeta } from '../helpers/sigmf-check.js';

const STANDIN = repoPath('test/fixtures/capture');
const TONE = 433.92e6 + 150_000;

const PEAK = `
d = np.load(sys.argv[1]); iq = d['iq'].astype(np.complex128); fs = float(d['sample_rate']); fc = float(d['center_frequency'])
spec = np.abs(np.fft.fft(iq * np.hanning(len(iq))))
f = fc + np.fft.fftfreq(len(iq), 1 / fs)
m = json.loads(str(d['meta']))
emit({'peak': f[int(spec.argmax())], 'bin': fs / len(iq), 'n': len(iq), 'cap': m['global']['sdrlink:capture'],
      'meta': m, 'sha512': hashlib.sha512(d['iq'].tobytes()).hexdigest()})
`;

describe(
  'live capture through sdrlink provide --source (real processes, stand-in devices)',
  { skip: numpySkip() },
  () => {
    let fx: TransferFixture;
    let rtl: ProviderProcess;
    let soapy: ProviderProcess;
    let rtlId: string;
    let soapyId: string;
    let busy: string;
    let lose: string;
    let hold: string;
    let rtlData: string;

    before(async () => {
      fx = await createTransferFixture({ provider: 'radio-prov', consumer: 'radio-consumer' });
      const dir = await fx.fresh('flags');
      busy = join(dir, 'busy');
      lose = join(dir, 'lose');
      hold = join(dir, 'hold');
      rtl = await startProviderProcess({
        url: fx.srv.url,
        token: fx.providerToken,
        dataDir: (rtlData = await fx.fresh('rtl-data')),
        args: ['--source', 'rtlsdr:0', '--gain', '30', '--calibration-db', '-20'],
        env: {
          PATH: `${STANDIN}${delimiter}${process.env['PATH'] ?? ''}`,
          FAKE_RTLSDR_TONES: JSON.stringify([
            { frequency: TONE, amplitude: 0.5 },
            { frequency: 101.3e6, amplitude: 0.3 },
            { frequency: 103.9e6, amplitude: 0.3 },
          ]),
          FAKE_RTLSDR_BUSY: busy,
          FAKE_RTLSDR_LOSE_FILE: lose,
          FAKE_RTLSDR_HOLD: hold,
        },
      });
      rtlId = String((await rtl.waitFor((e) => e['event'] === 'ready'))['user_id']);
      const soapyUser = await api(fx.srv.url, undefined, 'POST', '/api/auth/register', {
        username: 'soapy-prov',
        password: 'provider-pass',
        client_type: 1,
      });
      assert.equal(soapyUser.status, 201);
      const login = await api(fx.srv.url, undefined, 'POST', '/api/auth/login', {
        username: 'soapy-prov',
        password: 'provider-pass',
      });
      soapy = await startProviderProcess({
        url: fx.srv.url,
        token: String((login.body as { token: string }).token),
        dataDir: await fx.fresh('soapy-data'),
        args: ['--source', 'soapy:driver=fake'],
        env: { PYTHONPATH: repoPath('test/fixtures/capture/soapy'), FAKE_SOAPY_TONE: String(TONE) },
      });
      soapyId = String((await soapy.waitFor((e) => e['event'] === 'ready'))['user_id']);
    });
    after(async () => {
      await rtl?.stop();
      await soapy?.stop();
      await fx?.close();
    });

    const request = async (type: string, params: Record<string, unknown>, provider: string, name: string) =>
      runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type,
        params,
        out: await fx.fresh(name),
        args: ['--provider', provider],
      });

    test('the catalog announces the receivers’ ranges', async () => {
      const listed = (await api(fx.srv.url, fx.consumerToken, 'GET', '/api/providers')).body as Array<{
        user_id: string;
        catalog: { types: Array<{ type: string; parameters: Array<Record<string, unknown>> }> } | null;
      }>;
      const param = (id: string, type: string, name: string) =>
        listed
          .find((p) => p.user_id === id)
          ?.catalog?.types.find((t) => t.type === type)
          ?.parameters.find((x) => x['name'] === name);
      assert.equal(param(rtlId, 'signal', 'frequency')?.['minimum'], 24e6);
      assert.equal(param(rtlId, 'signal', 'frequency')?.['maximum'], 1766e6);
      assert.match(String(param(rtlId, 'signal', 'sample_rate')?.['description']), /\(900000 … 3200000\]/);
      assert.equal(param(rtlId, 'spectrum', 'gain')?.['maximum'], 49.6);
      assert.equal(param(soapyId, 'signal', 'frequency')?.['maximum'], 6e9);
      assert.equal(param(rtlId, 'spectrogram', 'frequency_start')?.['maximum'], 1766e6);
      assert.equal(param(rtlId, 'spectrogram', 'duration')?.['required'], true);
      assert.match(
        String(param(rtlId, 'spectrogram', 'calibration_db')?.['description']),
        /provider's -20 dB/,
      );
      assert.deepEqual(param(rtlId, 'signal', 'format')?.['enum'], ['npz', 'sigmf']);
    });

    test('signal from rtl_sdr: the tone lands at its frequency after conversion; the hardware’s settings in meta', async () => {
      const r = await request(
        'signal',
        { frequency: 433.92e6, sample_rate: 1e6, duration: 0.2 },
        rtlId,
        'sig',
      );
      assert.equal(r.code, 0, JSON.stringify(r.result) + r.stderr);
      const py = await runPython<{
        peak: number;
        bin: number;
        n: number;
        cap: Record<string, unknown>;
        meta: { global: Record<string, unknown> };
        sha512: string;
      }>(PEAK, [String(r.result['path'])]);
      assert.deepEqual(checkSigmfMeta(py.meta, { sha512: py.sha512 }), []);
      assert.equal(py.meta.global['core:sample_rate'], 1000000.026491);
      assert.equal(py.n, 200_000);
      assert.ok(Math.abs(py.peak - TONE) <= py.bin, `tone at ${py.peak}`);
      assert.equal(py.cap['sample_rate'], 1000000.026491);
      assert.equal(py.cap['gain'], 29.7);
      assert.equal(py.cap['device'], 'Generic RTL2832U OEM');
    });

    test('spectrum wider than the sample rate from rtl_sdr: swept and stitched, both tones in place', async () => {
      const r = await request(
        'spectrum',
        { frequency_start: 100e6, frequency_end: 105e6, sample_rate: 2.4e6, fft_size: 512, averages: 8 },
        rtlId,
        'spec',
      );
      assert.equal(r.code, 0, JSON.stringify(r.result) + r.stderr);
      const py = await runPython<{
        peaks: number[];
        captures: number;
        bin: number;
        meta: { global: Record<string, unknown> };
        sha512: string;
      }>(
        `
d = np.load(sys.argv[1]); f = d['frequencies']; p = d['power_db']; m = json.loads(str(d['meta']))
def peak(t):
    near = np.abs(f - t) < 100e3
    return float(f[near][int(p[near].argmax())])
emit({'peaks': [peak(101.3e6), peak(103.9e6)], 'captures': len(m['captures']), 'bin': m['global']['sdrlink:bin_hz'],
      'meta': m, 'sha512': hashlib.sha512(p.tobytes()).hexdigest()})
`,
        [String(r.result['path'])],
      );
      assert.deepEqual(checkSigmfMeta(py.meta, { sha512: py.sha512 }), []);
      // the provider's --calibration-db: dBm/Hz
      assert.equal(py.meta.global['sdrlink:units'], 'dBm/Hz');
      assert.equal(py.meta.global['sdrlink:calibration_db'], -20);
      assert.ok(py.captures >= 3, `captures ${py.captures}`);
      assert.ok(Math.abs((py.peaks[0] as number) - 101.3e6) <= py.bin);
      assert.ok(Math.abs((py.peaks[1] as number) - 103.9e6) <= py.bin);
    });

    test('spectrogram from rtl_sdr: one tuning, the tone’s bin stands out in every row, dBm/Hz from --calibration-db', async () => {
      const r = await request(
        'spectrogram',
        {
          frequency_start: 433.92e6 - 400e3,
          frequency_end: 433.92e6 + 400e3,
          sample_rate: 1.2e6,
          duration: 0.3,
          fft_size: 256,
          time_resolution: 0.03,
        },
        rtlId,
        'sg',
      );
      assert.equal(r.code, 0, JSON.stringify(r.result) + r.stderr);
      const py = await runPython<{
        rows: number;
        peak_bins: number[];
        tone_bin: number;
        margin: number;
        meta: { global: Record<string, unknown>; captures: Array<Record<string, unknown>> };
        sha512: string;
      }>(
        `
d = np.load(sys.argv[1]); f = d['frequencies']; p = d['power_db']; m = json.loads(str(d['meta']))
b = int(np.abs(f - float(sys.argv[2])).argmin())
emit({'rows': int(p.shape[0]), 'peak_bins': [int(x) for x in p.argmax(axis=1)], 'tone_bin': b,
      'margin': float(np.min(p[:, b] - np.median(p, axis=1))), 'meta': m,
      'sha512': hashlib.sha512(p.tobytes()).hexdigest()})
`,
        [String(r.result['path']), String(TONE)],
      );
      assert.deepEqual(checkSigmfMeta(py.meta, { sha512: py.sha512 }), []);
      assert.equal(py.rows, 10);
      for (const [row, bin] of py.peak_bins.entries())
        assert.ok(Math.abs(bin - py.tone_bin) <= 1, `row ${row}: peak in bin ${bin}, tone in ${py.tone_bin}`);
      assert.ok(py.margin > 30, `the tone stands ${py.margin} dB over each row's median`);
      assert.equal(py.meta.global['sdrlink:source'], 'live');
      assert.equal(py.meta.global['sdrlink:units'], 'dBm/Hz');
      assert.equal(py.meta.captures[0]?.['core:frequency'], 433.92e6);
      assert.equal(py.meta.captures[0]?.['sdrlink:gain_db'], 29.7);
    });

    test('signal --format sigmf --extract from rtl_sdr: a SigMF Archive, the pair valid SigMF, the tone in place', async () => {
      const out = await fx.fresh('sigmf-live');
      const res = await runRequestProcess({
        url: fx.srv.url,
        token: fx.consumerToken,
        type: 'signal',
        params: { frequency: 433.92e6, sample_rate: 1e6, duration: 0.1 },
        out,
        args: ['--provider', rtlId, '--format', 'sigmf', '--extract'],
      });
      assert.equal(res.code, 0, JSON.stringify(res.result) + res.stderr);
      assert.match(String(res.result['path']), /_live_[0-9a-f]{12}\.sigmf$/);
      const py = await runPython<{ peak: number; bin: number; n: number; meta: unknown; sha512: string }>(
        `
iq = np.fromfile(sys.argv[1], dtype='<c8'); m = json.load(open(sys.argv[2]))
fs = m['global']['core:sample_rate']; fc = m['captures'][0]['core:frequency']
x = iq.astype(np.complex128); spec = np.abs(np.fft.fft(x * np.hanning(len(x))))
f = fc + np.fft.fftfreq(len(x), 1 / fs)
emit({'peak': float(f[int(spec.argmax())]), 'bin': fs / len(x), 'n': len(iq), 'meta': m,
      'sha512': hashlib.sha512(iq.tobytes()).hexdigest()})
`,
        [String(res.result['sigmf_data']), String(res.result['sigmf_meta'])],
      );
      assert.deepEqual(checkSigmfMeta(py.meta, { sha512: py.sha512 }), []);
      assert.equal(py.n, 100_000);
      assert.ok(Math.abs(py.peak - TONE) <= py.bin, `tone at ${py.peak}`);
    });

    test('one capture at a time: a second consumer is queued and told its place; both get their files', async () => {
      // The first capture holds the device (the stand-in waits halfway while the hold file exists), so the
      // second one must wait, however slow the machine.
      await writeFile(hold, '');
      const earlier = new Set(rtl.events().map((e) => e['session_id']));
      const first = request('signal', { frequency: 433.92e6, sample_rate: 1e6, duration: 3 }, rtlId, 'long');
      // the first one's capture is under way (its own `preparing`, not an earlier session's)
      await rtl.waitFor((e) => e['event'] === 'preparing' && !earlier.has(e['session_id']), 60_000);
      const out = await fx.fresh('second');
      const secondRun = runCli([
        'request',
        'signal',
        '--server',
        fx.srv.url,
        '--token',
        fx.consumerToken,
        '--provider',
        rtlId,
        '--out',
        out,
        '-p',
        'frequency=433.92e6',
        '-p',
        'sample_rate=1e6',
        '-p',
        'duration=0.1',
      ]);
      try {
        const q = await rtl.waitFor((e) => e['event'] === 'queued', 60_000);
        // the consumer is told once its session is claimed: wait for that claim before freeing the device
        await rtl.waitFor((e) => e['event'] === 'claimed' && e['session_id'] === q['session_id'], 60_000);
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        await rm(hold, { force: true });
      }
      const second = await secondRun;
      const a = await first;
      assert.equal(a.code, 0, JSON.stringify(a.result));
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /queued: position 1/);
      const queued = rtl.events().filter((e) => e['event'] === 'queued');
      assert.equal(queued.length, 1, JSON.stringify(queued));
      assert.equal(queued[0]?.['position'], 1);
    });

    test('outside the tuner’s range: refused before capture with the range; the provider keeps serving', async () => {
      const r = await request(
        'signal',
        { frequency: 2.4e9, sample_rate: 1e6, duration: 0.1 },
        rtlId,
        'range',
      );
      assert.notEqual(r.code, 0);
      assert.equal(r.result['code'], 'ERR_PROVIDER');
      assert.equal(r.result['cause_code'], 'ERR_DEVICE_RANGE');
      assert.match(String(r.result['message']), /24000000 … 1766000000 Hz/);
      const ok = await request(
        'signal',
        { frequency: 100e6, sample_rate: 1e6, duration: 0.05 },
        rtlId,
        'after',
      );
      assert.equal(ok.code, 0, JSON.stringify(ok.result));
    });

    test('busy device and dropped samples: ERR_DEVICE_BUSY, ERR_CAPTURE_OVERRUN; allow_overrun serves it marked', async () => {
      await writeFile(busy, '');
      const b = await request(
        'signal',
        { frequency: 100e6, sample_rate: 1e6, duration: 0.05 },
        rtlId,
        'busy',
      );
      await rm(busy);
      assert.equal(b.result['cause_code'], 'ERR_DEVICE_BUSY', JSON.stringify(b.result));
      assert.match(String(b.result['message']), /usb_claim_interface error -6/);
      await writeFile(lose, '32768');
      try {
        const o = await request(
          'signal',
          { frequency: 100e6, sample_rate: 1e6, duration: 0.1 },
          rtlId,
          'lost',
        );
        assert.equal(o.result['cause_code'], 'ERR_CAPTURE_OVERRUN', JSON.stringify(o.result));
        const kept = await request(
          'signal',
          { frequency: 100e6, sample_rate: 1e6, duration: 0.1, allow_overrun: true },
          rtlId,
          'kept',
        );
        assert.equal(kept.code, 0, JSON.stringify(kept.result));
        const py = await runPython<{ cap: Record<string, unknown> }>(PEAK, [String(kept.result['path'])]);
        assert.equal(py.cap['overruns'], 1);
        assert.equal(py.cap['dropped_samples'], 16384);
      } finally {
        await rm(lose, { force: true });
      }
    });

    test('SoapySDR program (stand-in module): the tone lands at its frequency', async () => {
      const r = await request(
        'signal',
        { frequency: 433.92e6, sample_rate: 1e6, duration: 0.05 },
        soapyId,
        'soapy',
      );
      assert.equal(r.code, 0, JSON.stringify(r.result) + soapy.stderr());
      const py = await runPython<{ peak: number; bin: number; cap: Record<string, unknown> }>(PEAK, [
        String(r.result['path']),
      ]);
      assert.ok(Math.abs(py.peak - TONE) <= py.bin, `tone at ${py.peak}`);
      assert.equal(py.cap['tool'], 'SoapySDR');
      assert.equal(py.cap['device'], 'FakeSDR (driver=fake)');
    });

    test('live files are not kept in the provider’s cache once served', async () => {
      const a = await request('signal', { frequency: 100e6, sample_rate: 1e6, duration: 0.05 }, rtlId, 'c1');
      const b = await request('signal', { frequency: 100e6, sample_rate: 1e6, duration: 0.05 }, rtlId, 'c2');
      assert.equal(a.code, 0);
      assert.equal(b.code, 0);
      // two captures of the same request are two files (new samples), never the cached first one
      assert.notEqual(a.result['sha256'], b.result['sha256']);
      assert.notEqual(a.result['path'], b.result['path']);
      // and the provider removed them once the sessions ended
      const deadline = Date.now() + 10_000;
      let left = await readdir(join(rtlData, 'cache'));
      while (left.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        left = await readdir(join(rtlData, 'cache'));
      }
      assert.deepEqual(left, []);
    });
  },
);
