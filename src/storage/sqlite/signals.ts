/**
 * `SignalRepository` over SQLite: `ice_candidates` (the seed's table holds every signal).
 *
 * Signals are the hot path (docs/api.md §2): a post is decided in memory (hot-state.ts) — the session
 * open, the claim won, the failure recorded — and answered at once; the row is written behind, in the
 * next batch. A participant's inbox is read from memory too (older signals than memory keeps, from SQL).
 */
import {
  OPEN_STATUSES,
  type NewSignal,
  type PostSignalOptions,
  type PostSignalResult,
  type SessionRecord,
  type SignalRecord,
  type SignalRepository,
} from '../types.js';
import type { HotState } from './hot-state.js';

/** Signals: posting (optionally claiming or failing the session) and reading those addressed to a user. */
export class SqliteSignals implements SignalRepository {
  readonly #hot: HotState;

  constructor(hot: HotState) {
    this.#hot = hot;
  }

  #refused(reason: 'claim-lost' | 'final', sessionId: string): PostSignalResult {
    return { ok: false, reason, session: this.#hot.get(sessionId) };
  }

  async post(sig: NewSignal, now: string, options: PostSignalOptions = {}): Promise<PostSignalResult> {
    const hot = this.#hot;
    const e = hot.entry(sig.sessionId);
    if (e === undefined) return this.#refused('final', sig.sessionId);
    let session: SessionRecord | null = null;
    let claimed = false;
    let statusChanged = false;
    if (options.claim === true) {
      const won = hot.claim(sig.sessionId, sig.fromUserId, now);
      if (won === undefined) return this.#refused('claim-lost', sig.sessionId);
      session = won;
      claimed = true;
      statusChanged = true;
    }
    if (options.fail === true) {
      const moved = hot.transition(
        sig.sessionId,
        OPEN_STATUSES,
        'failed',
        now,
        sig.fromUserId,
        options.outcome,
      );
      if (moved === undefined) return this.#refused('final', sig.sessionId);
      session = moved.session;
      statusChanged = true;
    } else if (!(OPEN_STATUSES as readonly string[]).includes(e.row.status)) {
      return this.#refused('final', sig.sessionId);
    }
    const signal = hot.addSignal(e, sig, now);
    return { ok: true, signal, session, claimed, statusChanged };
  }

  async listFor(
    sessionId: string,
    toUserId: number,
    afterId: number,
    limit: number,
  ): Promise<SignalRecord[]> {
    return this.#hot.signalsFor(sessionId, toUserId, afterId, limit);
  }
}
