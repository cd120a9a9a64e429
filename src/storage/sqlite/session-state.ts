/**
 * The session row and what moves with it, shared by the sessions, signals and transfers repositories:
 * claiming a session, a status transition (session row, history row, mirrored `file_transfers.status`),
 * and a cache of session rows. Every function here runs inside the caller's write (write-queue.ts).
 */
import { sql, type Selectable } from 'kysely';
import {
  FINAL_STATUSES,
  OPEN_STATUSES,
  type ClaimRelease,
  type Outcome,
  type SessionRecord,
  type SessionStatus,
} from '../types.js';
import { param, prepare, type SqliteHandle } from './database.js';
import type { Database, IceSessionsTable } from '../schema.js';

export type SessionRow = Selectable<IceSessionsTable>;

const SESSION_CACHE_MAX = 20_000;

const n = (name: string) => param<number>(name);
const s = (name: string) => param<string>(name);

function buildQueries({ raw, kysely: k }: SqliteHandle<Database>) {
  const p = <R>(c: Parameters<typeof prepare<R>>[1]) => prepare<R>(raw, c);
  return {
    sessionById: p(
      k.selectFrom('ice_sessions').selectAll().where('session_id', '=', s('session_id')).compile(),
    ),
    claim: p(
      k
        .updateTable('ice_sessions')
        .set({
          target_user_id: n('provider_id'),
          status: 'offered',
          updated_at: s('now'),
          claimed_at: s('now'),
        })
        .where('session_id', '=', s('session_id'))
        .where('status', '=', 'pending')
        .where((eb) => eb.or([eb('target_user_id', 'is', null), eb('target_user_id', '=', n('provider_id'))]))
        .returningAll()
        .compile(),
    ),
    setStatus: p(
      k
        .updateTable('ice_sessions')
        // a claim is "held" only while offered: any move on (connected, final) ends its clock
        .set({ status: s('status'), updated_at: s('now'), claimed_at: null })
        .where('session_id', '=', s('session_id'))
        .where('status', '=', s('from'))
        .returningAll()
        .compile(),
    ),
    // One conditional UPDATE (migration 008): only the claim it was asked about, still offered and old
    // enough, is released — a claim that moved on meanwhile, or a release already done, matches nothing.
    release: p(
      sql<SessionRow>`UPDATE ice_sessions SET status = 'pending',
          target_user_id = named_user_id, claimed_at = NULL, claim_attempt = claim_attempt + 1,
          updated_at = ${s('now')}
        WHERE session_id = ${s('session_id')} AND status = 'offered' AND claim_attempt = ${n('attempt')}
          AND target_user_id = ${n('provider_id')} AND claimed_at < ${s('cutoff')}
        RETURNING *`.compile(k),
    ),
    touchOpen: p(
      k
        .updateTable('ice_sessions')
        .set({ updated_at: s('now') })
        .where('session_id', '=', s('session_id'))
        .where('status', 'in', [...OPEN_STATUSES])
        .returningAll()
        .compile(),
    ),
    insertHistory: p(
      k
        .insertInto('ice_session_history')
        .values({
          session_id: s('session_id'),
          status: s('status'),
          at: s('now'),
          by_user_id: n('by_user_id'),
        })
        .compile(),
    ),
    transferStatus: p(
      k
        .updateTable('file_transfers')
        .set({
          status: s('status'),
          updated_at: s('now'),
          completed_at: sql<
            string | null
          >`CASE WHEN ${n('final')} = 1 THEN COALESCE(completed_at, ${s('now')}) ELSE completed_at END`,
        })
        .where('session_id', '=', s('session_id'))
        .compile(),
    ),
    // The first final word wins (migration 006): a later report or signal does not overwrite the outcome.
    setOutcome: p(
      k
        .updateTable('file_transfers')
        .set({
          error_code: sql<string>`COALESCE(error_code, ${s('code')})`,
          error_message: sql<string>`COALESCE(error_message, ${s('message')})`,
          failed_side: sql<string>`COALESCE(failed_side, ${s('side')})`,
          error: sql<string>`COALESCE(error, ${s('error')})`,
        })
        .where('session_id', '=', s('session_id'))
        .compile(),
    ),
  };
}

/**
 * Session rows are read on every signal (who may signal whom): they are cached here, by session id.
 * Every statement that writes a session row returns it (`RETURNING *`) and refreshes the entry, and only
 * this process writes sessions, so the cache cannot go stale (a failed transaction clears it, see
 * {@link SessionState.forget}). The authoritative checks stay in SQL (a claim is a conditional UPDATE, a
 * signal insert checks the session is open).
 */
export class SessionState {
  readonly #q: ReturnType<typeof buildQueries>;
  readonly #cache = new Map<string, SessionRow>();

  constructor(handle: SqliteHandle<Database>) {
    this.#q = buildQueries(handle);
  }

  /** Drops every cached row: a write that fails may have cached rows it then rolled back. */
  forget(): void {
    this.#cache.clear();
  }

  #remember(row: SessionRow | undefined): SessionRow | undefined {
    if (row !== undefined) {
      if (this.#cache.size >= SESSION_CACHE_MAX) this.#cache.clear();
      this.#cache.set(row.session_id, row);
    }
    return row;
  }

  /** The session row (cached). */
  row(sessionId: string): SessionRow | undefined {
    return this.#cache.get(sessionId) ?? this.#remember(this.#q.sessionById.get({ session_id: sessionId }));
  }

  /** The session as a record, or undefined. */
  get(sessionId: string): SessionRecord | undefined {
    const row = this.row(sessionId);
    return row === undefined ? undefined : toSession(row);
  }

  /** Caches a session row a repository has just written (`RETURNING *`). */
  written(row: SessionRow | undefined): SessionRow | undefined {
    return this.#remember(row);
  }

  /** Appends a history row. */
  recordHistory(sessionId: string, status: SessionStatus, now: string, byUserId: number | null): void {
    this.#q.insertHistory.run({ session_id: sessionId, status, now, by_user_id: byUserId });
  }

  /**
   * Claims a pending session for a provider (pending → offered, target set) with its history row and the
   * mirrored transfer status. Returns the claimed session, or undefined when the claim was lost.
   */
  claim(sessionId: string, providerId: number, now: string): SessionRecord | undefined {
    const row = this.#remember(this.#q.claim.get({ session_id: sessionId, provider_id: providerId, now }));
    if (row === undefined) return undefined;
    this.recordHistory(sessionId, 'offered', now, providerId);
    this.#q.transferStatus.run({ session_id: sessionId, status: 'offered', now, final: 0 });
    return toSession(row);
  }

  /**
   * Releases a stalled claim (offered → pending, target back to the named provider or none, attempt + 1)
   * with its history row (by the server) and the mirrored transfer status. Undefined: the claim moved on.
   */
  release(r: ClaimRelease, now: string): SessionRecord | undefined {
    const row = this.#remember(
      this.#q.release.get({
        session_id: r.sessionId,
        attempt: r.attempt,
        provider_id: r.providerId,
        cutoff: r.claimedBefore,
        now,
      }),
    );
    if (row === undefined) return undefined;
    this.recordHistory(r.sessionId, 'pending', now, null);
    this.#q.transferStatus.run({ session_id: r.sessionId, status: 'pending', now, final: 0 });
    return toSession(row);
  }

  /**
   * Moves a session from one of `from` to `to`: the session row, a history row, the mirrored
   * `file_transfers.status` and, for a final `to`, the `outcome`. Returns the updated session and the
   * previous status.
   */
  transition(
    sessionId: string,
    from: readonly SessionStatus[],
    to: SessionStatus,
    now: string,
    byUserId: number | null,
    outcome?: Outcome,
  ): { session: SessionRecord; previous: SessionStatus } | undefined {
    const before = this.row(sessionId);
    if (before === undefined) return undefined;
    const previous = before.status as SessionStatus;
    if (!from.includes(previous)) return undefined;
    const row = this.#remember(
      this.#q.setStatus.get({ session_id: sessionId, status: to, from: previous, now }),
    );
    if (row === undefined) return undefined;
    this.recordHistory(sessionId, to, now, byUserId);
    this.#q.transferStatus.run({
      session_id: sessionId,
      status: to,
      now,
      final: FINAL_STATUSES.includes(to) ? 1 : 0,
    });
    if (outcome !== undefined && FINAL_STATUSES.includes(to)) this.recordOutcome(sessionId, outcome);
    return { session: toSession(row), previous };
  }

  /** Records why a session ended on its transfer, unless an outcome is recorded already. */
  recordOutcome(sessionId: string, o: Outcome): void {
    this.#q.setOutcome.run({
      session_id: sessionId,
      code: o.code,
      message: o.message,
      side: o.side,
      error: `${o.code}: ${o.message}`,
    });
  }

  /** Sets `updated_at` of a session that is not final; returns the row, or undefined when it is final. */
  touchOpen(sessionId: string, now: string): SessionRow | undefined {
    return this.#remember(this.#q.touchOpen.get({ session_id: sessionId, now }));
  }
}

/** Row → record. */
export function toSession(r: SessionRow): SessionRecord {
  return {
    sessionId: r.session_id,
    initiatorUserId: r.initiator_user_id,
    targetUserId: r.target_user_id,
    requestType: r.request_type,
    parameters: r.parameters,
    status: r.status as SessionStatus,
    capabilities: parseJsonArray(r.capabilities),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    attempt: r.claim_attempt,
    claimedAt: r.claimed_at,
    namedUserId: r.named_user_id,
  };
}

/** A JSON array of strings stored as text (other elements are dropped). */
export function parseJsonArray(text: string): string[] {
  const v: unknown = JSON.parse(text);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
