/**
 * `TransferRepository` over SQLite: `file_transfers`, one row per session (created with the session),
 * patched by the participants' reports and by the relay's byte count.
 */
import { sql, type Selectable } from 'kysely';
import {
  FINAL_STATUSES,
  StorageError,
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
import { toSession, type SessionState } from './session-state.js';
import type { QueuedDb } from './write-queue.js';

type TransferRow = Selectable<FileTransfersTable>;
type ListRow = TransferRow & { consumer_name: string; provider_name: string | null };

const n = (name: string) => param<number>(name);
const s = (name: string) => param<string>(name);

function buildQueries({ raw, kysely: k }: SqliteHandle<Database>) {
  const p = <R>(c: Parameters<typeof prepare<R>>[1]) => prepare<R>(raw, c);
  return {
    transferBySession: p(
      k.selectFrom('file_transfers').selectAll().where('session_id', '=', s('session_id')).compile(),
    ),
    patchTransfer: p(
      k
        .updateTable('file_transfers')
        .set({
          file_name: sql<string>`COALESCE(${s('file_name')}, file_name)`,
          file_size: sql<number>`COALESCE(${n('file_size')}, file_size)`,
          bytes: sql<number>`COALESCE(${n('bytes')}, bytes)`,
          sha256: sql<string>`COALESCE(${param('sha256')}, sha256)`,
          transport: sql<string>`COALESCE(${s('transport')}, transport)`,
          duration_ms: sql<number>`COALESCE(${n('duration_ms')}, duration_ms)`,
          error: sql<string>`COALESCE(${s('error')}, error)`,
          verified: sql<number>`COALESCE(${n('verified')}, verified)`,
          path: sql<string>`COALESCE(${s('path')}, path)`,
          // the first final word wins (migration 006)
          error_code: sql<string>`COALESCE(error_code, ${s('error_code')})`,
          error_message: sql<string>`COALESCE(error_message, ${s('error_message')})`,
          failed_side: sql<string>`COALESCE(failed_side, ${s('failed_side')})`,
          updated_at: s('now'),
        })
        .where('session_id', '=', s('session_id'))
        .returningAll()
        .compile(),
    ),
    addRelayBytes: p(
      k
        .updateTable('file_transfers')
        .set({ relay_bytes: sql<number>`relay_bytes + ${n('bytes')}` })
        .where('session_id', '=', s('session_id'))
        .compile(),
    ),
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

/** Transfers: the participants' reports (moving the session with them) and the relay's byte count. */
export class SqliteTransfers implements TransferRepository {
  readonly #db: QueuedDb;
  readonly #q: ReturnType<typeof buildQueries>;
  readonly #report;

  constructor(handle: SqliteHandle<Database>, db: QueuedDb, state: SessionState) {
    const q = buildQueries(handle);
    this.#db = db;
    this.#q = q;
    this.#report = db.transaction((r: TransferReport, now: string): TransferReportResult | undefined => {
      const before = state.row(r.sessionId);
      if (before === undefined) return undefined;
      let session = toSession(before);
      let previousStatus: SessionStatus | null = null;
      if (session.status !== r.status && r.transitionFrom.includes(session.status)) {
        const moved = state.transition(r.sessionId, r.transitionFrom, r.status, now, r.byUserId);
        if (moved !== undefined) {
          session = moved.session;
          previousStatus = moved.previous;
        }
      } else if (!FINAL_STATUSES.includes(session.status)) {
        session = toSession(state.touchOpen(r.sessionId, now) ?? before);
      }
      const patch = r.patch;
      const row = q.patchTransfer.get({
        session_id: r.sessionId,
        file_name: patch.fileName ?? null,
        file_size: patch.fileSize ?? null,
        bytes: patch.bytes ?? null,
        sha256: patch.sha256 ?? null,
        transport: patch.transport ?? null,
        duration_ms: patch.durationMs ?? null,
        error: patch.error ?? null,
        verified: patch.verified === undefined ? null : patch.verified ? 1 : 0,
        path: patch.path ?? null,
        error_code: patch.outcome?.code ?? null,
        error_message: patch.outcome?.message ?? null,
        failed_side: patch.outcome?.side ?? null,
        now,
      });
      if (row === undefined)
        throw new StorageError('ERR_STORAGE', `no file_transfers row for session ${r.sessionId}`);
      return { transfer: toTransfer(row), session, previousStatus };
    });
  }

  async get(sessionId: string): Promise<TransferRecord | undefined> {
    const row = this.#q.transferBySession.get({ session_id: sessionId });
    return row === undefined ? undefined : toTransfer(row);
  }

  async report(report: TransferReport, now: string): Promise<TransferReportResult | undefined> {
    return this.#report.immediate(report, now);
  }

  async addRelayBytes(sessionId: string, bytes: number): Promise<void> {
    await this.#db.write(() => this.#q.addRelayBytes.run({ session_id: sessionId, bytes }));
  }

  async listForUser(userId: number, limit: number, f: TransferFilter = {}): Promise<TransferListEntry[]> {
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
