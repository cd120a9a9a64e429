/**
 * The JWT signing secret: given (SDRLINK_JWT_SECRET), or generated on first start and kept beside the
 * database in `<db>.jwt-secret` (mode 0600), so tokens survive restarts. An in-memory database gets a
 * random secret per process.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../config.js';

/** Where the secret of a database lives. */
export function secretPath(db: string): string {
  return `${db}.jwt-secret`;
}

/**
 * Returns the secret bytes: `given` if set, else the file beside `db` (created when missing).
 * @throws ConfigError when the file exists but is unusable.
 */
export function loadJwtSecret(db: string, given: string | undefined): Uint8Array {
  if (given !== undefined) return new TextEncoder().encode(given);
  if (db === ':memory:') return randomBytes(32);
  const path = secretPath(db);
  mkdirSync(dirname(path), { recursive: true });
  try {
    // 'wx' fails if another process created it first; then we read theirs.
    writeFileSync(path, randomBytes(32).toString('base64url') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigError(`cannot create JWT secret ${path}: ${(err as Error).message}`);
    }
  }
  let text: string;
  try {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`cannot read JWT secret ${path}: ${(err as Error).message}`);
  }
  if (text.length < 32)
    throw new ConfigError(
      `JWT secret ${path} is shorter than 32 characters; delete it to generate a new one`,
    );
  return new TextEncoder().encode(text);
}
