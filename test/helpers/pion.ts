/**
 * The seed's Go clients on a real pion (test/interop/pion-seed/main.go), built with Debian's Go and pion
 * packages (`golang-go`, `golang-github-pion-webrtc.v3-dev`): GOPATH mode, no module downloads, so it
 * builds offline.
 *
 * - `pionSkip()` is the `skip` option for a test that needs them: `false` when `go` and the pion sources
 *   are there, a reason string otherwise — except with `SDRLINK_REQUIRE_PION=1`, where it returns `false`
 *   so the test runs and fails loudly in {@link buildPionSeed} instead of being skipped.
 * - `buildPionSeed()` builds the client once per test process into a temporary folder (Go's build cache
 *   there too); `cleanupPionSeed()` removes it.
 * - `runPionSeed(args)` runs it and resolves with its exit code and its one-line JSON result.
 *
 * Environment: `SDRLINK_GO` (default `go`), `SDRLINK_PION_GOPATH` (default `/usr/share/gocode`, where
 * Debian installs Go sources), `SDRLINK_PION_VERSION` (default: the Debian package's version).
 *
 * @example
 * test('pion', { skip: pionSkip() }, async () => {
 *   const r = await runPionSeed(['-role', 'consumer', '-server', url, '-token', token, '-out', dir]);
 * });
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from './numpy.js';

export const GO = process.env['SDRLINK_GO'] ?? 'go';
export const PION_GOPATH = process.env['SDRLINK_PION_GOPATH'] ?? '/usr/share/gocode';
/** The fix for libdatachannel's zero-checksum INIT (pion/sctp skips unknown INIT parameters). */
export const PION_FIXED_VERSION = '3.2.24';

let probed: { ok: boolean; detail: string } | undefined;

function probe(): { ok: boolean; detail: string } {
  if (probed === undefined) {
    const r = spawnSync(GO, ['version'], { encoding: 'utf8', timeout: 30_000 });
    const webrtc = join(PION_GOPATH, 'src', 'github.com', 'pion', 'webrtc', 'go.mod');
    if (r.status !== 0) {
      probed = {
        ok: false,
        detail: `${GO}: ${(r.error?.message ?? r.stderr.trim()) || `exit ${String(r.status)}`}`,
      };
    } else if (!existsSync(webrtc)) {
      probed = { ok: false, detail: `no pion sources (${webrtc} missing)` };
    } else {
      probed = {
        ok: true,
        detail: `${r.stdout.trim()}, pion/webrtc ${pionVersion() ?? 'of unknown version'}`,
      };
    }
  }
  return probed;
}

/** Whether pion tests must run (and fail) even without Go or pion: `SDRLINK_REQUIRE_PION=1`. */
export function pionRequired(): boolean {
  return process.env['SDRLINK_REQUIRE_PION'] === '1';
}

/** The `skip` option for a test that needs the pion client (module comment). */
export function pionSkip(): string | false {
  if (probe().ok || pionRequired()) return false;
  return (
    `needs Go and Debian's pion (golang-go, golang-github-pion-webrtc.v3-dev): ${probe().detail}; ` +
    'set SDRLINK_REQUIRE_PION=1 to make this a failure'
  );
}

/** pion/webrtc's version: `SDRLINK_PION_VERSION`, else Debian's package version (`3.1.56`), else undefined. */
export function pionVersion(): string | undefined {
  const fromEnv = process.env['SDRLINK_PION_VERSION'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'golang-github-pion-webrtc.v3-dev'], {
    encoding: 'utf8',
  });
  const m = r.status === 0 ? /^(?:\d+:)?(\d+\.\d+\.\d+)/.exec(r.stdout) : null;
  return m?.[1];
}

/** True when `version` is older than pion's zero-checksum fix (v3.2.24). */
export function pionRefusesZeroChecksum(version: string): boolean {
  const a = version.split('.').map(Number);
  const b = PION_FIXED_VERSION.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0;
  }
  return false;
}

let built: Promise<{ bin: string; dir: string }> | undefined;

/**
 * Builds the client once per process (later calls share the build). GOPATH mode finds the sources only
 * inside a GOPATH, and resolves pion's `/v3` import paths only for a package with a go.mod, so the
 * source and its go.mod are copied into a temporary GOPATH beside Debian's.
 */
export function buildPionSeed(): Promise<{ bin: string; dir: string }> {
  built ??= (async () => {
    if (!probe().ok) throw new Error(`cannot build the pion client: ${probe().detail}`);
    const dir = await mkdtemp(join(tmpdir(), 'sdrlink-pion-'));
    const pkg = join(dir, 'gopath', 'src', 'pion-seed');
    await mkdir(pkg, { recursive: true });
    for (const f of ['main.go', 'go.mod'])
      await copyFile(repoPath('test', 'interop', 'pion-seed', f), join(pkg, f));
    const bin = join(dir, 'pion-seed');
    const env = {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: `${PION_GOPATH}:${join(dir, 'gopath')}`,
      GOCACHE: join(dir, 'gocache'),
      GOFLAGS: '',
      GOPROXY: 'off',
    };
    const r = await run(GO, ['build', '-o', bin, '.'], { cwd: pkg, env }, 300_000);
    if (r.code !== 0) throw new Error(`go build failed (exit ${String(r.code)}):\n${r.stderr}`);
    return { bin, dir };
  })();
  return built;
}

/** Removes the build folder, if a build ran. */
export async function cleanupPionSeed(): Promise<void> {
  if (built === undefined) return;
  const b = built;
  built = undefined;
  try {
    await rm((await b).dir, { recursive: true, force: true });
  } catch {
    // the build failed: its folder is gone or partial; nothing to keep
  }
}

export interface PionOutcome {
  code: number | string | null;
  /** The client's JSON result line (test/interop/pion-seed/main.go `Result`). */
  result: PionResult;
  stderr: string;
}

export interface PionResult {
  role: string;
  ok: boolean;
  error?: string;
  ended_by: string;
  session_id?: string;
  elapsed_ms: number;
  ice_connected_ms: number;
  dtls_connected_ms: number;
  sctp_connected_ms: number;
  channel_open_ms: number;
  pc_state: string;
  pc_failed_ms: number;
  error_signal?: string;
  error_signal_ms: number;
  bytes: number;
  size: number;
  sha256?: string;
  path?: string;
}

/** A running client: its outcome, and a way to stop it early. */
export interface PionProcess {
  proc: ChildProcess;
  outcome: Promise<PionOutcome>;
  stop(): Promise<void>;
}

/** Starts the built client with `args`; killed after `timeoutMs`. */
export async function startPionSeed(args: string[], timeoutMs = 120_000): Promise<PionProcess> {
  const { bin } = await buildPionSeed();
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout?.setEncoding('utf8');
  proc.stderr?.setEncoding('utf8');
  proc.stdout?.on('data', (c: string) => (stdout += c));
  proc.stderr?.on('data', (c: string) => (stderr = (stderr + c).slice(-32_768)));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (c, s) => {
      clearTimeout(timer);
      resolve(c ?? s);
    }),
  );
  const outcome = exited.then((code) => {
    const last = stdout.trim().split('\n').pop() ?? '';
    let result: PionResult;
    try {
      result = JSON.parse(last) as PionResult;
    } catch {
      throw new Error(
        `pion client printed no JSON result (exit ${String(code)})\nstdout: ${stdout}\nstderr: ${stderr}`,
      );
    }
    return { code, result, stderr };
  });
  outcome.catch(() => undefined);
  return {
    proc,
    outcome,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

function run(
  command: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
  timeoutMs: number,
): Promise<{ code: number | string | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(command, args, { ...opts, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr?.setEncoding('utf8');
    p.stderr?.on('data', (c: string) => (stderr += c));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', (err) => {
      clearTimeout(t);
      resolve({ code: null, stderr: err.message });
    });
    p.once('exit', (c, s) => {
      clearTimeout(t);
      resolve({ code: c ?? s, stderr });
    });
  });
}
