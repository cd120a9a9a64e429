/**
 * `TransferRepository` over SQLite: `file_transfers`, one row per session (created with the session),
 * patched by the participants' reports and by the relay's byte count.
 */
import { sql, type Selectable } from 'kysely';
import {
  FINAL_STATUSES,
  type FailedSide,
  type SessionStatus,
  type TransferFilter,
  type TransferListEntry,
  type TransferRecord,
  type TransferReport,
  type TransferReportResult,
  type TransferRepository,
  type Transport,
} from '../types.js';
import { param, prepare, type SqliteHandle } from './database.js';
import type { Database, FileTransfersTable } from '../schema.js';
import type { HotState } from './hot-state.js';
import { toSession } from './session-state.js';

type TransferRow = Selectable<FileTransfersTable>;
type ListRow = TransferRow & { consumer_name: string; provider_name: string | null };

const n = (name: string) => param<number>(name);
const s = (name: string) => param<string>(name);

function buildQueries({ raw, kysely: k }: SqliteHandle<Database>) {
  const p = <R>(c: Parameters<typeof prepare<R>>[1]) => prepare<R>(raw, c);
  return {
    // Each half of the OR walks one index of migration 006 (initiator or target, by creation time); a filter
    // left out is bound as NULL and holds for every row.
    transfersForUser: p(
      sql<ListRow>`SELECT t.*, c.username AS consumer_name, p.username AS provider_name
        FROM ice_sessions s
        JOIN file_transfers t ON t.session_id = s.session_id
        JOIN users c ON c.id = s.initiator_user_id
        LEFT JOIN users p ON p.id = s.target_user_id
        WHERE (s.initiator_user_id = ${n('user_id')} OR s.target_user_id = ${n('user_id')})
          AND (${s('status')} IS NULL OR t.status = ${s('status')})
          AND (${s('request_type')} IS NULL OR t.request_type = ${s('request_type')})
          AND (${s('provider')} IS NULL OR p.username = ${s('provider')})
          AND (${s('since')} IS NULL OR s.created_at >= ${s('since')})
          AND (${s('until')} IS NULL OR s.created_at < ${s('until')})
        ORDER BY t.id DESC LIMIT ${n('limit')}`.compile(k),
    ),
  };
}

/**
 * Transfers: the participants' reports (moving the session with them) and the relay's byte count, applied
 * in memory with the session (hot-state.ts) and written behind; listings are SQL.
 */
export class SqliteTransfers implements TransferRepository {
  readonly #q: ReturnType<typeof buildQueries>;
  readonly #hot: HotState;

  constructor(handle: SqliteHandle<Database>, hot: HotState) {
    this.#q = buildQueries(handle);
    this.#hot = hot;
  }

  async get(sessionId: string): Promise<TransferRecord | undefined> {
    const row = this.#hot.transfer(sessionId);
    return row === undefined ? undefined : toTransfer(row);
  }

  async report(r: TransferReport, now: string): Promise<TransferReportResult | undefined> {
    const hot = this.#hot;
    const e = hot.entry(r.sessionId);
    if (e === undefined) return undefined;
    let session = toSession(e.row);
    let previousStatus: SessionStatus | null = null;
    if (session.status !== r.status && r.transitionFrom.includes(session.status)) {
      const moved = hot.transition(r.sessionId, r.transitionFrom, r.status, now, r.byUserId);
      if (moved !== undefined) {
        session = moved.session;
        previousStatus = moved.previous;
      }
    } else if (!FINAL_STATUSES.includes(session.status)) {
      hot.touchOpen(r.sessionId, now);
      session = toSession(e.row);
    }
    const row = hot.patchTransfer(e, r.patch, now);
    return { transfer: toTransfer(row), session, previousStatus };
  }

  async addRelayBytes(sessionId: string, bytes: number): Promise<void> {
    this.#hot.addRelayBytes(sessionId, bytes);
  }

  async listForUser(userId: number, limit: number, f: TransferFilter = {}): Promise<TransferListEntry[]> {
    this.#hot.sync();
    return this.#q.transfersForUser
      .all({
        user_id: userId,
        limit,
        status: f.status ?? null,
        request_type: f.requestType ?? null,
        provider: f.providerName ?? null,
        since: f.since ?? null,
        until: f.until ?? null,
      })
      .map((r) => ({ ...toTransfer(r), consumerName: r.consumer_name, providerName: r.provider_name }));
  }
}

/** Row → record (shared with the PostgreSQL repositories). */
export function toTransfer(r: TransferRow): TransferRecord {
  return {
    sessionId: r.session_id,
    fileName: r.file_name,
    fileSize: r.file_size,
    fileType: r.file_type,
    requestType: r.request_type,
    parameters: r.parameters,
    status: r.status,
    bytes: r.bytes,
    sha256: r.sha256,
    transport: r.transport as Transport | null,
    durationMs: r.duration_ms,
    error: r.error,
    verified: r.verified === null ? null : r.verified === 1,
    relayBytes: r.relay_bytes,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    completedAt: r.completed_at,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    failedSide: r.failed_side as FailedSide | null,
    path: r.path,
  };
}
