/**
 * WAL checkpoints off the request path. By default SQLite checkpoints inside whichever commit crosses
 * 1000 WAL pages, with fsyncs (synchronous=NORMAL syncs at checkpoints): on the server's only thread
 * that is a stall of milliseconds every few hundred signals. Instead the server's connection never
 * auto-checkpoints and a worker thread checkpoints every 50 ms (measured with the storage alone, a plain
 * signal insert: 54 µs → 35 µs per operation). Every 50 ms rather than 250: with the hot path's batches
 * (one commit per 10 ms, hot-state.ts) a checkpoint then finds the WAL fully copied between two batches,
 * so SQLite rewinds it; at 250 ms it grew past the truncate limit below several times a second and the
 * server's own thread truncated it, stalls that made the benchmark's paced p99 (57.7 → 45.5 ms with this
 * and a 128 MiB limit, same machine). Should the worker fail, automatic checkpoints come back.
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

export interface Checkpointer {
  stop(): Promise<void>;
}

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Starts background checkpointing for a file database opened in WAL mode. */
export function startCheckpointer(
  raw: BetterSqlite3.Database,
  path: string,
  intervalMs = 50,
  truncateAboveBytes = 128 * 1024 * 1024,
): Checkpointer {
  raw.pragma('wal_autocheckpoint = 0');
  // the WAL file is reused after each checkpoint; cap what stays on disk
  raw.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  const worker = new Worker(new URL(`./checkpoint-worker${EXT}`, import.meta.url), {
    workerData: { path, intervalMs },
  });
  worker.unref();
  let fallback = false;
  const fallBack = () => {
    if (fallback || !raw.open) return;
    fallback = true;
    raw.pragma('wal_autocheckpoint = 1000');
  };
  worker.on('error', fallBack);
  worker.on('message', (m: { type?: string }) => {
    if (m.type === 'error') fallBack();
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.once('exit', fallBack);
  // Under a steady stream of commits a PASSIVE checkpoint never finds the WAL idle, so SQLite never
  // rewinds it: the file would grow without bound. Once it passes the limit, the server's connection
  // checkpoints with TRUNCATE — by then the worker has copied nearly every frame, so this is short.
  const walPath = `${path}-wal`;
  const sizer = setInterval(
    () => {
      try {
        if (raw.open && statSync(walPath).size > truncateAboveBytes) raw.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // no WAL file yet, or busy: next time
      }
    },
    Math.max(intervalMs, 200),
  );
  sizer.unref();
  return {
    async stop() {
      clearInterval(sizer);
      worker.postMessage('stop');
      const t = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(t);
    },
  };
}
