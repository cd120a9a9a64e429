/**
 * `SessionRepository` over SQLite: `ice_sessions` with its history, and the `file_transfers` row each
 * session is created with. Claims and transitions go through {@link SessionState}, which signals and
 * transfers share.
 */
import { sql } from 'kysely';
import {
  OPEN_STATUSES,
  StorageError,
  type ClaimRelease,
  type HistoryEntry,
  type NewSession,
  type Outcome,
  type PruneResult,
  type SessionRecord,
  type SessionRepository,
  type SessionStatus,
} from '../types.js';
import { isUniqueViolation, param, prepare, type SqliteHandle } from './database.js';
import type { Database } from '../schema.js';
import { toSession, type SessionRow, type SessionState } from './session-state.js';
import type { QueuedDb } from './write-queue.js';

const n = (name: string) => param<number>(name);
const s = (name: string) => param<string>(name);

function buildQueries({ raw, kysely: k }: SqliteHandle<Database>) {
  const p = <R>(c: Parameters<typeof prepare<R>>[1]) => prepare<R>(raw, c);
  return {
    insertSession: p(
      k
        .insertInto('ice_sessions')
        .values({
          session_id: s('session_id'),
          initiator_user_id: n('initiator_user_id'),
          target_user_id: n('target_user_id'),
          named_user_id: n('target_user_id'),
          initiator_client_type: 2,
          target_client_type: 1,
          status: 'pending',
          request_type: s('request_type'),
          parameters: s('parameters'),
          capabilities: s('capabilities'),
          created_at: s('now'),
          updated_at: s('now'),
        })
        .returningAll()
        .compile(),
    ),
    insertTransfer: p(
      k
        .insertInto('file_transfers')
        .values({
          session_id: s('session_id'),
          file_name: s('file_name'),
          file_size: n('file_size'),
          file_type: s('file_type'),
          request_type: s('request_type'),
          parameters: s('parameters'),
          status: 'pending',
          created_at: s('now'),
          updated_at: s('now'),
        })
        .compile(),
    ),
    // Two searches of the partial index ice_sessions_pending (migration 003), which holds pending sessions
    // only: those named for this provider, and the open ones of the types it serves ('null' = any type).
    // Its condition is literal SQL so it applies; INDEXED BY because, without statistics, the planner
    // would take the full target index, which grows with every session a provider ever had.
    listOpenForProvider: p(
      sql<SessionRow>`SELECT * FROM (
          SELECT * FROM ice_sessions INDEXED BY ice_sessions_pending
            WHERE status = 'pending' AND target_user_id = ${n('provider_id')}
          UNION ALL
          SELECT * FROM ice_sessions INDEXED BY ice_sessions_pending
            WHERE status = 'pending' AND target_user_id IS NULL
            AND (${s('types')} = 'null' OR request_type IN (SELECT value FROM json_each(${s('types')})))
        ) ORDER BY id LIMIT ${n('limit')}`.compile(k),
    ),
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
    countOpenByInitiator: p(
      k
        .selectFrom('ice_sessions')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('initiator_user_id', '=', n('user_id'))
        .where('status', 'in', [...OPEN_STATUSES])
        .compile(),
    ),
    openByStatus: p(
      k
        .selectFrom('ice_sessions')
        .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
        // literal, so the partial index ice_sessions_stale bounds the walk to open sessions (migration 003)
        .where(sql<boolean>`status IN ('pending', 'offered', 'connected', 'transferring')`)
        .groupBy('status')
        .compile(),
    ),
    staleSessions: p(
      k
        .selectFrom('ice_sessions')
        .selectAll()
        // literal, so the partial index ice_sessions_stale applies (migration 003)
        .where(sql<boolean>`status IN ('pending', 'offered', 'connected', 'transferring')`)
        .where('updated_at', '<', s('cutoff'))
        .orderBy('updated_at')
        .limit(n('limit'))
        .compile(),
    ),
    // the release pass (migration 008): literal status, so the partial index ice_sessions_claimed applies
    staleClaims: p(
      sql<SessionRow>`SELECT * FROM ice_sessions INDEXED BY ice_sessions_claimed
        WHERE status = 'offered' AND claimed_at < ${s('cutoff')}
          AND EXISTS (SELECT 1 FROM json_each(capabilities) WHERE value = ${s('capability')})
        ORDER BY claimed_at LIMIT ${n('limit')}`.compile(k),
    ),
    // the released provider counts as having declined the session (a decline it made itself is kept)
    releaseDecline: p(
      k
        .insertInto('session_declines')
        .values({
          session_id: s('session_id'),
          user_id: n('user_id'),
          code: s('code'),
          message: s('message'),
          at: s('at'),
        })
        .onConflict((oc) => oc.columns(['session_id', 'user_id']).doNothing())
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

/** Sessions: creation, the provider's and the user's lists, claims, transitions, expiry. */
export class SqliteSessions implements SessionRepository {
  readonly #q: ReturnType<typeof buildQueries>;
  readonly #state: SessionState;
  readonly #create;
  readonly #claim;
  readonly #transition;
  readonly #expire;
  readonly #release;
  readonly #touch;
  readonly #db: QueuedDb;

  constructor(handle: SqliteHandle<Database>, db: QueuedDb, state: SessionState) {
    const q = buildQueries(handle);
    this.#q = q;
    this.#db = db;
    this.#state = state;
    this.#create = db.transaction((ns: NewSession, now: string) => {
      const row = state.written(
        q.insertSession.get({
          session_id: ns.sessionId,
          initiator_user_id: ns.initiatorUserId,
          target_user_id: ns.targetUserId,
          request_type: ns.requestType,
          parameters: ns.parameters,
          capabilities: JSON.stringify(ns.capabilities),
          now,
        }),
      );
      if (row === undefined)
        throw new StorageError('ERR_STORAGE', 'insert into ice_sessions returned no row');
      q.insertTransfer.run({
        session_id: ns.sessionId,
        file_name: ns.fileName,
        file_size: ns.fileSize,
        file_type: ns.fileType,
        request_type: ns.requestType,
        parameters: ns.parameters,
        now,
      });
      state.recordHistory(ns.sessionId, 'pending', now, ns.initiatorUserId);
      return toSession(row);
    });
    this.#claim = db.transaction((sessionId: string, providerId: number, now: string) =>
      state.claim(sessionId, providerId, now),
    );
    this.#transition = db.transaction(
      (
        sessionId: string,
        from: readonly SessionStatus[],
        to: SessionStatus,
        now: string,
        by: number | null,
        outcome: Outcome | undefined,
      ) => state.transition(sessionId, from, to, now, by, outcome)?.session,
    );
    this.#expire = db.transaction((cutoff: string, now: string, limit: number, why: ExpiryOutcome) => {
      const out: Array<{ session: SessionRecord; previous: SessionStatus }> = [];
      for (const row of q.staleSessions.all({ cutoff, limit })) {
        const before = toSession(row);
        const outcome = why?.(before, before.status);
        const moved = state.transition(row.session_id, OPEN_STATUSES, 'expired', now, null, outcome);
        if (moved !== undefined) out.push(moved);
      }
      return out;
    });
    this.#release = db.transaction((r: ClaimRelease, now: string) => {
      const released = state.release(r, now);
      if (released === undefined) return undefined;
      q.releaseDecline.run({
        session_id: r.sessionId,
        user_id: r.providerId,
        code: r.code,
        message: r.message,
        at: now,
      });
      return released;
    });
    this.#touch = db.transaction((ids: readonly string[], now: string) => {
      for (const id of ids) state.touchOpen(id, now);
    });
  }

  async create(session: NewSession, now: string): Promise<SessionRecord> {
    try {
      return await this.#create.immediate(session, now);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new StorageError('ERR_CONFLICT', `session ${session.sessionId} exists`, { cause: err });
      }
      throw err;
    }
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    return this.#state.get(sessionId);
  }

  async listOpenForProvider(
    providerId: number,
    requestTypes: readonly string[] | null,
    limit: number,
  ): Promise<SessionRecord[]> {
    return this.#q.listOpenForProvider
      .all({ provider_id: providerId, types: JSON.stringify(requestTypes), limit })
      .map(toSession);
  }

  async listForUser(userId: number, limit: number): Promise<SessionRecord[]> {
    return this.#q.listSessionsForUser.all({ user_id: userId, limit }).map(toSession);
  }

  async countOpenByInitiator(userId: number): Promise<number> {
    return this.#q.countOpenByInitiator.get({ user_id: userId })?.n ?? 0;
  }

  async countOpenByStatus(): Promise<Partial<Record<SessionStatus, number>>> {
    const out: Partial<Record<SessionStatus, number>> = {};
    for (const row of this.#q.openByStatus.all()) out[row.status as SessionStatus] = row.n;
    return out;
  }

  async claim(sessionId: string, providerId: number, now: string): Promise<SessionRecord | undefined> {
    return this.#claim.immediate(sessionId, providerId, now);
  }

  async transition(
    sessionId: string,
    from: readonly SessionStatus[],
    to: SessionStatus,
    now: string,
    byUserId: number | null,
    outcome?: Outcome,
  ): Promise<SessionRecord | undefined> {
    return this.#transition.immediate(sessionId, from, to, now, byUserId, outcome);
  }

  async expireStale(
    cutoff: string,
    now: string,
    limit: number,
    outcome?: (session: SessionRecord, previous: SessionStatus) => Outcome,
  ): Promise<Array<{ session: SessionRecord; previous: SessionStatus }>> {
    return this.#expire.immediate(cutoff, now, limit, outcome);
  }

  async staleClaims(claimedBefore: string, capability: string, limit: number): Promise<SessionRecord[]> {
    return this.#q.staleClaims.all({ cutoff: claimedBefore, capability, limit }).map(toSession);
  }

  async releaseClaim(release: ClaimRelease, now: string): Promise<SessionRecord | undefined> {
    return this.#release.immediate(release, now);
  }

  async touch(sessionIds: readonly string[], now: string): Promise<void> {
    if (sessionIds.length > 0) await this.#touch.immediate(sessionIds, now);
  }

  prune(cutoff: string, limit: number): Promise<PruneResult> {
    return this.#db.write(() => {
      const ids = this.#q.prunable.all({ cutoff, limit }).map((r) => r.session_id);
      if (ids.length === 0) return { sessions: 0, signals: 0, history: 0, declines: 0 };
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
    return this.#q.history.all({ session_id: sessionId }).map((r) => ({
      status: r.status as SessionStatus,
      at: r.at,
      byUserId: r.by_user_id,
    }));
  }
}
