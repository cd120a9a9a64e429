/**
 * Storage records → the JSON the API sends (docs/api.md): snake_case names, user ids as strings, an
 * unclaimed session's `target_user_id` as "" (the seed's Go struct declares a string).
 */
import type {
  HistoryEntry,
  SessionRecord,
  SignalRecord,
  TransferRecord,
  UserRecord,
} from '../storage/types.js';
import type { HistoryWire, SessionWire, SignalWire, TransferWire, UserWire } from '../wire/index.js';

export function sessionToWire(s: SessionRecord): SessionWire {
  return {
    session_id: s.sessionId,
    initiator_user_id: String(s.initiatorUserId),
    target_user_id: s.targetUserId === null ? '' : String(s.targetUserId),
    request_type: s.requestType,
    parameters: s.parameters,
    status: s.status,
    capabilities: s.capabilities,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
    attempt: s.attempt,
  };
}

export function historyToWire(h: HistoryEntry): HistoryWire {
  return { status: h.status, at: h.at, by_user_id: h.byUserId === null ? '' : String(h.byUserId) };
}

export function signalToWire(s: SignalRecord): SignalWire {
  return {
    id: s.id,
    session_id: s.sessionId,
    signal_type: s.signalType,
    signal_data: s.signalData,
    from_client_id: String(s.fromUserId),
    to_client_id: String(s.toUserId),
    created_at: s.createdAt,
    attempt: s.attempt,
  };
}

/** A transfer; `names` (the participants' user names) for the lists of `GET /api/transfers`. */
export function transferToWire(
  t: TransferRecord,
  names?: { provider: string | null; consumer: string },
): TransferWire {
  return {
    session_id: t.sessionId,
    file_name: t.fileName,
    file_size: t.fileSize,
    file_type: t.fileType,
    request_type: t.requestType,
    parameters: t.parameters,
    status: t.status,
    bytes: t.bytes,
    sha256: t.sha256,
    transport: t.transport,
    duration_ms: t.durationMs,
    error: t.error,
    verified: t.verified,
    relay_bytes: t.relayBytes,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
    completed_at: t.completedAt,
    ...outcomeToWire(t),
    ...(names === undefined ? {} : { provider_name: names.provider, consumer_name: names.consumer }),
  };
}

/** Why a session ended (docs/api.md §3 "Outcome"), as a transfer and a session detail carry it. */
export function outcomeToWire(t: TransferRecord | undefined) {
  return {
    error_code: t?.errorCode ?? null,
    error_message: t?.errorMessage ?? null,
    failed_side: t?.failedSide ?? null,
    path: t?.path ?? null,
  };
}

export function userToWire(u: UserRecord): UserWire {
  return {
    user_id: String(u.id),
    username: u.username,
    client_type: u.clientType,
    request_types: u.requestTypes,
  };
}
