/**
 * Throughput of dataset generation, ours next to NumPy's on the same sizes, measured in the same run
 * (for `npm run bench` and docs/datasets.md):
 *
 * - `signal`: complex64 MB/s for a tone + Gaussian noise at an SNR. Ours: the whole `signal` dataset
 *   (waveform, noise, SHA-512 of the samples, `.npz` writing). NumPy: the equivalent loop in blocks of
 *   1 Mi samples — `np.exp(1j·phase)`, `rng.standard_normal(float32)` noise, `astype(complex64)`,
 *   `hashlib.sha512`, `tofile`.
 * - `spectrum`: FFT points per second (captures × averages × fft_size / time) for a swept synthetic
 *   spectrum. Ours: the whole `spectrum` dataset (scene synthesis, Welch, dB, `.npz`). NumPy: per
 *   capture the noise plus one `np.exp` tone per emitter in band, strided segments, window,
 *   `np.fft.fft`, mean `|X|²`, `10·log10`, cut to the usable bins, `tofile`.
 * - raw FFTs: fft.js against our radix-2 and `np.fft.fft` (batched), points per second.
 *
 * Each figure is the best of `repeats` runs after warm-up runs of the same request (the machines are
 * shared; the best run is the least disturbed; V8 needs a few runs to optimise the hot loops). Files go to `/dev/shm` when it exists, so the figures are generation, not disk.
 *
 * Run: `node dist/bench/datasets.js [--quick]` prints the result as JSON.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createFft } from '../src/datasets/fft.js';
import { createDefaultDatasets } from '../src/datasets/index.js';
import type { SpectrumParams } from '../src/datasets/spectrum.js';

/** What {@link benchDatasets} measured. Rates are per second; `undefined` where NumPy was unavailable. */
export interface DatasetBenchResult {
  environment: {
    node: string;
    python?: string;
    numpy?: string;
    numpyError?: string;
    dir: string;
    repeats: number;
  };
  signal: { samples: number; bytes: number; oursMBps: number; numpyMBps?: number; oursFmMBps: number };
  spectrum: {
    fftSize: number;
    averages: number;
    captures: number;
    fftPoints: number;
    oursPointsPerSec: number;
    numpyPointsPerSec?: number;
  };
  fft: Array<{
    size: number;
    fftjsPointsPerSec: number;
    radix2PointsPerSec: number;
    numpyPointsPerSec?: number;
  }>;
}

const PYTHON = process.env['SDRLINK_PYTHON'] ?? 'python3';

const NUMPY_SCRIPT = `
import sys, json, time, hashlib
import numpy as np
cfg = json.loads(sys.argv[1])
out = {'numpy': np.__version__, 'python': sys.version.split()[0]}
def best(f, repeats):
    t = float('inf')
    for _ in range(repeats):
        t0 = time.perf_counter(); f(); t = min(t, time.perf_counter() - t0)
    return t

s = cfg['signal']
def signal():
    rng = np.random.default_rng(0)
    h = hashlib.sha512()
    n, block, r, sigma = s['samples'], 1 << 20, s['offset'] / s['fs'], s['sigma']
    with open(s['path'], 'wb') as f:
        for start in range(0, n, block):
            k = np.arange(start, min(n, start + block))
            x = np.exp(2j * np.pi * r * k)
            noise = rng.standard_normal((2, k.size), dtype=np.float32) * sigma
            y = (x + (noise[0] + 1j * noise[1])).astype(np.complex64)
            h.update(y.data)
            y.tofile(f)
    h.hexdigest()
out['signal_s'] = best(signal, cfg['repeats'])

p = cfg['spectrum']
def spectrum():
    rng = np.random.default_rng(0)
    N, S, fs = p['fft_size'], p['averages'], p['fs']
    L = N // 2 * (S + 1)
    k = np.arange(N)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * k / N)
    scale = 1 / (fs * (w ** 2).sum())
    sigma = np.sqrt(1e-10 * fs / 2)
    n = np.arange(L)
    with open(p['path'], 'wb') as f:
        for c, tones in enumerate(p['tones']):
            x = sigma * (rng.standard_normal(L) + 1j * rng.standard_normal(L))
            for off, amp in tones:
                x += amp * np.exp(2j * np.pi * off / fs * n)
            segs = np.lib.stride_tricks.sliding_window_view(x, N)[::N // 2]
            psd = np.fft.fftshift((np.abs(np.fft.fft(segs * w, axis=1)) ** 2).mean(axis=0) * scale)
            db = (10 * np.log10(np.maximum(psd, 1e-30))).astype(np.float32)
            db[p['left']:p['left'] + p['keep']].tofile(f)
out['spectrum_s'] = best(spectrum, cfg['repeats'])

out['fft'] = []
for size in cfg['fft_sizes']:
    batch = max(1, (1 << 22) // size)
    a = np.random.default_rng(1).standard_normal((batch, size)) + 1j * np.random.default_rng(2).standard_normal((batch, size))
    out['fft'].append(size * batch / best(lambda: np.fft.fft(a, axis=1), cfg['repeats']))
print(json.dumps(out))
`;

function runNumpy(cfg: unknown): Promise<Record<string, unknown>> {
  const child = spawn(PYTHON, ['-c', NUMPY_SCRIPT, JSON.stringify(cfg)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0)
        reject(new Error(`${PYTHON} exited ${String(code)}: ${stderr.trim().split('\n').pop() ?? ''}`));
      else {
        try {
          resolve(JSON.parse(stdout) as Record<string, unknown>);
        } catch {
          reject(new Error(`${PYTHON} printed no JSON`));
        }
      }
    });
  });
}

async function best(repeats: number, f: () => Promise<void> | void): Promise<number> {
  let t = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await f();
    t = Math.min(t, (performance.now() - t0) / 1000);
  }
  return t;
}

/** Measures dataset generation, ours and NumPy's (see the module comment). */
export async function benchDatasets(opts: { quick: boolean }): Promise<DatasetBenchResult> {
  const repeats = opts.quick ? 1 : 3;
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = await mkdtemp(join(base, 'sdrlink-bench-'));
  try {
    const registry = createDefaultDatasets();
    const signal = registry.get('signal')!;
    const spectrum = registry.get('spectrum')!;

    // signal: tone + noise at 20 dB SNR.
    const fs = 1e6;
    const seconds = opts.quick ? 4 : 32;
    const sigParams = {
      frequency: 100.25e6,
      center_frequency: 100e6,
      sample_rate: fs,
      duration: seconds,
      snr_db: 20,
    };
    const p = signal.validate(sigParams);
    const samples = seconds * fs;
    const bytes = samples * 8;
    const sigPath = join(dir, 'signal.npz');
    await signal.generate(p, sigPath); // warm up the JIT on the measured request
    const tSignal = await best(repeats, async () => {
      await signal.generate(p, sigPath);
    });
    const pf = signal.validate({ ...sigParams, modulation: 'fm' });
    await signal.generate(pf, sigPath);
    const tFm = await best(repeats, async () => {
      await signal.generate(pf, sigPath);
    });

    // spectrum: a sweep.
    const spanHz = opts.quick ? 20e6 : 100e6;
    const specParams = {
      frequency_start: 100e6,
      frequency_end: 100e6 + spanHz,
      sample_rate: fs,
      fft_size: 1024,
      averages: 16,
      emitters: 8,
    };
    const q = spectrum.validate(specParams) as SpectrumParams & { source: 'synthetic' };
    const specPath = join(dir, 'spectrum.npz');
    for (let i = 0; i < 3; i++) await spectrum.generate(q, specPath); // a short run: warm up well
    const tSpectrum = await best(repeats, async () => {
      await spectrum.generate(q, specPath);
    });

    // raw FFTs.
    const sizes = [1024, 4096, 65536];
    const fft: DatasetBenchResult['fft'] = [];
    for (const size of sizes) {
      const batch = Math.max(1, (1 << 22) / size);
      const input = Float64Array.from({ length: 2 * size }, (_, i) => Math.sin(i * 0.37));
      const output = new Float64Array(2 * size);
      const rate = async (impl: 'fftjs' | 'radix2'): Promise<number> => {
        const f = createFft(size, impl);
        f.forward(input, output);
        return (
          (size * batch) /
          (await best(repeats, () => {
            for (let b = 0; b < batch; b++) f.forward(input, output);
          }))
        );
      };
      fft.push({ size, fftjsPointsPerSec: await rate('fftjs'), radix2PointsPerSec: await rate('radix2') });
    }

    const result: DatasetBenchResult = {
      environment: { node: process.version, dir: base, repeats },
      signal: { samples, bytes, oursMBps: bytes / 1e6 / tSignal, oursFmMBps: bytes / 1e6 / tFm },
      spectrum: {
        fftSize: q.fft_size,
        averages: q.averages,
        captures: q.plan.captures,
        fftPoints: q.fftPoints,
        oursPointsPerSec: q.fftPoints / tSpectrum,
      },
      fft,
    };

    // NumPy on the same sizes: the same scene's tones per capture (as plain tones).
    try {
      const { placeEmitters } = await import('../src/datasets/scene.js');
      const { captureCenter } = await import('../src/datasets/spectrum.js');
      const emitters = placeEmitters(0, q.frequency_start, q.frequency_end, q.emitters, fs);
      const tones = Array.from({ length: q.plan.captures }, (_, k) => {
        const c = captureCenter(q.plan, k);
        return emitters
          .filter((e) => Math.abs(e.frequency - c) <= fs / 2)
          .map((e) => [e.frequency - c, Math.sqrt(10 ** (e.power_db / 10))]);
      });
      const np = await runNumpy({
        repeats,
        signal: {
          samples,
          fs,
          offset: 250e3,
          sigma: Math.sqrt(1 / 100 / 2),
          path: join(dir, 'numpy-signal.bin'),
        },
        spectrum: {
          fft_size: q.fft_size,
          averages: q.averages,
          fs,
          tones,
          left: q.plan.left,
          keep: q.plan.keep,
          path: join(dir, 'numpy-spectrum.bin'),
        },
        fft_sizes: sizes,
      });
      result.environment.numpy = String(np['numpy']);
      result.environment.python = String(np['python']);
      result.signal.numpyMBps = bytes / 1e6 / (np['signal_s'] as number);
      result.spectrum.numpyPointsPerSec = q.fftPoints / (np['spectrum_s'] as number);
      (np['fft'] as number[]).forEach((v, i) => {
        (result.fft[i] as DatasetBenchResult['fft'][number]).numpyPointsPerSec = v;
      });
    } catch (err) {
      result.environment.numpyError = err instanceof Error ? err.message : String(err);
    }
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchDatasets({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
