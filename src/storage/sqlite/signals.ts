/**
 * `SignalRepository` over SQLite: `ice_candidates` (the seed's table holds every signal).
 *
 * Signals are the hot path (docs/api.md §2). A plain post is one statement (`INSERT … SELECT … WHERE` the
 * session is open); a claim or a failure changes the session in the same transaction. Both go through
 * the group-commit queue (write-queue.ts) and resolve once committed.
 */
import { sql, type Selectable } from 'kysely';
import {
  OPEN_STATUSES,
  type NewSignal,
  type PostSignalOptions,
  type PostSignalResult,
  type SessionRecord,
  type SignalRecord,
  type SignalRepository,
  type SignalType,
} from '../types.js';
import { param, prepare, type SqliteHandle } from './database.js';
import type { Database, IceCandidatesTable } from '../schema.js';
import type { SessionState } from './session-state.js';
import type { QueuedDb } from './write-queue.js';

type SignalRow = Pick<
  Selectable<IceCandidatesTable>,
  | 'id'
  | 'session_id'
  | 'signal_type'
  | 'signal_data'
  | 'user_id'
  | 'to_user_id'
  | 'created_at'
  | 'claim_attempt'
>;

const n = (name: string) => param<number>(name);
const s = (name: string) => param<string>(name);

function buildQueries({ raw, kysely: k }: SqliteHandle<Database>) {
  const p = <R>(c: Parameters<typeof prepare<R>>[1]) => prepare<R>(raw, c);
  return {
    // after a fail (the session is final): the attempt is the session's (migration 008)
    insertSignal: p(
      sql<{ id: number; claim_attempt: number }>`INSERT INTO ice_candidates (session_id, user_id,
          to_user_id, signal_type, signal_data, candidate, sdp_mline_index, sdp_mid, created_at, claim_attempt)
        VALUES (${s('session_id')}, ${n('from_user_id')}, ${n('to_user_id')}, ${s('signal_type')},
          ${s('signal_data')}, ${s('candidate')}, ${n('sdp_mline_index')}, ${s('sdp_mid')}, ${s('now')},
          (SELECT claim_attempt FROM ice_sessions WHERE session_id = ${s('session_id')}))
        RETURNING id, claim_attempt`.compile(k),
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
          'claim_attempt',
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
              'ice_sessions.claim_attempt',
            ])
            .where('ice_sessions.session_id', '=', s('session_id'))
            .where('ice_sessions.status', 'in', [...OPEN_STATUSES]),
        )
        .returning(['id', 'claim_attempt'])
        .compile(),
    ),
    // the current claim attempt's only: a released claim's offer and candidates stay stored, unlisted
    signalsFor: p(
      sql<SignalRow>`SELECT c.id, c.session_id, c.signal_type, c.signal_data, c.user_id, c.to_user_id,
          c.created_at, c.claim_attempt
        FROM ice_candidates c
        WHERE c.session_id = ${s('session_id')} AND c.to_user_id = ${n('to_user_id')} AND c.id > ${n('after')}
          AND c.claim_attempt = (SELECT x.claim_attempt FROM ice_sessions x WHERE x.session_id = c.session_id)
        ORDER BY c.id LIMIT ${n('limit')}`.compile(k),
    ),
  };
}

/** Signals: posting (optionally claiming or failing the session) and reading those addressed to a user. */
export class SqliteSignals implements SignalRepository {
  readonly #db: QueuedDb;
  readonly #q: ReturnType<typeof buildQueries>;
  readonly #state: SessionState;
  readonly #changeAndPost;

  constructor(handle: SqliteHandle<Database>, db: QueuedDb, state: SessionState) {
    const q = buildQueries(handle);
    this.#db = db;
    this.#q = q;
    this.#state = state;
    this.#changeAndPost = db.transaction(
      (sig: NewSignal, now: string, options: PostSignalOptions): PostSignalResult => {
        let session: SessionRecord | null = null;
        let claimed = false;
        let statusChanged = false;
        if (options.claim === true) {
          const won = state.claim(sig.sessionId, sig.fromUserId, now);
          if (won === undefined) return this.#refused('claim-lost', sig.sessionId);
          session = won;
          claimed = true;
          statusChanged = true;
        }
        if (options.fail === true) {
          const moved = state.transition(
            sig.sessionId,
            OPEN_STATUSES,
            'failed',
            now,
            sig.fromUserId,
            options.outcome,
          );
          if (moved === undefined) return this.#refused('final', sig.sessionId);
          session = moved.session;
          statusChanged = true;
        }
        // after a fail the session is final: insert unconditionally (we hold the write lock)
        const inserted =
          options.fail === true
            ? q.insertSignal.get(signalArgs(sig, now))
            : q.insertSignalIfOpen.get(signalArgs(sig, now));
        if (inserted === undefined) return this.#refused('final', sig.sessionId);
        return {
          ok: true,
          signal: signalRecord(sig, inserted, now),
          session,
          claimed,
          statusChanged,
        };
      },
    );
  }

  #refused(reason: 'claim-lost' | 'final', sessionId: string): PostSignalResult {
    return { ok: false, reason, session: this.#state.get(sessionId) };
  }

  async post(signal: NewSignal, now: string, options: PostSignalOptions = {}): Promise<PostSignalResult> {
    if (options.claim === true || options.fail === true)
      return this.#changeAndPost.immediate(signal, now, options);
    return this.#db.write((): PostSignalResult => {
      const inserted = this.#q.insertSignalIfOpen.get(signalArgs(signal, now));
      if (inserted === undefined) return this.#refused('final', signal.sessionId);
      return {
        ok: true,
        signal: signalRecord(signal, inserted, now),
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
    return this.#q.signalsFor
      .all({ session_id: sessionId, to_user_id: toUserId, after: afterId, limit })
      .map(toSignal);
  }
}

function signalArgs(sig: NewSignal, now: string): Record<string, unknown> {
  return {
    session_id: sig.sessionId,
    from_user_id: sig.fromUserId,
    to_user_id: sig.toUserId,
    signal_type: sig.signalType,
    signal_data: sig.signalData,
    candidate: sig.candidate?.candidate ?? '',
    sdp_mline_index: sig.candidate?.sdpMLineIndex ?? 0,
    sdp_mid: sig.candidate?.sdpMid ?? '',
    now,
  };
}

function signalRecord(sig: NewSignal, row: { id: number; claim_attempt: number }, now: string): SignalRecord {
  return {
    id: row.id,
    attempt: row.claim_attempt,
    sessionId: sig.sessionId,
    signalType: sig.signalType,
    signalData: sig.signalData,
    fromUserId: sig.fromUserId,
    toUserId: sig.toUserId,
    createdAt: now,
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
    attempt: r.claim_attempt,
  };
}
