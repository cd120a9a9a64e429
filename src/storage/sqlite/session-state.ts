/**
 * The session row as stored and as the repositories hand it out (shared with postgres/): row → record.
 */
import type { Selectable } from 'kysely';
import type { SessionRecord, SessionStatus } from '../types.js';
import type { IceSessionsTable } from '../schema.js';

export type SessionRow = Selectable<IceSessionsTable>;

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
