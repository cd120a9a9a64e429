/**
 * The products and batteries services as processes (`sdrlink products|batteries … --port 0`): started,
 * resolved on their `{"event":"listening"}` line, stopped with SIGTERM (SIGKILL after 5 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cliCommand } from './server.js';

/** A running service process. */
export interface ServiceProcess {
  url: string;
  /** The listening line. */
  line: Record<string, unknown>;
  proc: ChildProcess;
  stderr(): string;
  /** SIGTERM (SIGKILL after 5 s); resolves with the exit code or signal. */
  stop(): Promise<number | string | null>;
}

/** Spawns `sdrlink <verb> --host 127.0.0.1 --port 0 …args` in `cwd` and resolves once it listens. */
export async function startService(
  verb: 'products' | 'batteries',
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<ServiceProcess> {
  const cli = cliCommand();
  const proc = spawn(cli.command, [...cli.args, verb, '--host', '127.0.0.1', '--port', '0', ...args], {
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (c: string) => (stderr = (stderr + c).slice(-32_768)));
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (code, sig) => resolve(code ?? sig)),
  );
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      return code;
    }
    return exited;
  };
  try {
    const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${verb}: no listening line within 20 s\n${stderr}`)),
        20_000,
      );
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${verb} exited ${String(code)} before listening\n${stderr}`));
      });
      createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
        try {
          const e = JSON.parse(l) as Record<string, unknown>;
          if (e['event'] === 'listening' && typeof e['url'] === 'string') {
            clearTimeout(timer);
            resolve(e);
          }
        } catch {
          // not JSON
        }
      });
    });
    return { url: line['url'] as string, line, proc, stderr: () => stderr, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
