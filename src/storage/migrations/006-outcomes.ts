import type { Migration } from '../sqlite/migrate.js';

/**
 * How each session ended (docs/api.md §3 "Outcome"): a final transfer row records the failure's stable
 * code, its message, the side that ended it (`consumer`, `provider` or `server`) and the path the bytes
 * took (`ws-relay`, or `<local>-<remote>/<proto>` from the selected ICE candidate pair). Filled by every
 * way a session ends: a `failed` report, an `error` signal, a cancel, the expiry sweep.
 *
 * `GET /api/transfers` filters a participant's transfers by time: the two indexes let each half of its
 * `initiator = ? OR target = ?` walk one user's sessions in creation order.
 */
export const migration006: Migration = {
  version: 6,
  name: 'outcomes',
  statements: [
    `ALTER TABLE file_transfers ADD COLUMN error_code TEXT`,
    `ALTER TABLE file_transfers ADD COLUMN error_message TEXT`,
    `ALTER TABLE file_transfers ADD COLUMN failed_side TEXT`,
    `ALTER TABLE file_transfers ADD COLUMN path TEXT`,
    `CREATE INDEX ice_sessions_initiator_created ON ice_sessions (initiator_user_id, created_at)`,
    `CREATE INDEX ice_sessions_target_created ON ice_sessions (target_user_id, created_at)`,
  ],
};
