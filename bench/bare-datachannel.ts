/**
 * Baseline: a bare node-datachannel sender/receiver pair, in two processes, signaling through the
 * orchestrator's IPC. No server, no protocol, no checksums: the floor our P2P transfer is measured against.
 *
 * - Messages are `DEFAULT_CHUNK_BYTES + FRAME_HEADER_BYTES` (65,536) bytes, the size our frames have
 *   (docs/protocol.md §2, §6): each carries 65,520 "payload" bytes behind 16 dummy header bytes, and the
 *   figure counts payload bytes, as ours does.
 * - Flow control as our sender's (§6): pause above 4 MiB buffered, resume on `bufferedamountlow` at 1 MiB,
 *   with a 20 ms poll as a guard (DESIGN.md: the event may not come after a small burst).
 * - Throughput is timed at the receiver from the first byte to the last. Variant `memory`: the receiver
 *   only counts bytes and writes nothing. Variant `disk`: it also appends them to a file, in ~1 MiB writes
 *   like our receiver's batch writer, and the clock stops when the last write completed (no fsync).
 * - Setup latency: from the orchestrator asking the sender to connect (both processes warm) to the
 *   receiver's first message, over fresh peer connections. Variant `fix` applies the agents' DTLS-role fix
 *   (src/agents/channel/webrtc.ts: the answerer turns the offer's `a=setup:actpass` into `a=setup:active`,
 *   so the offerer starts DTLS); variant `nofix` leaves the roles to the library.
 *
 * Run as a child: `node dist/bench/bare-datachannel.js sender|receiver`.
 */
import { randomFillSync } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import nodeDataChannel from 'node-datachannel';
import { RTCPeerConnection } from 'node-datachannel/polyfill';
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
  type BenchMessage,
} from './child.js';
import { mbPerSec, median, percentile } from './stats.js';

/** Bytes per message: a whole frame of ours. */
export const MESSAGE_BYTES = DEFAULT_CHUNK_BYTES + FRAME_HEADER_BYTES;
const POLL_GUARD_MS = 20;

// The polyfill's types lean on DOM globals this Node build doesn't declare; this is the part used here.
interface Dc {
  binaryType: string;
  readonly readyState: string;
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  send(data: Uint8Array | string): void;
  close(): void;
  onopen: (() => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onbufferedamountlow: (() => void) | null;
}
interface Pc {
  onicecandidate: ((ev: { candidate: { candidate: string; sdpMid: string | null } | null }) => void) | null;
  ondatachannel: ((ev: { channel: Dc }) => void) | null;
  readonly localDescription: { type: string; sdp: string } | null;
  createDataChannel(label: string, init?: { ordered?: boolean }): Dc;
  createOffer(): Promise<{ type: string; sdp: string }>;
  createAnswer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(d: { type: string; sdp: string }): Promise<void>;
  setRemoteDescription(d: { type: string; sdp: string }): Promise<void>;
  addIceCandidate(c: { candidate: string; sdpMid?: string }): Promise<void>;
  close(): void;
}

function newPc(): Pc {
  return new RTCPeerConnection({ iceServers: [] } as never) as unknown as Pc;
}

/** Wraps a native-callback body: node-datachannel aborts the process when one throws (DESIGN.md). */
function guard<A extends unknown[]>(fn: (...a: A) => void | Promise<void>): (...a: A) => void {
  return (...a: A) => {
    try {
      Promise.resolve(fn(...a)).catch(report);
    } catch (err) {
      report(err);
    }
  };
}

function report(err: unknown) {
  toParent({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}

/** One end of one connection, with the remote candidates queued until the remote description is set. */
class Peer {
  readonly pc = newPc();
  #remoteSet = false;
  #queued: Array<{ candidate: string; sdpMid?: string }> = [];

  constructor(readonly id: number) {
    this.pc.onicecandidate = guard((ev) => {
      if (ev.candidate === null || ev.candidate.candidate === '') return;
      toParent({
        type: 'signal',
        id,
        candidate: { candidate: ev.candidate.candidate, sdpMid: ev.candidate.sdpMid ?? '0' },
      });
    });
  }

  async remote(desc: { type: string; sdp: string }) {
    // Candidates travel as signals only, as between the agents (src/agents/channel/webrtc.ts): libdatachannel
    // now and then refuses a description carrying them ("Got a remote candidate without ICE transport").
    const sdp = desc.sdp
      .split(/\r?\n/)
      .filter((l) => !l.startsWith('a=candidate:') && !l.startsWith('a=end-of-candidates'))
      .join('\r\n');
    await this.pc.setRemoteDescription({ type: desc.type, sdp });
    this.#remoteSet = true;
    for (const c of this.#queued.splice(0)) await this.#add(c);
  }

  /** Remote candidates libdatachannel refused (counted, not fatal: ICE goes on with the others). */
  candidateErrors = 0;

  async candidate(c: { candidate: string; sdpMid?: string }) {
    if (!this.#remoteSet) {
      this.#queued.push(c);
      return;
    }
    await this.#add(c);
  }

  async #add(c: { candidate: string; sdpMid?: string }) {
    try {
      await this.pc.addIceCandidate(c);
    } catch {
      this.candidateErrors++;
    }
  }

  close() {
    try {
      this.pc.close();
    } catch {
      // already closed
    }
  }
}

// ---------------------------------------------------------------- sender process

function runSender() {
  const block = new Uint8Array(MESSAGE_BYTES);
  randomFillSync(block);
  const peers = new Map<number, Peer>();
  const cpuAtOpen = new Map<number, NodeJS.CpuUsage>();

  serveParent(
    async (m) => {
      const id = Number(m['id']);
      switch (m.type) {
        case 'connect': {
          const payloadBytes = Number(m['bytes']);
          const peer = new Peer(id);
          peers.set(id, peer);
          const dc = peer.pc.createDataChannel('file-transfer', { ordered: true });
          dc.binaryType = 'arraybuffer';
          dc.bufferedAmountLowThreshold = LOW_WATER_BYTES;
          let sent = 0;
          let poll: NodeJS.Timeout | undefined;
          const pump = guard(() => {
            if (dc.readyState !== 'open') return;
            while (sent < payloadBytes && dc.bufferedAmount <= HIGH_WATER_BYTES) {
              const n = Math.min(DEFAULT_CHUNK_BYTES, payloadBytes - sent);
              dc.send(n === DEFAULT_CHUNK_BYTES ? block : block.subarray(0, FRAME_HEADER_BYTES + n));
              sent += n;
            }
            if (sent >= payloadBytes && poll !== undefined) {
              clearInterval(poll);
              poll = undefined;
            }
          });
          dc.onopen = guard(() => {
            cpuAtOpen.set(id, process.cpuUsage());
            toParent({ type: 'open', id, at: performance.timeOrigin + performance.now() });
            poll = setInterval(pump, POLL_GUARD_MS);
            pump();
          });
          dc.onbufferedamountlow = pump;
          const offer = await peer.pc.createOffer();
          await peer.pc.setLocalDescription(offer);
          const local = peer.pc.localDescription ?? offer;
          toParent({ type: 'signal', id, description: { type: local.type, sdp: local.sdp } });
          return;
        }
        case 'signal': {
          const peer = peers.get(id);
          if (peer === undefined) return;
          if (m['description'] !== undefined)
            await peer.remote(m['description'] as { type: string; sdp: string });
          if (m['candidate'] !== undefined)
            await peer.candidate(m['candidate'] as { candidate: string; sdpMid?: string });
          return;
        }
        case 'close': {
          const at = cpuAtOpen.get(id);
          const candidateErrors = peers.get(id)?.candidateErrors ?? 0;
          peers.get(id)?.close();
          peers.delete(id);
          cpuAtOpen.delete(id);
          toParent({
            type: 'closed',
            id,
            cpu_s: at === undefined ? 0 : cpuSecondsSince(at),
            max_rss: peakRssBytes(),
            candidate_errors: candidateErrors,
          });
          return;
        }
        default:
          throw new Error(`sender: unknown message ${m.type}`);
      }
    },
    () => {
      for (const p of peers.values()) p.close();
      nodeDataChannel.cleanup();
    },
  );
  toParent({ type: 'ready' });
}

// ---------------------------------------------------------------- receiver process

interface Expectation {
  payloadBytes: number;
  messages: number;
  fix: boolean;
  diskPath: string | undefined;
}

function runReceiver() {
  const peers = new Map<number, Peer>();
  const expect = new Map<number, Expectation>();

  serveParent(
    async (m) => {
      const id = Number(m['id']);
      switch (m.type) {
        case 'expect': {
          const payloadBytes = Number(m['bytes']);
          const e: Expectation = {
            payloadBytes,
            messages: Math.ceil(payloadBytes / DEFAULT_CHUNK_BYTES),
            fix: m['fix'] === true,
            diskPath: typeof m['disk_path'] === 'string' ? m['disk_path'] : undefined,
          };
          expect.set(id, e);
          const peer = new Peer(id);
          peers.set(id, peer);
          const fh = e.diskPath === undefined ? undefined : await open(e.diskPath, 'w');
          peer.pc.ondatachannel = guard((ev) => {
            const dc = ev.channel;
            dc.binaryType = 'arraybuffer';
            receive(id, dc, e, fh);
          });
          toParent({ type: 'expecting', id });
          return;
        }
        case 'signal': {
          const peer = peers.get(id);
          const e = expect.get(id);
          if (peer === undefined || e === undefined) return;
          const d = m['description'] as { type: string; sdp: string } | undefined;
          if (d !== undefined) {
            // The agents' DTLS-role fix (src/agents/channel/webrtc.ts), in the `fix` variant only.
            const sdp = e.fix ? d.sdp.replace(/^a=setup:actpass/gm, 'a=setup:active') : d.sdp;
            await peer.remote({ type: d.type, sdp });
            const answer = await peer.pc.createAnswer();
            await peer.pc.setLocalDescription(answer);
            const local = peer.pc.localDescription ?? answer;
            toParent({ type: 'signal', id, description: { type: local.type, sdp: local.sdp } });
          }
          if (m['candidate'] !== undefined)
            await peer.candidate(m['candidate'] as { candidate: string; sdpMid?: string });
          return;
        }
        case 'close': {
          const candidateErrors = peers.get(id)?.candidateErrors ?? 0;
          peers.get(id)?.close();
          peers.delete(id);
          expect.delete(id);
          toParent({ type: 'closed', id, max_rss: peakRssBytes(), candidate_errors: candidateErrors });
          return;
        }
        default:
          throw new Error(`receiver: unknown message ${m.type}`);
      }
    },
    () => {
      for (const p of peers.values()) p.close();
      nodeDataChannel.cleanup();
    },
  );
  toParent({ type: 'ready' });
}

function receive(id: number, dc: Dc, e: Expectation, fh: FileHandle | undefined) {
  let messages = 0;
  let bytes = 0;
  let first = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  // Disk variant: ~1 MiB sequential appends, one at a time, like the agents' batch writer.
  const BATCH = 1024 * 1024;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let chain: Promise<unknown> = Promise.resolve();
  const flush = () => {
    if (fh === undefined || pendingBytes === 0) return;
    const batch = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    chain = chain.then(() => fh.write(batch));
  };
  dc.onmessage = guard((ev) => {
    const data = ev.data;
    if (!(data instanceof ArrayBuffer)) return;
    if (messages === 0) {
      first = performance.now();
      cpu0 = process.cpuUsage();
      toParent({ type: 'first', id, at: performance.timeOrigin + first });
    }
    messages++;
    const payload = data.byteLength - FRAME_HEADER_BYTES;
    bytes += payload;
    if (fh !== undefined) {
      pending.push(new Uint8Array(data, FRAME_HEADER_BYTES));
      pendingBytes += payload;
      if (pendingBytes >= BATCH) flush();
    }
    if (messages === e.messages) {
      flush();
      void chain
        .then(() => fh?.close())
        .then(() => {
          const ms = performance.now() - first;
          toParent({
            type: 'received',
            id,
            bytes,
            ms,
            cpu_s: cpu0 === undefined ? 0 : cpuSecondsSince(cpu0),
          });
        })
        .catch(report);
    }
  });
}

// ---------------------------------------------------------------- orchestrator side

export interface BareTransfer {
  bytes: number;
  ms: number;
  mb_s: number;
  /** CPU seconds of each side during the transfer. */
  sender_cpu_s: number;
  receiver_cpu_s: number;
  sender_max_rss: number;
  receiver_max_rss: number;
}

export interface LatencySummary {
  samples: number;
  median_ms: number;
  p95_ms: number;
  max_ms: number;
  /** Samples above 900 ms: the ~1 s DTLS retransmission (DESIGN.md). */
  slow: number;
  /** Connections abandoned after the connect timeout and retried (not among the samples). */
  connect_failures?: number;
  all_ms: number[];
}

/** A warm sender/receiver process pair; each call below uses fresh peer connections. */
export class BareDataChannelPair {
  #sender: Child;
  #receiver: Child;
  #next = 1;

  private constructor(sender: Child, receiver: Child) {
    this.#sender = sender;
    this.#receiver = receiver;
    sender.onMessage = (m) => {
      if (m.type === 'signal') receiver.send(m);
    };
    receiver.onMessage = (m) => {
      if (m.type === 'signal') sender.send(m);
    };
  }

  static async start(): Promise<BareDataChannelPair> {
    const script = siblingScript(import.meta.url, 'bare-datachannel');
    const sender = new Child('bare-dc sender', script, ['sender']);
    const receiver = new Child('bare-dc receiver', script, ['receiver']);
    try {
      await Promise.all([sender.next('ready', 15_000), receiver.next('ready', 15_000)]);
    } catch (err) {
      await Promise.all([sender.stop(), receiver.stop()]);
      throw err;
    }
    return new BareDataChannelPair(sender, receiver);
  }

  /** Connections that never delivered a first message within the connect timeout (then retried). */
  connectFailures = 0;
  /** Remote candidates libdatachannel refused, both sides. */
  candidateErrors = 0;

  /**
   * One connection moving `bytes` of payload; returns timings and the connect → first-message time. A
   * connection that delivers nothing within `connectTimeoutMs` is abandoned and retried once on a fresh
   * pair of peer connections (DESIGN.md: about 1 connection in 300 never connects).
   */
  async transfer(
    bytes: number,
    opts: { fix: boolean; diskPath?: string; timeoutMs?: number; connectTimeoutMs?: number },
  ): Promise<BareTransfer & { setup_ms: number; open_ms: number }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#transferOnce(bytes, opts);
      } catch (err) {
        if (!(err instanceof ConnectTimeout) || attempt >= 1) throw err;
        this.connectFailures++;
      }
    }
  }

  async #transferOnce(
    bytes: number,
    opts: { fix: boolean; diskPath?: string; timeoutMs?: number; connectTimeoutMs?: number },
  ): Promise<BareTransfer & { setup_ms: number; open_ms: number }> {
    const id = this.#next++;
    const timeoutMs = opts.timeoutMs ?? 30_000 + bytes / 5_000;
    const expectMsg: BenchMessage = { type: 'expect', id, bytes, fix: opts.fix };
    if (opts.diskPath !== undefined) expectMsg['disk_path'] = opts.diskPath;
    this.#receiver.send(expectMsg);
    await this.#receiver.next('expecting', 10_000, id);
    const t0 = performance.timeOrigin + performance.now();
    this.#sender.send({ type: 'connect', id, bytes });
    const close = async () => {
      this.#sender.send({ type: 'close', id });
      this.#receiver.send({ type: 'close', id });
      const closed = await Promise.all([
        this.#sender.next('closed', 10_000, id),
        this.#receiver.next('closed', 10_000, id),
      ]);
      this.candidateErrors += closed.reduce((a, m) => a + Number(m['candidate_errors'] ?? 0), 0);
      // Late messages of this exchange must not be taken for a later one's.
      this.#sender.discard((m) => m['id'] === id);
      this.#receiver.discard((m) => m['id'] === id);
      return closed;
    };
    try {
      let first: BenchMessage;
      try {
        first = await this.#receiver.next('first', opts.connectTimeoutMs ?? 5000, id);
      } catch (err) {
        await close();
        if (err instanceof Error && err.message.includes('no "first" message'))
          throw new ConnectTimeout(err.message);
        throw err;
      }
      const done = await this.#receiver.next('received', timeoutMs, id);
      const open = await this.#sender.next('open', 1000, id);
      const [sc, rc] = await close();
      const ms = Number(done['ms']);
      return {
        bytes: Number(done['bytes']),
        ms,
        mb_s: mbPerSec(Number(done['bytes']), ms),
        sender_cpu_s: Number(sc['cpu_s']),
        receiver_cpu_s: Number(done['cpu_s']),
        sender_max_rss: Number(sc['max_rss']),
        receiver_max_rss: Number(rc['max_rss']),
        setup_ms: Number(first['at']) - t0,
        open_ms: Number(open['at']) - t0,
      };
    } finally {
      if (opts.diskPath !== undefined) await rm(opts.diskPath, { force: true });
    }
  }

  /** `n` fresh connections, each sending one message: connect → first message received. */
  async latency(
    n: number,
    fix: boolean,
    onSample?: (i: number, ms: number) => void,
  ): Promise<LatencySummary> {
    const all: number[] = [];
    const failures0 = this.connectFailures;
    for (let i = 0; i < n; i++) {
      const r = await this.transfer(DEFAULT_CHUNK_BYTES, { fix, timeoutMs: 15_000 });
      all.push(r.setup_ms);
      onSample?.(i, r.setup_ms);
    }
    return { ...summarize(all), connect_failures: this.connectFailures - failures0 };
  }

  async stop(): Promise<void> {
    await Promise.all([this.#sender.stop(), this.#receiver.stop()]);
  }
}

function withoutSetup(t: BareTransfer & { setup_ms: number; open_ms: number }): BareTransfer {
  return {
    bytes: t.bytes,
    ms: t.ms,
    mb_s: t.mb_s,
    sender_cpu_s: t.sender_cpu_s,
    receiver_cpu_s: t.receiver_cpu_s,
    sender_max_rss: t.sender_max_rss,
    receiver_max_rss: t.receiver_max_rss,
  };
}

class ConnectTimeout extends Error {
  override name = 'ConnectTimeout';
}

export function summarize(all: number[]): LatencySummary {
  return {
    samples: all.length,
    median_ms: median(all),
    p95_ms: percentile(all, 95),
    max_ms: Math.max(...all),
    slow: all.filter((x) => x > 900).length,
    all_ms: all.map((x) => Math.round(x * 10) / 10),
  };
}

export interface BareDataChannelResults {
  memory: BareTransfer;
  disk: BareTransfer;
  latency_fix: LatencySummary;
  latency_nofix: LatencySummary;
}

/** Runs every bare data-channel measurement on one warm pair. */
export async function runBareDataChannel(opts: {
  bytes: number;
  latencySamples: number;
  tmpDir: string;
  progress: (msg: string) => void;
}): Promise<BareDataChannelResults> {
  const pair = await BareDataChannelPair.start();
  try {
    opts.progress(`bare node-datachannel: warm-up connection`);
    await pair.transfer(8 * 1024 * 1024, { fix: true });
    opts.progress(`bare node-datachannel: ${opts.bytes / 2 ** 20} MiB, receiver writes nothing`);
    const memory = withoutSetup(await pair.transfer(opts.bytes, { fix: true }));
    opts.progress(`bare node-datachannel: ${opts.bytes / 2 ** 20} MiB, receiver writes to disk`);
    const disk = withoutSetup(
      await pair.transfer(opts.bytes, { fix: true, diskPath: join(opts.tmpDir, 'bare-dc.bin') }),
    );
    opts.progress(`bare node-datachannel: setup latency × ${opts.latencySamples}, with the DTLS-role fix`);
    const latency_fix = await pair.latency(opts.latencySamples, true);
    opts.progress(`bare node-datachannel: setup latency × ${opts.latencySamples}, without the fix`);
    const latency_nofix = await pair.latency(opts.latencySamples, false);
    return { memory, disk, latency_fix, latency_nofix };
  } finally {
    await pair.stop();
  }
}

if (isMain(import.meta.url)) {
  const role = process.argv[2];
  if (role === 'sender') runSender();
  else if (role === 'receiver') runReceiver();
  else {
    process.stderr.write('usage: bare-datachannel.js sender|receiver (started by bench/run.js)\n');
    process.exitCode = 2;
  }
}
