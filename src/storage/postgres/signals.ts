/**
 * `SignalRepository` over PostgreSQL: `ice_candidates` (the seed's table holds every signal).
 *
 * A plain post is one statement (`INSERT … SELECT … WHERE` the session is open); a claim or a failure
 * changes the session in the same transaction. Posts to one session are stored in the order they were
 * called: the pool runs statements on several connections at once, so this process queues the posts of
 * each session behind one another (posts to different sessions still run side by side).
 */
import { sql } from 'kysely';
import {
  OPEN_STATUSES,
  type NewSignal,
  type PostSignalOptions,
  type PostSignalResult,
  type SessionRecord,
  type SignalRecord,
  type SignalRepository,
} from '../types.js';
import { toSession, toSignal, type SignalRow } from '../sqlite/session-state.js';
import { claimSession, readSession, transitionSession, type Db } from './session-rows.js';

const OPEN_SQL = sql.raw(`(${OPEN_STATUSES.map((s) => `'${s}'`).join(', ')})`);

/** Signals: posting (optionally claiming or failing the session) and reading those addressed to a user. */
export class PostgresSignals implements SignalRepository {
  readonly #db: Db;
  /** The last post queued for each session (removed once it settles and none follows). */
  readonly #tails = new Map<string, Promise<unknown>>();

  constructor(db: Db) {
    this.#db = db;
  }

  post(signal: NewSignal, now: string, options: PostSignalOptions = {}): Promise<PostSignalResult> {
    const id = signal.sessionId;
    const previous = this.#tails.get(id) ?? Promise.resolve();
    const next = previous.then(
      () => this.#post(signal, now, options),
      () => this.#post(signal, now, options),
    );
    this.#tails.set(id, next);
    const clear = () => {
      if (this.#tails.get(id) === next) this.#tails.delete(id);
    };
    next.then(clear, clear);
    return next;
  }

  async #post(sig: NewSignal, now: string, options: PostSignalOptions): Promise<PostSignalResult> {
    if (options.claim !== true && options.fail !== true) {
      const inserted = await insertIfOpen(this.#db, sig, now);
      if (inserted === undefined) return this.#refused('final', sig.sessionId);
      return {
        ok: true,
        signal: record(sig, inserted, now),
        session: null,
        claimed: false,
        statusChanged: false,
      };
    }
    const result = await this.#db
      .transaction()
      .execute(async (trx): Promise<PostSignalResult | 'claim-lost' | 'final'> => {
        let session: SessionRecord | null = null;
        let claimed = false;
        let statusChanged = false;
        if (options.claim === true) {
          const won = await claimSession(trx, sig.sessionId, sig.fromUserId, now);
          if (won === undefined) return 'claim-lost';
          session = won;
          claimed = true;
          statusChanged = true;
        }
        if (options.fail === true) {
          const moved = await transitionSession(
            trx,
            sig.sessionId,
            OPEN_STATUSES,
            'failed',
            now,
            sig.fromUserId,
            options.outcome,
          );
          if (moved === undefined) return 'final';
          session = moved.session;
          statusChanged = true;
        }
        // after a fail the session is final (and locked by us): insert unconditionally
        const inserted =
          options.fail === true ? await insertAny(trx, sig, now) : await insertIfOpen(trx, sig, now);
        if (inserted === undefined) return 'final';
        return { ok: true, signal: record(sig, inserted, now), session, claimed, statusChanged };
      });
    return typeof result === 'string' ? this.#refused(result, sig.sessionId) : result;
  }

  async #refused(reason: 'claim-lost' | 'final', sessionId: string): Promise<PostSignalResult> {
    const row = await readSession(this.#db, sessionId);
    return { ok: false, reason, session: row === undefined ? undefined : toSession(row) };
  }

  async listFor(
    sessionId: string,
    toUserId: number,
    afterId: number,
    limit: number,
  ): Promise<SignalRecord[]> {
    // the current claim attempt's only: a released claim's offer and candidates stay stored, unlisted
    const r = await sql<SignalRow>`SELECT c.id, c.session_id, c.signal_type, c.signal_data, c.user_id,
        c.to_user_id, c.created_at, c.claim_attempt
      FROM ice_candidates c
      WHERE c.session_id = ${sessionId} AND c.to_user_id = ${toUserId} AND c.id > ${afterId}
        AND c.claim_attempt = (SELECT x.claim_attempt FROM ice_sessions x WHERE x.session_id = c.session_id)
      ORDER BY c.id LIMIT ${limit}`.execute(this.#db);
    return r.rows.map(toSignal);
  }
}

type Inserted = { id: number; claim_attempt: number };

function values(sig: NewSignal) {
  return {
    candidate: sig.candidate?.candidate ?? '',
    mline: sig.candidate?.sdpMLineIndex ?? 0,
    mid: sig.candidate?.sdpMid ?? '',
  };
}

/** One statement: the row is inserted only while its session is open. */
async function insertIfOpen(db: Db, sig: NewSignal, now: string): Promise<Inserted | undefined> {
  const v = values(sig);
  const r = await sql<Inserted>`INSERT INTO ice_candidates (session_id, user_id, to_user_id, signal_type,
      signal_data, candidate, sdp_mline_index, sdp_mid, created_at, claim_attempt)
    SELECT x.session_id, ${sig.fromUserId}::integer, ${sig.toUserId}::integer, ${sig.signalType}::text,
      ${sig.signalData}::text, ${v.candidate}::text, ${v.mline}::integer, ${v.mid}::text, ${now}::text,
      x.claim_attempt
    FROM ice_sessions x WHERE x.session_id = ${sig.sessionId} AND x.status IN ${OPEN_SQL}
    RETURNING id, claim_attempt`.execute(db);
  return r.rows[0];
}

/** The row whatever the session's status (after a fail, in the same transaction). */
async function insertAny(db: Db, sig: NewSignal, now: string): Promise<Inserted | undefined> {
  const v = values(sig);
  const r = await sql<Inserted>`INSERT INTO ice_candidates (session_id, user_id, to_user_id, signal_type,
      signal_data, candidate, sdp_mline_index, sdp_mid, created_at, claim_attempt)
    VALUES (${sig.sessionId}, ${sig.fromUserId}, ${sig.toUserId}, ${sig.signalType}, ${sig.signalData},
      ${v.candidate}, ${v.mline}, ${v.mid}, ${now},
      (SELECT claim_attempt FROM ice_sessions WHERE session_id = ${sig.sessionId}))
    RETURNING id, claim_attempt`.execute(db);
  return r.rows[0];
}

function record(sig: NewSignal, row: Inserted, now: string): SignalRecord {
  return {
    id: Number(row.id),
    attempt: row.claim_attempt,
    sessionId: sig.sessionId,
    signalType: sig.signalType,
    signalData: sig.signalData,
    fromUserId: sig.fromUserId,
    toUserId: sig.toUserId,
    createdAt: now,
  };
}
