/**
 * The signaling server in its own process for the benchmark: `sdrlink server --port 0 --db PATH
 * --log-level warn`, ready when it prints its `{"event":"listening",…}` line (docs/api.md; STYLE.md
 * "Across processes"), plus user registration and login over the API (docs/api.md §1).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { profileArgs } from './child.js';

export interface ServerProcess {
  url: string;
  pid: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** The CLI entry point next to this build (`dist/src/cli/main.js`, or the `.ts` source under tsx). */
export function cliEntry(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`../src/cli/main${ext}`, import.meta.url));
}

/** Starts the server; rejects with its stderr when it exits or stays silent for `timeoutMs`. */
export async function startServer(
  dbPath: string,
  extraArgs: string[] = [],
  timeoutMs = 20_000,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const entry = cliEntry();
  if (!existsSync(entry)) throw new Error(`no CLI build at ${entry}`);
  const proc = spawn(
    process.execPath,
    [
      ...process.execArgv,
      ...profileArgs('server'),
      entry,
      'server',
      '--port',
      '0',
      '--db',
      dbPath,
      '--log-level',
      'warn',
      '--open-registration',
      ...extraArgs,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  let stderr = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(
      () => proc.kill('SIGKILL'),
      process.env['SDRLINK_BENCH_PROFILE_DIR'] !== undefined ? 15_000 : 3000,
    );
    await exited;
    clearTimeout(timer);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(
        () =>
          reject(
            new Error(`server printed no "listening" line within ${timeoutMs} ms; stderr: ${gist(stderr)}`),
          ),
        timeoutMs,
      );
      proc.stdout?.setEncoding('utf8');
      proc.stdout?.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line.startsWith('{')) continue;
          try {
            const ev = JSON.parse(line) as { event?: unknown; url?: unknown; port?: unknown };
            if (ev.event === 'listening') {
              clearTimeout(timer);
              resolve(
                typeof ev.url === 'string'
                  ? ev.url.replace(/\/$/, '')
                  : `http://127.0.0.1:${Number(ev.port)}`,
              );
            }
          } catch {
            // not our line
          }
        }
      });
      proc.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(
          new Error(
            `\`sdrlink server\` exited (code ${code}, signal ${sig}) before listening: ${gist(stderr)}`,
          ),
        );
      });
    });
    // Keep draining stdout so the server never blocks on a full pipe.
    proc.stdout?.resume();
    return { url, pid: proc.pid ?? 0, proc, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The telling line of a failed process's stderr: the first that mentions an error, else the last. */
export function gist(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const line = lines.find((l) => /error|cannot|not found|unknown/i.test(l)) ?? lines.at(-1) ?? '(no output)';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; json: unknown; text: string }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const init: RequestInit = { method, headers, signal: AbortSignal.timeout(10_000) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(`${url}${path}`, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

export interface BenchUser {
  username: string;
  userId: string;
  token: string;
}

/** Registers a user (provider: client_type 1, consumer: 2) and logs in (docs/api.md §1). */
export async function registerUser(
  url: string,
  username: string,
  clientType: 1 | 2,
  requestTypes?: string[],
): Promise<BenchUser> {
  const password = `bench-${username}-password`;
  const body: Record<string, unknown> = { username, password, client_type: clientType };
  if (requestTypes !== undefined) body['request_types'] = requestTypes;
  const reg = await api(url, 'POST', '/api/auth/register', body);
  if (reg.status !== 201)
    throw new Error(`register ${username}: HTTP ${reg.status} ${reg.text.slice(0, 300)}`);
  const login = await api(url, 'POST', '/api/auth/login', { username, password });
  if (login.status !== 200)
    throw new Error(`login ${username}: HTTP ${login.status} ${login.text.slice(0, 300)}`);
  const j = login.json as { token?: unknown; user_id?: unknown };
  if (typeof j.token !== 'string')
    throw new Error(`login ${username}: no token in ${login.text.slice(0, 300)}`);
  return { username, userId: String(j.user_id), token: j.token };
}

/** Declares the request types a provider serves (docs/api.md §1). */
export async function setRequestTypes(url: string, token: string, types: string[]): Promise<void> {
  const r = await api(url, 'PUT', '/api/me/request-types', { request_types: types }, token);
  if (r.status !== 200)
    throw new Error(`PUT /api/me/request-types: HTTP ${r.status} ${r.text.slice(0, 300)}`);
}
