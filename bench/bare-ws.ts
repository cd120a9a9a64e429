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
 * Run as a child: `node dist/bench/bare-ws.js sender|receiver`.
 */
import { randomFillSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_CHUNK_BYTES, FRAME_HEADER_BYTES, HIGH_WATER_BYTES, LOW_WATER_BYTES } from '../src/protocol/frames.js';
import { Child, cpuSecondsSince, isMain, peakRssBytes, serveParent, siblingScript, toParent } from './child.js';
import { mbPerSec } from './stats.js';

const MESSAGE_BYTES = DEFAULT_CHUNK_BYTES + FRAME_HEADER_BYTES;

function runReceiver() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 2 * MESSAGE_BYTES });
  let expectBytes = 0;
  wss.on('connection', (ws) => {
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
      if (bytes >= expectBytes) {
        const ms = performance.now() - first;
        toParent({ type: 'received', bytes, ms, cpu_s: cpu0 === undefined ? 0 : cpuSecondsSince(cpu0), max_rss: peakRssBytes() });
      }
    });
  });
  wss.on('listening', () => toParent({ type: 'ready', port: (wss.address() as AddressInfo).port }));
  serveParent(
    (m) => {
      if (m.type === 'expect') {
        expectBytes = Number(m['bytes']);
        toParent({ type: 'expecting' });
      } else throw new Error(`receiver: unknown message ${m.type}`);
    },
    () => wss.close(),
  );
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
    const ws = new WebSocket(`ws://127.0.0.1:${Number(m['port'])}/`, { perMessageDeflate: false });
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
      toParent({ type: 'report', cpu_s: cpu0 === undefined ? 0 : cpuSecondsSince(cpu0), max_rss: peakRssBytes() });
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
  sender_max_rss: number;
  receiver_max_rss: number;
}

/** Moves `bytes` of payload over one fresh bare `ws` pair (two fresh processes). */
export async function runBareWs(bytes: number): Promise<BareWsResult> {
  const script = siblingScript(import.meta.url, 'bare-ws');
  const receiver = new Child('bare-ws receiver', script, ['receiver']);
  const sender = new Child('bare-ws sender', script, ['sender']);
  try {
    const [ready] = await Promise.all([receiver.next('ready', 15_000), sender.next('ready', 15_000)]);
    receiver.send({ type: 'expect', bytes });
    await receiver.next('expecting', 5000);
    sender.send({ type: 'send', bytes, port: Number(ready['port']) });
    const done = await receiver.next('received', 30_000 + bytes / 5_000);
    sender.send({ type: 'report' });
    const rep = await sender.next('report', 5000);
    const ms = Number(done['ms']);
    return {
      bytes: Number(done['bytes']),
      ms,
      mb_s: mbPerSec(Number(done['bytes']), ms),
      sender_cpu_s: Number(rep['cpu_s']),
      receiver_cpu_s: Number(done['cpu_s']),
      sender_max_rss: Number(rep['max_rss']),
      receiver_max_rss: Number(done['max_rss']),
    };
  } finally {
    await Promise.all([sender.stop(), receiver.stop()]);
  }
}

if (isMain(import.meta.url)) {
  const role = process.argv[2];
  if (role === 'sender') runSender();
  else if (role === 'receiver') runReceiver();
  else {
    process.stderr.write('usage: bare-ws.js sender|receiver (started by bench/run.js)\n');
    process.exitCode = 2;
  }
}
