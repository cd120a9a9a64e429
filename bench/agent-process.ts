/**
 * Our agents, each in its own process, driven by the benchmark over IPC:
 *
 * - `prepare`: generates `blob` files into a provider's dataset cache ahead of time, so a measured
 *   transfer does not include making the file (nor does the provider's peak memory include it).
 * - `provider`: `startProvider` serving only the `blob` dataset (bench/blob-dataset.ts).
 * - `consumer`: runs `requestFile` once per `request` message and reports the result with the time from
 *   the start of the request to the first payload byte (the first `onProgress` with `received > 0`).
 *
 * Providers and consumers answer `stats` with their peak resident set (`process.resourceUsage().maxRSS`)
 * and the CPU seconds they have used.
 * The agents are imported lazily, so a build without them reports an error instead of crashing the run.
 */
import { performance } from 'node:perf_hooks';
import {
  Child,
  debug,
  isMain,
  peakRssBytes,
  serveParent,
  siblingScript,
  toParent,
  type BenchMessage,
} from './child.js';
import { blobDataset } from './blob-dataset.js';

export type TransportChoice = 'auto' | 'p2p' | 'relay';

function stats(): BenchMessage {
  const cpu = process.cpuUsage();
  return { type: 'stats', max_rss: peakRssBytes(), cpu_s: (cpu.user + cpu.system) / 1e6 };
}

function errorMessage(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; stack?: unknown };
  const code = typeof e.code === 'string' ? `${e.code}: ` : '';
  return `${code}${typeof e.message === 'string' ? e.message : String(err)}`;
}

async function runPrepare(m: BenchMessage) {
  const { DatasetCache } = await import('../src/agents/dataset-cache.js');
  const cache = new DatasetCache(String(m['data_dir']));
  const out: Array<{ bytes: number; sha256: string; ms: number }> = [];
  for (const bytes of m['sizes'] as number[]) {
    const t0 = performance.now();
    const f = await cache.prepare(blobDataset, blobDataset.validate({ bytes }));
    out.push({ bytes: f.size, sha256: f.sha256, ms: performance.now() - t0 });
  }
  toParent({ type: 'prepared', files: out });
}

async function runProvider(m: BenchMessage) {
  const agents = await import('../src/agents/index.js');
  const { createDatasetRegistry } = await import('../src/datasets/types.js');
  const opts: Parameters<typeof agents.startProvider>[0] = {
    server: String(m['server']),
    token: String(m['token']),
    datasets: createDatasetRegistry([blobDataset]),
    dataDir: String(m['data_dir']),
    transport: (m['transport'] as TransportChoice | undefined) ?? 'auto',
    log: (e) => {
      if (e.event !== 'progress') debug('provider', e);
      if (e.event === 'sent' || e.event === 'failed' || e.event === 'refused' || e.event === 'lost-claim') {
        toParent({ type: 'provider-event', event: e as unknown as Record<string, unknown> });
      }
    },
  };
  const provider = await agents.startProvider(opts);
  serveParent(
    (q) => {
      if (q.type === 'stats') toParent(stats());
      else throw new Error(`provider: unknown message ${q.type}`);
    },
    () => {
      void provider.close().finally(() => agents.cleanupWebRtc());
    },
  );
  toParent({ type: 'ready' });
}

async function runConsumer(m: BenchMessage) {
  const agents = await import('../src/agents/index.js');
  const server = String(m['server']);
  const token = String(m['token']);
  serveParent(
    async (q) => {
      if (q.type === 'stats') {
        toParent(stats());
        return;
      }
      if (q.type !== 'request') throw new Error(`consumer: unknown message ${q.type}`);
      const id = Number(q['id']);
      const started = performance.now();
      let firstByte = -1;
      let connected = -1;
      try {
        const r = await agents.requestFile({
          server,
          token,
          type: blobDataset.type,
          params: q['params'] as Record<string, unknown>,
          outDir: String(q['out_dir']),
          transport: (q['transport'] as TransportChoice | undefined) ?? 'auto',
          waitMs: 30_000,
          onProgress: (p) => {
            if (firstByte < 0 && p.received > 0) firstByte = performance.now();
          },
          onEvent: (e) => {
            debug('consumer', e);
            if (e.event === 'connected' && connected < 0) connected = performance.now();
          },
        });
        const done = performance.now();
        toParent({
          type: 'result',
          id,
          result: r as unknown as Record<string, unknown>,
          setup_ms: firstByte < 0 ? null : firstByte - started,
          connect_ms: connected < 0 ? null : connected - started,
          // First payload byte → verified file in place: the like-for-like of the bare pair's figure.
          first_to_done_ms: firstByte < 0 ? null : done - firstByte,
          total_ms: done - started,
        });
      } catch (err) {
        debug('consumer', { event: 'error', message: errorMessage(err) });
        toParent({ type: 'result', id, error: errorMessage(err) });
      }
    },
    () => agents.cleanupWebRtc(),
  );
  toParent({ type: 'ready' });
}

// ---------------------------------------------------------------- orchestrator side

function script(): string {
  return siblingScript(import.meta.url, 'agent-process');
}

/** Generates blob files of `sizes` into `dataDir`'s cache, in a process of its own. */
export async function prepareBlobs(dataDir: string, sizes: number[], timeoutMs: number): Promise<void> {
  const c = new Child('blob prepare', script(), ['prepare']);
  try {
    await c.next('booted', 15_000);
    c.send({ type: 'start', data_dir: dataDir, sizes });
    await c.next('prepared', timeoutMs);
  } finally {
    await c.stop();
  }
}

/** A provider process serving `blob`. */
export async function startProviderProcess(o: {
  server: string;
  token: string;
  dataDir: string;
  transport?: TransportChoice;
}): Promise<Child> {
  const c = new Child('provider', script(), ['provider']);
  try {
    await c.next('booted', 15_000);
    c.send({
      type: 'start',
      server: o.server,
      token: o.token,
      data_dir: o.dataDir,
      transport: o.transport ?? 'auto',
    });
    await c.next('ready', 20_000);
    return c;
  } catch (err) {
    await c.stop();
    throw err;
  }
}

export interface ConsumerResult {
  size: number;
  transport: string;
  verified: boolean;
  setup_ms: number | null;
  connect_ms: number | null;
  first_to_done_ms: number | null;
  transfer_ms: number;
  total_ms: number;
}

/** A warm consumer process; each `request` is one `requestFile`. */
export class ConsumerProcess {
  readonly child: Child;
  #next = 1;

  private constructor(child: Child) {
    this.child = child;
  }

  static async start(o: { server: string; token: string }): Promise<ConsumerProcess> {
    const c = new Child('consumer', script(), ['consumer']);
    try {
      await c.next('booted', 15_000);
      c.send({ type: 'start', server: o.server, token: o.token });
      await c.next('ready', 20_000);
      return new ConsumerProcess(c);
    } catch (err) {
      await c.stop();
      throw err;
    }
  }

  async request(
    params: Record<string, unknown>,
    outDir: string,
    transport: TransportChoice,
    timeoutMs: number,
  ): Promise<ConsumerResult> {
    const id = this.#next++;
    this.child.send({ type: 'request', id, params, out_dir: outDir, transport });
    const m = await this.child.next('result', timeoutMs);
    if (typeof m['error'] === 'string') throw new Error(`requestFile: ${m['error']}`);
    const r = m['result'] as { size: number; transport: string; verified: boolean; transfer_ms: number };
    return {
      size: r.size,
      transport: r.transport,
      verified: r.verified,
      setup_ms: m['setup_ms'] as number | null,
      connect_ms: m['connect_ms'] as number | null,
      first_to_done_ms: m['first_to_done_ms'] as number | null,
      transfer_ms: r.transfer_ms,
      total_ms: Number(m['total_ms']),
    };
  }
}

/** An agent process's peak RSS (bytes) and CPU seconds used since it started. */
export async function processStats(c: Child): Promise<{ max_rss: number; cpu_s: number }> {
  c.send({ type: 'stats' });
  const m = await c.next('stats', 5000);
  return { max_rss: Number(m['max_rss']), cpu_s: Number(m['cpu_s']) };
}

if (isMain(import.meta.url)) {
  const role = process.argv[2];
  const roles: Record<string, (m: BenchMessage) => Promise<void>> = {
    prepare: runPrepare,
    provider: runProvider,
    consumer: runConsumer,
  };
  const run = role === undefined ? undefined : roles[role];
  if (run === undefined) {
    process.stderr.write('usage: agent-process.js prepare|provider|consumer (started by bench/run.js)\n');
    process.exitCode = 2;
  } else {
    // The first message says what to do; serveParent takes over inside `run`.
    const onFirst = (raw: unknown) => {
      const m = raw as BenchMessage;
      if (m.type !== 'start') return;
      process.off('message', onFirst);
      run(m).catch((err: unknown) => {
        toParent({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
        setTimeout(() => process.exit(1), 100);
      });
    };
    process.on('message', onFirst);
    process.on('disconnect', () => setTimeout(() => process.exit(0), 50).unref());
    toParent({ type: 'booted' });
  }
}
