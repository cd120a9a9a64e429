/**
 * The lab's matrix: one row per network condition, each with the path it must take. {@link runRow} builds
 * the row's topology, starts coturn, the server, a provider and a consumer as real processes, applies the
 * row's mid-run condition, checks the file's sha256 and the path, and tears everything down.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Lab, PUBLIC_IP, sha256File, WAN_A, WAN_B, type Topology } from './lab.js';

export interface Row {
  id: string;
  title: string;
  topo: Topology;
  /** The path the consumer must report (`network_path`). */
  expect: RegExp;
  /** In words, for the table. */
  expectText: string;
  /** Applied once the provider has sent this share of the file: the direct UDP path between the routers dies. */
  cutDirectAt?: number;
  /** Applied once the channel is open: the provider can no longer reach the server. */
  cutSignalingForProvider?: boolean;
  /** Consumer idle timeout (a dead direct path is noticed after it). */
  idleTimeoutMs?: number;
  /**
   * The provider's fallback reason that must show the relay was taken for a known outcome (`ice-failed`:
   * the UDP probe, then the LAN window), not after the full connect timeout (`connect-timeout`).
   */
  expectFallback?: string;
  /** Extra consumer arguments (e.g. `--transport p2p`). */
  consumerArgs?: string[];
  /** The row expects the request to fail with this code, and its message to match `expect`. */
  expectError?: string;
}

const DIRECT_NAT = /^(host|srflx|prflx)-(srflx|prflx)\/udp$/;

export const ROWS: Row[] = [
  {
    id: '1-same-lan',
    title: 'same LAN',
    topo: { natA: 'eim', natB: 'eim', sameLan: true },
    expect: /^(host|prflx)-(host|prflx)\/udp$/,
    expectText: 'host (direct)',
  },
  {
    id: '2-cone-nat',
    title: 'both behind endpoint-independent NAT',
    topo: { natA: 'eim', natB: 'eim' },
    expect: DIRECT_NAT,
    expectText: 'srflx (direct)',
  },
  {
    id: '3-symmetric-nat',
    title: 'both behind symmetric NAT',
    topo: { natA: 'symmetric', natB: 'symmetric' },
    expect: /relay/,
    expectText: 'TURN (relay candidate)',
  },
  {
    id: '4-udp-blocked',
    title: "consumer's UDP blocked (TCP allowed)",
    topo: { natA: 'eim', natB: 'eim', udpBlockedB: true },
    expect: /^ws-relay$/,
    expectText: 'WebSocket relay',
    expectFallback: 'ice-failed',
  },
  {
    id: '4b-udp-blocked-p2p',
    title: "consumer's UDP blocked, and it asks for --transport p2p",
    topo: { natA: 'eim', natB: 'eim', udpBlockedB: true },
    consumerArgs: ['--transport', 'p2p'],
    expectError: 'ERR_ICE_FAILED',
    expect: /UDP to the STUN\/TURN servers is blocked on this side/,
    expectText: 'a clear error (ERR_ICE_FAILED, naming the blocked UDP)',
  },
  {
    id: '5a-loss-2',
    title: 'lossy: 2% random drop at router A',
    topo: { natA: 'eim', natB: 'eim', lossA: 0.02 },
    expect: DIRECT_NAT,
    expectText: 'srflx (direct)',
  },
  {
    id: '5b-loss-5',
    title: 'lossy: 5% random drop at router A',
    topo: { natA: 'eim', natB: 'eim', lossA: 0.05 },
    expect: DIRECT_NAT,
    expectText: 'srflx (direct)',
  },
  {
    id: '5c-slow-20mbit',
    title: 'slow: router A uplink 20 Mbit/s (tc tbf)',
    topo: { natA: 'eim', natB: 'eim', rateMbitA: 20 },
    expect: DIRECT_NAT,
    expectText: 'srflx (direct)',
  },
  {
    id: '6-path-dies',
    title:
      'direct path dies mid-transfer (UDP between the routers dropped; uplink 20 Mbit/s so the cut lands mid-file)',
    topo: { natA: 'eim', natB: 'eim', rateMbitA: 20 },
    expect: /^(ws-relay|relay-.*|.*-relay\/udp)$/,
    expectText: 'direct, then TURN or the WebSocket relay',
    cutDirectAt: 0.3,
    idleTimeoutMs: 3000,
  },
  {
    id: '7-signaling-lost',
    title: 'signaling unreachable for the provider after the channel opened',
    topo: { natA: 'eim', natB: 'eim' },
    expect: DIRECT_NAT,
    expectText: 'srflx (direct)',
    cutSignalingForProvider: true,
  },
];

export interface RowResult {
  id: string;
  title: string;
  expected: string;
  ok: boolean;
  path: string | undefined;
  route: string | undefined;
  bytes: number;
  sha256_ok: boolean;
  /** From the request to the first byte (setup: signaling, ICE or the relay). */
  first_byte_ms: number | undefined;
  /** Bytes per second from the first byte to the verified file. */
  rate_bps: number | undefined;
  /** Why the row failed, or notes (fallback reasons). */
  note: string;
  /** The consumer's stderr tail when the row failed. */
  log?: string;
  /** The server's transfer record: its `path` (the last reported, from either side) and `status`. */
  server_path?: string | null;
  server_status?: string;
}

/** The `signal` request for about `bytes` bytes (complex64 samples: 8 bytes each). */
export function signalParams(bytes: number): Record<string, number> {
  const sampleRate = 1_000_000;
  return {
    frequency: 100_000_000,
    center_frequency: 99_900_000,
    sample_rate: sampleRate,
    duration: bytes / 8 / sampleRate,
  };
}

export async function runRow(
  row: Row,
  bytes: number,
  log: (s: string) => void = () => undefined,
): Promise<RowResult> {
  const base: RowResult = {
    id: row.id,
    title: row.title,
    expected: row.expectText,
    ok: false,
    path: undefined,
    route: undefined,
    bytes: 0,
    sha256_ok: false,
    first_byte_ms: undefined,
    rate_bps: undefined,
    note: '',
  };
  let lab: Lab | undefined;
  try {
    lab = Lab.build(row.topo);
    await lab.startPublic();
    const providerToken = lab.register('provider', 1);
    const consumerToken = lab.register('consumer', 2);
    const dataDir = await lab.tempDir('provider');
    const provider = lab.spawnIn(lab.ns.prov, [
      'provide',
      '--server',
      lab.url,
      '--token',
      providerToken,
      '--data-dir',
      dataDir,
      '--json',
    ]);
    await provider.waitFor((l) => l['event'] === 'ready', 20_000, 'the provider ready');
    const out = await lab.tempDir('consumer');
    const args = [
      'request',
      'signal',
      '--server',
      lab.url,
      '--token',
      consumerToken,
      '--out',
      out,
      '--json',
      '--quiet',
    ];
    for (const [k, v] of Object.entries(signalParams(bytes))) args.push('-p', `${k}=${v}`);
    if (row.idleTimeoutMs !== undefined) args.push('--idle-timeout', String(row.idleTimeoutMs));
    if (row.consumerArgs !== undefined) args.push(...row.consumerArgs);
    const consumer = lab.spawnIn(lab.ns.cons, args);
    const notes: string[] = [];
    if (row.cutDirectAt !== undefined) {
      const at = row.cutDirectAt;
      // The consumer's partial file (in `out/.sdrlink-partial/`) tells how far the transfer got.
      const deadline = Date.now() + 60_000;
      while ((await dirBytes(out)) < at * bytes) {
        if (Date.now() > deadline || consumer.proc.exitCode !== null)
          throw new Error('the transfer never reached the cut point');
        await new Promise((r) => setTimeout(r, 20));
      }
      // Drop UDP between the two routers' WAN addresses both ways: the direct path dies, TURN and TCP stay.
      lab.addForwardRule(lab.ns.ra, `ip daddr ${WAN_B} meta l4proto udp counter drop`);
      lab.addForwardRule(lab.ns.rb, `ip daddr ${WAN_A} meta l4proto udp counter drop`);
      notes.push(`direct UDP cut at ${Math.round(at * 100)}%`);
      log(`${row.id}: direct path cut`);
    }
    if (row.cutSignalingForProvider === true) {
      await provider.waitFor((l) => l['event'] === 'connected', 60_000, 'the provider connected');
      lab.addForwardRule(lab.ns.ra, `ip daddr ${PUBLIC_IP} tcp dport 8080 counter drop`);
      notes.push('provider cut from the server after connecting');
    }
    const code = await consumer.exited;
    const result = consumer.lines.find((l) => 'ok' in l);
    if (row.expectError !== undefined) {
      const message = String(result?.['message'] ?? '');
      const ok = code !== 0 && result?.['code'] === row.expectError && row.expect.test(message);
      return { ...base, ok, path: undefined, note: `${String(result?.['code'])}: ${message}`.slice(0, 400) };
    }
    if (code !== 0 || result === undefined || result['ok'] !== true) {
      return {
        ...base,
        note: `consumer exit ${String(code)}: ${JSON.stringify(result ?? {})} ${consumer.stderr().slice(-1500)}`,
      };
    }
    const filePath = String(result['path']);
    const sha = await sha256File(filePath);
    const sent = provider.lines.find((l) => l['event'] === 'sent');
    const shaOk = sha === result['sha256'] && (sent === undefined || sent['sha256'] === sha);
    const path = typeof result['network_path'] === 'string' ? result['network_path'] : undefined;
    const fallbacks = provider.lines.filter((l) => l['event'] === 'connected' && l['fallback'] !== undefined);
    for (const f of fallbacks) notes.push(`provider fallback: ${String(f['fallback'])}`);
    const fallbackOk =
      row.expectFallback === undefined || fallbacks.some((f) => f['fallback'] === row.expectFallback);
    if (!fallbackOk) notes.push(`expected the provider's fallback reason ${row.expectFallback ?? ''}`);
    // The server's record: completed, with a path of the same kind (the provider may report its own view
    // of the pair, local = provider; a relayed pair has a relay side from both views).
    const rec = lab.transferRecord(consumerToken, String(result['session_id']));
    const serverPath = typeof rec?.['path'] === 'string' ? rec['path'] : null;
    const kind = (p: string | null | undefined) =>
      p === 'ws-relay'
        ? 'ws-relay'
        : p?.includes('relay') === true
          ? 'turn'
          : p === null || p === undefined
            ? 'none'
            : 'direct';
    const recordOk = rec?.['status'] === 'completed' && kind(serverPath) === kind(path);
    if (!recordOk) notes.push(`server record ${String(rec?.['status'])} ${String(serverPath)}`);
    const pathOk = path !== undefined && row.expect.test(path) && fallbackOk && recordOk;
    if (!pathOk) notes.push(`path ${String(path)} does not match ${String(row.expect)}`);
    if (!shaOk) notes.push('sha256 mismatch');
    return {
      ...base,
      ok: pathOk && shaOk,
      path,
      route: typeof result['route'] === 'string' ? result['route'] : undefined,
      bytes: Number(result['size']),
      sha256_ok: shaOk,
      first_byte_ms: Number(result['first_byte_ms']),
      rate_bps: Number(result['rate']),
      note: notes.join('; '),
      server_path: serverPath,
      ...(typeof rec?.['status'] === 'string' ? { server_status: rec['status'] } : {}),
      ...(pathOk && shaOk ? {} : { log: consumer.stderr().slice(-3000) + provider.stderr().slice(-2000) }),
    };
  } catch (err) {
    return { ...base, note: (err as Error).message.slice(0, 2000) };
  } finally {
    await lab?.destroy();
  }
}

/** The results as a Markdown table. */
export function resultsTable(results: RowResult[]): string {
  const head =
    '| row | condition | expected | path (consumer) | route | server record | sha256 | first byte | throughput | notes |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |';
  const rows = results.map((r) => {
    const mbit = r.rate_bps === undefined ? '–' : `${((r.rate_bps * 8) / 1e6).toFixed(1)} Mbit/s`;
    const fb = r.first_byte_ms === undefined ? '–' : `${(r.first_byte_ms / 1000).toFixed(2)} s`;
    return `| ${r.ok ? '✅' : '❌'} ${r.id} | ${r.title} | ${r.expected} | \`${r.path ?? '–'}\` | ${r.route ?? '–'} | ${r.server_path === undefined || r.server_path === null ? '–' : `\`${r.server_path}\``} | ${r.sha256_ok ? 'verified' : '–'} | ${fb} | ${mbit} | ${r.note.replace(/\|/g, '/').replace(/\n/g, ' ').slice(0, 300)} |`;
  });
  return [head, ...rows].join('\n');
}

/** Bytes of the regular files under `dir`, its subfolders included (the consumer keeps partial files in `.sdrlink-partial/`). */
async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += await dirBytes(p);
    else if (e.isFile()) n += (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return n;
}
