import type { Migration } from '../sqlite/migrate.js';

/**
 * Provider catalogs and session declines (docs/api.md §12):
 * - `provider_catalogs`: the catalog a provider last announced (`PUT /api/providers/me/catalog`), one row
 *   per provider, the JSON as validated;
 * - `session_declines`: a provider's refusal of a session it was offered (`POST …/decline`), one row per
 *   session and provider, so the session is not offered to it again.
 */
export const migration004: Migration = {
  version: 4,
  name: 'catalog',
  statements: [
    `CREATE TABLE provider_catalogs (
      user_id INTEGER PRIMARY KEY,
      catalog TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      FOREIGN KEY (user_id) REFERENCES users(id)
    )`,
    `CREATE TABLE session_declines (
      session_id TEXT NOT NULL,
      user_id INTEGER NOT NULL,
      code TEXT NOT NULL,
      message TEXT NOT NULL,
      at TEXT NOT NULL,
      PRIMARY KEY (session_id, user_id),
      FOREIGN KEY (session_id) REFERENCES ice_sessions(session_id),
      FOREIGN KEY (user_id) REFERENCES users(id)
    )`,
  ],
};
