/**
 * Group commit for SQLite. Every write the server makes (a signal, a claim, a new session, a transition)
 * is queued and, once per event-loop turn (`setImmediate`), all queued writes run in ONE `BEGIN IMMEDIATE`
 * … `COMMIT`, each inside its own SAVEPOINT so that one that throws is rolled back alone. A write's promise
 * settles only after the COMMIT, so nothing is answered or published before it is stored.
 *
 * Why: with WAL and synchronous=NORMAL a commit costs little CPU but a fixed amount of work (WAL frames for
 * every page touched, write calls); under load most requests of one turn touch the same pages, so sharing
 * the commit divides that cost by the batch. Measured with the benchmark's signaling mix (initiate, claim,
 * signals, reads, cancel) it is what lets one core approach 10,000 operations per second.
 *
 * Order: writes run in the order they were queued, and every write runs to completion (synchronously)
 * before the next, so each sees the effects of those before it. Reads are not queued: a read made while a
 * write waits in the queue sees the state before that write — as if it had come first.
 */
import type BetterSqlite3 from 'better-sqlite3';

interface Pending {
  fn: () => unknown;
  resolve: (v: unknown) => void;
  reject: (err: unknown) => void;
}

export class WriteQueue {
  readonly #raw: BetterSqlite3.Database;
  readonly #onRollback: () => void;
  readonly #begin: BetterSqlite3.Statement;
  readonly #commit: BetterSqlite3.Statement;
  readonly #rollback: BetterSqlite3.Statement;
  readonly #savepoint: BetterSqlite3.Statement;
  readonly #release: BetterSqlite3.Statement;
  readonly #rollbackTo: BetterSqlite3.Statement;
  #queue: Pending[] = [];
  #scheduled = false;
  /** Size of the largest batch committed so far (diagnostics). */
  maxBatch = 0;

  /**
   * @param onRollback called when a write (or a whole batch) was rolled back: caches that a rolled-back
   *   statement may have filled must be dropped.
   */
  constructor(raw: BetterSqlite3.Database, onRollback: () => void) {
    this.#raw = raw;
    this.#onRollback = onRollback;
    this.#begin = raw.prepare('BEGIN IMMEDIATE');
    this.#commit = raw.prepare('COMMIT');
    this.#rollback = raw.prepare('ROLLBACK');
    this.#savepoint = raw.prepare('SAVEPOINT w');
    this.#release = raw.prepare('RELEASE w');
    this.#rollbackTo = raw.prepare('ROLLBACK TO w');
  }

  /** Queues a write; resolves with what `fn` returned once the batch is committed. */
  write<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits what is queued now (also called before the database closes). */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    if (batch.length > this.maxBatch) this.maxBatch = batch.length;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }> = [];
    try {
      this.#begin.run();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    let rolledBack = false;
    for (const p of batch) {
      this.#savepoint.run();
      try {
        const value = p.fn();
        this.#release.run();
        outcomes.push({ ok: true, value });
      } catch (err) {
        this.#rollbackTo.run();
        this.#release.run();
        // at once: the writes after this one in the batch must not read what it rolled back
        this.#onRollback();
        rolledBack = true;
        outcomes.push({ ok: false, err });
      }
    }
    try {
      this.#commit.run();
    } catch (err) {
      if (this.#raw.inTransaction) this.#rollback.run();
      this.#onRollback();
      for (const p of batch) p.reject(err);
      return;
    }
    if (rolledBack) this.#onRollback();
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
