/**
 * Bearer authentication for REST routes (an `onRequest` hook, so a request without a valid credential
 * is refused before its body is even read) and for WebSocket upgrades (`?token=` is accepted there,
 * because browsers cannot set headers on a WebSocket). A credential is a JWT (`POST /api/auth/login`) or
 * an API key (`sdrk_…`, `POST /api/keys`); both act as their user.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { bearerAuth, readBearerToken } from '../../http/bearer-auth.js';
import type { UserRecord } from '../../storage/types.js';
import { ApiError } from '../errors.js';
import type { UserDirectory } from '../signaling/directory.js';
import { ApiKeyService } from './api-keys.js';
import type { TokenService } from './jwt.js';

/** What a request was authenticated with. */
export type Credential =
  { kind: 'jwt'; expiresAtMs: number } | { kind: 'key'; keyId: number; expiresAtMs: number | null };

/** An authenticated caller: the user, and the credential it presented. */
export interface Caller {
  user: UserRecord;
  credential: Credential;
}

/**
 * Refuses a disabled user's credential (any kind): 401 `ERR_USER_DISABLED`.
 * @throws ApiError ERR_USER_DISABLED
 */
export function assertEnabled(directory: UserDirectory, caller: Caller): Caller {
  if (directory.isDisabled(caller.user))
    throw new ApiError('ERR_USER_DISABLED', `user ${caller.user.username} is disabled by an operator`);
  return caller;
}

const missingToken = (): ApiError =>
  new ApiError('ERR_TOKEN_MISSING', 'Authorization: Bearer <token> is required');
const malformedToken = (): ApiError =>
  new ApiError('ERR_TOKEN_INVALID', 'Authorization header must be "Bearer <token>"');

/** Takes the token out of `Authorization: Bearer <token>`. */
export function bearerToken(header: string | undefined): string {
  const read = readBearerToken(header);
  if ('problem' in read) throw read.problem === 'missing' ? missingToken() : malformedToken();
  return read.token;
}

/**
 * The REST routes' `onRequest` hook (the platform's, src/http/bearer-auth.ts): sets `request.user` and
 * `request.credential`. A known JWT of a cached user is answered synchronously, with two map lookups; an
 * API key costs one primary-key read.
 */
export function userAuthHook(
  tokens: TokenService,
  directory: UserDirectory,
  keys: ApiKeyService,
): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  return bearerAuth<Caller>({
    missing: missingToken,
    malformed: malformedToken,
    verify: (token) => {
      if (ApiKeyService.isKey(token))
        return keys.authenticate(token).then((c) => assertEnabled(directory, c));
      const cached = cachedCallerForToken(tokens, directory, token);
      if (cached !== undefined) return assertEnabled(directory, cached);
      return callerForToken(tokens, directory, token).then((c) => assertEnabled(directory, c));
    },
    accept: (request, caller) => {
      request.user = caller.user;
      request.credential = caller.credential;
    },
  });
}

/** Checks a credential of either kind and returns its caller (WebSocket upgrades). */
export function authenticate(
  tokens: TokenService,
  directory: UserDirectory,
  keys: ApiKeyService,
  token: string,
): Promise<Caller> {
  const caller = ApiKeyService.isKey(token)
    ? keys.authenticate(token)
    : callerForToken(tokens, directory, token);
  return caller.then((c) => assertEnabled(directory, c));
}

/** Verifies a JWT and returns its (still existing) user. */
export async function callerForToken(
  tokens: TokenService,
  directory: UserDirectory,
  token: string,
): Promise<Caller> {
  const claims = await tokens.verify(token);
  const user = await directory.get(claims.userId);
  if (user === undefined) throw new ApiError('ERR_TOKEN_INVALID', 'token names a user that does not exist');
  if (user.clientType !== claims.clientType)
    throw new ApiError('ERR_TOKEN_INVALID', 'token client type does not match the user');
  return { user, credential: { kind: 'jwt', expiresAtMs: claims.exp * 1000 } };
}

/**
 * The caller of a JWT when both were seen before (token verified and cached, user cached), with no
 * asynchronous work; undefined otherwise (then call {@link callerForToken}).
 * @throws ApiError ERR_TOKEN_EXPIRED for a cached token that has expired.
 */
export function cachedCallerForToken(
  tokens: TokenService,
  directory: UserDirectory,
  token: string,
): Caller | undefined {
  const claims = tokens.cached(token);
  if (claims === undefined) return undefined;
  const user = directory.cached(claims.userId);
  return user !== undefined && user.clientType === claims.clientType
    ? { user, credential: { kind: 'jwt', expiresAtMs: claims.exp * 1000 } }
    : undefined;
}
