/**
 * Throughput of the live capture pipeline (docs/datasets.md "Live capture"), next to the stand-in device's
 * own rate in the same run: `node dist/bench/capture.js [--samples N]` (default 2^25 = 32 M samples).
 *
 * - stand-in alone: `test/fixtures/capture/rtl_sdr -s 3.2e6 -n N -` unpaced (FAKE_RTLSDR_PACE=0) and
 *   repeating one computed block (FAKE_RTLSDR_REPEAT=1), its stdout counted and dropped: how fast the
 *   stand-in delivers cu8 samples (the ceiling of the next row);
 * - pipeline: a live `signal` request of N samples through `createLiveDatasets` (spawn, cu8 read from the
 *   pipe, converted to complex64, SHA-512, streamed into the `.npz`) to /dev/shm, the stand-in unpaced;
 * - conversion alone: `convert('cu8', …)` over an 8 MiB buffer in memory.
 * A real RTL-SDR delivers at most 3.2 MS/s (2.4 MS/s without drops on most hosts).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createLiveDatasets, createSource } from '../src/capture/index.js';
import { convert } from '../src/capture/process-capture.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const standin = join(root, 'test/fixtures/capture');

async function standinAlone(samples: number): Promise<number> {
  const t0 = performance.now();
  const p = spawn(join(standin, 'rtl_sdr'), ['-f', '100e6', '-s', '3.2e6', '-n', String(samples), '-'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, FAKE_RTLSDR_PACE: '0', FAKE_RTLSDR_REPEAT: '1' },
  });
  let bytes = 0;
  for await (const c of p.stdout) bytes += (c as Buffer).length;
  const s = (performance.now() - t0) / 1000;
  if (bytes !== 2 * samples) throw new Error(`stand-in wrote ${bytes} bytes, expected ${2 * samples}`);
  return samples / s;
}

async function pipeline(samples: number, dir: string): Promise<number> {
  process.env['PATH'] = `${standin}${delimiter}${process.env['PATH'] ?? ''}`;
  process.env['FAKE_RTLSDR_PACE'] = '0';
  process.env['FAKE_RTLSDR_REPEAT'] = '1';
  const [, signal] = createLiveDatasets({
    source: await createSource('rtlsdr:0'),
    maxOutputBytes: 2 ** 40,
    maxFftPoints: 2 ** 31,
  });
  const p = signal!.validate({ frequency: 100e6, sample_rate: 3.2e6, duration: samples / 3.2e6 });
  const out = join(dir, 'capture.npz');
  const t0 = performance.now();
  await signal!.generate(p, out);
  const s = (performance.now() - t0) / 1000;
  await rm(out, { force: true });
  return samples / s;
}

function conversion(): number {
  const n = 4 << 20;
  const src = Buffer.alloc(2 * n, 200);
  const out = new Float32Array(2 * n);
  let best = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    convert('cu8', src, src.length, out, 0);
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  return best;
}

const arg = process.argv.indexOf('--samples');
const samples = arg > 0 ? Number(process.argv[arg + 1]) : 2 ** 25;
const dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sdrlink-capture-bench-'));
try {
  const best = async (f: () => Promise<number>) => Math.max(await f(), await f(), await f());
  const alone = await best(() => standinAlone(samples));
  const ours = await best(() => pipeline(samples, dir));
  const conv = conversion();
  const ms = (v: number) => `${(v / 1e6).toFixed(1)} MS/s`;
  process.stdout.write(
    [
      `| measure (${samples} complex samples, best of 3) | samples/s |`,
      '| --- | --- |',
      `| stand-in rtl_sdr alone, unpaced, to a pipe | ${ms(alone)} |`,
      `| capture pipeline: stand-in → cu8 → complex64 → SHA-512 → .npz on ${dir.startsWith('/dev/shm') ? '/dev/shm' : 'tmp'} | ${ms(ours)} |`,
      `| cu8 → complex64 conversion alone (in memory) | ${ms(conv)} |`,
      '| a real RTL-SDR at its highest rate | 3.2 MS/s |',
      '',
    ].join('\n'),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
