import type { Migration } from '../sqlite/migrate.js';

/**
 * API keys (docs/api.md §1.1): long-lived, revocable credentials of a user, for agents that run for
 * months. A key is `sdrk_<id>_<secret>`; only the SHA-256 of the secret is stored (hex), never the secret,
 * and `prefix` (the key's first characters) lets a user tell keys apart in a listing. A key is never
 * deleted: revoking sets `revoked_at`, so a listing keeps its history.
 */
export const migration005: Migration = {
  version: 5,
  name: 'api-keys',
  statements: [
    `CREATE TABLE api_keys (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      user_id INTEGER NOT NULL REFERENCES users(id),
      name TEXT NOT NULL,
      prefix TEXT NOT NULL,
      secret_sha256 TEXT NOT NULL,
      created_at TEXT NOT NULL,
      last_used_at TEXT,
      expires_at TEXT,
      revoked_at TEXT
    )`,
    `CREATE INDEX api_keys_user ON api_keys (user_id, id)`,
  ],
};
