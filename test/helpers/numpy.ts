/**
 * Runs Python with NumPy from tests: the real reader our `.npz` files are written for.
 *
 * - `PYTHON` (env `SDRLINK_PYTHON`, default `python3`) is the interpreter.
 * - `numpySkip()` is the `skip` option for a test that needs NumPy: `false` when NumPy is there, a reason
 *   string otherwise — except with `SDRLINK_REQUIRE_NUMPY=1`, where it returns `false` so the test runs
 *   and fails loudly in {@link runPython} instead of being skipped.
 * - `runPython(script, args)` runs a snippet with `args` in `sys.argv[1:]`; the snippet prints one JSON
 *   document on stdout (use `emit(obj)`, predefined), which is returned parsed.
 *
 * @example
 * test('reads', { skip: numpySkip() }, async () => {
 *   const r = await runPython<{ shape: number[] }>(`d = np.load(sys.argv[1]); emit({'shape': d['iq'].shape})`, [file]);
 * });
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A path inside the repository (works from `src/` under tsx and from `dist/` after a build). */
export function repoPath(...parts: string[]): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return join(dir, ...parts);
}

/** The Python interpreter used by tests. */
export const PYTHON = process.env['SDRLINK_PYTHON'] ?? 'python3';

let cached: { ok: boolean; detail: string } | undefined;

function probe(): { ok: boolean; detail: string } {
  if (cached === undefined) {
    const r = spawnSync(PYTHON, ['-c', 'import numpy, sys; print(numpy.__version__)'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    cached =
      r.status === 0
        ? { ok: true, detail: `numpy ${r.stdout.trim()}` }
        : { ok: false, detail: (r.error?.message ?? r.stderr.trim()) || `exit ${String(r.status)}` };
  }
  return cached;
}

/** Whether `PYTHON` can import numpy. Cached. */
export function hasNumpy(): boolean {
  return probe().ok;
}

/** NumPy's version string, or undefined without NumPy. */
export function numpyVersion(): string | undefined {
  const p = probe();
  return p.ok ? p.detail.replace(/^numpy /, '') : undefined;
}

/** Whether NumPy tests must run (and fail) even without NumPy: `SDRLINK_REQUIRE_NUMPY=1`. */
export function numpyRequired(): boolean {
  return process.env['SDRLINK_REQUIRE_NUMPY'] === '1';
}

/** The `skip` option for a NumPy test (see the module comment). */
export function numpySkip(): string | false {
  if (hasNumpy() || numpyRequired()) return false;
  return `needs ${PYTHON} with numpy (${probe().detail}); set SDRLINK_REQUIRE_NUMPY=1 to make this a failure`;
}

const PRELUDE = `
import sys, json, hashlib
import numpy as np
def emit(obj):
    def conv(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, tuple):
            return list(o)
        raise TypeError(repr(type(o)))
    sys.stdout.write(json.dumps(obj, default=conv))
`;

/** Runs a Python snippet (NumPy imported as `np`, `emit(obj)` prints JSON) and returns what it emitted. */
export async function runPython<T = unknown>(
  script: string,
  args: readonly string[] = [],
  options: { timeoutMs?: number } = {},
): Promise<T> {
  if (!hasNumpy()) {
    throw new Error(
      `${PYTHON} with numpy is required (SDRLINK_REQUIRE_NUMPY=1) but unusable: ${probe().detail}`,
    );
  }
  const code = `${PRELUDE}\n${script}\n`;
  const child = spawn(PYTHON, ['-c', code, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  try {
    const status = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    const stdout = Buffer.concat(out).toString('utf8');
    const stderr = Buffer.concat(err).toString('utf8');
    if (status !== 0) throw new Error(`python exited ${String(status)}:\n${stderr}`);
    try {
      return JSON.parse(stdout) as T;
    } catch {
      throw new Error(`python printed no JSON:\n${stdout}\n${stderr}`);
    }
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
