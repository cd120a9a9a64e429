/**
 * Child processes for the benchmark: every measured party runs in its own process, talks to the
 * orchestrator over Node's IPC channel, and exits when that channel closes (so a crashed orchestrator
 * leaves nothing behind).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** `SDRLINK_BENCH_DEBUG=1`: children log their events to stderr, and the orchestrator shows it. */
export const BENCH_DEBUG = process.env['SDRLINK_BENCH_DEBUG'] === '1';

/** Child side, under SDRLINK_BENCH_DEBUG: one line of diagnostics on stderr. */
export function debug(what: string, data: unknown): void {
  if (BENCH_DEBUG)
    process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${what} ${JSON.stringify(data)}\n`);
}

let profileSeq = 0;

/**
 * Under `SDRLINK_BENCH_PROFILE_DIR` (`npm run bench -- --profile DIR`), the flags that make a child write a
 * V8 CPU profile named after it into that folder when it exits.
 */
export function profileArgs(name: string): string[] {
  const dir = process.env['SDRLINK_BENCH_PROFILE_DIR'];
  if (dir === undefined || dir === '') return [];
  const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  profileSeq++;
  return [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    `--cpu-prof-name=${String(profileSeq).padStart(3, '0')}-${slug}.cpuprofile`,
  ];
}

/** A message between the orchestrator and a child: always an object with a `type`. */
export interface BenchMessage {
  type: string;
  [k: string]: unknown;
}

/**
 * The path of a sibling bench module, as the running build has it: `.js` under `dist/bench/`, or `.ts`
 * when the bench runs from source through tsx (`node --import tsx bench/run.ts`).
 */
export function siblingScript(selfUrl: string, name: string): string {
  const ext = selfUrl.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`./${name}${ext}`, selfUrl));
}

/** True when the module at `selfUrl` is the process's entry point. */
export function isMain(selfUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(entry).href === selfUrl;
}

/** A forked child with typed, bounded waits on its messages. */
export class Child {
  readonly proc: ChildProcess;
  readonly name: string;
  #inbox: BenchMessage[] = [];
  #waiters: Array<{
    type: string;
    id: unknown;
    resolve: (m: BenchMessage) => void;
    reject: (e: Error) => void;
  }> = [];
  #exited: Error | undefined;
  #stderr = '';
  /** Every message, as it arrives (before waiters see it). */
  onMessage: ((m: BenchMessage) => void) | undefined;

  constructor(name: string, script: string, args: string[], env?: NodeJS.ProcessEnv) {
    this.name = name;
    this.proc = fork(script, args, {
      execArgv: [...process.execArgv, ...profileArgs(name)],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      env: { ...process.env, ...env },
    });
    this.proc.stderr?.setEncoding('utf8');
    this.proc.stderr?.on('data', (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-4000);
      if (BENCH_DEBUG) process.stderr.write(d.replace(/^(?=.)/gm, `  [${name}] `));
    });
    this.proc.on('message', (raw: unknown) => {
      if (typeof raw !== 'object' || raw === null || typeof (raw as BenchMessage).type !== 'string') return;
      const m = raw as BenchMessage;
      this.onMessage?.(m);
      const i = this.#waiters.findIndex((w) => w.type === m.type && (w.id === undefined || w.id === m['id']));
      if (i >= 0) {
        const [w] = this.#waiters.splice(i, 1);
        w?.resolve(m);
      } else if (m.type === 'error') {
        this.#fail(new Error(`${this.name}: ${String(m['message'])}`));
      } else {
        this.#inbox.push(m);
      }
    });
    this.proc.on('exit', (code, sig) => {
      this.#fail(
        new Error(
          `${this.name} exited (code ${code}, signal ${sig})${this.#stderr ? `: ${this.#stderr.trim().split('\n').slice(-5).join(' | ')}` : ''}`,
        ),
      );
    });
  }

  #fail(err: Error) {
    this.#exited ??= err;
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w.reject(this.#exited);
  }

  /** Drops queued messages that `keep` rejects (e.g. late ones of an abandoned exchange). */
  discard(drop: (m: BenchMessage) => boolean): void {
    this.#inbox = this.#inbox.filter((m) => !drop(m));
  }

  /** The last few KiB the child wrote to stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  send(m: BenchMessage): void {
    if (this.proc.connected) this.proc.send(m);
  }

  /**
   * Resolves with the next message of `type` (queued ones first) — with `id`, of that `id` only; rejects
   * on exit, error or timeout.
   */
  next(type: string, timeoutMs: number, id?: unknown): Promise<BenchMessage> {
    const i = this.#inbox.findIndex((m) => m.type === type && (id === undefined || m['id'] === id));
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0] as BenchMessage);
    if (this.#exited !== undefined) return Promise.reject(this.#exited);
    return new Promise<BenchMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        const j = this.#waiters.indexOf(w);
        if (j >= 0) this.#waiters.splice(j, 1);
        reject(new Error(`${this.name}: no "${type}" message within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = {
        type,
        id,
        resolve: (m: BenchMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters.push(w);
    });
  }

  /** Asks the child to quit, then kills it if it has not exited within `graceMs`. */
  async stop(
    graceMs = process.env['SDRLINK_BENCH_PROFILE_DIR'] !== undefined ? 15_000 : 5000,
  ): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.send({ type: 'quit' });
    if (this.proc.connected) this.proc.disconnect();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Child side: sends a message to the orchestrator. Exits the process when the IPC channel is gone.
 */
export function toParent(m: BenchMessage): void {
  if (process.send !== undefined && process.connected) process.send(m);
}

/**
 * Child side: routes the orchestrator's messages to `handler`; a thrown or rejected handler is reported as
 * an `error` message. The process exits when the orchestrator disconnects or says `quit`.
 */
export function serveParent(handler: (m: BenchMessage) => void | Promise<void>, onQuit?: () => void): void {
  process.on('message', (raw: unknown) => {
    const m = raw as BenchMessage;
    if (m.type === 'quit') {
      onQuit?.();
      setTimeout(() => process.exit(0), 50).unref();
      return;
    }
    Promise.resolve()
      .then(() => handler(m))
      .catch((err: unknown) =>
        toParent({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  process.on('disconnect', () => {
    onQuit?.();
    setTimeout(() => process.exit(0), 50).unref();
  });
}

/** Peak resident set of this process in bytes (`maxRSS` is in KiB). */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** CPU seconds (user + system) this process has used since `since` (a `process.cpuUsage()` value). */
export function cpuSecondsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}
