import { sql, type Selectable } from 'kysely';
import {
  FINAL_STATUSES,
  OPEN_STATUSES,
  StorageError,
  type ClientType,
  type HistoryEntry,
  type NewSession,
  type NewSignal,
  type NewUser,
  type PostSignalOptions,
  type PostSignalResult,
  type SessionRecord,
  type SessionRepository,
  type SessionStatus,
  type SignalRecord,
  type SignalRepository,
  type SignalType,
  type Storage,
  type TransferRecord,
  type TransferReport,
  type TransferReportResult,
  type TransferRepository,
  type Transport,
  type UserRecord,
  type UserRepository,
} from '../types.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { openSqlite, param, prepare, type Prepared, type SqliteHandle } from './database.js';
import { WriteQueue } from './write-queue.js';
import type { FileTransfersTable, IceCandidatesTable, IceSessionsTable, UsersTable } from './schema.js';

type UserRow = Selectable<UsersTable>;
type SessionRow = Selectable<IceSessionsTable>;
type TransferRow = Selectable<FileTransfersTable>;
type SignalRow = Pick<
  Selectable<IceCandidatesTable>,
  'id' | 'session_id' | 'signal_type' | 'signal_data' | 'user_id' | 'to_user_id' | 'created_at'
>;

/**
 * Opens a SQLite file (or `:memory:`) as {@link Storage}. Every statement is compiled from Kysely once and
 * prepared once; better-sqlite3 runs them synchronously, so each repository call is one short critical
 * section, and compound writes run in `BEGIN IMMEDIATE` transactions.
 */
export function createSqliteStorage(path: string, options: SqliteStorageOptions = {}): Storage {
  const handle = openSqlite(path);
  const checkpointer =
    options.backgroundCheckpoint === true && handle.location !== ':memory:'
      ? startCheckpointer(handle.raw, handle.location)
      : undefined;
  return new SqliteStorage(handle, checkpointer);
}

export interface SqliteStorageOptions {
  /** Checkpoint the WAL from a worker thread instead of inside commits (long-running servers). */
  backgroundCheckpoint?: boolean;
}

class SqliteStorage implements Storage {
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly signals: SignalRepository;
  readonly transfers: TransferRepository;
  readonly location: string;
  #handle: SqliteHandle;
  #checkpointer: Checkpointer | undefined;
  #queue: WriteQueue;

  constructor(handle: SqliteHandle, checkpointer: Checkpointer | undefined) {
    this.#handle = handle;
    this.#checkpointer = checkpointer;
    this.location = handle.location;
    const cache = new Map<string, SessionRow>();
    const q = withSessionCache(buildQueries(handle), cache);
    // A write that fails may have put rows it then rolled back in the cache: forget them all.
    this.#queue = new WriteQueue(handle.raw, () => cache.clear());
    const queue = this.#queue;
    const db: Db = {
      transaction: (fn) => ({ immediate: (...args) => queue.write(() => fn(...args)) }),
      write: (fn) => queue.write(fn),
    };
    this.users = new SqliteUsers(db, q);
    this.sessions = new SqliteSessions(db, q);
    this.signals = new SqliteSignals(db, q);
    this.transfers = new SqliteTransfers(db, q);
  }

  async close(): Promise<void> {
    if (!this.#handle.raw.open) return;
    this.#queue.flush();
    if (this.#checkpointer !== undefined) {
      // the server leaves a clean file; a short-lived user (`sdrlink user add` beside a running server)
      // does not: a TRUNCATE checkpoint would hold the server's writers while it waits
      await this.#checkpointer.stop();
      try {
        this.#handle.raw.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // another process holds the database; the last one to close checkpoints
      }
    }
    this.#handle.raw.close();
  }
}

type Queries = ReturnType<typeof buildQueries>;

/** Writes through the group-commit queue (write-queue.ts); reads go straight to the prepared statements. */
interface Db {
  /** Wraps `fn` so that each call is queued and runs inside the next batch's transaction. */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): { immediate(...args: A): Promise<R> };
  write<R>(fn: () => R): Promise<R>;
}

const SESSION_CACHE_MAX = 20_000;

/**
 * Session rows are read on every signal (who may signal whom): they are cached here, by session id.
 * Every statement that writes a session row returns it (`RETURNING *`) and refreshes the entry, and only
 * this process writes sessions, so the cache cannot go stale (a failed transaction clears it). The
 * authoritative checks stay in SQL (a claim is a conditional UPDATE, a signal insert checks the session
 * is open).
 */
function withSessionCache(q: Queries, cache: Map<string, SessionRow>): Queries {
  const remember = (row: SessionRow | undefined): SessionRow | undefined => {
    if (row !== undefined) {
      if (cache.size >= SESSION_CACHE_MAX) cache.clear();
      cache.set(row.session_id, row);
    }
    return row;
  };
  const writing = (stmt: Prepared<SessionRow>): Prepared<SessionRow> => ({
    all: (args) => stmt.all(args),
    run: (args) => stmt.run(args),
    get: (args) => remember(stmt.get(args)),
  });
  return {
    ...q,
    sessionById: {
      all: (args) => q.sessionById.all(args),
      run: (args) => q.sessionById.run(args),
      get: (args) => cache.get(String(args?.['session_id'])) ?? remember(q.sessionById.get(args)),
    },
    insertSession: writing(q.insertSession),
    claim: writing(q.claim),
    setStatus: writing(q.setStatus),
    touchOpen: writing(q.touchOpen),
  };
}

function buildQueries({ raw, kysely: k }: SqliteHandle) {
  const p = <R>(c: Parameters<typeof prepare<R>>[1]) => prepare<R>(raw, c);
  const n = (name: string) => param<number>(name);
  const s = (name: string) => param<string>(name);
  return {
    insertUser: p(
      k
        .insertInto('users')
        .values({
          username: s('username'),
          password_hash: s('password_hash'),
          client_type: n('client_type'),
          request_types: s('request_types'),
          created_at: s('now'),
        })
        .returningAll()
        .compile(),
    ),
    userById: p(k.selectFrom('users').selectAll().where('id', '=', n('id')).compile()),
    userByName: p(k.selectFrom('users').selectAll().where('username', '=', s('username')).compile()),
    setRequestTypes: p(
      k
        .updateTable('users')
        .set({ request_types: s('request_types') })
        .where('id', '=', n('id'))
        .compile(),
    ),
    servedRequestTypes: p(
      sql<{ value: string }>`SELECT DISTINCT j.value AS value FROM users, json_each(users.request_types) AS j
        WHERE users.client_type = 1 ORDER BY 1`.compile(k),
    ),
    listUsers: p(k.selectFrom('users').selectAll().orderBy('id').compile()),

    insertSession: p(
      k
        .insertInto('ice_sessions')
        .values({
          session_id: s('session_id'),
          initiator_user_id: n('initiator_user_id'),
          target_user_id: n('target_user_id'),
          initiator_client_type: 2,
          target_client_type: 1,
          status: 'pending',
          request_type: s('request_type'),
          parameters: s('parameters'),
          capabilities: s('capabilities'),
          created_at: s('now'),
          updated_at: s('now'),
        })
        .returningAll()
        .compile(),
    ),
    insertTransfer: p(
      k
        .insertInto('file_transfers')
        .values({
          session_id: s('session_id'),
          file_name: s('file_name'),
          file_size: n('file_size'),
          file_type: s('file_type'),
          request_type: s('request_type'),
          parameters: s('parameters'),
          status: 'pending',
          created_at: s('now'),
          updated_at: s('now'),
        })
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
    sessionById: p(
      k.selectFrom('ice_sessions').selectAll().where('session_id', '=', s('session_id')).compile(),
    ),
    // Two searches of the partial index ice_sessions_pending (migration 003), which holds pending sessions
    // only: those named for this provider, and the open ones of the types it serves ('null' = any type).
    // Its condition is literal SQL so it applies; INDEXED BY because, without statistics, the planner
    // would take the full target index, which grows with every session a provider ever had.
    listOpenForProvider: p(
      sql<SessionRow>`SELECT * FROM (
          SELECT * FROM ice_sessions INDEXED BY ice_sessions_pending
            WHERE status = 'pending' AND target_user_id = ${n('provider_id')}
          UNION ALL
          SELECT * FROM ice_sessions INDEXED BY ice_sessions_pending
            WHERE status = 'pending' AND target_user_id IS NULL
            AND (${s('types')} = 'null' OR request_type IN (SELECT value FROM json_each(${s('types')})))
        ) ORDER BY id LIMIT ${n('limit')}`.compile(k),
    ),
    listSessionsForUser: p(
      k
        .selectFrom('ice_sessions')
        .selectAll()
        .where((eb) =>
          eb.or([eb('initiator_user_id', '=', n('user_id')), eb('target_user_id', '=', n('user_id'))]),
        )
        .orderBy('id', 'desc')
        .limit(n('limit'))
        .compile(),
    ),
    countOpenByInitiator: p(
      k
        .selectFrom('ice_sessions')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('initiator_user_id', '=', n('user_id'))
        .where('status', 'in', [...OPEN_STATUSES])
        .compile(),
    ),
    claim: p(
      k
        .updateTable('ice_sessions')
        .set({ target_user_id: n('provider_id'), status: 'offered', updated_at: s('now') })
        .where('session_id', '=', s('session_id'))
        .where('status', '=', 'pending')
        .where((eb) => eb.or([eb('target_user_id', 'is', null), eb('target_user_id', '=', n('provider_id'))]))
        .returningAll()
        .compile(),
    ),
    setStatus: p(
      k
        .updateTable('ice_sessions')
        .set({ status: s('status'), updated_at: s('now') })
        .where('session_id', '=', s('session_id'))
        .where('status', '=', s('from'))
        .returningAll()
        .compile(),
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
    staleSessions: p(
      k
        .selectFrom('ice_sessions')
        .selectAll()
        // literal, so the partial index ice_sessions_stale applies (migration 003)
        .where(sql<boolean>`status IN ('pending', 'offered', 'connected', 'transferring')`)
        .where('updated_at', '<', s('cutoff'))
        .orderBy('updated_at')
        .limit(n('limit'))
        .compile(),
    ),
    history: p(
      k
        .selectFrom('ice_session_history')
        .select(['status', 'at', 'by_user_id'])
        .where('session_id', '=', s('session_id'))
        .orderBy('id')
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

    insertSignal: p(
      k
        .insertInto('ice_candidates')
        .values({
          session_id: s('session_id'),
          user_id: n('from_user_id'),
          to_user_id: n('to_user_id'),
          signal_type: s('signal_type'),
          signal_data: s('signal_data'),
          candidate: s('candidate'),
          sdp_mline_index: n('sdp_mline_index'),
          sdp_mid: s('sdp_mid'),
          created_at: s('now'),
        })
        .returning('id')
        .compile(),
    ),
    /** One statement: the row is inserted only while its session is open (no transaction needed). */
    insertSignalIfOpen: p(
      k
        .insertInto('ice_candidates')
        .columns([
          'session_id',
          'user_id',
          'to_user_id',
          'signal_type',
          'signal_data',
          'candidate',
          'sdp_mline_index',
          'sdp_mid',
          'created_at',
        ])
        .expression((eb) =>
          eb
            .selectFrom('ice_sessions')
            .select([
              'ice_sessions.session_id',
              eb.val(n('from_user_id')).as('user_id'),
              eb.val(n('to_user_id')).as('to_user_id'),
              eb.val(s('signal_type')).as('signal_type'),
              eb.val(s('signal_data')).as('signal_data'),
              eb.val(s('candidate')).as('candidate'),
              eb.val(n('sdp_mline_index')).as('sdp_mline_index'),
              eb.val(s('sdp_mid')).as('sdp_mid'),
              eb.val(s('now')).as('created_at'),
            ])
            .where('ice_sessions.session_id', '=', s('session_id'))
            .where('ice_sessions.status', 'in', [...OPEN_STATUSES]),
        )
        .returning('id')
        .compile(),
    ),
    signalsFor: p(
      k
        .selectFrom('ice_candidates')
        .select(['id', 'session_id', 'signal_type', 'signal_data', 'user_id', 'to_user_id', 'created_at'])
        .where('session_id', '=', s('session_id'))
        .where('to_user_id', '=', n('to_user_id'))
        .where('id', '>', n('after'))
        .orderBy('id')
        .limit(n('limit'))
        .compile(),
    ),

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
    transfersForUser: p(
      k
        .selectFrom('file_transfers as t')
        .innerJoin('ice_sessions as s', 's.session_id', 't.session_id')
        .selectAll('t')
        .where((eb) =>
          eb.or([eb('s.initiator_user_id', '=', n('user_id')), eb('s.target_user_id', '=', n('user_id'))]),
        )
        .orderBy('t.id', 'desc')
        .limit(n('limit'))
        .compile(),
    ),
  };
}

function toUser(r: UserRow): UserRecord {
  return {
    id: r.id,
    username: r.username,
    clientType: r.client_type as ClientType,
    passwordHash: r.password_hash,
    requestTypes: parseJsonArray(r.request_types),
    createdAt: r.created_at,
  };
}

function toSession(r: SessionRow): SessionRecord {
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
  };
}

function toSignal(r: SignalRow): SignalRecord {
  return {
    id: r.id,
    sessionId: r.session_id,
    signalType: r.signal_type as SignalType,
    signalData: r.signal_data,
    fromUserId: r.user_id,
    toUserId: r.to_user_id,
    createdAt: r.created_at,
  };
}

function toTransfer(r: TransferRow): TransferRecord {
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
  };
}

function parseJsonArray(text: string): string[] {
  const v: unknown = JSON.parse(text);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function isUniqueViolation(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE'
  );
}

/**
 * Moves a session from one of `from` to `to` inside the caller's transaction: the session row, a history
 * row, and the mirrored `file_transfers.status`. Returns the updated row and the previous status.
 */
function applyTransition(
  q: Queries,
  sessionId: string,
  from: readonly SessionStatus[],
  to: SessionStatus,
  now: string,
  byUserId: number | null,
): { session: SessionRecord; previous: SessionStatus } | undefined {
  const before = q.sessionById.get({ session_id: sessionId });
  if (before === undefined) return undefined;
  const previous = before.status as SessionStatus;
  if (!from.includes(previous)) return undefined;
  const row = q.setStatus.get({ session_id: sessionId, status: to, from: previous, now });
  if (row === undefined) return undefined;
  q.insertHistory.run({ session_id: sessionId, status: to, now, by_user_id: byUserId });
  q.transferStatus.run({
    session_id: sessionId,
    status: to,
    now,
    final: FINAL_STATUSES.includes(to) ? 1 : 0,
  });
  return { session: toSession(row), previous };
}

class SqliteUsers implements UserRepository {
  constructor(
    readonly db: Db,
    readonly q: Queries,
  ) {}

  create(user: NewUser, now: string): Promise<UserRecord> {
    return this.db.write(() => {
      try {
        const row = this.q.insertUser.get({
          username: user.username,
          password_hash: user.passwordHash,
          client_type: user.clientType,
          request_types: JSON.stringify(user.requestTypes),
          now,
        });
        if (row === undefined) throw new StorageError('ERR_STORAGE', 'insert into users returned no row');
        return toUser(row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new StorageError('ERR_CONFLICT', `username ${JSON.stringify(user.username)} is taken`, {
            cause: err,
          });
        }
        throw err;
      }
    });
  }

  async byId(id: number): Promise<UserRecord | undefined> {
    const row = this.q.userById.get({ id });
    return row === undefined ? undefined : toUser(row);
  }

  async byName(username: string): Promise<UserRecord | undefined> {
    const row = this.q.userByName.get({ username });
    return row === undefined ? undefined : toUser(row);
  }

  async setRequestTypes(id: number, requestTypes: string[]): Promise<void> {
    await this.db.write(() =>
      this.q.setRequestTypes.run({ id, request_types: JSON.stringify(requestTypes) }),
    );
  }

  async servedRequestTypes(): Promise<string[]> {
    return this.q.servedRequestTypes.all().map((r) => r.value);
  }

  async list(): Promise<UserRecord[]> {
    return this.q.listUsers.all().map(toUser);
  }
}

class SqliteSessions implements SessionRepository {
  readonly #create;
  readonly #claim;
  readonly #transition;
  readonly #expire;
  readonly #touch;

  constructor(
    handle: Db,
    readonly q: Queries,
  ) {
    this.#create = handle.transaction((s: NewSession, now: string) => {
      const row = q.insertSession.get({
        session_id: s.sessionId,
        initiator_user_id: s.initiatorUserId,
        target_user_id: s.targetUserId,
        request_type: s.requestType,
        parameters: s.parameters,
        capabilities: JSON.stringify(s.capabilities),
        now,
      });
      if (row === undefined)
        throw new StorageError('ERR_STORAGE', 'insert into ice_sessions returned no row');
      q.insertTransfer.run({
        session_id: s.sessionId,
        file_name: s.fileName,
        file_size: s.fileSize,
        file_type: s.fileType,
        request_type: s.requestType,
        parameters: s.parameters,
        now,
      });
      q.insertHistory.run({ session_id: s.sessionId, status: 'pending', now, by_user_id: s.initiatorUserId });
      return toSession(row);
    });
    this.#claim = handle.transaction((sessionId: string, providerId: number, now: string) => {
      const row = q.claim.get({ session_id: sessionId, provider_id: providerId, now });
      if (row === undefined) return undefined;
      q.insertHistory.run({ session_id: sessionId, status: 'offered', now, by_user_id: providerId });
      q.transferStatus.run({ session_id: sessionId, status: 'offered', now, final: 0 });
      return toSession(row);
    });
    this.#transition = handle.transaction(
      (
        sessionId: string,
        from: readonly SessionStatus[],
        to: SessionStatus,
        now: string,
        by: number | null,
      ) => applyTransition(q, sessionId, from, to, now, by)?.session,
    );
    this.#expire = handle.transaction((cutoff: string, now: string, limit: number) => {
      const out: Array<{ session: SessionRecord; previous: SessionStatus }> = [];
      for (const row of q.staleSessions.all({ cutoff, limit })) {
        const moved = applyTransition(q, row.session_id, OPEN_STATUSES, 'expired', now, null);
        if (moved !== undefined) out.push(moved);
      }
      return out;
    });
    this.#touch = handle.transaction((ids: readonly string[], now: string) => {
      for (const id of ids) q.touchOpen.get({ session_id: id, now });
    });
  }

  async create(session: NewSession, now: string): Promise<SessionRecord> {
    try {
      return await this.#create.immediate(session, now);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new StorageError('ERR_CONFLICT', `session ${session.sessionId} exists`, { cause: err });
      }
      throw err;
    }
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    const row = this.q.sessionById.get({ session_id: sessionId });
    return row === undefined ? undefined : toSession(row);
  }

  async listOpenForProvider(
    providerId: number,
    requestTypes: readonly string[] | null,
    limit: number,
  ): Promise<SessionRecord[]> {
    return this.q.listOpenForProvider
      .all({ provider_id: providerId, types: JSON.stringify(requestTypes), limit })
      .map(toSession);
  }

  async listForUser(userId: number, limit: number): Promise<SessionRecord[]> {
    return this.q.listSessionsForUser.all({ user_id: userId, limit }).map(toSession);
  }

  async countOpenByInitiator(userId: number): Promise<number> {
    return this.q.countOpenByInitiator.get({ user_id: userId })?.n ?? 0;
  }

  async claim(sessionId: string, providerId: number, now: string): Promise<SessionRecord | undefined> {
    return this.#claim.immediate(sessionId, providerId, now);
  }

  async transition(
    sessionId: string,
    from: readonly SessionStatus[],
    to: SessionStatus,
    now: string,
    byUserId: number | null,
  ): Promise<SessionRecord | undefined> {
    return this.#transition.immediate(sessionId, from, to, now, byUserId);
  }

  async expireStale(
    cutoff: string,
    now: string,
    limit: number,
  ): Promise<Array<{ session: SessionRecord; previous: SessionStatus }>> {
    return this.#expire.immediate(cutoff, now, limit);
  }

  async touch(sessionIds: readonly string[], now: string): Promise<void> {
    if (sessionIds.length > 0) await this.#touch.immediate(sessionIds, now);
  }

  async history(sessionId: string): Promise<HistoryEntry[]> {
    return this.q.history.all({ session_id: sessionId }).map((r) => ({
      status: r.status as SessionStatus,
      at: r.at,
      byUserId: r.by_user_id,
    }));
  }
}

/**
 * Signals are the hot path (docs/api.md §2). A plain post is one statement (`INSERT … SELECT … WHERE` the
 * session is open); a claim or a failure changes the session in the same transaction. Both go through
 * the group-commit queue (write-queue.ts) and resolve once committed.
 */
class SqliteSignals implements SignalRepository {
  readonly #changeAndPost;

  constructor(
    readonly db: Db,
    readonly q: Queries,
  ) {
    const handle = db;
    this.#changeAndPost = handle.transaction(
      (s: NewSignal, now: string, options: PostSignalOptions): PostSignalResult => {
        let session: SessionRecord | null = null;
        let claimed = false;
        let statusChanged = false;
        if (options.claim === true) {
          const row = q.claim.get({ session_id: s.sessionId, provider_id: s.fromUserId, now });
          if (row === undefined) {
            const current = q.sessionById.get({ session_id: s.sessionId });
            return {
              ok: false,
              reason: 'claim-lost',
              session: current === undefined ? undefined : toSession(current),
            };
          }
          q.insertHistory.run({ session_id: s.sessionId, status: 'offered', now, by_user_id: s.fromUserId });
          q.transferStatus.run({ session_id: s.sessionId, status: 'offered', now, final: 0 });
          session = toSession(row);
          claimed = true;
          statusChanged = true;
        }
        if (options.fail === true) {
          const moved = applyTransition(q, s.sessionId, OPEN_STATUSES, 'failed', now, s.fromUserId);
          if (moved === undefined) {
            const current = q.sessionById.get({ session_id: s.sessionId });
            return {
              ok: false,
              reason: 'final',
              session: current === undefined ? undefined : toSession(current),
            };
          }
          session = moved.session;
          statusChanged = true;
        }
        // after a fail the session is final: insert unconditionally (we hold the write lock)
        const inserted =
          options.fail === true
            ? q.insertSignal.get(signalArgs(s, now))
            : q.insertSignalIfOpen.get(signalArgs(s, now));
        if (inserted === undefined) {
          const current = q.sessionById.get({ session_id: s.sessionId });
          return {
            ok: false,
            reason: 'final',
            session: current === undefined ? undefined : toSession(current),
          };
        }
        return { ok: true, signal: signalRecord(s, inserted.id, now), session, claimed, statusChanged };
      },
    );
  }

  async post(signal: NewSignal, now: string, options: PostSignalOptions = {}): Promise<PostSignalResult> {
    if (options.claim === true || options.fail === true)
      return this.#changeAndPost.immediate(signal, now, options);
    return this.db.write((): PostSignalResult => {
      const inserted = this.q.insertSignalIfOpen.get(signalArgs(signal, now));
      if (inserted === undefined) {
        const current = this.q.sessionById.get({ session_id: signal.sessionId });
        return {
          ok: false,
          reason: 'final',
          session: current === undefined ? undefined : toSession(current),
        };
      }
      return {
        ok: true,
        signal: signalRecord(signal, inserted.id, now),
        session: null,
        claimed: false,
        statusChanged: false,
      };
    });
  }

  async listFor(
    sessionId: string,
    toUserId: number,
    afterId: number,
    limit: number,
  ): Promise<SignalRecord[]> {
    return this.q.signalsFor
      .all({ session_id: sessionId, to_user_id: toUserId, after: afterId, limit })
      .map(toSignal);
  }
}

function signalArgs(s: NewSignal, now: string): Record<string, unknown> {
  return {
    session_id: s.sessionId,
    from_user_id: s.fromUserId,
    to_user_id: s.toUserId,
    signal_type: s.signalType,
    signal_data: s.signalData,
    candidate: s.candidate?.candidate ?? '',
    sdp_mline_index: s.candidate?.sdpMLineIndex ?? 0,
    sdp_mid: s.candidate?.sdpMid ?? '',
    now,
  };
}

function signalRecord(s: NewSignal, id: number, now: string): SignalRecord {
  return {
    id,
    sessionId: s.sessionId,
    signalType: s.signalType,
    signalData: s.signalData,
    fromUserId: s.fromUserId,
    toUserId: s.toUserId,
    createdAt: now,
  };
}

class SqliteTransfers implements TransferRepository {
  readonly #report;

  constructor(
    readonly db: Db,
    readonly q: Queries,
  ) {
    this.#report = db.transaction((r: TransferReport, now: string): TransferReportResult | undefined => {
      const before = q.sessionById.get({ session_id: r.sessionId });
      if (before === undefined) return undefined;
      let session = toSession(before);
      let previousStatus: SessionStatus | null = null;
      if (session.status !== r.status && r.transitionFrom.includes(session.status)) {
        const moved = applyTransition(q, r.sessionId, r.transitionFrom, r.status, now, r.byUserId);
        if (moved !== undefined) {
          session = moved.session;
          previousStatus = moved.previous;
        }
      } else if (!FINAL_STATUSES.includes(session.status)) {
        session = toSession(q.touchOpen.get({ session_id: r.sessionId, now }) ?? before);
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
        now,
      });
      if (row === undefined)
        throw new StorageError('ERR_STORAGE', `no file_transfers row for session ${r.sessionId}`);
      return { transfer: toTransfer(row), session, previousStatus };
    });
  }

  async get(sessionId: string): Promise<TransferRecord | undefined> {
    const row = this.q.transferBySession.get({ session_id: sessionId });
    return row === undefined ? undefined : toTransfer(row);
  }

  async report(report: TransferReport, now: string): Promise<TransferReportResult | undefined> {
    return this.#report.immediate(report, now);
  }

  async addRelayBytes(sessionId: string, bytes: number): Promise<void> {
    await this.db.write(() => this.q.addRelayBytes.run({ session_id: sessionId, bytes }));
  }

  async listForUser(userId: number, limit: number): Promise<TransferRecord[]> {
    return this.q.transfersForUser.all({ user_id: userId, limit }).map(toTransfer);
  }
}
