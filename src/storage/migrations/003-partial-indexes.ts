import type { Migration } from '../sqlite/migrate.js';

/**
 * Fewer index writes per session transition (measured: index maintenance on `ice_sessions` was a large
 * share of the write cost under the signaling benchmark). Only pending sessions are looked up by request
 * type, and only open ones by age, so those indexes become partial: a session leaves them once, instead
 * of every status change rewriting an entry. The target index no longer carries the status, which
 * changes on every transition while the target is set once. Queries that use a partial index spell its
 * condition as literal SQL (a bound parameter cannot prove it).
 */
export const migration003: Migration = {
  version: 3,
  name: 'partial-indexes',
  statements: [
    `DROP INDEX ice_sessions_open`,
    `CREATE INDEX ice_sessions_pending ON ice_sessions (target_user_id, request_type, id) WHERE status = 'pending'`,
    `DROP INDEX ice_sessions_target`,
    `CREATE INDEX ice_sessions_target ON ice_sessions (target_user_id)`,
    `DROP INDEX ice_sessions_stale`,
    `CREATE INDEX ice_sessions_stale ON ice_sessions (updated_at)
      WHERE status IN ('pending', 'offered', 'connected', 'transferring')`,
  ],
};
