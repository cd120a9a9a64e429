import type { Migration } from '../sqlite/migrate.js';

/**
 * A claimed session that does not reach a channel in time is released and offered again (docs/api.md §3
 * "Claim timeout", docs/security.md):
 * - `ice_sessions.claimed_at`: when the current claim was made (set by the claim, the one conditional
 *   UPDATE; cleared when the session moves on to `connected` or further, and by a release), so the release
 *   pass finds the stalled claims through a partial index of the `offered` sessions only;
 * - `ice_sessions.claim_attempt`: which claim the session is at (0 for the first; a release adds one), and
 *   `ice_candidates.claim_attempt`: the attempt each signal was posted under. A released claim's offer and
 *   candidates stay stored (history) but are no longer listed, and each signal carries its attempt on the
 *   wire, so a consumer drops late candidates of a released claim;
 * - `ice_sessions.named_user_id`: the provider the consumer named at initiate (`target`), null for an open
 *   session: `target_user_id` alone cannot tell, once claimed, whether a session was named or open, and a
 *   release opens only the open ones to the others (sessions older than this migration count as open).
 */
export const migration008: Migration = {
  version: 8,
  name: 'claim-release',
  statements: [
    `ALTER TABLE ice_sessions ADD COLUMN claimed_at TEXT`,
    `ALTER TABLE ice_sessions ADD COLUMN claim_attempt INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE ice_sessions ADD COLUMN named_user_id INTEGER REFERENCES users(id)`,
    `ALTER TABLE ice_candidates ADD COLUMN claim_attempt INTEGER NOT NULL DEFAULT 0`,
    `CREATE INDEX ice_sessions_claimed ON ice_sessions (claimed_at) WHERE status = 'offered'`,
  ],
};
