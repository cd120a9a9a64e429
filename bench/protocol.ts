/**
 * Micro-benchmark of the transfer protocol's own cost (Node only — excluded from the pure protocol build).
 *
 * Over the in-memory channel pair with no drain limit, both sides in this one thread, it compares:
 * - `bare`: a loop sending messages of the same size (16 + chunk bytes) under the same flow control,
 *   the receiver only counting bytes — the floor any protocol pays for the pair itself;
 * - `sdrlink`: sendFile → receiveFile with zlib.crc32 and node:crypto SHA-256 (CRC on both sides, SHA-256
 *   and a 1 MiB write batch on the receiver), the sink discarding the batches;
 * - the same with the pure CRC-32 / SHA-256 (what a browser without native ones would pay);
 * - reading from a real file in 1 MiB blocks versus one frame per read.
 *
 * `overhead` is `1 − sdrlink/bare` in MB/s — in memory, where moving a message costs almost nothing, so
 * it overstates what a real channel sees. Real transfers are bound by the data channel (~125 MB/s here at
 * 80–100% of a core per side, i.e. ~8 CPU-s/GiB per side), so the figure that matters is the CPU the
 * protocol adds per GiB (`addedCpuMsPerGiB`, both sides together), compared with that.
 *
 * Run: `node --import tsx bench/protocol.ts [--quick]` or `node dist/bench/protocol.js [--quick]`.
 */
import { createHash } from 'node:crypto';
import { open, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { createChannelPair, pseudoRandomBytes } from '../test/helpers/channel-pair.js';
import type { Channel } from '../src/protocol/channel.js';
import { crc32 as pureCrc32 } from '../src/protocol/crc32.js';
import type { Crc32 } from '../src/protocol/crc32.js';
import {
  DEFAULT_CHUNK_BYTES,
  FRAME_HEADER_BYTES,
  HIGH_WATER_BYTES,
  LOW_WATER_BYTES,
} from '../src/protocol/frames.js';
import { createSha256, wrapDigestHash } from '../src/protocol/hashing.js';
import type { HashFactory } from '../src/protocol/hashing.js';
import { receiveFile } from '../src/protocol/receiver.js';
import type { ReceiveTarget } from '../src/protocol/receiver.js';
import { sendFile } from '../src/protocol/sender.js';
import type { ByteSource } from '../src/protocol/sender.js';

export interface BenchRow {
  name: string;
  mbPerS: number;
  /** Process CPU time (user + system, both sides) per GiB moved. */
  cpuMsPerGiB: number;
}

export interface BenchReport {
  bytes: number;
  rows: BenchRow[];
  /** 1 − sdrlink/bare, in MB/s terms (native CRC and hash), in memory: an upper bound, see below. */
  overhead: number;
  /** CPU ms per GiB the protocol adds to the bare loop (both sides together, native CRC and hash). */
  addedCpuMsPerGiB: number;
}

const nodeCrc: Crc32 = (d) => zlibCrc32(d);
const nodeHash: HashFactory = () => wrapDigestHash(createHash('sha256'));

async function measure(
  name: string,
  bytes: number,
  runs: number,
  fn: () => Promise<void>,
): Promise<BenchRow> {
  let best: BenchRow | null = null;
  for (let i = 0; i < runs; i++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const row = {
      name,
      mbPerS: bytes / 1e6 / (ms / 1000),
      cpuMsPerGiB: ((cpu.user + cpu.system) / 1000) * (2 ** 30 / bytes),
    };
    if (best === null || row.mbPerS > best.mbPerS) best = row;
  }
  return best as BenchRow;
}

/** The floor: same-sized messages, same flow control, nothing else. */
async function bare(total: number, messageBytes: number): Promise<void> {
  const { a, b } = createChannelPair();
  await new Promise<void>((resolve) => {
    a.onopen = () => resolve();
  });
  let received = 0;
  const done = new Promise<void>((resolve) => {
    b.onmessage = (ev) => {
      received += (ev.data as ArrayBuffer).byteLength;
      if (received >= total) resolve();
    };
  });
  const msg = new Uint8Array(messageBytes);
  a.bufferedAmountLowThreshold = LOW_WATER_BYTES;
  let sent = 0;
  while (sent < total) {
    if (a.bufferedAmount > HIGH_WATER_BYTES) {
      await new Promise<void>((resolve) => {
        a.onbufferedamountlow = () => resolve();
      });
      continue;
    }
    const n = Math.min(messageBytes, total - sent);
    a.send(n === messageBytes ? msg : msg.subarray(0, n));
    sent += n;
  }
  await done;
  a.close();
}

function memorySource(data: Uint8Array): ByteSource {
  return { size: data.length, read: (o, n) => Promise.resolve(data.subarray(o, o + n)) };
}

function nullTarget(createHash: HashFactory): ReceiveTarget {
  return {
    prefixLength: 0,
    hash: createHash(),
    write: () => Promise.resolve(),
    truncate: () => Promise.resolve(),
    commit: () => Promise.resolve('/dev/null'),
    abort: () => Promise.resolve(),
  };
}

async function protocol(
  source: ByteSource,
  sha256: string,
  crc: Crc32,
  hash: HashFactory,
  readBlockBytes?: number,
): Promise<void> {
  const { a, b } = createChannelPair();
  const [, r] = await Promise.all([
    sendFile(a as Channel, {
      filename: 'bench.bin',
      source,
      sha256,
      mode: 'sdrlink',
      crc32: crc,
      prefixSha256: () => Promise.reject(new Error('no resume in the benchmark')),
      ...(readBlockBytes === undefined ? {} : { readBlockBytes }),
    }),
    receiveFile(b as Channel, {
      crc32: crc,
      createHash: hash,
      open: () => Promise.resolve(nullTarget(hash)),
    }),
  ]);
  if (r.sha256 !== sha256) throw new Error('benchmark transfer corrupted the data');
  a.close();
}

/** Runs the benchmark; `quick` moves 64 MiB per run instead of 256 MiB. */
export async function benchProtocol(opts: { quick?: boolean } = {}): Promise<BenchReport> {
  const bytes = (opts.quick ? 64 : 256) * 1024 * 1024;
  const runs = opts.quick ? 2 : 3;
  const data = pseudoRandomBytes(bytes, 42);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const source = memorySource(data);
  const rows: BenchRow[] = [];
  rows.push(
    await measure('bare loop (same messages, same flow control)', bytes, runs, () =>
      bare(bytes, FRAME_HEADER_BYTES + DEFAULT_CHUNK_BYTES),
    ),
  );
  rows.push(
    await measure('sdrlink/1, zlib.crc32 + node:crypto sha256', bytes, runs, () =>
      protocol(source, sha256, nodeCrc, nodeHash),
    ),
  );
  rows.push(
    await measure('sdrlink/1, pure crc32 + node:crypto sha256', bytes, runs, () =>
      protocol(source, sha256, pureCrc32, nodeHash),
    ),
  );
  const smallBytes = Math.min(bytes, 64 * 1024 * 1024);
  const small = memorySource(data.subarray(0, smallBytes));
  const smallSha = createHash('sha256').update(data.subarray(0, smallBytes)).digest('hex');
  rows.push(
    await measure('sdrlink/1, pure crc32 + pure sha256 (browser fallback)', smallBytes, 1, () =>
      protocol(small, smallSha, pureCrc32, createSha256),
    ),
  );

  const dir = await mkdtemp(join(tmpdir(), 'sdrlink-bench-'));
  try {
    const path = join(dir, 'bench.bin');
    await writeFile(path, data);
    const fh = await open(path, 'r');
    try {
      const fileSource: ByteSource = {
        size: bytes,
        read: async (offset, length, into) => {
          const buf = into ?? new Uint8Array(length);
          const { bytesRead } = await fh.read(buf, 0, length, offset);
          return buf.subarray(0, bytesRead);
        },
      };
      rows.push(
        await measure('sdrlink/1 from a file, 1 MiB reads', bytes, runs, () =>
          protocol(fileSource, sha256, nodeCrc, nodeHash),
        ),
      );
      rows.push(
        await measure('sdrlink/1 from a file, one read per frame', bytes, runs, () =>
          protocol(fileSource, sha256, nodeCrc, nodeHash, DEFAULT_CHUNK_BYTES),
        ),
      );
    } finally {
      await fh.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const bareRow = rows[0] as BenchRow;
  const sdr = rows[1] as BenchRow;
  return {
    bytes,
    rows,
    overhead: 1 - sdr.mbPerS / bareRow.mbPerS,
    addedCpuMsPerGiB: sdr.cpuMsPerGiB - bareRow.cpuMsPerGiB,
  };
}

/** Formats a report as a small table. */
export function formatBench(r: BenchReport): string {
  const lines = [
    `protocol benchmark: ${r.bytes / 2 ** 20} MiB per run, in-memory pair, both sides in one thread`,
  ];
  for (const row of r.rows) {
    lines.push(
      `  ${row.name.padEnd(58)} ${row.mbPerS.toFixed(0).padStart(6)} MB/s  ${row.cpuMsPerGiB.toFixed(0).padStart(6)} CPU ms/GiB`,
    );
  }
  lines.push(`  protocol overhead vs bare loop in memory: ${(r.overhead * 100).toFixed(1)}% of throughput`);
  lines.push(`  CPU the protocol adds (both sides): ${r.addedCpuMsPerGiB.toFixed(0)} ms/GiB`);
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const report = await benchProtocol({ quick: process.argv.includes('--quick') });
  process.stdout.write(formatBench(report));
}
