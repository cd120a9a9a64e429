/**
 * `SessionRepository` over SQLite: `ice_sessions` with its history, and the `file_transfers` row each
 * session is created with. Creation, claims, transitions and the open lists are decided in memory
 * (hot-state.ts, shared with signals and transfers) and written behind.
 */
import { sql } from 'kysely';
import {
  OPEN_STATUSES,
  type ClaimRelease,
  type HistoryEntry,
  type NewSession,
  type Outcome,
  type PruneResult,
  type SessionRecord,
  type SessionRepository,
  type SessionStatus,
} from '../types.js';
import { param, prepare, type SqliteHandle } from './database.js';
import type { Database } from '../schema.js';
import type { HotState } from './hot-state.js';
import { toSession } from './session-state.js';
import type { QueuedDb } from './write-queue.js';

const n = (name: string) => param<number>(name);
const s = (name: string) => param<string>(name);

function buildQueries({ raw, kysely: k }: SqliteHandle<Database>) {
  const p = <R>(c: Parameters<typeof prepare<R>>[1]) => prepare<R>(raw, c);
  return {
    listSessionsForUser: p(
      k
        .selectFrom('ice_sessions')
        .selectAll()
        .where((eb) =>
          eb.or([eb('initiator_user_id', '=', n('user_id')), eb('target_user_id', '=', n('user_id'))]),
        )
        .orderBy('id', 'desc')
        .limit(n('limit'))
        .compile(),
    ),
    // retention: final sessions past the cutoff that still hold rows to delete (history always has the
    // creation entry until pruned), through the (status, updated_at) index
    prunable: p(
      sql<{ session_id: string }>`SELECT session_id FROM ice_sessions
        WHERE status IN ('completed', 'failed', 'expired', 'cancelled') AND updated_at < ${s('cutoff')}
        AND (EXISTS (SELECT 1 FROM ice_session_history h WHERE h.session_id = ice_sessions.session_id)
          OR EXISTS (SELECT 1 FROM ice_candidates c WHERE c.session_id = ice_sessions.session_id))
        LIMIT ${n('limit')}`.compile(k),
    ),
    pruneSignals: p(
      sql`DELETE FROM ice_candidates WHERE session_id IN (SELECT value FROM json_each(${s('ids')}))`.compile(
        k,
      ),
    ),
    pruneHistory: p(
      sql`DELETE FROM ice_session_history WHERE session_id IN (SELECT value FROM json_each(${s('ids')}))`.compile(
        k,
      ),
    ),
    pruneDeclines: p(
      sql`DELETE FROM session_declines WHERE session_id IN (SELECT value FROM json_each(${s('ids')}))`.compile(
        k,
      ),
    ),
    history: p(
      k
        .selectFrom('ice_session_history')
        .select(['status', 'at', 'by_user_id'])
        .where('session_id', '=', s('session_id'))
        .orderBy('id')
        .compile(),
    ),
  };
}

type ExpiryOutcome = ((session: SessionRecord, previous: SessionStatus) => Outcome) | undefined;

/**
 * Sessions: creation, the provider's and the user's lists, claims, transitions, expiry. Open sessions are
 * decided and served in memory ({@link HotState}); a user's list, history and retention are SQL, read
 * once the hot log is committed.
 */
export class SqliteSessions implements SessionRepository {
  readonly #q: ReturnType<typeof buildQueries>;
  readonly #hot: HotState;
  readonly #db: QueuedDb;

  constructor(handle: SqliteHandle<Database>, db: QueuedDb, hot: HotState) {
    this.#q = buildQueries(handle);
    this.#db = db;
    this.#hot = hot;
  }

  async create(session: NewSession, now: string): Promise<SessionRecord> {
    return this.#hot.create(session, now);
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    return this.#hot.get(sessionId);
  }

  async listOpenForProvider(
    providerId: number,
    requestTypes: readonly string[] | null,
    limit: number,
  ): Promise<SessionRecord[]> {
    return this.#hot.listOpenForProvider(providerId, requestTypes, limit);
  }

  async listForUser(userId: number, limit: number): Promise<SessionRecord[]> {
    this.#hot.sync();
    return this.#q.listSessionsForUser.all({ user_id: userId, limit }).map(toSession);
  }

  async countOpenByInitiator(userId: number): Promise<number> {
    return this.#hot.countOpenByInitiator(userId);
  }

  async countOpenByStatus(): Promise<Partial<Record<SessionStatus, number>>> {
    return this.#hot.countOpenByStatus();
  }

  async claim(sessionId: string, providerId: number, now: string): Promise<SessionRecord | undefined> {
    return this.#hot.claim(sessionId, providerId, now);
  }

  async transition(
    sessionId: string,
    from: readonly SessionStatus[],
    to: SessionStatus,
    now: string,
    byUserId: number | null,
    outcome?: Outcome,
  ): Promise<SessionRecord | undefined> {
    return this.#hot.transition(sessionId, from, to, now, byUserId, outcome)?.session;
  }

  async expireStale(
    cutoff: string,
    now: string,
    limit: number,
    outcome?: ExpiryOutcome,
  ): Promise<Array<{ session: SessionRecord; previous: SessionStatus }>> {
    const out: Array<{ session: SessionRecord; previous: SessionStatus }> = [];
    for (const before of this.#hot.stale(cutoff, limit)) {
      const why = outcome?.(before, before.status);
      const moved = this.#hot.transition(before.sessionId, OPEN_STATUSES, 'expired', now, null, why);
      if (moved !== undefined) out.push(moved);
    }
    return out;
  }

  async staleClaims(claimedBefore: string, capability: string, limit: number): Promise<SessionRecord[]> {
    return this.#hot.staleClaims(claimedBefore, capability, limit);
  }

  async releaseClaim(release: ClaimRelease, now: string): Promise<SessionRecord | undefined> {
    return this.#hot.release(release, now);
  }

  async touch(sessionIds: readonly string[], now: string): Promise<void> {
    for (const id of sessionIds) this.#hot.touchOpen(id, now);
  }

  prune(cutoff: string, limit: number): Promise<PruneResult> {
    // a queued write: its batch applies the hot log first
    return this.#db.write(() => {
      const ids = this.#q.prunable.all({ cutoff, limit }).map((r) => r.session_id);
      if (ids.length === 0) return { sessions: 0, signals: 0, history: 0, declines: 0 };
      this.#hot.forgetFinal(ids);
      const json = JSON.stringify(ids);
      return {
        sessions: ids.length,
        signals: this.#q.pruneSignals.run({ ids: json }).changes,
        history: this.#q.pruneHistory.run({ ids: json }).changes,
        declines: this.#q.pruneDeclines.run({ ids: json }).changes,
      };
    });
  }

  async history(sessionId: string): Promise<HistoryEntry[]> {
    this.#hot.sync();
    return this.#q.history.all({ session_id: sessionId }).map((r) => ({
      status: r.status as SessionStatus,
      at: r.at,
      byUserId: r.by_user_id,
    }));
  }
}
