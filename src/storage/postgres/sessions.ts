/**
 * `SessionRepository` over PostgreSQL: `ice_sessions` with its history, and the `file_transfers` row each
 * session is created with. Compound changes run in one transaction each; the expiry sweep locks the rows
 * it expires with `FOR UPDATE SKIP LOCKED`, so two servers sweeping at once never expire a session twice.
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
import { newSessionRow, toSession } from '../sqlite/session-state.js';
import { isPgUniqueViolation } from './database.js';
import {
  claimSession,
  readSession,
  recordHistory,
  releaseSession,
  transitionSession,
  type Db,
  type SessionRow,
} from './session-rows.js';

const OPEN_SQL = sql.raw(`('pending', 'offered', 'connected', 'transferring')`);

/** Sessions: creation, the provider's and the user's lists, claims, transitions, expiry. */
export class PostgresSessions implements SessionRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async create(ns: NewSession, now: string): Promise<SessionRecord> {
    try {
      return await this.#db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('ice_sessions')
          .values(newSessionRow(ns, now))
          .returningAll()
          .executeTakeFirstOrThrow();
        await trx
          .insertInto('file_transfers')
          .values({
            session_id: ns.sessionId,
            file_name: ns.fileName,
            file_size: ns.fileSize,
            file_type: ns.fileType,
            request_type: ns.requestType,
            parameters: ns.parameters,
            status: 'pending',
            created_at: now,
            updated_at: now,
          })
          .execute();
        await recordHistory(trx, ns.sessionId, 'pending', now, ns.initiatorUserId);
        return toSession(row);
      });
    } catch (err) {
      if (isPgUniqueViolation(err))
        throw new StorageError('ERR_CONFLICT', `session ${ns.sessionId} exists`, { cause: err });
      throw err;
    }
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    const row = await readSession(this.#db, sessionId);
    return row === undefined ? undefined : toSession(row);
  }

  async listOpenForProvider(
    providerId: number,
    requestTypes: readonly string[] | null,
    limit: number,
  ): Promise<SessionRecord[]> {
    const anyType = requestTypes === null;
    const types = [...(requestTypes ?? [])];
    // the condition `status = 'pending'` is literal, so the partial index ice_sessions_pending applies
    const r = await sql<SessionRow>`SELECT * FROM ice_sessions WHERE status = 'pending'
        AND (target_user_id = ${providerId}
          OR (target_user_id IS NULL AND (${anyType}::boolean OR request_type = ANY(${types}::text[]))))
        ORDER BY id LIMIT ${limit}`.execute(this.#db);
    return r.rows.map(toSession);
  }

  async listForUser(userId: number, limit: number): Promise<SessionRecord[]> {
    const rows = await this.#db
      .selectFrom('ice_sessions')
      .selectAll()
      .where((eb) => eb.or([eb('initiator_user_id', '=', userId), eb('target_user_id', '=', userId)]))
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toSession);
  }

  async countOpenByInitiator(userId: number): Promise<number> {
    const row = await this.#db
      .selectFrom('ice_sessions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('initiator_user_id', '=', userId)
      .where('status', 'in', [...OPEN_STATUSES])
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async countOpenByStatus(): Promise<Partial<Record<SessionStatus, number>>> {
    const r = await sql<{ status: string; n: number }>`SELECT status, COUNT(*) AS n FROM ice_sessions
      WHERE status IN ${OPEN_SQL} GROUP BY status`.execute(this.#db);
    const out: Partial<Record<SessionStatus, number>> = {};
    for (const row of r.rows) out[row.status as SessionStatus] = Number(row.n);
    return out;
  }

  claim(sessionId: string, providerId: number, now: string): Promise<SessionRecord | undefined> {
    return this.#db.transaction().execute((trx) => claimSession(trx, sessionId, providerId, now));
  }

  async transition(
    sessionId: string,
    from: readonly SessionStatus[],
    to: SessionStatus,
    now: string,
    byUserId: number | null,
    outcome?: Outcome,
  ): Promise<SessionRecord | undefined> {
    const moved = await this.#db
      .transaction()
      .execute((trx) => transitionSession(trx, sessionId, from, to, now, byUserId, outcome));
    return moved?.session;
  }

  expireStale(
    cutoff: string,
    now: string,
    limit: number,
    outcome?: (session: SessionRecord, previous: SessionStatus) => Outcome,
  ): Promise<Array<{ session: SessionRecord; previous: SessionStatus }>> {
    return this.#db.transaction().execute(async (trx) => {
      // rows another server is expiring right now are skipped, not waited for (nor expired twice)
      const stale = await sql<SessionRow>`SELECT * FROM ice_sessions
        WHERE status IN ${OPEN_SQL} AND updated_at COLLATE "C" < ${cutoff}
        ORDER BY updated_at COLLATE "C" LIMIT ${limit} FOR UPDATE SKIP LOCKED`.execute(trx);
      const out: Array<{ session: SessionRecord; previous: SessionStatus }> = [];
      for (const row of stale.rows) {
        const before = toSession(row);
        const why = outcome?.(before, before.status);
        const moved = await transitionSession(trx, row.session_id, OPEN_STATUSES, 'expired', now, null, why);
        if (moved !== undefined) out.push(moved);
      }
      return out;
    });
  }

  async staleClaims(claimedBefore: string, capability: string, limit: number): Promise<SessionRecord[]> {
    const r = await sql<SessionRow>`SELECT * FROM ice_sessions
      WHERE status = 'offered' AND claimed_at COLLATE "C" < ${claimedBefore}
        AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(capabilities::jsonb) AS c(v) WHERE c.v = ${capability})
      ORDER BY claimed_at COLLATE "C" LIMIT ${limit}`.execute(this.#db);
    return r.rows.map(toSession);
  }

  releaseClaim(release: ClaimRelease, now: string): Promise<SessionRecord | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const released = await releaseSession(trx, release, now);
      if (released === undefined) return undefined;
      // the released provider counts as having declined the session (a decline it made itself is kept)
      await trx
        .insertInto('session_declines')
        .values({
          session_id: release.sessionId,
          user_id: release.providerId,
          code: release.code,
          message: release.message,
          at: now,
        })
        .onConflict((oc) => oc.columns(['session_id', 'user_id']).doNothing())
        .execute();
      return released;
    });
  }

  async touch(sessionIds: readonly string[], now: string): Promise<void> {
    if (sessionIds.length === 0) return;
    await sql`UPDATE ice_sessions SET updated_at = ${now}
      WHERE session_id = ANY(${[...sessionIds]}::text[]) AND status IN ${OPEN_SQL}`.execute(this.#db);
  }

  async history(sessionId: string): Promise<HistoryEntry[]> {
    const rows = await this.#db
      .selectFrom('ice_session_history')
      .select(['status', 'at', 'by_user_id'])
      .where('session_id', '=', sessionId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ status: r.status as SessionStatus, at: r.at, byUserId: r.by_user_id }));
  }

  prune(cutoff: string, limit: number): Promise<PruneResult> {
    return this.#db.transaction().execute(async (trx) => {
      const found = await sql<{ session_id: string }>`SELECT session_id FROM ice_sessions x
        WHERE status IN ('completed', 'failed', 'expired', 'cancelled') AND updated_at COLLATE "C" < ${cutoff}
        AND (EXISTS (SELECT 1 FROM ice_session_history h WHERE h.session_id = x.session_id)
          OR EXISTS (SELECT 1 FROM ice_candidates c WHERE c.session_id = x.session_id))
        LIMIT ${limit}`.execute(trx);
      const ids = found.rows.map((r) => r.session_id);
      if (ids.length === 0) return { sessions: 0, signals: 0, history: 0, declines: 0 };
      const del = async (table: 'ice_candidates' | 'ice_session_history' | 'session_declines') =>
        Number(
          (await trx.deleteFrom(table).where('session_id', 'in', ids).executeTakeFirst()).numDeletedRows,
        );
      return {
        sessions: ids.length,
        signals: await del('ice_candidates'),
        history: await del('ice_session_history'),
        declines: await del('session_declines'),
      };
    });
  }
}
