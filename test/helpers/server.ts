/**
 * Test helpers for the signaling server as a real process: spawn `sdrlink server --port 0` on a SQLite file
 * in a temporary folder, wait for its `{"event":"listening"}` line (docs/api.md; src/server/main.ts), and
 * register users and get tokens over HTTP.
 *
 * Compiled (`npm test`), the helper runs `node dist/src/cli/main.js`; run from source with tsx, it runs
 * `node --import tsx src/cli/main.ts`, so a test file behaves the same either way.
 *
 * @example
 * const srv = await startServerProcess();
 * try {
 *   const { token } = await registerUser(srv.url, { username: 'p1', password: 'password-1', client_type: 1 });
 * } finally {
 *   await srv.stop();
 * }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface StartServerOptions {
  /** Extra CLI arguments (e.g. `['--session-ttl', '300']`). `--db` here overrides the temporary file. */
  args?: string[];
  /**
   * Extra environment variables (`undefined` removes one). Registration is open unless a test says
   * otherwise (`SDRLINK_REGISTRATION: undefined` for the closed default, or `--registration closed`):
   * tests register their users over the API.
   */
  env?: Record<string, string | undefined>;
  /** The command that runs the CLI (default {@link cliCommand}: this checkout's), e.g. an installed `sdrlink`. */
  cli?: CliCommand;
  /** Use this folder (and `<dir>/db.sqlite`) instead of a fresh temporary one; `stop()` then leaves it. */
  dir?: string;
  /** How long to wait for the listening line (default 20 s). */
  timeoutMs?: number;
}

export interface ServerProcess {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Absolute path of the SQLite file, as the server reported it. */
  dbPath: string;
  /** The built-in STUN responder's UDP port (`stun_port` of the listening line); undefined when off. */
  stunPort: number | undefined;
  /** Under `--tls`: the certificate's SHA-256 fingerprint (`tls.fingerprint256` of the listening line). */
  tlsFingerprint256: string | undefined;
  /** The folder holding the database (removed by `stop()` unless given in the options). */
  dir: string;
  proc: ChildProcess;
  /** What the server wrote to stderr so far (its pino log), for failure messages. */
  stderr(): string;
  /** Lines the server wrote to stdout after the listening line. */
  stdoutLines(): string[];
  /** Sends `signal` (default SIGTERM) and resolves with the exit code (or the signal name). */
  kill(signal?: NodeJS.Signals): Promise<number | string | null>;
  /** Kills the process (SIGTERM, then SIGKILL after 5 s) and removes its temporary folder. */
  stop(): Promise<void>;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** A program and the arguments that come before the verb. */
export interface CliCommand {
  command: string;
  args: string[];
}

/** The command that runs the CLI: the compiled one, or the TypeScript source through tsx. */
export function cliCommand(): CliCommand {
  if (FROM_SOURCE) {
    return {
      command: process.execPath,
      args: ['--import', import.meta.resolve('tsx'), join(HERE, '..', '..', 'src', 'cli', 'main.ts')],
    };
  }
  return { command: process.execPath, args: [join(HERE, '..', '..', 'src', 'cli', 'main.js')] };
}

/**
 * Runs the CLI to its exit; resolves with the exit code and both outputs. `env` adds (or, `undefined`,
 * removes) environment variables; `input` is written to its stdin.
 */
export async function runCli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; input?: string } = {},
): Promise<{ code: number | string | null; stdout: string; stderr: string }> {
  const cli = cliCommand();
  const proc = spawn(cli.command, [...cli.args, ...args], {
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  if (opts.input !== undefined) proc.stdin?.end(opts.input);
  let stdout = '';
  let stderr = '';
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | string | null>((resolve) =>
    proc.once('exit', (c, s) => resolve(c ?? s)),
  );
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Spawns the server and resolves once it listens. */
export async function startServerProcess(opts: StartServerOptions = {}): Promise<ServerProcess> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'sdrlink-server-')));
  const args = opts.args ?? [];
  const cli = opts.cli ?? cliCommand();
  const full = [...cli.args, 'server', '--host', '127.0.0.1', '--port', '0'];
  if (!args.includes('--db')) full.push('--db', join(dir, 'db.sqlite'));
  if (!args.includes('--log-level')) full.push('--log-level', 'warn');
  full.push(...args);
  const proc = spawn(cli.command, full, {
    cwd: dir,
    env: { ...process.env, SDRLINK_REGISTRATION: 'open', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-64 * 1024);
  });
  const exited = new Promise<number | string | null>((resolve) => {
    proc.once('exit', (code, signal) => resolve(code ?? signal));
  });
  const later: string[] = [];
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const cleanup = async () => {
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  let listening: {
    url: string;
    port: number;
    db: string;
    stunPort: number | undefined;
    fingerprint: string | undefined;
  };
  try {
    listening = await new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(
          new Error(
            `server did not print its listening line within ${opts.timeoutMs ?? 20_000} ms\n${stderr}`,
          ),
        );
      }, opts.timeoutMs ?? 20_000);
      void exited.then((code) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(new Error(`server exited (${String(code)}) before listening\n${stderr}`));
      });
      lines.on('line', (line) => {
        if (done) {
          later.push(line);
          return;
        }
        let msg: unknown;
        try {
          msg = JSON.parse(line);
        } catch {
          return;
        }
        const m = msg as {
          event?: unknown;
          url?: unknown;
          port?: unknown;
          db?: unknown;
          stun_port?: unknown;
          tls?: { fingerprint256?: unknown };
        };
        if (
          m.event === 'listening' &&
          typeof m.url === 'string' &&
          typeof m.port === 'number' &&
          typeof m.db === 'string'
        ) {
          done = true;
          clearTimeout(timer);
          const stunPort = typeof m.stun_port === 'number' ? m.stun_port : undefined;
          const fp = m.tls?.fingerprint256;
          resolve({
            url: m.url,
            port: m.port,
            db: m.db,
            stunPort,
            fingerprint: typeof fp === 'string' ? fp : undefined,
          });
        }
      });
    });
  } catch (err) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
    await cleanup();
    throw err;
  }
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    return exited;
  };
  return {
    url: listening.url,
    port: listening.port,
    dbPath: listening.db,
    stunPort: listening.stunPort,
    tlsFingerprint256: listening.fingerprint,
    dir,
    proc,
    stderr: () => stderr,
    stdoutLines: () => [...later],
    kill,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      await cleanup();
    },
  };
}

export interface RegisterInput {
  username: string;
  password: string;
  client_type: 1 | 2;
  request_types?: string[];
}

/** Registers a user (201) and logs in (200); returns its token and id. */
export async function registerUser(
  url: string,
  input: RegisterInput,
): Promise<{ token: string; user_id: string }> {
  const reg = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  if (reg.status !== 201)
    throw new Error(`register ${input.username}: HTTP ${reg.status} ${await reg.text()}`);
  const login = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: input.username, password: input.password }),
  });
  if (login.status !== 200)
    throw new Error(`login ${input.username}: HTTP ${login.status} ${await login.text()}`);
  const body = (await login.json()) as { token?: unknown; user_id?: unknown };
  if (typeof body.token !== 'string' || typeof body.user_id !== 'string') {
    throw new Error(`login ${input.username}: unexpected answer ${JSON.stringify(body)}`);
  }
  return { token: body.token, user_id: body.user_id };
}

/** One JSON call: `{ status, body }` (body parsed when JSON, else the text). */
export async function api(
  url: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(url + path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
