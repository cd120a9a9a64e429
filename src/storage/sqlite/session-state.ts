/**
 * The session and signal rows as stored and as the repositories hand them out, shared with postgres/: a
 * new session's row, row → record.
 */
import type { Insertable, Selectable } from 'kysely';
import type { NewSession, SessionRecord, SessionStatus, SignalRecord, SignalType } from '../types.js';
import type { IceCandidatesTable, IceSessionsTable } from '../schema.js';

export type SessionRow = Selectable<IceSessionsTable>;

/** The columns a new session is created with (the rest keep their defaults). */
export function newSessionRow(ns: NewSession, now: string) {
  return {
    session_id: ns.sessionId,
    initiator_user_id: ns.initiatorUserId,
    target_user_id: ns.targetUserId,
    named_user_id: ns.targetUserId,
    initiator_client_type: 2,
    target_client_type: 1,
    status: 'pending',
    request_type: ns.requestType,
    parameters: ns.parameters,
    capabilities: JSON.stringify(ns.capabilities),
    created_at: now,
    updated_at: now,
  } satisfies Insertable<IceSessionsTable>;
}

/** A signal as the inbox queries read it (PostgreSQL's BIGINT id comes back as text). */
export type SignalRow = Pick<
  Selectable<IceCandidatesTable>,
  'session_id' | 'signal_type' | 'signal_data' | 'user_id' | 'to_user_id' | 'created_at' | 'claim_attempt'
> & { id: number | string };

/** Row → record. */
export function toSignal(r: SignalRow): SignalRecord {
  return {
    id: Number(r.id),
    sessionId: r.session_id,
    signalType: r.signal_type as SignalType,
    signalData: r.signal_data,
    fromUserId: r.user_id,
    toUserId: r.to_user_id,
    createdAt: r.created_at,
    attempt: r.claim_attempt,
  };
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
