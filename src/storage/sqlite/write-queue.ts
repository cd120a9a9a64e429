/**
 * Group commit for SQLite. Two kinds of change reach the file through here, in one `BEGIN IMMEDIATE` …
 * `COMMIT` per batch:
 *
 * - the hot path's log (hot-state.ts): sessions, signals and transfers are decided in memory and answered
 *   at once; what they wrote is applied here, first in the batch, at most {@link WRITE_BEHIND_MS} later
 *   (write-behind);
 * - every other write (users, API keys, catalogs, retention), queued with {@link WriteQueue.write}: once
 *   per event-loop turn (`setImmediate`) the queued writes run in the batch, each inside its own SAVEPOINT
 *   so that one that throws is rolled back alone; a write's promise settles only after the COMMIT
 *   (write-through).
 *
 * Why batches: with WAL and synchronous=NORMAL a commit costs little CPU but a fixed amount of work (WAL
 * frames for every page touched, write calls); under load most changes of one batch touch the same pages,
 * so sharing the commit divides that cost by the batch.
 *
 * A batch that cannot commit (disk full, I/O error) is rolled back: its queued writes are refused with the
 * error, the hot log is kept and tried again {@link RETRY_MS} later — memory stays the truth meanwhile.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { WRITE_BEHIND_MS, type HotState } from './hot-state.js';

interface Pending {
  fn: () => unknown;
  resolve: (v: unknown) => void;
  reject: (err: unknown) => void;
}

/** Wait before trying again a batch whose commit failed. */
export const RETRY_MS = 1000;

export class WriteQueue {
  readonly #raw: BetterSqlite3.Database;
  readonly #hot: HotState | undefined;
  readonly #begin: BetterSqlite3.Statement;
  readonly #commit: BetterSqlite3.Statement;
  readonly #rollback: BetterSqlite3.Statement;
  readonly #savepoint: BetterSqlite3.Statement;
  readonly #release: BetterSqlite3.Statement;
  readonly #rollbackTo: BetterSqlite3.Statement;
  #queue: Pending[] = [];
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Size of the largest batch committed so far (diagnostics). */
  maxBatch = 0;
  /** Why the last batch failed to commit; undefined once one commits again. */
  lastError: unknown;

  /** @param hot the hot path whose log each batch applies first (the signaling server's storage). */
  constructor(raw: BetterSqlite3.Database, hot?: HotState) {
    this.#raw = raw;
    this.#hot = hot;
    this.#begin = raw.prepare('BEGIN IMMEDIATE');
    this.#commit = raw.prepare('COMMIT');
    this.#rollback = raw.prepare('ROLLBACK');
    this.#savepoint = raw.prepare('SAVEPOINT w');
    this.#release = raw.prepare('RELEASE w');
    this.#rollbackTo = raw.prepare('ROLLBACK TO w');
    hot?.attach(
      () => this.#later(WRITE_BEHIND_MS),
      () => this.flush(),
    );
  }

  /** Queues a write; resolves with what `fn` returned once the batch is committed. */
  write<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.#immediate ??= setImmediate(() => this.flush());
    });
  }

  #later(ms: number): void {
    if (this.#timer === undefined && this.#immediate === undefined && this.#raw.open)
      this.#timer = setTimeout(() => this.flush(), ms);
  }

  /** Stops the timers (the database is closing; {@link flush} was called last). */
  stop(): void {
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#immediate = undefined;
    this.#timer = undefined;
  }

  /** Commits what is queued now (also called before the database closes, and before SQL reads). */
  flush(): void {
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#immediate = undefined;
    this.#timer = undefined;
    if (!this.#raw.open) return;
    const batch = this.#queue;
    const hot = this.#hot?.pending === true;
    if (batch.length === 0 && !hot) return;
    this.#queue = [];
    if (batch.length > this.maxBatch) this.maxBatch = batch.length;
    const fail = (err: unknown) => {
      if (this.#raw.inTransaction) this.#rollback.run();
      this.lastError = err;
      for (const p of batch) p.reject(err);
      if (hot) this.#later(RETRY_MS);
    };
    try {
      this.#begin.run();
      if (hot) this.#hot?.apply();
    } catch (err) {
      fail(err);
      return;
    }
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }> = [];
    for (const p of batch) {
      this.#savepoint.run();
      try {
        const value = p.fn();
        this.#release.run();
        outcomes.push({ ok: true, value });
      } catch (err) {
        this.#rollbackTo.run();
        this.#release.run();
        outcomes.push({ ok: false, err });
      }
    }
    try {
      this.#commit.run();
    } catch (err) {
      fail(err);
      return;
    }
    this.lastError = undefined;
    if (hot) this.#hot?.committed();
    batch.forEach((p, i) => {
      const o = outcomes[i];
      if (o === undefined) p.reject(new Error('write queue: lost an outcome'));
      else if (o.ok) p.resolve(o.value);
      else p.reject(o.err);
    });
  }
}

/** Writes through the group-commit queue; reads go straight to the prepared statements. */
export interface QueuedDb {
  /** Wraps `fn` so that each call is queued and runs inside the next batch's transaction. */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): { immediate(...args: A): Promise<R> };
  write<R>(fn: () => R): Promise<R>;
}

/** The repositories' view of a {@link WriteQueue}. */
export function queuedDb(queue: WriteQueue): QueuedDb {
  return {
    transaction: (fn) => ({ immediate: (...args) => queue.write(() => fn(...args)) }),
    write: (fn) => queue.write(fn),
  };
}
