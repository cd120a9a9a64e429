/** Small formatting helpers shared by the CLI verbs. */

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** Bytes per second → "123.4 MB/s" (decimal, as network rates are quoted). */
export function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}

/**
 * Parses repeated `--param key=value` options. Values are read as JSON when they parse (numbers, booleans,
 * arrays), else kept as strings: `--param sample_rate=2e6 --param window=hann`.
 */
export function parseParams(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--param ${JSON.stringify(pair)}: expected key=value`);
    const key = pair.slice(0, eq).trim();
    const raw = pair.slice(eq + 1);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`--param ${JSON.stringify(pair)}: bad key`);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    out[key] = value;
  }
  return out;
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * One `--json` output line: `obj` led by `ts`, the time it was written (ISO 8601, UTC, milliseconds), so
 * a log of these lines can be read against other logs.
 * @example jsonLine({ event: 'ready' }) // '{"ts":"2026-12-03T10:30:00.000Z","event":"ready"}\n'
 */
export function jsonLine(obj: Record<string, unknown>): string {
  return `${JSON.stringify({ ts: new Date().toISOString(), ...obj })}\n`;
}

/** The human line (stderr) for a `server-failover` event of an agent given several `--server` URLs. */
export function failoverLine(e: { from: string; to: string; reason: string }): string {
  return `sdrlink: server ${e.from} failed (${e.reason}); continuing with ${e.to}\n`;
}
