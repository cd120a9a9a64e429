/**
 * `sdrlink demo`: the whole system on one machine with nothing set up. A signaling server (its own
 * process, on a temporary SQLite database, a free port), a provider and a consumer (this process), one
 * dataset fetched peer to peer over WebRTC and verified, and a summary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cleanupWebRtc, requestFile, startProvider, type Provider } from '../agents/index.js';
import { createDefaultDatasets } from '../datasets/index.js';
import { formatBytes, formatRate } from './format.js';
import { createProgress } from './progress.js';

/** The seed's example requests. */
const DEMO_PARAMS: Record<string, Record<string, unknown>> = {
  spectrum: { frequency_start: 100_000_000, frequency_end: 200_000_000, sample_rate: 1_000_000 },
  signal: { frequency: 100_000_000, sample_rate: 1_000_000, duration: 1 },
};

export async function runDemo(o: { out: string; type: string; keep?: boolean }): Promise<number> {
  const params = DEMO_PARAMS[o.type];
  if (params === undefined) {
    process.stderr.write(`sdrlink demo: --type must be one of ${Object.keys(DEMO_PARAMS).join(', ')}\n`);
    return 2;
  }
  const dir = await mkdtemp(join(tmpdir(), 'sdrlink-demo-'));
  let server: ChildProcess | undefined;
  let provider: Provider | undefined;
  const say = (s: string) => process.stderr.write(`${s}\n`);
  try {
    say(`1/4 starting a signaling server on a temporary database in ${dir}`);
    const started = await startServerProcess(join(dir, 'sdrlink.sqlite'));
    server = started.proc;
    const url = started.url;
    say(`    listening on ${url}`);

    say('2/4 registering a provider and a consumer');
    const providerToken = await registerAndLogin(url, 'demo-provider', 1);
    const consumerToken = await registerAndLogin(url, 'demo-consumer', 2);

    say('3/4 starting the provider');
    provider = await startProvider({
      server: url,
      token: providerToken,
      datasets: createDefaultDatasets(),
      dataDir: join(dir, 'provider-data'),
    });

    say(`4/4 requesting ${o.type} ${JSON.stringify(params)}`);
    const progress = createProgress('receiving');
    const r = await requestFile({
      server: url,
      token: consumerToken,
      type: o.type,
      params,
      outDir: o.out,
      onProgress: (p) => progress.update(p.received, p.total, p.transport),
    });
    progress.stop();
    process.stdout.write(
      [
        '',
        `received   ${r.path}`,
        `size       ${formatBytes(r.size)} (${r.size} bytes)`,
        `sha256     ${r.sha256} (${r.verified ? 'verified: every chunk CRC-32, the whole SHA-256' : 'UNVERIFIED'})`,
        `path       ${r.route ?? r.transport}${r.network_path !== undefined && r.network_path !== 'ws-relay' ? ` (${r.network_path})` : ''}`,
        `time       ${r.duration_ms} ms from request to verified file (${formatRate(r.rate)} on the wire)`,
        '',
        `Open it:   python3 -c "import numpy as np; d = np.load('${r.path}'); print({k: d[k].shape for k in d.files})"`,
        '',
      ].join('\n'),
    );
    return 0;
  } catch (err) {
    const e = err as Error & { code?: string };
    process.stderr.write(`sdrlink demo: ${e.code !== undefined ? `${e.code}: ` : ''}${e.message}\n`);
    return 1;
  } finally {
    await provider?.close();
    cleanupWebRtc();
    if (server !== undefined && server.exitCode === null) {
      const exited = new Promise((r) => server?.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    if (o.keep !== true) await rm(dir, { recursive: true, force: true });
  }
}

/** Spawns `sdrlink server --port 0` and waits for its `{"event":"listening"}` line. */
async function startServerProcess(db: string): Promise<{ proc: ChildProcess; url: string }> {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const proc = spawn(
    process.execPath,
    // the demo registers its two users over the API: registration is closed by default
    [
      main,
      'server',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--db',
      db,
      '--log-level',
      'warn',
      '--open-registration',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start within 20 s')), 20_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${String(code)}) before listening`));
    });
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; url?: string };
        if (msg.event === 'listening' && typeof msg.url === 'string') {
          clearTimeout(timer);
          resolve({ proc, url: msg.url });
        }
      } catch {
        // not our line
      }
    });
  });
}

async function registerAndLogin(url: string, username: string, clientType: 1 | 2): Promise<string> {
  const password = `demo-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const reg = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, client_type: clientType }),
  });
  if (reg.status !== 201) throw new Error(`register ${username}: HTTP ${reg.status} ${await reg.text()}`);
  const login = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (login.status !== 200) throw new Error(`login ${username}: HTTP ${login.status} ${await login.text()}`);
  const body = (await login.json()) as { token?: unknown };
  if (typeof body.token !== 'string') throw new Error(`login ${username}: no token in the answer`);
  return body.token;
}
