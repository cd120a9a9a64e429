/**
 * The signaling hot path in memory, with the SQLite file as the record (docs/architecture.md "Hot path").
 *
 * Every open session — its row, its `file_transfers` row and its recent signals — lives here, and every
 * claim, transition, signal and report is decided and applied here, synchronously: one process, one
 * thread, so a claim is atomic without a lock. Each change also appends what it wrote to a log that the
 * group-commit queue (write-queue.ts) applies to SQLite in batches, in one transaction, a few
 * milliseconds later (write-behind): the caller is answered before the commit.
 *
 * Durability: a clean shutdown commits the log (`close`). A crash loses the changes of the last batch
 * not yet committed — at most {@link WRITE_BEHIND_MS} of acknowledged changes plus the commit in flight.
 * A commit that fails (disk full, I/O error) is rolled back and the log kept and retried: memory stays
 * the truth while the process runs, so nothing acknowledged is lost to a failed write.
 *
 * Reads that SQL answers (a user's sessions, a session's history, transfer listings, declines, retention)
 * run after the log is committed ({@link HotState.sync}), so they see every acknowledged change.
 *
 * Only this process writes sessions, signals and transfers in this file (one server per SQLite file);
 * other processes (`sdrlink user …`, `sdrlink db prune`) touch users, keys and old final sessions.
 */
import { sql, type Selectable } from 'kysely';
import {
  FINAL_STATUSES,
  OPEN_STATUSES,
  StorageError,
  type ClaimRelease,
  type NewSession,
  type NewSignal,
  type Outcome,
  type SessionRecord,
  type SessionStatus,
  type SignalRecord,
  type TransferPatch,
} from '../types.js';
import { param, prepare, type SqliteHandle } from './database.js';
import type { Database, FileTransfersTable } from '../schema.js';
import { newSessionRow, toSession, toSignal, type SessionRow, type SignalRow } from './session-state.js';

export type TransferRow = Selectable<FileTransfersTable>;

/** Longest a change waits in memory before its batch is committed. */
export const WRITE_BEHIND_MS = 10;
/** Signals of one session kept in memory; older ones are read from SQL. */
export const SIGNALS_KEPT = 256;
/** Final sessions kept in memory (for late reads of their signals and transfer) before the oldest go. */
export const FINAL_KEPT = 2_000;

/** One session in memory. */
interface Entry {
  row: SessionRow;
  transfer: TransferRow;
  /** Its signals with id > `floorId`, oldest first (all attempts). */
  signals: SignalRecord[];
  /** Signals with an id up to this one may exist in SQL only. */
  floorId: number;
  /** Whether its session and transfer rows exist in SQL (else the log inserts them). */
  stored: boolean;
  sessionDirty: boolean;
  transferDirty: boolean;
  /** Something of this session is in the log, not yet committed: it must stay in memory. */
  pending: boolean;
}

interface SignalInsert {
  sig: SignalRecord;
  candidate: string;
  sdpMLineIndex: number;
  sdpMid: string;
}

const n = (name: string) => param<number>(name);
const s = (name: string) => param<string>(name);
const SESSION_COLUMNS = [
  'id',
  'session_id',
  'initiator_user_id',
  'target_user_id',
  'initiator_client_type',
  'target_client_type',
  'status',
  'request_type',
  'parameters',
  'capabilities',
  'created_at',
  'updated_at',
  'claimed_at',
  'claim_attempt',
  'named_user_id',
] as const;
const TRANSFER_COLUMNS = [
  'id',
  'session_id',
  'file_name',
  'file_size',
  'file_type',
  'request_type',
  'parameters',
  'status',
  'bytes',
  'sha256',
  'transport',
  'duration_ms',
  'error',
  'verified',
  'relay_bytes',
  'created_at',
  'updated_at',
  'completed_at',
  'error_code',
  'error_message',
  'failed_side',
  'path',
] as const;
/** What a session's later changes write (claims, transitions, releases, touches). */
const SESSION_MUTABLE = ['target_user_id', 'status', 'updated_at', 'claimed_at', 'claim_attempt'] as const;
/** What a transfer's later changes write (every column but its identity and creation). */
const TRANSFER_MUTABLE = TRANSFER_COLUMNS.filter(
  (c) => !['id', 'session_id', 'created_at', 'request_type', 'parameters', 'file_type'].includes(c),
);

function buildQueries({ raw, kysely: k }: SqliteHandle<Database>) {
  const p = <R>(c: Parameters<typeof prepare<R>>[1]) => prepare<R>(raw, c);
  // Fixed text from the column lists above (no client value is part of it), bound by position: the
  // log's statements run thousands of times a second.
  const insert = (table: string, columns: readonly string[]) =>
    raw.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  const update = (table: string, columns: readonly string[]) =>
    raw.prepare(`UPDATE ${table} SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`);
  return {
    insertSession: insert('ice_sessions', SESSION_COLUMNS),
    updateSession: update('ice_sessions', SESSION_MUTABLE),
    insertTransfer: insert('file_transfers', TRANSFER_COLUMNS),
    updateTransfer: update('file_transfers', TRANSFER_MUTABLE),
    insertHistory: p(
      k
        .insertInto('ice_session_history')
        .values({ session_id: s('session_id'), status: s('status'), at: s('at'), by_user_id: n('by') })
        .compile(),
    ),
    insertSignal: p(
      k
        .insertInto('ice_candidates')
        .values({
          id: n('id'),
          session_id: s('session_id'),
          user_id: n('from_user_id'),
          to_user_id: n('to_user_id'),
          signal_type: s('signal_type'),
          signal_data: s('signal_data'),
          candidate: s('candidate'),
          sdp_mline_index: n('sdp_mline_index'),
          sdp_mid: s('sdp_mid'),
          created_at: s('created_at'),
          claim_attempt: n('attempt'),
        })
        .compile(),
    ),
    insertDecline: p(
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
    sessionById: p(
      k.selectFrom('ice_sessions').selectAll().where('session_id', '=', s('session_id')).compile(),
    ),
    transferBySession: p(
      k.selectFrom('file_transfers').selectAll().where('session_id', '=', s('session_id')).compile(),
    ),
    openSessions: p(
      sql<SessionRow>`SELECT * FROM ice_sessions
        WHERE status IN ('pending', 'offered', 'connected', 'transferring') ORDER BY id`.compile(k),
    ),
    latestSignals: p(
      sql<SignalRow>`SELECT id, session_id, signal_type, signal_data, user_id, to_user_id, created_at,
          claim_attempt
        FROM ice_candidates WHERE session_id = ${s('session_id')} ORDER BY id DESC LIMIT ${n('limit')}`.compile(
        k,
      ),
    ),
    signalsFor: p(
      sql<SignalRow>`SELECT id, session_id, signal_type, signal_data, user_id, to_user_id, created_at,
          claim_attempt
        FROM ice_candidates
        WHERE session_id = ${s('session_id')} AND to_user_id = ${n('to_user_id')} AND id > ${n('after')}
          AND claim_attempt = ${n('attempt')}
        ORDER BY id LIMIT ${n('limit')}`.compile(k),
    ),
    userExists: p(k.selectFrom('users').select('id').where('id', '=', n('id')).compile()),
    maxIds: p(
      sql<{ sessions: number | null; transfers: number | null; signals: number | null }>`SELECT
          (SELECT MAX(id) FROM ice_sessions) AS sessions,
          (SELECT MAX(id) FROM file_transfers) AS transfers,
          MAX(COALESCE((SELECT MAX(id) FROM ice_candidates), 0),
            COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'ice_candidates'), 0)) AS signals`.compile(
        k,
      ),
    ),
  };
}

/** The sessions, their transfers and recent signals in memory, and the write-behind log. */
export class HotState {
  readonly #q: ReturnType<typeof buildQueries>;
  /** Every session in memory, oldest first. */
  readonly #entries = new Map<string, Entry>();
  /** The open ones, in id order (creation order). */
  readonly #open = new Map<string, Entry>();
  readonly #openByInitiator = new Map<number, number>();
  #finalCount = 0;
  #nextSessionId: number;
  #nextTransferId: number;
  #nextSignalId: number;
  // the log: entries to upsert, then rows to append, in the order they happened
  #dirty: Entry[] = [];
  #history: Array<Record<string, unknown>> = [];
  #signals: SignalInsert[] = [];
  #declines: Array<Record<string, unknown>> = [];
  /** Asks the write queue for a commit within {@link WRITE_BEHIND_MS}. */
  #schedule: () => void = () => undefined;
  /** Commits the log now (the write queue's flush). */
  #commitNow: () => void = () => undefined;
  /** Users known to exist (ids are never deleted). */
  readonly #users = new Set<number>();

  constructor(handle: SqliteHandle<Database>) {
    this.#q = buildQueries(handle);
    const ids = this.#q.maxIds.get();
    this.#nextSessionId = (ids?.sessions ?? 0) + 1;
    this.#nextTransferId = (ids?.transfers ?? 0) + 1;
    this.#nextSignalId = (ids?.signals ?? 0) + 1;
    for (const row of this.#q.openSessions.all()) this.#load(row);
  }

  /** Wires the log to the write queue (write-queue.ts): `schedule` soon, `commitNow` at once. */
  attach(schedule: () => void, commitNow: () => void): void {
    this.#schedule = schedule;
    this.#commitNow = commitNow;
  }

  /** Whether the log holds changes not yet committed. */
  get pending(): boolean {
    return (
      this.#dirty.length > 0 ||
      this.#history.length > 0 ||
      this.#signals.length > 0 ||
      this.#declines.length > 0
    );
  }

  /** Commits the log now, so that SQL reads see every acknowledged change. */
  sync(): void {
    if (this.pending) this.#commitNow();
  }

  // ---------------------------------------------------------------- the log, applied by the write queue

  /** Writes the log inside the write queue's open transaction (sessions first: the rest refer to them). */
  apply(): void {
    const q = this.#q;
    for (const e of this.#dirty) {
      if (!e.stored) {
        q.insertSession.run(SESSION_COLUMNS.map((c) => e.row[c]));
        q.insertTransfer.run(TRANSFER_COLUMNS.map((c) => e.transfer[c]));
        continue;
      }
      if (e.sessionDirty) q.updateSession.run(...SESSION_MUTABLE.map((c) => e.row[c]), e.row.id);
      if (e.transferDirty) q.updateTransfer.run(...TRANSFER_MUTABLE.map((c) => e.transfer[c]), e.transfer.id);
    }
    for (const h of this.#history) q.insertHistory.run(h);
    for (const x of this.#signals)
      q.insertSignal.run({
        id: x.sig.id,
        session_id: x.sig.sessionId,
        from_user_id: x.sig.fromUserId,
        to_user_id: x.sig.toUserId,
        signal_type: x.sig.signalType,
        signal_data: x.sig.signalData,
        candidate: x.candidate,
        sdp_mline_index: x.sdpMLineIndex,
        sdp_mid: x.sdpMid,
        created_at: x.sig.createdAt,
        attempt: x.sig.attempt,
      });
    for (const d of this.#declines) q.insertDecline.run(d);
  }

  /** The transaction that applied the log committed: it is empty again. */
  committed(): void {
    for (const e of this.#dirty) {
      e.stored = true;
      e.sessionDirty = false;
      e.transferDirty = false;
      e.pending = false;
    }
    for (const x of this.#signals) {
      const e = this.#entries.get(x.sig.sessionId);
      if (e !== undefined) e.pending = false;
    }
    this.#dirty = [];
    this.#history = [];
    this.#signals = [];
    this.#declines = [];
    this.#evict();
  }

  #touchLog(e: Entry, session: boolean, transfer: boolean): void {
    if (!e.sessionDirty && !e.transferDirty) this.#dirty.push(e);
    if (session) e.sessionDirty = true;
    if (transfer) e.transferDirty = true;
    e.pending = true;
    this.#schedule();
  }

  #logHistory(sessionId: string, status: SessionStatus, at: string, by: number | null): void {
    this.#history.push({ session_id: sessionId, status, at, by });
  }

  // ---------------------------------------------------------------- memory

  /** Puts a stored session (and its transfer and latest signals) in memory. */
  #load(row: SessionRow): Entry {
    const transfer = this.#q.transferBySession.get({ session_id: row.session_id });
    if (transfer === undefined)
      throw new StorageError('ERR_STORAGE', `no file_transfers row for session ${row.session_id}`);
    const latest = this.#q.latestSignals.all({ session_id: row.session_id, limit: SIGNALS_KEPT });
    latest.reverse();
    const e: Entry = {
      row: { ...row },
      transfer: { ...transfer },
      signals: latest.map(toSignal),
      floorId: latest.length === SIGNALS_KEPT ? Number((latest[0] as SignalRow).id) - 1 : 0,
      stored: true,
      sessionDirty: false,
      transferDirty: false,
      pending: false,
    };
    this.#entries.set(row.session_id, e);
    if (isOpen(row.status)) this.#markOpen(e);
    else this.#finalCount++;
    return e;
  }

  #markOpen(e: Entry): void {
    this.#open.set(e.row.session_id, e);
    const u = e.row.initiator_user_id;
    this.#openByInitiator.set(u, (this.#openByInitiator.get(u) ?? 0) + 1);
  }

  #markFinal(e: Entry): void {
    this.#open.delete(e.row.session_id);
    const u = e.row.initiator_user_id;
    const left = (this.#openByInitiator.get(u) ?? 1) - 1;
    if (left <= 0) this.#openByInitiator.delete(u);
    else this.#openByInitiator.set(u, left);
    this.#finalCount++;
  }

  /** Drops the oldest final sessions with nothing in the log once there are more than {@link FINAL_KEPT}. */
  #evict(): void {
    if (this.#finalCount <= FINAL_KEPT) return;
    for (const [id, e] of this.#entries) {
      if (this.#finalCount <= FINAL_KEPT * 0.9) break;
      if (e.pending || isOpen(e.row.status)) continue;
      this.#entries.delete(id);
      this.#finalCount--;
    }
  }

  /**
   * Forgets final sessions whose rows retention deletes (their signals must not be served from memory).
   * Runs inside a write-queue batch, after the log was applied: what the log holds of them stays in it.
   */
  forgetFinal(sessionIds: readonly string[]): void {
    for (const id of sessionIds) {
      const e = this.#entries.get(id);
      if (e === undefined || isOpen(e.row.status)) continue;
      this.#entries.delete(id);
      this.#finalCount--;
    }
  }

  /** The session in memory, loaded from SQL when it is not (an old final session). */
  entry(sessionId: string): Entry | undefined {
    const e = this.#entries.get(sessionId);
    if (e !== undefined) return e;
    const row = this.#q.sessionById.get({ session_id: sessionId });
    return row === undefined ? undefined : this.#load(row);
  }

  #userExists(id: number): boolean {
    if (this.#users.has(id)) return true;
    if (this.#q.userExists.get({ id }) === undefined) return false;
    this.#users.add(id);
    return true;
  }

  get(sessionId: string): SessionRecord | undefined {
    const e = this.entry(sessionId);
    return e === undefined ? undefined : toSession(e.row);
  }

  transfer(sessionId: string): TransferRow | undefined {
    return this.entry(sessionId)?.transfer;
  }

  // ---------------------------------------------------------------- sessions

  create(ns: NewSession, now: string): SessionRecord {
    if (this.entry(ns.sessionId) !== undefined)
      throw new StorageError('ERR_CONFLICT', `session ${ns.sessionId} exists`);
    for (const id of [ns.initiatorUserId, ns.targetUserId])
      if (id !== null && !this.#userExists(id))
        throw new StorageError('ERR_STORAGE', `no user ${id} (FOREIGN KEY constraint failed)`);
    const row: SessionRow = {
      id: this.#nextSessionId++,
      ...newSessionRow(ns, now),
      claimed_at: null,
      claim_attempt: 0,
      // a relay's owning instance (migration 009): PostgreSQL clusters only
      relay_instance: null,
      relay_url: null,
    };
    const transfer: TransferRow = {
      id: this.#nextTransferId++,
      session_id: ns.sessionId,
      file_name: ns.fileName,
      file_size: ns.fileSize,
      file_type: ns.fileType,
      request_type: ns.requestType,
      parameters: ns.parameters,
      status: 'pending',
      bytes: 0,
      sha256: null,
      transport: null,
      duration_ms: null,
      error: null,
      verified: null,
      relay_bytes: 0,
      created_at: now,
      updated_at: now,
      completed_at: null,
      error_code: null,
      error_message: null,
      failed_side: null,
      path: null,
    };
    const e: Entry = {
      row,
      transfer,
      signals: [],
      floorId: 0,
      stored: false,
      sessionDirty: false,
      transferDirty: false,
      pending: false,
    };
    this.#entries.set(ns.sessionId, e);
    this.#markOpen(e);
    this.#touchLog(e, true, true);
    this.#logHistory(ns.sessionId, 'pending', now, ns.initiatorUserId);
    return toSession(row);
  }

  /** pending → offered for `providerId` (the target, or any provider when none is named). */
  claim(sessionId: string, providerId: number, now: string): SessionRecord | undefined {
    const e = this.entry(sessionId);
    if (e === undefined || e.row.status !== 'pending') return undefined;
    if (e.row.target_user_id !== null && e.row.target_user_id !== providerId) return undefined;
    if (!this.#userExists(providerId)) return undefined;
    e.row.target_user_id = providerId;
    e.row.status = 'offered';
    e.row.updated_at = now;
    e.row.claimed_at = now;
    this.#transferStatus(e, 'offered', now);
    this.#touchLog(e, true, true);
    this.#logHistory(sessionId, 'offered', now, providerId);
    return toSession(e.row);
  }

  /** Releases a stalled claim (docs/api.md §3); undefined when the claim moved on. */
  release(r: ClaimRelease, now: string): SessionRecord | undefined {
    const e = this.entry(r.sessionId);
    if (e === undefined) return undefined;
    const row = e.row;
    if (
      row.status !== 'offered' ||
      row.claim_attempt !== r.attempt ||
      row.target_user_id !== r.providerId ||
      row.claimed_at === null ||
      !(row.claimed_at < r.claimedBefore)
    )
      return undefined;
    row.status = 'pending';
    row.target_user_id = row.named_user_id;
    row.claimed_at = null;
    row.claim_attempt += 1;
    row.updated_at = now;
    this.#transferStatus(e, 'pending', now);
    this.#touchLog(e, true, true);
    this.#logHistory(r.sessionId, 'pending', now, null);
    this.#declines.push({
      session_id: r.sessionId,
      user_id: r.providerId,
      code: r.code,
      message: r.message,
      at: now,
    });
    return toSession(row);
  }

  /**
   * Moves a session from one of `from` to `to` with its history, the mirrored transfer status and, for a
   * final `to`, the `outcome` (unless one is recorded). Undefined when it was in none of `from`.
   */
  transition(
    sessionId: string,
    from: readonly SessionStatus[],
    to: SessionStatus,
    now: string,
    byUserId: number | null,
    outcome?: Outcome,
  ): { session: SessionRecord; previous: SessionStatus } | undefined {
    const e = this.entry(sessionId);
    if (e === undefined) return undefined;
    const previous = e.row.status as SessionStatus;
    if (!from.includes(previous)) return undefined;
    e.row.status = to;
    e.row.updated_at = now;
    e.row.claimed_at = null;
    const final = FINAL_STATUSES.includes(to);
    this.#transferStatus(e, to, now);
    if (final && outcome !== undefined) recordOutcome(e.transfer, outcome);
    if (isOpen(previous) && final) this.#markFinal(e);
    this.#touchLog(e, true, true);
    this.#logHistory(sessionId, to, now, byUserId);
    return { session: toSession(e.row), previous };
  }

  #transferStatus(e: Entry, status: SessionStatus, now: string): void {
    e.transfer.status = status;
    e.transfer.updated_at = now;
    if (FINAL_STATUSES.includes(status)) e.transfer.completed_at ??= now;
  }

  /** Sets `updated_at` of an open session; false when it is final (or unknown). */
  touchOpen(sessionId: string, now: string): boolean {
    const e = this.entry(sessionId);
    if (e === undefined || !isOpen(e.row.status)) return false;
    e.row.updated_at = now;
    this.#touchLog(e, true, false);
    return true;
  }

  countOpenByInitiator(userId: number): number {
    return this.#openByInitiator.get(userId) ?? 0;
  }

  countOpenByStatus(): Partial<Record<SessionStatus, number>> {
    const out: Partial<Record<SessionStatus, number>> = {};
    for (const e of this.#open.values()) {
      const st = e.row.status as SessionStatus;
      out[st] = (out[st] ?? 0) + 1;
    }
    return out;
  }

  /** Pending sessions named for the provider, and unnamed ones of its types (null: any), oldest first. */
  listOpenForProvider(providerId: number, types: readonly string[] | null, limit: number): SessionRecord[] {
    const out: SessionRecord[] = [];
    for (const e of this.#open.values()) {
      if (out.length >= limit) break;
      const r = e.row;
      if (r.status !== 'pending') continue;
      if (
        r.target_user_id === providerId ||
        (r.target_user_id === null && (types === null || types.includes(r.request_type)))
      )
        out.push(toSession(r));
    }
    return out;
  }

  /** Open sessions untouched since `cutoff`, least recently touched first. */
  stale(cutoff: string, limit: number): SessionRecord[] {
    const out: SessionRow[] = [];
    for (const e of this.#open.values()) if (e.row.updated_at < cutoff) out.push(e.row);
    out.sort((a, b) => (a.updated_at < b.updated_at ? -1 : a.updated_at > b.updated_at ? 1 : a.id - b.id));
    return out.slice(0, limit).map(toSession);
  }

  /** Sessions still offered under a claim made before `cutoff` whose consumer declared `capability`. */
  staleClaims(cutoff: string, capability: string, limit: number): SessionRecord[] {
    const out: SessionRecord[] = [];
    for (const e of this.#open.values()) {
      const r = e.row;
      if (r.status === 'offered' && r.claimed_at !== null && r.claimed_at < cutoff) {
        const s = toSession(r);
        if (s.capabilities.includes(capability)) out.push(s);
      }
    }
    out.sort((a, b) =>
      (a.claimedAt ?? '') < (b.claimedAt ?? '') ? -1 : (a.claimedAt ?? '') > (b.claimedAt ?? '') ? 1 : 0,
    );
    return out.slice(0, limit);
  }

  // ---------------------------------------------------------------- signals

  /**
   * Stores a signal on the session (which the caller checked may take it), under its current attempt.
   * Returns the record with its id.
   */
  addSignal(e: Entry, sig: NewSignal, now: string): SignalRecord {
    const rec: SignalRecord = {
      id: this.#nextSignalId++,
      sessionId: sig.sessionId,
      signalType: sig.signalType,
      signalData: sig.signalData,
      fromUserId: sig.fromUserId,
      toUserId: sig.toUserId,
      createdAt: now,
      attempt: e.row.claim_attempt,
    };
    e.signals.push(rec);
    if (e.signals.length > SIGNALS_KEPT) {
      const dropped = e.signals.shift() as SignalRecord;
      e.floorId = dropped.id;
    }
    this.#signals.push({
      sig: rec,
      candidate: sig.candidate?.candidate ?? '',
      sdpMLineIndex: sig.candidate?.sdpMLineIndex ?? 0,
      sdpMid: sig.candidate?.sdpMid ?? '',
    });
    e.pending = true;
    this.#schedule();
    return rec;
  }

  /** Signals to `toUserId` with id > `afterId` of the session's current attempt, oldest first. */
  signalsFor(sessionId: string, toUserId: number, afterId: number, limit: number): SignalRecord[] {
    const e = this.entry(sessionId);
    if (e === undefined) return [];
    const attempt = e.row.claim_attempt;
    if (afterId < e.floorId) {
      // older than memory holds: from SQL, once the log is committed
      this.sync();
      return this.#q.signalsFor
        .all({ session_id: sessionId, to_user_id: toUserId, after: afterId, attempt, limit })
        .map(toSignal);
    }
    const out: SignalRecord[] = [];
    for (const x of e.signals) {
      if (out.length >= limit) break;
      if (x.id > afterId && x.toUserId === toUserId && x.attempt === attempt) out.push(x);
    }
    return out;
  }

  // ---------------------------------------------------------------- transfers

  /** Applies a participant's patch to the session's transfer (absent fields keep their value). */
  patchTransfer(e: Entry, patch: TransferPatch, now: string): TransferRow {
    const t = e.transfer;
    if (patch.fileName !== undefined) t.file_name = patch.fileName;
    if (patch.fileSize !== undefined) t.file_size = patch.fileSize;
    if (patch.bytes !== undefined) t.bytes = patch.bytes;
    if (patch.sha256 !== undefined) t.sha256 = patch.sha256;
    if (patch.transport !== undefined) t.transport = patch.transport;
    if (patch.durationMs !== undefined) t.duration_ms = patch.durationMs;
    if (patch.error !== undefined) t.error = patch.error;
    if (patch.verified !== undefined) t.verified = patch.verified ? 1 : 0;
    if (patch.path !== undefined) t.path = patch.path;
    if (patch.outcome !== undefined) {
      // the first final word wins (migration 006)
      t.error_code ??= patch.outcome.code;
      t.error_message ??= patch.outcome.message;
      t.failed_side ??= patch.outcome.side;
    }
    t.updated_at = now;
    this.#touchLog(e, false, true);
    return t;
  }

  addRelayBytes(sessionId: string, bytes: number): void {
    const e = this.entry(sessionId);
    if (e === undefined) return;
    e.transfer.relay_bytes += bytes;
    this.#touchLog(e, false, true);
  }
}

/** Records why a session ended on its transfer, unless an outcome is recorded already. */
function recordOutcome(t: TransferRow, o: Outcome): void {
  t.error_code ??= o.code;
  t.error_message ??= o.message;
  t.failed_side ??= o.side;
  t.error ??= `${o.code}: ${o.message}`;
}

function isOpen(status: string): boolean {
  return (OPEN_STATUSES as readonly string[]).includes(status);
}
