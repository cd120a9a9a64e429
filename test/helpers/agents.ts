/**
 * Test helpers for the agents as real processes: `sdrlink provide --json` (waits for its `ready` event) and
 * `sdrlink request --json` (resolves with its exit code and result line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  cliCommand,
  registerUser,
  startServerProcess,
  type CliCommand,
  type ServerProcess,
  type StartServerOptions,
} from './server.js';

export interface ProviderProcess {
  proc: ChildProcess;
  /** Every JSON event the provider printed so far. */
  events(): Array<Record<string, unknown>>;
  /** Resolves with the first event matching `pred` (already printed or to come). */
  waitFor(
    pred: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<number | string | null>;
  stop(): Promise<void>;
}

export async function startProviderProcess(opts: {
  url: string;
  /** Absent: no `--token` (the environment or the stored login gives it). */
  token: string | undefined;
  dataDir: string;
  args?: string[];
  /** Extra environment variables (`undefined` removes one). */
  env?: Record<string, string | undefined>;
  /** Default: this checkout's CLI ({@link cliCommand}). */
  cli?: CliCommand;
  /** Working directory (default: the test's). */
  cwd?: string;
}): Promise<ProviderProcess> {
  const cli = opts.cli ?? cliCommand();
  const proc = spawn(
    cli.command,
    [
      ...cli.args,
      'provide',
      '--server',
      opts.url,
      ...(opts.token === undefined ? [] : ['--token', opts.token]),
      '--data-dir',
      opts.dataDir,
      '--json',
      ...(opts.args ?? []),
    ],
    {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    },
  );
  let stderr = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (c: string) => (stderr = (stderr + c).slice(-32_768)));
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    pred: (e: Record<string, unknown>) => boolean;
    resolve: (e: Record<string, unknown>) => void;
  }> = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    events.push(e);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (code, sig) => resolve(code ?? sig)),
  );
  const waitFor = (pred: (e: Record<string, unknown>) => boolean, timeoutMs = 30_000) => {
    const hit = events.find(pred);
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`provider: no matching event within ${timeoutMs} ms\n${stderr}`)),
        timeoutMs,
      );
      waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(t);
          resolve(e);
        },
      });
      void exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`provider exited (${String(code)})\n${stderr}`));
      });
    });
  };
  const p: ProviderProcess = {
    proc,
    events: () => [...events],
    waitFor,
    stderr: () => stderr,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
  try {
    await waitFor((e) => e['event'] === 'ready', 20_000);
  } catch (err) {
    await p.stop();
    throw err;
  }
  return p;
}

export interface RequestOutcome {
  code: number | string | null;
  /** The `--json` result line. */
  result: Record<string, unknown>;
  stderr: string;
  /** Everything printed on stdout (event lines before the result line). */
  stdout: string;
}

/** Runs `sdrlink request TYPE --json` to the end. */
export async function runRequestProcess(opts: {
  /** Absent: no `--server` / `--token` (the environment or the stored login gives them). */
  url: string | undefined;
  token: string | undefined;
  type: string;
  params: Record<string, unknown>;
  out: string;
  args?: string[];
  /** Extra environment variables (`undefined` removes one). */
  env?: Record<string, string | undefined>;
  /** Default: this checkout's CLI ({@link cliCommand}). */
  cli?: CliCommand;
  /** Working directory (default: the test's). */
  cwd?: string;
  timeoutMs?: number;
}): Promise<RequestOutcome> {
  const cli = opts.cli ?? cliCommand();
  const paramArgs = Object.entries(opts.params).flatMap(([k, v]) => ['--param', `${k}=${JSON.stringify(v)}`]);
  const proc = spawn(
    cli.command,
    [
      ...cli.args,
      'request',
      opts.type,
      ...(opts.url === undefined ? [] : ['--server', opts.url]),
      ...(opts.token === undefined ? [] : ['--token', opts.token]),
      '--out',
      opts.out,
      '--json',
      ...paramArgs,
      ...(opts.args ?? []),
    ],
    {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    },
  );
  let stdout = '';
  let stderr = '';
  proc.stdout?.setEncoding('utf8');
  proc.stderr?.setEncoding('utf8');
  proc.stdout?.on('data', (c: string) => (stdout += c));
  proc.stderr?.on('data', (c: string) => (stderr = (stderr + c).slice(-32_768)));
  const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const code = await new Promise<number | string | null>((resolve) =>
    proc.once('exit', (c, s) => resolve(c ?? s)),
  );
  clearTimeout(timer);
  const last = stdout.trim().split('\n').pop() ?? '';
  let result: Record<string, unknown>;
  try {
    result = JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(
      `request printed no JSON result (exit ${String(code)})\nstdout: ${stdout}\nstderr: ${stderr}`,
    );
  }
  return { code, result, stderr, stdout };
}

/** SHA-256 of a file, streamed. */
export async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

export interface TransferFixture {
  srv: ServerProcess;
  dir: string;
  providerToken: string;
  consumerToken: string;
  /** A new folder inside `dir`. */
  fresh(name: string): Promise<string>;
  close(): Promise<void>;
}

/** A server process, a provider and a consumer account, and a temporary folder for the files. */
export async function createTransferFixture(
  names: {
    provider: string;
    consumer: string;
  },
  server: StartServerOptions = {},
): Promise<TransferFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'sdrlink-e2e-'));
  const srv = await startServerProcess(server);
  const providerToken = (
    await registerUser(srv.url, { username: names.provider, password: 'provider-pass', client_type: 1 })
  ).token;
  const consumerToken = (
    await registerUser(srv.url, { username: names.consumer, password: 'consumer-pass', client_type: 2 })
  ).token;
  let n = 0;
  return {
    srv,
    dir,
    providerToken,
    consumerToken,
    fresh: (name) => mkdtemp(join(dir, `${name}-${++n}-`)),
    async close() {
      await srv.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
