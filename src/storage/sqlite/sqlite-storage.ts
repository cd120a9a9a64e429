/**
 * The signaling server's {@link Storage} over SQLite: one repository per table group (users.ts,
 * sessions.ts, signals.ts, transfers.ts, api-keys.ts, catalogs.ts), sharing the hot path in memory
 * (hot-state.ts: open sessions, their signals and transfers, written behind) and one group-commit write
 * queue (write-queue.ts). Every statement is compiled from Kysely once and prepared
 * once; better-sqlite3 runs them synchronously, so each repository call is one short critical section,
 * and compound writes run in `BEGIN IMMEDIATE` transactions.
 */
import { SIGNALING_MIGRATIONS } from '../migrations/index.js';
import { StorageError } from '../types.js';
import type {
  ApiKeyRepository,
  CatalogRepository,
  SessionRepository,
  SignalRepository,
  Storage,
  TransferRepository,
  UserRepository,
} from '../types.js';
import { SqliteApiKeys } from './api-keys.js';
import { SqliteCatalogs } from './catalogs.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { openSqlite, type SqliteHandle } from './database.js';
import type { Database } from '../schema.js';
import { SqliteSessions } from './sessions.js';
import { HotState } from './hot-state.js';
import { SqliteSignals } from './signals.js';
import { SqliteTransfers } from './transfers.js';
import { SqliteUsers } from './users.js';
import { WriteQueue, queuedDb } from './write-queue.js';

/** Options of {@link createSqliteStorage}. */
export interface SqliteStorageOptions {
  /** Checkpoint the WAL from a worker thread instead of inside commits (long-running servers). */
  backgroundCheckpoint?: boolean;
}

/** Opens a SQLite file (or `:memory:`), migrated to the signaling schema, as {@link Storage}. */
export function createSqliteStorage(path: string, options: SqliteStorageOptions = {}): Storage {
  const handle = openSqlite<Database>(path, SIGNALING_MIGRATIONS);
  const checkpointer =
    options.backgroundCheckpoint === true && handle.location !== ':memory:'
      ? startCheckpointer(handle.raw, handle.location)
      : undefined;
  return new SqliteStorage(handle, checkpointer);
}

class SqliteStorage implements Storage {
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly signals: SignalRepository;
  readonly transfers: TransferRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly catalogs: CatalogRepository;
  readonly location: string;
  readonly kind = 'sqlite';
  #handle: SqliteHandle<Database>;
  #checkpointer: Checkpointer | undefined;
  #queue: WriteQueue;
  #hot: HotState;

  constructor(handle: SqliteHandle<Database>, checkpointer: Checkpointer | undefined) {
    this.#handle = handle;
    this.#checkpointer = checkpointer;
    this.location = handle.location;
    // open sessions, their signals and transfers in memory; the file is written behind (hot-state.ts)
    const hot = new HotState(handle);
    this.#queue = new WriteQueue(handle.raw, hot);
    this.#hot = hot;
    const db = queuedDb(this.#queue);
    this.users = new SqliteUsers(handle, db);
    this.sessions = new SqliteSessions(handle, db, hot);
    this.signals = new SqliteSignals(hot);
    this.transfers = new SqliteTransfers(handle, hot);
    this.apiKeys = new SqliteApiKeys(handle, db);
    this.catalogs = new SqliteCatalogs(handle, db, hot);
  }

  async sync(): Promise<void> {
    if (!this.#handle.raw.open) return;
    this.#hot.sync();
    if (this.#hot.pending) throw this.#queue.lastError;
  }

  async close(): Promise<void> {
    if (!this.#handle.raw.open) return;
    this.#queue.flush();
    this.#queue.stop();
    // the last batch could not commit: close anyway (the process is ending), but say what was lost
    const lost = this.#hot.pending ? this.#queue.lastError : undefined;
    if (this.#checkpointer !== undefined) {
      // the server leaves a clean file; a short-lived user (`sdrlink user add` beside a running server)
      // does not: a TRUNCATE checkpoint would hold the server's writers while it waits
      await this.#checkpointer.stop();
      try {
        this.#handle.raw.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // another process holds the database; the last one to close checkpoints
      }
    }
    this.#handle.raw.close();
    if (lost !== undefined)
      throw new StorageError(
        'ERR_STORAGE',
        `could not write the last changes to ${this.location}: ${lost instanceof Error ? lost.message : String(lost)}`,
        { cause: lost },
      );
  }
}
