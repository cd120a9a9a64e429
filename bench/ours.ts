/**
 * Our system for the benchmark, every party in its own process: the signaling server (SQLite in a
 * temporary folder), one provider and one consumer user, a provider process and a warm consumer process.
 * Started lazily and once per run; a failure to start is remembered, so every part that needs it reports
 * the same "skipped: <reason>".
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Child } from './child.js';
import { BLOB_TYPE } from './blob-dataset.js';
import {
  ConsumerProcess,
  prepareBlobs,
  processStats,
  startProviderProcess,
  type ConsumerResult,
  type TransportChoice,
} from './agent-process.js';
import { registerUser, startServer, type BenchUser, type ServerProcess } from './server-process.js';

/** A part of the benchmark cannot run: shown as "skipped: <reason>". */
export class SkipError extends Error {
  override name = 'SkipError';
}

export class OursEnv {
  readonly server: ServerProcess;
  readonly providerUser: BenchUser;
  readonly consumerUser: BenchUser;
  readonly dataDir: string;
  readonly #tmp: string;
  readonly #prepared = new Set<number>();
  #provider: { child: Child; transport: TransportChoice } | undefined;
  #consumer: ConsumerProcess | undefined;

  private constructor(tmp: string, server: ServerProcess, p: BenchUser, c: BenchUser) {
    this.#tmp = tmp;
    this.server = server;
    this.providerUser = p;
    this.consumerUser = c;
    this.dataDir = join(tmp, 'provider-data');
  }

  static async start(tmp: string): Promise<OursEnv> {
    let server: ServerProcess;
    try {
      server = await startServer(join(tmp, 'bench.sqlite'));
    } catch (err) {
      throw new SkipError(`signaling server unavailable: ${(err as Error).message}`);
    }
    try {
      const p = await registerUser(server.url, 'bench-provider', 1, [BLOB_TYPE]);
      const c = await registerUser(server.url, 'bench-consumer', 2);
      const env = new OursEnv(tmp, server, p, c);
      await mkdir(env.dataDir, { recursive: true });
      return env;
    } catch (err) {
      await server.stop();
      throw new SkipError(`server API not usable: ${(err as Error).message}`);
    }
  }

  /** Generates blob files of these sizes into the provider's cache (once each). */
  async prepare(sizes: number[]): Promise<void> {
    const todo = sizes.filter((s) => !this.#prepared.has(s));
    if (todo.length === 0) return;
    const total = todo.reduce((a, b) => a + b, 0);
    await prepareBlobs(this.dataDir, todo, 60_000 + total / 20_000);
    for (const s of todo) this.#prepared.add(s);
  }

  /** The running provider process for `transport` (another one is stopped first). */
  async provider(transport: TransportChoice): Promise<Child> {
    if (this.#provider?.transport === transport) return this.#provider.child;
    await this.stopProvider();
    const child = await startProviderProcess({
      server: this.server.url,
      token: this.providerUser.token,
      dataDir: this.dataDir,
      transport,
    });
    this.#provider = { child, transport };
    return child;
  }

  async consumer(): Promise<ConsumerProcess> {
    this.#consumer ??= await ConsumerProcess.start({
      server: this.server.url,
      token: this.consumerUser.token,
    });
    return this.#consumer;
  }

  /** One `requestFile` for a blob of `bytes`, into a fresh folder removed afterwards. */
  async request(
    consumer: ConsumerProcess,
    bytes: number,
    transport: TransportChoice,
  ): Promise<ConsumerResult> {
    const out = await mkdtemp(join(this.#tmp, 'recv-'));
    try {
      return await consumer.request({ bytes }, out, transport, 60_000 + bytes / 2_000);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }

  async stopProvider(): Promise<void> {
    const p = this.#provider;
    this.#provider = undefined;
    await p?.child.stop();
  }

  async stopAgents(): Promise<void> {
    const c = this.#consumer;
    this.#consumer = undefined;
    await Promise.all([this.stopProvider(), c?.child.stop()]);
  }

  async stop(): Promise<void> {
    await this.stopAgents();
    await this.server.stop();
  }
}

export { processStats };
