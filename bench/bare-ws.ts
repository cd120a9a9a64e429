/**
 * Baseline: a bare `ws` pair on 127.0.0.1 in two processes, the floor our relay is measured against.
 *
 * The receiver is a `ws` server; the sender connects to it as a client, as our agents connect to the
 * relay (so the sender masks its frames, RFC 6455 §5.3, as a relaying agent does). Messages are whole
 * frames of ours (65,536 bytes carrying 65,520 payload bytes, docs/protocol.md §2), and the figure counts
 * payload bytes. Backpressure: the sender keeps at most 4 MiB handed to `ws` and not yet written to the
 * socket (tracked through `send`'s callback), resuming below 1 MiB — the thresholds of our sender (§6).
 * Throughput is timed at the receiver from the first byte to the last; the receiver writes nothing.
 *
 * A second variant puts a minimal forwarding server between them (`relay`), the shape of our relay
 * (docs/api.md §6) with nothing else, to show what the extra hop alone costs. With `zeroMask`, the sender
 * masks with an all-zero key, as our relay client does (src/agents/channel/relay.ts): neither end XORs.
 *
 * Run as a child: `node dist/bench/bare-ws.js sender|receiver|relay`.
 */
import { randomFillSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocket, WebSocketServer } from 'ws';
import {
  DEFAULT_CHUNK_BYTES,
  FRAME_HEADER_BYTES,
  HIGH_WATER_BYTES,
  LOW_WATER_BYTES,
} from '../src/protocol/frames.js';
import {
  Child,
  cpuSecondsSince,
  isMain,
  peakRssBytes,
  serveParent,
  siblingScript,
  toParent,
} from './child.js';
import { mbPerSec } from './stats.js';

const MESSAGE_BYTES = DEFAULT_CHUNK_BYTES + FRAME_HEADER_BYTES;

/** Counts binary payload bytes on one socket and reports once `expectBytes` have arrived. */
function countInto(ws: WebSocket, expectBytes: () => number) {
  let bytes = 0;
  let first = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) return;
    if (bytes === 0) {
      first = performance.now();
      cpu0 = process.cpuUsage();
    }
    bytes += data.length - FRAME_HEADER_BYTES;
    if (bytes >= expectBytes()) {
      const ms = performance.now() - first;
      toParent({
        type: 'received',
        bytes,
        ms,
        cpu_s: cpu0 === undefined ? 0 : cpuSecondsSince(cpu0),
        max_rss: peakRssBytes(),
      });
    }
  });
}

function runReceiver() {
  let expectBytes = 0;
  let wss: WebSocketServer | undefined;
  let client: WebSocket | undefined;
  serveParent(
    (m) => {
      if (m.type === 'listen') {
        // Direct: the receiver is the server.
        const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 2 * MESSAGE_BYTES });
        wss = server;
        server.on('connection', (ws) => countInto(ws, () => expectBytes));
        server.on('listening', () =>
          toParent({ type: 'listening', port: (server.address() as AddressInfo).port }),
        );
      } else if (m.type === 'connect') {
        // Through a relay: the receiver is a client, as our consumer is.
        client = new WebSocket(`ws://127.0.0.1:${Number(m['port'])}/recv`, {
          perMessageDeflate: false,
          maxPayload: 2 * MESSAGE_BYTES,
        });
        countInto(client, () => expectBytes);
        client.on('open', () => toParent({ type: 'connected' }));
        client.on('error', (err) => toParent({ type: 'error', message: `ws: ${err.message}` }));
      } else if (m.type === 'expect') {
        expectBytes = Number(m['bytes']);
        toParent({ type: 'expecting' });
      } else throw new Error(`receiver: unknown message ${m.type}`);
    },
    () => {
      wss?.close();
      client?.close();
    },
  );
  toParent({ type: 'ready' });
}

/**
 * A minimal relay: the sender connects to `/send`, the receiver to `/recv`; every binary message is
 * forwarded as is. Backpressure like our server's (docs/api.md §6): stop reading the sender while more
 * than the window (4 MiB) is queued toward the receiver, resume at half.
 */
function runRelay() {
  const WINDOW = 4 * 1024 * 1024;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 2 * MESSAGE_BYTES });
  let recv: WebSocket | undefined;
  let send: WebSocket | undefined;
  let pending = 0;
  let paused = false;
  let cpu0: NodeJS.CpuUsage | undefined;
  wss.on('connection', (ws, req) => {
    if (req.url === '/recv') recv = ws;
    else if (req.url === '/send') {
      send = ws;
      cpu0 = process.cpuUsage();
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const to = recv;
        if (to === undefined) return;
        pending += data.length;
        to.send(data, { binary: isBinary }, () => {
          pending -= data.length;
          if (paused && pending <= WINDOW / 2) {
            paused = false;
            send?.resume();
          }
        });
        if (!paused && pending > WINDOW) {
          paused = true;
          ws.pause();
        }
      });
    }
  });
  wss.on('listening', () => toParent({ type: 'listening', port: (wss.address() as AddressInfo).port }));
  serveParent(
    (m) => {
      if (m.type === 'report')
        toParent({
          type: 'report',
          cpu_s: cpu0 === undefined ? 0 : cpuSecondsSince(cpu0),
          max_rss: peakRssBytes(),
        });
      else throw new Error(`relay: unknown message ${m.type}`);
    },
    () => wss.close(),
  );
  toParent({ type: 'ready' });
}

function runSender() {
  const block = Buffer.alloc(MESSAGE_BYTES);
  randomFillSync(block);
  let report: (() => void) | undefined;
  serveParent((m) => {
    if (m.type === 'report') {
      report?.();
      return;
    }
    if (m.type !== 'send') throw new Error(`sender: unknown message ${m.type}`);
    const payloadBytes = Number(m['bytes']);
    const ws = new WebSocket(`ws://127.0.0.1:${Number(m['port'])}/send`, {
      perMessageDeflate: false,
      ...(m['zero_mask'] === true ? { generateMask: (mask: Buffer) => void mask.fill(0) } : {}),
    });
    ws.binaryType = 'nodebuffer';
    let sent = 0;
    let inFlight = 0;
    let paused = false;
    let cpu0: NodeJS.CpuUsage | undefined;
    const onSent = (n: number) => (err?: Error) => {
      if (err !== undefined && err !== null) {
        toParent({ type: 'error', message: `send: ${err.message}` });
        return;
      }
      inFlight -= n;
      if (paused && inFlight <= LOW_WATER_BYTES) {
        paused = false;
        pump();
      }
    };
    const pump = () => {
      while (sent < payloadBytes) {
        if (inFlight > HIGH_WATER_BYTES) {
          paused = true;
          return;
        }
        const n = Math.min(DEFAULT_CHUNK_BYTES, payloadBytes - sent);
        const msg = n === DEFAULT_CHUNK_BYTES ? block : block.subarray(0, FRAME_HEADER_BYTES + n);
        inFlight += msg.length;
        ws.send(msg, { binary: true }, onSent(msg.length));
        sent += n;
      }
    };
    ws.on('open', () => {
      cpu0 = process.cpuUsage();
      pump();
    });
    ws.on('error', (err) => toParent({ type: 'error', message: `ws: ${err.message}` }));
    report = () => {
      toParent({
        type: 'report',
        cpu_s: cpu0 === undefined ? 0 : cpuSecondsSince(cpu0),
        max_rss: peakRssBytes(),
      });
      ws.close();
    };
  });
  toParent({ type: 'ready' });
}

export interface BareWsResult {
  bytes: number;
  ms: number;
  mb_s: number;
  sender_cpu_s: number;
  receiver_cpu_s: number;
  /** CPU seconds of the relay process (variant `relay` only). */
  relay_cpu_s?: number;
  sender_max_rss: number;
  receiver_max_rss: number;
}

/**
 * Moves `bytes` of payload over fresh processes: `direct`, a bare `ws` pair (sender → receiver's server);
 * `relay`, sender → a minimal forwarding server → receiver, the shape of our relay, in three processes.
 */
export async function runBareWs(
  bytes: number,
  variant: 'direct' | 'relay' = 'direct',
  zeroMask = false,
): Promise<BareWsResult> {
  const script = siblingScript(import.meta.url, 'bare-ws');
  const receiver = new Child('bare-ws receiver', script, ['receiver']);
  const sender = new Child('bare-ws sender', script, ['sender']);
  const relay = variant === 'relay' ? new Child('bare-ws relay', script, ['relay']) : undefined;
  try {
    await Promise.all([
      receiver.next('ready', 15_000),
      sender.next('ready', 15_000),
      relay?.next('ready', 15_000),
    ]);
    let port: number;
    if (relay !== undefined) {
      port = Number((await relay.next('listening', 5000))['port']);
      receiver.send({ type: 'connect', port });
      await receiver.next('connected', 5000);
    } else {
      receiver.send({ type: 'listen' });
      port = Number((await receiver.next('listening', 5000))['port']);
    }
    receiver.send({ type: 'expect', bytes });
    await receiver.next('expecting', 5000);
    sender.send({ type: 'send', bytes, port, zero_mask: zeroMask });
    const done = await receiver.next('received', 30_000 + bytes / 5_000);
    sender.send({ type: 'report' });
    relay?.send({ type: 'report' });
    const [rep, relayRep] = await Promise.all([sender.next('report', 5000), relay?.next('report', 5000)]);
    const ms = Number(done['ms']);
    const out: BareWsResult = {
      bytes: Number(done['bytes']),
      ms,
      mb_s: mbPerSec(Number(done['bytes']), ms),
      sender_cpu_s: Number(rep['cpu_s']),
      receiver_cpu_s: Number(done['cpu_s']),
      sender_max_rss: Number(rep['max_rss']),
      receiver_max_rss: Number(done['max_rss']),
    };
    if (relayRep !== undefined) out.relay_cpu_s = Number(relayRep['cpu_s']);
    return out;
  } finally {
    await Promise.all([sender.stop(), receiver.stop(), relay?.stop()]);
  }
}

if (isMain(import.meta.url)) {
  const role = process.argv[2];
  if (role === 'sender') runSender();
  else if (role === 'receiver') runReceiver();
  else if (role === 'relay') runRelay();
  else {
    process.stderr.write('usage: bare-ws.js sender|receiver|relay (started by bench/run.js)\n');
    process.exitCode = 2;
  }
}
