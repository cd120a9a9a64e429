import type { Migration } from '../sqlite/migrate.js';

/**
 * Several server instances on one PostgreSQL (docs/architecture.md "Several instances"): a session's relay
 * runs on the instance its first side reached, and the other side, reaching another instance, is forwarded
 * there. `ice_sessions.relay_instance` is that owner's instance id and `relay_url` the URL the other
 * instances reach it at (both null until a side joins the relay; SQLite, single-instance, leaves them null).
 */
export const migration009: Migration = {
  version: 9,
  name: 'relay-owner',
  statements: [
    `ALTER TABLE ice_sessions ADD COLUMN relay_instance TEXT`,
    `ALTER TABLE ice_sessions ADD COLUMN relay_url TEXT`,
  ],
};
