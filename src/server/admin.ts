/**
 * Offline administration on the database file, for scripts and the demo (`sdrlink user …`): create a
 * user and mint a token without a running server (or beside one: SQLite in WAL mode lets both write),
 * using the same secret file the server uses, so the token works against it. On PostgreSQL (`--db
 * postgres://…`) the same, with the servers' SDRLINK_JWT_SECRET.
 */
import { randomBytes } from 'node:crypto';
import { openStorage } from '../storage/open.js';
import { StorageError, type ClientType, type Storage, type UserRecord } from '../storage/types.js';
import { TokenService } from './auth/jwt.js';
import { hashPassword } from './auth/passwords.js';
import { loadJwtSecret } from './auth/secret.js';
import { ConfigError, REQUEST_TYPE_PATTERN } from './config.js';
import { pruneFinalSessions, type RetentionResult } from './retention.js';
import { USERNAME_PATTERN } from './schemas.js';

export interface AdminTarget {
  /** Database path (the server's `--db`). */
  db: string;
  /** SDRLINK_JWT_SECRET when the server uses one. */
  jwtSecret: string | undefined;
  tokenTtlS: number;
}

export interface AddUserInput {
  username: string;
  clientType: ClientType;
  /** Generated (24 random bytes, base64url) when absent. */
  password?: string;
  requestTypes?: string[];
}

export interface UserWithToken {
  user: UserRecord;
  token: string;
  expiresAt: string;
  /** Present when the password was generated. */
  generatedPassword?: string;
}

/** Every code of a refused admin action (docs/errors.md "Signaling server", outside HTTP). */
export const ADMIN_ERROR_CODES = ['ERR_USERNAME_TAKEN', 'ERR_USER_NOT_FOUND', 'ERR_VALIDATION'] as const;

/** Thrown for a refused admin action (name taken, unknown user, bad input). */
export class AdminError extends Error {
  override name = 'AdminError';
  constructor(
    readonly code: (typeof ADMIN_ERROR_CODES)[number],
    message: string,
  ) {
    super(message);
  }
}

async function withStorage<T>(
  target: AdminTarget,
  fn: (s: Storage, tokens: TokenService) => Promise<T>,
): Promise<T> {
  const storage = await openStorage(target.db);
  try {
    if (storage.kind === 'postgres' && target.jwtSecret === undefined)
      throw new ConfigError(
        "a PostgreSQL database needs SDRLINK_JWT_SECRET (the servers' own): there is no file beside it to keep one in",
      );
    const tokens = new TokenService(loadJwtSecret(storage.location, target.jwtSecret), target.tokenTtlS);
    return await fn(storage, tokens);
  } finally {
    await storage.close();
  }
}

/** Creates a user and returns a token for it. */
export async function addUser(target: AdminTarget, input: AddUserInput): Promise<UserWithToken> {
  if (!new RegExp(USERNAME_PATTERN).test(input.username)) {
    throw new AdminError(
      'ERR_VALIDATION',
      "user name must start with a letter and hold only letters, digits, '.', '_' or '-' (at most 64)",
    );
  }
  const requestTypes = input.requestTypes ?? [];
  for (const t of requestTypes) {
    if (!REQUEST_TYPE_PATTERN.test(t))
      throw new AdminError('ERR_VALIDATION', `${JSON.stringify(t)} is not a request type`);
  }
  if (input.clientType === 2 && requestTypes.length > 0) {
    throw new AdminError('ERR_VALIDATION', 'request types are for providers (--type 1) only');
  }
  if (input.password !== undefined && (input.password.length < 8 || input.password.length > 1024)) {
    throw new AdminError('ERR_VALIDATION', 'password must be 8 to 1024 characters long');
  }
  const generated = input.password === undefined ? randomBytes(24).toString('base64url') : undefined;
  const password = input.password ?? (generated as string);
  return withStorage(target, async (storage, tokens) => {
    let user: UserRecord;
    try {
      user = await storage.users.create(
        {
          username: input.username,
          passwordHash: await hashPassword(password),
          clientType: input.clientType,
          requestTypes: [...new Set(requestTypes)],
        },
        new Date().toISOString(),
      );
    } catch (err) {
      if (err instanceof StorageError && err.code === 'ERR_CONFLICT') {
        throw new AdminError('ERR_USERNAME_TAKEN', `user name ${JSON.stringify(input.username)} is taken`);
      }
      throw err;
    }
    const issued = await tokens.issue(user.id, user.clientType);
    return {
      user,
      token: issued.token,
      expiresAt: issued.expiresAt,
      ...(generated === undefined ? {} : { generatedPassword: generated }),
    };
  });
}

/** Mints a fresh token for an existing user. */
export async function tokenFor(target: AdminTarget, username: string): Promise<UserWithToken> {
  return withStorage(target, async (storage, tokens) => {
    const user = await storage.users.byName(username);
    if (user === undefined) throw new AdminError('ERR_USER_NOT_FOUND', `no user ${JSON.stringify(username)}`);
    const issued = await tokens.issue(user.id, user.clientType);
    return { user, token: issued.token, expiresAt: issued.expiresAt };
  });
}

/**
 * Disables (or, with `disabled` false, enables) a user. A running server on the same database notices
 * within its `userPollMs` (1 s by default): it refuses the user's tokens and API keys (401
 * `ERR_USER_DISABLED`) and closes its push and relay sockets (4401). Disabling a disabled user keeps the
 * first time.
 */
export async function setUserDisabled(
  target: AdminTarget,
  username: string,
  disabled: boolean,
): Promise<UserRecord> {
  return withStorage(target, async (storage) => {
    const user = await storage.users.byName(username);
    if (user === undefined) throw new AdminError('ERR_USER_NOT_FOUND', `no user ${JSON.stringify(username)}`);
    if (disabled === (user.disabledAt !== null)) return user;
    const updated = await storage.users.setDisabled(user.id, disabled ? new Date().toISOString() : null);
    if (updated === undefined)
      throw new AdminError('ERR_USER_NOT_FOUND', `no user ${JSON.stringify(username)}`);
    return updated;
  });
}

/** Runs one retention pass on the database (`sdrlink db prune`). */
export async function pruneDatabase(
  target: Pick<AdminTarget, 'db'>,
  olderThanMs: number,
): Promise<RetentionResult> {
  const storage = await openStorage(target.db);
  try {
    return await pruneFinalSessions(storage, olderThanMs);
  } finally {
    await storage.close();
  }
}

/** Every user. */
export async function listUsers(target: AdminTarget): Promise<UserRecord[]> {
  return withStorage(target, (storage) => storage.users.list());
}
