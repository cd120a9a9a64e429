import type { Migration } from '../sqlite/migrate.js';

/**
 * The seed's tables (`../shared/seeds/000_…txt`, "Database Schema"), column for column, plus the `users`
 * table the seed refers to but does not define. Later migrations only add columns, tables and indexes.
 */
export const migration001: Migration = {
  version: 1,
  name: 'seed-schema',
  statements: [
    `CREATE TABLE users (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      username TEXT UNIQUE NOT NULL,
      password_hash TEXT NOT NULL,
      client_type INTEGER NOT NULL CHECK (client_type IN (1, 2)),
      created_at DATETIME DEFAULT CURRENT_TIMESTAMP
    )`,
    `CREATE TABLE ice_sessions (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      session_id TEXT UNIQUE NOT NULL,
      initiator_user_id INTEGER NOT NULL,
      target_user_id INTEGER,
      initiator_client_type INTEGER NOT NULL,
      target_client_type INTEGER NOT NULL,
      status TEXT NOT NULL DEFAULT 'pending',
      created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
      updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
      FOREIGN KEY (initiator_user_id) REFERENCES users(id),
      FOREIGN KEY (target_user_id) REFERENCES users(id)
    )`,
    `CREATE TABLE ice_candidates (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      session_id TEXT NOT NULL,
      user_id INTEGER NOT NULL,
      candidate TEXT NOT NULL,
      sdp_mline_index INTEGER NOT NULL,
      sdp_mid TEXT NOT NULL,
      created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
      FOREIGN KEY (session_id) REFERENCES ice_sessions(session_id),
      FOREIGN KEY (user_id) REFERENCES users(id)
    )`,
    `CREATE TABLE file_transfers (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      session_id TEXT NOT NULL,
      file_name TEXT NOT NULL,
      file_size INTEGER NOT NULL,
      file_type TEXT,
      request_type TEXT NOT NULL,
      parameters TEXT,
      status TEXT NOT NULL DEFAULT 'pending',
      created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
      completed_at DATETIME,
      FOREIGN KEY (session_id) REFERENCES ice_sessions(session_id)
    )`,
  ],
};
