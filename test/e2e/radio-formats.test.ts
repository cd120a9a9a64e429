/**
 * SigMF out and spectrograms end to end: a real server, a real provider (`sdrlink provide
 * --calibration-db`) and `sdrlink request … --format …` as processes; Python reads what arrived.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createDefaultDatasets, type Dataset } from '../../src/datasets/index.js';
import {
  createTransferFixture,
  runRequestProcess,
  startProviderProcess,
  type ProviderProcess,
  type TransferFixture,
} from '../helpers/agents.js';
import { numpySkip, runPython } from '../helpers/numpy.js';
import { runCli } from '../helpers/server.js';
import { checkSigmfMeta } from '../helpers/sigmf-check.js';

describe('radio formats over real processes', { skip: numpySkip() }, () => {
  let fx: TransferFixture;
  let provider: ProviderProcess;
  before(async () => {
    fx = await createTransferFixture({ provider: 'radio-prov', consumer: 'radio-user' });
    provider = await startProviderProcess({
      url: fx.srv.url,
      token: fx.providerToken,
      dataDir: await fx.fresh('prov'),
      args: ['--calibration-db', '-20'],
    });
  });
  after(async () => {
    await provider?.stop();
    await fx?.close();
  });

  test('sdrlink request signal --format sigmf: a SigMF Archive NumPy reads, equal to the npz samples', async () => {
    const out = await fx.fresh('sigmf');
    const params = {
      frequency: 433.92e6,
      sample_rate: 1e6,
      duration: 0.2,
      snr_db: 15,
      modulation: 'fm',
      seed: 4,
    };
    const r = await runRequestProcess({
      url: fx.srv.url,
      token: fx.consumerToken,
      type: 'signal',
      params,
      out,
      args: ['--format', 'sigmf', '--extract'],
    });
    assert.equal(r.code, 0, r.stderr);
    const path = String(r.result['path']);
    assert.match(path, /\.sigmf$/);
    // --extract: the pair beside the verified archive
    const base = path.replace(/\.sigmf$/, '');
    assert.equal(r.result['sigmf_meta'], `${base}.sigmf-meta`);
    assert.equal(r.result['sigmf_data'], `${base}.sigmf-data`);
    // The same request as npz, made here, holds the same samples.
    const ds = createDefaultDatasets().get('signal') as Dataset;
    const npz = join(out, 'local.npz');
    await ds.generate(ds.validate(params), npz);
    const py = await runPython<{
      names: string[];
      meta: unknown;
      sha512: string;
      equal: boolean;
      n: number;
      pair_equal: boolean;
      pair_meta: boolean;
    }>(
      `
import tarfile
t = tarfile.open(sys.argv[1]); names = t.getnames(); n = names[0]
data = t.extractfile(f'{n}/{n}.sigmf-data').read()
meta = json.loads(t.extractfile(f'{n}/{n}.sigmf-meta').read())
iq = np.frombuffer(data, dtype=np.complex64)
pair = np.fromfile(sys.argv[3], dtype=np.complex64)
emit({'names': names, 'meta': meta, 'sha512': hashlib.sha512(data).hexdigest(),
      'equal': bool(np.array_equal(iq, np.load(sys.argv[2])['iq'])), 'n': int(iq.size),
      'pair_equal': bool(np.array_equal(pair, iq)), 'pair_meta': json.load(open(sys.argv[4])) == meta})`,
      [path, npz, `${base}.sigmf-data`, `${base}.sigmf-meta`],
    );
    assert.equal(py.names.length, 3);
    assert.equal(py.n, 200_000);
    assert.equal(py.equal, true);
    assert.equal(py.pair_equal, true, 'the extracted .sigmf-data holds the same samples');
    assert.equal(py.pair_meta, true, 'the extracted .sigmf-meta is the archive one');
    assert.deepEqual(checkSigmfMeta(py.meta, { sha512: py.sha512 }), []);
  });

  test('sdrlink request spectrogram: NumPy reads power_db [time, freq] in dBm/Hz from the provider calibration', async () => {
    const out = await fx.fresh('sg');
    const r = await runRequestProcess({
      url: fx.srv.url,
      token: fx.consumerToken,
      type: 'spectrogram',
      params: {
        frequency_start: 100e6,
        frequency_end: 100.8e6,
        sample_rate: 1e6,
        duration: 0.3,
        time_resolution: 0.01,
        fft_size: 256,
        seed: 9,
      },
      out,
      args: ['--format', 'npz'],
    });
    assert.equal(r.code, 0, r.stderr);
    const py = await runPython<{
      shape: number[];
      t: number;
      f: number;
      meta: unknown;
      sha512: string;
      median: number;
    }>(
      `
d = np.load(sys.argv[1]); meta = json.loads(str(d['meta'])); P = d['power_db']
emit({'shape': P.shape, 't': d['times'].size, 'f': d['frequencies'].size, 'meta': meta,
      'sha512': hashlib.sha512(P.tobytes()).hexdigest(), 'median': float(np.median(P))})`,
      [String(r.result['path'])],
    );
    assert.deepEqual(py.shape, [30, py.f]);
    assert.equal(py.t, 30);
    assert.deepEqual(checkSigmfMeta(py.meta, { sha512: py.sha512 }), []);
    const g = (py.meta as { global: Record<string, unknown> }).global;
    assert.equal(g['sdrlink:units'], 'dBm/Hz');
    assert.equal(g['sdrlink:calibration_db'], -20);
    // the scene's floor, −100 dBFS/Hz, moved by the calibration
    assert.ok(Math.abs(py.median - -120) < 1, `median ${py.median}`);
  });

  test('spectrogram --format sigmf is refused with the reason, and nothing is saved', async () => {
    const out = await fx.fresh('refused');
    const r = await runRequestProcess({
      url: fx.srv.url,
      token: fx.consumerToken,
      type: 'spectrogram',
      params: { frequency_start: 100e6, frequency_end: 100.8e6, sample_rate: 1e6, duration: 0.1 },
      out,
      args: ['--format', 'sigmf', '--wait', '20000'],
    });
    assert.notEqual(r.code, 0);
    assert.equal(r.result['ok'], false);
    // The server matches the request against the provider's catalog (format: enum ["npz"]) and refuses it
    // before offering it, naming the parameter (docs/api.md §12).
    assert.equal(r.result['code'], 'ERR_NO_PROVIDER');
    assert.match(String(r.result['message']), /radio-prov parameters\.format: must be one of npz/);
    assert.deepEqual(await readdir(out), []);
  });

  test('--extract without --format sigmf is refused before any network work', async () => {
    const r = await runCli([
      'request',
      'signal',
      '--server',
      fx.srv.url,
      '--token',
      fx.consumerToken,
      '--extract',
      '--json',
    ]);
    assert.notEqual(r.code, 0);
    const line = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    assert.equal(line['code'], 'ERR_CONFIG');
    assert.equal(line['message'], '--extract writes the pair of a SigMF Archive: give --format sigmf');
  });

  test('--format beside a different -p format is a contradiction, refused before any network work', async () => {
    const r = await runCli([
      'request',
      'signal',
      '--server',
      fx.srv.url,
      '--token',
      fx.consumerToken,
      '-p',
      'format=npz',
      '--format',
      'sigmf',
      '--json',
    ]);
    assert.notEqual(r.code, 0);
    const line = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    assert.equal(line['code'], 'ERR_CONFIG');
    assert.equal(line['message'], '--format sigmf contradicts -p format="npz"; give one');
  });
});
