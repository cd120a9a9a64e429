/**
 * Can this host reach the STUN servers it was given over UDP? One STUN Binding request (RFC 8489) to each,
 * sent three times within {@link UDP_PROBE_MS}; any success answer means yes. Where every server stays
 * silent, UDP is blocked on the way out (a firewall that lets only TCP through): no server-reflexive or
 * relayed candidate can come, and only a LAN path between host candidates is left — which connects in
 * milliseconds or not at all. {@link ../transport.ts} uses it to go to the WebSocket relay after a short
 * LAN window instead of the full connect timeout.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** How long the probe waits for an answer (requests at 0, 150 and 400 ms). */
export const UDP_PROBE_MS = 700;

export type UdpReach = 'reachable' | 'blocked' | 'unknown';

/** `stun:` / `turn:` (UDP) targets of an ICE server list: `{ host, port }` (an address or a name). */
export function udpTargets(
  servers: ReadonlyArray<{ urls: string | string[] }>,
): Array<{ host: string; port: number }> {
  const out: Array<{ host: string; port: number }> = [];
  for (const s of servers) {
    for (const url of Array.isArray(s.urls) ? s.urls : [s.urls]) {
      const m = /^(stun|turn):(\[[0-9A-Fa-f:.]+\]|[^:?[\]]+)(?::(\d+))?(\?transport=udp)?$/i.exec(url);
      if (m === null) continue;
      const host = (m[2] as string).replace(/^\[(.*)\]$/, '$1');
      out.push({ host, port: m[3] === undefined ? 3478 : Number(m[3]) });
    }
  }
  return out;
}

/**
 * `reachable` on the first Binding success from any target, `blocked` when none answered within `ms`,
 * `unknown` when there is nothing to probe (no STUN/TURN server with an IP address).
 */
export async function probeUdp(
  servers: ReadonlyArray<{ urls: string | string[] }>,
  ms = UDP_PROBE_MS,
): Promise<UdpReach> {
  const started = Date.now();
  const targets = await resolveTargets(udpTargets(servers), ms);
  if (targets.length === 0) return 'unknown';
  ms = Math.max(200, ms - (Date.now() - started));
  const sockets = {
    v4: createSocket('udp4'),
    v6: targets.some((t) => isIP(t.host) === 6) ? createSocket('udp6') : undefined,
  };
  const tid = randomBytes(12);
  const request = Buffer.concat([Buffer.from('000100002112a442', 'hex'), tid]);
  const timers: NodeJS.Timeout[] = [];
  try {
    return await new Promise<UdpReach>((resolve) => {
      const onMessage = (m: Buffer) => {
        if (m.length >= 20 && m.readUInt16BE(0) === 0x0101 && m.subarray(8, 20).equals(tid))
          resolve('reachable');
      };
      for (const s of [sockets.v4, sockets.v6]) {
        s?.on('message', onMessage);
        s?.on('error', () => undefined);
      }
      const send = () => {
        for (const t of targets) {
          const s = isIP(t.host) === 6 ? sockets.v6 : sockets.v4;
          s?.send(request, t.port, t.host, () => undefined);
        }
      };
      send();
      timers.push(
        setTimeout(send, 150),
        setTimeout(send, 400),
        setTimeout(() => resolve('blocked'), ms),
      );
    });
  } finally {
    for (const t of timers) clearTimeout(t);
    sockets.v4.close();
    sockets.v6?.close();
  }
}

/** Names resolved to all their addresses (the lookups bounded by `ms`); those that fail are left out. */
async function resolveTargets(
  targets: Array<{ host: string; port: number }>,
  ms: number,
): Promise<Array<{ host: string; port: number }>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  const resolved = await Promise.all(
    targets.map(async (t) => {
      if (isIP(t.host) !== 0) return [t];
      const all = await Promise.race([lookup(t.host, { all: true }).catch(() => undefined), timeout]);
      return (all ?? []).map((a) => ({ host: a.address, port: t.port }));
    }),
  );
  clearTimeout(timer);
  return resolved.flat();
}
