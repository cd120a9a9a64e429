/** `sdrlink providers` implementation: see commands/providers.ts. */
import { SignalingClient } from '../agents/signaling-client.js';
import { exitCodeFor } from './account.js';
import { resolveTarget } from './credentials.js';

export async function runProviders(o: {
  server?: string;
  token?: string;
  json?: boolean;
  ca?: string;
  pin?: string;
}): Promise<number> {
  let client: SignalingClient | undefined;
  try {
    // --server/--token, else SDRLINK_SERVER/SDRLINK_TOKEN, else the stored login (README "Logging in")
    const target = resolveTarget({ server: o.server, token: o.token, ca: o.ca, pin: o.pin });
    client = new SignalingClient(target.server, target.token, { trust: target.trust });
    const list = await client.listProviders();
    if (o.json === true) {
      process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return 0;
    }
    if (list.length === 0) {
      process.stdout.write('no provider has been seen since the server started\n');
      return 0;
    }
    const rows = list.map((p) => [
      p.username,
      p.user_id,
      p.online ? 'online' : `offline${p.last_seen === '' ? '' : ` (seen ${p.last_seen})`}`,
      p.catalog === null
        ? `${p.request_types.length === 0 ? 'any' : p.request_types.join(',')} (no catalog)`
        : p.catalog.types.map((t) => t.type).join(',') || '-',
      p.catalog === null ? '-' : String(p.catalog.recordings.length),
    ]);
    const head = ['NAME', 'ID', 'STATUS', 'TYPES', 'RECORDINGS'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
    const line = (r: string[]) =>
      r
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd();
    process.stdout.write(`${[head, ...rows].map(line).join('\n')}\n`);
    return 0;
  } catch (err) {
    const e = err as Error & { code?: string };
    if (o.json === true)
      process.stdout.write(
        `${JSON.stringify({ ok: false, code: e.code ?? 'ERR_UNKNOWN', message: e.message })}\n`,
      );
    else
      process.stderr.write(`sdrlink providers: ${e.code !== undefined ? `${e.code}: ` : ''}${e.message}\n`);
    return exitCodeFor(err);
  } finally {
    client?.close();
  }
}
