/**
 * Runs in a worker thread (see checkpointer.ts): its own connection to the database checkpoints the WAL
 * every `intervalMs` (PASSIVE: never waits for, nor blocks, the server's connection), so the fsyncs a
 * checkpoint needs happen off the server's event loop.
 */
import BetterSqlite3 from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new BetterSqlite3(path);
db.pragma('busy_timeout = 1000');
db.pragma('synchronous = NORMAL');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort?.postMessage({ type: 'error', message: (err as Error).message });
  }
}, intervalMs);
parentPort?.on('message', (m: unknown) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
