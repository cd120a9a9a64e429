/**
 * Prometheus's own `promtool` (Debian's `prometheus` package), for checking the exposition text of
 * `GET /metrics`. `promtoolSkip()` is the `skip` option of a test that needs it: `false` when it is there
 * (or when `SDRLINK_REQUIRE_PROMTOOL=1`, so the test runs and fails loudly), a reason string otherwise.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** The promtool executable used by tests. */
export const PROMTOOL = process.env['SDRLINK_PROMTOOL'] ?? '/usr/bin/promtool';

function usable(): boolean {
  try {
    accessSync(PROMTOOL, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The `skip` option of a test that needs promtool (see the module comment). */
export function promtoolSkip(): string | false {
  if (usable() || process.env['SDRLINK_REQUIRE_PROMTOOL'] === '1') return false;
  return `needs promtool at ${PROMTOOL} (Debian: apt-get install prometheus; or set SDRLINK_PROMTOOL); set SDRLINK_REQUIRE_PROMTOOL=1 to make this a failure`;
}

/** Runs `promtool check metrics` on `text`: its exit code and what it printed. */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number | null; output: string }> {
  const proc = spawn(PROMTOOL, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<number | null>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => resolve(code));
  });
  proc.stdin.end(text);
  return { code: await exited, output };
}
