/**
 * `TransferRepository` over PostgreSQL: `file_transfers`, one row per session (created with the session),
 * patched by the participants' reports (the session row locked meanwhile) and by the relay's byte count.
 */
import { sql } from 'kysely';
import {
  FINAL_STATUSES,
  StorageError,
  type SessionStatus,
  type TransferFilter,
  type TransferListEntry,
  type TransferRecord,
  type TransferReport,
  type TransferReportResult,
  type TransferRepository,
} from '../types.js';
import type { FileTransfersTable } from '../schema.js';
import { toSession } from '../sqlite/session-state.js';
import { toTransfer } from '../sqlite/transfers.js';
import type { Selectable } from 'kysely';
import { lockSession, touchOpen, transitionSession, type Db } from './session-rows.js';

type ListRow = Selectable<FileTransfersTable> & { consumer_name: string; provider_name: string | null };

/** Transfers: the participants' reports (moving the session with them) and the relay's byte count. */
export class PostgresTransfers implements TransferRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async get(sessionId: string): Promise<TransferRecord | undefined> {
    const row = await this.#db
      .selectFrom('file_transfers')
      .selectAll()
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    return row === undefined ? undefined : toTransfer(row);
  }

  report(r: TransferReport, now: string): Promise<TransferReportResult | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const before = await lockSession(trx, r.sessionId);
      if (before === undefined) return undefined;
      let session = toSession(before);
      let previousStatus: SessionStatus | null = null;
      if (session.status !== r.status && r.transitionFrom.includes(session.status)) {
        const moved = await transitionSession(trx, r.sessionId, r.transitionFrom, r.status, now, r.byUserId);
        if (moved !== undefined) {
          session = moved.session;
          previousStatus = moved.previous;
        }
      } else if (!FINAL_STATUSES.includes(session.status)) {
        session = toSession((await touchOpen(trx, r.sessionId, now)) ?? before);
      }
      const p = r.patch;
      const verified = p.verified === undefined ? null : p.verified ? 1 : 0;
      const row = await trx
        .updateTable('file_transfers')
        .set({
          file_name: sql<string>`COALESCE(${p.fileName ?? null}, file_name)`,
          file_size: sql<number>`COALESCE(${p.fileSize ?? null}::bigint, file_size)`,
          bytes: sql<number>`COALESCE(${p.bytes ?? null}::bigint, bytes)`,
          sha256: sql<string>`COALESCE(${p.sha256 ?? null}, sha256)`,
          transport: sql<string>`COALESCE(${p.transport ?? null}, transport)`,
          duration_ms: sql<number>`COALESCE(${p.durationMs ?? null}::bigint, duration_ms)`,
          error: sql<string>`COALESCE(${p.error ?? null}, error)`,
          verified: sql<number>`COALESCE(${verified}::integer, verified)`,
          path: sql<string>`COALESCE(${p.path ?? null}, path)`,
          // the first final word wins (migration 006)
          error_code: sql<string>`COALESCE(error_code, ${p.outcome?.code ?? null})`,
          error_message: sql<string>`COALESCE(error_message, ${p.outcome?.message ?? null})`,
          failed_side: sql<string>`COALESCE(failed_side, ${p.outcome?.side ?? null})`,
          updated_at: now,
        })
        .where('session_id', '=', r.sessionId)
        .returningAll()
        .executeTakeFirst();
      if (row === undefined)
        throw new StorageError('ERR_STORAGE', `no file_transfers row for session ${r.sessionId}`);
      return { transfer: toTransfer(row), session, previousStatus };
    });
  }

  async addRelayBytes(sessionId: string, bytes: number): Promise<void> {
    await this.#db
      .updateTable('file_transfers')
      .set({ relay_bytes: sql<number>`relay_bytes + ${bytes}::bigint` })
      .where('session_id', '=', sessionId)
      .execute();
  }

  async listForUser(userId: number, limit: number, f: TransferFilter = {}): Promise<TransferListEntry[]> {
    // a filter left out is bound as NULL and holds for every row
    const r = await sql<ListRow>`SELECT t.*, c.username AS consumer_name, p.username AS provider_name
      FROM ice_sessions s
      JOIN file_transfers t ON t.session_id = s.session_id
      JOIN users c ON c.id = s.initiator_user_id
      LEFT JOIN users p ON p.id = s.target_user_id
      WHERE (s.initiator_user_id = ${userId} OR s.target_user_id = ${userId})
        AND (${f.status ?? null}::text IS NULL OR t.status = ${f.status ?? null}::text)
        AND (${f.requestType ?? null}::text IS NULL OR t.request_type = ${f.requestType ?? null}::text)
        AND (${f.providerName ?? null}::text IS NULL OR p.username = ${f.providerName ?? null}::text)
        AND (${f.since ?? null}::text IS NULL OR s.created_at COLLATE "C" >= ${f.since ?? null}::text)
        AND (${f.until ?? null}::text IS NULL OR s.created_at COLLATE "C" < ${f.until ?? null}::text)
      ORDER BY t.id DESC LIMIT ${limit}`.execute(this.#db);
    return r.rows.map((x) => ({
      ...toTransfer(x),
      consumerName: x.consumer_name,
      providerName: x.provider_name,
    }));
  }
}
