import type { Migration } from '../sqlite/migrate.js';

/**
 * What sdrlink adds to the seed schema (docs/api.md §1–§3):
 * - providers declare the request types they serve (`users.request_types`, a JSON array);
 * - a session carries its request (`request_type`, `parameters`, `capabilities`);
 * - every signal (offer, answer, candidate, error) is a row of the seed's `ice_candidates`, with its type,
 *   addressee and raw data; the seed columns hold the parsed candidate for `candidate` rows ('' / 0 else);
 * - `file_transfers` gets the outcome a participant reports (bytes, sha256, transport, duration, error) and
 *   one row per session;
 * - every session transition is a row of `ice_session_history`.
 * Indexes serve the hot queries: a participant's inbox (session_id, to_user_id, id), a provider's open
 * list (status, request_type), a user's sessions, and the expiry sweep (status, updated_at).
 */
export const migration002: Migration = {
  version: 2,
  name: 'signaling',
  statements: [
    `ALTER TABLE users ADD COLUMN request_types TEXT NOT NULL DEFAULT '[]'`,
    `ALTER TABLE ice_sessions ADD COLUMN request_type TEXT NOT NULL DEFAULT ''`,
    `ALTER TABLE ice_sessions ADD COLUMN parameters TEXT NOT NULL DEFAULT '{}'`,
    `ALTER TABLE ice_sessions ADD COLUMN capabilities TEXT NOT NULL DEFAULT '[]'`,
    `ALTER TABLE ice_candidates ADD COLUMN signal_type TEXT NOT NULL DEFAULT 'candidate'`,
    `ALTER TABLE ice_candidates ADD COLUMN to_user_id INTEGER REFERENCES users(id)`,
    `ALTER TABLE ice_candidates ADD COLUMN signal_data TEXT NOT NULL DEFAULT ''`,
    `ALTER TABLE file_transfers ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE file_transfers ADD COLUMN sha256 TEXT`,
    `ALTER TABLE file_transfers ADD COLUMN transport TEXT`,
    `ALTER TABLE file_transfers ADD COLUMN duration_ms INTEGER`,
    `ALTER TABLE file_transfers ADD COLUMN error TEXT`,
    `ALTER TABLE file_transfers ADD COLUMN verified INTEGER`,
    `ALTER TABLE file_transfers ADD COLUMN relay_bytes INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE file_transfers ADD COLUMN updated_at DATETIME`,
    `CREATE TABLE ice_session_history (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      session_id TEXT NOT NULL,
      status TEXT NOT NULL,
      at TEXT NOT NULL,
      by_user_id INTEGER,
      FOREIGN KEY (session_id) REFERENCES ice_sessions(session_id),
      FOREIGN KEY (by_user_id) REFERENCES users(id)
    )`,
    `CREATE INDEX ice_session_history_session ON ice_session_history (session_id, id)`,
    `CREATE INDEX ice_candidates_inbox ON ice_candidates (session_id, to_user_id, id)`,
    `CREATE UNIQUE INDEX file_transfers_session ON file_transfers (session_id)`,
    `CREATE INDEX ice_sessions_open ON ice_sessions (status, request_type, id)`,
    `CREATE INDEX ice_sessions_target ON ice_sessions (target_user_id, status)`,
    `CREATE INDEX ice_sessions_initiator ON ice_sessions (initiator_user_id, status)`,
    `CREATE INDEX ice_sessions_stale ON ice_sessions (status, updated_at)`,
  ],
};
