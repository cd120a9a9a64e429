/**
 * `npm run bench`: measures sdrlink next to baselines measured in the same run (sdrlink issue 7), prints a
 * Markdown table on stdout and progress on stderr, and writes bench/results.json and bench/results.md.
 * A benchmark, not a test: it always exits 0; a part that cannot run is "skipped: <reason>", one that
 * crashes is "failed" in the table.
 *
 * Options: `--quick` (smaller sizes, shorter phases: under a minute), `--only p2p,latency,…` (parts:
 * p2p, latency, relay, signaling, cluster, memory, datasets, protocol), `--no-write` (print only), `--profile DIR`
 * (every child process writes a V8 CPU profile there; their summaries go into results.json — for finding
 * where the time goes, not for the figures, which profiling lowers).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  BareDataChannelPair,
  summarize,
  type BareTransfer,
  type LatencySummary,
} from './bare-datachannel.js';
import { benchDatasets } from './datasets.js';
import { benchProtocol } from './protocol.js';
import { runBareWs, type BareWsResult } from './bare-ws.js';
import type { ConsumerResult } from './agent-process.js';
import { formatEntries, summarizeProfileFile, type ProfileSummary } from './cpuprofile-top.js';
import { OursEnv, processStats, SkipError } from './ours.js';
import {
  datasetRows,
  fmt,
  fmtMiB,
  machine,
  markdownReport,
  markdownTable,
  pct,
  rowsFrom,
  type PartOutcome,
  type Results,
  type Row,
} from './report.js';
import { registerUser, startServer } from './server-process.js';
import { benchCluster, clusterSkip } from './cluster.js';
import { LoadGenerator, startBareHttpServer, type LoadLevelResult, type LoadPair } from './signaling-load.js';
import { MiB, mbPerSec, round } from './stats.js';

const PARTS = ['p2p', 'latency', 'relay', 'signaling', 'cluster', 'memory', 'datasets', 'protocol'] as const;
type PartName = (typeof PARTS)[number];

interface Config {
  quick: boolean;
  /** Dataset size for throughput (issue 7: 256 MiB; quick 32 MiB). */
  transferBytes: number;
  /** Interleaved rounds of bare and ours; the best of each counts (noise on a shared machine only slows). */
  rounds: number;
  latencySamples: number;
  latencyBytes: number;
  loadLevels: number[];
  loadWarmupMs: number;
  loadDurationMs: number;
  loadPairs: number;
  memorySizes: [number, number];
}

function config(quick: boolean): Config {
  return quick
    ? {
        quick,
        transferBytes: 32 * MiB,
        rounds: 1,
        latencySamples: 8,
        latencyBytes: 64 * 1024,
        loadLevels: [50, 200, 1000],
        loadWarmupMs: 300,
        loadDurationMs: 1000,
        loadPairs: 16,
        memorySizes: [16 * MiB, 64 * MiB],
      }
    : {
        quick,
        transferBytes: 256 * MiB,
        rounds: 3,
        latencySamples: 20,
        latencyBytes: 64 * 1024,
        loadLevels: [50, 200, 1000],
        loadWarmupMs: 1000,
        loadDurationMs: 5000,
        loadPairs: 16,
        memorySizes: [64 * MiB, 1024 * MiB],
      };
}

interface Ctx {
  cfg: Config;
  tmp: string;
  progress: (msg: string) => void;
  rows: Row[];
  notes: string[];
  /** Our system, started on first use; throws SkipError when it cannot run. */
  ours: () => Promise<OursEnv>;
}

type PartFn = (ctx: Ctx) => Promise<{ data: unknown; partial?: string }>;

const t0 = performance.now();
const elapsed = () => ((performance.now() - t0) / 1000).toFixed(1).padStart(6);

/** An error's message, cut to fit a table cell. */
function reason(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.length > 240 ? `${m.slice(0, 240)}…` : m;
}

function met(ok: boolean): 'yes' | 'no' {
  return ok ? 'yes' : 'no';
}

function skippedRow(part: string, metric: string, baseline: string, target: string, why: string): Row {
  return { part, metric, ours: `skipped: ${why}`, baseline, ratio: '–', target, met: 'skipped' };
}

function best<T>(xs: T[], key: (x: T) => number): T | undefined {
  let b: T | undefined;
  for (const x of xs) if (b === undefined || key(x) > key(b)) b = x;
  return b;
}

/** Ours: payload MB/s from the first payload byte to the verified file in place (consumer's clock). */
function oursRate(r: ConsumerResult): number {
  return r.first_to_done_ms === null ? Number.NaN : mbPerSec(r.size, r.first_to_done_ms);
}

/** CPU seconds per GiB moved. */
function cpuPerGiB(cpuS: number, bytes: number): number {
  return cpuS / (bytes / 2 ** 30);
}

/**
 * One of our requests, retried up to twice when it fails (each failure is reported in the notes, never
 * hidden): a throughput figure should not be lost to a connection that did not come up.
 */
async function oursRequest(
  ctx: Ctx,
  env: OursEnv,
  bytes: number,
  transport: 'p2p' | 'relay',
  label: string,
): Promise<ConsumerResult> {
  const consumer = await env.consumer();
  for (let attempt = 1; ; attempt++) {
    try {
      return await env.request(consumer, bytes, transport);
    } catch (err) {
      ctx.notes.push(`${label}: attempt ${attempt} failed: ${reason(err)}`);
      ctx.progress(`${label}: request failed (${reason(err)})${attempt < 3 ? '; retrying' : ''}`);
      if (attempt >= 3) throw err;
    }
  }
}

// ---------------------------------------------------------------- parts

const partP2P: PartFn = async (ctx) => {
  const { cfg, progress } = ctx;
  const bytes = cfg.transferBytes;
  const size = fmtMiB(bytes);
  let env: OursEnv | undefined;
  let skip: string | undefined;
  try {
    env = await ctx.ours();
    progress(`p2p: generating the ${size} blob in the provider's cache`);
    await env.prepare([bytes, 1 * MiB]);
  } catch (err) {
    skip = reason(err);
    env = undefined;
  }
  const pair = await BareDataChannelPair.start();
  const bareMem: BareTransfer[] = [];
  const bareDisk: BareTransfer[] = [];
  const ours: Array<ConsumerResult & { provider_cpu_s: number; consumer_cpu_s: number }> = [];
  let oursError: string | undefined;
  try {
    progress('p2p: warm-up (bare pair, 8 MiB)');
    await pair.transfer(8 * MiB, { fix: true });
    if (env !== undefined) {
      try {
        progress('p2p: warm-up (ours, 1 MiB)');
        await env.provider('auto');
        await oursRequest(ctx, env, 1 * MiB, 'p2p', 'p2p warm-up');
      } catch (err) {
        oursError = reason(err);
      }
    }
    for (let round = 1; round <= cfg.rounds; round++) {
      const of = `round ${round}/${cfg.rounds}`;
      progress(`p2p: bare node-datachannel, ${size}, receiver writes nothing (${of})`);
      bareMem.push(await pair.transfer(bytes, { fix: true }));
      progress(`p2p: bare node-datachannel, ${size}, receiver writes to disk (${of})`);
      bareDisk.push(await pair.transfer(bytes, { fix: true, diskPath: join(ctx.tmp, 'bare-dc.bin') }));
      if (env !== undefined && oursError === undefined) {
        progress(`p2p: sdrlink provider → consumer, ${size} (${of})`);
        try {
          const provider = await env.provider('auto');
          const consumer = await env.consumer();
          const [p0, c0] = await Promise.all([processStats(provider), processStats(consumer.child)]);
          const r = await oursRequest(ctx, env, bytes, 'p2p', `p2p ${of}`);
          const [p1, c1] = await Promise.all([processStats(provider), processStats(consumer.child)]);
          ours.push({ ...r, provider_cpu_s: p1.cpu_s - p0.cpu_s, consumer_cpu_s: c1.cpu_s - c0.cpu_s });
        } catch (err) {
          oursError = reason(err);
        }
      }
    }
  } finally {
    await pair.stop();
  }
  const bm = best(bareMem, (x) => x.mb_s);
  const bd = best(bareDisk, (x) => x.mb_s);
  const o = best(ours, oursRate);
  const target = '≥ 90% of bare';
  const bmS = fmt(bm?.mb_s, 'MB/s');
  const bdS = fmt(bd?.mb_s, 'MB/s');
  if (o !== undefined) {
    const rate = oursRate(o);
    const ratio = bm === undefined ? Number.NaN : rate / bm.mb_s;
    const row: Row = {
      part: 'p2p',
      metric: `throughput, ${size} (bare receiver writes nothing)`,
      ours: fmt(rate, 'MB/s'),
      baseline: bmS,
      ratio: pct(rate, bm?.mb_s ?? Number.NaN),
      target,
      met: met(ratio >= 0.9),
    };
    if (ratio < 0.9) row.miss = `${Math.round((0.9 - ratio) * 100)} points below 90% of the bare pair`;
    ctx.rows.push(row);
    ctx.rows.push({
      part: 'p2p',
      metric: `throughput, ${size} (bare receiver writes to disk)`,
      ours: fmt(rate, 'MB/s'),
      baseline: bdS,
      ratio: pct(rate, bd?.mb_s ?? Number.NaN),
      target: '–',
      met: '–',
    });
    const bareCpu =
      bm === undefined
        ? '–'
        : `${cpuPerGiB(bm.sender_cpu_s, bm.bytes).toFixed(1)} / ${cpuPerGiB(bm.receiver_cpu_s, bm.bytes).toFixed(1)}`;
    ctx.rows.push({
      part: 'p2p',
      metric: 'CPU s per GiB, sender / receiver',
      ours: `${cpuPerGiB(o.provider_cpu_s, o.size).toFixed(1)} / ${cpuPerGiB(o.consumer_cpu_s, o.size).toFixed(1)}`,
      baseline: bareCpu,
      ratio: '–',
      target: '–',
      met: '–',
    });
    if (o.transport !== 'p2p')
      ctx.notes.push(`p2p: the transfer went over ${o.transport}, not a direct channel.`);
  } else {
    const why = oursError ?? skip ?? 'not run';
    const fn =
      oursError !== undefined
        ? (r: Row) => ({ ...r, ours: `failed: ${why}`, met: 'failed' as const })
        : (r: Row) => r;
    ctx.rows.push(
      fn(skippedRow('p2p', `throughput, ${size} (bare receiver writes nothing)`, bmS, target, why)),
    );
    ctx.rows.push(fn(skippedRow('p2p', `throughput, ${size} (bare receiver writes to disk)`, bdS, '–', why)));
  }
  const data = { bytes, bare_memory: bareMem, bare_disk: bareDisk, ours, ours_error: oursError ?? null };
  return oursError !== undefined || skip !== undefined
    ? { data, partial: oursError ?? skip ?? '' }
    : { data };
};

const partLatency: PartFn = async (ctx) => {
  const { cfg, progress } = ctx;
  const n = cfg.latencySamples;
  let env: OursEnv | undefined;
  let skip: string | undefined;
  try {
    env = await ctx.ours();
    await env.prepare([cfg.latencyBytes]);
  } catch (err) {
    skip = reason(err);
    env = undefined;
  }
  const pair = await BareDataChannelPair.start();
  let fix: LatencySummary;
  let nofix: LatencySummary;
  try {
    await pair.transfer(1 * MiB, { fix: true });
    progress(`latency: bare node-datachannel × ${n}, with the DTLS-role fix`);
    fix = await pair.latency(n, true);
    progress(`latency: bare node-datachannel × ${n}, without the fix`);
    nofix = await pair.latency(n, false);
  } finally {
    await pair.stop();
  }
  let ours: LatencySummary | undefined;
  let oursConnect: number[] = [];
  const oursFailures: string[] = [];
  let oursError: string | undefined;
  if (env !== undefined) {
    try {
      await env.provider('auto');
      const consumer = await env.consumer();
      progress('latency: sdrlink warm-up requests × 2');
      for (let i = 0; i < 2; i++) {
        try {
          await env.request(consumer, cfg.latencyBytes, 'p2p');
        } catch (err) {
          oursFailures.push(`warm-up: ${reason(err)}`);
          progress(`latency: warm-up request failed: ${reason(err)}`);
        }
      }
      progress(`latency: sdrlink requests × ${n} (request start → first byte)`);
      const all: number[] = [];
      // A failed request is counted and reported, not retried silently; a few are tolerated.
      for (let i = 0; all.length < n; i++) {
        if (oursFailures.length > 3)
          throw new Error(`${oursFailures.length} of ${i} requests failed: ${oursFailures.join(' · ')}`);
        try {
          const r = await env.request(consumer, cfg.latencyBytes, 'p2p');
          if (r.setup_ms === null) throw new Error('a request finished without any progress report');
          all.push(r.setup_ms);
          if (r.connect_ms !== null) oursConnect.push(r.connect_ms);
        } catch (err) {
          oursFailures.push(reason(err));
          progress(`latency: request failed: ${reason(err)}`);
        }
      }
      ours = summarize(all);
    } catch (err) {
      oursError = reason(err);
    }
  }
  oursConnect = oursConnect.map((x) => round(x));
  const base = (s: LatencySummary, k: 'median_ms' | 'p95_ms') => fmt(s[k], 'ms');
  const tMed = '≤ 100 ms';
  const tP95 = '≤ 150 ms';
  if (ours !== undefined) {
    const rMed: Row = {
      part: 'latency',
      metric: `setup, median of ${n} (request → first byte)`,
      ours: fmt(ours.median_ms, 'ms'),
      baseline: base(fix, 'median_ms'),
      ratio: pct(ours.median_ms, fix.median_ms),
      target: tMed,
      met: met(ours.median_ms <= 100),
    };
    if (ours.median_ms > 100)
      rMed.miss = `median ${ours.median_ms.toFixed(0)} ms, ${(ours.median_ms - 100).toFixed(0)} ms over`;
    const rP95: Row = {
      part: 'latency',
      metric: `setup, p95 of ${n}`,
      ours: fmt(ours.p95_ms, 'ms'),
      baseline: base(fix, 'p95_ms'),
      ratio: pct(ours.p95_ms, fix.p95_ms),
      target: tP95,
      met: met(ours.p95_ms <= 150),
    };
    if (ours.p95_ms > 150)
      rP95.miss = `p95 ${ours.p95_ms.toFixed(0)} ms, ${(ours.p95_ms - 150).toFixed(0)} ms over`;
    ctx.rows.push(rMed, rP95);
    if (oursFailures.length > 0) {
      ctx.notes.push(
        `latency: ${oursFailures.length} of ${n + oursFailures.length} sdrlink requests failed and are not among the samples: ${oursFailures.join(' · ')}`,
      );
      rP95.ours += ` (+${oursFailures.length} failed)`;
    }
  } else {
    const why = oursError ?? skip ?? 'not run';
    const st = oursError !== undefined ? ('failed' as const) : ('skipped' as const);
    ctx.rows.push({
      ...skippedRow(
        'latency',
        `setup, median of ${n} (request → first byte)`,
        base(fix, 'median_ms'),
        tMed,
        why,
      ),
      ours: `${st}: ${why}`,
      met: st,
    });
    ctx.rows.push({
      ...skippedRow('latency', `setup, p95 of ${n}`, base(fix, 'p95_ms'), tP95, why),
      ours: `${st}: ${why}`,
      met: st,
    });
  }
  ctx.rows.push({
    part: 'latency',
    metric: `bare pair without the DTLS-role fix: median / p95 / > 900 ms`,
    ours: '–',
    baseline: `${fix.median_ms.toFixed(1)} / ${fix.p95_ms.toFixed(1)} ms / ${fix.slow} of ${n} (fix) · ${nofix.median_ms.toFixed(1)} / ${nofix.p95_ms.toFixed(1)} ms / ${nofix.slow} of ${n} (no fix)`,
    ratio: '–',
    target: '–',
    met: '–',
  });
  const data = {
    samples: n,
    bare_fix: fix,
    bare_nofix: nofix,
    ours: ours ?? null,
    ours_connect_ms: oursConnect,
    ours_failures: oursFailures,
    ours_error: oursError ?? null,
  };
  return oursError !== undefined || skip !== undefined
    ? { data, partial: oursError ?? skip ?? '' }
    : { data };
};

const partRelay: PartFn = async (ctx) => {
  const { cfg, progress } = ctx;
  const bytes = cfg.transferBytes;
  const size = fmtMiB(bytes);
  let env: OursEnv | undefined;
  let skip: string | undefined;
  try {
    env = await ctx.ours();
    await env.prepare([bytes, 1 * MiB]);
  } catch (err) {
    skip = reason(err);
    env = undefined;
  }
  const bare: BareWsResult[] = [];
  const bareRelay: BareWsResult[] = [];
  const bareZero: BareWsResult[] = [];
  const ours: Array<
    ConsumerResult & { provider_cpu_s: number; consumer_cpu_s: number; server_cpu_s: number | null }
  > = [];
  let oursError: string | undefined;
  if (env !== undefined) {
    try {
      progress('relay: warm-up (ours, 1 MiB)');
      await env.provider('relay');
      await oursRequest(ctx, env, 1 * MiB, 'relay', 'relay warm-up');
    } catch (err) {
      oursError = reason(err);
    }
  }
  for (let round = 1; round <= cfg.rounds; round++) {
    const of = `round ${round}/${cfg.rounds}`;
    progress(`relay: bare ws pair, ${size} (${of})`);
    bare.push(await runBareWs(bytes));
    progress(`relay: bare ws sender → minimal forwarding server → receiver, ${size} (${of})`);
    bareRelay.push(await runBareWs(bytes, 'relay'));
    progress(`relay: bare ws pair with all-zero masks (as our relay client), ${size} (${of})`);
    bareZero.push(await runBareWs(bytes, 'direct', true));
    if (env !== undefined && oursError === undefined) {
      progress(`relay: sdrlink provider → server relay → consumer, ${size} (${of})`);
      try {
        const provider = await env.provider('relay');
        const consumer = await env.consumer();
        const s0 = serverCpu(env.server.pid);
        const [p0, c0] = await Promise.all([processStats(provider), processStats(consumer.child)]);
        const r = await oursRequest(ctx, env, bytes, 'relay', `relay ${of}`);
        const [p1, c1] = await Promise.all([processStats(provider), processStats(consumer.child)]);
        const s1 = serverCpu(env.server.pid);
        ours.push({
          ...r,
          provider_cpu_s: p1.cpu_s - p0.cpu_s,
          consumer_cpu_s: c1.cpu_s - c0.cpu_s,
          server_cpu_s: s0 === null || s1 === null ? null : s1 - s0,
        });
      } catch (err) {
        oursError = reason(err);
      }
    }
  }
  const b = best(bare, (x) => x.mb_s);
  const br = best(bareRelay, (x) => x.mb_s);
  const bz = best(bareZero, (x) => x.mb_s);
  const o = best(ours, oursRate);
  const target = '≥ 70% of bare';
  const metric = `relay throughput, ${size}`;
  if (o !== undefined) {
    const rate = oursRate(o);
    const ratio = b === undefined ? Number.NaN : rate / b.mb_s;
    const row: Row = {
      part: 'relay',
      metric,
      ours: fmt(rate, 'MB/s'),
      baseline: fmt(b?.mb_s, 'MB/s'),
      ratio: pct(rate, b?.mb_s ?? Number.NaN),
      target,
      met: met(ratio >= 0.7),
    };
    if (ratio < 0.7) row.miss = `${Math.round((0.7 - ratio) * 100)} points below 70% of the bare ws pair`;
    ctx.rows.push(row);
    ctx.rows.push({
      part: 'relay',
      metric: `relay throughput, ${size} (baseline: bare ws through a minimal forwarder)`,
      ours: fmt(rate, 'MB/s'),
      baseline: fmt(br?.mb_s, 'MB/s'),
      ratio: pct(rate, br?.mb_s ?? Number.NaN),
      target: '–',
      met: '–',
    });
    ctx.rows.push({
      part: 'relay',
      metric: `relay throughput, ${size} (baseline: bare ws pair with all-zero masks, as ours)`,
      ours: fmt(rate, 'MB/s'),
      baseline: fmt(bz?.mb_s, 'MB/s'),
      ratio: pct(rate, bz?.mb_s ?? Number.NaN),
      target: '–',
      met: '–',
    });
    ctx.rows.push({
      part: 'relay',
      metric: 'CPU s per GiB, sender / receiver / server',
      ours: `${cpuPerGiB(o.provider_cpu_s, o.size).toFixed(1)} / ${cpuPerGiB(o.consumer_cpu_s, o.size).toFixed(1)}${o.server_cpu_s === null ? '' : ` / ${cpuPerGiB(o.server_cpu_s, o.size).toFixed(1)}`}`,
      baseline:
        br === undefined
          ? '–'
          : `${cpuPerGiB(br.sender_cpu_s, br.bytes).toFixed(1)} / ${cpuPerGiB(br.receiver_cpu_s, br.bytes).toFixed(1)} / ${cpuPerGiB(br.relay_cpu_s ?? Number.NaN, br.bytes).toFixed(1)} (forwarder)`,
      ratio: '–',
      target: '–',
      met: '–',
    });
  } else {
    const why = oursError ?? skip ?? 'not run';
    const st = oursError !== undefined ? ('failed' as const) : ('skipped' as const);
    ctx.rows.push({
      ...skippedRow('relay', metric, fmt(b?.mb_s, 'MB/s'), target, why),
      ours: `${st}: ${why}`,
      met: st,
    });
    ctx.rows.push({
      ...skippedRow(
        'relay',
        `relay throughput, ${size} (baseline: bare ws through a minimal forwarder)`,
        fmt(br?.mb_s, 'MB/s'),
        '–',
        why,
      ),
      ours: `${st}: ${why}`,
      met: st,
    });
  }
  if (env !== undefined) await env.stopProvider();
  const data = {
    bytes,
    bare,
    bare_relay: bareRelay,
    bare_zero_mask: bareZero,
    ours,
    ours_error: oursError ?? null,
  };
  return oursError !== undefined || skip !== undefined
    ? { data, partial: oursError ?? skip ?? '' }
    : { data };
};

/** CPU seconds a process has used, from /proc (Linux); null elsewhere. */
function serverCpu(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100;
  } catch {
    return null;
  }
}

const partSignaling: PartFn = async (ctx) => {
  const { cfg, progress } = ctx;
  const gen = await LoadGenerator.start();
  const bareSrv = await startBareHttpServer();
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let skip: string | undefined;
  let pairs: LoadPair[] = [];
  try {
    try {
      // The per-user session rate limit (120/min by default) is abuse protection, not what this part
      // measures: 16 users creating ~1,250 sessions/s between them would be refused after a second.
      server = await startServer(join(ctx.tmp, 'load.sqlite'), ['--sessions-per-minute', '1000000']);
      progress(`signaling: registering ${cfg.loadPairs} provider/consumer pairs`);
      const url = server.url;
      pairs = await Promise.all(
        Array.from({ length: cfg.loadPairs }, async (_, i) => {
          const p = await registerUser(url, `load-provider-${i}`, 1, ['blob']);
          const c = await registerUser(url, `load-consumer-${i}`, 2);
          return { consumerToken: c.token, providerToken: p.token, providerName: p.username };
        }),
      );
    } catch (err) {
      skip = `signaling server unavailable: ${reason(err)}`;
      pairs = [];
    }
    const bare: LoadLevelResult[] = [];
    const ours: LoadLevelResult[] = [];
    const fakePairs: LoadPair[] = [{ consumerToken: 'c', providerToken: 'p', providerName: 'provider' }];
    for (const k of cfg.loadLevels) {
      const lvl = {
        clients: k,
        warmupMs: cfg.loadWarmupMs,
        durationMs: cfg.loadDurationMs,
        requestType: 'blob',
      };
      progress(`signaling: bare http server, ${k} clients, ${cfg.loadDurationMs / 1000} s`);
      bare.push(await gen.level({ ...lvl, url: bareSrv.url, pairs: fakePairs }));
      if (server !== undefined) {
        progress(`signaling: sdrlink server (SQLite), ${k} clients, ${cfg.loadDurationMs / 1000} s`);
        ours.push(await gen.level({ ...lvl, url: server.url, pairs }));
      }
    }
    // The target (issue 7): 10,000 ops/s with p99 ≤ 25 ms at 200 clients — offered at that rate, paced.
    const PACED_CLIENTS = 200;
    const PACED_RATE = 10_000;
    const pacedLvl = {
      clients: PACED_CLIENTS,
      warmupMs: cfg.loadWarmupMs,
      durationMs: cfg.loadDurationMs,
      requestType: 'blob',
      ratePerSec: PACED_RATE,
    };
    progress(`signaling: bare http server, ${PACED_CLIENTS} clients paced to ${PACED_RATE} ops/s`);
    const barePaced = await gen.level({ ...pacedLvl, url: bareSrv.url, pairs: fakePairs });
    let oursPaced: LoadLevelResult | undefined;
    if (server !== undefined) {
      progress(`signaling: sdrlink server (SQLite), ${PACED_CLIENTS} clients paced to ${PACED_RATE} ops/s`);
      oursPaced = await gen.level({ ...pacedLvl, url: server.url, pairs });
    }
    const lat = (r: LoadLevelResult) =>
      `${round(r.ops_s)} ops/s, p50 ${r.p50_ms.toFixed(1)} / p99 ${r.p99_ms.toFixed(1)} ms${r.errors > 0 ? `, ${r.errors} errors` : ''}`;
    {
      const metric = `signaling, ${PACED_CLIENTS} clients offered ${PACED_RATE.toLocaleString('en')} ops/s (paced)`;
      const target = '≥ 10,000 ops/s, p99 ≤ 25 ms';
      if (oursPaced === undefined)
        ctx.rows.push(skippedRow('signaling', metric, lat(barePaced), target, skip ?? 'not run'));
      else {
        const o = oursPaced;
        // Achieved within 2% of the offered rate counts as sustaining it (the window edges cost a little).
        const ok = o.ops_s >= PACED_RATE * 0.98 && o.p99_ms <= 25 && o.errors === 0;
        const row: Row = {
          part: 'signaling',
          metric,
          ours: lat(o),
          baseline: lat(barePaced),
          ratio: pct(o.ops_s, barePaced.ops_s),
          target,
          met: met(ok),
        };
        if (!ok) {
          const why: string[] = [];
          if (o.ops_s < PACED_RATE * 0.98)
            why.push(
              `sustained ${Math.round(o.ops_s)} of the ${PACED_RATE} ops/s offered (${Math.round((1 - o.ops_s / PACED_RATE) * 100)}% short)`,
            );
          if (o.p99_ms > 25)
            why.push(`p99 ${o.p99_ms.toFixed(1)} ms is ${(o.p99_ms - 25).toFixed(1)} ms over 25`);
          if (o.errors > 0) why.push(`${o.errors} errors (${o.error_samples[0] ?? ''})`);
          row.miss = why.join('; ');
        }
        ctx.rows.push(row);
      }
    }
    for (const [i, k] of cfg.loadLevels.entries()) {
      const b = bare[i] as LoadLevelResult;
      const o = ours[i];
      const bS = lat(b);
      const metric = `signaling, ${k} clients, closed loop (most the server does)`;
      // issue 13: at 200 and 1,000 clients, at least 80% of the bare server's throughput
      const targeted = k >= 200;
      const target = targeted ? '≥ 80% of bare' : '–';
      if (o === undefined) {
        ctx.rows.push(skippedRow('signaling', metric, bS, target, skip ?? 'not run'));
        continue;
      }
      const row: Row = {
        part: 'signaling',
        metric,
        ours: lat(o),
        baseline: bS,
        ratio: pct(o.ops_s, b.ops_s),
        target,
        met: targeted ? met(o.ops_s >= 0.8 * b.ops_s) : '–',
      };
      if (targeted && o.ops_s < 0.8 * b.ops_s)
        row.miss = `${Math.round((100 * o.ops_s) / b.ops_s)}% of the bare server, below the 80% target`;
      ctx.rows.push(row);
      if (o.errors > 0)
        ctx.notes.push(`signaling, ${k} clients: ${o.errors} errors, e.g. ${o.error_samples.join(' · ')}`);
    }
    const data = {
      levels: cfg.loadLevels,
      duration_ms: cfg.loadDurationMs,
      warmup_ms: cfg.loadWarmupMs,
      ops_per_session: 8,
      bare,
      ours,
      paced: { clients: PACED_CLIENTS, offered_ops_s: PACED_RATE, bare: barePaced, ours: oursPaced ?? null },
    };
    return skip !== undefined ? { data, partial: skip } : { data };
  } finally {
    await Promise.all([gen.stop(), bareSrv.stop(), server?.stop()]);
  }
};

const partCluster: PartFn = async (ctx) => {
  const { cfg, progress } = ctx;
  const skip = clusterSkip();
  const lat = (r: LoadLevelResult) =>
    `${round(r.ops_s)} ops/s, p50 ${r.p50_ms.toFixed(1)} / p99 ${r.p99_ms.toFixed(1)} ms${r.errors > 0 ? `, ${r.errors} errors` : ''}`;
  const levels = cfg.loadLevels.filter((k) => k >= 200);
  if (skip !== false) {
    for (const k of levels)
      ctx.rows.push(
        skippedRow('cluster', `two instances vs one on PostgreSQL, ${k} clients`, '–', '–', skip),
      );
    return { data: null, partial: skip };
  }
  const r = await benchCluster({
    tmp: ctx.tmp,
    levels,
    warmupMs: cfg.loadWarmupMs,
    durationMs: cfg.loadDurationMs,
    latencySamples: cfg.latencySamples,
    latencyBytes: cfg.latencyBytes,
    progress,
  });
  for (const [i, k] of levels.entries()) {
    const one = r.one[i] as LoadLevelResult;
    const two = r.two[i] as LoadLevelResult;
    ctx.rows.push({
      part: 'cluster',
      metric: `two instances (consumer on A, provider on B) vs one, on PostgreSQL, ${k} clients, closed loop`,
      ours: lat(two),
      baseline: lat(one),
      ratio: pct(two.ops_s, one.ops_s),
      target: 'report',
      met: '–',
    });
    for (const [name, x] of [
      ['one instance', one],
      ['two instances', two],
    ] as const)
      if (x.errors > 0)
        ctx.notes.push(
          `cluster, ${name}, ${k} clients: ${x.errors} errors, e.g. ${x.error_samples.join(' · ')}`,
        );
  }
  const { same, cross } = r.first_byte;
  for (const k of ['median_ms', 'p95_ms'] as const)
    ctx.rows.push({
      part: 'cluster',
      metric: `first byte, ${k === 'median_ms' ? 'median' : 'p95'} of ${cross.samples}: consumer on A, provider on B (baseline: both on B)`,
      ours: fmt(cross[k], 'ms'),
      baseline: fmt(same[k], 'ms'),
      ratio: pct(cross[k], same[k]),
      target: 'report',
      met: '–',
    });
  if (r.first_byte.failures.length > 0)
    ctx.notes.push(
      `cluster, first byte: ${r.first_byte.failures.length} failed requests: ${r.first_byte.failures.join(' · ')}`,
    );
  return { data: r };
};

const partMemory: PartFn = async (ctx) => {
  const { cfg, progress } = ctx;
  const env = await ctx.ours();
  await env.stopAgents();
  const [small, large] = cfg.memorySizes;
  const out: Array<{ bytes: number; provider_max_rss: number; consumer_max_rss: number; rate_mb_s: number }> =
    [];
  for (const bytes of [small, large]) {
    progress(`memory: generating the ${fmtMiB(bytes)} blob`);
    await env.prepare([bytes]);
    progress(`memory: fresh provider and consumer processes, ${fmtMiB(bytes)} over p2p`);
    const provider = await env.provider('auto');
    const consumer = await env.consumer();
    const r = await oursRequest(ctx, env, bytes, 'p2p', `memory ${fmtMiB(bytes)}`);
    const [p, c] = await Promise.all([processStats(provider), processStats(consumer.child)]);
    out.push({ bytes, provider_max_rss: p.max_rss, consumer_max_rss: c.max_rss, rate_mb_s: oursRate(r) });
    await env.stopAgents();
  }
  const [s, l] = out as [(typeof out)[0], (typeof out)[0]];
  const mib = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
  const within = (a: number, b: number) => Math.max(a, b) / Math.min(a, b) <= 1.2;
  for (const side of ['provider', 'consumer'] as const) {
    const a = s[`${side}_max_rss`];
    const b = l[`${side}_max_rss`];
    const row: Row = {
      part: 'memory',
      metric: `${side} peak RSS, ${fmtMiB(l.bytes)} (baseline: ${fmtMiB(s.bytes)})`,
      ours: mib(b),
      baseline: mib(a),
      ratio: pct(b, a),
      target: 'within 20%',
      met: met(within(a, b)),
    };
    if (!within(a, b))
      row.miss = `${side} peak RSS grows ${Math.round((b / a - 1) * 100)}% from ${fmtMiB(s.bytes)} to ${fmtMiB(l.bytes)}`;
    ctx.rows.push(row);
  }
  const pc: Row = {
    part: 'memory',
    metric: `provider vs consumer peak RSS, ${fmtMiB(l.bytes)}`,
    ours: mib(l.provider_max_rss),
    baseline: `${mib(l.consumer_max_rss)} (consumer)`,
    ratio: pct(l.provider_max_rss, l.consumer_max_rss),
    target: 'within 20%',
    met: met(within(l.provider_max_rss, l.consumer_max_rss)),
  };
  if (pc.met === 'no') pc.miss = `provider ${mib(l.provider_max_rss)} vs consumer ${mib(l.consumer_max_rss)}`;
  ctx.rows.push(pc);
  return { data: out };
};

/** The micro-benchmarks of one area (`bench/datasets.ts`, `bench/protocol.ts`), as a part of the run. */
function areaPart(
  area: 'datasets' | 'protocol',
  fn: (o: { quick: boolean }) => Promise<unknown>,
  fnName: string,
): PartFn {
  return async (ctx) => {
    ctx.progress(`${area}: ${fnName}({ quick: ${ctx.cfg.quick} })`);
    const data = await fn({ quick: ctx.cfg.quick });
    const rows = area === 'datasets' ? datasetRows(data) : rowsFrom(data);
    for (const r of rows) ctx.rows.push({ ...r, part: area });
    return { data };
  };
}

const PART_FNS: Record<PartName, PartFn> = {
  p2p: partP2P,
  latency: partLatency,
  relay: partRelay,
  signaling: partSignaling,
  cluster: partCluster,
  memory: partMemory,
  datasets: areaPart('datasets', benchDatasets, 'benchDatasets'),
  protocol: areaPart('protocol', benchProtocol, 'benchProtocol'),
};

// ---------------------------------------------------------------- main

/** Summaries of every CPU profile the children wrote (by file name: sequence number and process name). */
async function summarizeProfiles(dir: string): Promise<Record<string, ProfileSummary>> {
  const out: Record<string, ProfileSummary> = {};
  for (const f of (await readdir(dir)).filter((x) => x.endsWith('.cpuprofile')).sort()) {
    try {
      out[f] = await summarizeProfileFile(join(dir, f), 10);
    } catch (err) {
      process.stderr.write(`profile ${f}: ${reason(err)}\n`);
    }
  }
  return out;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

function parseArgs(argv: string[]): {
  quick: boolean;
  only: PartName[];
  write: boolean;
  profile: string | undefined;
} {
  let quick = false;
  let write = true;
  let profile: string | undefined;
  let only: PartName[] = [...PARTS];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--quick') quick = true;
    else if (a === '--no-write') write = false;
    else if (a === '--profile') {
      profile = argv[++i];
      if (profile === undefined || profile.startsWith('--')) throw new Error('--profile needs a folder');
    } else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? (argv[++i] ?? '') : a.slice('--only='.length);
      const names = v
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
      const bad = names.filter((x) => !(PARTS as readonly string[]).includes(x));
      if (bad.length > 0)
        throw new Error(`--only: unknown part(s) ${bad.join(', ')} (parts: ${PARTS.join(', ')})`);
      only = names as PartName[];
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        `usage: npm run bench -- [--quick] [--only ${PARTS.join(',')}] [--no-write] [--profile DIR]\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  return { quick, only, write, profile };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cfg = config(args.quick);
  const tmp = await mkdtemp(join(os.tmpdir(), 'sdrlink-bench-'));
  if (args.profile !== undefined) {
    // Children read it when spawned (child.ts profileArgs); profiling slows them: figures are for diagnosis.
    process.env['SDRLINK_BENCH_PROFILE_DIR'] = resolve(args.profile);
    await mkdir(resolve(args.profile), { recursive: true });
  }
  const progress = (msg: string) => process.stderr.write(`[${elapsed()} s] ${msg}\n`);
  const m = machine();
  progress(
    `sdrlink bench${cfg.quick ? ' --quick' : ''}: parts ${args.only.join(', ')}; ${m.cpus} CPUs, load ${m.load_avg_at_start.join(' ')}`,
  );
  let envPromise: Promise<OursEnv> | undefined;
  const ctx: Ctx = {
    cfg,
    tmp,
    progress,
    rows: [],
    notes: [],
    ours: () => {
      envPromise ??= (async () => {
        progress('starting the signaling server and registering bench users');
        return OursEnv.start(tmp);
      })();
      return envPromise;
    },
  };
  const parts: Record<string, PartOutcome> = {};
  try {
    for (const name of args.only) {
      const start = performance.now();
      const before = ctx.rows.length;
      try {
        const r = await PART_FNS[name](ctx);
        const outcome: PartOutcome = {
          status: 'ok',
          seconds: (performance.now() - start) / 1000,
          data: r.data,
        };
        if (r.partial !== undefined) outcome.reason = `ours not measured: ${r.partial}`;
        parts[name] = outcome;
      } catch (err) {
        const skipped = err instanceof SkipError;
        const why = reason(err);
        parts[name] = {
          status: skipped ? 'skipped' : 'failed',
          reason: why,
          seconds: (performance.now() - start) / 1000,
        };
        if (!skipped && err instanceof Error && err.stack !== undefined)
          progress(`${name}: FAILED: ${err.stack}`);
        if (ctx.rows.length === before) {
          ctx.rows.push({
            part: name,
            metric: '(all)',
            ours: `${skipped ? 'skipped' : 'failed'}: ${why}`,
            baseline: '–',
            ratio: '–',
            target: '–',
            met: skipped ? 'skipped' : 'failed',
          });
        }
      }
      progress(
        `${name}: ${parts[name]?.status}${parts[name]?.reason !== undefined ? ` (${parts[name]?.reason})` : ''} in ${parts[name]?.seconds.toFixed(1)} s`,
      );
    }
  } finally {
    if (envPromise !== undefined) await envPromise.then((e) => e.stop()).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
  for (const r of ctx.rows)
    if (r.miss !== undefined) ctx.notes.push(`Target missed: ${r.part} / ${r.metric}: ${r.miss}.`);
  let profiles: Record<string, ProfileSummary> | undefined;
  if (args.profile !== undefined) {
    profiles = await summarizeProfiles(resolve(args.profile));
    ctx.notes.push(
      `Profiled run (--profile): every child ran under --cpu-prof, so its figures are lower than usual; profiles in ${resolve(args.profile)}.`,
    );
    for (const [file, p] of Object.entries(profiles)) {
      process.stderr.write(
        `\n${file}: busy ${p.busyMs} ms, idle ${p.idleMs} ms\n${formatEntries(p.byModule.slice(0, 8))}\n`,
      );
    }
  }
  const results: Results = {
    date: new Date().toISOString(),
    quick: cfg.quick,
    machine: m,
    duration_s: (performance.now() - t0) / 1000,
    rows: ctx.rows,
    parts,
    notes: ctx.notes,
  };
  if (profiles !== undefined) results.profiles = profiles;
  process.stdout.write(`${markdownTable(ctx.rows)}\n`);
  for (const n of ctx.notes) process.stdout.write(`\n- ${n}`);
  process.stdout.write('\n');
  if (args.write) {
    // A profiled run's figures are lowered by the profiler: its results go beside the profiles instead.
    const dir = args.profile !== undefined ? resolve(args.profile) : join(repoRoot(), 'bench');
    await writeFile(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(join(dir, 'results.md'), markdownReport(results));
    progress(`wrote ${join(dir, 'results.json')} and results.md (${results.duration_s.toFixed(0)} s in all)`);
  }
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  })
  .finally(() => {
    // A benchmark never fails CI (issue 7).
    process.exitCode = 0;
  });
