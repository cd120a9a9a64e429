/**
 * The session row and what moves with it on PostgreSQL, shared by the sessions, signals and transfers
 * repositories (as src/storage/sqlite/session-state.ts is on SQLite): a claim, a status transition
 * (session row, history row, mirrored `file_transfers.status`, outcome), a release. Each runs inside the
 * caller's transaction. There is no session cache here: several servers may share the database, so the
 * row is read (and locked, `FOR UPDATE`, before a transition) where it is needed.
 *
 * Text comparisons of times use `COLLATE "C"`: ISO-8601 strings sort as bytes, whatever the database's
 * default collation is.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import {
  FINAL_STATUSES,
  OPEN_STATUSES,
  type ClaimRelease,
  type Outcome,
  type SessionRecord,
  type SessionStatus,
} from '../types.js';
import type { Database, IceSessionsTable } from '../schema.js';
import { toSession } from '../sqlite/session-state.js';

export type SessionRow = Selectable<IceSessionsTable>;
export type Db = Kysely<Database>;

/** The session row, locked until the transaction ends (`FOR UPDATE`); undefined: no such session. */
export async function lockSession(db: Db, sessionId: string): Promise<SessionRow | undefined> {
  return db
    .selectFrom('ice_sessions')
    .selectAll()
    .where('session_id', '=', sessionId)
    .forUpdate()
    .executeTakeFirst();
}

/** The session row, unlocked. */
export async function readSession(db: Db, sessionId: string): Promise<SessionRow | undefined> {
  return db.selectFrom('ice_sessions').selectAll().where('session_id', '=', sessionId).executeTakeFirst();
}

export async function recordHistory(
  db: Db,
  sessionId: string,
  status: SessionStatus,
  now: string,
  byUserId: number | null,
): Promise<void> {
  await db
    .insertInto('ice_session_history')
    .values({ session_id: sessionId, status, at: now, by_user_id: byUserId })
    .execute();
}

async function transferStatus(db: Db, sessionId: string, status: SessionStatus, now: string): Promise<void> {
  const final = FINAL_STATUSES.includes(status);
  await db
    .updateTable('file_transfers')
    .set({
      status,
      updated_at: now,
      ...(final ? { completed_at: sql<string>`COALESCE(completed_at, ${now})` } : {}),
    })
    .where('session_id', '=', sessionId)
    .execute();
}

/** Records why a session ended on its transfer, unless an outcome is recorded already. */
export async function recordOutcome(db: Db, sessionId: string, o: Outcome): Promise<void> {
  await db
    .updateTable('file_transfers')
    .set({
      error_code: sql<string>`COALESCE(error_code, ${o.code})`,
      error_message: sql<string>`COALESCE(error_message, ${o.message})`,
      failed_side: sql<string>`COALESCE(failed_side, ${o.side})`,
      error: sql<string>`COALESCE(error, ${`${o.code}: ${o.message}`})`,
    })
    .where('session_id', '=', sessionId)
    .execute();
}

/**
 * Claims a pending session for a provider: one conditional UPDATE … RETURNING (a second claimant blocks on
 * the row, then finds it no longer pending), its history row and the mirrored transfer status.
 */
export async function claimSession(
  db: Db,
  sessionId: string,
  providerId: number,
  now: string,
): Promise<SessionRecord | undefined> {
  const row = await db
    .updateTable('ice_sessions')
    .set({ target_user_id: providerId, status: 'offered', updated_at: now, claimed_at: now })
    .where('session_id', '=', sessionId)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('target_user_id', 'is', null), eb('target_user_id', '=', providerId)]))
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) return undefined;
  await recordHistory(db, sessionId, 'offered', now, providerId);
  await transferStatus(db, sessionId, 'offered', now);
  return toSession(row);
}

/** Releases a stalled claim (one conditional UPDATE), with its history row and the transfer status. */
export async function releaseSession(
  db: Db,
  r: ClaimRelease,
  now: string,
): Promise<SessionRecord | undefined> {
  const rows = await sql<SessionRow>`UPDATE ice_sessions SET status = 'pending',
      target_user_id = named_user_id, claimed_at = NULL, claim_attempt = claim_attempt + 1, updated_at = ${now}
    WHERE session_id = ${r.sessionId} AND status = 'offered' AND claim_attempt = ${r.attempt}
      AND target_user_id = ${r.providerId} AND claimed_at COLLATE "C" < ${r.claimedBefore}
    RETURNING *`.execute(db);
  const row = rows.rows[0];
  if (row === undefined) return undefined;
  await recordHistory(db, r.sessionId, 'pending', now, null);
  await transferStatus(db, r.sessionId, 'pending', now);
  return toSession(row);
}

/**
 * Moves a session from one of `from` to `to`, the row locked first: the session row, a history row, the
 * mirrored transfer status and, for a final `to`, the outcome.
 */
export async function transitionSession(
  db: Db,
  sessionId: string,
  from: readonly SessionStatus[],
  to: SessionStatus,
  now: string,
  byUserId: number | null,
  outcome?: Outcome,
): Promise<{ session: SessionRecord; previous: SessionStatus } | undefined> {
  const before = await lockSession(db, sessionId);
  if (before === undefined) return undefined;
  const previous = before.status as SessionStatus;
  if (!from.includes(previous)) return undefined;
  const row = await db
    .updateTable('ice_sessions')
    // a claim is "held" only while offered: any move on (connected, final) ends its clock
    .set({ status: to, updated_at: now, claimed_at: null })
    .where('session_id', '=', sessionId)
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) return undefined;
  await recordHistory(db, sessionId, to, now, byUserId);
  await transferStatus(db, sessionId, to, now);
  if (outcome !== undefined && FINAL_STATUSES.includes(to)) await recordOutcome(db, sessionId, outcome);
  return { session: toSession(row), previous };
}

/** Sets `updated_at` of a session that is not final; the row, or undefined when it is final. */
export async function touchOpen(db: Db, sessionId: string, now: string): Promise<SessionRow | undefined> {
  return db
    .updateTable('ice_sessions')
    .set({ updated_at: now })
    .where('session_id', '=', sessionId)
    .where('status', 'in', [...OPEN_STATUSES])
    .returningAll()
    .executeTakeFirst();
}
