/**
 * The `cluster` part of `npm run bench`: the signaling server on PostgreSQL, one instance against two
 * instances of the same database (docs/architecture.md "Several instances"), and what crossing instances
 * adds to a transfer's first byte.
 *
 * - Load: the signaling generator (signaling-load.ts), closed loop at each level, against one instance
 *   (every call to A) and against two (each consumer's calls to A, its provider's to B, so every exchange
 *   crosses instances and every event reaches the other side through PostgreSQL).
 * - First byte: a real provider process on B and a warm consumer process, request → first byte, with the
 *   consumer on B (same instance) and on A (across instances).
 *
 * PostgreSQL is a real server started here (test/helpers/postgres.ts: `initdb`/`pg_ctl` in a temporary
 * folder, on a free loopback port); without its binaries the part is skipped with the reason.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { postgresSkip, startPostgres } from '../test/helpers/postgres.js';
import { BLOB_TYPE } from './blob-dataset.js';
import { ConsumerProcess, prepareBlobs, startProviderProcess } from './agent-process.js';
import { registerUser, startServer, type ServerProcess } from './server-process.js';
import { LoadGenerator, type LoadLevelResult, type LoadPair } from './signaling-load.js';
import { summarize, type LatencySummary } from './bare-datachannel.js';

export interface ClusterOptions {
  tmp: string;
  levels: number[];
  warmupMs: number;
  durationMs: number;
  latencySamples: number;
  latencyBytes: number;
  progress: (line: string) => void;
}

export interface ClusterResult {
  one: LoadLevelResult[];
  two: LoadLevelResult[];
  first_byte: { same: LatencySummary; cross: LatencySummary; failures: string[] };
}

/** Why the part cannot run here (no PostgreSQL binaries), or false. */
export function clusterSkip(): string | false {
  return postgresSkip();
}

export async function benchCluster(o: ClusterOptions): Promise<ClusterResult> {
  const pg = await startPostgres();
  const servers: ServerProcess[] = [];
  const gen = await LoadGenerator.start();
  const tmp = await mkdtemp(join(o.tmp, 'cluster-'));
  try {
    const db = await pg.createDatabase('bench_cluster');
    const env = { SDRLINK_JWT_SECRET: randomBytes(32).toString('base64url') };
    const args = ['--sessions-per-minute', '1000000'];
    for (const name of ['A', 'B']) {
      o.progress(`cluster: starting instance ${name} on PostgreSQL`);
      servers.push(await startServer(db, [...args, '--instance-id', `bench-${name}`], 30_000, env));
    }
    const [a, b] = servers as [ServerProcess, ServerProcess];
    const pairs: LoadPair[] = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const p = await registerUser(a.url, `cl-provider-${i}`, 1, ['blob']);
        const c = await registerUser(a.url, `cl-consumer-${i}`, 2);
        return { consumerToken: c.token, providerToken: p.token, providerName: p.username };
      }),
    );
    const one: LoadLevelResult[] = [];
    const two: LoadLevelResult[] = [];
    for (const k of o.levels) {
      const lvl = { clients: k, warmupMs: o.warmupMs, durationMs: o.durationMs, requestType: 'blob', pairs };
      o.progress(`cluster: one instance on PostgreSQL, ${k} clients`);
      one.push(await gen.level({ ...lvl, url: a.url }));
      o.progress(`cluster: two instances on PostgreSQL (consumer on A, provider on B), ${k} clients`);
      two.push(await gen.level({ ...lvl, url: a.url, providerUrl: b.url }));
    }

    // first byte: a provider on B; the consumer on B, then on A
    const dataDir = join(tmp, 'provider-data');
    await mkdir(dataDir, { recursive: true });
    await prepareBlobs(dataDir, [o.latencyBytes], 60_000);
    const pu = await registerUser(a.url, 'cl-agent-provider', 1, [BLOB_TYPE]);
    const cu = await registerUser(a.url, 'cl-agent-consumer', 2);
    const provider = await startProviderProcess({
      server: b.url,
      token: pu.token,
      dataDir,
      transport: 'auto',
    });
    const failures: string[] = [];
    const measure = async (server: ServerProcess, label: string): Promise<LatencySummary> => {
      const consumer = await ConsumerProcess.start({ server: server.url, token: cu.token });
      try {
        const xs: number[] = [];
        for (let i = 0; xs.length < o.latencySamples + 2; i++) {
          if (failures.length > 3) throw new Error(`requests failed: ${failures.join(' · ')}`);
          const out = await mkdtemp(join(tmp, 'recv-'));
          try {
            const r = await consumer.request({ bytes: o.latencyBytes }, out, 'p2p', 60_000);
            if (r.setup_ms === null) throw new Error('no progress reported');
            xs.push(r.setup_ms);
          } catch (err) {
            failures.push(`${label}: ${(err as Error).message}`);
          } finally {
            await rm(out, { recursive: true, force: true });
          }
        }
        return summarize(xs.slice(2)); // the first two warm up
      } finally {
        await consumer.child.stop();
      }
    };
    try {
      o.progress(`cluster: first byte × ${o.latencySamples}, consumer and provider on B`);
      const same = await measure(b, 'same instance');
      o.progress(`cluster: first byte × ${o.latencySamples}, consumer on A, provider on B`);
      const cross = await measure(a, 'across instances');
      return { one, two, first_byte: { same, cross, failures } };
    } finally {
      await provider.stop();
    }
  } finally {
    await Promise.all([gen.stop(), ...servers.map((s) => s.stop())]);
    await pg.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
