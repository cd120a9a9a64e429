/** `sdrlink history` implementation: see commands/history.ts. */
import { SignalingClient } from '../agents/index.js';
import { exitCodeFor } from './account.js';
import { resolveTarget } from './credentials.js';
import type { TransferWire } from '../wire/index.js';
import { formatBytes, jsonLine } from './format.js';
import { trustFlags } from './trust-flags.js';

const FILTERS = ['status', 'type', 'provider', 'since', 'until', 'limit'] as const;

export async function runHistory(o: Record<string, unknown>): Promise<number> {
  const json = o['json'] === true;
  let client: SignalingClient | undefined;
  try {
    // --server/--token, else SDRLINK_SERVER/SDRLINK_TOKEN, else the stored login (README "Logging in")
    const target = resolveTarget({
      server: typeof o['server'] === 'string' ? o['server'] : undefined,
      token: typeof o['token'] === 'string' ? o['token'] : undefined,
      ...trustFlags(o),
    });
    client = new SignalingClient(target.server, target.token, { trust: target.trust });
    const filter: Partial<Record<(typeof FILTERS)[number], string>> = {};
    for (const k of FILTERS) if (typeof o[k] === 'string') filter[k] = o[k];
    const rows = await client.listTransfers(filter);
    process.stdout.write(json ? `${JSON.stringify(rows)}\n` : table(rows));
    return 0;
  } catch (err) {
    const e = err as Error & { code?: string };
    if (json)
      process.stdout.write(jsonLine({ ok: false, code: e.code ?? 'ERR_UNKNOWN', message: e.message }));
    else process.stderr.write(`sdrlink history: ${e.code !== undefined ? `${e.code}: ` : ''}${e.message}\n`);
    return exitCodeFor(err);
  } finally {
    client?.close();
  }
}

/**
 * The rows as an aligned table: when, type, provider, status, size, path, reason (for a completed
 * transfer: "unverified" when the file came without a checksum).
 */
export function table(rows: readonly TransferWire[]): string {
  if (rows.length === 0) return 'no transfers\n';
  const head = ['WHEN (UTC)', 'TYPE', 'PROVIDER', 'STATUS', 'SIZE', 'PATH', 'REASON'];
  const body = rows.map((r) => [
    r.created_at.slice(0, 19).replace('T', ' '),
    r.request_type,
    r.provider_name ?? '-',
    r.status,
    r.file_size > 0 ? formatBytes(r.file_size) : '-',
    r.path ?? (r.transport === 'relay' ? 'ws-relay' : (r.transport ?? '-')),
    reason(r),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...body.map(line)].join('\n')}\n`;
}

function reason(r: TransferWire): string {
  if (r.error_code === undefined || r.error_code === null) {
    // A file saved without a checksum (`request --allow-unverified` from a seed-style provider) says so.
    if (r.status === 'completed')
      return r.verified === false ? 'unverified (the provider sent no checksum)' : '';
    return r.error ?? '';
  }
  const side = r.failed_side === null || r.failed_side === undefined ? '' : ` (${r.failed_side})`;
  return `${r.error_code}${side}: ${r.error_message ?? ''}`.slice(0, 120);
}
