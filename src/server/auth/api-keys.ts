/**
 * API keys (docs/api.md §1.1): long-lived credentials a user creates, lists and revokes, so an agent that
 * runs for months needs no password and no token renewal. A key is `sdrk_<id>_<secret>`, the secret 32
 * random bytes in base64url; the database keeps only the secret's SHA-256, and a presented key is checked
 * by looking its id up and comparing digests in constant time. A key acts as its user (same client type);
 * it stops working when revoked, when it expires, or when its user no longer exists.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { ApiKeyRecord, Storage, UserRecord } from '../../storage/types.js';
import { API_KEY_PATTERN } from '../../wire/keys.js';
import { ApiError } from '../errors.js';
import type { UserDirectory } from '../signaling/directory.js';
import type { Caller } from './authenticate.js';

/** Every API key starts with this (a JWT never does: its first segment is base64url of `{"`). */
export const API_KEY_PREFIX = 'sdrk_';
/** Keys a user may hold that are neither revoked nor expired. */
export const MAX_ACTIVE_KEYS_PER_USER = 100;
/** `last_used_at` is written at most this often per key (a write per request would cost every call). */
const TOUCH_EVERY_MS = 60_000;

const KEY_RE = new RegExp(API_KEY_PATTERN);

/** What a key is as of now. */
export type KeyStatus = 'active' | 'expired' | 'revoked';

/** A key's status at `nowMs`. */
export function keyStatus(key: ApiKeyRecord, nowMs: number): KeyStatus {
  if (key.revokedAt !== null) return 'revoked';
  if (key.expiresAt !== null && Date.parse(key.expiresAt) <= nowMs) return 'expired';
  return 'active';
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const unknownKey = (): ApiError => new ApiError('ERR_TOKEN_INVALID', 'unknown API key');

export class ApiKeyService {
  readonly #storage: Storage;
  readonly #directory: UserDirectory;
  readonly #now: () => number;
  readonly #log: FastifyBaseLogger;
  readonly #touchedAt = new Map<number, number>();

  constructor(storage: Storage, directory: UserDirectory, now: () => number, log: FastifyBaseLogger) {
    this.#storage = storage;
    this.#directory = directory;
    this.#now = now;
    this.#log = log;
  }

  /** True when `token` is meant as an API key (then {@link authenticate} checks it). */
  static isKey(token: string): boolean {
    return token.startsWith(API_KEY_PREFIX);
  }

  /**
   * Creates a key for `user`. The returned `key` is the only copy of the secret.
   * @throws ApiError ERR_TOO_MANY_KEYS when the user holds {@link MAX_ACTIVE_KEYS_PER_USER} active keys.
   */
  async create(
    user: UserRecord,
    name: string,
    expiresInS: number | undefined,
  ): Promise<{ record: ApiKeyRecord; key: string }> {
    const nowMs = this.#now();
    const now = new Date(nowMs).toISOString();
    const active = await this.#storage.apiKeys.countActiveForUser(user.id, now);
    if (active >= MAX_ACTIVE_KEYS_PER_USER) {
      throw new ApiError(
        'ERR_TOO_MANY_KEYS',
        `user ${user.username} already holds ${active} active API keys (at most ${MAX_ACTIVE_KEYS_PER_USER}); revoke some first`,
      );
    }
    const secret = randomBytes(32).toString('base64url');
    const record = await this.#storage.apiKeys.create(
      {
        userId: user.id,
        name,
        secretSha256: sha256Hex(secret),
        secretHead: secret.slice(0, 4),
        expiresAt: expiresInS === undefined ? null : new Date(nowMs + expiresInS * 1000).toISOString(),
      },
      now,
    );
    return { record, key: `${API_KEY_PREFIX}${record.id}_${secret}` };
  }

  /**
   * The caller a key stands for.
   * @throws ApiError ERR_TOKEN_INVALID (malformed, unknown, wrong secret, user gone), ERR_KEY_REVOKED,
   *   ERR_TOKEN_EXPIRED.
   */
  async authenticate(token: string): Promise<Caller> {
    if (!KEY_RE.test(token)) {
      throw new ApiError('ERR_TOKEN_INVALID', 'API key is malformed (expected sdrk_<id>_<43 characters>)');
    }
    const second = token.indexOf('_', API_KEY_PREFIX.length);
    const id = Number(token.slice(API_KEY_PREFIX.length, second));
    const secret = token.slice(second + 1);
    const key = await this.#storage.apiKeys.get(id);
    // the digest is compared even for an unknown id, so timing tells nothing about which ids exist
    const presented = Buffer.from(sha256Hex(secret), 'hex');
    const stored = Buffer.from(key?.secretSha256 ?? '0'.repeat(64), 'hex');
    const match = stored.length === presented.length && timingSafeEqual(stored, presented);
    if (key === undefined || !match) throw unknownKey();
    const nowMs = this.#now();
    switch (keyStatus(key, nowMs)) {
      case 'revoked':
        throw new ApiError('ERR_KEY_REVOKED', `API key ${key.prefix}… was revoked at ${key.revokedAt}`);
      case 'expired':
        throw new ApiError('ERR_TOKEN_EXPIRED', `API key ${key.prefix}… expired at ${key.expiresAt}`);
      case 'active':
        break;
    }
    const user = await this.#directory.get(key.userId);
    if (user === undefined)
      throw new ApiError('ERR_TOKEN_INVALID', 'API key names a user that does not exist');
    this.#touch(key.id, nowMs);
    return {
      user,
      credential: {
        kind: 'key',
        keyId: key.id,
        expiresAtMs: key.expiresAt === null ? null : Date.parse(key.expiresAt),
      },
    };
  }

  /** The user's keys, newest first (revoked and expired ones too). */
  list(user: UserRecord, limit: number): Promise<ApiKeyRecord[]> {
    return this.#storage.apiKeys.listForUser(user.id, limit);
  }

  /**
   * Revokes one of the user's keys (again is no error: the key as it is is returned).
   * @throws ApiError ERR_KEY_NOT_FOUND when no key of this user has that id (another user's key included).
   */
  async revoke(user: UserRecord, id: number): Promise<ApiKeyRecord> {
    const key = await this.#storage.apiKeys.get(id);
    if (key === undefined || key.userId !== user.id)
      throw new ApiError('ERR_KEY_NOT_FOUND', `you have no API key with id ${id}`);
    if (key.revokedAt !== null) return key;
    const revoked = await this.#storage.apiKeys.revoke(id, new Date(this.#now()).toISOString());
    this.#touchedAt.delete(id);
    if (revoked === undefined) throw new ApiError('ERR_KEY_NOT_FOUND', `you have no API key with id ${id}`);
    return revoked;
  }

  #touch(id: number, nowMs: number): void {
    const last = this.#touchedAt.get(id);
    if (last !== undefined && nowMs - last < TOUCH_EVERY_MS) return;
    if (this.#touchedAt.size >= 100_000) this.#touchedAt.clear();
    this.#touchedAt.set(id, nowMs);
    this.#storage.apiKeys
      .touch(id, new Date(nowMs).toISOString())
      .catch((err: unknown) => this.#log.error({ err, key: id }, 'api key use not recorded'));
  }
}
