import type { Migration } from '../sqlite/migrate.js';

/**
 * Users an operator can trust (docs/security.md):
 * - `disabled_at`: set by `sdrlink user disable`; a disabled user's tokens and API keys are refused and its
 *   open sockets dropped, until `sdrlink user enable` clears it;
 * - `username_key`: the name as compared — Unicode NFKC, then lower case (`usernameKey` in
 *   src/storage/types.ts) — unique, so `Alice` cannot be registered beside `alice`, and login and `target`
 *   find a user however its name is cased. Names are ASCII (the wire pattern), for which NFKC changes
 *   nothing and SQLite's `lower()` is the same as JavaScript's; a database that already holds two names
 *   equal but for case keeps both, the later ones keyed `<name>#<id>` (reachable by their id only).
 * - an index for the retention pass over final sessions by age.
 */
export const migration007: Migration = {
  version: 7,
  name: 'user-hardening',
  statements: [
    `ALTER TABLE users ADD COLUMN disabled_at TEXT`,
    `ALTER TABLE users ADD COLUMN username_key TEXT`,
    `UPDATE users SET username_key = lower(username)
      WHERE id = (SELECT MIN(u2.id) FROM users AS u2 WHERE lower(u2.username) = lower(users.username))`,
    `UPDATE users SET username_key = lower(username) || '#' || id WHERE username_key IS NULL`,
    `CREATE UNIQUE INDEX users_username_key ON users (username_key)`,
    `CREATE INDEX users_disabled ON users (disabled_at) WHERE disabled_at IS NOT NULL`,
  ],
};
