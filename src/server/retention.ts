/**
 * Retention (docs/security.md): final sessions older than an age lose their signals and candidates, their
 * status history and their declines; their session and transfer rows stay, so `GET /api/transfers` and
 * `sdrlink history` still list them. The server runs it on a timer (`--retention`, default 30 days) and
 * `sdrlink db prune` runs it once on the database file.
 */
import type { PruneResult, Storage } from '../storage/types.js';

/** Sessions pruned per transaction: short write locks, so a running server keeps answering. */
const BATCH = 500;

/** Totals of one retention pass. */
export type RetentionResult = PruneResult & { cutoff: string };

/**
 * Prunes every final session last changed before `nowMs - olderThanMs`, in batches.
 *
 * @example await pruneFinalSessions(storage, 30 * 86_400_000) // { sessions: 12, signals: 240, … }
 */
export async function pruneFinalSessions(
  storage: Pick<Storage, 'sessions'>,
  olderThanMs: number,
  nowMs: number = Date.now(),
): Promise<RetentionResult> {
  const cutoff = new Date(nowMs - olderThanMs).toISOString();
  const total: RetentionResult = { cutoff, sessions: 0, signals: 0, history: 0, declines: 0 };
  for (;;) {
    const r = await storage.sessions.prune(cutoff, BATCH);
    total.sessions += r.sessions;
    total.signals += r.signals;
    total.history += r.history;
    total.declines += r.declines;
    if (r.sessions < BATCH) return total;
  }
}
