/**
 * Several server instances on one PostgreSQL (docs/architecture.md "Several instances"): the bus is
 * LISTEN/NOTIFY on one channel, and the relay owner of a session is two columns of `ice_sessions`
 * (migration 009) set by one conditional UPDATE.
 *
 * The bus listens on a `pg` client of its own (a pooled connection cannot hold a LISTEN). When that
 * connection drops (PostgreSQL restarts, the network is cut) it connects again by itself with a growing
 * delay, LISTENs again and tells its subscribers (`onReconnect`): what was published meanwhile is lost.
 * Publishing goes through the pool, one NOTIFY after the other, so each instance's messages arrive in the
 * order it published them.
 */
import type { Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from '../schema.js';
import {
  CLUSTER_PAYLOAD_MAX,
  StorageError,
  type ClusterBus,
  type ClusterStorage,
  type RelayOwner,
} from '../types.js';

/** The NOTIFY channel every instance listens on. */
export const CLUSTER_CHANNEL = 'sdrlink_cluster';

const RECONNECT_MIN_MS = 100;
const PUBLISH_TIMEOUT_MS = 5000;

/** `p`, or StorageError('ERR_DB_UNAVAILABLE') after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StorageError('ERR_DB_UNAVAILABLE', `cluster message not sent within ${ms} ms`)),
      ms,
    );
    timer.unref();
  });
  return Promise.race([p.finally(() => clearTimeout(timer)), late]);
}
const RECONNECT_MAX_MS = 2000;

export class PostgresCluster implements ClusterStorage {
  readonly #db: Kysely<Database>;
  readonly #pool: pg.Pool;

  constructor(db: Kysely<Database>, pool: pg.Pool) {
    this.#db = db;
    this.#pool = pool;
  }

  async openBus(): Promise<ClusterBus> {
    const bus = new PostgresBus(this.#pool);
    await bus.start();
    return bus;
  }

  async claimRelayOwner(
    sessionId: string,
    owner: RelayOwner,
    replace?: string,
  ): Promise<RelayOwner | undefined> {
    const set = await this.#db
      .updateTable('ice_sessions')
      .set({ relay_instance: owner.instanceId, relay_url: owner.url })
      .where('session_id', '=', sessionId)
      .where((eb) =>
        replace === undefined
          ? eb('relay_instance', 'is', null)
          : eb.or([eb('relay_instance', 'is', null), eb('relay_instance', '=', replace)]),
      )
      .returning(['relay_instance', 'relay_url'])
      .executeTakeFirst();
    const row =
      set ??
      (await this.#db
        .selectFrom('ice_sessions')
        .select(['relay_instance', 'relay_url'])
        .where('session_id', '=', sessionId)
        .executeTakeFirst());
    if (row === undefined || row.relay_instance === null || row.relay_url === null) return undefined;
    return { instanceId: row.relay_instance, url: row.relay_url };
  }
}

class PostgresBus implements ClusterBus {
  readonly #pool: pg.Pool;
  readonly #messages: Array<(payload: string) => void> = [];
  readonly #reconnects: Array<() => void> = [];
  #client: pg.Client | undefined;
  #closed = false;
  #delay = RECONNECT_MIN_MS;
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<unknown> = Promise.resolve();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** The first connection: a failure here is the caller's (the server does not start). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    const client = new pg.Client(this.#pool.options);
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    client.on('notification', (n) => {
      if (n.channel !== CLUSTER_CHANNEL || n.payload === undefined) return;
      for (const fn of this.#messages) fn(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CLUSTER_CHANNEL}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#delay = RECONNECT_MIN_MS;
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.end().catch(() => undefined);
    this.#retry();
  }

  #retry(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect().then(
        () => {
          if (!this.#closed) for (const fn of this.#reconnects) fn();
        },
        () => {
          this.#delay = Math.min(RECONNECT_MAX_MS, this.#delay * 2);
          this.#retry();
        },
      );
    }, this.#delay);
    this.#timer.unref();
  }

  publish(payload: string): Promise<void> {
    if (Buffer.byteLength(payload) > CLUSTER_PAYLOAD_MAX)
      return Promise.reject(
        new StorageError(
          'ERR_STORAGE',
          `cluster message of ${Buffer.byteLength(payload)} bytes is too large`,
        ),
      );
    // one after the other (each instance's messages arrive in its order); one stuck on a connection that
    // went away stops holding the next ones back after PUBLISH_TIMEOUT_MS
    const sent = this.#sending.then(() =>
      withTimeout(
        this.#pool.query('SELECT pg_notify($1, $2)', [CLUSTER_CHANNEL, payload]),
        PUBLISH_TIMEOUT_MS,
      ),
    );
    this.#sending = sent.catch(() => undefined);
    return sent.then(() => undefined);
  }

  onMessage(fn: (payload: string) => void): void {
    this.#messages.push(fn);
  }

  onReconnect(fn: () => void): void {
    this.#reconnects.push(fn);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const c = this.#client;
    this.#client = undefined;
    await this.#sending;
    if (c !== undefined) await c.end().catch(() => undefined);
  }
}
