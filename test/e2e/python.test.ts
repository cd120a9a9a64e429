/**
 * The Python package (python/, python/README.md) against a real server and a real `sdrlink provide`: a
 * researcher's `sdrlink.request("spectrum", …)` from Python, through the `sdrlink` command of this checkout,
 * gives arrays NumPy reads, the metadata parsed, the file re-hashed; errors come back as `SdrlinkError` with
 * the command's codes. Also: the package's own unittest suite, `providers()`, a timeout that cancels the
 * session, and an offline `pip install` into a fresh venv that then requests on its own.
 *
 * Needs Python with NumPy (`SDRLINK_PYTHON`, default python3); skipped with the reason without it, unless
 * SDRLINK_REQUIRE_NUMPY=1 (CI), where it fails instead.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import {
  createTransferFixture,
  sha256Of,
  startProviderProcess,
  type ProviderProcess,
  type TransferFixture,
} from '../helpers/agents.js';
import { hasNumpy, numpySkip, PYTHON, repoPath } from '../helpers/numpy.js';
import { checkSigmfMeta } from '../helpers/sigmf-check.js';
import { api, cliCommand, registerUser } from '../helpers/server.js';

const PACKAGE_DIR = repoPath('python');

/** A word quoted for a POSIX shell (what `shlex.split` reads back in `SDRLINK_CMD`). */
const shQuote = (w: string) => `'${w.replaceAll("'", `'\\''`)}'`;

/** This checkout's CLI as `SDRLINK_CMD` holds it. */
function sdrlinkCmd(): string {
  const cli = cliCommand();
  return [cli.command, ...cli.args].map(shQuote).join(' ');
}

interface PyRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `python` with `args`; `env` adds variables. */
async function py(
  args: string[],
  opts: { env?: Record<string, string>; python?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<PyRun> {
  if (!hasNumpy()) throw new Error(`${PYTHON} with numpy is required (SDRLINK_REQUIRE_NUMPY=1) but unusable`);
  const child = spawn(opts.python ?? PYTHON, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/**
 * Runs a snippet that imports the package from python/ (PYTHONPATH) with `SDRLINK_CMD` set to this
 * checkout's CLI, and returns the JSON it printed last (`emit(obj)`).
 */
async function pyJson<T>(
  script: string,
  opts: { env?: Record<string, string>; python?: string; pythonPath?: boolean } = {},
): Promise<T> {
  const code = `
import json, sys, hashlib
import numpy as np
import sdrlink
def emit(obj):
    def conv(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(repr(type(o)))
    sys.stdout.write(json.dumps(obj, default=conv))
${script}
`;
  const env: Record<string, string> = { SDRLINK_CMD: sdrlinkCmd(), ...opts.env };
  if (opts.pythonPath !== false) env['PYTHONPATH'] = PACKAGE_DIR;
  const r = await py(['-c', code], { env, ...(opts.python === undefined ? {} : { python: opts.python }) });
  assert.equal(r.code, 0, `python failed:\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

/** Python source for a keyword argument holding a JS value. */
const pyStr = (s: string) => JSON.stringify(s);

describe('the Python package against a real server and provider', { skip: numpySkip() }, () => {
  let fx: TransferFixture;
  let provider: ProviderProcess | undefined;
  let target: string;

  before(async () => {
    fx = await createTransferFixture({ provider: 'py-radio', consumer: 'py-user' });
    // a provider account that never comes online, for a request that waits
    await registerUser(fx.srv.url, { username: 'py-offline', password: 'provider-pass', client_type: 1 });
    target = `server=${pyStr(fx.srv.url)}, token=${pyStr(fx.consumerToken)}`;
  });
  after(async () => {
    await provider?.stop();
    await fx.close();
  });
  const ensureProvider = async () => {
    provider ??= await startProviderProcess({
      url: fx.srv.url,
      token: fx.providerToken,
      dataDir: await fx.fresh('pdata'),
    });
  };

  test('the package’s unittest suite passes (JSON lines, errors, parameters, loading, SigMF archives)', async () => {
    const r = await py([
      '-W',
      'error::ResourceWarning',
      '-m',
      'unittest',
      'discover',
      '-s',
      join(PACKAGE_DIR, 'tests'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Ran (\d+) tests/m);
    assert.ok(Number(/^Ran (\d+) tests/m.exec(r.stderr)?.[1]) >= 20, r.stderr);
    assert.match(r.stderr, /^OK$/m);
  });

  test('no provider online: SdrlinkError ERR_NO_PROVIDER, exit status 1, nothing saved', async () => {
    const out = await fx.fresh('none');
    const r = await pyJson<Record<string, unknown>>(`
try:
    sdrlink.request("spectrum", ${target}, out=${pyStr(out)}, wait=5,
                    frequency_start=100e6, frequency_end=101e6, sample_rate=1e6)
    emit({"raised": False})
except sdrlink.SdrlinkError as e:
    emit({"raised": True, "type": type(e).__name__, "code": e.code, "cli_code": e.cli_code, "exit": e.exit_status, "message": e.message})
`);
    assert.equal(r['raised'], true);
    assert.equal(r['type'], 'SdrlinkError');
    assert.equal(r['code'], 'ERR_NO_PROVIDER');
    assert.equal(r['cli_code'], 'ERR_NO_PROVIDER');
    assert.equal(r['exit'], 1);
    assert.match(String(r['message']), /no provider/);
    assert.deepEqual(await readdir(out), []);
  });

  test('spectrum: frequencies/power_db as NumPy arrays, meta parsed, each tone where the scene put it, the file re-hashed, progress events', async () => {
    await ensureProvider();
    const out = await fx.fresh('spectrum');
    const r = await pyJson<{
      keys: string[];
      freq: { dtype: string; shape: number[] };
      power: { dtype: string; shape: number[] };
      meta: Record<string, unknown>;
      global_: Record<string, unknown>;
      power_sha512: string;
      tones: Array<{ frequency: number; peak: number; peak_db: number; median_db: number }>;
      path: string;
      sha256: string;
      size: number;
      transport: string;
      route: string;
      session_id: string;
      verified: boolean;
      events: Array<Record<string, unknown>>;
      rehash: string;
    }>(`
events = []
d = sdrlink.request("spectrum", ${target}, out=${pyStr(out)}, on_progress=events.append,
                    frequency_start=100e6, frequency_end=101e6, sample_rate=np.float64(1e6), fft_size=1024, seed=0)
f, p = d["frequencies"], d["power_db"]
tones = []
for e in d.meta["global"]["sdrlink:scene"]["emitters"]:
    if e["kind"] != "tone":
        continue
    i = int(np.argmin(np.abs(f - e["frequency"])))
    lo, hi = max(0, i - 8), min(len(f), i + 9)
    k = lo + int(np.argmax(p[lo:hi]))
    tones.append({"frequency": e["frequency"], "peak": f[k], "peak_db": p[k], "median_db": float(np.median(p))})
emit({"keys": sorted(d), "freq": {"dtype": f.dtype.str, "shape": f.shape}, "power": {"dtype": p.dtype.str, "shape": p.shape},
      "meta": d.meta, "global_": d.global_, "power_sha512": hashlib.sha512(p.tobytes()).hexdigest(), "tones": tones, "path": d.path, "sha256": d.sha256, "size": d.size, "transport": d.transport,
      "route": d.route, "session_id": d.session_id, "verified": d.verified, "events": events,
      "rehash": hashlib.sha256(open(d.path, "rb").read()).hexdigest()})
`);
    assert.deepEqual(r.keys, ['frequencies', 'meta', 'power_db']);
    assert.equal(r.freq.dtype, '<f8');
    assert.equal(r.power.dtype, '<f4');
    // the meta is SigMF metadata of power_db: sdrlink's keys under global
    assert.deepEqual(checkSigmfMeta(r.meta, { sha512: r.power_sha512 }), []);
    assert.deepEqual(r.global_, r.meta['global']);
    const g = r.meta['global'] as Record<string, unknown>;
    const bins = g['sdrlink:bins'] as number;
    assert.deepEqual(r.freq.shape, [bins]);
    assert.deepEqual(r.power.shape, [bins]);
    assert.equal(g['sdrlink:type'], 'spectrum');
    assert.equal((g['sdrlink:parameters'] as Record<string, unknown>)['frequency_start'], 100e6);
    const binHz = g['sdrlink:bin_hz'] as number;
    assert.ok(r.tones.length >= 1, 'seed 0 places a tone in 100–101 MHz');
    for (const t of r.tones) {
      assert.ok(Math.abs(t.peak - t.frequency) <= binHz, `tone at ${t.frequency} Hz peaks at ${t.peak} Hz`);
      assert.ok(t.peak_db > t.median_db + 20, `tone ${t.peak_db} dB over a median of ${t.median_db} dB`);
    }
    assert.equal(r.sha256, await sha256Of(r.path));
    assert.equal(r.rehash, r.sha256);
    assert.ok(r.path.startsWith(out), r.path);
    assert.equal(r.verified, true);
    assert.equal(r.transport, 'p2p');
    assert.equal(r.route, 'direct');
    const kinds = r.events.map((e) => e['event']);
    assert.equal(kinds[0], 'session');
    assert.ok(kinds.includes('connected'), kinds.join(','));
    const last = r.events.at(-1) as Record<string, unknown>;
    assert.equal(last['event'], 'progress');
    assert.equal(last['received'], r.size);
    assert.equal(last['total'], r.size);
    assert.equal(last['percent'], 100);
    assert.equal(last['session_id'], r.session_id);
    for (const e of r.events) assert.match(String(e['ts']), /^\d{4}-\d\d-\d\dT/);
  });

  test('signal: complex64 IQ of the asked length, the tone at its frequency, SigMF meta whose sha512 matches', async () => {
    await ensureProvider();
    const out = await fx.fresh('signal');
    const r = await pyJson<{
      dtype: string;
      shape: number[];
      fs: number;
      fc: number;
      peak_hz: number;
      datatype: string;
      sha512_ok: boolean;
      label: string;
      snr_db: number;
    }>(`
d = sdrlink.request("signal", ${target}, out=${pyStr(out)},
                    frequency=100e6, sample_rate=1e6, duration=0.05, params={"snr_db": 10, "modulation": "tone"})
iq, fs, fc = d["iq"], float(d["sample_rate"]), float(d["center_frequency"])
spec = np.abs(np.fft.fft(iq))
peak = fc + np.fft.fftfreq(len(iq), 1 / fs)[int(np.argmax(spec))]
g = d.meta["global"]
emit({"dtype": iq.dtype.str, "shape": iq.shape, "fs": fs, "fc": fc, "peak_hz": peak, "datatype": g["core:datatype"],
      "sha512_ok": hashlib.sha512(iq.tobytes()).hexdigest() == g["core:sha512"],
      "label": d.meta["annotations"][0]["core:label"], "snr_db": g["sdrlink:parameters"].get("snr_db")})
`);
    assert.equal(r.dtype, '<c8');
    assert.deepEqual(r.shape, [50_000]);
    assert.equal(r.fs, 1e6);
    assert.equal(r.fc, 99.75e6, 'default center: frequency − sample_rate/4');
    assert.ok(Math.abs(r.peak_hz - 100e6) <= 1e6 / 50_000, `peak at ${r.peak_hz} Hz`);
    assert.equal(r.datatype, 'cf32_le');
    assert.equal(r.sha512_ok, true);
    assert.equal(r.label, 'tone');
    assert.equal(r.snr_db, 10, 'params= reached the provider');
  });

  test('signal format="sigmf": the SigMF Archive a real request saves, loaded as a Dataset, valid SigMF', async () => {
    await ensureProvider();
    const out = await fx.fresh('signal-sigmf');
    const r = await pyJson<{
      format: string;
      path: string;
      dtype: string;
      shape: number[];
      fs: number;
      fc: number;
      peak_hz: number;
      meta: unknown;
      sha512: string;
      same_as_npz: boolean;
    }>(`
kw = dict(frequency=100e6, sample_rate=1e6, duration=0.05, params={"snr_db": 10, "modulation": "tone"})
a = sdrlink.request("signal", ${target}, out=${pyStr(out)}, format="sigmf", **kw)
n = sdrlink.request("signal", ${target}, out=${pyStr(out)}, **kw)
iq, fs, fc = a["iq"], float(a["sample_rate"]), float(a["center_frequency"])
peak = fc + np.fft.fftfreq(len(iq), 1 / fs)[int(np.argmax(np.abs(np.fft.fft(iq))))]
emit({"format": a.format, "path": a.path, "dtype": iq.dtype.str, "shape": iq.shape, "fs": fs, "fc": fc, "peak_hz": peak,
      "meta": a.meta, "sha512": hashlib.sha512(iq.tobytes()).hexdigest(), "same_as_npz": bool(np.array_equal(iq, n["iq"]))})
`);
    assert.equal(r.format, 'sigmf');
    assert.match(r.path, /\.sigmf$/);
    assert.equal(r.dtype, '<c8');
    assert.deepEqual(r.shape, [50_000]);
    assert.equal(r.fs, 1e6);
    assert.ok(Math.abs(r.peak_hz - 100e6) <= 1e6 / 50_000, `peak at ${r.peak_hz} Hz`);
    assert.deepEqual(checkSigmfMeta(r.meta, { sha512: r.sha512 }), []);
    assert.equal(r.same_as_npz, true, 'the archive holds the samples of the npz');
  });

  test('a bad parameter: the named provider’s refusal is SdrlinkError ERR_PARAMS; unnamed, ERR_NO_PROVIDER; nothing saved', async () => {
    await ensureProvider();
    const out = await fx.fresh('bad');
    const r = await pyJson<Array<Record<string, unknown>>>(`
res = []
for provider in ("py-radio", None):
    try:
        sdrlink.request("spectrum", ${target}, out=${pyStr(out)}, provider=provider,
                        frequency_start=100e6, frequency_end=101e6, sample_rate=1e6, fft_size=1000)
        res.append({"raised": False})
    except sdrlink.SdrlinkError as e:
        res.append({"raised": True, "code": e.code, "cli_code": e.cli_code, "cause_code": e.cause_code,
                    "exit": e.exit_status, "message": e.message})
emit(res)
`);
    const [named, anyone] = r as [Record<string, unknown>, Record<string, unknown>];
    assert.equal(named['raised'], true);
    assert.equal(named['code'], 'ERR_PARAMS');
    assert.equal(named['cli_code'], 'ERR_PROVIDER');
    assert.equal(named['cause_code'], 'ERR_PARAMS');
    assert.equal(named['exit'], 1);
    assert.match(String(named['message']), /parameters\.fft_size/);
    assert.equal(anyone['raised'], true);
    assert.equal(anyone['code'], 'ERR_NO_PROVIDER');
    assert.match(String(anyone['message']), /parameters\.fft_size/);
    assert.deepEqual(await readdir(out), []);
  });

  test('a bad credential is SdrlinkAuthError (exit 3); no server at all is SdrlinkConfigError (exit 2)', async () => {
    const r = await pyJson<Array<Record<string, unknown>>>(
      `
res = []
for kw in ({"server": ${pyStr(fx.srv.url)}, "token": "not-a-token"}, {}):
    try:
        sdrlink.request("spectrum", out=${pyStr(fx.dir)}, frequency_start=1e6, frequency_end=2e6, sample_rate=1e6, **kw)
    except sdrlink.SdrlinkError as e:
        res.append({"type": type(e).__name__, "code": e.code, "exit": e.exit_status})
emit(res)
`,
      // no stored login, no SDRLINK_SERVER/SDRLINK_TOKEN: the second call has no server to use
      { env: { XDG_CONFIG_HOME: join(fx.dir, 'no-config'), SDRLINK_SERVER: '', SDRLINK_TOKEN: '' } },
    );
    assert.deepEqual(r, [
      { type: 'SdrlinkAuthError', code: 'ERR_AUTH', exit: 3 },
      { type: 'SdrlinkConfigError', code: 'ERR_NO_CREDENTIAL', exit: 2 },
    ]);
  });

  test('providers() lists the provider online with its catalog', async () => {
    await ensureProvider();
    const r = await pyJson<Array<Record<string, unknown>>>(`
emit([{"username": p["username"], "online": p["online"],
       "types": sorted(t["type"] for t in p["catalog"]["types"]) if p["catalog"] else None}
      for p in sdrlink.providers(${target})])
`);
    const mine = r.find((p) => p['username'] === 'py-radio');
    assert.deepEqual(mine, {
      username: 'py-radio',
      online: true,
      types: ['signal', 'spectrogram', 'spectrum'],
    });
  });

  test('timeout= interrupts the command: ERR_TIMEOUT, and the session is recorded as cancelled by the consumer', async () => {
    // the named provider never comes online, so the request waits for it (up to --wait) until the timeout
    const out = await fx.fresh('timeout');
    const r = await pyJson<Record<string, unknown>>(`
events = []
try:
    sdrlink.request("spectrum", ${target}, out=${pyStr(out)}, provider="py-offline", wait=120, timeout=3,
                    on_progress=events.append, frequency_start=100e6, frequency_end=101e6, sample_rate=1e6)
    emit({"raised": False})
except sdrlink.SdrlinkError as e:
    emit({"raised": True, "code": e.code, "session": [x["session_id"] for x in events if x["event"] == "session"]})
`);
    assert.equal(r['raised'], true);
    assert.equal(r['code'], 'ERR_TIMEOUT');
    const [sid] = r['session'] as string[];
    assert.ok(sid !== undefined, 'the session event came before the timeout');
    const rows = (await api(fx.srv.url, fx.consumerToken, 'GET', '/api/transfers')).body as Array<
      Record<string, unknown>
    >;
    const row = rows.find((x) => x['session_id'] === sid);
    assert.deepEqual(
      [row?.['status'], row?.['error_code'], row?.['failed_side']],
      ['cancelled', 'ERR_CANCELLED', 'consumer'],
    );
  });

  test('Ctrl-C in Python (KeyboardInterrupt, as a notebook interrupt sends) cancels the session as the consumer', async () => {
    const out = await fx.fresh('interrupt');
    const code = `
import json, sys
import sdrlink
def seen(e):
    if e["event"] == "session":
        print(json.dumps({"session": e["session_id"]}), flush=True)
try:
    sdrlink.request("spectrum", ${target}, out=${pyStr(out)}, provider="py-offline", wait=120, on_progress=seen,
                    frequency_start=100e6, frequency_end=101e6, sample_rate=1e6)
    print(json.dumps({"interrupted": False}), flush=True)
except KeyboardInterrupt:
    print(json.dumps({"interrupted": True}), flush=True)
`;
    const child = spawn(PYTHON, ['-c', code], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONPATH: PACKAGE_DIR, SDRLINK_CMD: sdrlinkCmd() },
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const lines: Array<Record<string, unknown>> = [];
    createInterface({ input: child.stdout }).on('line', (l) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      lines.push(e);
      if (typeof e['session'] === 'string') child.kill('SIGINT'); // Python's own Ctrl-C
    });
    const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(killer);
    assert.equal(status, 0, stderr);
    assert.deepEqual(lines.at(-1), { interrupted: true });
    const sid = String(lines[0]?.['session']);
    const rows = (await api(fx.srv.url, fx.consumerToken, 'GET', '/api/transfers')).body as Array<
      Record<string, unknown>
    >;
    const row = rows.find((x) => x['session_id'] === sid);
    assert.deepEqual(
      [row?.['status'], row?.['error_code'], row?.['failed_side']],
      ['cancelled', 'ERR_CANCELLED', 'consumer'],
    );
    assert.match(String(row?.['error_message']), /SIGINT/);
  });

  test('pip installs it offline into a fresh venv (no build dependency downloaded), and the installed package requests', async () => {
    await ensureProvider();
    const work = await fx.fresh('venv');
    // a copy, so that the build leaves nothing in the repository's python/
    const src = join(work, 'src');
    await cp(PACKAGE_DIR, src, {
      recursive: true,
      filter: (p) => !p.includes('__pycache__') && !p.endsWith('.egg-info'),
    });
    const venv = join(work, 'venv');
    // --system-site-packages: NumPy (and pip) from the system, as Debian's python3-numpy provides them
    const mk = await py(['-m', 'venv', '--without-pip', '--system-site-packages', venv]);
    assert.equal(mk.code, 0, mk.stderr);
    const vpy = join(venv, 'bin', 'python');
    const install = await py(['-m', 'pip', 'install', '--no-index', src], { python: vpy });
    assert.equal(install.code, 0, `${install.stdout}\n${install.stderr}`);
    assert.match(install.stdout, /Successfully installed sdrlink-0\.1\.0/);
    const out = await fx.fresh('venv-out');
    const r = await pyJson<{ file: string; version: string; shape: number[]; sha: string; path: string }>(
      `
d = sdrlink.request("signal", ${target}, out=${pyStr(out)}, frequency=433.92e6, sample_rate=2e5, duration=0.01)
emit({"file": sdrlink.__file__, "version": sdrlink.__version__, "shape": d["iq"].shape, "sha": d.sha256, "path": d.path})
`,
      { python: vpy, pythonPath: false },
    );
    assert.ok(r.file.startsWith(join(venv, 'lib')), `imported from the venv: ${r.file}`);
    assert.equal(r.version, '0.1.0');
    assert.deepEqual(r.shape, [2000]);
    assert.equal(r.sha, await sha256Of(r.path));
    await rm(work, { recursive: true, force: true });
  });
});
