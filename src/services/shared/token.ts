/**
 * Bearer tokens guarding the services' writes. One static token per service: from `--token`, from the
 * environment, or generated at first start into `<db>.token` (mode 0600) and reused afterwards.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import type { onRequestHookHandler } from 'fastify';
import { bearerAuth as bearerAuthHook } from '../../http/bearer-auth.js';
import { ServiceError } from './errors.js';

/** Characters a token may hold: it travels in an HTTP header. */
const TOKEN_PATTERN = /^[A-Za-z0-9._~+/=-]{16,512}$/;

/** A fresh random token (32 bytes, base64url). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Checks a token given by a user; throws `ERR_CONFIG` with the reason. */
export function checkToken(token: string, source: string): string {
  if (!TOKEN_PATTERN.test(token)) {
    throw new ServiceError(
      'ERR_CONFIG',
      `${source}: a token is 16-512 characters of A-Z a-z 0-9 . _ ~ + / = -`,
    );
  }
  return token;
}

/**
 * Returns the service token: `explicit` if given, else the content of `file`, else a new token written to
 * `file` with mode 0600. With no file (in-memory database) a new token is returned and kept nowhere.
 */
export async function loadOrCreateToken(
  file: string | undefined,
  explicit?: string,
): Promise<{ token: string; source: 'explicit' | 'file' | 'generated' }> {
  if (explicit !== undefined) return { token: checkToken(explicit, 'token'), source: 'explicit' };
  if (file === undefined) return { token: generateToken(), source: 'generated' };
  try {
    const text = (await readFile(file, 'utf8')).trim();
    return { token: checkToken(text, file), source: 'file' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = generateToken();
  try {
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process created it between our read and write: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateToken(file);
    throw err;
  }
  await chmod(file, 0o600);
  return { token, source: 'generated' };
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * A Fastify `onRequest` hook (the platform's, src/http/bearer-auth.ts) accepting only
 * `Authorization: Bearer <token>` with the service's token; compares in constant time.
 */
export function bearerAuth(token: string): onRequestHookHandler {
  const expected = digest(token);
  return bearerAuthHook({
    missing: () =>
      new ServiceError(
        'ERR_TOKEN_MISSING',
        'missing Authorization: Bearer <token> (writes need the service token)',
      ),
    malformed: () => new ServiceError('ERR_TOKEN_INVALID', 'Authorization header must be "Bearer <token>"'),
    verify: (given) => {
      if (!timingSafeEqual(digest(given), expected))
        throw new ServiceError('ERR_TOKEN_INVALID', 'invalid token');
      return true;
    },
  });
}
